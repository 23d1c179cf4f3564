"""Analytic derivatives of the nested and Schur objectives (``gradient_parts``) equal central
finite differences of the values ``__call__`` returns: ``log|L_Z|^2``, ``log|R_X|^2`` and
``r^2`` separately, and the ML and REML criteria they make."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.lmm import LmmProblem
from multilevel.core.nested import nested_structure
from multilevel.core.nested_objective import NestedObjective
from multilevel.core.schur_small import SchurObjective, schur_applies
from multilevel.core.theta import n_theta, theta_lower

H = 1e-6


def _parts(obj, theta):
    """The three pieces of the criterion from ``__call__``."""
    ld, LXX = obj(theta)
    return np.array([ld, 2.0 * np.sum(np.log(np.diag(LXX)[:-1])), LXX[-1, -1] ** 2])


def _check(obj, theta, rtol=1e-6):
    ld, LXX, g_z, g_x, g_r2 = obj.gradient_parts(theta)
    ld0, LXX0 = obj(theta)
    assert ld == pytest.approx(ld0, rel=1e-12)
    np.testing.assert_allclose(LXX, LXX0, rtol=1e-12, atol=1e-14)
    fd = np.array([(_parts(obj, theta + H * e) - _parts(obj, theta - H * e)) / (2 * H)
                   for e in np.eye(theta.size)]).T
    for got, want in zip((g_z, g_x, g_r2), fd):
        assert got.shape == theta.shape
        scale = 1.0 + np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale)


def _nested_terms(rng, ps, n):
    """Terms from the finest factor to the coarsest, each level inside one coarser level."""
    n_levels = [40, 12, 3][:len(ps)]
    codes = [rng.integers(0, n_levels[0], n)]
    codes[0][:n_levels[0]] = np.arange(n_levels[0])
    for k in range(1, len(ps)):
        parent = np.sort(rng.integers(0, n_levels[k], n_levels[k - 1]))
        parent[:n_levels[k]] = np.arange(n_levels[k])
        codes.append(parent[codes[k - 1]])
    return [TermData(c, np.column_stack([np.ones(n)] + [rng.normal(size=n)
                                                         for _ in range(p - 1)]), l)
            for c, p, l in zip(codes, ps, n_levels)]


def _crossed_terms(rng, ps, n):
    terms = []
    for p, l in zip(ps, [50, 8, 4]):
        codes = rng.integers(0, l, n)
        codes[:l] = np.arange(l)
        terms.append(TermData(codes, np.column_stack(
            [np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)]), l))
    return terms


def _theta(rng, ps, boundary=False):
    """A random theta; with ``boundary`` some diagonal elements are 0 or nearly so."""
    lower = theta_lower(ps)
    m = sum(n_theta(p) for p in ps)
    theta = np.where(np.isfinite(lower), rng.uniform(0.05, 2.0, m), rng.normal(size=m))
    if boundary:
        diag = np.flatnonzero(np.isfinite(lower))
        pick = diag[rng.random(diag.size) < 0.5]
        theta[pick] = rng.choice([0.0, 1e-4], pick.size)
    return theta


def _problem(rng, terms, n, p_x, weighted):
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p_x - 1)])[:, :p_x]
    y = rng.normal(size=n) + terms[0].Z[:, 0] * rng.normal(size=terms[0].n_levels)[
        terms[0].codes]
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    return form_crossproducts(terms, X, y, weights=w)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       p_x=st.integers(0, 3), weighted=st.booleans(), boundary=st.booleans())
def test_nested_gradient_parts_equal_finite_differences(seed, ps, p_x, weighted, boundary):
    rng = np.random.default_rng(seed)
    n = 150
    A = _problem(rng, _nested_terms(rng, ps, n), n, p_x, weighted)
    obj = NestedObjective(A, nested_structure(A))
    _check(obj, _theta(rng, ps, boundary))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       p_x=st.integers(0, 3), weighted=st.booleans(), boundary=st.booleans())
def test_schur_gradient_parts_equal_finite_differences(seed, ps, p_x, weighted, boundary):
    rng = np.random.default_rng(seed)
    n = 200
    A = _problem(rng, _crossed_terms(rng, ps, n), n, p_x, weighted)
    assert schur_applies(A)
    _check(SchurObjective(A), _theta(rng, ps, boundary))


@pytest.mark.parametrize("kind", ["nested", "schur"])
@pytest.mark.parametrize("reml", [True, False])
def test_criterion_gradient_from_parts(kind, reml):
    """The ML and REML criteria's gradients assembled from the parts (as LmmProblem does)
    equal finite differences of LmmProblem.objective."""
    rng = np.random.default_rng(7)
    n = 300
    terms = (_nested_terms(rng, [2, 2], n) if kind == "nested"
             else _crossed_terms(rng, [1, 2], n))
    A = _problem(rng, terms, n, 2, weighted=True)
    obj = (NestedObjective(A, nested_structure(A)) if kind == "nested" else SchurObjective(A))
    prob = LmmProblem(A, reml=reml)
    theta = _theta(rng, [2, 2] if kind == "nested" else [1, 2])
    _, LXX, g_z, g_x, g_r2 = obj.gradient_parts(theta)
    r2 = LXX[-1, -1] ** 2
    grad = (g_z + g_x + (A.nobs - A.p_x) * g_r2 / r2 if reml
            else g_z + A.nobs * g_r2 / r2)
    fd = np.array([(prob.objective(theta + H * e) - prob.objective(theta - H * e)) / (2 * H)
                   for e in np.eye(theta.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-5)


def test_gradient_vanishes_at_a_fitted_optimum():
    """At an interior optimum found by a derivative-free search the analytic gradient of the
    REML criterion is near zero (a check that the parts are assembled with the right
    signs, independent of finite differences)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    n = 600
    terms = _nested_terms(rng, [1, 1], n)
    codes0, codes1 = terms[0].codes, terms[1].codes
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (X @ [1.0, 0.5] + rng.normal(0, 1.0, 40)[codes0] + rng.normal(0, 0.7, 12)[codes1]
         + rng.normal(size=n))
    A = form_crossproducts(terms, X, y)
    prob = LmmProblem(A, reml=True)
    res = minimize(prob.objective, np.ones(2), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    obj = NestedObjective(A, nested_structure(A))
    _, LXX, g_z, g_x, g_r2 = obj.gradient_parts(res.x)
    grad = g_z + g_x + (n - 2) * g_r2 / LXX[-1, -1] ** 2
    assert np.all(res.x > 0.05)
    np.testing.assert_allclose(grad, 0.0, atol=1e-3)



@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=2, max_size=3),
       weighted=st.booleans())
