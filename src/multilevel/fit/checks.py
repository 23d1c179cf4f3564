"""lme4's post-fit convergence checks (``checkConv``) on the profiled objective."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import DataError, two_line

GRAD_TOL = 2e-3  # lme4: check.conv.grad = .makeCC("warning", tol = 2e-3)
MAX_PARAMS = 20  # finite-difference Hessians beyond this are not worth their cost


def fd_derivs(fn: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray,
              delta: float = 1e-4, *, fn_many: Callable | None = None,
              f_x: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient and Hessian for lme4's convergence checks (``deriv12``).

    The gradient and the Hessian's diagonal are lme4's central differences (``2n``
    evaluations). The off-diagonal second derivatives reuse them with one evaluation per
    pair, ``(f(x + h_i + h_j) - f(x + h_i) - f(x + h_j) + f(x)) / (h_i h_j)``, instead of
    lme4's two: ``n(n - 1)/2`` fewer evaluations (growth model with two correlated slope
    terms: 43 -> 28) for an ``O(h)`` = ``1e-4`` relative error in those entries, which only
    enter the checks through the Cholesky-scaled gradient and its positive definiteness.
    Steps that would cross a lower bound are taken one-sided (the centre moves up to
    ``lower + h``).

    The points are listed first, then evaluated: one at a time by ``fn`` (in the order
    centre, ``c + h_i``, ``c - h_i`` per ``i``, then the pairs), or all at once by
    ``fn_many(points) -> values`` (a batched objective, e.g.
    :meth:`multilevel.core.lmm.LmmProblem.objectives`). ``f_x``: ``fn(x)`` when the caller
    already has it (the optimiser's last value at ``x``); evaluating one at a time, it is then
    not evaluated again (a batch evaluates the centre with the other points: the second
    differences need all values computed the same way, to the last bit).

    Examples
    --------
    >>> g, H = fd_derivs(lambda x: float(x[0] ** 2 + 3 * x[0] * x[1]), np.array([1.0, 2.0]),
    ...                  np.array([-np.inf, -np.inf]))
    >>> np.round(g, 6).tolist(), np.round(H, 4).tolist()
    ([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
    >>> many = lambda P: P[:, 0] ** 2 + 3 * P[:, 0] * P[:, 1]
    >>> g2, H2 = fd_derivs(None, np.array([1.0, 2.0]), np.array([-np.inf, -np.inf]),
    ...                    fn_many=many)
    >>> bool(np.allclose(g2, g)), bool(np.allclose(H2, H))
    (True, True)
    """
    n = x.size
    # keep every evaluation feasible: shift the centre away from a bound
    c = np.where(x - delta < lower, lower + delta, x)
    # the centre's value is reused only one point at a time at x (a batch computes its own)
    known_fc = f_x is not None and fn_many is None and not (c != x).any()
    # all points in one array: c + delta * (their steps in units of delta), see _stencil
    units, pairs = _stencil(n)
    points = c + delta * (units[1:] if known_fc else units)
    if fn_many is not None:
        values = np.asarray(fn_many(points), dtype=float).tolist()
    else:
        values = [float(fn(pt)) for pt in points]
    fc = float(f_x) if known_fc else values.pop(0)
    # the same operations, in the same order, as lme4's formulas on arrays (Python floats:
    # no numpy call per entry)
    fp, fm = values[0:2 * n:2], values[1:2 * n:2]
    grad = np.array([(a - b) / (2 * delta) for a, b in zip(fp, fm)])
    hess = np.diag([(a - 2 * fc + b) / (delta * delta) for a, b in zip(fp, fm)])
    for (i, j), fpp in zip(pairs, values[2 * n:]):
        hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + fc) / (delta * delta)
    return grad, hess


@lru_cache(maxsize=64)
def _stencil(n: int) -> tuple[np.ndarray, tuple]:
    """:func:`fd_derivs`' points around the centre in units of the step (read-only) and
    the pairs ``(i, j)``, ``i > j``, of its off-diagonal second differences: the centre
    (zeros), then ``+e_i`` and ``-e_i`` per coordinate ``i``, then ``e_i + e_j`` per pair.

    Examples
    --------
    >>> units, pairs = _stencil(2)
    >>> units.tolist(), pairs
    ([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0]], ((1, 0),))
    """
    pairs = tuple((i, j) for i in range(n) for j in range(i))
    units = np.zeros((1 + 2 * n + len(pairs), n))
    for i in range(n):
        units[1 + 2 * i, i], units[2 + 2 * i, i] = 1.0, -1.0
    for k, (i, j) in enumerate(pairs):
        units[1 + 2 * n + k, [i, j]] = 1.0
    units.flags.writeable = False
    return units, pairs


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


