"""R habits: REML= as an alias of reml=, coef() on lm, fitted() callable."""
from __future__ import annotations

import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

F = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


def test_reml_alias(sleep):
    ml_fit = ml.lmer(F, sleep, REML=False)
    assert not ml_fit.reml
    assert ml_fit.loglik == pytest.approx(ml.lmer(F, sleep, reml=False).loglik, abs=1e-9)
    assert ml.lmer(F, sleep, REML=True).reml and ml.lmer(F, sleep).reml
    assert not ml.lmer(F, sleep, reml=False, REML=False).reml
    with pytest.raises(DataError, match="disagree"):
        ml.lmer(F, sleep, reml=True, REML=False)
    assert "REML=" in ml.lmer.__doc__


def test_coef_on_lm(sleep):
    m = ml.lm("Reaction ~ Days", sleep)
    assert m.coef().index.tolist() == ["(Intercept)", "Days"]
    pd.testing.assert_series_equal(m.coef(), m.fixef.rename("coef"))


def test_coef_on_lm_keeps_aliased_as_nan(sleep):
    data = sleep.assign(Days2=sleep["Days"] * 2)
    c = ml.lm("Reaction ~ Days + Days2", data).coef()
    assert c.index.tolist() == ["(Intercept)", "Days", "Days2"] and pd.isna(c["Days2"])


@pytest.mark.parametrize("fit", [
    lambda d: ml.lm("Reaction ~ Days", d),
    lambda d: ml.lmer(F, d),
    lambda d: ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                       ml.datasets.load("cbpp"), family="binomial"),
])
def test_fitted_is_a_property_and_a_call(sleep, fit):
    m = fit(sleep)
    as_property, as_call = m.fitted, m.fitted()
    assert isinstance(as_property, pd.Series) and type(as_call) is pd.Series
    pd.testing.assert_series_equal(pd.Series(as_property), as_call)
    assert type(as_property + 1) is pd.Series and type(m.residuals()) is pd.Series
    frame = pd.DataFrame({"y": as_call.to_numpy()}, index=as_call.index)
    pd.testing.assert_series_equal(frame.assign(f=m.fitted)["f"], as_call.rename("f"))
    with pytest.raises(TypeError, match="no arguments"):
        m.fitted("response")
