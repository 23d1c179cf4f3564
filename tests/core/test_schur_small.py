"""The dense Schur-complement objective (first term eliminated) equals the blocked one."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from multilevel.core.cholesky import logdet_re
from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.lmm import LmmProblem
from multilevel.core.schur_small import SchurObjective, schur_applies
from multilevel.core.theta import n_theta, theta_lower


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 2), min_size=2, max_size=3),
       weighted=st.booleans())
def test_schur_objective_equals_blocked(seed, ps, weighted):
    rng = np.random.default_rng(seed)
    n, levels = 200, [50, 8, 4]
    terms = []
    for p, l in zip(ps, levels):
        codes = rng.integers(0, l, n)
        codes[:l] = np.arange(l)
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(codes, Z, l))
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    A = form_crossproducts(terms, X, rng.normal(size=n), weights=w)
    assert schur_applies(A)
    lower = theta_lower(ps)
    m = sum(n_theta(p) for p in ps)
    theta = np.where(np.isfinite(lower), rng.uniform(0.05, 2.0, m), rng.normal(size=m))
    F = LmmProblem(A).factor(theta)
    ld, LXX = SchurObjective(A)(theta)
    np.testing.assert_allclose(ld, logdet_re(F), rtol=1e-10)
    np.testing.assert_allclose(LXX, F.LXX, rtol=1e-9, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 2), min_size=1, max_size=3))
def test_row_plan_equals_form_crossproducts(seed, ps):
    from multilevel.core.crossprod import RowPlan

    rng = np.random.default_rng(seed)
    n = 120
    terms = [TermData(rng.integers(0, l, n), np.column_stack(
        [np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)]), l)
        for p, l in zip(ps, [20, 7, 3])]
    X, y, w = np.column_stack([np.ones(n), rng.normal(size=n)]), rng.normal(size=n), \
        rng.uniform(0.1, 3.0, n)
    A, B = RowPlan(terms).crossproducts(X, y, w), form_crossproducts(terms, X, y, weights=w)
    for a, b in zip(A.diag + A.fixed + [A.xy], B.diag + B.fixed + [B.xy]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for key in B.cross:
        Bk = B.cross[key]
        np.testing.assert_allclose(A.cross[key], Bk.toarray() if hasattr(Bk, "toarray") else Bk,
                                   rtol=1e-12, atol=1e-12)
