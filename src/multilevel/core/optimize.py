"""Bound-constrained minimisation of the profiled objective (lme4's ``nloptwrap``).

lme4 minimises the profiled deviance with NLopt's BOBYQA, ``xtol_abs = 1e-8``,
``ftol_abs = 1e-8``, ``maxeval = 1e5``, started at ``theta0`` (identity factors). After the
optimiser stops, a parameter on its bound whose one-sided derivative points into the feasible
region triggers one restart (lme4's ``restart_edge``); parameters that end
within ``boundary_tol`` of a bound are set onto it when that does not make the objective worse
(lme4's ``check.boundary``-style clean-up of singular fits).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class OptSummary:
    """What the optimiser did (MixedModels.jl's ``OptSummary``).

    Attributes
    ----------
    optimizer : str
    theta0, lower : arrays
    theta : array             -- the optimum
    fmin : float
    feval : int
    return_code : str         -- NLopt's result name
    xtol_abs, ftol_abs : float
    maxeval : int
    seconds : float
    messages : list of str    -- warnings for the user (printed in the summary)
    log : list of str         -- what the optimiser did (restarts), for the curious
    """

    optimizer: str
    theta0: np.ndarray
    lower: np.ndarray
    theta: np.ndarray
    fmin: float
    feval: int
    return_code: str
    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    maxeval: int = 100_000
    seconds: float = 0.0
    messages: list = field(default_factory=list)
    log: list = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.return_code in {"SUCCESS", "FTOL_REACHED", "XTOL_REACHED", "STOPVAL_REACHED"}


_NLOPT_CODES = {1: "SUCCESS", 2: "STOPVAL_REACHED", 3: "FTOL_REACHED", 4: "XTOL_REACHED",
                5: "MAXEVAL_REACHED", 6: "MAXTIME_REACHED", -1: "FAILURE",
                -2: "INVALID_ARGS", -3: "OUT_OF_MEMORY", -4: "ROUNDOFF_LIMITED",
                -5: "FORCED_STOP"}


def bobyqa(fn: Callable[[np.ndarray], float], theta0: np.ndarray, lower: np.ndarray, *,
           xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, maxeval: int = 100_000,
           boundary_tol: float = 1e-5, initial_step: np.ndarray | None = None) -> OptSummary:
    """Minimise ``fn`` from ``theta0`` subject to ``theta >= lower`` with NLopt's BOBYQA.

    ``initial_step`` sets BOBYQA's initial trust region per parameter (NLopt's default, as in
    lme4, is three quarters of the distance to the bound: ``0.75 theta0`` for ``theta0 > 0``).

    Examples
    --------
    >>> opt = bobyqa(lambda x: float((x[0] - 2) ** 2 + (x[1] + 1) ** 2),
    ...              np.array([1.0, 0.0]), np.array([0.0, -np.inf]))
    >>> np.round(opt.theta, 4).tolist()
    [2.0, -1.0]
    """
    import nlopt

    t0 = time.perf_counter()
    theta0 = np.asarray(theta0, dtype=float)
    n = theta0.size
    count = [0]

    def f(x, grad):
        count[0] += 1
        return float(fn(x))

    messages: list[str] = []
    log: list[str] = []
    if n == 0:
        fmin, theta, code = float(fn(theta0)), theta0, "SUCCESS"
    else:
        opt = nlopt.opt(nlopt.LN_BOBYQA, n)
        opt.set_min_objective(f)
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
        opt.set_xtol_abs(xtol_abs)
        opt.set_ftol_abs(ftol_abs)
        opt.set_maxeval(maxeval)
        if initial_step is not None:
            opt.set_initial_step(np.asarray(initial_step, dtype=float))
        try:
            theta = opt.optimize(theta0)
            code = _NLOPT_CODES.get(opt.last_optimize_result(), str(opt.last_optimize_result()))
        except nlopt.RoundoffLimited:
            theta, code = theta0, "ROUNDOFF_LIMITED"
            messages.append("NLopt stopped: roundoff limited")
        fmin = float(fn(theta))
        count[0] += 1
        # lme4's restart_edge: a parameter stuck on its bound whose one-sided derivative
        # points inside gets a second run from there
        on_bound = np.flatnonzero(np.isfinite(lower) & (theta == lower))
        if on_bound.size and code != "ROUNDOFF_LIMITED":
            grads = []
            for i in on_bound:
                t = theta.copy()
                t[i] = lower[i] + 1e-5
                grads.append((float(fn(t)) - fmin) / 1e-5)
                count[0] += 1
            if min(grads) < 0:
                log.append("some theta parameters on the boundary, restarting")
                try:
                    theta2 = opt.optimize(theta)
                    f2 = float(fn(theta2))
                    count[0] += 1
                    if f2 <= fmin:
                        theta, fmin = theta2, f2
                except nlopt.RoundoffLimited:
                    pass
        # snap parameters that sit just above their bound onto it, when that is no worse
        near = np.isfinite(lower) & (theta - lower < boundary_tol) & (theta != lower)
        if near.any():
            snapped = np.where(near, lower, theta)
            f_snap = float(fn(snapped))
            count[0] += 1
            if f_snap <= fmin:
                theta, fmin = snapped, f_snap
    return OptSummary(optimizer="bobyqa", theta0=theta0, lower=np.asarray(lower, dtype=float),
                      theta=np.asarray(theta, dtype=float), fmin=fmin, feval=count[0],
                      return_code=code, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      seconds=time.perf_counter() - t0, messages=messages, log=log)


def theta_scales(fn, theta: np.ndarray, lower: np.ndarray, f0: float) -> np.ndarray:
    """Rough standard errors of theta from the curvature of the stage-1 objective (one
    central second difference per coordinate; forward differences next to a bound), each
    within ``[1e-3, 1]``: glmer's stage 2 steps in these units.

    Examples
    --------
    >>> f = lambda t: 50.0 * float(t @ t)
    >>> theta_scales(f, np.array([1.0]), np.array([0.0]), 50.0).round(4).tolist()
    [0.1414]
    """
    out = np.empty(theta.size)
    for i in range(theta.size):
        h = max(1e-3, 1e-2 * abs(theta[i]))
        e = np.zeros(theta.size)
        e[i] = h
        with np.errstate(all="ignore"):
            if theta[i] - h >= lower[i]:
                c = (fn(theta + e) - 2.0 * f0 + fn(theta - e)) / h ** 2
            else:
                c = (fn(theta + 2 * e) - 2.0 * fn(theta + e) + f0) / h ** 2
        s = np.sqrt(2.0 / c) if np.isfinite(c) and c > 0 else 0.5 * max(abs(theta[i]), 0.2)
        out[i] = min(max(s, 1e-3), 1.0)
    return out


def gradient_hessian(fg: Callable, theta: np.ndarray, grad: np.ndarray,
                     rel_step: float = 1e-6) -> np.ndarray | None:
    """The Hessian by forward differences of an analytic gradient (``p`` gradient calls).

    Steps are taken upwards (``+h``), so they never cross a lower bound. ``fg(theta)``
    returns ``(f, grad)``; None when some gradient is unavailable.

    Examples
    --------
    >>> fg = lambda x: (float(x[0] ** 2 + 3 * x[0] * x[1]), np.array([2 * x[0] + 3 * x[1],
    ...                                                               3 * x[0]]))
    >>> x = np.array([1.0, 2.0])
    >>> np.round(gradient_hessian(fg, x, fg(x)[1]), 4).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    p = theta.size
    H = np.empty((p, p))
    for j in range(p):
        h = rel_step * max(1.0, abs(theta[j]))
        t = theta.copy()
        t[j] += h
        gj = fg(t)[1]
        if gj is None:
            return None
        H[:, j] = (gj - grad) / h
    return 0.5 * (H + H.T)


