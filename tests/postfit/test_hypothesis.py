"""m.test() against car's linearHypothesis, lmerTest's contest and multcomp's glht
(tests/postfit/hypothesis_ref.json, made by make_hypothesis.R).

Tolerances: estimates and SE 1e-5 relative (closed form given the fit; glmer: estimates
within 2e-3 standard errors, SE and chi-square 1e-4 relative, as its fit agrees with lme4's
to a few 1e-5); Wald chi-square and F 1e-5 relative; Satterthwaite df 1e-3 relative (numerical derivatives), Kenward-Roger df
1e-6; p-values from closed forms 1e-5; single-step p-values 1e-4 absolute (both sides
integrate the multivariate normal / t by randomized quadrature).
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import FormulaError, MultilevelError
from multilevel.inference.hypothesis import parse_hypothesis

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "hypothesis_ref.json").read_text())
CASES = [k for k in REF if k != "generated_with"]
_FITS: dict = {}


def _rel(case) -> float:
    """lm and lmer: closed forms given the fit (1e-5); glmer fits agree with lme4's to a few
    1e-5 relative (the optimiser's tolerance), so their derived values get 1e-4."""
    return 1e-4 if case["engine"] == "glmer" else 1e-5


def _fit(case):
    key = case["formula"]
    if key not in _FITS:
        d = ml.datasets.load(case["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if case["engine"] == "lm":
                _FITS[key] = ml.lm(case["formula"], d)
            elif case["engine"] == "glmer":
                _FITS[key] = ml.glmer(case["formula"], d, family="binomial")
            else:
                _FITS[key] = ml.lmer(case["formula"], d)
    return _FITS[key]


@pytest.mark.parametrize("cid", CASES)
def test_joint_test_matches_car(cid):
    case = REF[cid]
    h = _fit(case).test(*case["hypotheses"], ddf=None)
    car = case["car"]
    stat = h.joint["F"] if case["engine"] == "lm" else h.joint["chisq"]
    assert stat == pytest.approx(car["stat"], rel=_rel(case))
    assert h.joint["p_value"] == pytest.approx(car["p"], abs=1e-5)
    assert np.allclose(h.L, np.asarray(case["glht"]["L"]))
    assert np.allclose(h.rhs, np.asarray(case["glht"]["rhs"]))


@pytest.mark.parametrize("cid", CASES)
def test_individual_tests_match_multcomp(cid):
    case = REF[cid]
    g = case["glht"]
    for adjust, key, tol in (("single-step", "p_single_step", 1e-4), ("holm", "p_holm", 1e-5),
                             ("bonferroni", "p_bonferroni", 1e-5)):
        t = _fit(case).test(*case["hypotheses"], ddf=None, adjust=adjust).tests
        se = np.asarray(g["std_error"])
        # estimates within 2e-3 standard errors of R's (glmer: the fit itself; else 1e-5)
        est_tol = (2e-3 * se if case["engine"] == "glmer"
                   else 1e-5 * np.abs(g["estimate"]) + 1e-8)
        assert np.all(np.abs(t["estimate"].to_numpy() - g["estimate"]) <= est_tol)
        np.testing.assert_allclose(t["std_error"], g["std_error"], rtol=_rel(case))
        np.testing.assert_allclose(t["statistic"], g["statistic"], rtol=_rel(case),
                                   atol=2e-3 if case["engine"] == "glmer" else 1e-6)
        np.testing.assert_allclose(t["p_value"], g[key], atol=tol)
    assert ("df" in t.columns) == (case["engine"] == "lm")


@pytest.mark.parametrize("cid", CASES)
def test_labels_are_multcomps(cid):
    case = REF[cid]
    text = case["glht"]["text"].split("Linear Hypotheses:\n", 1)[1].splitlines()[1:]
    want = [re.split(r"\s{2,}", ln.strip())[0] for ln in text[:len(case["hypotheses"])]]
    assert _fit(case).test(*case["hypotheses"]).tests.index.tolist() == want


@pytest.mark.parametrize("cid", [c for c in CASES if "contest" in REF[c]])
@pytest.mark.parametrize("mode", ["satterthwaite", "kenward-roger"])
def test_joint_f_matches_lmertest_contest(cid, mode):
    case = REF[cid]
    want = case["contest"]["Satterthwaite" if mode == "satterthwaite" else "Kenward-Roger"]
    j = _fit(case).test(*case["hypotheses"], ddf=mode).joint
    assert j["F"] == pytest.approx(want["F"], rel=1e-5)
    assert j["ndf"] == want["ndf"]
    assert j["ddf"] == pytest.approx(want["ddf"], rel=1e-3 if mode == "satterthwaite" else 1e-6)
    assert j["p_value"] == pytest.approx(want["p"], abs=1e-5)


def test_matrix_form_equals_strings():
    case = REF["cake_lmer"]
    m = _fit(case)
    a = m.test(*case["hypotheses"])
    b = m.test(L=np.asarray(case["glht"]["L"]), rhs=case["glht"]["rhs"])
    assert a.joint["F"] == pytest.approx(b.joint["F"], rel=1e-12)
    assert "Linear Hypotheses:" in repr(a) and "Satterthwaite" not in repr(a).splitlines()[0]


def test_parser_reads_r_names_and_arithmetic():
    names = ["(Intercept)", "x1", "x10", "as.factor(g)2", "log(z)"]
    L, r = parse_hypothesis("x1 + x10/2 - 3*`as.factor(g)2` = 2 * 1.5", names)
    assert L.tolist() == [0, 1, 0.5, -3, 0] and r == 3.0
    L, r = parse_hypothesis("as.factor(g)2 - log(z) == -1e-1", names)
    assert L.tolist() == [0, 0, 0, 1, -1] and r == pytest.approx(-0.1)
    L, r = parse_hypothesis("-(x1 - x10) + 1 = 0", names)
    assert L.tolist() == [0, -1, 1, 0, 0] and r == -1.0


@pytest.mark.parametrize("bad, msg", [
    ("x2 = 0", "not a coefficient"),
    ("x1 * x10 = 0", "not linear"),
    ("x1 = 0 = 1", "more than one"),
    ("x1 = ", "empty"),
    ("__import__('os') = 0", "not a coefficient"),
    ("3 = 1", "no coefficient"),
])
def test_parser_errors_for_people(bad, msg):
    with pytest.raises(FormulaError, match=msg):
        parse_hypothesis(bad, ["(Intercept)", "x1", "x10"])


def test_other_errors():
    m = _fit(REF["cake_lm"])
    with pytest.raises(MultilevelError, match="columns"):
        m.test(L=np.ones((1, 3)))
    with pytest.raises(MultilevelError, match="no hypothesis"):
        m.test()
