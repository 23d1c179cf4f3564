"""lmer end to end: lme4's messages, predictions, accessors."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import (ConvergenceWarning, MissingDataWarning, RankDeficiencyWarning,
                               SingularFitWarning)


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def m_sleep(sleep):
    return ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)


def test_singular_fit_is_reported():
    d2 = ml.datasets.load("Dyestuff2")
    with pytest.warns(SingularFitWarning, match=r"boundary \(singular\) fit"):
        m = ml.lmer("Yield ~ 1 + (1 | Batch)", d2)
    assert m.is_singular
    assert "boundary (singular) fit: see help('isSingular')" in str(m.summary())


def test_rank_deficiency_drops_columns_like_lme4(sleep):
    df = sleep.assign(Days2=sleep["Days"] * 2.0)
    with pytest.warns(RankDeficiencyWarning, match="rank deficient so dropping 1 column"):
        m = ml.lmer("Reaction ~ Days + Days2 + (1 | Subject)", df)
    assert list(m.fixef.index) == ["(Intercept)", "Days"]
    assert "rank deficient so dropping 1 column / coefficient" in str(m.summary())


def test_missing_rows_are_counted_and_reported(sleep):
    df = sleep.copy()
    df.loc[[0, 5, 9], "Reaction"] = np.nan
    with pytest.warns(MissingDataWarning, match="3"):
        m = ml.lmer("Reaction ~ Days + (1 | Subject)", df)
    assert m.nobs == len(df) - 3
    assert "(3 observations deleted due to missingness)" in str(m.summary())
    assert len(m.fitted) == m.nobs and 0 not in m.fitted.index


def test_non_convergence_warns(sleep):
    with pytest.warns(ConvergenceWarning):
        ml.lmer("Reaction ~ Days + (Days | Subject)", sleep,
                control=ml.LmerControl(maxeval=5))


def test_predict_levels_and_population(m_sleep, sleep):
    full = m_sleep.predict(sleep)
    np.testing.assert_allclose(full.to_numpy(), m_sleep.fitted.to_numpy(), rtol=1e-12)
    pop = m_sleep.predict(sleep, re_form=None)
    np.testing.assert_allclose(pop.to_numpy(), (m_sleep.fixef["(Intercept)"]
                                                + m_sleep.fixef["Days"] * sleep["Days"]).to_numpy())
    np.testing.assert_allclose(m_sleep.predict(sleep, re_form="~0").to_numpy(), pop.to_numpy())
    new = pd.DataFrame({"Days": [1.0], "Subject": ["999"]})
    with pytest.raises(ml.DataError, match="allow_new_levels"):
        m_sleep.predict(new)
    got = m_sleep.predict(new, allow_new_levels=True)
    assert got.iloc[0] == pytest.approx(m_sleep.fixef.sum())


def test_accessors_have_lme4_shapes(m_sleep):
    assert list(m_sleep.theta.index) == ["Subject.(Intercept)", "Subject.Days.(Intercept)",
                                         "Subject.Days"]
    assert m_sleep.varcorr["grp"].tolist() == ["Subject", "Subject", "Subject", "Residual"]
    re = m_sleep.ranef()
    assert len(re) == 36 and (re["condsd"] > 0).all()
    coef = m_sleep.coef()["Subject"]
    wide = m_sleep.ranef_wide()["Subject"]
    np.testing.assert_allclose(coef["Days"], m_sleep.fixef["Days"] + wide["Days"])
    assert m_sleep.ngrps.to_dict() == {"Subject": 18}
    assert m_sleep.df_resid == 180 - 6
    assert m_sleep.deviance == pytest.approx(-2 * m_sleep.loglik - 0.0, abs=20)  # ML vs REML
    np.testing.assert_allclose(m_sleep.residuals() + m_sleep.fitted,
                               ml.datasets.load("sleepstudy")["Reaction"].to_numpy())
    assert m_sleep.opt_summary.converged and m_sleep.opt_summary.feval > 10


def test_reml_and_ml_criteria_are_consistent(sleep):
    ml_fit = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    assert ml_fit.deviance == pytest.approx(-2 * ml_fit.loglik)
    reml_fit = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert reml_fit.reml_crit == pytest.approx(-2 * reml_fit.loglik)
    # the ML deviance at the REML estimates is above the ML optimum
    assert reml_fit.deviance > ml_fit.deviance


def test_data_name_comes_from_the_callers_variable(sleep):
    mydata = sleep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer("Reaction ~ Days + (1 | Subject)", mydata)
    assert "   Data: mydata" in str(m.summary())


def test_three_level_nested_model():
    exam = ml.datasets.load("Exam")
    m = ml.lmer("normexam ~ standLRT + (1 | schgend/school)", exam)
    assert set(m.varcorr["grp"]) == {"school:schgend", "schgend", "Residual"}
