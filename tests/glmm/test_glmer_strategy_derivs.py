"""Exact derivatives of the Laplace deviance (fit/glmer_derivs.py): they agree with central
differences, apply only where they are exact, and the Newton stage 2 built on them lands
where BOBYQA and finite differences land."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.core.crossprod import TermData
from multilevel.core.families import Family
from multilevel.core.glmm import GlmmData, GlmmProblem, fd_hessian
from multilevel.fit import glmer as glmer_module
from multilevel.fit.glmer_derivs import exact_applies, laplace_derivatives


def _problem(family: str, link: str, seed: int, slope: bool = False, trials: bool = False):
    rng = np.random.default_rng(seed)
    G, per = 15, 8
    g = np.repeat(np.arange(G), per)
    n = g.size
    x = rng.normal(size=n)
    z = x if slope else np.ones(n)
    eta = 0.3 + 0.5 * x + 0.7 * rng.normal(size=G)[g] * z
    off = 0.1 * rng.normal(size=n)
    if family == "poisson":
        y, wt, ntr = rng.poisson(np.exp(eta + off)).astype(float), np.ones(n), np.ones(n)
    else:
        m = rng.integers(1, 6, n).astype(float) if trials else np.ones(n)
        k = rng.binomial(m.astype(int), 1 / (1 + np.exp(-eta - off)))
        y, wt, ntr = k / m, m, m
    X = np.column_stack([np.ones(n), x])
    data = GlmmData([TermData(g, z[:, None], G)], X, y, wt, ntr, off,
                    Family.make(family, link))
    return GlmmProblem(data)


@pytest.mark.parametrize("family, link, slope, trials", [
    ("binomial", "logit", False, False), ("binomial", "logit", False, True),
    ("poisson", "log", False, False), ("poisson", "log", True, False)])
def test_exact_derivatives_match_central_differences(family, link, slope, trials):
    prob = _problem(family, link, 3, slope, trials)
    assert exact_applies(prob, 1)
    for x in (np.array([0.6, 0.2, 0.4]), np.array([1.1, -0.3, 0.7])):  # anywhere, not only
        g, H = laplace_derivatives(prob, prob.pirls(x[:1], x[1:]))      # at the optimum
        g_fd, H_fd = fd_hessian(prob.objective, x, np.full(3, 1e-4))  # errors O(h^2)
        assert g == pytest.approx(g_fd, rel=1e-6, abs=1e-5)
        assert H == pytest.approx(H_fd, rel=1e-5, abs=1e-5)
        assert H == pytest.approx(H.T)


def test_exact_derivatives_apply_only_where_exact():
    assert not exact_applies(_problem("binomial", "probit", 1), 1)
    assert not exact_applies(_problem("binomial", "logit", 1), 5)  # AGQ
    prob = _problem("binomial", "logit", 1, trials=True)
    d = prob.data
    fractional = GlmmData(d.terms, d.X, d.y * 0.97, d.weights, d.n_trials, d.offset, d.family)
    assert not exact_applies(GlmmProblem(fractional), 1)  # the aic constant depends on mu
    two = GlmmData(d.terms * 2, d.X, d.y, d.weights, d.n_trials, d.offset, d.family)
    assert not exact_applies(GlmmProblem(two), 1)


def test_newton_stage_two_lands_where_bobyqa_lands(monkeypatch):
    cbpp = ml.datasets.load("cbpp")
    f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    m_newton = ml.glmer(f, cbpp, family="binomial")
    assert m_newton.opt_summary.optimizer == "newton"
    monkeypatch.setattr(glmer_module, "exact_applies", lambda problem, n_agq: False)
    m_bobyqa = ml.glmer(f, cbpp, family="binomial")
    assert m_bobyqa.opt_summary.optimizer == "bobyqa"
    se = np.sqrt(np.diag(m_bobyqa.vcov.to_numpy()))
    assert np.all(np.abs(m_newton.fixef.to_numpy() - m_bobyqa.fixef.to_numpy()) < 1e-4 * se)
    assert np.sqrt(np.diag(m_newton.vcov.to_numpy())) == pytest.approx(se, rel=1e-4)
    assert m_newton.theta.to_numpy() == pytest.approx(m_bobyqa.theta.to_numpy(), abs=1e-5)
    assert m_newton.loglik >= m_bobyqa.loglik - 1e-8


def test_singular_start_falls_back_to_bobyqa():
    rng = np.random.default_rng(11)
    x = rng.normal(size=30)
    y = (rng.random(30) < 1 / (1 + np.exp(-0.3 - x))).astype(float)
    df = pd.DataFrame({"g": pd.Categorical(np.repeat(np.arange(8), 30)),
                       "x": np.tile(x, 8), "y": np.tile(y, 8)})
    with pytest.warns(ml.SingularFitWarning):
        m = ml.glmer("y ~ x + (1 | g)", df, family="binomial")
    assert m.theta.iloc[0] == 0.0 and m.opt_summary.optimizer == "bobyqa"