def test_update_l_by_level_blocks_equals_blocked(seed, ps, weighted):
    """update_L with a nested plan (level blocks laid out as a Factor) gives the blocked
    update's blocks, solutions and conditional variances."""
    from multilevel.core.cholesky import BlockDiag, Plan, make_plan, update_L
    from multilevel.core.lmm import cond_var

    rng = np.random.default_rng(seed)
    n = 200
    A = _problem(rng, _nested_terms(rng, ps, n), n, 2, weighted)
    theta = _theta(rng, ps, boundary=bool(seed % 2))
    plan = make_plan(A)
    assert plan.nested is not None
    blocked = Plan(block_diagonal=plan.block_diagonal)
    F1, F0 = update_L(A, theta, plan), update_L(A, theta, blocked)
    for key, B0 in F0.blocks.items():
        B1 = F1.blocks[key]
        if isinstance(B0, BlockDiag):
            np.testing.assert_allclose(B1.L, B0.L, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(B1.Linv, B0.Linv, rtol=1e-10, atol=1e-12)
        else:
            assert hasattr(B1, "toarray") == hasattr(B0, "toarray"), key
            d0 = B0.toarray() if hasattr(B0, "toarray") else B0
            d1 = B1.toarray() if hasattr(B1, "toarray") else B1
            np.testing.assert_allclose(d1, d0, rtol=1e-10, atol=1e-12)
    p0, p1 = LmmProblem(A, plan=blocked), LmmProblem(A, plan=plan)
    s0, s1 = p0.solve(theta), p1.solve(theta)
    np.testing.assert_allclose(s1.beta, s0.beta, rtol=1e-9, atol=1e-12)
    for a, b in zip(s1.b, s0.b):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(cond_var(A, F1, 1.3), cond_var(A, F0, 1.3)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(1, 2), p_x=st.integers(0, 3),
       weighted=st.booleans(), boundary=st.booleans())
def test_single_term_closed_form_equals_level_factor(seed, p, p_x, weighted, boundary):
    """One term in closed form (SingleTermObjective) gives the level-block factor's values
    and derivatives, and its derivatives equal finite differences."""
    from multilevel.core.nested import NestedSystem, nested_factor, nested_gradient
    from multilevel.core.single_term import SingleTermObjective
    from multilevel.core.theta import split_theta

    rng = np.random.default_rng(seed)
    n = 120
    A = _problem(rng, _nested_terms(rng, [p], n), n, p_x, weighted)
    S = NestedSystem.from_crossproducts(A, {})
    assert SingleTermObjective.applies(S)
    obj = SingleTermObjective(S)
    theta = _theta(rng, [p], boundary)
    F = nested_factor(S, split_theta(theta, [p]))
    got = obj.gradient_parts(theta)
    assert got[0] == pytest.approx(F.logdet, rel=1e-11)
    np.testing.assert_allclose(got[1], F.LXX, rtol=1e-10, atol=1e-12)
    for a, b in zip(got[2:], nested_gradient(S, F)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * (1 + np.abs(b).max()))
    _check(obj, theta)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p0=st.integers(1, 2), p1=st.integers(1, 3),
       p_x=st.integers(0, 3), weighted=st.booleans(), boundary=st.booleans())
