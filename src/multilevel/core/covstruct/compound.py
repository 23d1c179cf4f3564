"""``cs(0 + f | g)``: compound symmetry, one common correlation ``rho`` between all columns
and a variance per column (``hom = TRUE``: one common variance, glmmTMB's ``homcs``).

The correlation matrix ``R = (1 - rho) I + rho 11'`` is positive definite for
``-1 / (p - 1) < rho < 1``; the optimiser works on ``c`` with
``rho = lo + (1 - lo) / (1 + exp(-c))``, ``lo = -1 / (p - 1)``.
"""
from __future__ import annotations

import numpy as np

from .base import CorrelatedStructure, psd_cholesky


class CompoundSymmetry(CorrelatedStructure):
    """``T = diag(s) chol(R(rho))``; ``phi = (s_1, ..., s_p, c)`` (or ``(s, c)`` if hom).

    Examples
    --------
    >>> cs = CompoundSymmetry(3)
    >>> round(cs.rho(cs.start()[-1]), 12)   # starts uncorrelated
    0.0
    >>> T = cs.factor(np.array([1.0, 1.0, 1.0, cs.c_of_rho(0.5)]))
    >>> np.round(T @ T.T, 3).tolist()[0]
    [1.0, 0.5, 0.5]
    """

    name = "cs"

    def cor_range(self) -> tuple[float, float]:
        return (-1.0 / (self.p - 1) if self.p > 1 else -1.0), 1.0

    def rho(self, c: float) -> float:
        lo = self.cor_range()[0]
        return float(lo + (1.0 - lo) / (1.0 + np.exp(-c)))

    def c_of_rho(self, rho: float) -> float:
        lo = self.cor_range()[0]
        u = np.clip((rho - lo) / (1.0 - lo), 1e-15, 1 - 1e-15)
        return float(np.log(u / (1.0 - u)))

    def corr_matrix(self, rho: float) -> np.ndarray:
        return (1.0 - rho) * np.eye(self.p) + rho

    def corr_factor(self, rho: float) -> np.ndarray:
        return psd_cholesky(self.corr_matrix(rho))

    def rho_from_cov(self, S: np.ndarray, sd: np.ndarray) -> float:
        i, j = np.tril_indices(self.p, -1)
        ok = (sd[i] > 0) & (sd[j] > 0)  # pairs with a vanishing sd say nothing about rho
        return float(np.mean(S[i, j][ok] / (sd[i] * sd[j])[ok])) if ok.any() else 0.0
