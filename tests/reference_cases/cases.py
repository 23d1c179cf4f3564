"""The reference cases: their JSON, their data typed as R had it, and a session-wide cache
of fitted models (MixedModels.jl's model cache)."""
from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REF_DIR = SHARED / "reference"


def reference_ids(kinds=("lm", "lmer"), max_nobs: int | None = 10_000) -> list[str]:
    """Case ids of the reference JSON files of these kinds ([] when ../shared is absent)."""
    if not REF_DIR.is_dir():
        return []
    out = []
    for p in sorted(REF_DIR.glob("*.json")):
        case = json.loads(p.read_text())
        if case["kind"] in kinds and (max_nobs is None or case["nobs"] <= max_nobs):
            out.append(p.stem)
    return out


@lru_cache(maxsize=None)
def load_case(case_id: str) -> dict:
    if not REF_DIR.is_dir():
        pytest.skip(f"reference results not found at {REF_DIR} (../shared is absent)")
    return json.loads((REF_DIR / f"{case_id}.json").read_text())


@lru_cache(maxsize=None)
def case_data(case_id: str) -> pd.DataFrame:
    """The case's CSV with R's factor levels, as R had them when fitting."""
    case = load_case(case_id)
    df = pd.read_csv(SHARED / "data" / Path(case["dataset"]["file"]).name)
    for col in case["dataset"].get("columns", []):
        if col.get("type") in ("factor", "ordered") and col["name"] in df:
            levels = [str(v) for v in col["levels"]]
            df[col["name"]] = pd.Categorical(df[col["name"]].astype("string").astype(object),
                                             categories=levels)
    return df


def data_name(case: dict) -> str:
    return case["r_call"].split("data = ")[1].split(",")[0].rstrip(")")


@lru_cache(maxsize=None)
def fitted_case(case_id: str):
    """Fit a reference case once per session (MixedModels.jl's model cache)."""
    import multilevel as ml

    case = load_case(case_id)
    data = case_data(case_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["kind"] == "lm":
            return ml.lm(case["formula"], data, data_name=data_name(case))
        if case["kind"] == "lmer":
            return ml.lmer(case["formula"], data, reml=bool(case["REML"]),
                           data_name=data_name(case))
        return ml.glmer(case["formula"], data, family=case["family"])
