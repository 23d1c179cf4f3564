"""Covariance structures: the maps, their equivalences with lme4's terms, inference on them,
errors and printing (no R needed)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import multilevel as ml
from multilevel.core.covstruct import ThetaMap, make_structure
from multilevel.errors import FormulaError

from .test_glmmtmb_reference import sim_data


@pytest.fixture(scope="module")
def sleep():
    d = ml.datasets.load("sleepstudy")
    d["Subject"] = d["Subject"].astype(str).astype("category")
    return d


def fit(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.lmer(formula, data, **kw)


# ----- the maps ----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["us", "diag", "cs", "ar1"]), p=st.integers(1, 5),
       hom=st.booleans(), seed=st.integers(0, 2 ** 31 - 1))
def test_phi_theta_round_trip(name, p, hom, seed):
    s = make_structure(name, p, hom=hom and name != "us")
    rng = np.random.default_rng(seed)
    phi = np.where(np.isfinite(s.lower()), rng.uniform(0.1, 3.0, s.n_par),
                   rng.uniform(-2.0, 2.0, s.n_par))
    T = s.factor(phi)
    assert np.allclose(T, np.tril(T))
    assert np.allclose(s.phi_from_theta(s.theta(phi)), phi, atol=1e-8)
    S = T @ T.T  # the covariance has the structure's pattern
    sd = np.sqrt(np.diag(S))
    R = S / np.outer(sd, sd)
    if name in ("cs", "ar1") and p > 1:
        rho = R[1, 0]
        want = (rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p))) if name == "ar1"
                else np.where(np.eye(p) == 1, 1.0, rho))
        assert np.allclose(R, want)
    if name == "diag":
        assert np.allclose(R, np.eye(p))
    if hom and name != "us":
        assert np.allclose(sd, sd[0])
    v = s.sdcor_from_cov(S)  # natural parameters and back
    assert np.allclose(s.cov_from_sdcor(v), S)


def test_unstructured_models_keep_the_identity_map(sleep):
    m = fit("Reaction ~ Days + (Days | Subject)", sleep)
    tm = m.theta_map
    assert tm.identity
    f = m.problem.objective
    assert tm.wrap(f) is f
    th = np.asarray(m.theta)
    assert tm.theta(th) is not None and np.array_equal(tm.theta(th), th)


# ----- equivalences with lme4's terms --------------------------------------------------------
def test_us_is_lme4s_term(sleep):
    a = fit("Reaction ~ Days + us(1 + Days | Subject)", sleep)
    b = fit("Reaction ~ Days + (1 + Days | Subject)", sleep)
    assert a.theta_map.identity
    assert np.array_equal(a.theta.to_numpy(), b.theta.to_numpy())
    assert a.loglik == b.loglik


@pytest.mark.parametrize("wrapper", ["diag", "zerocorr"])
def test_diag_equals_double_bar(sleep, wrapper):
    a = fit(f"Reaction ~ Days + {wrapper}(1 + Days | Subject)", sleep)
    b = fit("Reaction ~ Days + (1 + Days || Subject)", sleep)
    assert abs(a.loglik - b.loglik) < 1e-6
    assert a.n_params == b.n_params == 5
    assert np.allclose(a.fixef, b.fixef, atol=1e-5)
    # one term, correlation rows present (0), as lme4 2.0's VarCorr of a diag() term
    vc = a.varcorr
    assert set(vc["grp"]) == {"Subject", "Residual"}
    assert float(vc.loc[vc["var2"] == "Days", "sdcor"].iloc[0]) == 0.0


def test_heterogeneous_cs_of_two_columns_is_unstructured(sleep):
    """cs() with two columns has two sds and one correlation: lme4's (1 + Days | Subject) in
    other coordinates. The optimum and the Satterthwaite df (invariant to the coordinates)
    are the same."""
    a = fit("Reaction ~ Days + cs(1 + Days | Subject)", sleep)
    b = fit("Reaction ~ Days + (1 + Days | Subject)", sleep)
    assert not a.theta_map.identity
    assert abs(a.loglik - b.loglik) < 1e-6
    ta, tb = a.coef_table(), b.coef_table()
    assert np.allclose(ta["std_error"], tb["std_error"], rtol=1e-4)
    assert np.allclose(ta["df"], tb["df"], rtol=1e-3)


def test_scalar_structure_matches_lme4_inference():
    """diag(1 | Batch) goes through the structure's map; Satterthwaite df and profile
    intervals equal those of (1 | Batch) (lmerTest: df = 5 for Dyestuff)."""
    d = ml.datasets.load("Dyestuff")
    a = fit("Yield ~ 1 + diag(1 | Batch)", d)
    b = fit("Yield ~ 1 + (1 | Batch)", d)
    assert not a.theta_map.identity
    assert abs(float(a.coef_table()["df"].iloc[0]) - float(b.coef_table()["df"].iloc[0])) < 1e-3
    ca, cb = a.confint(method="profile"), b.confint(method="profile")
    assert list(ca.index) == list(cb.index)
    assert np.allclose(ca.to_numpy(), cb.to_numpy(), rtol=1e-4)


# ----- inference on cs() and ar1() -----------------------------------------------------------
@pytest.fixture(scope="module")
def ar1_fit():
    return fit("y ~ t + x + ar1(0 + ft | id) + (1 | site)", sim_data())


def test_satterthwaite_df_for_ar1(ar1_fit):
    tab = ar1_fit.coef_table()
    df = tab["df"].to_numpy()
    assert np.all(np.isfinite(df)) and np.all(df > 1) and np.all(df < ar1_fit.nobs)
    # the time effect is estimated within subjects from 30 subjects: df between 20 and nobs
    assert 20 < tab.loc["t", "df"] < ar1_fit.nobs
    assert np.allclose(tab["std_error"], np.sqrt(np.diag(ar1_fit.vcov)))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::multilevel.inference.profile.ProfileWarning")
def test_profile_intervals_for_ar1(ar1_fit):
    ci = ar1_fit.confint(method="profile")
    names = ci.index.tolist()
    assert names == [".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "t", "x"]
    readable = ar1_fit.confint(method="profile", parm=["cor_ft1.ft0|id"], readable=True)
    lo, hi = readable.iloc[0]
    rho = float(ar1_fit.varcorr.query("var1 == 'ft0' and var2 == 'ft1'")["sdcor"].iloc[0])
    assert -1 < lo < hi < 1
    wald = ar1_fit.confint(method="wald")
    for k in ("(Intercept)", "t", "x"):  # profile and Wald intervals of fixed effects agree
        assert np.allclose(ci.loc[k], wald.loc[k], rtol=0.05, atol=0.02 * abs(ar1_fit.fixef[k]))
    ml_fit_rho = ci.loc[".sig02"]
    assert ml_fit_rho["lower"] < rho * 1.1 and ml_fit_rho["upper"] > rho * 0.9


def test_cs_anova_and_profile_run():
    d = sim_data()
    a = fit("y ~ t + x + cs(0 + ft | id, hom = TRUE)", d, reml=False)
    b = fit("y ~ t + x + cs(0 + ft | id)", d, reml=False)
    assert (a.n_params, b.n_params) == (6, 9)
    tab = ml.anova(a, b)
    assert int(tab["Df"].iloc[1]) == 3 and tab["Chisq"].iloc[1] >= 0
    ci = a.confint(method="profile", parm="theta_")
    assert ci.shape == (3, 2) and np.all(ci["lower"] < ci["upper"])
    assert -1.0 / 3 <= ci.iloc[1]["lower"] < ci.iloc[1]["upper"] <= 1.0


# ----- errors and printing -------------------------------------------------------------------
@pytest.mark.parametrize("formula, words", [
    ("y ~ t + ar1(0 + x | id)", "ar1() needs a time factor"),
    ("y ~ t + ar1(1 + ft | id)", "ar1() needs a time factor"),
    ("y ~ t + toep(0 + ft | id)", "unknown covariance structure toep()"),
    ("y ~ t + us(0 + ft | id, hom = TRUE)", "us() has no argument 'hom'"),
    ("y ~ t + cs(0 + ft | id, hom = maybe)", "hom must be TRUE or FALSE"),
    ("y ~ t + cs(ft)", "takes one random-effects term"),
    ("y ~ t + I(cs(0 + ft | id))", "not allowed"),
])
def test_misuse_is_a_formula_error(formula, words):
    d = sim_data()
    with pytest.raises(FormulaError, match=None) as info:
        fit(formula, d)
    assert words in str(info.value)


def test_glmer_scalar_structure_is_lme4s_term():
    """A one-column diag() goes through the structure's map in both glmer stages."""
    d = ml.datasets.load("cbpp")
    a = ml.glmer("cbind(incidence, size - incidence) ~ period + diag(1 | herd)", d, "binomial")
    b = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", d, "binomial")
    assert not a.theta_map.identity
    assert abs(a.loglik - b.loglik) < 1e-6
    assert np.allclose(a.fixef, b.fixef, atol=1e-4)
    assert np.allclose(a.vcov, b.vcov, rtol=1e-3)


