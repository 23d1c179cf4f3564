"""Refits that reuse a fitted model's cross-products (lme4's ``refitML`` and ``refit``).

Refitting by ML keeps ``A`` as it is. A new response changes only the ``y`` row of the
``[X y]`` blocks: ``y'Z_k`` per level, ``X'y`` and ``y'y``; the ``Z'Z`` and ``X'Z`` blocks,
the expensive ones, are shared.
"""
from __future__ import annotations

import contextlib
import dataclasses
import weakref

import numpy as np

from ..core.crossprod import CrossProducts, TermData, fixed_cross
from ..core.lmm import LmmProblem
from ..core.optimize import bobyqa

SINGULAR_TOL = 1e-4
_ML_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def blas_context(m):
    """Single-threaded BLAS for models with small dense blocks (as the fit does).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> with blas_context(m):
    ...     pass
    """
    try:
        from ..core.threads import blas_threads_for, largest_dense_block
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return blas_threads_for(largest_dense_block(m.problem.A))


def _result(m, problem, opt, design=None):
    from ..results.lmm import LmerResult

    singular = m.theta_map.is_singular(opt.theta, SINGULAR_TOL)
    return LmerResult(design=design if design is not None else m.design, terms=m.terms,
                      problem=problem, opt=opt, data_name=m.data_name, singular=singular)


def refit_ml(m):
    """The ML fit of a REML-fitted model, started from its estimates (lme4's ``refitML``).

    An ML fit is returned as it is.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(refit_ml(m).loglik, 3)
    -875.97
    """
    if not m.reml:
        return m
    hit = _ML_CACHE.get(m)
    if hit is not None:
        return hit
    problem = LmmProblem(m.problem.A, reml=False)
    tm = m.theta_map  # covariance structures: optimise their parameters (theta for lme4's)
    with blas_context(m):
        opt = bobyqa(tm.wrap(problem.objective), tm.phi(np.asarray(m.theta, dtype=float)),
                     tm.lower)
        out = _result(m, problem, opt)
    _ML_CACHE[m] = out
    return out


def with_response(A: CrossProducts, terms, X: np.ndarray, y: np.ndarray) -> CrossProducts:
    """``A`` with the response replaced by ``y`` (only the ``y`` row and column change).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> A = with_response(m.problem.A, m.terms, m.design.X, m.design.y)
    >>> bool(np.allclose(A.xy, m.problem.A.xy))
    True
    """
    p = A.p_x
    y = np.asarray(y, dtype=float)
    fixed = []
    for t, F in zip(terms, A.fixed):
        td = TermData(np.asarray(t.codes, dtype=np.int64), np.asarray(t.Z, dtype=float),
                      t.n_levels)
        new = F.copy()
        new[p] = fixed_cross(td, y[:, None])[0]
        fixed.append(new)
    xy = A.xy.copy()
    xty = X.T @ y
    xy[:p, p] = xty
    xy[p, :p] = xty
    xy[p, p] = float(y @ y)
    return dataclasses.replace(A, fixed=fixed, xy=xy)


def refit_response(m, y: np.ndarray, *, start: np.ndarray | None = None):
    """Refit ``m`` to a new response vector (lme4's ``refit(m, newresp)``).

    Parameters
    ----------
    m : LmerResult
    y : (nobs,) array
        The new response for the rows used in the fit.
    start : array, optional
        Starting theta; the fitted one by default.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> bool(abs(refit_response(m, m.design.y).loglik - m.loglik) < 1e-6)
    True
    """
    y = np.asarray(y, dtype=float)
    off = m.design.offset
    A = with_response(m.problem.A, m.terms, m.design.X, y if off is None else y - off)
    problem = LmmProblem(A, reml=m.reml)
    tm = m.theta_map
    theta0 = np.asarray(m.theta if start is None else start, dtype=float)
    opt = bobyqa(tm.wrap(problem.objective), tm.phi(theta0), tm.lower)
    return _result(m, problem, opt, design=dataclasses.replace(m.design, y=y))
