"""What a fit caches or skips to keep its fixed cost small (issue 11) changes no result:
formula plans, column views, label caches, shared default settings, the magnitude and rank
screens, and the call-site cache of the data's name."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel import _validate
from multilevel.design import rank, variables
from multilevel.design.formula_plan import formula_plan
from multilevel.design.model_frame import build_design
from multilevel.errors import DataError, FormulaError
from multilevel.fit.glmer import GlmerControl
from multilevel.fit.lmer_control import LmerControl


def frame(n: int = 24, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "g": pd.Categorical(np.repeat(list("abcdef"), n // 6)),
                         "h": np.tile([1, 2], n // 2)})


def same_design(a, b) -> None:
    assert a.xnames == b.xnames and a.response_name == b.response_name
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.rows, b.rows)
    for s, t in zip(a.re_terms, b.re_terms, strict=True):
        assert (s.group, s.levels, s.cnames) == (t.group, t.levels, t.cnames)
        np.testing.assert_array_equal(s.codes, t.codes)
        np.testing.assert_array_equal(s.Z, t.Z)


# ----- formula plans ------------------------------------------------------------------------
def test_a_formula_is_planned_once_and_its_terms_are_handed_out_as_copies():
    f = "y ~ x + factor(h) + (x | g)"
    plan = formula_plan(f, list)
    assert formula_plan(f, list) is plan
    a, b = plan.fixed_terms(), plan.fixed_terms()
    assert a == b and a.variables is not b.variables
    a.variables.clear()  # what one design does with its terms reaches no other
    assert plan.fixed_terms().variables == b.variables
    same_design(build_design(f, frame()), build_design(f, frame()))


def test_dot_formulas_are_expanded_for_each_data_frame():
    small = frame()[["y", "x", "g"]]
    wide = frame().assign(z=np.arange(24.0))
    assert build_design("y ~ . + (1 | g)", small).xnames == ["(Intercept)", "x", "gb", "gc",
                                                             "gd", "ge", "gf"]
    assert "z" in build_design("y ~ . + (1 | g)", wide).xnames


def test_a_bad_formula_is_refused_the_same_way_every_time():
    messages = set()
    for _ in range(2):
        with pytest.raises(FormulaError) as err:
            build_design("y ~ x + system(x) + (1 | g)", frame())
        messages.add(str(err.value))
    assert len(messages) == 1


def test_the_first_error_wins_as_before_caching():
    """A missing column is named before the formula's size guard is reached, on the first
    and on a cached second fit."""
    f = "y ~ nope + (1 | g)"
    for _ in range(2):
        with pytest.raises(DataError, match="'nope' not found"):
            build_design(f, frame())


# ----- data: copies, column views, labels --------------------------------------------------
def test_the_design_shares_no_memory_with_the_data():
    df = frame()
    d = build_design("y ~ x + (x | g)", df)
    before = df.copy()
    d.X[:] = 0.0
    d.y[:] = 0.0
    pd.testing.assert_frame_equal(df, before)
    d2 = build_design("y ~ x + (x | g)", df)
    x0 = d2.X[0, 1]
    df.loc[0, "x"] = 99.0  # the data changing later does not reach a design made before
    assert d2.X[0, 1] == x0 != 99.0


def test_rows_with_missing_values_are_still_removed():
    df = frame()
    df.loc[[0, 5], "x"] = np.nan
    with pytest.warns(Warning, match="removed 2 of 24 rows"):
        d = build_design("y ~ x + (1 | g)", df)
    assert d.nobs == 22 and d.n_dropped == 2 and 0 not in d.rows


class CountingFrame:
    """A stand-in frame that counts column lookups."""

    def __init__(self, df):
        self.df, self.columns, self.lookups = df, df.columns, []

    def __len__(self):
        return len(self.df)

    def __getitem__(self, name):
        self.lookups.append(name)
        return self.df[name]


def test_a_column_view_takes_each_column_out_once():
    counting = CountingFrame(frame())
    view = variables.Columns(counting)
    for _ in range(3):
        view["x"], view["g"]
    assert counting.lookups == ["x", "g"] and len(view) == 24


def test_categorical_labels_are_cached_per_categories_but_returned_fresh():
    cats = pd.Categorical(["b", "a", "b"], categories=["b", "a"]).categories
    first = variables._category_labels(cats)
    first.append("mutated")
    assert variables._category_labels(cats) == ["b", "a"]
    other = pd.Categorical([2, 10], categories=[10, 2]).categories
    assert variables._category_labels(other) == ["10", "2"]


# ----- settings, budget, call site ----------------------------------------------------------
def test_default_controls_are_shared_frozen_values():
    assert _validate.check_control(None, LmerControl) is _validate.check_control(None,
                                                                                LmerControl)
    assert _validate.check_control(None, LmerControl) == LmerControl()
    assert _validate.check_control(None, GlmerControl) == GlmerControl()
    given_one = LmerControl(maxeval=50)
    assert _validate.check_control(given_one, LmerControl) is given_one


def test_tiny_allocations_skip_the_memory_reading_but_not_an_explicit_budget(monkeypatch):
    def no_reading():
        raise AssertionError("read /proc/meminfo for a tiny allocation")

    monkeypatch.delenv("MULTILEVEL_MAX_BYTES", raising=False)
    monkeypatch.setattr(_validate, "available_memory", no_reading)
    _validate.check_allocation(1000.0, "x", "y")
    monkeypatch.setenv("MULTILEVEL_MAX_BYTES", "100")
    with pytest.raises(DataError, match="budget"):
        _validate.check_allocation(1000.0, "x", "y")
    with pytest.raises(DataError, match="budget"):
        _validate.check_allocation(1000.0, "x", "y", max_bytes=10)


def test_the_data_name_comes_from_each_call_site():
    first_frame = frame()
    second_frame = frame(seed=2)
    names = []
    for data in (first_frame, first_frame):
        names.append(ml.lmer("y ~ x + (1 | g)", first_frame).data_name)
        names.append(ml.lmer("y ~ x + (1 | g)", data=second_frame).data_name)
    assert names == ["first_frame", "second_frame"] * 2


# ----- magnitude and rank screens -------------------------------------------------------------
SPECIAL = [0.0, 1.0, -3.0, 1e-150, 1e-141, -1e-139, 1e149, 1e151, 1e200, np.nan, np.inf]


def magnitudes_by_column(X, xnames, y=None):
    """The plain per-column statement of the rule (the finite values' largest magnitude
    against the limits for that many values), for comparison."""
    columns = ([] if y is None else [("the response 'y'", np.asarray(y, float))]) + [
        (f"the column {xn!r} of the fixed effects", X[:, j]) for j, xn in enumerate(xnames)]
    for what, v in columns:
        v = v[np.isfinite(v)]
        top = float(np.max(np.abs(v))) if v.size else 0.0
        if top > math.sqrt(_validate.MAX_SUM_SQUARES / max(v.size, 1)):
            return what, "overflow"
        if 0 < top < _validate.MIN_MAGNITUDE:
            return what, "underflow"
    return None


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 6), p=st.integers(0, 4), with_y=st.booleans(),
       data=st.data())
def test_the_magnitude_screen_refuses_exactly_what_the_rule_refuses(n, p, with_y, data):
    values = st.sampled_from(SPECIAL)
    X = np.array([[data.draw(values) for _ in range(p)] for _ in range(n)]).reshape(n, p)
    y = np.array([data.draw(values) for _ in range(n)]) if with_y else None
    names = [f"x{j}" for j in range(p)]
    want = magnitudes_by_column(X, names, y)
    if want is None:
        _validate.check_magnitudes(X, names, y, "y")
        return
    with pytest.raises(DataError) as err:
        _validate.check_magnitudes(X, names, y, "y")
    assert str(err.value).startswith(want[0])
    assert ("overflow" in str(err.value)) == (want[1] == "overflow")


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), p=st.integers(1, 6),
       kind=st.sampled_from(["random", "collinear", "nearly", "zero", "integers"]))
def test_the_rank_screen_never_changes_the_kept_columns(seed, n, p, kind):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if kind == "collinear" and p > 1:
        X[:, -1] = 2.0 * X[:, 0] - X[:, 1 % p]
    elif kind == "nearly" and p > 1:
        X[:, -1] = X[:, 0] + 1e-9 * rng.normal(size=n)
    elif kind == "zero":
        X[:, rng.integers(0, p)] = 0.0
    elif kind == "integers":
        X = np.round(X)
    screened = rank.rank_mask(X)
    with pytest.MonkeyPatch.context() as m:  # the exact sequential test alone
        m.setattr(rank, "_clearly_full_rank", lambda X, margin=1e-3, gram=None: False)
        exact = rank.rank_mask(X)
    np.testing.assert_array_equal(screened, exact)
    G = (X.T @ X).tolist()
    if rank._small_gram_clearly_full_rank(G, 1e-3):
        assert exact.all()


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 6), p=st.integers(0, 4), data=st.data())
def test_the_shared_gram_matrix_changes_no_magnitude_or_rank_verdict(n, p, data):
    """build_design forms X'X once (gram_matrix) for the magnitude and the rank screens;
    with it they refuse, warn and keep exactly what they do on their own."""
    from multilevel.design.magnitudes import gram_matrix

    values = st.sampled_from(SPECIAL + [2.0, -0.5, 7.0])
    X = np.array([[data.draw(values) for _ in range(p)] for _ in range(n)]).reshape(n, p)
    names = [f"x{j}" for j in range(p)]
    G = gram_matrix(X)
    if G is not None:
        assert np.isfinite(G).all()
    outcomes = []
    for gram in (None, G):
        try:
            _validate.check_magnitudes(X, names, gram=gram)
            outcome = "ok"
        except DataError as e:
            outcome = str(e)
        if outcome == "ok" and p and np.isfinite(X).all():
            outcome = rank.rank_mask(X, gram=gram).tolist()
        outcomes.append(outcome)
    assert outcomes[0] == outcomes[1]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", "é", "Z", "10",
                                                             "2", " 1", "ä b"])),
                       max_size=40),
       storage=st.sampled_from(["str", "string[pyarrow]", "string[python]"]))
def test_text_is_hashed_the_same_by_arrow_and_by_pandas(values, storage):
    """hash_text: Arrow's dictionary encoding gives pd.factorize's NA rows, first-appearance
    order and positions."""
    arrow = variables.hash_text(pd.array(values, dtype=storage))
    plain = variables.hash_text(np.array(values, dtype=object))
    for a, b in zip(arrow, plain):
        if a is None or b is None:
            assert a is None and b is None
        else:
            assert np.asarray(a).tolist() == np.asarray(b).tolist()


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "object",
                                   "category", "int"])
def test_grouping_and_factor_columns_give_one_design_whatever_their_type(dtype):
    rng = np.random.default_rng(3)
    n = 60
    codes = {"g": rng.integers(0, 7, n), "h": rng.integers(0, 3, n)}
    base = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n)})
    text = {k: np.array([f"{c * 10 + 1}" for c in v], dtype=object) for k, v in codes.items()}
    if dtype != "int":  # two missing groups
        text["g"][[3, 17]] = None

    def typed(k):
        if dtype == "int":
            return codes[k] * 10 + 1
        if dtype == "category":
            return pd.Categorical(text[k])
        return text[k] if dtype == "object" else pd.array(text[k], dtype=dtype)

    f = "y ~ x + factor(h) + (1 | g/h)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = build_design(f, base.assign(**text))
        got = build_design(f, base.assign(g=typed("g"), h=typed("h")))
    same_design(got, want)  # integers: the same labels (numeric order is text order here)
    assert got.n_dropped == (0 if dtype == "int" else 2)


def test_designs_of_the_reference_shapes_are_unchanged_by_a_refit():
    sleep = ml.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in ["Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (Days || Subject)",
                  "Reaction ~ poly(Days, 2) + (1 | Subject)"]:
            same_design(build_design(f, sleep), build_design(f, sleep.copy()))


@pytest.mark.parametrize("codes, levels, want_codes, want_levels", [
    ([2, -1, 0], ["a", "b", "c"], [1, -1, 0], ["a", "c"]),  # NA code and an unused level
    ([1, -1, 0], ["a", "b"], [1, -1, 0], ["a", "b"]),  # NA code, every level used
    ([2, 2, 0], ["a", "b", "c"], [1, 1, 0], ["a", "c"]),  # no NA
])
def test_dropping_unused_levels_keeps_na_codes(codes, levels, want_codes, want_levels):
    """_drop_unused counts levels with bincount; an NA code (-1, which the out-of-core
    engine's distinct values may hold) stays NA instead of failing in bincount."""
    from multilevel.design.model_frame import _drop_unused

    v = _drop_unused(variables.FacVar(np.array(codes), levels, False), "f", {})
    assert (v.codes.tolist(), list(v.levels)) == (want_codes, want_levels)
