"""Errors written for people: each bad input gives a FormulaError/DataError with a fix."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from multilevel.design.model_frame import build_design, new_design
from multilevel.errors import DataError, FormulaError, MissingDataWarning


@pytest.fixture
def df():
    return pd.DataFrame({"y": [1.0, 2.5, 2.0, 4.0, 5.5, 5.0, 7.0, 8.5],
                         "x": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0],
                         "homework": [1, 2, 3, 4, 5, 6, 7, 8],
                         "g": list("aabbccdd"), "one": ["k"] * 8,
                         "id": list("abcdefgh"), "txt": list("uvuvuvuv")})


def fails(exc, formula, data, match, **kw):
    with pytest.raises(exc) as e:
        build_design(formula, data, **kw)
    msg = str(e.value)
    assert "How to fix:" in msg
    for m in ([match] if isinstance(match, str) else match):
        assert m in msg, msg
    return msg


def test_unknown_column_suggests_closest(df):
    fails(DataError, "y ~ homewrk + (1 | g)", df, ["'homewrk' not found", "did you mean 'homework'"])


def test_unknown_response_column(df):
    fails(DataError, "yy ~ x + (1 | g)", df, ["response column 'yy'", "'y'"])


def test_random_slope_variable_missing(df):
    fails(DataError, "y ~ x + (xx | g)", df, ["random-effect variable in (xx | g)", "'xx'"])


def test_grouping_factor_missing(df):
    fails(DataError, "y ~ x + (1 | gg)", df, ["grouping factor in (1 | gg)", "did you mean 'g'"])


def test_syntax_error_has_caret(df):
    msg = fails(FormulaError, "y ~ x + (1 | g", df, "expected ')'")
    assert "    y ~ x + (1 | g\n" in msg and msg.splitlines()[2].endswith("^")


def test_no_tilde(df):
    fails(FormulaError, "y x", df, "no '~'")
    fails(FormulaError, "~ x + (1 | g)", df, "no response")


def test_non_numeric_response(df):
    fails(DataError, "txt ~ x + (1 | g)", df, ["response 'txt' is not numeric"])


def test_grouping_factor_with_one_level(df):
    fails(DataError, "y ~ x + (1 | one)", df, ["'one' has only 1 level", "> 1 sampled level"])


def test_grouping_factor_with_a_level_per_observation(df):
    fails(DataError, "y ~ x + (1 | id)", df,
          "number of levels of each grouping factor must be < number of observations (problems: id)")
    build_design("y ~ x + (1 | id)", df, kind="glmer")  # observation-level effects are fine


def test_too_many_random_effects(df):
    fails(DataError, "y ~ x + (x | g)", df,
          "number of observations (=8) <= number of random effects (=8) for term (x | g)")
    build_design("y ~ x + (x | g)", df, kind="glmer")  # glmer: only q > n is refused
    fails(DataError, "y ~ x + (x | id)", df, "number of observations (=8) < number of random "
          "effects (=16)", kind="glmer")


def test_empty_after_na(df):
    df.loc[::2, "x"] = np.nan
    df.loc[1::2, "y"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        fails(DataError, "y ~ x + (1 | g)", df, "no rows left after removing rows with missing values")


def test_empty_data(df):
    fails(DataError, "y ~ x + (1 | g)", df.iloc[:0], "no rows")


def test_inf_values_named_and_counted(df):
    df.loc[[0, 3], "x"] = np.inf
    fails(DataError, "y ~ x + (1 | g)", df, "'x' has 2 infinite value(s)")
    df.loc[[0, 3], "x"] = 0.0
    fails(DataError, "y ~ log(x) + (1 | g)", df, "'log(x)' has 2 infinite value(s)")


def test_data_types(df):
    fails(DataError, "y ~ x + (1 | g)", [1, 2, 3], "data must be a table, got list")
    fails(DataError, "y ~ x + (1 | g)", np.zeros((3, 2)), "got ndarray")
    d = build_design("y ~ x + (1 | g)", {c: df[c].to_numpy() for c in df})
    assert d.nobs == 8


def test_polars_dataframe(df):
    pl = pytest.importorskip("polars")
    d = build_design("y ~ x + (1 | g)", pl.from_pandas(df))
    assert d.xnames == ["(Intercept)", "x"] and d.re_terms[0].levels == list("abcd")


def test_text_used_as_number(df):
    fails(DataError, "y ~ I(txt * 2) + (1 | g)", df, "'txt' is text or a factor")


def test_lm_and_lmer_bar_rules(df):
    fails(FormulaError, "y ~ x + (1 | g)", df, "lm() formulas cannot have random-effects", kind="lm")
    fails(FormulaError, "y ~ x", df, "no random effects terms specified in formula")


def test_new_levels_in_newdata(df):
    d = build_design("y ~ x + g + (1 | g)", df)
    with pytest.raises(DataError, match="factor 'g' has new level"):
        new_design(d, pd.DataFrame({"x": [1.0], "g": ["zz"]}))
    d = build_design("y ~ x + (1 | g)", df)
    with pytest.raises(DataError, match=r"new levels \['zz'\]"):
        new_design(d, pd.DataFrame({"x": [1.0], "g": ["zz"]}))
    nd = new_design(d, pd.DataFrame({"x": [1.0, 2.0], "g": ["zz", "b"]}), allow_new_levels=True)
    assert nd.re_terms[0].codes.tolist() == [-1, 1]
    with pytest.raises(DataError, match="'x' not found"):
        new_design(d, pd.DataFrame({"g": ["a"]}))