def test_summary_prints_the_structure(ar1_fit, sleep):
    text = str(ar1_fit.summary())
    assert "Formula: y ~ t + x + ar1(0 + ft | id) + (1 | site)" in text
    block = text[text.index("Random effects:"):text.index("Number of obs")]
    lines = block.splitlines()
    assert lines[1].split()[-1] == "Corr"
    assert lines[2].rstrip().endswith("(ar1)") and "ft0" in lines[2]
    assert all("(ar1)" not in ln for ln in lines[3:])
    diag = str(fit("Reaction ~ Days + diag(1 + Days | Subject)", sleep).summary())
    assert "Corr" not in diag[diag.index("Random effects:"):diag.index("Number of obs")]


def test_theta_map_joins_terms():
    tm = ThetaMap([make_structure("ar1", 4), make_structure("us", 1)])
    assert (tm.n_phi, tm.n_theta) == (3, 11)
    phi = np.array([2.0, 0.5, 0.7])
    assert np.allclose(tm.phi(tm.theta(phi)), phi)
    assert tm.is_singular(np.array([0.0, 0.5, 0.7]), 1e-4)


# ----- Kenward-Roger -----------------------------------------------------------------------
@pytest.mark.parametrize("structured, lme4", [
    ("Reaction ~ Days + diag(1 + Days | Subject)", "Reaction ~ Days + (1 + Days || Subject)"),
    ("Reaction ~ Days + cs(1 + Days | Subject)", "Reaction ~ Days + (1 + Days | Subject)"),
])
def test_kenward_roger_of_equivalent_structures(sleep, structured, lme4):
    """Kenward-Roger's first-order terms transform with the structure's Jacobian: a structure
    equivalent to lme4's terms gives pbkrtest's df and adjusted standard errors."""
    a = fit(structured, sleep).coef_table(ddf="kenward-roger")
    b = fit(lme4, sleep).coef_table(ddf="kenward-roger")
    assert np.allclose(a["df"], b["df"], rtol=1e-4)
    assert np.allclose(a["std_error"], b["std_error"], rtol=1e-4)


