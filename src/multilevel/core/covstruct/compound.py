"""``cs(0 + f | g)``: compound symmetry, one common correlation ``rho`` between all columns
and a variance per column (``hom = TRUE``: one common variance, glmmTMB's ``homcs``).

The correlation matrix ``R = (1 - rho) I + rho 11'`` is positive definite for
``-1 / (p - 1) < rho < 1``; the optimiser works on ``c`` with
``rho = lo + (1 - lo) / (1 + exp(-c))``, ``lo = -1 / (p - 1)``.
"""
from __future__ import annotations

import numpy as np

from .base import CovStructure, psd_cholesky


class CompoundSymmetry(CovStructure):
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

    def _nsd(self) -> int:
        return 1 if self.hom else self.p

    def cor_range(self) -> tuple[float, float]:
        return (-1.0 / (self.p - 1) if self.p > 1 else -1.0), 1.0

    def rho(self, c: float) -> float:
        lo = self.cor_range()[0]
        return float(lo + (1.0 - lo) / (1.0 + np.exp(-c)))

    def c_of_rho(self, rho: float) -> float:
        lo = self.cor_range()[0]
        u = np.clip((rho - lo) / (1.0 - lo), 1e-15, 1 - 1e-15)
        return float(np.log(u / (1.0 - u)))

    def lower(self) -> np.ndarray:
        return np.r_[np.zeros(self._nsd()), [-np.inf] * (self.p > 1)]

    def start(self) -> np.ndarray:
        return np.r_[np.ones(self._nsd()), [self.c_of_rho(0.0)] * (self.p > 1)]

    def sds(self, phi: np.ndarray) -> np.ndarray:
        return np.full(self.p, phi[0]) if self.hom else np.asarray(phi[:self.p], dtype=float)

    def corr(self, rho: float) -> np.ndarray:
        return (1.0 - rho) * np.eye(self.p) + rho

    def factor(self, phi: np.ndarray) -> np.ndarray:
        s = self.sds(phi)
        if self.p == 1:
            return s.reshape(1, 1)
        return s[:, None] * psd_cholesky(self.corr(self.rho(phi[-1])))

    def phi_from_factor(self, T: np.ndarray) -> np.ndarray:
        v = self.sdcor_from_cov(T @ T.T)
        return np.r_[v[:-1], self.c_of_rho(v[-1])] if self.p > 1 else v

    def sdcor_index(self):
        out = [("sd", i, i) for i in range(self._nsd())]
        return out + ([("cor", 1, 0)] if self.p > 1 else [])

    def sdcor_from_cov(self, S: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.maximum(np.diag(S), 0.0))
        sds = np.array([np.sqrt(np.mean(sd ** 2))]) if self.hom else sd
        if self.p == 1:
            return sds
        i, j = np.tril_indices(self.p, -1)
        ok = (sd[i] > 0) & (sd[j] > 0)  # pairs with a vanishing sd say nothing about rho
        rho = float(np.mean(S[i, j][ok] / (sd[i] * sd[j])[ok])) if ok.any() else 0.0
        return np.r_[sds, rho]

    def cov_from_sdcor(self, v: np.ndarray) -> np.ndarray | None:
        v = np.asarray(v, dtype=float)
        s = self.sds(v)
        if self.p == 1:
            return np.outer(s, s)
        lo, hi = self.cor_range()
        if not lo - 1e-12 <= v[-1] <= hi + 1e-12:
            return None
        return np.outer(s, s) * self.corr(v[-1])

    @property
    def label(self) -> str:
        return "cs"
