"""lmerTest's anova(m): type III F tests, contrasts, type I and lme4's table."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.inference.contrasts import containment, doolittle, type3_contrasts, zapsmall

from .conftest import TOL, lmer_cases, load_reference

CASES = lmer_cases()


@pytest.mark.parametrize("case_id", CASES)
def test_type3_table_matches_lmertest(fits, case_id):
    want = load_reference(case_id)["satterthwaite"]["anova_type3"]
    tab = fits(case_id).anova()
    assert list(tab.index) == want["row_names"]
    cols = want["columns"]
    if not want["row_names"]:
        return
    np.testing.assert_array_equal(tab["NumDF"], cols["NumDF"])
    np.testing.assert_allclose(tab["DenDF"], cols["DenDF"], rtol=TOL["df_rel"])
    np.testing.assert_allclose(tab["F value"], cols["F value"], rtol=1e-3)
    np.testing.assert_allclose(tab["Sum Sq"], cols["Sum Sq"], rtol=1e-3)
    np.testing.assert_allclose(tab["Pr(>F)"], cols["Pr(>F)"], atol=TOL["p_abs"])


def test_type3_contrasts_of_an_interaction(fits):
    m = fits("cake_int_ml")
    L = type3_contrasts(m.design)
    assert [Lt.shape[0] for Lt in L.values()] == [2, 5, 10]
    # recipe is orthogonalised against recipe:temperature: averaged over temperatures
    assert containment(m.design) == {"recipe": ["recipe:temperature"],
                                     "temperature": ["recipe:temperature"],
                                     "recipe:temperature": []}


def test_covariate_contained_only_with_the_same_covariates(fits):
    m = fits("hsb82_reml")
    c = containment(m.design)
    assert c["cses"] == ["cses:sector"]          # sector is a factor
    assert c["meanses"] == [] and c["sector"] == []  # extra variable is continuous


def test_type1_is_sequential(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    t1, t3 = m.anova(type=1), m.anova(type=3)
    np.testing.assert_allclose(t1.to_numpy(), t3.to_numpy())  # one term: both are type I
    assert t1.attrs["heading"].startswith("Type I Analysis of Variance")


def test_lme4_anova_table(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    tab = m.anova(ddf=None)
    assert list(tab.columns) == ["npar", "Sum Sq", "Mean Sq", "F value"]
    # one column, so F is the squared t statistic (lme4's "F value" 45.853)
    assert tab.loc["Days", "F value"] == pytest.approx(
        m.coef_table(ddf=None).loc["Days", "statistic"] ** 2, rel=1e-10)


def test_doolittle_and_zapsmall():
    x = np.array([[4.0, 2.0, 2.0], [2.0, 5.0, 1.0], [2.0, 1.0, 6.0]])
    L, U = doolittle(x)
    np.testing.assert_allclose(L @ U, x)
    assert np.allclose(np.triu(L, 1), 0) and np.allclose(np.diag(L), 1)
    assert zapsmall(np.array([1e-12, 2.0])).tolist() == [0.0, 2.0]


def test_type3_with_a_factor_only_in_an_interaction():
    df = ml.datasets.load("sleepstudy")
    df = df.assign(g=(df.Days > 4).map({True: "a", False: "b"}))
    m = ml.lmer("Reaction ~ Days + Days:g + (1 | Subject)", df)
    tab = m.anova()  # the factor is read back from the interaction's columns
    assert list(tab.index) == ["Days", "Days:g"]
    assert tab["NumDF"].tolist() == [1, 1]
