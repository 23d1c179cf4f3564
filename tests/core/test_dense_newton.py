"""The exact gradient and Hessian of a small model's profiled criterion
(:class:`multilevel.core.dense_newton.DenseNewton`) equal finite differences, ML and REML,
with prior weights, for scalar, 2 x 2 and 3 x 3 terms and crossed terms; its ``f`` is the
problem's own criterion to the last bit; the convergence checks after the gradient method
take its Hessian."""
from __future__ import annotations

import numpy as np
import pytest

from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.dense_newton import DenseNewton
from multilevel.core.lmm import BAD_OBJECTIVE, LmmProblem
from multilevel.core.theta import n_theta, theta_lower

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


def test_checks_take_the_exact_hessian_after_the_gradient_method():
    """lmer with the gradient method hands the convergence checks DenseNewton: the same
    gradient as the quasi-Newton one's and a Hessian close to its differences."""
    import multilevel as ml
    from multilevel.core.covstruct import ThetaMap
    from multilevel.fit.checks import analytic_derivs
    from multilevel.fit.lmer_control import LmerControl, minimise

    sleep = ml.datasets.load("sleepstudy")
    sleep = sleep[sleep["Subject"].isin(sleep["Subject"].unique()[:10])]  # the dense path
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep,
                control=LmerControl(optimizer="gradient"))
    assert m.opt_summary.optimizer == "trust-region SR1" and m.opt_summary.converged
    tm = ThetaMap.for_terms(m.terms)
    opt, fg = minimise(m.problem, tm, m.terms, m.opt_summary.theta0, None,
                       LmerControl(optimizer="gradient"))
    assert isinstance(fg, DenseNewton)
    g, Hs = analytic_derivs(fg, opt.theta)
    g2, H2 = analytic_derivs(m.problem.objective_and_gradient, opt.theta)
    np.testing.assert_allclose(g, g2, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(Hs, H2, rtol=1e-4, atol=1e-4)
    assert np.all(np.linalg.eigvalsh(Hs) > 0)
