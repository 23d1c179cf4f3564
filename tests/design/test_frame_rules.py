"""R's model.frame / model.matrix rules: labels, levels, contrasts, NA, rank, new data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from multilevel.design.model_frame import build_design, new_design, response_matrix
from multilevel.design.rank import drop_collinear, rank_mask
from multilevel.errors import MissingDataWarning, RankDeficiencyWarning


@pytest.fixture
def df():
    rng = np.random.default_rng(7)
    n = 30
    return pd.DataFrame({
        "y": rng.normal(size=n), "x": np.arange(1.0, n + 1), "z": rng.normal(size=n),
        "f": list("bca") * 10, "h": list("pq") * 15, "b": [True, False] * 15,
        "g": np.repeat([10, 2, 1, 3, 4, 5, 6, 7, 8, 9], 3),
        "cat": pd.Categorical(list("xyz") * 10, categories=["z", "y", "x", "w"]),
        "n": rng.integers(1, 5, size=n).astype(float)})


def design(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build_design(formula, data, **kw)


LABELS = {  # formula (fixed part; + (1 | g) added): R's column names
    "y ~ x": ["(Intercept)", "x"],
    "y ~ I(x^2) + log(x) + sqrt(x) + exp(z) + log1p(n) + abs(z)":
        ["(Intercept)", "I(x^2)", "log(x)", "sqrt(x)", "exp(z)", "log1p(n)", "abs(z)"],
    "y ~ log10(x) + log2(n) + as.numeric(cat)":
        ["(Intercept)", "log10(x)", "log2(n)", "as.numeric(cat)"],
    "y ~ poly(x, 2) + scale(z)": ["(Intercept)", "poly(x, 2)1", "poly(x, 2)2", "scale(z)"],
    "y ~ f": ["(Intercept)", "fb", "fc"],  # text sorts like R's sort()
    "y ~ cat": ["(Intercept)", "caty", "catx"],  # category order, unused 'w' dropped
    "y ~ b": ["(Intercept)", "bTRUE"],
    "y ~ factor(h) + as.factor(f) + C(h)": None,  # collinear; checked below
    "y ~ 0 + f": ["fa", "fb", "fc"],
    "y ~ 0 + z + f + h": ["z", "fa", "fb", "fc", "hq"],
    "y ~ z:f": ["(Intercept)", "z:fa", "z:fb", "z:fc"],
    "y ~ f*z": ["(Intercept)", "fb", "fc", "z", "fb:z", "fc:z"],
    "y ~ z*f": ["(Intercept)", "z", "fb", "fc", "z:fb", "z:fc"],
    "y ~ f + f:h": ["(Intercept)", "fb", "fc", "fa:hq", "fb:hq", "fc:hq"],
    "y ~ f*h": ["(Intercept)", "fb", "fc", "hq", "fb:hq", "fc:hq"],
    "y ~ log(x + 1) + I(x/2)": ["(Intercept)", "log(x + 1)", "I(x/2)"],
    "y ~ x + offset(log(n))": ["(Intercept)", "x"],
}


@pytest.mark.parametrize("formula", [f for f, v in LABELS.items() if v])
def test_r_column_labels(formula, df):
    assert design(formula + " + (1 | g)", df).xnames == LABELS[formula]


def test_factor_of_integers_sorts_numerically(df):
    d = build_design("y ~ factor(g) + (1 | h)", df, kind="glmer")
    assert d.xnames[1:4] == ["factor(g)2", "factor(g)3", "factor(g)4"]
    assert d.xnames[-1] == "factor(g)10"


def test_grouping_levels(df):
    d = design("y ~ x + (1 | g) + (1 | f) + (1 | cat) + (1 | b)", df)
    levels = {t.group: t.levels for t in d.re_terms}
    assert levels["g"] == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    assert levels["f"] == ["a", "b", "c"]
    assert levels["cat"] == ["z", "y", "x"]  # category order, unused dropped
    assert levels["b"] == ["FALSE", "TRUE"]
    rows = df.index.to_numpy()
    t = d.re_terms[0]
    assert [t.levels[c] for c in t.codes] == [str(v) for v in df["g"].to_numpy()[rows]]


def test_interaction_and_nested_groups(df):
    d = design("y ~ x + (1 | h:f) + (1 | f/h)", df)
    assert [t.group for t in d.re_terms] == ["h:f", "h:f", "f"]
    assert d.re_terms[0].levels == ["p:a", "p:b", "p:c", "q:a", "q:b", "q:c"]
    t = d.re_terms[0]
    got = [t.levels[c] for c in t.codes]
    assert got == [f"{h}:{f}" for h, f in zip(df.h, df.f)]


def test_double_vert_gives_one_term_per_column(df):
    d = design("y ~ x + (x + z || g)", df)
    assert [(t.group, t.cnames) for t in d.re_terms] == [
        ("g", ["(Intercept)"]), ("g", ["x"]), ("g", ["z"])]


def test_offset_and_cbind(df):
    d = design("cbind(n, 5 - n) ~ x + offset(log(n)) + offset(z) + (1 | g)", df, kind="glmer")
    np.testing.assert_allclose(d.offset, np.log(df.n) + df.z)
    np.testing.assert_allclose(response_matrix(d), np.column_stack([df.n, 5 - df.n]))
    np.testing.assert_array_equal(d.y, df.n)
    assert d.response_name == "cbind(n, 5 - n)"


def test_scale_poly_values_and_newdata_reuse_fit_parameters(df):
    d = design("y ~ scale(z) + poly(x, 2) + center(n) + (1 | g)", df)
    z = df.z.to_numpy()
    np.testing.assert_allclose(d.X[:, 1], (z - z.mean()) / z.std(ddof=1), rtol=1e-13)
    np.testing.assert_allclose(d.X[:, 4], df.n - df.n.mean())
    P = d.X[:, 2:4]
    np.testing.assert_allclose(P.T @ P, np.eye(2), atol=1e-12)  # orthonormal, like R
    nd = new_design(d, df.iloc[[4, 0, 29]])
    np.testing.assert_allclose(nd.X, d.X[[4, 0, 29]], rtol=1e-12, atol=1e-14)


def test_r_poly_values():
    df = pd.DataFrame({"y": np.arange(10.0), "x": np.arange(1.0, 11), "g": list("ab") * 5})
    d = design("y ~ poly(x, 2) + (1 | g)", df)
    np.testing.assert_allclose(d.X[:3, 1:], [[-0.49543369, 0.52223297], [-0.38533732, 0.17407766],
                                            [-0.27524094, -0.08703883]], atol=5e-9)  # R output


def test_na_rows_removed_with_warning(df):
    df.loc[[1, 4], "x"] = np.nan
    df.loc[7, "f"] = None
    df.loc[9, "g"] = None  # grouping NA: float column now
    df.loc[4, "y"] = np.nan
    df.loc[11, "z"] = np.nan  # z is not in the model: row kept
    with pytest.warns(MissingDataWarning, match=r"removed 4 of 30 rows .* x \(2\), f \(1\), g \(1\)"):
        d = build_design("y ~ x + f + (1 | g)", df)
    assert d.n_dropped == 4 and d.nobs == 26
    assert not {1, 4, 7, 9} & set(d.rows.tolist()) and 11 in d.rows
    np.testing.assert_array_equal(d.y, df.y.to_numpy()[d.rows])


def test_unused_levels_dropped_after_na(df):
    df["f2"] = pd.Categorical(["u"] + ["v", "w"] * 14 + ["v"])
    df.loc[0, "x"] = np.nan
    with pytest.warns(MissingDataWarning):
        d = build_design("y ~ x + f2 + (1 | g)", df)
    assert d.xnames == ["(Intercept)", "x", "f2w"]  # level 'u' only in the dropped row


def test_rank_deficiency_dropped_like_lme4(df):
    df["x2"] = 2 * df.x
    with pytest.warns(RankDeficiencyWarning,
                      match="^fixed-effect model matrix is rank deficient so dropping 1 column / coefficient$"):
        d = build_design("y ~ x + x2 + z + (1 | g)", df)
    assert d.xnames == ["(Intercept)", "x", "z"] and d.dropped_columns == ["x2"]
    assert d.X.shape == (30, 3)
    d = build_design("y ~ x + x2 + z", df, kind="lm")  # lm keeps X, reports aliased
    assert d.X.shape == (30, 4) and d.dropped_columns == ["x2"]


def test_rank_mask_is_sequential_dqrdc2():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20), rng.normal(size=20)
    X = np.column_stack([np.ones(20), a, a + b, b, np.zeros(20), 3 * a])
    assert rank_mask(X).tolist() == [True, True, True, False, False, False]
    X[:, 3] += 1e-6 * rng.normal(size=20)  # well above 1e-7 relative: kept
    assert rank_mask(X).tolist() == [True, True, True, True, False, False]
    with pytest.warns(RankDeficiencyWarning, match="dropping 2 columns / coefficients"):
        _, kept, dropped = drop_collinear(X, list("abcdef"))
    assert kept == list("abcd") and dropped == ["e", "f"]


def test_integer_columns_are_numeric_and_bool_response(df):
    df["k"] = np.arange(30)
    df["yb"] = df.y > 0
    d = design("yb ~ k + (1 | g)", df, kind="glmer")
    assert d.xnames == ["(Intercept)", "k"]
    np.testing.assert_array_equal(d.y, (df.y > 0).astype(float))


def test_new_design_re_form_and_missing(df):
    d = design("y ~ x + f + (1 | g) + (1 | h)", df)
    new = df.iloc[:4].copy()
    new.loc[0, "x"] = np.nan
    nd = new_design(d, new, re_form="~(1 | h)")
    assert [t.group for t in nd.re_terms] == ["h"]
    assert nd.missing.tolist() == [True, False, False, False]
    assert np.isnan(nd.X[0]).all() and np.allclose(nd.X[1:], d.X[1:4])
    assert new_design(d, new, re_form="~0").re_terms == []
    assert new_design(d, new, re_form=False).re_terms == []


def test_row_order_and_level_relabel_invariance(df):
    d1 = design("y ~ x + f + (x | g)", df)
    perm = np.random.default_rng(3).permutation(len(df))
    d2 = design("y ~ x + f + (x | g)", df.iloc[perm].reset_index(drop=True))
    np.testing.assert_array_equal(d2.X, d1.X[perm])
    t1, t2 = d1.re_terms[0], d2.re_terms[0]
    assert t1.levels == t2.levels
    np.testing.assert_array_equal(t2.codes, t1.codes[perm])
