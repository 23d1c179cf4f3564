"""``ar1(0 + f | g)``: first-order autoregressive correlation over the levels of a time
factor ``f`` (in level order), ``cor(b_i, b_j) = rho^|i - j|``, with one common variance
(``hom = FALSE``: a variance per level).

The Cholesky factor of the AR(1) correlation matrix is explicit: column 0 is ``rho^i`` and
column ``j >= 1`` is ``sqrt(1 - rho^2) rho^(i - j)`` below the diagonal, so ``|rho| = 1`` is
still a (singular) factor. The optimiser works on ``c`` with ``rho = c / sqrt(1 + c^2)``
(glmmTMB's transform).
"""
from __future__ import annotations

import numpy as np

from .base import CorrelatedStructure


def ar1_cholesky(rho: float, p: int) -> np.ndarray:
    """Lower Cholesky factor of the ``p x p`` AR(1) correlation matrix.

    Examples
    --------
    >>> L = ar1_cholesky(0.5, 3)
    >>> np.round(L @ L.T, 4).tolist()[0]
    [1.0, 0.5, 0.25]
    """
    i = np.arange(p)
    lag = i[:, None] - i[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.where(lag >= 0, np.power(rho, np.maximum(lag, 0)), 0.0)
    L[:, 1:] *= np.sqrt(max(1.0 - rho * rho, 0.0))
    return L


class AR1(CorrelatedStructure):
    """``T = diag(s) chol(R_ar1(rho))``; ``phi = (s, c)`` (or ``(s_1, ..., s_p, c)``).

    Examples
    --------
    >>> a = AR1(3, hom=True)
    >>> a.n_par, a.rho(a.start()[-1])
    (2, 0.0)
    >>> T = a.factor(np.array([2.0, 1.0]))
    >>> np.round(T @ T.T, 4)[0].tolist()
    [4.0, 2.8284, 2.0]
    """

    name = "ar1"

    @staticmethod
    def rho(c: float) -> float:
        return float(c / np.sqrt(1.0 + c * c))

    @staticmethod
    def c_of_rho(rho: float) -> float:
        r = float(np.clip(rho, -1 + 1e-15, 1 - 1e-15))
        return r / np.sqrt(1.0 - r * r)

    def corr_factor(self, rho: float) -> np.ndarray:
        return ar1_cholesky(rho, self.p)

    def corr_matrix(self, rho: float) -> np.ndarray:
        L = ar1_cholesky(float(np.clip(rho, -1, 1)), self.p)
        return L @ L.T

    def rho_from_cov(self, S: np.ndarray, sd: np.ndarray) -> float:
        ok = (sd[1:] > 0) & (sd[:-1] > 0)
        lag1 = np.diag(S, -1)[ok] / (sd[1:] * sd[:-1])[ok]
        return float(lag1.mean()) if lag1.size else 0.0
