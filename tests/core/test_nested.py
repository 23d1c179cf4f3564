"""Nested grouping factors: the batched level-block objective and PLS solve equal the
blocked (sparse) ones, and only nested patterns take that path."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from multilevel.core.cholesky import logdet_re
from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.lmm import LmmProblem
from multilevel.core.nested import (NestedSystem, _GroupSum, nested_factor, nested_solve,
                                    nested_structure)
from multilevel.core.nested_objective import NestedObjective
from multilevel.core.theta import n_theta, split_theta, theta_lower


def _nested_terms(rng, ps, n):
    """Terms from the finest factor to the coarsest, each level inside one coarser level."""
    n_levels = [40, 12, 3][:len(ps)]
    codes = [rng.integers(0, n_levels[0], n)]
    codes[0][:n_levels[0]] = np.arange(n_levels[0])
    for k in range(1, len(ps)):
        parent = np.sort(rng.integers(0, n_levels[k], n_levels[k - 1]))
        parent[:n_levels[k]] = np.arange(n_levels[k])
        codes.append(parent[codes[k - 1]])
    terms = []
    for c, p, l in zip(codes, ps, n_levels):
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(c, Z, l))
    return terms


def _theta(rng, ps):
    lower = theta_lower(ps)
    m = sum(n_theta(p) for p in ps)
    return np.where(np.isfinite(lower), rng.uniform(0.05, 2.0, m), rng.normal(size=m))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       weighted=st.booleans())
def test_nested_objective_and_solve_equal_blocked(seed, ps, weighted):
    rng = np.random.default_rng(seed)
    n = 150
    terms = _nested_terms(rng, ps, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    A = form_crossproducts(terms, X, y, weights=w)
    parents = nested_structure(A)
    assert parents is not None
    theta = _theta(rng, ps)
    prob = LmmProblem(A, reml=True)
    F = prob.factor(theta)
    ld, LXX = NestedObjective(A, parents)(theta)
    np.testing.assert_allclose(ld, logdet_re(F), rtol=1e-10)
    np.testing.assert_allclose(LXX, F.LXX, rtol=1e-9, atol=1e-10)
    # the same system straight from the rows, and its solution
    sums = {(j, k): _GroupSum(par, terms[j].n_levels) for (j, k), par in parents.items()}
    S = NestedSystem.from_rows(terms, parents, np.column_stack([X, y]), w, sums)
    NF = nested_factor(S, split_theta(theta, ps))
    beta, us = nested_solve(NF, S)
    sol = prob.solve(theta)
    np.testing.assert_allclose(beta, sol.beta, rtol=1e-8, atol=1e-10)
    for a, b in zip(us, sol.u):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_crossed_factors_are_not_nested():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 6, 100), rng.integers(0, 5, 100)
    A = form_crossproducts([TermData(a, np.ones((100, 1)), 6), TermData(b, np.ones((100, 1)), 5)],
                           np.ones((100, 1)), rng.normal(size=100))
    assert nested_structure(A) is None
