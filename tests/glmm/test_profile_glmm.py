"""Profile (and Wald) confidence intervals of GLMMs against lme4's ``confint``.

The references (tests/glmm/lme4_profile.json, made by make_lme4_profile.R) are cbpp's
binomial model, a Poisson model of grouseticks and a binomial model of Exam with a
correlated random slope, all fitted by lme4 with tight controls.
"""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.inference.profile import ProfileWarning
from multilevel.inference.profile_glmm import GlmmProfiler

from .conftest import HERE, SHARED, simulate_binary

profile_glmm = importlib.import_module("multilevel.inference.profile_glmm")

REF = HERE / "lme4_profile.json"
CASES = {
    "cbpp_binomial": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                      "binomial"),
    "grouseticks_location": ("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks",
                             "poisson"),
    "exam_pass_slope": ("pass ~ standLRT + (standLRT | school)", "Exam", "binomial"),
}
Z975 = float(stats.norm.ppf(0.975))


def _data(name: str) -> pd.DataFrame:
    if name != "Exam":
        return ml.datasets.load(name)
    path = SHARED / "data" / "Exam.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    df = pd.read_csv(path)
    df["school"] = pd.Categorical(df["school"])
    df["pass"] = (df["normexam"] > 0).astype(float)
    return df


@pytest.fixture(scope="module")
def ref() -> dict:
    import json

    return json.loads(REF.read_text())


@pytest.fixture(scope="module", params=list(CASES))
def case(request, fits, ref):
    """(reference, fit, profile confint) per case; each profile is computed once."""
    formula, data, family = CASES[request.param]
    m = fits.get(("profile", request.param),
                 lambda: ml.glmer(formula, _data(data), family=family))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)  # Exam: a correlation's bound
        return ref[request.param], m, m.confint("profile")


def _limits(block: dict) -> dict:
    return {p: (lo, hi) for p, lo, hi in zip(block["parm"], block["lower"], block["upper"])}


def test_profile_rows_columns_and_names(case):
    want, m, ci = case
    assert list(ci.index) == want["confint_profile"]["parm"]
    assert list(ci.columns) == ["lower", "upper"]
    sd = want["confint_profile"]["parm_alt"][0]  # sd_(Intercept)|herd
    one = m.confint("profile", parm=sd, readable=True)
    assert list(one.index) == [sd]
    assert one.iloc[0].tolist() == pytest.approx(ci.iloc[0].tolist(), rel=1e-9)


def test_profile_limits_are_lme4s_exact_roots(case):
    """Against lme4's own profiled deviance with tight PIRLS (tolPwrss = 1e-13), its limits
    found as exact roots by uniroot in R: measured differences <= 1.3e-9 relative (cbpp),
    <= 2.5e-7 (grouseticks, where our optimum's deviance is 5e-7 below lme4's) and
    <= 2.9e-7 (Exam)."""
    want, _, ci = case
    for parm, (lo, hi) in _limits(want["exact"]).items():
        assert ci.loc[parm, "lower"] == pytest.approx(lo, rel=1e-6)
        assert ci.loc[parm, "upper"] == pytest.approx(hi, rel=1e-6)


# lme4's spline misses the exact root by more than 1e-3 (measured: relative differences)
SPLINE_MISSES = {
    # a kinked profile: beyond -0.39 the slope's sd is 0 and the correlation has no effect
    # (zeta = -2.0725 there); lme4's spline puts the limit at -0.415 (exact: -0.2461)
    ("exam_pass_slope", ".sig02", "lower"),
    ("exam_pass_slope", ".sig03", "lower"),        # 0.0187 vs 0.0155 (zeta -1.94 there)
    ("exam_pass_slope", "(Intercept)", "lower"),   # 1.4e-3 (zeta -1.9584 there)
    ("exam_pass_slope", "(Intercept)", "upper"),   # 2.7e-3 (zeta 1.9527 there)
}


def test_profile_limits_match_lme4_confint(request, case):
    """Against ``confint(m, method = "profile")`` itself: lme4 interpolates an inverse
    spline through its grid, and its profile re-optimises a deviance rebuilt with the
    default PIRLS tolerance (``getME(m, "devfun")``: tolPwrss = 1e-7), whose values at the
    grid points exceed the exact ones by up to 2e-3 (cbpp) and 1.4e-2 (grouseticks).
    Measured: cbpp and grouseticks within 1.5e-4 relative (cbpp's period2 upper limit),
    so the bar is the inference issue's 1e-3; in Exam's correlated model four limits miss
    by more (``SPLINE_MISSES``): there our profile at lme4's limit is lme4's exact profile
    (see ``test_zeta_at_lme4s_limits``), and the limit is where that profile crosses z."""
    case_id = request.node.callspec.params["case"]
    want, _, ci = case
    for parm, (lo, hi) in _limits(want["confint_profile"]).items():
        for side, w in (("lower", lo), ("upper", hi)):
            if (case_id, parm, side) in SPLINE_MISSES:
                assert ci.loc[parm, side] != pytest.approx(w, rel=1e-3)
            else:
                assert ci.loc[parm, side] == pytest.approx(w, rel=1e-3)


def test_zeta_at_lme4s_limits(case):
    """Our profile at lme4's (spline) limits equals lme4's exact profile there, computed
    in R with tight PIRLS (measured: within 1.3e-6); where lme4's limits are good, both
    are close to +-1.96."""
    want, m, _ = case
    pr = GlmmProfiler(m)
    ex, sp = want["exact"], want["confint_profile"]
    for i, parm in enumerate(ex["parm"]):
        w = pr.names.index(parm)
        assert pr.zeta(w, sp["lower"][i]) == pytest.approx(ex["zeta_at_confint_lower"][i],
                                                           abs=1e-5)
        assert pr.zeta(w, sp["upper"][i]) == pytest.approx(ex["zeta_at_confint_upper"][i],
                                                           abs=1e-5)


