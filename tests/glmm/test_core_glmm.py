"""The numerical core of GLMMs against first principles: links and families, PIRLS modes,
the Laplace and AGQ deviances against numerical integration, the aic shortcut."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from multilevel.core.crossprod import TermData
from multilevel.core.families import FAMILIES, Family, Link
from multilevel.core.glmm import GlmmData, GlmmProblem, _aic_full, fd_hessian, gh_rule

LINK_DOMAINS = {"logit": (0.05, 0.95), "probit": (0.05, 0.95), "cloglog": (0.05, 0.95),
                "cauchit": (0.05, 0.95), "log": (0.2, 5.0), "identity": (0.2, 5.0),
                "inverse": (0.2, 5.0), "sqrt": (0.2, 5.0), "1/mu^2": (0.2, 5.0)}


@pytest.mark.parametrize("name", sorted(LINK_DOMAINS))
def test_links_invert_and_differentiate(name):
    lk = Link(name)
    mu = np.linspace(*LINK_DOMAINS[name], 7)
    eta = lk.linkfun(mu)
    assert lk.linkinv(eta) == pytest.approx(mu, rel=1e-12)
    h = 1e-6
    num = (lk.linkinv(eta + h) - lk.linkinv(eta - h)) / (2 * h)
    assert lk.mu_eta(eta) == pytest.approx(num, rel=1e-6)


def test_logit_clamps_like_lme4():
    lk = Link("logit")
    assert lk.linkinv(np.array([40.0]))[0] == 1.0 - np.finfo(float).eps
    assert lk.mu_eta(np.array([800.0]))[0] == np.finfo(float).eps


@pytest.mark.parametrize("fam", ["binomial", "poisson", "Gamma", "inverse.gaussian",
                                 "negative.binomial"])
def test_fast_paths_agree_with_definitions(fam):
    rng = np.random.default_rng(2)
    f = Family.make(fam, nb_theta=1.7 if fam == "negative.binomial" else None)
    n = 50
    if fam == "binomial":
        trials = rng.integers(1, 6, n).astype(float)
        y = rng.integers(0, 6, n) / 5.0
        y = np.minimum(y, 1.0)
        wt = trials
        mu = rng.uniform(0.05, 0.95, n)
        eta = f.link.linkfun(mu)
    else:
        y = rng.integers(0, 7, n).astype(float) + (fam != "poisson")
        wt = np.ones(n)
        eta = f.link.linkfun(rng.uniform(0.5, 4.0, n))
        mu = f.link.linkinv(eta)
    assert f.dev_sum_function(y, wt)(mu) == pytest.approx(f.dev_resid(y, mu, wt).sum())
    m, w, r = f.working(y, wt, eta)
    me = f.link.mu_eta(eta)
    assert m == pytest.approx(f.link.linkinv(eta))
    assert w == pytest.approx(wt * me ** 2 / f.variance(m))
    assert r == pytest.approx((y - m) / me)


def test_binomial_and_poisson_aic_are_minus_twice_the_log_likelihood():
    y, n, mu = np.array([0.2, 0.5, 1.0]), np.array([5.0, 4.0, 3.0]), np.array([0.3, 0.4, 0.9])
    f = Family.make("binomial")
    want = -2 * stats.binom.logpmf(np.rint(y * n), n, mu).sum()
    assert f.aic(y, n, mu, n, 0.0) == pytest.approx(want)
    counts, lam = np.array([0.0, 2.0, 7.0]), np.array([0.5, 2.5, 6.0])
    assert Family.make("poisson").aic(counts, np.ones(3), lam, np.ones(3), 0.0) == \
        pytest.approx(-2 * stats.poisson.logpmf(counts, lam).sum())
    nb = Family.make("negative.binomial", nb_theta=1.7)
    assert nb.aic(counts, np.ones(3), lam, np.ones(3), 0.0) == \
        pytest.approx(-2 * stats.nbinom.logpmf(counts, 1.7, 1.7 / (1.7 + lam)).sum())
    # aic - deviance does not depend on mu (what PIRLS minimises is the same function)
    d1 = nb.aic(counts, 1, lam, np.ones(3), 0) - nb.dev_resid(counts, lam, np.ones(3)).sum()
    d2 = nb.aic(counts, 1, 2 * lam, np.ones(3), 0) - nb.dev_resid(counts, 2 * lam,
                                                                  np.ones(3)).sum()
    assert d1 == pytest.approx(d2)


def test_family_link_validation():
    assert Family.make("Gamma").link.name == "inverse"
    with pytest.raises(ValueError):
        Family("poisson", Link("logit"))
    with pytest.raises(ValueError):
        Link("softmax")
    assert set(FAMILIES) == {"binomial", "poisson", "Gamma", "inverse.gaussian",
                             "negative.binomial", "gaussian"}  # gaussian: glmer's non-identity links
    with pytest.raises(ValueError, match="theta"):
        Family.make("negative.binomial")
    nb = Family.make("negative.binomial", nb_theta=2.5)
    assert nb.r_name == "Negative Binomial(2.5)" and not nb.canonical and not nb.has_scale


def _one_group_problem(seed=0, n_groups=3, per=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    n = g.size
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-0.4 - 0.8 * x - rng.normal(size=n_groups)[g]))) * 1.0
    X = np.column_stack([np.ones(n), x])
    data = GlmmData([TermData(g, np.ones((n, 1)), n_groups)], X, y, np.ones(n), np.ones(n),
                    np.zeros(n), Family.make("binomial"))
    return data, g


def _exact_deviance(data, g, theta, beta):
    """-2 log of the marginal likelihood by adaptive quadrature, group by group."""
    eta0 = data.X @ beta
    total = 0.0
    for j in np.unique(g):
        rows = g == j

        def integrand(b):
            p = special.expit(eta0[rows] + b)
            lik = np.prod(np.where(data.y[rows] > 0, p, 1 - p))
            return lik * stats.norm.pdf(b, scale=theta)

        val, _ = integrate.quad(integrand, -12 * theta, 12 * theta, epsabs=0, epsrel=1e-12,
                                limit=200)
        total += -2 * np.log(val)
    return total


def test_agq_converges_to_the_exact_integral():
    data, g = _one_group_problem()
    prob = GlmmProblem(data)
    theta, beta = np.array([1.1]), np.array([0.3, 0.7])
    exact = _exact_deviance(data, g, theta[0], beta)
    agq25 = prob.objective(np.concatenate([theta, beta]), n_agq=25)
    laplace = prob.objective(np.concatenate([theta, beta]), n_agq=1)
    assert agq25 == pytest.approx(exact, abs=1e-8)  # 0/1 data: no aic constant to drop
    assert abs(laplace - exact) > 1e-4  # the Laplace approximation is only approximate
    assert abs(laplace - exact) < 0.5


def test_pirls_finds_the_mode_of_the_penalised_deviance():
    data, g = _one_group_problem(seed=3)
    prob = GlmmProblem(data)
    theta, beta = np.array([0.9]), np.array([0.2, 0.5])
    st = prob.pirls(theta, beta)
    assert st.converged

    def pdev(u):
        eta = prob.eta(theta, beta, u)
        return prob.penalised_deviance(data.family.link.linkinv(eta), u)

    grad, hess = fd_hessian(pdev, st.u, np.full(st.u.size, 1e-4))
    assert np.max(np.abs(grad)) < 1e-7
    assert np.all(np.linalg.eigvalsh(hess) > 0)
    # the joint (beta, u) mode is a fixed point of the u-only step at its beta
    joint = prob.pirls(theta)
    st2 = prob.pirls(theta, joint.beta)
    assert st2.u == pytest.approx(joint.u, abs=1e-8)
    assert prob.laplace(st2) == pytest.approx(prob.laplace(joint), abs=1e-9)


def test_warm_and_cold_starts_give_the_same_deviance():
    data, g = _one_group_problem(seed=5, n_groups=6, per=12)
    prob = GlmmProblem(data)
    pars = np.array([0.7, -0.1, 0.4])
    first = prob.objective(pars)
    prob.objective(pars + np.array([0.3, 0.2, -0.2]))  # move the warm start away
    assert prob.objective(pars) == pytest.approx(first, abs=1e-11)


def test_aic_shortcut_equals_the_full_formula():
    data, g = _one_group_problem(seed=7)
    prob = GlmmProblem(data)
    st = prob.pirls(np.array([0.8]), np.array([0.1, 0.3]))
    full = _aic_full(data.family, data.y, data.n_trials, data.weights)
    dev = st.pdev - st.u @ st.u
    assert prob._aic(st.mu, dev) == pytest.approx(full(st.mu, dev), abs=1e-10)


def test_gh_rule_integrates_normal_moments():
    z, w = gh_rule(7)
    assert w.sum() == pytest.approx(1.0)
    assert [float(w @ z ** k) for k in (2, 4, 6)] == pytest.approx([1.0, 3.0, 15.0])