def test_two_level_closed_form_equals_level_factor(seed, p0, p1, p_x, weighted, boundary):
    """Two nested terms with the finer in closed form (TwoLevelObjective) give the level-block
    factor's values and derivatives, and its derivatives equal finite differences."""
    from multilevel.core.nested import NestedSystem, nested_factor, nested_gradient
    from multilevel.core.nested_two import TwoLevelObjective
    from multilevel.core.theta import split_theta

    rng = np.random.default_rng(seed)
    n = 150
    A = _problem(rng, _nested_terms(rng, [p0, p1], n), n, p_x, weighted)
    S = NestedSystem.from_crossproducts(A, nested_structure(A))
    assert TwoLevelObjective.applies(S)
    obj = TwoLevelObjective(S)
    theta = _theta(rng, [p0, p1], boundary)
    F = nested_factor(S, split_theta(theta, [p0, p1]))
    got = obj.gradient_parts(theta)
    assert got[0] == pytest.approx(F.logdet, rel=1e-11)
    np.testing.assert_allclose(got[1], F.LXX, rtol=1e-10, atol=1e-12)
    for a, b in zip(got[2:], nested_gradient(S, F)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * (1 + np.abs(b).max()))
    _check(obj, theta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 2), min_size=2, max_size=3),
       p_x=st.integers(0, 3), boundary=st.booleans())
def test_schur_closed_form_equals_batched_factor(seed, ps, p_x, boundary):
    """The Schur objective's closed-form first term gives the batched-Cholesky path's values
    and derivatives."""
    rng = np.random.default_rng(seed)
    n = 200
    A = _problem(rng, _crossed_terms(rng, ps, n), n, p_x, weighted=bool(seed % 2))
    obj = SchurObjective(A)
    assert obj._closed_form
    theta = _theta(rng, ps, boundary)
    got = obj.gradient_parts(theta)
    obj._closed_form = False
    want = obj.gradient_parts(theta)
    assert got[0] == pytest.approx(want[0], rel=1e-11)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)
    for a, b in zip(got[2:], want[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * (1 + np.abs(b).max()))


def test_block_diagonal_terms_two_terms_agree_with_symbolic_pattern():
    """For two terms the level-pair check gives the symbolic factorisation's answer: nested
    and same-factor terms keep a block-diagonal second block, crossed ones do not."""
    from multilevel.core.cholesky import _level_pattern, block_diagonal_terms

    for seed in range(40):
        rng = np.random.default_rng(seed)
        ps = [[1, 1], [2, 1], [1, 2], [2, 2]][seed % 4]
        terms = (_nested_terms(rng, ps, 120) if seed % 3 == 0
                 else _crossed_terms(rng, ps, 120))
        if seed % 5 == 0:  # the same grouping factor twice, as (x || g)
            t = terms[0]
            terms = [t, TermData(t.codes, t.Z[:, :1] * 2.0, t.n_levels)]
        A = _problem(rng, terms, 120, 2, weighted=False)
        P = _level_pattern(A.cross[(1, 0)], A.ps[1], A.ps[0])
        want = {1} if int(P.getnnz(axis=0).max(initial=0)) <= 1 else set()
        assert block_diagonal_terms(A) == want
