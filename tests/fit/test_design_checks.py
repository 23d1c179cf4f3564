"""lme4's design checks as control switches (check_nobs_vs_nlev, check_nlev_gtr_1,
check_nobs_vs_nre: "ignore" | "warning" | "stop"); values from make_design_checks.R."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError, MultilevelWarning

REF = json.loads((Path(__file__).parent / "design_checks.json").read_text())
OBS = "Reaction ~ Days + (1 | Subject) + (1 | obs)"


@pytest.fixture(scope="module")
def sleep():
    s = ml.datasets.load("sleepstudy").copy()
    s["obs"] = np.arange(len(s)).astype(str)
    return s


def test_observation_level_effects_refused_by_default(sleep):
    with pytest.raises(DataError, match="must be < number of observations"):
        ml.lmer(OBS, sleep)
    assert "must be < number of observations (problems: obs)" in REF["default_error"]


def test_observation_level_effects_fit_when_asked(sleep):
    ctrl = ml.LmerControl(check_nobs_vs_nlev="ignore", check_nobs_vs_nre="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(OBS, sleep, control=ctrl)
    assert m.loglik >= REF["obs_logLik"] - 1e-6  # confounded with the residual: same optimum
    assert abs(m.loglik - REF["no_obs_logLik"]) < 1e-5
    np.testing.assert_allclose(m.fixef.to_numpy(), REF["obs_fixef"], rtol=1e-6)


def test_warning_action_warns_and_fits(sleep):
    ctrl = ml.LmerControl(check_nobs_vs_nlev="warning", check_nobs_vs_nre="warning")
    with pytest.warns(MultilevelWarning, match="number of levels"):
        ml.lmer(OBS, sleep, control=ctrl)


def test_single_level_group_with_check_off(sleep):
    one = sleep.assign(one="a")
    with pytest.raises(DataError, match="> 1 sampled level"):
        ml.lmer("Reaction ~ Days + (1 | Subject) + (1 | one)", one)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer("Reaction ~ Days + (1 | Subject) + (1 | one)", one,
                    control=ml.LmerControl(check_nlev_gtr_1="ignore"))
    assert abs(m.loglik - REF["no_obs_logLik"]) < 1e-4


def test_bad_action_is_an_error(sleep):
    with pytest.raises(DataError, match="must be 'ignore', 'warning' or 'stop'"):
        ml.lmer(OBS, sleep, control=ml.LmerControl(check_nobs_vs_nlev="no"))


def test_glmer_observation_level_poisson():
    try:
        g = ml.datasets.load("grouseticks")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"grouseticks not available: {exc}")
    g = g.copy()
    for c in ("INDEX", "BROOD", "YEAR"):
        g[c] = g[c].astype(str).astype("category")
    ref = REF["grouse"]
    m = ml.glmer(ref["formula"], g, family="poisson")  # glmer allows nlev == nobs
    assert abs(m.loglik - ref["logLik"]) < 1e-3
    np.testing.assert_allclose(m.fixef.to_numpy(), list(ref["fixef"].values()), atol=2e-3)
