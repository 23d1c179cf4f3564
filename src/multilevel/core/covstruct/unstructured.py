"""``us(1 + x | g)``: lme4's unstructured covariance, ``phi = theta`` (the identity map)."""
from __future__ import annotations

import numpy as np

from ..theta import lower_tri_indices, n_theta
from .base import CovStructure


class Unstructured(CovStructure):
    """Every variance and covariance free; ``phi`` is lme4's theta.

    Examples
    --------
    >>> u = Unstructured(2)
    >>> u.start().tolist(), u.lower().tolist()
    ([1.0, 0.0, 1.0], [0.0, -inf, 0.0])
    >>> u.theta(np.array([1.0, 0.5, 2.0])).tolist()
    [1.0, 0.5, 2.0]
    """

    name = "us"
    identity = True

    def lower(self) -> np.ndarray:
        rows, cols = lower_tri_indices(self.p)
        return np.where(rows == cols, 0.0, -np.inf)

    def start(self) -> np.ndarray:
        rows, cols = lower_tri_indices(self.p)
        return (rows == cols).astype(float)

    def factor(self, phi: np.ndarray) -> np.ndarray:
        T = np.zeros((self.p, self.p))
        rows, cols = lower_tri_indices(self.p)
        T[rows, cols] = phi
        return T

    def theta(self, phi: np.ndarray) -> np.ndarray:
        return np.asarray(phi, dtype=float)

    def phi_from_factor(self, T: np.ndarray) -> np.ndarray:
        rows, cols = lower_tri_indices(self.p)
        return np.asarray(T, dtype=float)[rows, cols]

    def phi_from_theta(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta, dtype=float)[:n_theta(self.p)]

    def sdcor_index(self):
        rows, cols = lower_tri_indices(self.p)
        return [("sd" if i == j else "cor", int(i), int(j)) for i, j in zip(rows, cols)]

    def sdcor_from_cov(self, S: np.ndarray) -> np.ndarray:
        sd = np.sqrt(np.maximum(np.diag(S), 0.0))
        out = []
        for kind, i, j in self.sdcor_index():
            if kind == "sd":
                out.append(sd[i])
            else:
                out.append(S[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else 0.0)
        return np.array(out)

    def cov_from_sdcor(self, v: np.ndarray) -> np.ndarray | None:
        sd, R = np.zeros(self.p), np.eye(self.p)
        for x, (kind, i, j) in zip(v, self.sdcor_index()):
            if kind == "sd":
                sd[i] = x
            else:
                R[i, j] = R[j, i] = x
        return np.outer(sd, sd) * R

