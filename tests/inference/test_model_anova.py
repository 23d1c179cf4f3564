"""ml.anova(m1, m2): lme4's likelihood-ratio table and R's F table for lm fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

from .conftest import REF, TOL, load_reference

PAIRS = []
if REF.exists():
    import json

    for p in sorted(REF.glob("*.json")):
        case = json.loads(p.read_text())
        for an in case.get("anova") or []:
            if "insteval" not in p.stem:
                PAIRS.append((p.stem, tuple(an["models"])))


@pytest.mark.parametrize("case_id, models", PAIRS)
def test_comparison_matches_r(fits, case_id, models, capsys):
    an = next(a for a in load_reference(case_id)["anova"] if tuple(a["models"]) == models)
    tab = ml.anova(fits(models[0]), fits(models[1]), model_names=list(models))
    want = an["table"]["columns"]
    if "Chisq" in want:
        assert list(tab.columns) == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df",
                                     "Pr(>Chisq)"]
        assert list(tab.index) == an["table"]["row_names"]
        assert tab["Chisq"].iloc[1] == pytest.approx(want["Chisq"][1], abs=TOL["chisq_abs"])
        assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(want["Pr(>Chisq)"][1],
                                                          abs=TOL["p_abs"])
        np.testing.assert_allclose(tab["logLik"], want["logLik"], atol=1e-4)
        np.testing.assert_array_equal(tab["npar"], want["npar"])
        assert tab.attrs["refit_ml"] == an["refit_ML"]
        assert ("refitting model(s) with ML" in capsys.readouterr().err) == an["refit_ML"]
    else:
        assert list(tab.columns) == ["Res.Df", "RSS", "Df", "Sum of Sq", "F", "Pr(>F)"]
        np.testing.assert_allclose(tab["F"].iloc[1], want["F"][1], rtol=1e-9)
        np.testing.assert_allclose(tab["RSS"], want["RSS"], rtol=1e-10)


def test_rows_named_by_the_callers_variables(sleep):
    small = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    big = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    tab = ml.anova(big, small)  # lme4 orders by npar
    assert list(tab.index) == ["small", "big"]
    assert np.isnan(tab["Chisq"].iloc[0]) and tab["Df"].iloc[1] == 2


def test_different_data_is_refused(sleep):
    a = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    b = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep.iloc[:170])
    with pytest.raises(DataError, match="same size of dataset"):
        ml.anova(a, b)
    other = sleep.assign(Reaction=sleep.Reaction * 2)
    c = ml.lmer("Reaction ~ Days + (1 | Subject)", other)
    with pytest.raises(DataError, match="same data"):
        ml.anova(a, c)


def test_non_nested_models_are_refused(sleep):
    df = sleep.assign(x=np.sin(np.arange(len(sleep))))
    a = ml.lmer("Reaction ~ Days + (1 | Subject)", df, reml=False)
    b = ml.lmer("Reaction ~ x + (1 | Subject)", df, reml=False)
    with pytest.raises(DataError, match="not nested"):
        ml.anova(a, b)
    c = ml.lmer("Reaction ~ Days + (0 + Days | Subject)", df, reml=False)
    with pytest.raises(DataError, match="not nested"):
        ml.anova(a, c)
    tab = ml.anova(a, b, check_nested=False)
    assert tab["Df"].iloc[1] == 0 and np.isnan(tab["Pr(>Chisq)"].iloc[1])


def test_lm_and_lmer_together(sleep):
    fixed = ml.lm("Reaction ~ Days", sleep)
    mixed = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    tab = ml.anova(fixed, mixed)
    assert tab["npar"].tolist() == [3, 4]
    assert tab["logLik"].iloc[0] == pytest.approx(fixed.loglik)


def test_single_model_anova(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    pd.testing.assert_frame_equal(ml.anova(m), m.anova())
    lm_tab = ml.anova(ml.lm("Reaction ~ Days", sleep))
    assert list(lm_tab.index) == ["Days", "Residuals"]
