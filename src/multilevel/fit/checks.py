"""lme4's post-fit convergence checks (``checkConv``) on the profiled objective."""
from __future__ import annotations

from typing import Callable

import numpy as np

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
    Steps that would cross a lower bound are taken one-sided (the centre moves up by ``h``).

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
    step = np.full(n, delta)
    # keep every evaluation feasible: shift the centre away from a bound
    c = np.where(x - step < lower, lower + step, x)
    # the centre's value is reused only one point at a time at x (a batch computes its own)
    known_fc = f_x is not None and fn_many is None and not np.any(c != x)
    E = np.diag(step)  # row i: the step h_i along coordinate i
    pairs = [(i, j) for i in range(n) for j in range(i)]
    points = [] if known_fc else [c]
    points += [c + s * E[i] for i in range(n) for s in (1.0, -1.0)]  # c + h_i, c - h_i
    points += [c + E[i] + E[j] for i, j in pairs]  # the components add one step each
    if fn_many is not None:
        values = np.asarray(fn_many(np.array(points)), dtype=float)
    else:
        values = np.array([fn(pt) for pt in points], dtype=float)
    if known_fc:
        fc = float(f_x)
    else:
        fc, values = float(values[0]), values[1:]
    fp, fm = values[0:2 * n:2], values[1:2 * n:2]
    grad = (fp - fm) / (2 * step)
    hess = np.diag((fp - 2 * fc + fm) / step ** 2)
    for (i, j), fpp in zip(pairs, values[2 * n:]):
        hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + fc) / (step[i] * step[j])
    return grad, hess


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

    Examples
    --------
    >>> fg = lambda x: (float(x[0] ** 2 + 3 * x[0] * x[1]),
    ...                 np.array([2 * x[0] + 3 * x[1], 3 * x[0]]))
    >>> g, H = analytic_derivs(fg, np.array([1.0, 2.0]))
    >>> np.round(g, 6).tolist(), np.round(H, 4).tolist()
    ([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
    """
    grad = fg(x)[1]
    if grad is None:
        return None
    hess = gradient_hessian(fg, x, grad)
    return None if hess is None else (grad, hess)


def check_convergence(fn, theta: np.ndarray, lower: np.ndarray,
                      fg: Callable | None = None, *, fn_many: Callable | None = None,
                      f_theta: float | None = None) -> list[str]:
    """Messages in lme4's wording when the optimum fails the gradient or Hessian check.

    ``fg(theta) -> (f, grad)``, when given, supplies an analytic gradient: the Hessian is
    then its forward differences (:func:`analytic_derivs`); otherwise both come from
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
    from ..errors import DataError, two_line

    out = {}
    for name in DESIGN_CHECKS:
        value = getattr(control, name, "stop")
        if value not in CHECK_ACTIONS:
            raise DataError(two_line(
                f"{type(control).__name__}({name}=...) must be 'ignore', 'warning' or 'stop', "
                f"got {value!r}", f"use one of lme4's actions, e.g. {name}=\"ignore\""))
        out[name] = value
    return out
