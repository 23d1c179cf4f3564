"""lme4's post-fit convergence checks (``checkConv``) on the profiled objective."""
from __future__ import annotations

from typing import Callable

import numpy as np

GRAD_TOL = 2e-3  # lme4: check.conv.grad = .makeCC("warning", tol = 2e-3)
MAX_PARAMS = 20  # finite-difference Hessians beyond this are not worth their cost


def fd_derivs(fn: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray,
              delta: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Central finite-difference gradient and Hessian (lme4's ``deriv12``).

    Steps that would cross a lower bound are taken one-sided.

    Examples
    --------
    >>> g, H = fd_derivs(lambda x: float(x[0] ** 2 + 3 * x[0] * x[1]), np.array([1.0, 2.0]),
    ...                  np.array([-np.inf, -np.inf]))
    >>> np.round(g, 6).tolist(), np.round(H, 4).tolist()
    ([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
    """
    n = x.size
    f0 = fn(x)
    grad = np.zeros(n)
    hess = np.zeros((n, n))
    step = np.full(n, delta)
    # keep every evaluation feasible: shift the centre away from a bound
    c = np.where(x - step < lower, lower + step, x)
    fc = fn(c) if np.any(c != x) else f0
    fp, fm = np.zeros(n), np.zeros(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = step[i]
        fp[i], fm[i] = fn(c + e), fn(c - e)
        grad[i] = (fp[i] - fm[i]) / (2 * step[i])
        hess[i, i] = (fp[i] - 2 * fc + fm[i]) / step[i] ** 2
    for i in range(n):
        for j in range(i):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = step[i], step[j]
            fpp, fmm = fn(c + ei + ej), fn(c - ei - ej)
            hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + 2 * fc - fm[i] - fm[j] + fmm) / (
                2 * step[i] * step[j])
    return grad, hess


def check_convergence(fn, theta: np.ndarray, lower: np.ndarray) -> list[str]:
    """Messages in lme4's wording when the optimum fails the gradient or Hessian check.

    Examples
    --------
    >>> check_convergence(lambda x: float((x[0] - 1) ** 2), np.array([1.0]), np.array([0.0]))
    []
    """
    if theta.size == 0 or theta.size > MAX_PARAMS:
        return []
    grad, hess = fd_derivs(fn, theta, lower)
    out = []
    try:
        scaled = np.linalg.solve(np.linalg.cholesky(hess).T, grad)
        worst = np.minimum(np.abs(scaled), np.abs(grad))
    except np.linalg.LinAlgError:
        worst = np.abs(grad)
        out.append("Model is nearly unidentifiable: the Hessian of the profiled deviance is not "
                   "positive definite; consider rescaling predictors or simplifying the model")
    if np.max(worst) > GRAD_TOL:
        k = int(np.argmax(worst))
        out.insert(0, f"Model failed to converge with max|grad| = {np.max(worst):.6g} "
                      f"(tol = {GRAD_TOL}, component {k + 1})")
    return out