def _trust_step(H: np.ndarray, g: np.ndarray, radius: float) -> np.ndarray:
    """``argmin g's + s'Hs/2`` subject to ``|s| <= radius`` (eigendecomposition of ``H``;
    the multiplier by Newton's iteration on ``1/|s(lam)| - 1/radius``, Moré & Sorensen)."""
    w, V = np.linalg.eigh(H)
    a = V.T @ g
    if w[0] > 0:
        s = -a / w
        if np.linalg.norm(s) <= radius:
            return V @ s
    floor = max(0.0, -w[0]) + 1e-12 * max(1.0, float(np.abs(w).max()))
    lam = floor + np.linalg.norm(a) / radius
    for _ in range(60):
        s = -a / (w + lam)
        ns = float(np.linalg.norm(s))
        if abs(ns - radius) <= 1e-6 * radius or ns == 0.0:
            break
        slope = -float((a ** 2 / (w + lam) ** 3).sum()) / ns ** 3
        new = lam - (1.0 / radius - 1.0 / ns) / slope
        lam = new if new > floor else 0.5 * (lam + floor)
    return V @ (-a / (w + lam))


def _bounded_step(H: np.ndarray, g: np.ndarray, x: np.ndarray, lower: np.ndarray,
                  free: np.ndarray, radius: float) -> np.ndarray:
    """A trust-region step on the ``free`` parameters that stops at the lower bounds: a
    parameter the step would push below its bound is put on it and the step re-solved for
    the others (at most one pass per parameter)."""
    s = np.zeros_like(x)
    free = free.copy()
    for _ in range(x.size):
        if not free.any():
            break
        fixed = ~free
        s[free] = _trust_step(H[np.ix_(free, free)], g[free] + H[np.ix_(free, fixed)] @ s[fixed],
                              radius)
        hit = free & (x + s < lower)
        if not hit.any():
            break
        s[hit] = lower[hit] - x[hit]
        free &= ~hit
    return np.maximum(x + s, lower) - x


