"""The compiled inner loop, when it is there (:mod:`multilevel.core._criteria`).

The package builds one small C extension: the profiled criterion of a small model (the
dense system of :mod:`multilevel.core.dense_small`, :func:`dense_criterion`) and of a model
whose first grouping factor's levels are eliminated one by one (:func:`block_criterion`;
:class:`~multilevel.core.lmm.LmmProblem` says when), and a whole BOBYQA run through NLopt's
C interface, with no Python call per evaluation. Where the extension could not be built, or
NLopt's C functions cannot be found in the library the ``nlopt`` package loaded, or the
environment variable ``MULTILEVEL_NATIVE`` is ``0``, both answer None and the same models run
through numpy, to the same optimum (the two differ in rounding only).
"""
from __future__ import annotations

import os
import sys
from functools import lru_cache

import numpy as np

_STATE: list = []  # [extension module or None], decided on first use


def _kernel():
    """The extension module with NLopt's C functions loaded, or None."""
    if not _STATE:
        module = None
        if os.environ.get("MULTILEVEL_NATIVE", "1") != "0":
            try:
                from . import _criteria as module
                import nlopt  # noqa: F401  (loads NLopt's shared library)

                lib = getattr(sys.modules.get("nlopt._nlopt"), "__file__", None)
                if lib is None or not module.load_nlopt(lib):
                    module = None
            except ImportError:
                module = None
        _STATE.append(module)
    return _STATE[0]


def available() -> bool:
    """Whether the compiled inner loop is in use (see the module docstring).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return _kernel() is not None


def dense_criterion(K: np.ndarray, ia: np.ndarray, ib: np.ndarray, *, m: int, q: int, p: int,
                    n_obs: float, reml: bool, log_det_w: float, bad: float):
    """The compiled ``theta -> criterion`` of the dense system ``S = coef(theta) @ K``
    (:meth:`multilevel.core.dense_small.DenseObjective.compiled_criterion`), or None where
    the extension is not in use. The object is callable and has ``minimize``, one NLopt run
    in C (used by :func:`multilevel.core.optimize.bobyqa`).

    Examples
    --------
    One random effect, no fixed effect, ``S = [[1 + 2 theta^2, 2 theta], [2 theta, 4]]``
    (``Z'Z = 2``, ``Z'y = 2``, ``y'y = 4``), three observations, ML:

    >>> K = np.array([[1.0, 0.0, 0.0, 4.0], [0.0, 2.0, 2.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    >>> f = dense_criterion(K, np.array([0]), np.array([0]), m=2, q=1, p=0, n_obs=3.0,
    ...                     reml=False, log_det_w=0.0, bad=1e300)
    >>> L = np.linalg.cholesky(np.array([[1.5, 1.0], [1.0, 4.0]]))  # theta = 0.5
    >>> want = 2 * np.log(L[0, 0]) + 3 * (1 + np.log(2 * np.pi * L[1, 1] ** 2 / 3))
    >>> f is None or bool(np.isclose(f(np.array([0.5])), want, rtol=1e-14))
    True
    """
    module = _kernel()
    if module is None:
        return None
    return module.DenseCriterion(np.ascontiguousarray(K, dtype=np.float64),
                                 np.ascontiguousarray(ia, dtype=np.int64),
                                 np.ascontiguousarray(ib, dtype=np.int64),
                                 int(m), int(q), int(p), float(n_obs), bool(reml),
                                 float(log_det_w), float(bad))


def block_criterion(D: np.ndarray, F: np.ndarray, xy: np.ndarray, *, n_obs: float,
                    reml: bool, log_det_w: float, bad: float, rest: tuple | None = None):
    """The compiled ``theta -> criterion`` (ML deviance or REML) with the first term's levels
    eliminated one by one: per level ``Z_l'Z_l`` (``D``, ``(l, p, p)``) and
    ``Z_l'[Z_rest X y]`` (``F``, ``(l, p, m)``), and the cross-products of the rest
    ``[Z_rest X y]`` (``xy``). Theta starts with the first term's lower-triangular factor by
    columns, as lme4 orders it; ``rest = (rows, cols, theta_index, q_rest)`` places the other
    terms' thetas in their factor ``Lambda_r`` (``q_rest x q_rest``), None for one term.
    Each level gives ``log det(T'D_l T + I)`` and takes ``F_l'T (T'D_l T + I)^{-1} T'F_l``
    off ``xy``; the rest's system ``Lambda_r' (.) Lambda_r + I`` is then factored densely.
    None where the extension is not in use. Callable, with ``minimize`` (see
    :func:`dense_criterion`).

    Examples
    --------
    Two levels of one random intercept, no fixed effect, ML, at ``theta = 0.5``:

    >>> D = np.array([2.0, 1.0]).reshape(2, 1, 1)
    >>> F = np.array([3.0, 1.0]).reshape(2, 1, 1)  # Z_l'y
    >>> f = block_criterion(D, F, np.array([[6.0]]), n_obs=3.0, reml=False, log_det_w=0.0,
    ...                     bad=1e300)
    >>> E = 1 + 0.25 * np.array([2.0, 1.0])
    >>> r2 = 6.0 - (0.25 * np.array([9.0, 1.0]) / E).sum()
    >>> want = np.log(E).sum() + 3 * (1 + np.log(2 * np.pi * r2 / 3))
    >>> f is None or bool(np.isclose(f(np.array([0.5])), want, rtol=1e-14))
    True
    """
    module = _kernel()
    if module is None:
        return None
    rows, cols = _lower_by_columns(D.shape[1])
    n_first = rows.size
    if rest is None:
        rest = (np.empty(0, np.int64),) * 3 + (0,)
    rrow, rcol, rtheta, q_rest = rest
    rtheta = np.asarray(rtheta, dtype=np.int64)
    n_theta = int(rtheta.max()) + 1 if rtheta.size else n_first
    i64 = np.int64
    return module.BlockCriterion(np.ascontiguousarray(D, dtype=np.float64),
                                 np.ascontiguousarray(F, dtype=np.float64),
                                 np.ascontiguousarray(xy, dtype=np.float64),
                                 rows, cols,
                                 np.ascontiguousarray(rrow, dtype=i64),
                                 np.ascontiguousarray(rcol, dtype=i64),
                                 np.ascontiguousarray(rtheta), int(q_rest), n_theta,
                                 float(n_obs), bool(reml), float(log_det_w), float(bad))


@lru_cache(maxsize=16)
def _lower_by_columns(p: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of a ``p x p`` lower triangle by columns, lme4's theta order
    (read-only)."""
    cols, rows = np.triu_indices(p)  # (0,0), (1,0), (2,0), ..., (1,1), (2,1), ...
    out = rows.astype(np.int64), cols.astype(np.int64)
    for a in out:
        a.setflags(write=False)
    return out
