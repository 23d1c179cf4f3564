"""Minimisation of the profiled criterion with its analytic gradient: a trust-region SR1
method (Nocedal & Wright 2006, *Numerical Optimization*, Algorithms 4.1 and 6.2).

Each step minimises the quadratic model ``g's + s'Hs/2`` within a ball of radius ``r``
(exactly, by an eigendecomposition: theta has a handful of elements); ``r`` grows or shrinks
with the ratio of the actual to the predicted decrease. ``H`` starts as ``|g| I`` and takes
the symmetric rank-one update ``H += (y - Hs)(y - Hs)' / (y - Hs)'s`` after every step
(``y`` the change of gradient): SR1 may become indefinite, which the trust region handles,
and it learns the negative curvature of the profiled criterion near ``theta_i = 0`` that a
positive definite (BFGS) model cannot.

**Bounds by reflection.** lme4 bounds the diagonal elements of each factor ``T`` below by 0.
The criterion depends on ``T`` only through ``T T'``, so changing the sign of a whole column
of ``T`` changes nothing: the bounded problem is the unconstrained one read modulo these sign
changes. Given those columns, the method steps freely and, after each accepted step, changes
the signs of every column whose diagonal element went negative (and of the matching rows and
columns of ``H`` and elements of ``g``). A constrained method instead stops on the bound at
points such as ``T = [[0, 0], [-0.01, 0]]`` from which only a sign change leads down; on
140 random models (one to three terms, up to 3 x 3, singular ones included) this one reached
BOBYQA's optimum or a lower one every time, with a fifth of its evaluations.

At the end, as lme4 does after BOBYQA, parameters within ``boundary_tol`` of their bound are
set onto it when that is no worse, and a parameter on its bound whose gradient just inside
points inwards (``restart_edge``) starts the method again from there.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from .optimize import OptSummary, snap_to_bounds

EDGE_RESTARTS = 3  # restarts from inside a bound after stopping on it (lme4 makes one)
EDGE_STEP = 1e-4   # how far inside the bound the one-sided slope is measured
POLISH_STEPS = 3   # steps by the gradient alone once the deviance stops resolving them
POLISH_XTOL = 1e-10  # ... until they are this short, relative to theta


def trust_sr1(fg: Callable, theta0: np.ndarray, lower: np.ndarray, *,
              columns: list | None = None, pred_tol: float = 1e-10, maxeval: int = 1000,
              boundary_tol: float = 1e-5) -> OptSummary:
    """Minimise ``f`` subject to ``theta >= lower`` from ``fg(theta) -> (f, grad)``.

    ``columns``: index arrays whose joint change of sign leaves ``f`` unchanged, the first
    index of each being a parameter bounded below by 0 (the columns of lme4's factors,
    :func:`multilevel.core.theta.theta_columns`); every bounded parameter must head one.
    The bounds are then kept by reflection (see the module docstring). Without them, a
    step that would cross a bound puts that parameter on it and is solved again for the
    others. Once an accepted step's predicted decrease is below ``pred_tol`` (the deviance
    then no longer tells the points apart), up to ``POLISH_STEPS`` more steps are taken
    while the gradient shrinks: the fit stops where the gradient vanishes (sleepstudy
    ``|g| ~ 1e-10``), not where the deviance flattens (lme4's BOBYQA, ``ftol_abs = 1e-8``,
    leaves ``|g| ~ 3e-4`` there).

    When the method cannot run (no gradient or a non-finite value at the start) the
    summary's ``return_code`` is ``"FAILURE"``, when it stops at ``maxeval`` evaluations
    ``"MAXEVAL_REACHED"`` (``converged`` false in both), and its ``theta`` the best point
    seen: the caller then uses :func:`multilevel.core.optimize.bobyqa`.

    Examples
    --------
    >>> fg = lambda x: (float((x[0] - 2) ** 2 + 10 * (x[1] + 1) ** 2),
    ...                 np.array([2 * (x[0] - 2), 20 * (x[1] + 1)]))
    >>> opt = trust_sr1(fg, np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    >>> np.round(opt.theta, 6).tolist(), opt.optimizer
    ([2.0, 0.0], 'trust-region SR1')
    >>> f = lambda t: ((t[0] ** 2 - 1) ** 2, np.array([4 * t[0] * (t[0] ** 2 - 1)]))
    >>> trust_sr1(f, np.array([0.1]), np.array([0.0]), columns=[np.array([0])]).theta.round(6)
    array([1.])
    """
    t0 = time.perf_counter()
    count = [0]

    def evaluate(x):
        count[0] += 1
        f, g = fg(x)
        return (f, g) if g is not None and np.isfinite(f) else (np.inf, None)

    lower = np.asarray(lower, dtype=float)
    bounded = np.isfinite(lower)
    if columns is not None:
        heads = np.zeros(lower.size, dtype=bool)
        heads[[int(c[0]) for c in columns]] = True
        if np.any(bounded & ~heads) or np.any(lower[bounded] != 0.0):
            raise ValueError("every bounded parameter must head a column, with bound 0")
    x = np.maximum(np.asarray(theta0, dtype=float), lower)
    f, g = evaluate(x)
    converged = False
    for _ in range(EDGE_RESTARTS + 1):
        if g is None:
            break
        x, f, g, converged = _iterate(evaluate, x, f, g, lower, columns, pred_tol, maxeval,
                                      count)
        if not converged:
            break
        x, f, g = _snap(evaluate, x, f, g, lower, boundary_tol)
        inside = _edge_descent(evaluate, x, lower, bounded, columns)
        if inside is None:
            break
        converged = False  # lme4's restart_edge: lower values inside the bound
        x, f, g = inside
    code = ("SUCCESS" if converged else "MAXEVAL_REACHED" if count[0] >= maxeval
            else "FAILURE")
    return OptSummary(optimizer="trust-region SR1", theta0=np.asarray(theta0, dtype=float),
                      lower=lower, theta=x, fmin=float(f), feval=count[0], return_code=code,
                      xtol_abs=0.0, ftol_abs=pred_tol, maxeval=maxeval,
                      seconds=time.perf_counter() - t0)


def _iterate(evaluate, x, f, g, lower, columns, pred_tol, maxeval, count):
    """The trust-region iterations from ``x``: ``(x, f, g, converged)``."""
    bounded = np.isfinite(lower)
    H = np.eye(x.size) * max(_norm(g), 1e-8)
    radius = 0.25 * max(1.0, _norm(x))
    polish = 0  # steps taken after the predicted decrease fell below pred_tol
    while count[0] < maxeval:
        if columns is not None:
            s = _trust_step(H, g, radius)
        else:
            free = ~(bounded & (x <= lower) & (g > 0))  # on the bound, pushed outwards
            s = _bounded_step(H, g, x, lower, free, radius)
        step = _norm(s)
        pred = -float(g @ s + 0.5 * s @ H @ s)
        if polish:
            # the deviance no longer resolves the steps (its rounding is ~1e-16 |f|): go on
            # while the gradient shrinks, to where it vanishes rather than where f flattens
            if step <= POLISH_XTOL * (1.0 + _norm(x)) or polish > POLISH_STEPS:
                return x, f, g, True
            fn, gn = evaluate(x + s)
            if (gn is None or fn > f + 1e-13 * max(1.0, abs(f))
                    or _norm(gn) >= _norm(g)):
                return x, f, g, True
            H = _sr1(H, s, gn - g, step)
            x, f, g, H = _accept(x + s, fn, gn, H, columns)
            polish += 1
            continue
        if step == 0.0 or pred <= 0.0:  # no descent left in the model: optimum to rounding
            if step == 0.0 or pred > -1e-12 * abs(f) or radius < 1e-12:
                return x, f, g, True
            radius = 0.25 * step
            continue
        fn, gn = evaluate(x + s)
        rho = (f - fn) / pred
        if rho < 0.25:
            radius = 0.25 * step
        elif rho > 0.75 and step > 0.99 * radius:
            radius *= 2.0
        if gn is not None:
            H = _sr1(H, s, gn - g, step)
        # lower, or level to the deviance's rounding with a smaller gradient (next to the
        # optimum the deviance cannot tell the points apart; the gradient still can)
        if fn < f or (gn is not None and fn <= f + 1e-13 * max(1.0, abs(f))
                      and _norm(gn) < _norm(g)):
            x, f, g, H = _accept(x + s, fn, gn, H, columns)
            if pred < pred_tol:
                polish = 1
        elif radius < 1e-12:
            return x, f, g, True  # no smaller step improves: the optimum to rounding
    return x, f, g, False


def _sr1(H: np.ndarray, s: np.ndarray, y: np.ndarray, step: float) -> np.ndarray:
    """The SR1 update, skipped when its denominator is tiny (N&W eq. 6.26)."""
    r = y - H @ s
    rs = float(r @ s)
    if abs(rs) > 1e-8 * step * _norm(r):
        return H + np.outer(r, r) / rs
    return H


def _accept(x, f, g, H, columns):
    """The new iterate, with every column's sign made canonical (non-negative diagonal; the
    same point of the model) and ``g``, ``H`` changed to match."""
    if columns is not None:
        D = _signs(x, columns)
        if D is not None:
            return D * x, f, D * g, H * np.outer(D, D)
    return x, f, g, H


def _norm(v: np.ndarray) -> float:
    return math.sqrt(float(v @ v))  # np.linalg.norm's checks cost more than this on 3 numbers


def _trust_step(H: np.ndarray, g: np.ndarray, radius: float) -> np.ndarray:
    """``argmin g's + s'Hs/2`` subject to ``|s| <= radius``: with ``H = V diag(w) V'`` and
    ``a = V'g``, ``s = -V (a / (w + lam))`` with ``lam >= max(0, -w_min)`` by Newton's
    iteration on ``1/|s(lam)| - 1/radius`` (Moré & Sorensen); in the hard case (``a`` has no
    component along a negative curvature) the rest of the radius goes along it."""
    w, V = np.linalg.eigh(H)
    a = g @ V
    if w[0] > 0:
        s = -a / w
        if _norm(s) <= radius:
            return V @ s
    floor = max(0.0, -w[0]) + 1e-12 * max(1.0, abs(w[0]), abs(w[-1]))
    lam = floor + _norm(a) / radius
    a2 = a * a
    for _ in range(60):
        d = w + lam
        ns = math.sqrt(float((a2 / (d * d)).sum()))
        if abs(ns - radius) <= 1e-6 * radius or ns == 0.0:
            break
        slope = -float((a2 / (d * d * d)).sum()) / ns ** 3
        new = lam - (1.0 / radius - 1.0 / ns) / slope
        lam = new if new > floor else 0.5 * (lam + floor)
    s = -a / (w + lam)
    ns = _norm(s)
    if w[0] < 0 and ns < radius * (1 - 1e-6):  # the hard case
        s[0] += math.sqrt(radius ** 2 - ns ** 2)
    return V @ s


def _bounded_step(H, g, x, lower, free, radius) -> np.ndarray:
    """A trust-region step on the ``free`` parameters that stops at the lower bounds: a
    parameter the step would push below its bound is put on it and the step solved again
    for the others (at most one pass per parameter)."""
    if free.all():  # the usual case: one step, inside the bounds
        s = _trust_step(H, g, radius)
        if not (x + s < lower).any():
            return s
    s = np.zeros_like(x)
    free = free.copy()
    for _ in range(x.size):
        if not free.any():
            break
        fixed = ~free
        s[free] = _trust_step(H[np.ix_(free, free)],
                              g[free] + H[np.ix_(free, fixed)] @ s[fixed], radius)
        hit = free & (x + s < lower)
        if not hit.any():
            break
        s[hit] = lower[hit] - x[hit]
        free &= ~hit
    return np.maximum(x + s, lower) - x


def _signs(x: np.ndarray, columns) -> np.ndarray | None:
    """``D`` (+-1) that makes the first element of every column non-negative, or None."""
    D = None
    for c in columns:
        if x[c[0]] < 0:
            if D is None:
                D = np.ones(x.size)
            D[c] = -1.0
    return D


def _snap(evaluate, x, f, g, lower, boundary_tol):
    """:func:`~multilevel.core.optimize.snap_to_bounds` (as after BOBYQA), keeping the
    gradient of the point it returns (``evaluate`` gives ``f = inf`` where it has none, so
    such a point is never taken)."""
    last = []

    def fn(t):
        last[:] = evaluate(t)
        return last[0]

    x_new, f_new, _ = snap_to_bounds(fn, x, f, lower, boundary_tol)
    return (x, f, g) if x_new is x else (x_new, f_new, last[1])


def _edge_descent(evaluate, x, lower, bounded, columns):
    """``(x', f, g)`` just inside a bound from which the criterion decreases, or None.

    For each parameter on its bound, the gradient ``EDGE_STEP`` inside (and, with columns,
    also inside with the rest of its column's signs changed: the other way off the bound);
    a negative slope along the parameter there means lower values inside."""
    best = None
    heads = {int(c[0]): c for c in columns} if columns is not None else {}
    for i in np.flatnonzero(bounded & (x == lower)):
        starts = [x]
        c = heads.get(int(i))
        if c is not None and c.size > 1 and np.any(x[c[1:]] != 0):
            flipped = x.copy()
            flipped[c[1:]] *= -1.0
            starts.append(flipped)
        for x0 in starts:
            t = x0.copy()
            t[i] = lower[i] + EDGE_STEP
            ft, gt = evaluate(t)
            if gt is not None and gt[i] < 0 and (best is None or ft < best[1]):
                best = (t, ft, gt)
    return best
