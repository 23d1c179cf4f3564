"""The exact gradient and Hessian of a small model's profiled criterion
(:class:`multilevel.core.dense_newton.DenseNewton`) equal finite differences, ML and REML,
with prior weights, for scalar, 2 x 2 and 3 x 3 terms and crossed terms; its ``f`` is the
problem's own criterion to the last bit; Newton's method from lme4's start lands where
BOBYQA lands (or lower), singular fits included."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.dense_newton import DenseNewton
from multilevel.core.lmm import BAD_OBJECTIVE, LmmProblem
from multilevel.core.optimize import bobyqa
from multilevel.core.theta import n_theta, theta_columns, theta_lower, theta_start
from multilevel.core.trust_region import trust_sr1

H = 1e-6


def _problem(seed: int, ps: list[int], reml: bool, n: int = 60, levels=(6, 4, 3),
             weighted: bool = False, signal: float = 1.0) -> LmmProblem:
    """Random data with ``len(ps)`` crossed grouping factors, term ``k`` with ``ps[k]``
    columns, two fixed effects; ``signal`` scales the between-group variation."""
    rng = np.random.default_rng(seed)
    terms, x = [], rng.normal(size=n)
    y = 1.0 + 0.5 * x + rng.normal(size=n)
    for p, l in zip(ps, levels):
        codes = np.concatenate([np.arange(l), rng.integers(0, l, n - l)])
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        y = y + signal * np.einsum("ij,ij->i", Z, rng.normal(size=(l, p))[codes])
        terms.append(TermData(codes, Z, l))
    X = np.column_stack([np.ones(n), x])
    if weighted:  # prior weights enter as sqrt(w) on every row and log|W| in the criterion
        w = rng.uniform(0.5, 2.0, n)
        s = np.sqrt(w)
        terms = [TermData(t.codes, t.Z * s[:, None], t.n_levels) for t in terms]
        return LmmProblem(form_crossproducts(terms, X * s[:, None], y * s), reml=reml,
                          log_det_w=float(np.log(w).sum()))
    return LmmProblem(form_crossproducts(terms, X, y), reml=reml)


def _theta(rng, ps) -> np.ndarray:
    theta = rng.uniform(0.2, 1.5, sum(n_theta(p) for p in ps))
    free = ~np.isfinite(theta_lower(ps))
    theta[free] = rng.uniform(-0.8, 0.8, free.sum())
    return theta


@pytest.mark.parametrize("ps", [[1], [2], [3], [2, 1], [1, 1]])
@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_derivatives_equal_finite_differences(ps, reml, weighted):
    prob = _problem(sum(ps) + 10 * reml, ps, reml, weighted=weighted)
    dn = DenseNewton(prob)
    theta = _theta(np.random.default_rng(3), ps)
    f, g, Hs = dn(theta)
    assert f == prob.objective(theta)  # the problem's own criterion, bit for bit
    fd = np.array([(prob.objective(theta + H * e) - prob.objective(theta - H * e)) / (2 * H)
                   for e in np.eye(theta.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5)
    fd2 = np.array([(dn(theta + H * e)[1] - dn(theta - H * e)[1]) / (2 * H)
                    for e in np.eye(theta.size)])
    np.testing.assert_allclose(Hs, fd2, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(Hs, Hs.T)


def test_not_positive_definite_is_bad_objective():
    prob = _problem(1, [1], False)
    dn = DenseNewton(prob)
    with np.errstate(invalid="ignore"):
        assert dn(np.array([np.nan]))[1:] == (None, None)
        assert dn(np.array([np.inf]))[0] == BAD_OBJECTIVE


def test_applies_only_with_the_quadratic_expansion():
    assert DenseNewton.applies(_problem(1, [2], True))
    big = _problem(1, [1], True, n=400, levels=(80,))  # order 83: not the dense path
    assert not DenseNewton.applies(big)


def _fit_both(prob, ps):
    start = theta_start(ps)
    lower = theta_lower(ps)
    newton = trust_sr1(DenseNewton(prob), start, lower, columns=theta_columns(ps),
                       hessian=True)
    ref = bobyqa(prob.objective, start, lower)
    return newton, ref


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shape=st.sampled_from([[1], [2], [3], [2, 1], [1, 1]]),
       reml=st.booleans(), signal=st.sampled_from([0.0, 0.3, 1.0, 3.0]))
def test_newton_lands_where_bobyqa_lands(seed, shape, reml, signal):
    """From lme4's start, with little or no between-group variation (singular optima) up to
    a lot: Newton's optimum is BOBYQA's, or lower."""
    prob = _problem(seed, shape, reml, signal=signal)
    newton, ref = _fit_both(prob, shape)
    assert newton.converged and newton.optimizer == "trust-region Newton"
    assert newton.fmin <= ref.fmin + 1e-6 * max(1.0, abs(ref.fmin))
    assert np.all(newton.theta >= theta_lower(shape))


def test_newton_takes_few_evaluations():
    prob = _problem(7, [2], False)
    newton, ref = _fit_both(prob, [2])
    assert newton.feval < ref.feval / 2
    np.testing.assert_allclose(newton.theta, ref.theta, atol=1e-4)


def test_lmer_uses_newton_with_the_gradient_and_falls_back_to_bobyqa(monkeypatch):
    import multilevel as ml

    sleep = ml.datasets.load("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    ref = ml.lmer(f, sleep)  # three thetas: lme4's BOBYQA by default
    m = ml.lmer(f, sleep, control=ml.LmerControl(optimizer="gradient"))
    assert m.opt_summary.optimizer == "trust-region Newton" and m.opt_summary.converged
    assert m.opt_summary.feval < ref.opt_summary.feval / 2
    assert m.loglik >= ref.loglik - 1e-7
    monkeypatch.setattr(DenseNewton, "__call__", lambda self, theta: (np.inf, None, None))
    fb = ml.lmer(f, sleep, control=ml.LmerControl(optimizer="gradient"))
    assert fb.opt_summary.optimizer == "bobyqa" and "BOBYQA from the start" in fb.opt_summary.log[-1]
    assert fb.loglik == pytest.approx(ref.loglik, abs=1e-7)
