"""Models that used to be fitted silently wrong are refused with the library's errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.fit.glmer import GlmerControl
from multilevel.fit.lmer import LmerControl

F = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def sleep():
    d = ml.datasets.load("sleepstudy").copy()
    d["x"] = d["Days"] * 2.0 + 1
    return d


@pytest.mark.parametrize("formula, fit", [
    ("cbind(Reaction, x) ~ Days + (1 | Subject)", "lmer"),
    ("cbind(Reaction, Reaction - x) ~ 1 + (1 | Subject)", "lmer"),
    ("cbind(Reaction, x) ~ Days", "lm"),
])
def test_two_column_response_is_refused_outside_glmer(sleep, formula, fit):
    with pytest.raises(FormulaError, match="one response"):
        getattr(ml, fit)(formula, sleep)


@pytest.mark.parametrize("value", ["False", "True", 0, 1, "no", 0.0, [False]])
def test_reml_must_be_a_real_bool(sleep, value):
    with pytest.raises(DataError, match="reml must be True or False"):
        ml.lmer(F, sleep, reml=value)


def test_numpy_bool_is_accepted(sleep):
    assert ml.lmer(F, sleep, reml=np.False_).reml is False


@pytest.mark.parametrize("kw", [dict(maxeval=-1), dict(maxeval=0), dict(maxeval=2.5),
                                dict(xtol_abs=float("nan")), dict(ftol_abs=-1.0),
                                dict(xtol_abs="1e-8"), dict(check_conv="yes"),
                                dict(step_fraction=float("inf")), dict(step_fraction=0.0),
                                dict(check_nlev_gtr_1=False)])
def test_lmer_control_values_are_checked(kw):
    with pytest.raises(DataError):
        LmerControl(**kw)


@pytest.mark.parametrize("kw", [dict(check_nobs_vs_nlev="warn"), dict(check_nlev_gtr_1=False)])
def test_lmer_control_words_are_checked(sleep, kw):
    with pytest.raises(DataError):
        ml.lmer(F, sleep, control=LmerControl(**kw))


@pytest.mark.parametrize("kw", [dict(maxeval=-1), dict(tol_pirls=float("nan")),
                                dict(calc_derivs="False"), dict(xtol_abs=-1e-8)])
def test_glmer_control_values_are_checked(kw):
    with pytest.raises(DataError):
        GlmerControl(**kw)


def test_control_must_be_the_right_class(sleep):
    with pytest.raises(DataError, match="LmerControl"):
        ml.lmer(F, sleep, control={"maxeval": 10})


@pytest.mark.parametrize("bad", ["n/a", ".", "12,5", "missing", "?"])
def test_numeric_column_with_stray_text_is_refused(sleep, bad):
    d = sleep.copy()
    d["Days"] = d["Days"].astype(object)
    d.loc[7, "Days"] = bad
    with pytest.raises(DataError) as e:
        ml.lmer(F, d)
    msg = str(e.value)
    assert "'Days'" in msg and repr(bad) in msg and "row 7" in msg and "to_numeric" in msg


def test_stray_text_in_the_response_is_refused(sleep):
    d = sleep.copy()
    d["Reaction"] = d["Reaction"].astype(object)
    d.loc[[3, 9], "Reaction"] = "NA?"
    with pytest.raises(DataError, match="'Reaction'"):
        ml.lmer(F, d)


def test_a_real_text_column_is_still_a_factor(sleep):
    d = sleep.copy()
    d["arm"] = np.where(d["Days"] % 2 == 0, "control", "treated")
    m = ml.lmer("Reaction ~ Days + arm + (1 | Subject)", d)
    assert "armtreated" in m.fixef.index


def test_factor_of_a_mixed_column_is_allowed(sleep):
    d = sleep.copy()
    d["grade"] = d["Days"].astype(object)
    d.loc[d["Days"] == 0, "grade"] = "K"
    m = ml.lmer("Reaction ~ factor(grade) + (1 | Subject)", d)
    assert "factor(grade)K" in m.fixef.index


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=6, max_size=30),
       st.sampled_from(["x", "n.a.", "--", "12;5"]), st.data())
def test_stray_text_anywhere_is_named(values, bad, data):
    n = len(values)
    pos = data.draw(st.integers(0, n - 1))
    col = pd.Series(values, dtype=object)
    col[pos] = bad
    df = pd.DataFrame({"y": np.arange(n, dtype=float), "x": col})
    if pd.to_numeric(col.drop(pos)).nunique() < 1:
        return
    with pytest.raises(DataError, match=f"row {pos}"):
        ml.lm("y ~ x", df)


def test_complex_numbers_are_refused(sleep):
    d = sleep.copy()
    d["Days"] = d["Days"] + 1j
    with pytest.raises(DataError, match="complex"):
        ml.lmer(F, d)
    d = sleep.copy()
    d["Reaction"] = d["Reaction"].astype(complex)
    with pytest.raises(DataError, match="complex"):
        ml.lm("Reaction ~ Days", d)


def test_duplicated_column_names_are_refused(sleep):
    d = sleep[["Reaction", "Days", "Subject"]].copy()
    d["Days2"] = d["Days"]
    d.columns = ["Reaction", "Days", "Subject", "Days"]
    with pytest.raises(DataError, match="2 columns named 'Days'"):
        ml.lmer(F, d)


def test_integer_column_labels_are_found(sleep):
    d = sleep[["Reaction", "Days", "Subject"]].copy()
    d.columns = [0, 1, 2]
    m = ml.lmer("`0` ~ `1` + (1 | `2`)", d)
    ref = ml.lmer(F, sleep)
    np.testing.assert_allclose(m.fixef.to_numpy(), ref.fixef.to_numpy())


def test_date_and_time_grouping_columns_are_factors(sleep):
    d = sleep.copy()
    codes = d["Subject"].astype("category").cat.codes
    d["day"] = pd.Timestamp("2024-03-01") + pd.to_timedelta(codes, unit="D")
    d["when"] = pd.Timestamp("2024-03-01 08:00") + pd.to_timedelta(codes, unit="h")
    ref = ml.lmer(F, d)
    for g in ("day", "when"):
        m = ml.lmer(f"Reaction ~ Days + (1 | {g})", d)
        assert m.ngrps[g] == 18
        assert m.loglik == pytest.approx(ref.loglik, rel=1e-8)
