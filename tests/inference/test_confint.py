"""Wald and profile confidence intervals against lme4's confint()."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import multilevel as ml
from multilevel.inference.profile import ProfileWarning, sdcor_to_theta, theta_to_sdcor

profile_mod = importlib.import_module("multilevel.inference.profile")

from .conftest import TOL, at_theta, lmer_cases, load_reference

CASES = lmer_cases()
# profile intervals on the small cases only (each takes well under a second)
PROFILE_CASES = ["dyestuff_reml", "dyestuff2_ml", "imm10_m3_ml", "sleepstudy_uncorr_reml",
                 "sleepstudy_corr_reml", "penicillin_reml", "cake_add_ml"]


def _lme4_theta(case):
    return np.array([0.0 if v is None else v for v in case["theta"].values()])


@pytest.mark.parametrize("case_id", CASES)
def test_wald_limits_at_lme4_theta(fits, case_id):
    """Wald limits are closed form given theta: at lme4's theta they agree to ~1e-12.

    (As fitted they differ by what the optimiser's stopping point changes in the standard
    errors, up to a few 1e-5 in the cases where our optimum has a lower deviance.)
    """
    case = load_reference(case_id)
    m = at_theta(fits(case_id), _lme4_theta(case))
    ci = m.confint(method="wald")
    want = case["confint_wald"]
    assert list(ci.index) == want["parm"]
    assert list(m.confint(method="wald", readable=True).index) == want["parm_alt"]
    for parm, lo, hi in zip(want["parm"], want["lower"], want["upper"]):
        if lo is None:
            assert np.isnan(ci.loc[parm, "lower"]) and np.isnan(ci.loc[parm, "upper"])
            continue
        assert ci.loc[parm, "lower"] == pytest.approx(lo, abs=TOL["wald_abs"])
        assert ci.loc[parm, "upper"] == pytest.approx(hi, abs=TOL["wald_abs"])


@pytest.mark.parametrize("case_id", PROFILE_CASES)
def test_profile_limits_match_lme4(fits, case_id):
    want = load_reference(case_id)["confint_profile"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)
        ci = fits(case_id).confint(method="profile")
    assert list(ci.index) == want["parm"]
    for parm, lo, hi in zip(want["parm"], want["lower"], want["upper"]):
        for side, w in (("lower", lo), ("upper", hi)):
            assert ci.loc[parm, side] == pytest.approx(w, rel=TOL["profile_rel"], abs=1e-9)


def test_singular_fit_limit_is_the_bound(fits):
    """Dyestuff2: sd = 0 at the optimum; lme4 reports 0 as the lower limit."""
    ci = fits("dyestuff2_reml").confint(method="profile", parm=".sig01")
    assert ci.loc[".sig01", "lower"] == 0.0
    assert ci.loc[".sig01", "upper"] == pytest.approx(2.0840434890102215, rel=1e-3)


def test_a_failing_parameter_is_reported_and_the_others_kept(fits, monkeypatch):
    m = fits("sleepstudy_corr_reml")
    real = profile_mod.Profiler.zeta

    def broken(self, w, x):
        if self.names[w] == ".sig02":
            raise ArithmeticError("correlation not estimable at the boundary")
        return real(self, w, x)

    monkeypatch.setattr(profile_mod.Profiler, "zeta", broken)
    with pytest.warns(ProfileWarning, match=r"\.sig02.*correlation not estimable"):
        pr = ml.profile(m)
    assert ".sig02" in pr.failures and "ArithmeticError" in pr.failures[".sig02"]
    assert ".sig02" not in set(pr.table[".par"])
    ci = pr.confint()
    assert np.isnan(ci.loc[".sig02"]).all()
    assert np.isfinite(ci.drop(".sig02").to_numpy()).all()


def test_singular_correlation_limits_are_the_bounds(sleep):
    """No slope variance in the data: the fit is singular (correlation -1, slope sd ~ 0)."""
    rng = np.random.default_rng(5)
    df = sleep.assign(Reaction=250 + 10 * sleep.Days
                      + np.repeat(rng.normal(0, 30, 18), 10) + rng.normal(0, 25, 180))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer("Reaction ~ Days + (Days | Subject)", df, reml=False)
    assert m.is_singular
    with pytest.warns(ProfileWarning) as rec:
        ci = m.confint(method="profile", parm=[".sig02", ".sig03", "Days"])
    assert any(str(r.message).startswith(".sig02: the profile does not reach") for r in rec)
    assert ci.loc[".sig02"].tolist() == [-1.0, 1.0]
    assert ci.loc[".sig03", "lower"] == 0.0 and ci.loc[".sig03", "upper"] > 0
    assert ci.loc["Days", "lower"] < m.fixef["Days"] < ci.loc["Days", "upper"]


def test_profile_object_and_parameter_selection(fits):
    m = fits("dyestuff_reml")
    pr = ml.profile(m)
    assert list(pr.table.columns[:2]) == [".par", ".zeta"]
    for name, part in pr.table.groupby(".par"):
        z = part.sort_values(name)[".zeta"].to_numpy()
        assert np.all(np.diff(z) > 0)  # zeta increases with the parameter
    ci_all = m.confint()
    np.testing.assert_allclose(pr.confint().to_numpy(), ci_all.to_numpy(), rtol=1e-7)
    beta_only = m.confint(parm="beta_")
    assert list(beta_only.index) == ["(Intercept)"]
    assert list(m.confint(parm="sigma", method="wald").index) == [".sigma"]


def test_sdcor_round_trip():
    theta = np.array([0.9, 0.3, 0.2, 1.1])
    sv = theta_to_sdcor(theta, 2.0, [2, 1])
    np.testing.assert_allclose(sdcor_to_theta(sv, [2, 1]), theta)
    assert sdcor_to_theta(np.array([1.0, 1.5, 1.0, 1.0]), [2]) is None  # |cor| > 1


def test_profile_plot(fits):
    import matplotlib

    matplotlib.use("Agg")
    from multilevel.plots.profile import profile as profile_plot

    axes = profile_plot(ml.profile(fits("dyestuff_reml")))
    assert [a.get_title() for a in axes] == ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
