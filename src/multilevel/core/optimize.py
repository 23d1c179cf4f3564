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
        """Whether the optimiser stopped on one of its tolerances (not on a limit or error).

        Examples
        --------
        >>> OptSummary(optimizer="bobyqa", theta0=np.ones(1), lower=np.zeros(1),
        ...            theta=np.ones(1), fmin=1.0, feval=3, return_code="XTOL_REACHED").converged
        True
        """
        return self.return_code in {"SUCCESS", "FTOL_REACHED", "XTOL_REACHED", "STOPVAL_REACHED"}


_NLOPT_CODES = {1: "SUCCESS", 2: "STOPVAL_REACHED", 3: "FTOL_REACHED", 4: "XTOL_REACHED",
                5: "MAXEVAL_REACHED", 6: "MAXTIME_REACHED", -1: "FAILURE",
                -2: "INVALID_ARGS", -3: "OUT_OF_MEMORY", -4: "ROUNDOFF_LIMITED",
                -5: "FORCED_STOP"}


def snap_to_bounds(fn: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                   lower: np.ndarray, tol: float) -> tuple[np.ndarray, float, int]:
    """``(x, f(x), evaluations)`` with the parameters within ``tol`` above their bound set onto
    it when that is no worse (lme4's ``check.boundary``); one evaluation, or none.

    Examples
    --------
    >>> x, fx, n = snap_to_bounds(lambda t: float(t[0] ** 2 + t[1]), np.array([3e-6, 1.0]), 1.0,
    ...                           np.array([0.0, -np.inf]), 1e-5)
    >>> x.tolist(), fx, n
    ([0.0, 1.0], 1.0, 1)
    """
    near = np.isfinite(lower) & (x - lower < tol) & (x != lower)
    if not near.any():
        return x, fx, 0
    snapped = np.where(near, lower, x)
    f_snap = float(fn(snapped))
    return (snapped, f_snap, 1) if f_snap <= fx else (x, fx, 1)


def bobyqa(fn: Callable[[np.ndarray], float], theta0: np.ndarray, lower: np.ndarray, *,
           xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, maxeval: int = 100_000,
           boundary_tol: float = 1e-5, initial_step: np.ndarray | None = None,
           restart_edge: bool = True, keep_best: bool = True) -> OptSummary:
    """Minimise ``fn`` from ``theta0`` subject to ``theta >= lower`` with NLopt's BOBYQA.

    ``initial_step`` sets BOBYQA's initial trust region per parameter (NLopt's default, as in
    lme4, is three quarters of the distance to the bound: ``0.75 theta0`` for ``theta0 > 0``).
    ``restart_edge`` runs lme4's second run from a bound whose one-sided derivative points
    inside; ``keep_best`` answers NLopt's roundoff stop with the best point evaluated, as
    NLopt's C interface (and so lme4 through nloptr) does; the Python interface raises
    instead, so without it the fit would stop at ``theta0``. A compiled ``fn``
    (:func:`multilevel.core.native.dense_criterion`) runs each NLopt run in C, with no Python
    call per evaluation.

    Examples
    --------
    >>> opt = bobyqa(lambda x: float((x[0] - 2) ** 2 + (x[1] + 1) ** 2),
    ...              np.array([1.0, 0.0]), np.array([0.0, -np.inf]))
    >>> np.round(opt.theta, 4).tolist()
    [2.0, -1.0]
    """
    t0 = time.perf_counter()
    theta0 = np.asarray(theta0, dtype=float)
    n = theta0.size
    count = [0]  # evaluations outside NLopt's runs (NLopt counts its own)
    messages: list[str] = []
    log: list[str] = []
    if n == 0:
        fmin, theta, code = float(fn(theta0)), theta0, "SUCCESS"
    else:
        run = _nlopt_runner(fn, n, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs,
                            maxeval=maxeval, initial_step=initial_step)
        theta, result, evals, best = run(theta0)
        code = _NLOPT_CODES.get(result, str(result))
        if result == ROUNDOFF_LIMITED:
            theta = best if keep_best else theta0
            messages.append("NLopt stopped: roundoff limited")
        count[0] += evals
        fmin = float(fn(theta))
        count[0] += 1
        # lme4's restart_edge: a parameter stuck on its bound whose one-sided derivative
        # points inside gets a second run from there
        on_bound = np.flatnonzero(np.isfinite(lower) & (theta == lower))
        if restart_edge and on_bound.size and code != "ROUNDOFF_LIMITED":
            grads = []
            for i in on_bound:
                t = theta.copy()
                t[i] = lower[i] + 1e-5
                grads.append((float(fn(t)) - fmin) / 1e-5)
                count[0] += 1
            if min(grads) < 0:
                log.append("some theta parameters on the boundary, restarting")
                theta2, result, evals, _ = run(theta)
                count[0] += evals
                if result != ROUNDOFF_LIMITED:
                    f2 = float(fn(theta2))
                    count[0] += 1
                    if f2 <= fmin:
                        theta, fmin = theta2, f2
        theta, fmin, n_snap = snap_to_bounds(fn, theta, fmin, lower, boundary_tol)
        count[0] += n_snap
    return OptSummary(optimizer="bobyqa", theta0=theta0, lower=np.asarray(lower, dtype=float),
                      theta=np.asarray(theta, dtype=float), fmin=fmin, feval=count[0],
                      return_code=code, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      seconds=time.perf_counter() - t0, messages=messages, log=log)


