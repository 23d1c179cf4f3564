"""ml.nlmer against lme4's nlmer (tests/nlmer/nlmer_reference.json, made by
make_nlmer_reference.R from R's datasets, written next to it as CSV)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel.errors import DataError, FormulaError, MultilevelError
from multilevel.results.nlmm import orange

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "nlmer_reference.json").read_text())
# lme4's first stage runs into its 10,000-evaluation limit here (as in R): slow fits
SLOW = {"dnase_gompertz", "co2_asympoff", "loblolly_asymporig", "chick_weibull"}
CASES = [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k
         for k in sorted(k for k in REF if k != "generated_with")]

def _data(case: dict) -> pd.DataFrame:
    d = pd.read_csv(HERE / case["data"])
    for col in ("Tree", "Seed", "Run", "Chick", "Subject", "state", "Plant", "Type"):
        if col in d.columns:
            d[col] = d[col].astype(str).astype("category")
    return d


_FITS: dict = {}


def _fit(cid: str):
    if cid not in _FITS:
        c = REF[cid]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[cid] = ml.nlmer(c["formula"], _data(c), start=c["start"],
                                  n_agq=c.get("nAGQ", 1))
    return _FITS[cid]


@pytest.mark.parametrize("cid", CASES)
def test_estimates_match_lme4(cid):
    """lme4's Nelder-Mead path is reproduced, so the fit stops where lme4's stops."""
    m, c = _fit(cid), REF[cid]
    names = list(c["fixef"])
    assert list(m.fixef.index) == names
    se = np.array(list(c["fixef_se"].values()))
    got = m.fixef[names].to_numpy()
    np.testing.assert_array_less(np.abs(got - np.array(list(c["fixef"].values()))) / se, 2e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov_rx())), se, rtol=1e-3)
    np.testing.assert_allclose(m.sigma, c["sigma"], rtol=1e-4)
    np.testing.assert_allclose(m.theta.to_numpy(), np.atleast_1d(c["theta"]), rtol=1e-3,
                               atol=2e-3)
    assert list(m.theta.index) == list(np.atleast_1d(c["theta_names"]))
    assert abs(m.loglik - c["logLik"]) < 1e-4
    assert m.deviance == pytest.approx(c["deviance"], abs=2e-4)
    assert m.nobs == c["nobs"] and m.n_params == c["df"]
    assert abs(m.aic - c["AIC"]) < 2e-4 and abs(m.bic - c["BIC"]) < 2e-4
    np.testing.assert_allclose(m.fitted.to_numpy(), c["fitted"], rtol=1e-4)


@pytest.mark.parametrize("cid", CASES)
def test_varcorr_and_ranef_match_lme4(cid):
    m, c = _fit(cid), REF[cid]
    vc = m.varcorr
    assert list(vc["grp"]) == c["varcorr"]["grp"]
    sd = np.asarray(c["varcorr"]["sdcor"], dtype=float)
    np.testing.assert_allclose(vc["sdcor"].astype(float).to_numpy(), sd, rtol=1e-3,
                               atol=1e-2 * float(c["sigma"]))
    re = m.ranef()
    want = pd.DataFrame(c["ranef"])
    key = ["grpvar", "term", "grp"]
    both = want.merge(re, on=key, suffixes=("_r", ""))
    assert len(both) == len(want)
    scale = float(np.max(np.abs(want["condval"]))) or 1.0
    np.testing.assert_allclose(both["condval"], both["condval_r"], atol=1e-3 * scale)
    np.testing.assert_allclose(both["condsd"], both["condsd_r"], rtol=1e-3,
                               atol=2e-3 * float(np.max(want["condsd"])))


@pytest.mark.parametrize("cid", CASES)
def test_summary_matches_lme4_line_for_line(cid):
    """From the information criteria on (R wraps the formula and prints its own data name)."""
    m, c = _fit(cid), REF[cid]
    want = c["summary"].splitlines()
    got = str(m.summary()).splitlines()
    assert got[0] == want[0] == "Nonlinear mixed model fit by maximum likelihood  ['nlmerMod']"
    assert got[1] == "Formula: " + c["formula"]
    head = "     AIC      BIC   logLik deviance df.resid "
    got, want = got[got.index(head):], want[want.index(head):]
    fixed = want.index("Fixed effects:")
    assert got[:fixed] == want[:fixed]
    assert len(got) == len(want)
    # the fixed-effects table: lme4's SEs come from a finite-difference Hessian of a deviance
    # evaluated to PNLS tolerance; reproduced to ~1e-4, which can move a last printed digit
    for a, b in zip(got[fixed:], want[fixed:]):
        ta, tb = a.split(), b.split()
        assert len(ta) == len(tb), (a, b)
        for x, y in zip(ta, tb):
            try:
                assert float(x) == pytest.approx(float(y), rel=2e-4, abs=1.01e-3), (a, b)
            except ValueError:
                assert x == y, (a, b)


@pytest.mark.parametrize("cid", CASES)
def test_vcov_follows_lme4(cid):
    """lme4's default vcov: its finite-difference Hessian where positive definite, else RX."""
    m, c = _fit(cid), REF[cid]
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), list(c["fixef_se_default"].values()),
                               rtol=2e-3)


