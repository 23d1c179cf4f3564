"""A small model's solution (beta, u, b, sigma, R_X, log-determinants) from the dense factor
equals the blocked path's, and a small fit neither makes the blocked plan nor imports scipy."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.dense_small import DenseObjective
from multilevel.core.lmm import LmmProblem
from multilevel.core.theta import n_theta, theta_lower


def _terms(rng, n, ps, nested):
    """Random terms; with ``nested`` each later term's levels split the previous term's."""
    terms, codes = [], None
    for p in ps:
        if nested and codes is not None:
            # up to two child levels per parent level, numbered from 0 without gaps
            codes = np.unique(codes * 2 + rng.integers(0, 2, n), return_inverse=True)[1]
        else:
            l = int(rng.integers(2, 6))
            codes = np.concatenate([np.arange(l), rng.integers(0, l, n - l)])
        l = int(codes.max()) + 1
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(codes, Z, l))
    return terms[::-1] if nested else terms  # finest first, as lme4 orders nested terms


def _compare(A, theta, reml, log_det_w=0.0):
    blocked = LmmProblem(A, reml=reml, log_det_w=log_det_w)
    dense = LmmProblem(A, reml=reml, log_det_w=log_det_w)
    dense._fast_objective = DenseObjective(A)  # as the optimiser's first call makes it
    blocked._fast_objective = False  # the blocked update
    want, got = blocked.solve(theta), dense.solve(theta)
    assert dense._plan is None  # the dense solution needs no blocked plan
    for name in ("beta", "pwrss", "sigma", "RX_inv", "logdet_re", "logdet_x", "objective"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-9,
                                   atol=1e-11, err_msg=name)
    np.testing.assert_allclose(got.vcov_beta, want.vcov_beta, rtol=1e-9, atol=1e-12)
    for name in ("u", "b"):
        for g, w in zip(getattr(got, name), getattr(want, name)):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(got.theta, theta)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       reml=st.booleans(), p_x=st.integers(0, 3), nested=st.booleans(),
       weighted=st.booleans())
def test_dense_solution_equals_blocked(seed, ps, reml, p_x, nested, weighted):
    rng = np.random.default_rng(seed)
    n = 60
    terms = _terms(rng, n, ps, nested)
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p_x - 1)])[:, :p_x]
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    A = form_crossproducts(terms, X, rng.normal(size=n) + 3.0, weights=w)
    m = sum(n_theta(p) for p in ps)
    lower = theta_lower(ps)
    theta = np.where(np.isfinite(lower), rng.uniform(0.0, 2.0, m), rng.normal(size=m))
    if rng.uniform() < 0.2:  # a boundary theta: a zero variance
        theta[0] = 0.0
    _compare(A, theta, reml, float(np.sum(np.log(w))) if weighted else 0.0)


def test_fitted_small_models_match_the_blocked_solution():
    import multilevel as ml

    cases = [("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
             ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
             ("strength ~ 1 + (1 | batch/cask)", "Pastes")]
    for formula, name in cases:
        m = ml.lmer(formula, ml.datasets.load(name))
        assert isinstance(m.problem._dense_factor(), DenseObjective)
        assert m.problem._plan is None  # the blocked plan is made only when used
        blocked_problem = LmmProblem(m.problem.A, reml=m.reml)
        blocked_problem._fast_objective = False  # the blocked update
        blocked = blocked_problem.solve(m._sol.theta)
        np.testing.assert_allclose(m.fixef.to_numpy(), blocked.beta, rtol=1e-10)
        np.testing.assert_allclose(m.vcov.to_numpy(), blocked.vcov_beta, rtol=1e-9)
        np.testing.assert_allclose(m.sigma, blocked.sigma, rtol=1e-10)
        for g, w in zip(m._sol.b, blocked.b):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


def test_small_fits_import_no_scipy():
    code = ("import sys, multilevel as ml\n"
            "for f, d in [('Reaction ~ Days + (Days | Subject)', 'sleepstudy'),\n"
            "             ('diameter ~ 1 + (1 | plate) + (1 | sample)', 'Penicillin'),\n"
            "             ('strength ~ 1 + (1 | batch/cask)', 'Pastes')]:\n"
            "    m = ml.lmer(f, ml.datasets.load(d)); m.fixef; m.vcov; m.sigma; m.deviance; m.ranef()\n"
            "print([k for k in sys.modules if k.split('.')[0] == 'scipy'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_reml_fit_deviance_is_the_blocked_ml_deviance():
    import multilevel as ml

    m = ml.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", ml.datasets.load("Penicillin"))
    blocked = LmmProblem(m.problem.A, reml=True)
    blocked._fast_objective = False  # the blocked update
    np.testing.assert_allclose(m.deviance, blocked.deviance_ml(m._sol.theta), rtol=1e-12)
    assert m.problem._plan is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       nested=st.booleans())
def test_dense_cond_var_equals_blocked(seed, ps, nested):
    rng = np.random.default_rng(seed)
    n = 60
    terms = _terms(rng, n, ps, nested)
    A = form_crossproducts(terms, np.ones((n, 1)), rng.normal(size=n))
    m = sum(n_theta(p) for p in ps)
    lower = theta_lower(ps)
    theta = np.where(np.isfinite(lower), rng.uniform(0.0, 2.0, m), rng.normal(size=m))
    blocked, dense = LmmProblem(A), LmmProblem(A)
    blocked._fast_objective = False
    dense._fast_objective = DenseObjective(A)
    want, got = blocked.cond_var(theta, 1.7), dense.cond_var(theta, 1.7)
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_ranef_of_a_small_fit_is_the_blocked_one():
    import multilevel as ml
    from multilevel.core.lmm import cond_var

    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(40), 5)
    df = pd.DataFrame({"y": rng.normal(size=40)[g] + rng.normal(size=200),
                       "x": rng.normal(size=200), "g": g})
    m = ml.lmer("y ~ x + (1 | g)", df)
    # the optimiser took the closed form of one (1 | g) term of order 43; ranef the dense factor
    assert not isinstance(m.problem._fast_objective, DenseObjective)
    want = cond_var(m.problem.A, LmmProblem(m.problem.A).factor(m._sol.theta), m.sigma)
    np.testing.assert_allclose(m.cond_cov()["g"], want[0], rtol=1e-9)
    assert "condsd" in m.ranef().columns and m.problem._plan is None


def test_the_solution_of_a_crossed_model_with_a_small_rest_is_the_blocked_one():
    """Crossed subjects x a few items: the solution from the Schur factor (no blocked plan)
    equals the blocked update's."""
    from multilevel.core.schur_small import schur_applies

    rng = np.random.default_rng(4)
    n, a, b = 600, 120, 6
    ga = np.concatenate([np.arange(a), rng.integers(0, a, n - a)])
    gb = np.concatenate([np.arange(b), rng.integers(0, b, n - b)])
    x = rng.normal(size=n)
    terms = [TermData(ga, np.column_stack([np.ones(n), x]), a),
             TermData(gb, np.ones((n, 1)), b)]
    A = form_crossproducts(terms, np.column_stack([np.ones(n), x]),
                           rng.normal(size=a)[ga] + rng.normal(size=b)[gb] + rng.normal(size=n))
    assert schur_applies(A)
    theta = np.array([0.9, 0.2, 0.4, 1.3])
    for reml in (True, False):
        blocked = LmmProblem(A, reml=reml)
        blocked._fast_objective = False
        want, got = blocked.solve(theta), LmmProblem(A, reml=reml).solve(theta)
        np.testing.assert_allclose(got.beta, want.beta, rtol=1e-9)
        for g, w in zip(got.b, want.b):
            np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got.RX_inv, want.RX_inv, rtol=1e-9)
        for key in ("sigma", "pwrss", "logdet_re", "logdet_x", "objective"):
            assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-10), key