def test_kenward_roger_for_ar1(ar1_fit):
    kr = ar1_fit.coef_table(ddf="kenward-roger")
    se = np.sqrt(np.diag(ar1_fit.vcov))
    assert np.all(kr["std_error"].to_numpy() >= se * (1 - 1e-9))  # never smaller
    assert np.all(kr["std_error"].to_numpy() <= se * 1.1)
    sat = ar1_fit.coef_table()
    assert np.allclose(kr["df"], sat["df"], rtol=0.2)  # close to Satterthwaite's here


def test_ar1_time_factor_spellings_and_heterogeneous_variances():
    d = sim_data()
    d["fo"] = pd.Categorical(d["t"].astype(str), categories=["0", "1", "2", "3"], ordered=True)
    base = fit("y ~ t + ar1(0 + ft | id)", d)
    for f in ("y ~ t + ar1(0 + fo | id)", "y ~ t + ar1(0 + factor(t) | id)",
              "y ~ t + ar1(ft + 0 | id, hom = TRUE)"):
        assert abs(fit(f, d).loglik - base.loglik) < 1e-6, f
    het = fit("y ~ t + ar1(0 + ft | id, hom = FALSE)", d)  # a variance per time point
    assert het.n_params == base.n_params + 3
    assert het.loglik >= base.loglik - 1e-6
    sds = het.varcorr.query("grp == 'id' and var2.isna()")["sdcor"].to_numpy()
    assert np.ptp(sds) > 0
    R = het.varcorr.query("grp == 'id' and var1 == 'ft0'")["sdcor"].to_numpy()[1:]
    assert np.allclose(R, R[0] ** np.arange(1, 4), rtol=1e-6)  # rho^|i - j|


def test_out_of_core_fit_equals_in_memory():
    duckdb = pytest.importorskip("duckdb")
    d = sim_data()
    con = duckdb.connect()
    con.register("d", d.assign(ft=d["ft"].astype(str)))
    f = "y ~ t + x + ar1(0 + ft | id) + (1 | site)"
    a, b = fit(f, (con, "d")), fit(f, d)
    assert abs(a.loglik - b.loglik) < 1e-8
    assert np.allclose(a.fixef, b.fixef, atol=1e-8)
    assert np.allclose(a.varcorr["sdcor"], b.varcorr["sdcor"], atol=1e-6)


def test_all_fit_reports_the_structures_parameters():
    m = fit("y ~ t + x + ar1(0 + ft | id)", sim_data())
    s = ml.all_fit(m, optimizers=["bobyqa", "Nelder_Mead"]).summary()
    assert list(s.sdcor.columns) == [".sig01", ".sig02", ".sigma"]  # sd, rho, sigma
    assert float(s.llik.max() - s.llik.min()) < 1e-6
