"""The separation pre-test: the positive-multiplier certificate never clears data that the
linear programs find (quasi-)separated, and it clears the ordinary cases by itself."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multilevel.fit import glmer_separation as sep


def _lp(X, y):
    return sep._separation_lp(X, y, [f"x{k}" for k in range(X.shape[1])])


@settings(max_examples=150, deadline=None)
@given(n=st.integers(3, 25), p=st.integers(1, 3), seed=st.integers(0, 10_000),
       binary=st.booleans(), coarse=st.booleans())
def test_certificate_agrees_with_linear_programs(n, p, seed, binary, coarse):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    if coarse:  # few distinct rows: separation and ties are common
        X[:, 1:] = np.round(X[:, 1:])
    y = (rng.random(n) < 0.5).astype(float) if binary else rng.integers(0, 4, n) / 3.0
    if sep.no_separation_certificate(X, y):
        assert _lp(X, y) == (False, [])


@pytest.mark.parametrize("y", [[0, 1, 0, 1, 1, 1.0], [1, 1, 1, 0, 0, 0.0],
                               [0.5, 0.25, 0, 1, 1, 1.0]])
def test_separated_data_get_no_certificate(y):
    X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]])
    y = np.asarray(y)
    assert not sep.no_separation_certificate(X, y)
    complete, cols = sep.check_separation(X, y, ["(Intercept)", "x"])
    assert complete or cols


def test_ordinary_data_need_no_linear_program(monkeypatch):
    rng = np.random.default_rng(3)
    n = 5000  # above the subsample size
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ [0.2, 1.0, -0.5]))).astype(float)

    def no_lp(*args):
        raise AssertionError("the linear programs ran")
    monkeypatch.setattr(sep, "_separation_lp", no_lp)
    assert sep.check_separation(X, y, ["(Intercept)", "x", "z"]) == (False, [])
    # proportions of a binomial response: every cell has both outcomes
    props = np.clip(rng.random(n), 0.05, 0.95)
    assert sep.check_separation(X, props, ["(Intercept)", "x", "z"]) == (False, [])


def test_rank_deficient_design_falls_back():
    X = np.column_stack([np.ones(6), np.ones(6)])
    assert not sep.no_separation_certificate(X, np.array([0, 1, 0, 1, 0, 1.0]))
