"""Small API gaps the peer suites exposed: lme4's ``nAGQ=`` spelling and lmerTest's
``contest(m, L)`` (a matrix as the first argument of ``m.test``)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError


@pytest.fixture(scope="module")
def cbpp():
    return ml.datasets.load("cbpp")


def test_glmer_accepts_nagq_spelling(cbpp):
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    a = ml.glmer(f, cbpp, family="binomial", nAGQ=9)
    b = ml.glmer(f, cbpp, family="binomial", n_agq=9)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)
    # lme4 tests/glmer-1.R: -2 logLik at nAGQ = 25 is 100.010030538022
    c = ml.glmer(f, cbpp, family="binomial", nAGQ=25)
    assert -2 * c.loglik == pytest.approx(100.010030538022, rel=1e-6)
    with pytest.raises(DataError, match="disagree"):
        ml.glmer(f, cbpp, family="binomial", n_agq=5, nAGQ=9)


def test_test_takes_a_matrix_first():
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    L = np.array([[0.0, 1.0]])
    by_matrix = m.test(L).joint
    by_keyword = m.test(L=L).joint
    by_string = m.test("Days = 0").joint
    assert float(by_matrix["F"]) == pytest.approx(float(by_keyword["F"]), rel=1e-12)
    assert float(by_matrix["F"]) == pytest.approx(float(by_string["F"]), rel=1e-12)
    # lmerTest: anova(m) for Days, F = 45.853, DenDF 17
    assert float(by_matrix["F"]) == pytest.approx(45.853, rel=1e-4)


# lmerTest 3.1 ranova() (R 4.2), printed with digits = 10
RANOVA_R = {
    ("Reaction ~ Days + (Days | Subject)", True): {
        "<none>": (6, -871.8141360), "Days in (Days | Subject)": (4, -893.2325427)},
    ("Reaction ~ Days + (1 | Subject)", True): {
        "<none>": (4, -893.2325427), "(1 | Subject)": (3, -946.8318317)},
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", False): {
        "<none>": (5, -876.0016276), "(1 | Subject)": (4, -887.0401576),
        "Days in (0 + Days | Subject)": (4, -897.0393215)},
}


@pytest.mark.parametrize("formula,reml", list(RANOVA_R))
def test_ranova_matches_lmertest(formula, reml):
    m = ml.lmer(formula, ml.datasets.load("sleepstudy"), REML=reml)
    tab = ml.ranova(m)
    want = RANOVA_R[(formula, reml)]
    assert tab.index.tolist() == list(want)
    for row, (npar, ll) in want.items():
        assert tab.loc[row, "npar"] == npar
        assert tab.loc[row, "logLik"] == pytest.approx(ll, abs=2e-6)
    full = want["<none>"][1]
    for row in list(want)[1:]:
        lrt = 2 * (full - want[row][1])
        assert tab.loc[row, "LRT"] == pytest.approx(lrt, abs=5e-6)


def test_ranova_refuses_glmer():
    m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 ml.datasets.load("cbpp"), family="binomial")
    with pytest.raises(DataError, match="linear mixed models"):
        ml.ranova(m)


ORANGE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "Orange.csv"


@pytest.mark.skipif(not ORANGE.is_file(), reason="../shared/data/Orange.csv is absent")
def test_anova_compares_two_nlmer_fits():
    d = pd.read_csv(ORANGE)
    start = {"Asym": 200, "xmid": 725, "scal": 350}
    f = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ "
    m1 = ml.nlmer(f + "(Asym|Tree)", d, start=start)
    m2 = ml.nlmer(f + "(Asym|Tree) + (xmid|Tree)", d, start=start)
    tab = ml.anova(m2, m1)  # ordered by npar, as lme4
    assert tab.index.tolist() == ["m1", "m2"]
    # lme4 anova(m1, m2) (R 4.2, lme4 1.1), printed with digits = 10
    assert tab["AIC"].tolist() == pytest.approx([273.1437548, 275.1437702], abs=2e-6)
    assert tab["BIC"].tolist() == pytest.approx([280.9204951, 284.4758586], abs=2e-6)
    assert tab["Df"].iloc[1] == 1
    assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(1.0, abs=1e-6)


def test_out_of_core_refuses_ordered_factor_in_fixed_part():
    pytest.importorskip("duckdb")
    d = ml.datasets.load("cake")
    d["temperature"] = d["temperature"].cat.as_ordered()
    with pytest.raises(DataError, match="ordered factor.*contr.poly"):
        ml.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)", d, engine="duckdb")
    # as a grouping factor its contrasts do not matter: fitted as in memory
    a = ml.lmer("angle ~ recipe + (1 | temperature)", d, engine="duckdb")
    b = ml.lmer("angle ~ recipe + (1 | temperature)", d)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-8)
    # unordered, it gets treatment contrasts as in memory
    d["temperature"] = d["temperature"].cat.as_unordered()
    c = ml.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)", d, engine="duckdb")
    assert "temperature185" in c.fixef.index


IRIS = Path(__file__).resolve().parent / "data" / "iris.csv"


def test_predict_se_fit_matches_lme4():
    # lme4 tests/testthat/test-predict.R (lme4 >= 2.0's predict(se.fit = TRUE))
    d = pd.read_csv(IRIS)
    m = ml.lmer("Petal.Width ~ Sepal.Length + (1 | Species)", d)
    p1 = m.predict(se_fit=True)
    assert p1["se_fit"].iloc[:6].tolist() == pytest.approx(
        [0.0271816400250223, 0.0272298862268211, 0.0286188379907626,
         0.0297645467444413, 0.0270330515271627, 0.0295876265523127], rel=1e-5)
    p3 = m.predict(d, re_form=None, se_fit=True)
    assert p3["se_fit"].iloc[:6].tolist() == pytest.approx(
        [0.451147865048879, 0.451497971849052, 0.451930732595154, 0.452178035807842,
         0.451312573619068, 0.450778089845166], rel=1e-5)
    # the same predictions as without se_fit; newdata = the fitted rows gives p1 again
    assert np.allclose(p1["fit"], m.predict())
    assert np.allclose(m.predict(d, se_fit=True)["se_fit"], p1["se_fit"])
    # population level: the fixed part's standard error, sqrt(x' V x)
    X = np.column_stack([np.ones(len(d)), d["Sepal.Length"]])
    V = m.vcov.to_numpy()
    assert np.allclose(p3["se_fit"], np.sqrt(np.einsum("ij,jk,ik->i", X, V, X)), rtol=1e-6)
    # a new level contributes no random-effect variance
    new = d.head(1).assign(Species="unseen")
    p_new = m.predict(new, se_fit=True, allow_new_levels=True)
    assert p_new["se_fit"].iloc[0] == pytest.approx(p3["se_fit"].iloc[0], rel=1e-8)