def test_wald_limits_match_lme4(case):
    """Wald limits: ``beta +- z se``; the standard errors come from the finite-difference
    Hessian in both programs (measured: within 5e-5 standard errors)."""
    want, m, _ = case
    ci = m.confint()
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    wald = want["confint_wald"]
    assert list(ci.index) == wald["parm"]
    nv = len(wald["parm"]) - se.size
    assert ci.iloc[:nv].isna().all().all()
    lo = np.array(wald["lower"][nv:], dtype=float)
    hi = np.array(wald["upper"][nv:], dtype=float)
    assert np.all(np.abs(ci.iloc[nv:, 0].to_numpy() - lo) <= 1e-4 * se)
    assert np.all(np.abs(ci.iloc[nv:, 1].to_numpy() - hi) <= 1e-4 * se)


def test_zeta_at_lme4s_grid_points(m_cbpp, ref):
    """Our profile at some of lme4's grid points: never above lme4's (both use the same
    deviance; lme4's inner optimisations use the loose one, see above), and within its
    PIRLS error of it."""
    grid = ref["cbpp_binomial"]["profile"]
    pr = GlmmProfiler(m_cbpp)
    for par, x, z in list(zip(grid["par"], grid["x"], grid["zeta"]))[::7]:
        ours = pr.zeta(pr.names.index(par), x)
        assert abs(z) < 1e-3 or np.sign(ours) == np.sign(z)  # lme4's estimate: zeta = 0
        assert -3e-3 <= ours ** 2 - z ** 2 <= 1e-6  # measured: -2.2e-3 to 1.3e-8


def test_ml_profile_of_a_glmer_fit(m_cbpp):
    pr = ml.profile(m_cbpp, which=["period2", ".sig01"])
    assert set(pr.table[".par"]) == {".sig01", "period2"}
    assert list(pr.table.columns) == [".par", ".zeta", ".sig01", "(Intercept)", "period2",
                                      "period3", "period4"]
    part = pr.table[pr.table[".par"] == "period2"].sort_values("period2")
    assert np.all(np.diff(part[".zeta"].to_numpy()) > 0)
    assert part[".zeta"].abs().max() == pytest.approx(np.sqrt(stats.chi2.ppf(0.99, 5)),
                                                      rel=1e-6)
    # the profile's other columns are the optimum of the other parameters at that point
    row = part.iloc[-1]
    d = GlmmProfiler(m_cbpp).dev(row.iloc[2:].to_numpy(dtype=float))
    assert d == pytest.approx(m_cbpp.deviance + row[".zeta"] ** 2, abs=1e-6)
    ci = pr.confint()
    assert ci.loc["period2"].tolist() == pytest.approx(
        m_cbpp.confint("profile", parm="period2").loc["period2"].tolist(), rel=1e-8)
    assert pr.estimates["period2"] == pytest.approx(m_cbpp.fixef["period2"], abs=1e-5)


def test_a_failing_parameter_is_reported_and_the_others_kept(m_cbpp, monkeypatch):
    real = profile_glmm.GlmmProfiler.zeta

    def broken(self, w, x):
        if self.names[w] == "period3":
            raise ArithmeticError("PIRLS diverged")
        return real(self, w, x)

    monkeypatch.setattr(profile_glmm.GlmmProfiler, "zeta", broken)
    with pytest.warns(ProfileWarning, match=r"period3.*PIRLS diverged"):
        ci = m_cbpp.confint("profile", parm=["period2", "period3"])
    assert ci.loc["period3"].isna().all() and ci.loc["period2"].notna().all()
    with pytest.warns(ProfileWarning, match=r"period3.*PIRLS diverged"):
        pr = ml.profile(m_cbpp, which=["period3", "period4"])
    assert "ArithmeticError" in pr.failures["period3"]
    assert set(pr.table[".par"]) == {"period4"}


def test_singular_fit_lower_limit_is_the_bound():
    """A random-intercept sd estimated at 0: its lower limit is 0 (lme4's bound) and the
    upper one the exact root; the fixed effects are profiled as usual."""
    df = simulate_binary(n_groups=12, per_group=15, sd=0.0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.glmer("y ~ x + (1 | g)", df, family="binomial")
    assert m.is_singular
    ci = m.confint("profile")
    assert ci.loc[".sig01", "lower"] == 0.0
    pr = GlmmProfiler(m)
    assert pr.zeta(0, ci.loc[".sig01", "upper"]) == pytest.approx(Z975, abs=1e-6)
    assert pr.zeta(2, ci.loc["x", "lower"]) == pytest.approx(-Z975, abs=1e-6)


def test_models_lme4_cannot_profile_are_refused(cbpp):
    rng = np.random.default_rng(2)
    df = cbpp.assign(y=rng.gamma(4.0, 0.5, size=len(cbpp)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gamma = ml.glmer("y ~ 1 + (1 | herd)", df, family="Gamma")
        fast = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                        family="binomial", fast=True)
    with pytest.raises(ValueError, match="scale parameter"):
        gamma.confint("profile")
    with pytest.raises(ValueError, match="n_agq = 0"):
        ml.profile(fast)
    with pytest.raises(NotImplementedError):
        fast.confint("boot")