def trust_bfgs(fg: Callable, theta0: np.ndarray, lower: np.ndarray, *,
               pred_tol: float = 1e-10, maxeval: int = 1000,
               boundary_tol: float = 1e-5) -> OptSummary | None:
    """Minimise with an analytic gradient: a bounded trust-region quasi-Newton method.

    ``fg(theta) -> (f, grad)``. The model Hessian starts as the forward-difference Hessian of
    the gradient at ``theta0`` (its eigenvalues made positive) and is updated by BFGS; each
    step minimises the quadratic model within the trust region, with parameters that would
    cross their lower bound held on it, and parameters on a bound whose gradient points
    outwards held fixed. The radius follows the ratio of actual to predicted decrease
    (Nocedal & Wright, Algorithm 4.1). It stops when an accepted step's predicted decrease
    is below ``pred_tol``: the optimum of the profiled deviance to about 1e-10 (lme4's
    BOBYQA stops within ``ftol_abs = 1e-8``). Parameters within ``boundary_tol`` of their
    bound are then set onto it when that is no worse, as :func:`bobyqa` does.

    When the method cannot run (no gradient or a non-finite value at the start) the
    summary's ``return_code`` is ``"FAILURE"``, when it stops at ``maxeval`` evaluations
    ``"MAXEVAL_REACHED"`` (``converged`` false in both), and its ``theta`` the best point
    seen: the caller then uses :func:`bobyqa`.

    Examples
    --------
    >>> fg = lambda x: (float((x[0] - 2) ** 2 + 10 * (x[1] + 1) ** 2),
    ...                 np.array([2 * (x[0] - 2), 20 * (x[1] + 1)]))
    >>> opt = trust_bfgs(fg, np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    >>> np.round(opt.theta, 6).tolist(), opt.optimizer
    ([2.0, 0.0], 'trust-region BFGS')
    """
    t0 = time.perf_counter()
    count = [0]

    def evaluate(x):
        count[0] += 1
        f, g = fg(x)
        return (f, g) if g is not None and np.isfinite(f) else (np.inf, None)

    lower = np.asarray(lower, dtype=float)
    x = np.maximum(np.asarray(theta0, dtype=float), lower)
    f, g = evaluate(x)
    H = None if g is None else gradient_hessian(evaluate, x, g)
    if H is None:
        return _summary(theta0, lower, x, f, count[0], "FAILURE", pred_tol, maxeval, t0)
    w, V = np.linalg.eigh(H)  # positive eigenvalues, so that BFGS keeps H positive definite
    H = (V * np.maximum(np.abs(w), 1e-8 * max(float(np.abs(w).max()), 1e-8))) @ V.T
    bounded = np.isfinite(lower)
    radius = 0.25 * max(1.0, float(np.linalg.norm(x)))
    converged = False
    while count[0] < maxeval:
        free = ~(bounded & (x - lower <= 0.0) & (g > 0))  # on the bound, pushed outwards
        s = _bounded_step(H, g, x, lower, free, radius)
        step = float(np.linalg.norm(s))
        pred = -float(g @ s + 0.5 * s @ H @ s)
        if step == 0.0 or pred <= 0.0:  # no descent left in the model: optimum to rounding
            converged = step == 0.0 or pred > -1e-12 * abs(f) or radius < 1e-12
            if converged:
                break
            radius = 0.25 * step
            continue
        fn, gn = evaluate(x + s)
        rho = (f - fn) / pred
        if rho < 0.25:
            radius = 0.25 * step
        elif rho > 0.75 and step > 0.99 * radius:
            radius *= 2.0
        if gn is not None:
            y = gn - g
            sy = float(s @ y)
            if sy > 1e-12 * step * float(np.linalg.norm(y)):
                Hs = H @ s
                H = H + np.outer(y, y) / sy - np.outer(Hs, Hs) / float(s @ Hs)
        if fn < f:
            x, f, g = x + s, fn, gn
            if pred < pred_tol:
                converged = True
                break
        elif radius < 1e-12:
            converged = True  # no smaller step improves: the optimum to rounding
            break
    if not converged:
        code = "MAXEVAL_REACHED" if count[0] >= maxeval else "FAILURE"
        return _summary(theta0, lower, x, f, count[0], code, pred_tol, maxeval, t0)
    x = np.maximum(x, lower)
    # set parameters that sit just above their bound onto it, when that is no worse
    near = bounded & (x - lower < boundary_tol) & (x != lower)
    if near.any():
        snapped = np.where(near, lower, x)
        f_snap = evaluate(snapped)[0]
        if f_snap <= f:
            x, f = snapped, f_snap
    return _summary(theta0, lower, x, f, count[0], "SUCCESS", pred_tol, maxeval, t0)


def _summary(theta0, lower, theta, f, feval, code, pred_tol, maxeval, t0) -> OptSummary:
    return OptSummary(optimizer="trust-region BFGS", theta0=np.asarray(theta0, dtype=float),
                      lower=lower, theta=np.asarray(theta, dtype=float), fmin=float(f),
                      feval=feval, return_code=code, xtol_abs=0.0, ftol_abs=pred_tol,
                      maxeval=maxeval, seconds=time.perf_counter() - t0)
