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


# --- type II / III with Satterthwaite and Kenward-Roger, contrasts, nesting by structure ---
# values from make_anova_types.R (R 4.2, lmerTest 3.1): cake with 11 rows removed (unbalanced)

def _types_ref():
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "anova_types.json").read_text())


def _cake_unbalanced():
    ref = _types_ref()
    d = ml.datasets.load("cake").copy()
    d["temperature"] = d["temp"].astype(float) if "temp" in d else d["temperature"].astype(float)
    d = d.iloc[[i - 1 for i in ref["rows"]]].reset_index(drop=True)
    d["ftemp"] = pd.Categorical(d["temperature"].astype(int).astype(str),
                                [str(t) for t in sorted(d["temperature"].astype(int).unique())])
    return d


def _check_table(got, want, df_rtol):
    assert list(got.index) == [r["term"] for r in want]
    for i, r in enumerate(want):
        assert got["NumDF"].iloc[i] == r["NumDF"]
        assert got["F value"].iloc[i] == pytest.approx(r["F value"], rel=1e-4, abs=1e-8)
        assert got["DenDF"].iloc[i] == pytest.approx(r["DenDF"], rel=df_rtol)
        assert got["Pr(>F)"].iloc[i] == pytest.approx(r["Pr(>F)"], abs=1e-4)


@pytest.mark.parametrize("k", [0, 1])
def test_anova_types_satterthwaite_and_kr(k):
    import warnings

    case = _types_ref()["cases"][k]
    d = _cake_unbalanced()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(case["formula"], d)
        for t, want in zip((1, 2, 3), case["satterthwaite"]):
            _check_table(m.anova(type=t, ddf="satterthwaite"), want, 1e-3)
        for t, want in zip((2, 3), case["kenward_roger"]):
            _check_table(m.anova(type=t, ddf="kenward-roger"), want, 1e-3)
        s = ml.lmer(case["formula"], d, contrasts={"recipe": "contr.sum"})
        _check_table(s.anova(type=3, ddf="satterthwaite"), case["sum_type3"], 1e-3)


def test_type2_differs_from_type3_for_main_effects():
    d = _cake_unbalanced()
    m = ml.lmer("angle ~ recipe * ftemp + (1 | recipe:replicate)", d)
    a2, a3 = m.anova(type=2), m.anova(type="III")
    assert abs(a2["F value"].iloc[0] - a3["F value"].iloc[0]) > 1e-3
    assert a2["F value"].iloc[2] == pytest.approx(a3["F value"].iloc[2], rel=1e-8)


def test_nesting_compares_expanded_structure():
    ref = _types_ref()["pastes"]
    p = ml.datasets.load("Pastes")
    m1 = ml.lmer("strength ~ 1 + (1 | batch:cask)", p, reml=False)
    m2 = ml.lmer("strength ~ 1 + (1 | batch/cask)", p, reml=False)
    tab = ml.anova(m1, m2)
    assert tab["Chisq"].iloc[1] == pytest.approx(ref["Chisq"], abs=1e-5)
    assert tab["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["p"], abs=1e-6)
    np.testing.assert_allclose(tab["logLik"], ref["logLik"], atol=1e-5)
    m3 = ml.lmer("strength ~ 1 + (1 | sample)", p, reml=False)  # the same factor, by rows
    assert ml.anova(m3, m2)["Chisq"].iloc[1] == pytest.approx(ref["Chisq"], abs=1e-5)
    with pytest.raises(DataError, match="not nested"):
        ml.anova(ml.lmer("strength ~ 1 + (1 | cask)", p, reml=False), m2)
