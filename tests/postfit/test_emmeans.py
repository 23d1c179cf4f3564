"""ml.emmeans against emmeans 1.8.4 (tests/postfit/emmeans_ref.json, made by make_emmeans.R).

Tolerances: estimates, SE and limits 1e-5 relative (closed form given the fit; 1e-4 for the
glmer cases, whose fit agrees with lme4's tight fit to a few 1e-5); df 1e-3 relative (Satterthwaite's numerical
derivatives); p-values 1e-4 absolute (scipy's studentized range against R's ptukey). The
printed text must equal emmeans' print-out line for line.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, MultilevelError

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "emmeans_ref.json").read_text())
SHARED = HERE.parents[1].parent / "shared" / "data"
CASES = [k for k in REF if k != "generated_with" and "emmeans" in REF[k]]
RN = {"SE": "std_error", "t.ratio": "statistic", "z.ratio": "statistic", "p.value": "p_value",
      "lower.CL": "lower", "upper.CL": "upper", "asymp.LCL": "lower", "asymp.UCL": "upper"}
CUSTOM = {"low_vs_high": np.r_[1, 1, 1, -1, -1, -1] / 3, "first_two": [1, -1, 0, 0, 0, 0]}
_FITS: dict = {}


def _data(name: str) -> pd.DataFrame:
    if name == "imm10":
        path = SHARED / "imm10.csv"
        if not path.exists():
            pytest.skip("../shared/data/imm10.csv is absent (imm10 is not bundled)")
        d = pd.read_csv(path)
        d["schnum"] = d["schnum"].astype(str).astype("category")
        return d
    return ml.datasets.load(name)


def _fit(case):
    key = (case["engine"], case["formula"])
    if key not in _FITS:
        d = _data(case["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if case["engine"] == "lm":
                _FITS[key] = ml.lm(case["formula"], d)
            elif case["engine"] == "glmerMod":
                _FITS[key] = ml.glmer(case["formula"], d, family="binomial")
            else:
                _FITS[key] = ml.lmer(case["formula"], d)
    return _FITS[key]


def _emm(case):
    mode = case.get("mode") or "kenward-roger"
    return ml.emmeans(_fit(case), case["specs"], by=case.get("by"),
                      ddf=None if mode == "asymptotic" else mode,
                      type=case.get("type") or "link")


def _compare(got: pd.DataFrame, want_rows: list[dict], p_tol: float = 1e-4,
             rel: float = 1e-5):
    want = pd.DataFrame(want_rows)
    assert len(got) == len(want)
    for c in want.columns:
        g = RN.get(c, c)
        assert g in got.columns, f"column {g} missing"
        if c == "df":
            # jsonlite writes Inf as null
            w = pd.to_numeric(want[c].replace("Inf", np.inf)).astype(float).fillna(np.inf).to_numpy()
            np.testing.assert_allclose(got[g].to_numpy(dtype=float), w, rtol=1e-3)
        elif not pd.api.types.is_numeric_dtype(want[c]):
            assert got[g].astype(str).tolist() == want[c].astype(str).tolist()
        elif c == "p.value":
            np.testing.assert_allclose(got[g].to_numpy(dtype=float), want[c].to_numpy(dtype=float),
                                       atol=p_tol)
        else:
            w = want[c].to_numpy(dtype=float)
            np.testing.assert_allclose(got[g].to_numpy(dtype=float), w,
                                       atol=rel * max(1.0, np.abs(w).max()), rtol=rel)


@pytest.mark.parametrize("cid", CASES)
def test_means_and_pairs_match_emmeans(cid):
    case = REF[cid]
    e = _emm(case)
    rel = 1e-4 if case["engine"] == "glmerMod" else 1e-5  # glmer: the fit agrees to ~1e-5
    _compare(e.frame, case["emmeans"], rel=rel)
    _compare(e.pairs(), case["pairs"], rel=rel)


def _same_text(got: str, want: str, last_digit: bool) -> bool:
    """Line by line; with ``last_digit``, printed numbers may differ by one in their last
    digit (a glmer fit agrees with lme4's to ~1e-6, which can flip a rounding)."""
    g = [x.rstrip() for x in got.splitlines()]
    w = [x.rstrip() for x in want.splitlines()]
    if not last_digit or len(g) != len(w):
        return g == w
    for a, b in zip(g, w):
        ta, tb = a.split(), b.split()
        if len(ta) != len(tb):
            return False
        for x, y in zip(ta, tb):
            if x == y:
                continue
            try:
                dec = len(y.split(".")[1]) if "." in y else 0
                if abs(float(x) - float(y)) > 1.01 * 10.0 ** -dec:
                    return False
            except ValueError:
                return False
    return True


@pytest.mark.parametrize("cid", CASES)
def test_print_matches_emmeans(cid):
    case = REF[cid]
    e = _emm(case)
    glmm = case["engine"] == "glmerMod"
    for got, want in ((repr(e), case["emmeans_text"]), (repr(e.pairs()), case["pairs_text"])):
        assert _same_text(got, want, last_digit=glmm), (got, want)


METHODS = {
    "trt_vs_ctrl": lambda e: e.contrast("trt.vs.ctrl"),
    "poly": lambda e: e.contrast("poly"),
    "eff": lambda e: e.contrast("eff"),
    "custom": lambda e: e.contrast(CUSTOM),
    "pairs_holm": lambda e: e.pairs("holm"),
    "pairs_bonferroni": lambda e: e.pairs("bonferroni"),
    "pairs_sidak": lambda e: e.pairs("sidak"),
    "pairs_none": lambda e: e.pairs("none"),
    "pairs_reverse": lambda e: e.pairs(reverse=True),
    "pairs_ci": lambda e: e.pairs(ci=True),
    "pairs_scheffe": lambda e: e.pairs("scheffe"),
    "pairs_scheffe_ci": lambda e: e.pairs("scheffe", ci=True),
    "consec_mvt": lambda e: e.contrast("consec"),  # multivariate t: randomized on both sides
}


@pytest.mark.parametrize("what", sorted(METHODS))
def test_contrast_methods_match_emmeans(what):
    case = REF["cake_int_temperature_methods"]
    # mvtnorm's default absolute error in R is 1e-3 (here 1.5e-4 at p = 7.9e-4)
    _compare(METHODS[what](_emm(case)), case[what], p_tol=5e-4 if what == "consec_mvt" else 1e-4)


def test_custom_contrast_print():
    case = REF["cake_int_temperature_methods"]
    got = repr(_emm(case).contrast(CUSTOM))
    assert [x.rstrip() for x in got.splitlines()] == \
        [x.rstrip() for x in case["custom_text"].splitlines()]


def test_pairs_are_differences_of_means():
    """Invariance: each pairwise estimate is the difference of the two means."""
    e = _emm(REF["cake_int_recipe_by_temperature"])
    fr, pr = e.frame, e.pairs()
    for t, grp in fr.groupby("temperature", observed=True):
        mu = dict(zip(grp["recipe"], grp["emmean"]))
        sub = pr[pr["temperature"] == t]
        for lab, est in zip(sub["contrast"], sub["estimate"]):
            a, b = lab.split(" - ")
            assert est == pytest.approx(mu[a] - mu[b], abs=1e-9)


def test_at_and_covariate_values():
    cake = ml.datasets.load("cake")
    m = ml.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", cake)
    e = ml.emmeans(m, "recipe", at={"temp": 200.0})
    b = m.fixef
    assert e.frame["emmean"].iloc[0] == pytest.approx(b["(Intercept)"] + 200 * b["temp"])
    e2 = ml.emmeans(m, "temp", by="recipe", at={"temp": [180.0, 220.0]})
    assert len(e2.frame) == 6 and e2.frame["temp"].tolist()[:2] == [180.0, 220.0]


def test_errors_for_people():
    cake = ml.datasets.load("cake")
    m = ml.lmer("angle ~ recipe + log(temp) + (1 | recipe:replicate)", cake)
    with pytest.raises(DataError, match="data="):
        ml.emmeans(m, "recipe")
    e = ml.emmeans(m, "recipe", data=cake)  # the covariate's mean from the data
    assert np.isfinite(e.frame["emmean"]).all()
    with pytest.raises(DataError, match="not a predictor"):
        ml.emmeans(m, "nope", data=cake)
    with pytest.raises(MultilevelError, match="ddf"):
        ml.emmeans(m, "recipe", ddf="bogus", data=cake)
    with pytest.raises(MultilevelError, match="adjustment"):
        ml.emmeans(m, "recipe", data=cake).pairs(adjust="bogus")


def test_rank_deficient_lm_marks_nonestimable():
    d = ml.datasets.load("cake")
    d = d[~((d["recipe"] == "C") & (d["temperature"] == "225"))].copy()
    m = ml.lm("angle ~ recipe * temperature", d)
    fr = ml.emmeans(m, ["recipe", "temperature"]).frame
    bad = fr[(fr["recipe"] == "C") & (fr["temperature"] == "225")]
    assert np.isnan(bad["emmean"]).all()
    assert np.isfinite(fr["emmean"]).sum() == 17


def test_large_models_fall_back_to_asymptotic_df():
    m = ml.lmer("angle ~ recipe + (1 | recipe:replicate)", ml.datasets.load("cake"))
    e = ml.emmeans(m, "recipe", limit=100)
    assert np.isinf(e.frame["df"]).all()
    assert "D.f. calculations have been disabled" in repr(e)


@pytest.mark.parametrize("contrasts", [{"recipe": "contr.sum"}, {"recipe": "contr.helmert",
                                                                 "temperature": "contr.poly"}])
def test_means_do_not_depend_on_the_contrasts(contrasts):
    """Invariance: marginal means, SE and df are the same whatever the coding of the factors."""
    cake = ml.datasets.load("cake")
    f = "angle ~ recipe * temperature + (1 | recipe:replicate)"
    a = ml.emmeans(ml.lmer(f, cake), "recipe", by="temperature").frame
    b = ml.emmeans(ml.lmer(f, cake, contrasts=contrasts), "recipe", by="temperature").frame
    for c in ("emmean", "std_error", "df"):
        np.testing.assert_allclose(a[c], b[c], rtol=1e-6)


@pytest.mark.parametrize("weights", ["proportional", "outer", "cells", "flat"])
def test_weights_match_emmeans(weights):
    case = REF["cake_unbalanced_weights"]
    d = ml.datasets.load("cake").iloc[case["drop_first"]:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(case["formula"], d)
    want = case["weights"][weights]
    for data in (None, d):  # factors read back from X, or from the data
        _compare(ml.emmeans(m, "recipe", ddf="satterthwaite", weights=weights, data=data).frame,
                 want)
    with pytest.raises(MultilevelError, match="weights"):
        ml.emmeans(m, "recipe", weights="bogus")


def test_interaction_contrasts_match_emmeans():
    case = REF["cake_int_two_factors"]
    got = _emm(case).contrast("pairwise", interaction=True)
    _compare(got, case["interaction"])
    assert [x.rstrip() for x in repr(got).splitlines()] == \
        [x.rstrip() for x in case["interaction_text"].splitlines()]
