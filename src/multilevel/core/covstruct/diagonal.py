"""``diag(1 + x | g)`` (and MixedModels.jl's ``zerocorr``): independent random effects in one
term, a variance per column (``hom = TRUE``: one common variance)."""
from __future__ import annotations

import numpy as np

from .base import CovStructure


class Diagonal(CovStructure):
    """``T = diag(s)``; ``phi = s`` (relative standard deviations, ``>= 0``).

    Examples
    --------
    >>> d = Diagonal(2)
    >>> d.factor(np.array([2.0, 0.5])).tolist()
    [[2.0, 0.0], [0.0, 0.5]]
    >>> Diagonal(3, hom=True).theta(np.array([2.0])).tolist()
    [2.0, 0.0, 0.0, 2.0, 0.0, 2.0]
    """

    name = "diag"

    def lower(self) -> np.ndarray:
        return np.zeros(self._nsd())

    def start(self) -> np.ndarray:
        return np.ones(self._nsd())

    def factor(self, phi: np.ndarray) -> np.ndarray:
        return np.diag(self.sds(phi))

    def phi_from_factor(self, T: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.maximum(np.diag(T @ T.T), 0.0))
        return np.array([np.sqrt(np.mean(sd ** 2))]) if self.hom else sd

    def sdcor_index(self):
        return [("sd", i, i) for i in range(self._nsd())]

    def sdcor_from_cov(self, S: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.maximum(np.diag(S), 0.0))
        return sd[:1] if self.hom else sd

    def cov_from_sdcor(self, v: np.ndarray) -> np.ndarray | None:
        return np.diag(self.sds(np.asarray(v, dtype=float)) ** 2)

    @property
    def label(self) -> str:
        return "diag"

    @property
    def shows_correlations(self) -> bool:
        return False
