"""glmer's stage 2 (fit/glmer_stage2.py): the finite-difference derivatives with predicted
PIRLS starts agree with core.glmm.fd_hessian, the Newton step lands on the optimum of the
deviance, and a fit ends where a tight direct minimisation of the same deviance ends."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

import multilevel as ml
from multilevel.core.glmm import _demo_problem, fd_hessian
from multilevel.fit.glmer_stage2 import Deviance, fd_derivatives, newton_polish

from .conftest import simulate_binary


@pytest.fixture(scope="module")
def demo():
    prob = _demo_problem()
    dev = Deviance(prob, None, 1)
    return prob, dev


def test_derivatives_match_plain_central_differences(demo):
    prob, dev = demo
    x0 = np.array([0.7, 0.2])
    f0, st0 = dev(x0, None)
    steps = np.array([1e-3, 1e-3])
    g, H = fd_derivatives(dev, x0, st0, f0, steps, np.array([True, True]))
    g_ref, H_ref = fd_hessian(lambda x: prob.objective(x), x0, steps, fx=f0)
    assert g == pytest.approx(g_ref, rel=1e-6, abs=1e-8)
    assert H == pytest.approx(H_ref, rel=1e-5)


def test_fixed_coordinates_get_identity_rows(demo):
    prob, dev = demo
    x0 = np.array([0.7, 0.2])
    f0, st0 = dev(x0, None)
    g, H = fd_derivatives(dev, x0, st0, f0, np.array([1e-3, 1e-3]), np.array([False, True]))
    assert g[0] == 0.0 and H[0, 0] == 1.0 and H[0, 1] == 0.0 and H[1, 0] == 0.0
    assert H[1, 1] > 0


def test_newton_polish_reaches_the_optimum(demo):
    prob, dev = demo
    best = minimize(lambda x: prob.objective(x), np.array([0.7, 0.2]), method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    start = best.x + np.array([0.02, -0.03])  # a few hundredths of a standard error off
    f0, st0 = dev(start, None)
    phi, beta, st, fmin, g, H, log = newton_polish(
        dev, start[:1], start[1:], st0, f0, np.array([0.0]), np.array([0.2, 0.2]), True)
    assert np.concatenate([phi, beta]) == pytest.approx(best.x, abs=2e-5)
    assert fmin <= best.fun + 1e-9
    assert log and log[0].startswith("Newton step")


def test_fit_lands_on_the_tight_optimum(fits):
    df = simulate_binary(n_groups=25, per_group=12, seed=8)
    m = fits.get("stage2_sim", lambda: ml.glmer("y ~ x + z + (1 | g)", df, family="binomial"))
    prob = m.problem
    x_hat = np.concatenate([m.theta.to_numpy(), m.fixef.to_numpy()])
    best = minimize(lambda x: prob.objective(x), x_hat, method="Nelder-Mead",
                    options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000})
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    assert np.all(np.abs(m.fixef.to_numpy() - best.x[1:]) <= 2e-4 * se)
    assert -2 * m.loglik == pytest.approx(best.fun, abs=1e-7)
    assert np.max(np.abs(m.gradient)) < 1e-3


def test_newton_polish_recomputes_far_from_the_optimum(demo):
    prob, dev = demo
    best = minimize(lambda x: prob.objective(x), np.array([0.7, 0.2]), method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
    start = best.x + np.array([0.1, 0.1])  # about half a standard error off
    f0, st0 = dev(start, None)
    phi, beta, st, fmin, g, H, log = newton_polish(
        dev, start[:1], start[1:], st0, f0, np.array([0.0]), np.array([0.2, 0.2]), True)
    assert len(log) >= 2  # a long step, then derivatives again where it landed
    assert np.concatenate([phi, beta]) == pytest.approx(best.x, abs=2e-5)


def test_fit_restores_the_tight_pirls_tolerance(fits):
    df = simulate_binary(n_groups=25, per_group=12, seed=8)
    m = fits.get("stage2_sim", lambda: ml.glmer("y ~ x + z + (1 | g)", df, family="binomial"))
    # stages 1 and 2 loosen PIRLS; the problem kept in the result (profiles, refits,
    # conditional variances) has its own tolerance back
    assert m.problem.tol == 1e-7


def test_fast_fit_keeps_stage_one_tight():
    df = simulate_binary(n_groups=25, per_group=12, seed=8)
    m = ml.glmer("y ~ x + z + (1 | g)", df, family="binomial", fast=True)
    st = m.problem.pirls(m.theta.to_numpy())  # beta and u jointly, from a cold start
    assert m.fixef.to_numpy() == pytest.approx(st.beta, abs=1e-8)


def test_mode_predictor_keeps_a_bounded_window_of_points():
    from multilevel.fit.glmer_stage2 import ModePredictor

    pred = ModePredictor(2)
    for i in range(300):  # modes linear in x: u = 3 x_0 + x_1
        x = np.array([0.01 * i, 0.02 * (i % 3)])
        pred.add(x, np.array([3.0 * x[0] + x[1]]))
    assert len(pred.us) == pred.cap < 300
    # the nearest kept point (a recent one) and the Jacobian from the first 2n + 1 points
    assert np.allclose(pred.predict(np.array([2.995, 0.01])), [8.995])
