"""Small API gaps the peer suites exposed: lme4's ``nAGQ=`` spelling and lmerTest's
``contest(m, L)`` (a matrix as the first argument of ``m.test``)."""

import numpy as np
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
