"""Formula grammar lme4 accepts: bare bars (``|`` binds loosest) and R's ``.``.

Reference values from make_grammar.R (R 4.2 + lme4): findbars/nobars of bare-bar formulas
and REML fits on sleepstudy.
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
from multilevel.formula import parse
from multilevel.formula.expand import expand_dot, findbars, nobars
from multilevel.formula.nodes import deparse
from multilevel.formula.terms import parse_checked

REF = json.loads((Path(__file__).parent / "grammar.json").read_text())


@pytest.mark.parametrize("case", REF["bars"], ids=lambda c: c["formula"])
def test_findbars_nobars_of_bare_bars(case):
    tree = parse_checked(case["formula"])
    want = case["findbars"] if isinstance(case["findbars"], list) else [case["findbars"]]
    assert [deparse(b) for b in findbars(tree.rhs)] == want
    fixed = nobars(tree.rhs)
    # lme4's nobars keeps only the response when nothing fixed is left: intercept only
    assert fixed is None or deparse(fixed) == case["nobars"].split("~")[-1].strip()


def sleep_z():
    s = ml.datasets.load("sleepstudy")[["Reaction", "Days", "Subject"]].copy()
    s["z"] = np.arange(1, len(s) + 1) % 3
    return s


@pytest.mark.parametrize("case", REF["fits"], ids=lambda c: c["formula"])
def test_fits_match_lme4(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(case["formula"], sleep_z())
    assert list(m.fixef.index) == list(case["fixef"])
    np.testing.assert_allclose(m.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-5)
    assert abs(m.loglik - case["logLik"]) < 1e-4


def test_bare_bar_is_one_random_term():
    f = parse("y ~ x + z | g")
    assert f.fixed == ""
    assert str(f) == "y ~ (x + z | g)"
    assert [str(r) for r in f.expanded_random()] == ["(x + z | g)"]


def test_bar_inside_a_bar_is_refused():
    with pytest.raises(FormulaError, match="unexpected place"):
        parse("y ~ x + (z + (1 | g) | h)")
    with pytest.raises(FormulaError, match="grouping factor must be"):
        parse("y ~ x * 1 | g + h")  # R: the group is `g + h`


def test_dot_expansion_order_and_response():
    tree = parse_checked("log(y) ~ . + (1 | g)")
    out = expand_dot(tree, ["a", "y", "b", "g"])
    assert deparse(out) == "log(y) ~ (a + b + g) + (1 | g)"
    with pytest.raises(FormulaError, match="no columns besides"):
        expand_dot(parse_checked("y ~ ."), ["y"])


def test_dot_in_lm_is_all_other_columns():
    d = pd.DataFrame({"y": [1.0, 3, 2, 5, 4, 6], "a": [1.0, 2, 3, 4, 5, 6],
                      "b": [0.0, 1, 0, 1, 1, 0]})
    assert list(ml.lm("y ~ .", d).fixef.index) == ["(Intercept)", "a", "b"]
    assert list(ml.lm("y ~ . - b", d).fixef.index) == ["(Intercept)", "a"]


def test_unparenthesised_re_form_in_predict():
    s = ml.datasets.load("sleepstudy")
    m = ml.lmer("Reaction ~ Days + (Days || Subject)", s)
    a = m.predict(s.head(5), re_form="~ 1 | Subject")
    b = m.predict(s.head(5), re_form="~ (1 | Subject)")
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())


@pytest.mark.parametrize("case", REF["dummy_fits"], ids=lambda c: c["formula"])
def test_dummy_in_random_effects(case):
    s = ml.datasets.load("sleepstudy").copy()
    s["half"] = np.where(s["Days"] < 5, "early", "late")
    m = ml.lmer(case["formula"], s)
    assert abs(m.loglik - case["logLik"]) < 1e-5
    np.testing.assert_allclose(m.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-6)
    vc = m.varcorr
    assert list(vc["var1"]) == case["var1"]
    np.testing.assert_allclose(vc["sdcor"].astype(float), case["sdcor"], rtol=1e-4)
    # new data are coded with the fit's levels
    new = s.head(3).assign(half=["late", "early", "late"])
    assert np.isfinite(m.predict(new).to_numpy()).all()


def test_strings_only_inside_dummy():
    with pytest.raises(FormulaError, match="string literal"):
        parse('y ~ x + "a"')
    with pytest.raises(DataError, match="levelsToKeep"):
        ml.lmer('Reaction ~ Days + (0 + dummy(Subject, "nope") | Subject)',
                ml.datasets.load("sleepstudy"))
    assert str(parse("y ~ (0 + dummy(f, 'b') | g)")) == 'y ~ (0 + dummy(f, "b") | g)'
