"""Small models' dense objective equals the blocked one (same factor, same criterion)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from multilevel.core.crossprod import TermData, form_crossproducts
import pytest

from multilevel.core.cholesky import NotPositiveDefinite
from multilevel.core.batched import cholesky_lower
from multilevel.core.dense_small import DenseObjective, dense_crossproducts
from multilevel.core.lmm import BAD_OBJECTIVE, LmmProblem
from multilevel.core.theta import n_theta, theta_lower


def _random_crossproducts(rng, ps, n):
    """Crossed terms with ``ps[k]`` effects and 2-5 levels each, two fixed effects."""
    terms = []
    for p in ps:
        l = int(rng.integers(2, 6))
        codes = np.concatenate([np.arange(l), rng.integers(0, l, n - l)])
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(codes, Z, l))
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    return form_crossproducts(terms, X, rng.normal(size=n))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       reml=st.booleans())
def test_dense_objective_equals_blocked(seed, ps, reml):
    rng = np.random.default_rng(seed)
    A = _random_crossproducts(rng, ps, 60)
    blocked, dense = LmmProblem(A, reml=reml), LmmProblem(A, reml=reml)
    blocked._fast_objective = False  # the blocked update
    dense._fast_objective = DenseObjective(A)
    m = sum(n_theta(p) for p in ps)
    lower = theta_lower(ps)
    theta = np.where(np.isfinite(lower), rng.uniform(0.0, 2.0, m), rng.normal(size=m))
    np.testing.assert_allclose(dense.objective(theta), blocked.objective(theta), rtol=1e-11)
    # the quadratic expansion of S in theta and the Lambda products give the same factor
    obj = DenseObjective(A)
    if obj._expansion is None:  # many thetas: the stack would be large, not used
        return
    ld, LXX = obj(theta)
    obj._expansion = None
    ld2, LXX2 = obj(theta)
    np.testing.assert_allclose(ld, ld2, rtol=1e-12)
    np.testing.assert_allclose(LXX, LXX2, rtol=1e-10, atol=1e-12 * np.abs(LXX2).max())


def test_small_models_use_the_dense_objective_and_large_ones_do_not():
    from multilevel.core.nested_objective import NestedObjective

    def one_term(levels):
        g = np.repeat(np.arange(levels), 3)
        return [TermData(g, np.ones((3 * levels, 1)), levels)]

    def problem(terms):
        n = terms[0].codes.size
        return LmmProblem(form_crossproducts(terms, np.ones((n, 1)), np.arange(n, dtype=float)))

    # one (1 | g) term: dense up to order 28, then its closed form
    assert isinstance(problem(one_term(20))._fast(), DenseObjective)
    assert isinstance(problem(one_term(40))._fast(), NestedObjective)
    # two crossed terms of 20 and 20 levels (order 42): dense; of 40 and 40: not
    rng = np.random.default_rng(0)
    for levels, dense in ((20, True), (40, False)):
        t1 = one_term(levels)[0]
        t2 = TermData(rng.permutation(t1.codes), np.ones((3 * levels, 1)), levels)
        assert isinstance(problem([t1, t2])._fast(), DenseObjective) is dense
    assert not isinstance(problem(one_term(80))._fast(), DenseObjective)


def test_dense_crossproducts_is_the_full_gram():
    rng = np.random.default_rng(3)
    g1, g2 = rng.integers(0, 3, 30), rng.integers(0, 4, 30)
    Z1 = np.column_stack([np.ones(30), rng.normal(size=30)])
    X = np.ones((30, 1))
    y = rng.normal(size=30)
    A = form_crossproducts([TermData(g1, Z1, 3), TermData(g2, np.ones((30, 1)), 4)], X, y)
    Zfull = np.zeros((30, 10))
    Zfull[np.arange(30), 2 * g1] = Z1[:, 0]
    Zfull[np.arange(30), 2 * g1 + 1] = Z1[:, 1]
    Zfull[np.arange(30), 6 + g2] = 1.0
    W = np.column_stack([Zfull, X, y])
    np.testing.assert_allclose(dense_crossproducts(A), W.T @ W, atol=1e-12)


def test_a_failed_pivot_raises_not_positive_definite():
    with pytest.raises(NotPositiveDefinite):
        cholesky_lower(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with np.errstate(all="raise"):  # and no floating-point warning or error escapes
        with pytest.raises(NotPositiveDefinite):
            cholesky_lower(np.diag([1.0, -1.0]))


def test_the_expansion_is_skipped_when_its_stack_would_be_large():
    rng = np.random.default_rng(5)
    n = 200
    terms = [TermData(rng.integers(0, 6, n), np.column_stack([np.ones(n)] + [
        rng.normal(size=n) for _ in range(3)]), 6),
        TermData(rng.integers(0, 5, n), np.column_stack([np.ones(n), rng.normal(size=n)]), 5)]
    A = form_crossproducts(terms, np.ones((n, 1)), rng.normal(size=n))
    obj = DenseObjective(A)  # 13 thetas, order 36: 105 matrices of 1,296 entries
    assert obj._expansion is None
    theta = np.r_[1.0, 0.1, 0.2, 0.3, 1.0, 0.1, 0.2, 1.0, 0.1, 1.0, 0.5, 0.2, 0.7]
    ld, LXX = obj(theta)
    assert np.isfinite(ld) and np.isfinite(LXX).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       reml=st.booleans())
def test_criterion_function_and_batches_give_the_objective(seed, ps, reml):
    """The optimiser's lean numpy function is ``objective`` to the last bit, the compiled one
    (where built) equals it to rounding; the batched evaluation of the convergence checks
    (one matrix product, one batched Cholesky) equals it to rounding."""
    rng = np.random.default_rng(seed)
    A = _random_crossproducts(rng, ps, 50)
    prob = LmmProblem(A, reml=reml)
    prob._compiled_criterion = False  # numpy's path, as without the extension
    lower = theta_lower(ps)
    m = sum(n_theta(p) for p in ps)
    thetas = np.where(np.isfinite(lower), rng.uniform(0.0, 2.0, (4, m)), rng.normal(size=(4, m)))
    f = prob.objective_function()
    single = [prob.objective(t) for t in thetas]
    assert [f(t) for t in thetas] == single
    assert prob.batches
    np.testing.assert_allclose(prob.objectives(thetas), single, rtol=1e-12)
    compiled = LmmProblem(A, reml=reml)
    np.testing.assert_allclose([compiled.objective_function()(t) for t in thetas], single,
                               rtol=1e-11)
    np.testing.assert_allclose(compiled.objectives(thetas), single, rtol=1e-11)


def test_a_batch_with_a_failed_point_is_evaluated_row_by_row():
    g = np.repeat(np.arange(3), 2)
    A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
                           np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
    prob = LmmProblem(A)
    with pytest.raises(NotPositiveDefinite):
        prob._fast().many(np.array([[0.5], [np.nan]]))
    with np.errstate(invalid="ignore"):
        out = prob.objectives(np.array([[0.5], [np.nan]]))
    assert out[0] == pytest.approx(prob.objective(np.array([0.5])), rel=1e-12)
    assert out[1] == BAD_OBJECTIVE  # the failed row alone