def test_bobyqa_lands_at_least_as_high():
    for cid in ("orange_asym_xmid", "loblolly_asymp_two"):
        c = REF[cid]
        m = ml.nlmer(c["formula"], _data(c), start=c["start"], optimizer="bobyqa")
        assert m.loglik >= c["logLik"] - 1e-6
        assert m.loglik >= -0.5 * c["devfun_at_estimates"] - 1e-6


def test_self_start_values_match_getinitial():
    for cid in ("loblolly_asymp", "dnase_fpl", "dnase_gompertz", "indometh_biexp",
                "puromycin_micmen", "chick_logis", "co2_asympoff", "loblolly_asymporig",
                "chick_weibull"):
        c = REF[cid]
        if not c.get("get_initial"):
            continue
        from multilevel.fit.nlmer import _starts, eval_column, parse_nlformula

        f = parse_nlformula(c["formula"])
        d = _data(c)
        names, vals = _starts(f, None, eval_column(f.input, d, "x"),
                              eval_column(f.response, d, "y"))
        want = c["get_initial"]
        assert names == list(want)
        np.testing.assert_allclose(vals, list(want.values()), rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("cid", ["loblolly_asymp", "dnase_logis_logconc"])
def test_fit_without_start_lands_at_the_same_optimum(cid):
    c = REF[cid]
    m0 = ml.nlmer(c["formula"], _data(c))
    m = _fit(cid)
    assert abs(m0.loglik - m.loglik) < 1e-6
    se = np.sqrt(np.diag(m.vcov))
    np.testing.assert_array_less(np.abs(m0.fixef - m.fixef).to_numpy() / se, 1e-3)


def test_orange_scoreboard_case_and_accessors():
    m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ (Asym | Tree)", orange(),
                 start={"Asym": 200, "xmid": 725, "scal": 350})
    np.testing.assert_allclose(m.fixef.to_numpy(), [192.052791888497, 727.904473336549,
                                                    348.072133977449], atol=0.01)
    assert abs(m.sigma - 7.8430090363038) < 1e-4
    assert m.loglik >= -131.571877386892 - 1e-4
    assert m.deviance == pytest.approx(-2 * m.loglik)
    assert m.ngrps.to_dict() == {"Tree": 5}
    assert list(m.coef()["Tree"].columns) == ["Asym", "xmid", "scal"]
    np.testing.assert_allclose(m.residuals().to_numpy() + m.fitted.to_numpy(),
                               orange()["circumference"].to_numpy())
    np.testing.assert_allclose(m.predict().to_numpy(), m.fitted.to_numpy())
    # population predictions: the model at the fixed effects
    pop = m.predict(re_form=None).to_numpy()
    a, xm, sc = m.fixef
    np.testing.assert_allclose(pop, a / (1 + np.exp((xm - orange()["age"]) / sc)))
    new = pd.DataFrame({"age": [118.0, 1582.0], "Tree": ["2", "2"]})
    np.testing.assert_allclose(m.predict(new).to_numpy(), m.fitted.to_numpy()[[7, 13]])
    with pytest.raises(DataError, match="not in the fitted data"):
        m.predict(pd.DataFrame({"age": [1.0], "Tree": ["9"]}))
    p = m.predict(pd.DataFrame({"age": [1.0], "Tree": ["9"]}), allow_new_levels=True)
    assert p.iloc[0] == pytest.approx(float(m.predict(pd.DataFrame({"age": [1.0]}),
                                                      re_form=None).iloc[0]))


