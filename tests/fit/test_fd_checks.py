"""lme4's finite-difference convergence checks: the same numbers however the points are
evaluated (one at a time, in one batch, with the optimiser's value at the optimum)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from multilevel.core.cholesky import NotPositiveDefinite
from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.lmm import BAD_OBJECTIVE, LmmProblem
from multilevel.fit.checks import check_convergence, fd_derivs


def _quartic(x):
    return float(np.sum(x ** 4) + x[0] * np.sum(x) + np.prod(np.cos(x)))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1), near_bound=st.booleans())
def test_batched_and_sequential_points_give_the_same_derivatives(n, seed, near_bound):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, n)
    lower = np.where(rng.uniform(size=n) < 0.5, 0.0, -np.inf)
    if near_bound:
        x[0], lower[0] = 5e-5, 0.0  # inside a step of the bound: one-sided differences
    calls = []

    def fn(t):
        calls.append(t.copy())
        return _quartic(t)

    g, H = fd_derivs(fn, x, lower)
    n_pairs = n * (n - 1) // 2
    assert len(calls) == 1 + 2 * n + n_pairs  # the centre once, no unused f(x)
    batches = []

    def many(P):
        batches.append(len(P))
        return [_quartic(p) for p in P]

    # a batch evaluates its own centre, even when f(x) is known: all values the same way
    g2, H2 = fd_derivs(None, x, lower, fn_many=many, f_x=_quartic(x))
    assert batches == [1 + 2 * n + n_pairs]
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(H2, H)
    calls.clear()
    g3, H3 = fd_derivs(fn, x, lower, f_x=_quartic(x))
    np.testing.assert_array_equal(g3, g)
    np.testing.assert_array_equal(H3, H)
    assert len(calls) == 2 * n + n_pairs + (1 if near_bound else 0)
    assert check_convergence(fn, x, lower) == check_convergence(
        None, x, lower, fn_many=lambda P: [_quartic(p) for p in P], f_theta=_quartic(x))


def test_derivatives_are_lme4s_differences():
    x, h = np.array([0.7, 1.3]), 1e-4
    f = _quartic
    g, H = fd_derivs(f, x, np.array([0.0, -np.inf]))
    e0, e1 = np.array([h, 0.0]), np.array([0.0, h])
    assert g[0] == (f(x + e0) - f(x - e0)) / (2 * h)
    assert H[1, 1] == (f(x + e1) - 2 * f(x) + f(x - e1)) / h ** 2
    assert H[0, 1] == H[1, 0] == (f(x + e0 + e1) - f(x + e0) - f(x + e1) + f(x)) / h ** 2


def _problem(seed=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(6), 5)
    Z = np.column_stack([np.ones(30), rng.normal(size=30)])
    A = form_crossproducts([TermData(g, Z, 6)], np.ones((30, 1)), rng.normal(size=30))
    return LmmProblem(A, reml=False)


def test_objectives_batch_equals_objective_per_row():
    prob = _problem()
    thetas = np.array([[1.0, 0.2, 0.5], [0.3, -0.1, 0.0], [0.0, 0.0, 0.0]])
    want = [prob.objective(t) for t in thetas]
    np.testing.assert_array_equal(prob.objectives(thetas), want)


class _Batched:
    """A fast objective with a ``many`` method (rows evaluated one by one here)."""

    def __init__(self, inner, fail=False):
        self.inner, self.fail, self.calls = inner, fail, 0

    def __call__(self, theta):
        return self.inner(theta)

    def many(self, thetas):
        self.calls += 1
        if self.fail:
            raise NotPositiveDefinite("a row")
        parts = [self.inner(t) for t in thetas]
        return np.array([p[0] for p in parts]), np.array([p[1] for p in parts])


def test_objectives_uses_a_batched_fast_objective_and_falls_back_per_row():
    prob = _problem()
    prob._compiled_criterion = False  # numpy's objectives (compiled, one C call per row)
    thetas = np.array([[1.0, 0.2, 0.5], [0.4, 0.3, 0.9]])
    want = [prob.objective(t) for t in thetas]
    inner = prob._fast()
    prob._fast_objective = batched = _Batched(inner)
    np.testing.assert_array_equal(prob.objectives(thetas), want)
    assert batched.calls == 1
    prob._fast_objective = _Batched(inner, fail=True)  # not positive definite somewhere
    np.testing.assert_array_equal(prob.objectives(thetas), want)


def test_objectives_marks_indefinite_rows_bad():
    prob = _problem()
    prob._compiled_criterion = False  # numpy's objectives
    prob._fast_objective = False  # the blocked update, which raises on a failed pivot

    def boom(theta):
        raise NotPositiveDefinite("test")

    prob.factor = boom
    assert prob.objectives(np.array([[1.0, 0.0, 1.0]])).tolist() == [BAD_OBJECTIVE]
