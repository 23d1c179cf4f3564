"""Shared fixtures for the glmer tests: data, reference values, a session cache of fits."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

HERE = Path(__file__).resolve().parent
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXTRA = HERE / "lme4_extra.json"

# The scoreboard's glmer tolerances (../shared/tools/parity.py), one place with reasons.
TOL = dict(
    beta_se=5e-3,      # fixed effects, in units of their standard error
    se_rel=5e-3,       # standard errors (Hessian of the deviance), relative
    loglik=1e-3,       # the Laplace optimum is found to ~1e-8; lme4's own refit to ~1e-9
    sd_rel=1e-2,       # random-effect standard deviations, relative
    condval_sd=1e-2,   # conditional modes, in units of their conditional sd
    condsd_rel=2e-2,   # conditional sds, relative
    fitted=5e-3,       # fitted means, absolute
)


def load_case_data(case: dict) -> pd.DataFrame:
    """A reference case's CSV with R's factor levels (as the scoreboard reads it)."""
    path = SHARED / "data" / Path(case["dataset"]["file"]).name
    df = pd.read_csv(path)
    for col in case["dataset"].get("columns", []):
        if col.get("type") in ("factor", "ordered") and col["name"] in df:
            levels = [str(v) for v in col["levels"]]
            df[col["name"]] = pd.Categorical(df[col["name"]].astype("string").astype(object),
                                             categories=levels)
    return df


def load_reference(case_id: str) -> dict:
    path = SHARED / "reference" / f"{case_id}.json"
    if not path.exists():
        pytest.skip(f"reference {path} not available (../shared is absent)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def extra() -> dict:
    """lme4 results made by tests/glmm/make_lme4_extra.R (AGQ, other links, offsets...)."""
    return json.loads(EXTRA.read_text())


@pytest.fixture(scope="session")
def cbpp() -> pd.DataFrame:
    return ml.datasets.load("cbpp")


class FitCache:
    """Fit each (formula, data, options) once per session (MixedModels.jl's model cache)."""

    def __init__(self):
        self._fits: dict = {}

    def get(self, key, fn):
        if key not in self._fits:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._fits[key] = fn()
        return self._fits[key]


@pytest.fixture(scope="session")
def fits() -> FitCache:
    return FitCache()


@pytest.fixture(scope="session")
def m_cbpp(fits, cbpp):
    return fits.get("cbpp", lambda: ml.glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"))


def simulate_binary(n_groups: int = 60, per_group: int = 40, beta=(-0.5, 1.0, -0.7),
                    sd: float = 0.9, seed: int = 1) -> pd.DataFrame:
    """A binary GLMM with a random intercept: ``logit p = X beta + b_g``, ``b_g ~ N(0, sd^2)``."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    n = g.size
    x = rng.normal(size=n)
    z = rng.integers(0, 2, size=n).astype(float)
    b = rng.normal(scale=sd, size=n_groups)
    eta = beta[0] + beta[1] * x + beta[2] * z + b[g]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": pd.Categorical([f"g{i:03d}" for i in g])})