def test_start_forms_accepted():
    d = orange()
    f = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree"
    a = ml.nlmer(f, d, start={"nlpars": {"Asym": 200, "xmid": 725, "scal": 350}})
    b = ml.nlmer(f, d, start=pd.Series({"Asym": 200, "xmid": 725, "scal": 350}))
    assert abs(a.loglik - b.loglik) < 1e-8


def test_fixef_order_follows_start():
    d = orange()
    m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", d,
                 start={"xmid": 725, "Asym": 200, "scal": 350})
    assert list(m.fixef.index) == ["xmid", "Asym", "scal"]
    assert abs(m.fixef["Asym"] - 192.05) < 0.05


@pytest.mark.parametrize("formula, start, err, match", [
    ("circumference ~ SSlogit(age, Asym, xmid, scal) ~ Asym | Tree", None, MultilevelError,
     "unknown nonlinear model function 'SSlogit'"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", {"Asym": 200, "xmid": 725},
     MultilevelError, "no value for the model parameter"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Bsym | Tree", None, FormulaError,
     "'Bsym', which is not a parameter"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal) ~ 1 | Tree", None, FormulaError,
     "must name model parameters"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal)", None, FormulaError, "three parts"),
    ("circumference ~ SSlogis(age, Asym, xmid) ~ Asym | Tree", None, FormulaError,
     "takes 4 arguments"),
    ("circumference ~ SSlogis(agee, Asym, xmid, scal) ~ Asym | Tree", None, DataError,
     "'agee' not in the data"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Forest", None, DataError,
     "'Forest' not in the data"),
    ("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree",
     {"Asym": 200, "xmid": 725, "scal": 350, "k": 1}, MultilevelError, "not a parameter"),
])
def test_clear_errors(formula, start, err, match):
    with pytest.raises(err, match=match):
        ml.nlmer(formula, orange(), start=start)


def test_rows_with_missing_values_are_dropped():
    d = orange()
    d.loc[3, "circumference"] = np.nan
    m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", d,
                 start={"Asym": 200, "xmid": 725, "scal": 350})
    assert m.nobs == 34
    assert "(1 observation deleted due to missingness)" in str(m.summary())


def test_broom_verbs():
    d = orange()
    m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", d,
                 start={"Asym": 200, "xmid": 725, "scal": 350})
    g = m.glance().iloc[0]
    assert g["nobs"] == 35 and g["loglik"] == pytest.approx(m.loglik)
    a = m.augment(d)
    np.testing.assert_allclose(a[".fitted"] + a[".resid"], d["circumference"])
    np.testing.assert_allclose(a[".fixed"], m.predict(re_form=None))
    assert list(m.tidy()["term"]) == ["Asym", "xmid", "scal"]


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_row_order_and_level_labels_do_not_matter(seed):
    """The optimum is a property of the data, not of its row order or level names."""
    rng = np.random.default_rng(seed)
    d = orange()
    # (a well-determined optimum: with Asym + xmid | Tree on five trees the likelihood is
    # flat enough that optimisers stop 1e-5 apart)
    f = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree"
    start = {"Asym": 200, "xmid": 725, "scal": 350}
    base = _fit_bobyqa(f)
    perm = d.iloc[rng.permutation(len(d))].reset_index(drop=True)
    names = dict(zip(["1", "2", "3", "4", "5"], rng.permutation(list("abcde"))))
    perm["Tree"] = perm["Tree"].astype(str).map(names)
    m = ml.nlmer(f, perm, start=start, optimizer="bobyqa")
    assert m.loglik == pytest.approx(base.loglik, abs=1e-6)
    se = np.sqrt(np.diag(base.vcov_rx()))
    np.testing.assert_array_less(np.abs((m.fixef - base.fixef).to_numpy()) / se, 1e-3)
    assert m.sigma == pytest.approx(base.sigma, rel=1e-5)


_BOBYQA: dict = {}


def _fit_bobyqa(f):
    if f not in _BOBYQA:
        _BOBYQA[f] = ml.nlmer(f, orange(), start={"Asym": 200, "xmid": 725, "scal": 350},
                              optimizer="bobyqa")
    return _BOBYQA[f]


def test_double_bar_is_one_term_per_parameter():
    c = REF["orange_two_terms"]
    m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ (Asym + xmid || Tree)",
                 _data(c), start=c["start"])
    assert list(m.theta.index) == ["Tree.Asym", "Tree.xmid"]
    assert m.loglik == pytest.approx(c["logLik"], abs=1e-6)
