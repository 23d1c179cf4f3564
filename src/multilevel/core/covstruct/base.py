"""The interface of a random-effects covariance structure (one term, one block of Lambda).

A term with ``p`` columns has relative covariance factor ``T`` (lower triangular,
``Sigma_term = sigma^2 T T'``); lme4 fills ``T`` with ``theta``, its lower triangle in
column-major order. A structure is a parameterisation of ``T`` by fewer parameters ``phi``:
the optimiser works on ``phi``, the core keeps working on ``theta = theta(phi)``.

Structured terms (everything except ``us``) write ``Sigma_term = D R D`` with ``D`` the
diagonal of relative standard deviations ``s_j = sd_j / sigma`` (bounded below by 0) and ``R``
a correlation matrix, so that ``T = D chol(R)``. A correlation ``rho`` is optimised through an
unbounded transform (no upper bounds are needed by the optimiser).

The *natural* parameters (``sdcor``) are the standard deviations and correlations on the
response scale; profiles and bootstrap intervals are on that scale (lme4's ``.sig01``, ...).
"""
from __future__ import annotations

import numpy as np

from ..theta import lower_tri_indices, n_theta


def safe_chol(S: np.ndarray, strict: bool = True) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite matrix, column by column as lme4's
    ``safe_chol``: a vanishing pivot gives a zero column; a negative pivot gives None
    (``S`` not semi-definite), or a zero column with ``strict=False``.

    Examples
    --------
    >>> safe_chol(np.array([[4.0, 0.0], [0.0, 0.0]])).tolist()
    [[2.0, 0.0], [0.0, 0.0]]
    >>> safe_chol(np.array([[1.0, 2.0], [2.0, 1.0]])) is None
    True
    """
    p = S.shape[0]
    L = np.zeros((p, p))
    scale = max(float(np.max(np.abs(np.diag(S)))), 1e-300)
    for j in range(p):
        d = S[j, j] - L[j, :j] @ L[j, :j]
        if strict and d < -1e-10 * scale:
            return None
        if d <= 1e-14 * scale:
            continue
        L[j, j] = np.sqrt(d)
        L[j + 1:, j] = (S[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L


def psd_cholesky(S: np.ndarray, strict: bool = False) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite matrix: LAPACK's where ``S`` is
    positive definite, else :func:`safe_chol`'s (a vanishing pivot gives a zero column, a
    correlation at its bound). A negative pivot is clipped to zero, or gives None with
    ``strict=True`` (``S`` not semi-definite).

    Examples
    --------
    >>> psd_cholesky(np.array([[1.0, 1.0], [1.0, 1.0]])).tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    >>> psd_cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]), strict=True) is None
    True
    """
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return safe_chol(S, strict)


