"""Rank deficiency of the fixed-effects model matrix, decided as R decides it.

R's ``qr(X, tol = 1e-7)`` (LINPACK ``dqrdc2``, used by ``lm`` and by lme4's
``chkRank.drop.cols``) works through the columns in order with limited pivoting: a column
whose norm, after projecting out the columns kept before it, is below ``tol`` times its
original norm is moved to the end (aliased). The kept columns keep their order.

.. math::

    \\text{keep } j \\iff \\lVert (I - Q_{<j} Q_{<j}^\\top) x_j \\rVert \\ge
    \\text{tol} \\cdot \\lVert x_j \\rVert

(an all-zero column is always aliased).
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from multilevel.errors import RankDeficiencyWarning

__all__ = ["rank_mask", "drop_collinear", "rank_deficiency_message"]


def rank_mask(X: np.ndarray, tol: float = 1e-7, *, gram: np.ndarray | None = None) -> np.ndarray:
    """Which columns of `X` R keeps (True) and which are aliased (False).

    Parameters
    ----------
    X : ndarray, shape (n, p)
    tol : float
        R's ``qr`` tolerance (``1e-7`` in ``lm`` and lme4).
    gram : ndarray, shape (p, p), optional
        ``X'X`` when the caller has it (it screens clearly full-rank matrices).

    Returns
    -------
    ndarray of bool, shape (p,)
        ``lm`` reports the False columns as aliased (NA coefficients, ``keep_aliased``);
        lme4 drops them.

    Examples
    --------
    >>> X = np.array([[1., 1, 2], [1, 2, 4], [1, 3, 6]])
    >>> rank_mask(X).tolist()
    [True, True, False]
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if _clearly_full_rank(X, gram=gram):
        return np.ones(p, dtype=bool)
    norms = np.linalg.norm(X, axis=0)
    norms[norms == 0] = 1.0  # dqrdc2: a zero column compares against 1
    basis = np.empty((n, 0))
    keep = np.zeros(p, dtype=bool)
    for j in range(p):
        r = X[:, j].copy()
        for _ in range(2):  # re-orthogonalise once: classical Gram-Schmidt twice is stable
            r -= basis @ (basis.T @ r)
        rn = float(np.linalg.norm(r))
        if rn >= tol * norms[j] and rn > 0:
            keep[j] = True
            basis = np.column_stack([basis, r / rn])
    return keep


def _clearly_full_rank(X: np.ndarray, margin: float = 1e-3, gram=None) -> bool:
    """A cheap screen on ``X'X``: every column keeps more than ``margin`` of its norm after
    projection (far above ``tol``, so the squared conditioning of the Gram matrix cannot
    change the verdict). Undecided cases go through the exact sequential test."""
    if X.shape[1] == 0 or X.shape[0] < X.shape[1]:
        return False
    G = X.T @ X if gram is None else gram
    if G.shape[0] <= _SMALL_GRAM:
        return _small_gram_clearly_full_rank(G.tolist(), margin)
    d = np.sqrt(np.diag(G))
    if np.any(d == 0) or not np.all(np.isfinite(G)):
        return False
    try:
        R = np.linalg.cholesky(G / np.outer(d, d))
    except np.linalg.LinAlgError:
        return False
    return bool(np.min(np.diag(R)) > margin)


#: Gram matrices up to this order are screened in Python floats (numpy's per-call overhead,
#: ~10 calls of a few us each, is most of the cost for the p = 1..6 of a typical model).
_SMALL_GRAM = 6


def _small_gram_clearly_full_rank(G: list, margin: float) -> bool:
    """:func:`_clearly_full_rank` on a small Gram matrix (nested lists): the Cholesky factor
    of the correlation matrix ``G_ij / sqrt(G_ii G_jj)`` has every diagonal entry above
    `margin` (the same screen; rounding differences only move undecided cases to the exact
    test).

    Examples
    --------
    >>> _small_gram_clearly_full_rank([[4.0, 2.0], [2.0, 2.0]], 1e-3)
    True
    >>> _small_gram_clearly_full_rank([[1.0, 1.0], [1.0, 1.0]], 1e-3)
    False
    """
    p = len(G)
    if not all(map(math.isfinite, itertools.chain.from_iterable(G))):
        return False
    d = [math.sqrt(G[i][i]) if G[i][i] > 0 else 0.0 for i in range(p)]
    if 0.0 in d:
        return False
    # Cholesky-Crout by rows: row j of L from row j of C = G_jk / (d_j d_k) and the rows
    # above it (the same sums, in the same order, as column by column)
    L: list[list[float]] = []
    for j in range(p):
        Gj, dj = G[j], d[j]
        row = [Gj[k] / (dj * d[k]) for k in range(j + 1)]
        for k in range(j):
            Lk = L[k]
            row[k] = (row[k] - sum([row[m] * Lk[m] for m in range(k)])) / Lk[k]
        s = row[j] - sum([row[k] ** 2 for k in range(j)])
        if not s > margin ** 2:  # the pivot L_jj = sqrt(s) must exceed the margin
            return False
        row[j] = math.sqrt(s)
        L.append(row)
    return True


def rank_deficiency_message(n_dropped: int) -> str:
    """lme4's warning text for `n_dropped` dropped columns.

    Examples
    --------
    >>> rank_deficiency_message(1)
    'fixed-effect model matrix is rank deficient so dropping 1 column / coefficient'
    """
    if n_dropped == 1:
        return "fixed-effect model matrix is rank deficient so dropping 1 column / coefficient"
    return (f"fixed-effect model matrix is rank deficient so dropping {n_dropped} "
            "columns / coefficients")


def drop_collinear(X: np.ndarray, names: list[str], tol: float = 1e-7, *,
                   warn: bool = True, gram: np.ndarray | None = None
                   ) -> tuple[np.ndarray, list[str], list[str]]:
    """Drop aliased columns like lme4 and warn with lme4's message.

    Parameters
    ----------
    X : ndarray, shape (n, p)
    names : list of str
        Column names of `X`.
    tol : float
    warn : bool
        Emit a :class:`~multilevel.errors.RankDeficiencyWarning` when columns are dropped.
    gram : ndarray, optional
        ``X'X`` when the caller has it (see :func:`rank_mask`).

    Returns
    -------
    X_kept : ndarray, shape (n, rank)
    kept : list of str
    dropped : list of str

    Examples
    --------
    >>> X = np.array([[1., 0, 0], [1, 1, 1], [1, 2, 2]])
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     Xk, kept, dropped = drop_collinear(X, ["(Intercept)", "a", "b"])
    >>> kept, dropped
    (['(Intercept)', 'a'], ['b'])
    """
    mask = rank_mask(X, tol, gram=gram) if X.shape[1] else np.zeros(0, dtype=bool)
    dropped = [nm for nm, k in zip(names, mask) if not k]
    if dropped and warn:
        warnings.warn(rank_deficiency_message(len(dropped)), RankDeficiencyWarning,
                      stacklevel=3)
    if not dropped:
        return X, list(names), dropped  # nothing dropped: no copy of a large X
    return X[:, mask], [nm for nm, k in zip(names, mask) if k], dropped
