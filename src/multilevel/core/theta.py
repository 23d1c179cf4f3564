"""The covariance parameter vector theta and the relative covariance factors it fills.

For a random-effects term with ``p`` columns, lme4 parameterises the ``p x p`` relative
covariance factor ``T`` (lower triangular, ``Sigma_term = sigma^2 T T'``) by its lower triangle
in column-major order: ``theta = [T11, T21, ..., Tp1, T22, ..., Tpp]``. Diagonal elements are
bounded below by zero, off-diagonal elements are free. The full factor is
``Lambda = blockdiag(I_{l_1} (x) T_1, ..., I_{l_K} (x) T_K)``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def n_theta(p: int) -> int:
    """Number of theta parameters of a ``p``-column term: ``p (p + 1) / 2``.

    Examples
    --------
    >>> n_theta(2)
    3
    """
    return p * (p + 1) // 2


@lru_cache(maxsize=64)
def lower_tri_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle in lme4's (column-major) order.

    Examples
    --------
    >>> [list(map(int, a)) for a in lower_tri_indices(2)]
    [[0, 1, 1], [0, 0, 1]]
    """
    cols, rows = np.triu_indices(p)  # column-major lower triangle == row-major upper of T'
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def theta_start(ps: list[int]) -> np.ndarray:
    """lme4's starting value: identity factors (1 on diagonals, 0 elsewhere).

    Examples
    --------
    >>> theta_start([2, 1]).tolist()
    [1.0, 0.0, 1.0, 1.0]
    """
    out = []
    for p in ps:
        rows, cols = lower_tri_indices(p)
        out.append((rows == cols).astype(float))
    return np.concatenate(out) if out else np.zeros(0)


def variance_ratio_start(group_var: np.ndarray, total_var: float) -> np.ndarray | None:
    """lme4's start for models whose random effects are all scalar intercepts.

    lme4 (``mkLmerDevfun``) starts such fits at ``theta_k = sqrt(v_k / v_e)``, where ``v_k``
    is the variance of the response's group means of factor ``k`` (``var(ave(y, f_k))``) and
    ``v_e = var(y) - sum(v_k)``; when ``v_e`` is not positive it keeps the identity start.
    Returns None in that case.

    Examples
    --------
    >>> variance_ratio_start(np.array([1.0, 0.25]), 2.25).tolist()
    [1.0, 0.5]
    >>> variance_ratio_start(np.array([2.0]), 1.5) is None
    True
    """
    v = np.asarray(group_var, dtype=float)
    v_e = float(total_var) - float(v.sum())
    if not np.isfinite(v_e) or v_e <= 0 or not np.all(np.isfinite(v)) or np.any(v < 0):
        return None
    return np.sqrt(v / v_e)


def theta_lower(ps: list[int]) -> np.ndarray:
    """Lower bounds: 0 for diagonal elements, -inf for off-diagonal ones.

    Examples
    --------
    >>> theta_lower([2]).tolist()
    [0.0, -inf, 0.0]
    """
    out = []
    for p in ps:
        rows, cols = lower_tri_indices(p)
        out.append(np.where(rows == cols, 0.0, -np.inf))
    return np.concatenate(out) if out else np.zeros(0)


def split_theta(theta: np.ndarray, ps: list[int]) -> list[np.ndarray]:
    """Cut theta into per-term lower-triangular factors ``T_k`` (``p_k x p_k`` arrays).

    Examples
    --------
    >>> split_theta(np.array([1.0, 0.5, 2.0]), [2])[0].tolist()
    [[1.0, 0.0], [0.5, 2.0]]
    """
    factors, start = [], 0
    for p in ps:
        k = n_theta(p)
        T = np.zeros((p, p))
        rows, cols = lower_tri_indices(p)
        T[rows, cols] = theta[start:start + k]
        factors.append(T)
        start += k
    return factors


def theta_from_factors(factors: list[np.ndarray]) -> np.ndarray:
    """Inverse of :func:`split_theta`.

    Examples
    --------
    >>> theta_from_factors([np.array([[1.0, 0.0], [0.5, 2.0]])]).tolist()
    [1.0, 0.5, 2.0]
    """
    parts = []
    for T in factors:
        rows, cols = lower_tri_indices(T.shape[0])
        parts.append(T[rows, cols])
    return np.concatenate(parts) if parts else np.zeros(0)


def theta_columns(ps: list[int]) -> list[np.ndarray]:
    """Positions in theta of each column of each ``T_k``, diagonal element first.

    Changing the signs of a whole column leaves ``T T'`` (and so the model) unchanged; the
    diagonal element heads it (lme4's order is column-major).

    Examples
    --------
    >>> [c.tolist() for c in theta_columns([2, 1])]
    [[0, 1], [2], [3]]
    """
    out, start = [], 0
    for p in ps:
        for j in range(p):
            out.append(np.arange(start, start + p - j))
            start += p - j
    return out