class CovStructure:
    """One term's covariance structure: ``phi -> T`` and the natural parameters.

    Subclasses set :attr:`name` and implement :meth:`factor`, :meth:`lower`, :meth:`start`,
    :meth:`phi_from_factor`, :meth:`sdcor_index`, :meth:`sdcor_from_cov` and
    :meth:`cov_from_sdcor`.

    Attributes
    ----------
    name : str      -- ``"us"``, ``"diag"``, ``"cs"``, ``"ar1"`` (as lme4 2.0 writes it)
    p : int         -- number of columns of the term
    hom : bool      -- one common variance for all columns

    Examples
    --------
    >>> from multilevel.core.covstruct import make_structure
    >>> s = make_structure("cs", 3)
    >>> s.n_par, s.lower().tolist()
    (4, [0.0, 0.0, 0.0, -inf])
    """

    name = "us"
    identity = False  # True only for the unstructured map (phi == theta)

    def __init__(self, p: int, hom: bool = False):
        self.p = int(p)
        self.hom = bool(hom)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p}{', hom=True' if self.hom else ''})"

    def _nsd(self) -> int:
        return 1 if self.hom else self.p

    def sds(self, phi: np.ndarray) -> np.ndarray:
        """The ``p`` relative standard deviations of a structured term's ``phi`` (its first
        entry repeated if hom).

        Examples
        --------
        >>> from multilevel.core.covstruct import make_structure
        >>> make_structure("diag", 3, hom=True).sds(np.array([2.0])).tolist()
        [2.0, 2.0, 2.0]
        """
        return np.full(self.p, phi[0]) if self.hom else np.asarray(phi[:self.p], dtype=float)

    # ----- parameters -------------------------------------------------------------------
    @property
    def n_par(self) -> int:
        return int(self.lower().size)

    def lower(self) -> np.ndarray:
        raise NotImplementedError

    def start(self) -> np.ndarray:
        raise NotImplementedError

    def factor(self, phi: np.ndarray) -> np.ndarray:
        """The ``p x p`` lower-triangular relative covariance factor ``T``."""
        raise NotImplementedError

    def theta(self, phi: np.ndarray) -> np.ndarray:
        """lme4's theta of this term: the lower triangle of ``T``, column-major.

        Examples
        --------
        >>> from multilevel.core.covstruct import make_structure
        >>> make_structure("diag", 2).theta(np.array([1.0, 2.0])).tolist()
        [1.0, 0.0, 2.0]
        """
        rows, cols = lower_tri_indices(self.p)
        return self.factor(np.asarray(phi, dtype=float))[rows, cols]

    def phi_from_factor(self, T: np.ndarray) -> np.ndarray:
        """The inverse map (exact on the structure; a projection of any other ``T``)."""
        raise NotImplementedError

    def phi_from_theta(self, theta: np.ndarray) -> np.ndarray:
        T = np.zeros((self.p, self.p))
        rows, cols = lower_tri_indices(self.p)
        T[rows, cols] = np.asarray(theta, dtype=float)[:n_theta(self.p)]
        return self.phi_from_factor(T)

    def is_singular(self, phi: np.ndarray, tol: float) -> bool:
        """lme4's ``isSingular``: a diagonal element of ``T`` below ``tol``.

        Examples
        --------
        >>> from multilevel.core.covstruct import make_structure
        >>> make_structure("diag", 2).is_singular(np.array([1.0, 0.0]), 1e-4)
        True
        """
        return bool(np.any(np.diag(self.factor(np.asarray(phi, dtype=float))) < tol))

    # ----- natural parameters (standard deviations and correlations) ---------------------
    def sdcor_index(self) -> list[tuple[str, int, int]]:
        """``(kind, i, j)`` per natural parameter: ``("sd", i, i)`` or ``("cor", i, j)``,
        the columns whose names label it."""
        raise NotImplementedError

    def sdcor_from_cov(self, S: np.ndarray) -> np.ndarray:
        """Natural parameters of the term's covariance matrix ``S``."""
        raise NotImplementedError

    def cov_from_sdcor(self, v: np.ndarray) -> np.ndarray | None:
        """The term's covariance matrix from its natural parameters; None if not valid."""
        raise NotImplementedError

    def sdcor_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the natural parameters (sd >= 0, a correlation in its
        valid range)."""
        kinds = [k for k, _, _ in self.sdcor_index()]
        lo = np.array([self.cor_range()[0] if k == "cor" else 0.0 for k in kinds])
        hi = np.array([self.cor_range()[1] if k == "cor" else np.inf for k in kinds])
        return lo, hi

    def cor_range(self) -> tuple[float, float]:
        return -1.0, 1.0

    def correlation(self, S: np.ndarray) -> np.ndarray | None:
        """The structure's correlation matrix at the term's covariance ``S`` (defined even
        where an sd vanishes); None for ``us`` and ``diag``.

        Examples
        --------
        >>> from multilevel.core.covstruct import make_structure
        >>> a = make_structure("ar1", 3)
        >>> T = a.factor(np.array([1.0, a.c_of_rho(0.5)]))
        >>> np.round(a.correlation(T @ T.T)[2], 4).tolist()
        [0.25, 0.5, 1.0]
        """
        if self.label not in ("cs", "ar1") or self.p < 2:
            return None
        v = self.sdcor_from_cov(S)
        nsd = len(v) - 1
        return self.cov_from_sdcor(np.r_[np.ones(nsd), v[-1]])

    # ----- presentation -----------------------------------------------------------------
    @property
    def label(self) -> str | None:
        """What the summary prints after the correlation (``"ar1"``), None for ``us``."""
        return None

    @property
    def shows_correlations(self) -> bool:
        return True


class CorrelatedStructure(CovStructure):
    """A structured term with one correlation parameter: ``T = diag(s) F(rho)`` with ``F``
    the Cholesky factor of the structure's correlation matrix ``R(rho)``; ``phi = (s_1, ...,
    s_p, c)`` (or ``(s, c)`` if hom) with ``rho = rho(c)``. The shared part of ``cs`` and
    ``ar1``; subclasses implement :meth:`rho`, :meth:`c_of_rho`, :meth:`corr_factor`,
    :meth:`corr_matrix` and :meth:`rho_from_cov`.

    Examples
    --------
    >>> from multilevel.core.covstruct import make_structure
    >>> s = make_structure("cs", 3, hom=True)
    >>> s.n_par, s.sdcor_index()
    (2, [('sd', 0, 0), ('cor', 1, 0)])
    """

    def rho(self, c: float) -> float:
        """The correlation of the optimiser's unbounded parameter ``c``."""
        raise NotImplementedError

    def c_of_rho(self, rho: float) -> float:
        """The inverse of :meth:`rho`."""
        raise NotImplementedError

    def corr_factor(self, rho: float) -> np.ndarray:
        """Lower Cholesky factor of the ``p x p`` correlation matrix at ``rho``."""
        raise NotImplementedError

    def corr_matrix(self, rho: float) -> np.ndarray:
        """The ``p x p`` correlation matrix at ``rho`` (inside :meth:`cor_range`)."""
        raise NotImplementedError

    def rho_from_cov(self, S: np.ndarray, sd: np.ndarray) -> float:
        """The structure's correlation estimated from a covariance ``S`` with sds ``sd``."""
        raise NotImplementedError

    def lower(self) -> np.ndarray:
        return np.r_[np.zeros(self._nsd()), [-np.inf] * (self.p > 1)]

    def start(self) -> np.ndarray:
        return np.r_[np.ones(self._nsd()), [self.c_of_rho(0.0)] * (self.p > 1)]

    def factor(self, phi: np.ndarray) -> np.ndarray:
        s = self.sds(phi)
        if self.p == 1:
            return s.reshape(1, 1)
        return s[:, None] * self.corr_factor(self.rho(phi[-1]))

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
        return np.r_[sds, self.rho_from_cov(S, sd)]

    def cov_from_sdcor(self, v: np.ndarray) -> np.ndarray | None:
        v = np.asarray(v, dtype=float)
        s = self.sds(v)
        if self.p == 1:
            return np.outer(s, s)
        lo, hi = self.cor_range()
        if not lo - 1e-12 <= v[-1] <= hi + 1e-12:
            return None
        return np.outer(s, s) * self.corr_matrix(v[-1])

    @property
    def label(self) -> str:
        return self.name