ROUNDOFF_LIMITED = -4
_NLOPT_ERRORS = {-1: (RuntimeError, "nlopt failure"), -2: (ValueError, "nlopt invalid argument"),
                 -3: (MemoryError, "nlopt out of memory")}


def _nlopt_runner(fn, n: int, lower: np.ndarray, *, xtol_abs: float, ftol_abs: float,
                  maxeval: int, initial_step: np.ndarray | None):
    """``x0 -> (x, NLopt's result code, evaluations, best point evaluated)``: one BOBYQA
    run from ``x0`` with these settings, as lme4 runs it through nloptr. A compiled
    criterion (:func:`multilevel.core.native.dense_criterion`, which has ``minimize``) runs
    in C through NLopt's C interface; any other ``fn`` through NLopt's Python interface,
    whose roundoff stop (an exception there) comes back as its code here, as in C.

    Examples
    --------
    >>> run = _nlopt_runner(lambda x: float((x[0] - 2) ** 2), 1, np.array([0.0]),
    ...                     xtol_abs=1e-8, ftol_abs=1e-8, maxeval=100, initial_step=None)
    >>> x, code, evals, best = run(np.array([1.0]))
    >>> round(float(x[0]), 4), code > 0, evals > 0
    (2.0, True, True)
    """
    import nlopt

    lb = np.ascontiguousarray(np.where(np.isfinite(lower), lower, -np.inf), dtype=float)
    step = None if initial_step is None else np.ascontiguousarray(initial_step, dtype=float)
    compiled = getattr(fn, "minimize", None)
    if compiled is not None:
        def run_compiled(x0):
            x, best = np.array(x0, dtype=float), np.empty(n)
            code, evals, _ = compiled(x, lb, nlopt.LN_BOBYQA, xtol_abs, ftol_abs, maxeval,
                                      step, best)
            if code in _NLOPT_ERRORS:  # as NLopt's Python interface raises them
                error, text = _NLOPT_ERRORS[code]
                raise error(text)
            return x, code, evals, best
        return run_compiled

    best = [np.inf, None]

    def keep(x, grad):  # the inner loop: NLopt calls fn itself (fn returns a float)
        v = fn(x)
        if v < best[0]:
            best[0], best[1] = v, x.copy()
        return v

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_min_objective(keep)
    opt.set_lower_bounds(lb)
    opt.set_xtol_abs(xtol_abs)
    opt.set_ftol_abs(ftol_abs)
    opt.set_maxeval(maxeval)
    if step is not None:
        opt.set_initial_step(step)

    def run_python(x0):
        best[0], best[1] = np.inf, np.array(x0, dtype=float)
        try:
            # objectives may step where a factor fails and return a bad value: numpy's
            # "invalid" flag stays quiet once here rather than in a with-block per call
            with np.errstate(invalid="ignore"):
                x = opt.optimize(x0)
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            x, code = best[1], ROUNDOFF_LIMITED
        return x, code, opt.get_numevals(), best[1]
    return run_python


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
