"""Factors of stacks of small dense blocks, the one primitive every blocked solver shares.

``batched_cholesky`` factors an ``(l, p, p)`` stack of symmetric positive definite blocks (one
per level of a grouping factor) in closed form for ``p <= 2`` and by LAPACK otherwise;
:class:`NotPositiveDefinite` is what every factorisation raises when a pivot is lost. The
blocked (:mod:`~multilevel.core.cholesky`), nested (:mod:`~multilevel.core.nested`) and
closed-form (:mod:`~multilevel.core.single_term`, :mod:`~multilevel.core.nested_two`)
objectives import them from here, so none of them needs another's module.
"""
from __future__ import annotations

import numpy as np


class NotPositiveDefinite(ArithmeticError):
    """Raised when a diagonal block loses positive definiteness (extreme theta)."""


def _chol(D: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(D)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefinite(str(exc)) from exc


def batched_cholesky(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors and their inverses of a stack of small SPD blocks ``(l, p, p)``.

    Closed forms for ``p = 1, 2`` (the common random intercept and intercept + slope terms)
    avoid LAPACK's per-call overhead on thousands of tiny blocks.

    Examples
    --------
    >>> L, Linv = batched_cholesky(np.array([[[4.0, 2.0], [2.0, 5.0]]]))
    >>> L[0].tolist(), (L[0] @ Linv[0]).round(12).tolist()
    ([[2.0, 0.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]])
    """
    p = D.shape[1]
    if p == 1:
        d = D[:, 0, 0]
        if not d.min() > 0:
            raise NotPositiveDefinite("non-positive diagonal")
        s = np.sqrt(d)
        return s[:, None, None], (1.0 / s)[:, None, None]
    if p == 2:
        a, b, c = D[:, 0, 0], D[:, 1, 0], D[:, 1, 1]
        if not a.min() > 0:  # one reduction; also false for NaN
            raise NotPositiveDefinite("non-positive diagonal")
        l11 = np.sqrt(a)
        l21 = b / l11
        r = c - l21 * l21
        if not r.min() > 0:
            raise NotPositiveDefinite("non-positive pivot")
        l22 = np.sqrt(r)
        L = np.empty_like(D)
        L[:, 0, 0], L[:, 0, 1], L[:, 1, 0], L[:, 1, 1] = l11, 0.0, l21, l22
        i11, i22 = 1.0 / l11, 1.0 / l22
        Linv = np.empty_like(D)
        Linv[:, 0, 0], Linv[:, 0, 1], Linv[:, 1, 0], Linv[:, 1, 1] = i11, 0.0, -l21 * i11 * i22, i22
        return L, Linv
    L = _chol(D)
    return L, np.linalg.inv(L)


def lower_inverse(L: np.ndarray) -> np.ndarray:
    """Inverses of a stack ``(l, p, p)`` of lower-triangular blocks (closed form for p <= 2).

    Examples
    --------
    >>> lower_inverse(np.array([[[2.0, 0.0], [1.0, 4.0]]]))[0].tolist()
    [[0.5, 0.0], [-0.125, 0.25]]
    """
    p = L.shape[1]
    if p == 1:
        return 1.0 / L
    if p == 2:
        a, c, d = L[:, 0, 0], L[:, 1, 0], L[:, 1, 1]
        out = np.zeros_like(L)
        out[:, 0, 0], out[:, 1, 0], out[:, 1, 1] = 1.0 / a, -c / (a * d), 1.0 / d
        return out
    return np.linalg.inv(L)


# numpy's Cholesky kernel without np.linalg.cholesky's argument checks (about half the cost
# of a factor of order 20-40); it fills the factor with NaN where a pivot fails
_CHOLESKY_LO = getattr(getattr(np.linalg, "_umath_linalg", None), "cholesky_lo", None)


def cholesky_lower(S: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of ``S`` (or of each matrix of a stack ``S[..., :, :]``);
    raises NotPositiveDefinite when one is not positive definite.

    Examples
    --------
    >>> cholesky_lower(np.array([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    >>> cholesky_lower(np.array([[[4.0]], [[9.0]]])).tolist()
    [[[2.0]], [[3.0]]]
    """
    if _CHOLESKY_LO is None:  # numpy without the private kernel: the public function
        try:
            return np.linalg.cholesky(S)
        except np.linalg.LinAlgError as exc:
            raise NotPositiveDefinite(str(exc)) from exc
    with np.errstate(invalid="ignore"):
        L = _CHOLESKY_LO(S)
    # NaN: a pivot failed (the kernel fills all of that factor with NaN)
    if L.ndim == 2:
        if L[-1, -1] != L[-1, -1]:
            raise NotPositiveDefinite("the system is not positive definite")
    elif np.isnan(L[..., -1, -1]).any():
        raise NotPositiveDefinite("the system is not positive definite")
    return L
