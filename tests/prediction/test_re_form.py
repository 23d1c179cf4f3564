"""predict(newdata, re_form=...) as lme4's predict.merMod (values from make_prediction.R).

``re_form`` selects random-effect terms and columns by grouping factor and name; population
predictions (``None``, ``"~0"``, ``"NA"``) need no grouping column and accept unseen levels;
``allow_new_levels=True`` predicts new levels at the population level.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError

REF = json.loads((Path(__file__).parent / "re_form.json").read_text())
SHARED = Path(__file__).parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def sleep_models():
    s = ml.datasets.load("sleepstudy")
    return (ml.lmer("Reaction ~ Days + (Days || Subject)", s),
            ml.lmer("Reaction ~ Days + (Days | Subject)", s))


def sleep_new():
    return pd.DataFrame({"Days": [0.0, 5, 9, 3], "Subject": ["308", "309", "308", "372"]})


def close(got, want, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=rtol)


@pytest.mark.parametrize("re_form, key", [("~ (1 | Subject)", "dv_intercept"),
                                          ("~ 1 | Subject", "dv_intercept"),
                                          ("~ (0 + Days | Subject)", "dv_slope"),
                                          ("all", "dv_all")])
def test_re_form_selects_terms(sleep_models, re_form, key):
    m, _ = sleep_models
    close(m.predict(sleep_new(), re_form=re_form), REF["sleepstudy"][key])


def test_re_form_selects_columns_of_a_correlated_term(sleep_models):
    _, m = sleep_models
    close(m.predict(sleep_new(), re_form="~ (1 | Subject)"), REF["sleepstudy"]["c_intercept"])


@pytest.mark.parametrize("re_form", [None, "~0", "~ 0", "NA", float("nan"), False])
def test_population_needs_no_grouping_column(sleep_models, re_form):
    _, m = sleep_models
    got = m.predict(pd.DataFrame({"Days": [0.0, 5, 9, 3]}), re_form=re_form)
    close(got, REF["sleepstudy"]["c_na_no_group"])


def test_new_levels(sleep_models):
    _, m = sleep_models
    new = pd.DataFrame({"Days": [1.0, 2], "Subject": ["999", "308"]})
    with pytest.raises(DataError, match="allow_new_levels"):
        m.predict(new)
    close(m.predict(new, allow_new_levels=True), REF["sleepstudy"]["c_new_level"])


def test_unknown_group_in_re_form(sleep_models):
    _, m = sleep_models
    with pytest.raises(FormulaError, match="grouping factor"):
        m.predict(sleep_new(), re_form="~ (1 | school)")


def test_fitted_rows_with_term_selection(sleep_models):
    m, _ = sleep_models
    s = ml.datasets.load("sleepstudy")
    close(m.predict(re_form="~ (1 | Subject)").to_numpy()[:10],
          m.predict(s.head(10), re_form="~ (1 | Subject)").to_numpy())


@pytest.mark.skipif(not (SHARED / "imm10.csv").exists(), reason=f"imm10.csv not in {SHARED}")
def test_imm10_unseen_school_and_no_school_column():
    ref = REF["imm10"]
    d = pd.read_csv(SHARED / "imm10.csv")
    d["schnum"] = d["schnum"].astype("category")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(ref["formula"], d)
    new = pd.DataFrame({"homework": [0.0, 2, 5], "schnum": [99, 1, 99]})
    close(m.predict(new, re_form=None), ref["na_unseen"])
    close(m.predict(new[["homework"]], re_form="NA"), ref["na_no_group"])
    close(m.predict(new, allow_new_levels=True), ref["new_levels"])


def test_glmer_population_and_new_levels():
    ref = REF["cbpp"]
    cbpp = ml.datasets.load("cbpp")
    m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    periods = pd.Categorical(["1", "3"], categories=list(cbpp["period"].cat.categories))
    got = m.predict(pd.DataFrame({"period": periods}), type="response", re_form=None)
    close(got, ref["na_response"], rtol=2e-3)  # glmer estimates: lme4 optimiser tolerance
    new = pd.DataFrame({"period": periods, "herd": ["99", "1"]})
    close(m.predict(new, allow_new_levels=True), ref["new_level"], rtol=2e-3)


def test_simulate_re_form(sleep_models):
    m, _ = sleep_models  # (1 | Subject) + (0 + Days | Subject)
    a = m.simulate(3, seed=7, re_form="all")
    np.testing.assert_array_equal(a.to_numpy(), m.simulate(3, seed=7, use_u=True).to_numpy())
    np.testing.assert_array_equal(m.simulate(3, seed=7, re_form=None).to_numpy(),
                                  m.simulate(3, seed=7).to_numpy())
    # conditional on the intercepts, new slopes: at Days = 0 only the residual varies
    sims = m.simulate(400, seed=1, re_form="~ 1 | Subject").to_numpy()
    day0 = ml.datasets.load("sleepstudy")["Days"].to_numpy() == 0
    centre = m.predict(re_form="~ (1 | Subject)").to_numpy()[day0]
    dev = sims[day0] - centre[:, None]
    assert abs(dev.mean()) < 3 * m.sigma / np.sqrt(dev.size)
    assert np.std(dev) == pytest.approx(m.sigma, rel=0.05)


def test_re_form_group_parts_in_any_order():
    d = ml.datasets.load("cake")
    m = ml.lmer("angle ~ recipe + (1 | recipe:replicate)", d)
    np.testing.assert_allclose(m.predict(d.head(4), re_form="~ (1 | replicate:recipe)"),
                               m.predict(d.head(4)))
