"""Cross-products do not depend on the order of the rows: rows stored level by level sum by
runs (np.add.reduceat), others by bincount; both give the same blocks to rounding."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from multilevel.core.crossprod import TermData, _LevelSums, form_crossproducts  # noqa: E402


def _dense(M):
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(1, 2), weighted=st.booleans())
def test_sorted_and_shuffled_rows_give_the_same_crossproducts(seed, p, weighted):
    rng = np.random.default_rng(seed)
    n, l1 = int(rng.integers(20, 200)), int(rng.integers(1, 12))
    g = np.sort(np.concatenate([np.arange(l1), rng.integers(0, l1, n - l1)]))  # all present
    h = rng.integers(0, 4, n)
    x = rng.normal(size=n)
    Z = np.column_stack([np.ones(n), x])[:, :p]
    X, y = np.column_stack([np.ones(n), rng.normal(size=n)]), rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    perm = rng.permutation(n)

    def form(rows):
        terms = [TermData(g[rows], Z[rows], l1), TermData(h[rows], np.ones((n, 1)), 4)]
        return form_crossproducts(terms, X[rows], y[rows],
                                  weights=None if w is None else w[rows])

    a, b = form(np.arange(n)), form(perm)
    assert _LevelSums(g, l1).starts is not None  # the sorted rows took the runs
    for u, v in zip(a.diag + a.fixed, b.diag + b.fixed):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_dense(a.cross[(1, 0)]), _dense(b.cross[(1, 0)]),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.xy, b.xy, rtol=1e-12, atol=1e-12)


def test_level_sums_fall_back_where_a_level_has_no_rows():
    sums = _LevelSums(np.array([0, 0, 2]), 3)  # sorted, but level 1 is empty
    assert sums.starts is None
    assert [v.tolist() for v in sums([(None, None)])] == [[2.0, 0.0, 1.0]]
