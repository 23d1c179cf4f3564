"""ml.model_table, m.drop1() and prediction intervals against R (modelchoice_ref.json, made by
make_modelchoice.R with lme4 1.1-31 / lmerTest 3.1-3).

Tolerances: information criteria and LRT of lmer fits 1e-4 absolute (deviances agree to
~1e-8; 1e-4 leaves room for the optimiser's stopping point); glmer 2e-3 (lme4's glmer stops
its BOBYQA loosely, ~5e-4 from the optimum in the deviance); Satterthwaite F and df 1e-3
relative; Wald limits 1e-6 relative (closed form given the fit).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError
from multilevel.inference.model_table import model_table

REF = json.loads((Path(__file__).resolve().parent / "modelchoice_ref.json").read_text())
_FITS: dict = {}


def num(v):
    return float("nan") if v == "NA" else float(v)


def fit(key):
    if key not in _FITS:
        sleep = ml.datasets.load("sleepstudy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[key] = {
                "s1": lambda: ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False),
                "s0": lambda: ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False),
                "s2": lambda: ml.lmer("Reaction ~ 1 + (1 | Subject)", sleep, reml=False),
                "sr": lambda: ml.lmer("Reaction ~ Days + (Days | Subject)", sleep),
                "exam": lambda: ml.lmer("normexam ~ standLRT + sex + schgend + (1 | school)",
                                        ml.datasets.load("Exam")),
                "cake": lambda: ml.lmer("angle ~ recipe * temperature + (1 | replicate:recipe)",
                                        ml.datasets.load("cake")),
                "cbpp": lambda: ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                         ml.datasets.load("cbpp"), family="binomial"),
            }[key]()
    return _FITS[key]


def test_model_table_matches_r_information_criteria():
    tab = model_table(fit("s2"), fit("s1"), fit("s0"), model_names=["m2", "m1", "m0"])
    assert tab.index.tolist() == ["m1", "m0", "m2"]  # sorted by AICc
    for name, ref in REF["ic_sleep"].items():
        row = tab.loc[name]
        assert int(row["df"]) == ref["df"]
        for col in ("logLik", "AIC", "AICc", "BIC"):
            assert row[col] == pytest.approx(ref[col], abs=1e-4), (name, col)
    crit = tab["AICc"].to_numpy()
    w = np.exp(-(crit - crit.min()) / 2)
    np.testing.assert_allclose(tab["weight"], w / w.sum(), rtol=1e-12)
    assert tab["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(tab["delta"], crit - crit.min())
    assert tab["rank"].tolist() == [1, 2, 3]


def test_model_table_reml_single_model_and_glmer():
    ref = REF["ic_sleep_reml"]
    row = model_table(fit("sr"), model_names=["m"]).loc["m"]
    for col in ("logLik", "AIC", "AICc", "BIC"):
        assert row[col] == pytest.approx(ref[col], abs=1e-4)
    ref = REF["ic_cbpp"]
    row = model_table(fit("cbpp"), model_names=["g"]).loc["g"]
    assert int(row["df"]) == ref["df"]
    for col in ("AIC", "AICc", "BIC"):
        assert row[col] == pytest.approx(ref[col], abs=2e-3)


def test_model_table_criteria_sort_and_print():
    tab = model_table(fit("s0"), fit("s1"), criterion="BIC", model_names=["a", "b"])
    assert tab.attrs["criterion"] == "BIC"
    assert tab["BIC"].is_monotonic_increasing
    text = str(tab)
    assert text.splitlines()[0] == "Model selection table (sorted by BIC)"
    assert "b: Reaction ~ Days + (Days | Subject)" in text
    assert type(tab.frame) is pd.DataFrame
    with pytest.raises(ValueError, match="criterion"):
        model_table(fit("s0"), criterion="DIC")


def test_model_table_refuses_different_data():
    sleep = ml.datasets.load("sleepstudy")
    small = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep.iloc[:100], reml=False)
    with pytest.raises(DataError, match="different numbers of observations"):
        model_table(fit("s0"), small)
    other = sleep.assign(Reaction=sleep["Reaction"] * 2)
    m2 = ml.lmer("Reaction ~ Days + (1 | Subject)", other, reml=False)
    with pytest.raises(DataError, match="other data"):
        model_table(fit("s0"), m2)


def test_model_table_warns_for_reml_fits_with_different_fixed_effects():
    sleep = ml.datasets.load("sleepstudy")
    r0 = ml.lmer("Reaction ~ 1 + (1 | Subject)", sleep)
    with pytest.warns(UserWarning, match="REML fits with different fixed effects"):
        tab = model_table(fit("sr"), r0, model_names=["m1", "m2"])
    assert tab.attrs["refit_ml"]
    assert tab.loc["m1", "AIC"] == pytest.approx(REF["ic_sleep"]["m1"]["AIC"], abs=1e-4)
    with pytest.warns(UserWarning):
        tab = model_table(fit("sr"), r0, model_names=["m1", "m2"], refit=False)
    assert tab.loc["m1", "AIC"] == pytest.approx(REF["ic_sleep_reml"]["AIC"], abs=1e-4)


@pytest.mark.parametrize("case,model,tol", [("drop1_exam", "exam", 1e-4),
                                            ("drop1_cake", "cake", 1e-4),
                                            ("drop1_sleep", "sr", 1e-4),
                                            ("drop1_cbpp", "cbpp", 2e-3)])
def test_drop1_matches_lme4(case, model, tol):
    ref = REF[case]
    tab = fit(model).drop1()
    assert tab.index.tolist() == ref["rows"]
    assert tab.columns.tolist() == ["npar", "AIC", "LRT", "Pr(Chi)"]
    for col in tab.columns:
        got = tab[col].to_numpy(dtype=float)
        want = np.array([num(v) for v in ref[col]])
        assert np.array_equal(np.isnan(got), np.isnan(want)), col
        ok = ~np.isnan(want)
        atol = tol if col != "Pr(Chi)" else 1e-5
        np.testing.assert_allclose(got[ok], want[ok], atol=atol, rtol=0, err_msg=col)


def test_drop1_none_and_print():
    tab = fit("exam").drop1(test="none")
    assert tab.columns.tolist() == ["npar", "AIC"]
    text = str(fit("exam").drop1())
    assert text.startswith("Single term deletions\n\nModel:\nnormexam ~ standLRT")


def test_drop1_f_matches_lmertest():
    ref = REF["drop1_exam_F"]
    tab = fit("exam").drop1(test="F")
    assert tab.index.tolist() == ref["rows"]
    for col in ("Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value"):
        np.testing.assert_allclose(tab[col].to_numpy(float), ref[col], rtol=1e-3, err_msg=col)
    np.testing.assert_allclose(tab["Pr(>F)"].to_numpy(float), ref["Pr(>F)"], atol=1e-4)
    with pytest.raises(DataError):
        fit("cbpp").drop1(test="F")


def test_confidence_interval_matches_wald_in_r():
    ref = REF["ci_sleep"]
    new = pd.DataFrame({"Days": ref["Days"]})
    out = fit("sr").predict(new, re_form=None, interval="confidence", level=0.9)
    np.testing.assert_allclose(out["fit"], ref["fit"], rtol=1e-6)
    np.testing.assert_allclose(out["se_fit"], ref["se"], rtol=1e-5)
    z = 1.6448536269514722
    np.testing.assert_allclose(out["upper"] - out["fit"], z * np.array(ref["se"]), rtol=1e-5)


def test_prediction_interval_for_a_new_group_adds_variances():
    m = fit("sr")
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": ["new", "new"]})
    out = m.predict(new, interval="prediction", allow_new_levels=True)
    S = m._term_covariances()[0]
    X = np.array([[1, 0.0], [1, 5.0]])
    var = np.einsum("ij,jk,ik->i", X, m.vcov.to_numpy(), X) + np.einsum(
        "ij,jk,ik->i", X, S, X) + m.sigma ** 2
    np.testing.assert_allclose(out["upper"] - out["fit"], 1.959963984540054 * np.sqrt(var),
                               rtol=1e-9)
    # the same as a population prediction without the grouping column
    pop = m.predict(new[["Days"]], interval="prediction", re_form=None)
    np.testing.assert_allclose(pop[["fit", "lower", "upper"]], out[["fit", "lower", "upper"]])
    # a known group: conditional mode in the fit, its conditional variance in the width
    known = m.predict(pd.DataFrame({"Days": [0.0], "Subject": ["308"]}),
                      interval="prediction")
    assert known["fit"].iloc[0] == pytest.approx(
        float(m.predict(pd.DataFrame({"Days": [0.0], "Subject": ["308"]})).iloc[0]))
    assert (known["upper"] - known["lower"]).iloc[0] < (out["upper"] - out["lower"]).iloc[0]
    with pytest.raises(DataError):
        m.predict(new, interval="prediction")


def test_glmer_confidence_interval_on_response_scale():
    g = fit("cbpp")
    new = pd.DataFrame({"period": ["1", "4"]})
    link = g.predict(new, re_form=None, interval="confidence")
    resp = g.predict(new, re_form=None, interval="confidence", type="response")
    inv = lambda x: 1 / (1 + np.exp(-np.asarray(x)))  # noqa: E731
    np.testing.assert_allclose(resp["lower"], inv(link["lower"]))
    np.testing.assert_allclose(resp["fit"], g.predict(new, re_form=None, type="response"))
    with pytest.raises(DataError, match="prediction intervals"):
        g.predict(new, re_form=None, interval="prediction")


def test_prediction_interval_covers_new_groups_at_its_level():
    """Observations of new subjects drawn from the fitted model fall inside the 90%
    prediction interval 90% of the time (a little more: x'Vx widens it)."""
    m = fit("sr")
    days = np.arange(10.0)
    out = m.predict(pd.DataFrame({"Days": days}), interval="prediction", re_form=None,
                    level=0.9)
    rng = np.random.default_rng(20)
    T = np.linalg.cholesky(m._term_covariances()[0])
    n = 4000
    b = rng.standard_normal((n, 2)) @ T.T
    y = (m.fixef.iloc[0] + b[:, [0]]) + (m.fixef.iloc[1] + b[:, [1]]) * days \
        + m.sigma * rng.standard_normal((n, 10))
    inside = (y >= out["lower"].to_numpy()) & (y <= out["upper"].to_numpy())
    cover = inside.mean(axis=0)
    assert np.all(cover > 0.885) and np.all(cover < 0.93), cover


def test_drop1_scope_drops_named_terms_only():
    m = fit("exam")
    tab = m.drop1(scope=["sex"])
    assert tab.index.tolist() == ["<none>", "sex"]
    full = m.drop1()
    np.testing.assert_allclose(tab.loc["sex"].to_numpy(float), full.loc["sex"].to_numpy(float))
    with pytest.raises(DataError, match="not in the model"):
        m.drop1(scope=["oven"])
    with pytest.raises(DataError, match="higher-order term"):
        fit("cake").drop1(scope=["temperature"])
