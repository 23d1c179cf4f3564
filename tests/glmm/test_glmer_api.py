"""glmer end to end: recovery of known parameters, response forms, predictions, residuals,
inference helpers, summaries, anova, warnings and errors."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import ConvergenceWarning, DataError, SingularFitWarning
from multilevel.fit.glmer import GlmerControl, check_separation

from .conftest import simulate_binary

FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


# ----- a simulated binary GLMM -----------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(fits):
    df = simulate_binary()
    return df, fits.get("sim", lambda: ml.glmer("y ~ x + z + (1 | g)", df, family="binomial"))


def test_recovers_known_parameters(sim):
    df, m = sim
    truth = np.array([-0.5, 1.0, -0.7])
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    assert np.all(np.abs(m.fixef.to_numpy() - truth) < 3 * se)
    assert m.varcorr["sdcor"].iloc[0] == pytest.approx(0.9, abs=0.3)
    assert not m.is_singular and m.messages == []


def test_invariant_to_row_order(sim):
    df, m = sim
    perm = np.random.default_rng(5).permutation(len(df))
    m2 = ml.glmer("y ~ x + z + (1 | g)", df.iloc[perm].reset_index(drop=True),
                  family="binomial")
    assert m2.loglik == pytest.approx(m.loglik, abs=1e-7)
    assert m2.fixef.to_numpy() == pytest.approx(m.fixef.to_numpy(), abs=1e-5)
    assert m2.theta.to_numpy() == pytest.approx(m.theta.to_numpy(), abs=1e-5)


def test_fast_mode_is_stage_one(sim):
    df, m = sim
    f = ml.glmer("y ~ x + z + (1 | g)", df, family="binomial", fast=True)
    f0 = ml.glmer("y ~ x + z + (1 | g)", df, family="binomial", n_agq=0)
    assert f.loglik == pytest.approx(f0.loglik, abs=1e-10)
    assert f.n_agq == 0 and f.hessian is None
    assert f.loglik <= m.loglik + 1e-8  # stage 2 can only improve on stage 1
    assert np.abs(f.fixef - m.fixef).max() < 0.1
    assert "nAGQ = 0" in str(f.summary()).splitlines()[1]


# ----- response forms ---------------------------------------------------------------------------
def test_proportions_with_weights_equal_cbind(cbpp, m_cbpp):
    df = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"])
    m = ml.glmer("prop ~ period + (1 | herd)", df, family="binomial", weights=df["size"])
    assert m.loglik == pytest.approx(m_cbpp.loglik, abs=1e-7)
    assert m.fixef.to_numpy() == pytest.approx(m_cbpp.fixef.to_numpy(), abs=1e-5)
    m_col = ml.glmer("prop ~ period + (1 | herd)", df, family="binomial", weights="size")
    assert m_col.loglik == pytest.approx(m.loglik, abs=1e-9)


def test_factor_response_equals_zero_one(sim):
    df, m = sim
    fac = df.assign(y=pd.Categorical(np.where(df["y"] > 0, "yes", "no"),
                                     categories=["no", "yes"]))
    m2 = ml.glmer("y ~ x + z + (1 | g)", fac, family="binomial")
    assert m2.loglik == pytest.approx(m.loglik, abs=1e-8)


def test_poisson_offset_matches_offset_argument(cbpp):
    a = ml.glmer("incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, family="poisson")
    b = ml.glmer("incidence ~ period + (1 | herd)", cbpp, family="poisson",
                 offset=np.log(cbpp["size"].to_numpy()))
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    assert a.predict(cbpp.head(3)).to_numpy() == pytest.approx(a.predict().to_numpy()[:3])


def test_family_objects_and_names(cbpp, m_cbpp):
    m = ml.glmer(FORMULA, cbpp, family=ml.family.Binomial())
    assert m.loglik == pytest.approx(m_cbpp.loglik, abs=1e-9)
    assert (m.family, m.link) == ("binomial", "logit")
    assert repr(ml.family.Binomial(link="probit")) == "Binomial(link='probit')"
    with pytest.raises(ValueError, match="not available"):
        ml.family.Poisson(link="logit")
    with pytest.raises(ValueError, match="lmer"):
        ml.glmer(FORMULA, cbpp, family="gaussian")
    with pytest.raises(ValueError, match="unknown family"):
        ml.glmer(FORMULA, cbpp, family="tweedie")


# ----- predictions, residuals, inference ----------------------------------------------------
def test_predict_types(cbpp, m_cbpp):
    m = m_cbpp
    link = m.predict(type="link")
    resp = m.predict(type="response")
    assert resp.to_numpy() == pytest.approx(1 / (1 + np.exp(-link.to_numpy())))
    assert resp.to_numpy() == pytest.approx(m.fitted.to_numpy())
    assert m.predict(cbpp, type="response").to_numpy() == pytest.approx(resp.to_numpy())
    pop = m.predict(cbpp, re_form=None)
    assert pop.to_numpy() == pytest.approx(cbpp["period"].cat.codes.map(
        dict(enumerate([0.0, *m.fixef.iloc[1:]]))).to_numpy() + m.fixef.iloc[0])
    assert m.predict(cbpp, re_form="~(1 | herd)").to_numpy() == pytest.approx(link.to_numpy())
    new = cbpp.head(2).assign(herd=pd.Categorical(["99", "99"]))
    with pytest.raises(DataError):
        m.predict(new)
    got = m.predict(new, allow_new_levels=True, type="response")
    assert got.to_numpy() == pytest.approx(m.predict(cbpp.head(2), re_form=None,
                                                     type="response").to_numpy())
    with pytest.raises(ValueError, match="type"):
        m.predict(type="probability")


def test_residual_types(m_cbpp):
    m = m_cbpp
    d = m.problem.data
    y, mu, wt = d.y, m.fitted.to_numpy(), d.weights
    assert m.residuals("response").to_numpy() == pytest.approx(y - mu)
    pear = (y - mu) * np.sqrt(wt / (mu * (1 - mu)))
    assert m.residuals("pearson").to_numpy() == pytest.approx(pear)
    dev = m.residuals().to_numpy()
    assert np.sum(dev ** 2) == pytest.approx(m.cond_deviance)
    assert np.all(np.sign(dev) == np.sign(y - mu))
    with pytest.raises(ValueError):
        m.residuals("partial")


def test_confint_overdispersion_coef_table(m_cbpp):
    m = m_cbpp
    ci = m.confint()
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert ci.loc[".sig01"].isna().all()
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    assert ci.iloc[1:, 0].to_numpy() == pytest.approx(m.fixef.to_numpy() - 1.959963985 * se)
    od = m.overdispersion()
    assert od["rdf"] == m.df_resid and od["ratio"] == pytest.approx(od["chisq"] / od["rdf"])
    assert 0 <= od["p_value"] <= 1
    tab = m.coef_table()
    assert tab["z_value"].to_numpy() == pytest.approx(tab["estimate"] / tab["std_error"])
    with pytest.raises(NotImplementedError):
        m.confint(method="boot")


def test_ranef_coef_accessors(m_cbpp):
    m = m_cbpp
    wide = m.ranef_wide()["herd"]
    assert wide.shape == (15, 1) and list(wide.index[:3]) == ["1", "2", "3"]
    coef = m.coef()["herd"]
    assert coef["period2"].nunique() == 1
    assert coef["(Intercept)"].to_numpy() == pytest.approx(
        m.fixef["(Intercept)"] + wide["(Intercept)"].to_numpy())


def test_anova_between_glmms(cbpp, m_cbpp):
    m0 = ml.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp,
                  family="binomial")
    tab = ml.anova(m0, m_cbpp)
    assert list(tab["npar"]) == [2, 5]
    assert tab["Chisq"].iloc[1] == pytest.approx(2 * (m_cbpp.loglik - m0.loglik))
    assert tab["Chisq"].iloc[1] == pytest.approx(25.61, abs=0.02)  # lme4: 25.61 on 3 df


def test_summary_data(m_cbpp):
    s = m_cbpp.summary()
    text = str(s)
    assert text.startswith("Generalized linear mixed model fit by maximum likelihood (Laplace")
    assert " Family: binomial  ( logit )" in text and "Pr(>|z|)" in text
    assert s.data.residual_sd is None and s.data.class_name == "glmerMod"
    assert "Data: cbpp" in text


# ----- warnings and errors ----------------------------------------------------------------
def test_bad_responses():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(10), 6)
    df = pd.DataFrame({"g": pd.Categorical(g), "x": rng.normal(size=60),
                       "k": rng.integers(0, 5, 60).astype(float), "n": np.full(60, 5.0)})
    with pytest.raises(DataError, match="negative") as e:
        ml.glmer("k ~ x + (1 | g)", df.assign(k=df["k"] - 3), family="poisson")
    assert "How to fix" in str(e.value)
    with pytest.raises(DataError, match=r"0 <= y <= 1"):
        ml.glmer("k ~ x + (1 | g)", df, family="binomial")
    with pytest.raises(DataError, match="negative counts"):
        ml.glmer("cbind(k, n - k - 2) ~ x + (1 | g)", df, family="binomial")
    with pytest.raises(DataError, match="constant"):
        ml.glmer("z ~ x + (1 | g)", df.assign(z=1.0), family="binomial")
    with pytest.raises(DataError, match="<= 0"):
        ml.glmer("k ~ x + (1 | g)", df, family="Gamma")
    with pytest.raises(DataError, match="weights"):
        ml.glmer("k ~ x + (1 | g)", df, family="poisson", weights=np.ones(3))
    with pytest.raises(ValueError, match="single, scalar"):
        ml.glmer("k ~ x + (x | g)", df, family="poisson", n_agq=5)


def test_complete_separation_is_an_error():
    df = simulate_binary(n_groups=10, per_group=10)
    df["y"] = (df["x"] > 0).astype(float)
    with pytest.raises(DataError, match="complete separation"):
        ml.glmer("y ~ x + (1 | g)", df, family="binomial")


def test_quasi_separation_warns_and_lp_finds_columns():
    X = np.column_stack([np.ones(8), [0, 0, 0, 0, 1, 1, 1, 1.0]])
    y = np.array([0, 1, 0, 1, 1, 1, 1, 1.0])
    complete, cols = check_separation(X, y, ["(Intercept)", "x"])
    assert not complete and "x" in cols
    df = simulate_binary(n_groups=12, per_group=20, seed=4)
    df.loc[df["z"] == 1, "y"] = 1.0
    with pytest.warns(ConvergenceWarning, match="quasi-complete separation"):
        ml.glmer("y ~ x + z + (1 | g)", df, family="binomial")


def test_singular_fit_warns():
    # every group holds the same rows: no between-group variation at all
    rng = np.random.default_rng(11)
    x = rng.normal(size=30)
    y = (rng.random(30) < 1 / (1 + np.exp(-0.3 - x))).astype(float)
    df = pd.DataFrame({"g": pd.Categorical(np.repeat(np.arange(8), 30)),
                       "x": np.tile(x, 8), "y": np.tile(y, 8)})
    with pytest.warns(SingularFitWarning, match="singular"):
        m = ml.glmer("y ~ x + (1 | g)", df, family="binomial")
    assert m.is_singular and m.theta.iloc[0] == 0.0
    assert np.all(np.isfinite(np.sqrt(np.diag(m.vcov.to_numpy()))))


def test_control_options(cbpp, m_cbpp):
    m = ml.glmer(FORMULA, cbpp, control=GlmerControl(calc_derivs=False))
    assert m.hessian is None
    assert m.vcov.to_numpy() == pytest.approx(m.vcov_rx.to_numpy())
    assert m.loglik == pytest.approx(m_cbpp.loglik, abs=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ml.glmer(FORMULA, cbpp)  # the reference fit raises no warning


# ----- negative binomial ------------------------------------------------------------------
def test_glmer_nb_matches_lme4():
    """lme4 1.1-31: glmer.nb(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), grouseticks)."""
    g = ml.datasets.load("grouseticks")
    m = ml.glmer_nb("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", g)
    assert m.nb_theta == pytest.approx(2.052219243, rel=1e-4)
    assert m.loglik == pytest.approx(-905.861242184, abs=1e-3)  # ours: the exact optimum
    assert m.loglik >= -905.861242184
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    want_se = np.array([0.173334727384, 0.167592318411, 0.186274639556, 0.003858778584])
    want = np.array([0.58898450925, 1.12243550833, -1.11823678960, -0.02378350135])
    assert np.all(np.abs(m.fixef.to_numpy() - want) < 5e-3 * want_se)
    assert se == pytest.approx(want_se, rel=5e-3)
    assert m.theta.iloc[0] == pytest.approx(0.8936459266, rel=1e-3)
    assert m.n_params == 6 and m.family == "negative.binomial"
    assert str(m.summary()).splitlines()[2] == " Family: Negative Binomial(2.0522)  ( log )"
