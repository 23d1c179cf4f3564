"""The parent levels of a cross-product block: the dense shortcut agrees with the entry scan."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from multilevel.core.nested import _parents  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p_rows=st.integers(1, 3), p_cols=st.integers(1, 3),
       nested=st.booleans(), empty_level=st.booleans())
def test_dense_parents_match_the_sparse_scan(seed, p_rows, p_cols, nested, empty_level):
    rng = np.random.default_rng(seed)
    l_rows, l_cols = int(rng.integers(1, 6)), int(rng.integers(1, 12))
    owner = rng.integers(0, l_rows, l_cols)
    M = np.zeros((l_rows * p_rows, l_cols * p_cols))
    for c in range(l_cols):
        rows = [owner[c]] if nested else rng.choice(l_rows, int(rng.integers(1, l_rows + 1)),
                                                     replace=False)
        for r in rows:
            block = rng.normal(size=(p_rows, p_cols)) * (rng.random((p_rows, p_cols)) < 0.8)
            block[0, 0] = 1.0 + rng.random()  # every touched pair of levels has an entry
            M[r * p_rows:(r + 1) * p_rows, c * p_cols:(c + 1) * p_cols] = block
    if empty_level:
        M[:, :p_cols] = 0.0  # a column level that touches no row level
    dense = _parents(M, l_rows, p_rows, l_cols, p_cols)
    import scipy.sparse as sp

    scan = _parents(sp.csr_matrix(M), l_rows, p_rows, l_cols, p_cols)
    assert (dense is None) == (scan is None)
    if dense is not None:
        np.testing.assert_array_equal(dense, scan)


def test_nested_block_gives_each_level_its_parent():
    M = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])  # levels 0, 1 in row level 0; 2 in 1
    assert _parents(M, 2, 1, 3, 1).tolist() == [0, 0, 1]
    M[1, 0] = 1.0  # level 0 now meets both row levels: crossed
    assert _parents(M, 2, 1, 3, 1) is None
