"""The fixed-pattern weighted Gram products equal the sparse products they replace."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st

from multilevel.core import sparse_gram


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rows_i=st.integers(1, 30), rows_j=st.integers(1, 30),
       levels=st.integers(1, 60), density=st.floats(0.02, 0.6), lower=st.booleans(),
       chunk=st.integers(1, 50))
def test_gram_plan_equals_sparse_product(monkeypatch, seed, rows_i, rows_j, levels, density,
                                         lower, chunk):
    rng = np.random.default_rng(seed)
    Ai = sp.random(rows_i, levels, density=density, random_state=rng, format="csr")
    Aj = Ai if lower else sp.random(rows_j, levels, density=density, random_state=rng,
                                    format="csr")
    w = rng.random(levels)
    with monkeypatch.context() as m:
        m.setattr(sparse_gram, "CHUNK", chunk)  # several chunks, including empty ones
        got = sparse_gram.gram_plan(Ai, Aj, lower=lower).apply(w)
    want = (Ai @ sp.diags(w) @ Aj.T).toarray()
    if lower:
        want = np.tril(want)
    assert got.flags.f_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_too_many_triples_gives_no_plan(monkeypatch):
    A = sp.csr_matrix(np.ones((10, 3)))
    monkeypatch.setattr(sparse_gram, "MAX_TRIPLES", 299)
    assert sparse_gram.gram_plan(A, A, lower=False) is None
    monkeypatch.setattr(sparse_gram, "MAX_TRIPLES", 300)
    assert sparse_gram.gram_plan(A, A, lower=False).n_triples == 300


def test_empty_block():
    A = sp.csr_matrix((4, 5))
    np.testing.assert_array_equal(sparse_gram.gram_plan(A, A, lower=True).apply(np.ones(5)),
                                  np.zeros((4, 4)))
