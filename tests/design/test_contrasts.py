"""contrasts= and ordered factors against R (values from make_contrasts.R, R 4.2 + lme4 + MASS).

Each contrast type of R and MASS, in an interaction with a numeric variable and with another
factor, its coefficient names exactly as R prints them, the estimates (within 2e-3 standard
errors of R's), and predictions on new data at the population level.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.design.contrasts import contrast_matrix, poly_names
from multilevel.errors import DataError

REF = json.loads((Path(__file__).parent / "contrasts.json").read_text())
CUSTOM = np.array([[1.0, 0.5], [0.0, -1.0], [-1.0, 0.5]])  # as in make_contrasts.R


def cake():
    d = pd.DataFrame(REF["data"])
    d["recipe"] = pd.Categorical(d["recipe"])
    d["replicate"] = pd.Categorical(d["replicate"].astype(str),
                                    [str(i) for i in sorted(d["replicate"].unique())])
    temps = [str(t) for t in sorted(d["temperature"].unique())]
    d["utemp"] = pd.Categorical(d["temperature"].astype(str), temps)
    d["ftemp"] = pd.Categorical(d["temperature"].astype(str), temps, ordered=True)
    return d


def newdata():
    d = pd.DataFrame(REF["newdata"])
    temps = [str(t) for t in sorted(pd.DataFrame(REF["data"])["temperature"].unique())]
    d["utemp"] = pd.Categorical(d["temperature"].astype(str), temps)
    d["ftemp"] = pd.Categorical(d["temperature"].astype(str), temps, ordered=True)
    return d


def _contrasts(case):
    c = case.get("contrasts")
    if not c:
        return None
    return {k: (CUSTOM if v == "custom" else v) for k, v in c.items()}


def _fit(case, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["fun"] == "lm":
            return ml.lm(case["formula"], data, contrasts=_contrasts(case))
        return ml.lmer(case["formula"], data, contrasts=_contrasts(case))


@pytest.fixture(scope="module")
def data():
    return cake()


@pytest.mark.parametrize("cid", sorted(REF["cases"]))
def test_names_estimates_and_predictions(cid, data):
    case = REF["cases"][cid]
    m = _fit(case, data)
    b = m.fixef
    assert list(b.index) == case["names"]
    se = np.asarray(case["se"])
    np.testing.assert_array_less(np.abs(b.to_numpy() - np.asarray(case["fixef"])), 2e-3 * se + 1e-8)
    kw = {"re_form": "NA"} if case["fun"] == "lmer" else {}
    pred = np.asarray(m.predict(newdata(), **kw), dtype=float)
    np.testing.assert_allclose(pred, case["pred_population"], rtol=1e-5)
    if case.get("pred_conditional"):
        got = m.predict(newdata().iloc[:3], re_form="~ (1 | recipe:replicate)")
        np.testing.assert_allclose(np.asarray(got, float), case["pred_conditional"], rtol=1e-5)


def test_lmer_offset_argument(data):
    ref = REF["offset"]
    m = ml.lmer(ref["formula"], data, offset=data["temperature"] / 10)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref["fixef"], rtol=1e-6)
    assert abs(m.loglik - ref["logLik"]) < 1e-6
    np.testing.assert_allclose(np.asarray(m.fitted)[:5], ref["fitted"], rtol=1e-6)
    # lme4 does not apply an offset= argument to new data (only offset() terms)
    got = m.predict(newdata(), re_form="NA")
    np.testing.assert_allclose(np.asarray(got, float), ref["pred_population"], rtol=1e-6)
    data = data.assign(o=data["temperature"] / 10)
    m2 = ml.lmer(ref["formula"], data, offset="o")
    np.testing.assert_allclose(m2.fixef.to_numpy(), ref["fixef"], rtol=1e-6)


def test_offset_argument_wrong_length(data):
    with pytest.raises(DataError, match="offset has 3 values"):
        ml.lmer("angle ~ recipe + (1 | recipe:replicate)", data, offset=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("k", [2, 3, 5, 8, 12])
def test_contr_poly_is_orthonormal(k):
    c = contrast_matrix("contr.poly", [str(i) for i in range(k)])
    assert c.suffixes == poly_names(k)
    np.testing.assert_allclose(c.matrix.T @ c.matrix, np.eye(k - 1), atol=1e-12)
    np.testing.assert_allclose(c.matrix.sum(axis=0), 0, atol=1e-12)
    assert c.matrix[-1, 0] > 0  # R's sign: increasing linear trend


def test_contrast_errors():
    with pytest.raises(DataError, match="unknown contrast"):
        contrast_matrix("contr.bogus", ["a", "b"])
    with pytest.raises(DataError, match="has shape"):
        contrast_matrix(np.ones((2, 1)), ["a", "b", "c"], "f")
    named = contrast_matrix(pd.DataFrame({"lin": [-1.0, 0, 1]}), ["a", "b", "c"])
    assert named.suffixes == ["lin"]


def test_ordered_function_in_formula(data):
    d = data.assign(t=data["temperature"])
    m = ml.lmer("angle ~ ordered(t) + (1 | recipe:replicate)", d)
    assert list(m.fixef.index)[1:3] == ["ordered(t).L", "ordered(t).Q"]
    ref = ml.lmer("angle ~ ftemp + (1 | recipe:replicate)", d)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy(), rtol=1e-10)


def test_glmer_contrasts_sum():
    cbpp = ml.datasets.load("cbpp")
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    a = ml.glmer(f, cbpp, family="binomial")
    b = ml.glmer(f, cbpp, family="binomial", contrasts={"period": "contr.sum"})
    assert list(b.fixef.index) == ["(Intercept)", "period1", "period2", "period3"]
    assert abs(a.loglik - b.loglik) < 1e-6  # a reparameterisation: same fit
    # the sum-coded intercept is the mean of the four period effects
    per = a.fixef.to_numpy()
    np.testing.assert_allclose(b.fixef.iloc[0], per[0] + per[1:].sum() / 4, atol=1e-4)


def test_offset_in_the_formula(data):
    ref = REF["offset_formula"]
    m = ml.lmer(ref["formula"], data)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref["fixef"], rtol=1e-6)
    assert abs(m.loglik - ref["logLik"]) < 1e-6
    # offset() terms are evaluated on new data (unlike the offset= argument)
    got = m.predict(newdata(), re_form=None)
    np.testing.assert_allclose(np.asarray(got, float), ref["pred_population"], rtol=1e-6)