def analytic_derivs(fg: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The gradient ``fg(x)[1]`` and the Hessian by forward differences of it (``p + 1``
    gradient calls instead of :func:`fd_derivs`' ``O(p^2)`` evaluations; steps go upwards,
    inside the lower bounds). None when ``fg`` has no gradient at or next to ``x``.
    Where ``fg`` returns ``(f, grad, Hessian)`` (an exact Hessian, e.g.
    :class:`multilevel.core.dense_newton.DenseNewton`) that Hessian is used: one call.

    Examples
    --------
    >>> fg = lambda x: (float(x[0] ** 2 + 3 * x[0] * x[1]),
    ...                 np.array([2 * x[0] + 3 * x[1], 3 * x[0]]))
    >>> g, H = analytic_derivs(fg, np.array([1.0, 2.0]))
    >>> np.round(g, 6).tolist(), np.round(H, 4).tolist()
    ([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
    >>> fgh = lambda x: fg(x) + (np.array([[2.0, 3.0], [3.0, 0.0]]),)
    >>> analytic_derivs(fgh, np.array([1.0, 2.0]))[1].tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    out = fg(x)
    grad = out[1]
    if grad is None:
        return None
    if len(out) > 2 and out[2] is not None:  # the exact Hessian, with the gradient
        return grad, out[2]
    hess = gradient_hessian(fg, x, grad)
    return None if hess is None else (grad, hess)


def check_convergence(fn, theta: np.ndarray, lower: np.ndarray,
                      fg: Callable | None = None, *, fn_many: Callable | None = None,
                      f_theta: float | None = None) -> list[str]:
    """Messages in lme4's wording when the optimum fails the gradient or Hessian check.

    ``fg(theta) -> (f, grad)``, when given, supplies an analytic gradient: the Hessian is
    then its forward differences, or exact where ``fg`` returns ``(f, grad, Hessian)``
    (:func:`analytic_derivs`); otherwise both come from
    lme4's finite differences of ``fn`` (:func:`fd_derivs`, which evaluates its points all
    at once with ``fn_many`` when given, and takes ``f_theta = fn(theta)`` when known).

    Examples
    --------
    >>> check_convergence(lambda x: float((x[0] - 1) ** 2), np.array([1.0]), np.array([0.0]))
    []
    >>> check_convergence(None, np.array([1.5]), np.array([0.0]),
    ...                   fg=lambda x: (float((x[0] - 1) ** 2), 2 * (x - 1)))[0][:33]
    'Model failed to converge with max'
    """
    if theta.size == 0 or theta.size > MAX_PARAMS:
        return []
    derivs = analytic_derivs(fg, theta) if fg is not None else None
    grad, hess = (derivs if derivs is not None
                  else fd_derivs(fn, theta, lower, fn_many=fn_many, f_x=f_theta))
    out = []
    worst = np.abs(grad)
    try:
        chol = np.linalg.cholesky(hess)  # fails where the Hessian is not positive definite
        # lme4 tests min(|H^{-1/2} g|, |g|) elementwise: solved only when |g| could fail
        if worst.max() > GRAD_TOL:
            worst = np.minimum(np.abs(np.linalg.solve(chol.T, grad)), worst)
    except np.linalg.LinAlgError:
        out.append("Model is nearly unidentifiable: the Hessian of the profiled deviance is not "
                   "positive definite; consider rescaling predictors or simplifying the model")
    if worst.max() > GRAD_TOL:
        k = int(worst.argmax())
        out.insert(0, f"Model failed to converge with max|grad| = {worst.max():.6g} "
                      f"(tol = {GRAD_TOL}, component {k + 1})")
    return out


#: lme4's checks of the random-effects design and their defaults in lmerControl and
#: glmerControl (``check.nobs.vs.nlev``, ``check.nlev.gtr.1``, ``check.nobs.vs.nRE``).
DESIGN_CHECKS = ("check_nobs_vs_nlev", "check_nlev_gtr_1", "check_nobs_vs_nre")
CHECK_ACTIONS = ("ignore", "warning", "stop")


def design_checks(control) -> dict[str, str]:
    """The actions of lme4's design checks set on a control object, validated.

    Each is ``"ignore"``, ``"warning"`` or ``"stop"`` (lme4's default for all three): with
    ``check_nobs_vs_nlev="ignore"`` and ``check_nobs_vs_nre="ignore"``, ``lmer`` fits
    observation-level random effects ``(1 | obs)`` as lme4 then does.

    Examples
    --------
    >>> from multilevel.fit.lmer import LmerControl
    >>> design_checks(LmerControl(check_nobs_vs_nlev="ignore"))["check_nobs_vs_nlev"]
    'ignore'
    >>> design_checks(LmerControl(check_nlev_gtr_1="off"))
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: LmerControl(check_nlev_gtr_1=...) must be 'ignore', 'warning' or 'stop', got 'off'
      How to fix: use one of lme4's actions, e.g. check_nlev_gtr_1="ignore"
    """
    out = {}
    for name in DESIGN_CHECKS:
        value = getattr(control, name, "stop")
        if value not in CHECK_ACTIONS:
            raise DataError(two_line(
                f"{type(control).__name__}({name}=...) must be 'ignore', 'warning' or 'stop', "
                f"got {value!r}", f"use one of lme4's actions, e.g. {name}=\"ignore\""))
        out[name] = value
    return out
