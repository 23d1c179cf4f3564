"""Shared fixtures for the inference tests: lme4/lmerTest reference cases and a fit cache.

The references live in ``../shared/reference`` (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3); tests
that need them skip, with the reason, when that folder is absent.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REF = SHARED / "reference"

# The bar of the inference issue (and of ../shared/tools/inference_parity.py), with reasons.
TOL = dict(
    df_rel=1e-3,       # Satterthwaite df: numDeriv's steps repeated; the rest is theta-hat's spread
    p_abs=1e-4,        # p-values of the t and F tests
    chisq_abs=1e-4,    # likelihood-ratio statistics (deviances agree to ~1e-8)
    wald_abs=1e-6,     # Wald limits: closed form given theta (checked at lme4's theta)
    profile_rel=1e-3,  # profile limits: exact roots here, spline interpolation in lme4
)

# Cases whose fit takes more than a second or two; left to the scoreboard.
SLOW_CASES = {"insteval_reml"}


def lmer_cases() -> list[str]:
    if not REF.exists():
        return []
    out = []
    for p in sorted(REF.glob("*.json")):
        if p.stem in SLOW_CASES:
            continue
        if json.loads(p.read_text())["kind"] == "lmer":
            out.append(p.stem)
    return out


def load_reference(case_id: str) -> dict:
    path = REF / f"{case_id}.json"
    if not path.exists():
        pytest.skip(f"reference {path} not available (../shared is absent)")
    return json.loads(path.read_text())


def load_case_data(case: dict) -> pd.DataFrame:
    """A reference case's CSV with R's factor levels."""
    df = pd.read_csv(SHARED / "data" / Path(case["dataset"]["file"]).name)
    for col in case["dataset"].get("columns", []):
        if col.get("type") in ("factor", "ordered") and col["name"] in df:
            levels = [str(v) for v in col["levels"]]
            df[col["name"]] = pd.Categorical(df[col["name"]].astype("string").astype(object),
                                             categories=levels)
    return df


def at_theta(m, theta: np.ndarray):
    """The same model evaluated at another theta (to isolate inference from the optimiser)."""
    from multilevel.results.lmm import LmerResult

    theta = np.asarray(theta, dtype=float)
    opt = dataclasses.replace(m.opt_summary, theta=theta, fmin=m.problem.objective(theta))
    return LmerResult(design=m.design, terms=m.terms, problem=m.problem, opt=opt,
                      data_name=m.data_name, singular=m.is_singular)


class FitCache:
    def __init__(self):
        self.fits: dict = {}

    def __call__(self, case_id: str):
        if case_id not in self.fits:
            case = load_reference(case_id)
            data = load_case_data(case)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if case["kind"] == "lm":
                    m = ml.lm(case["formula"], data)
                else:
                    m = ml.lmer(case["formula"], data, reml=bool(case["REML"]))
            self.fits[case_id] = m
        return self.fits[case_id]


@pytest.fixture(scope="session")
def fits() -> FitCache:
    return FitCache()


@pytest.fixture(scope="session")
def sleep() -> pd.DataFrame:
    return ml.datasets.load("sleepstudy")
