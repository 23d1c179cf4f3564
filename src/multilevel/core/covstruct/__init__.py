"""Random-effects covariance structures: parameterisations of the relative covariance factor.

lme4 >= 2.0 and glmmTMB write a structure around a bar: ``us(1 + x | g)`` (unstructured, the
default), ``diag(1 + x | g)`` (independent), ``cs(0 + f | g)`` (compound symmetry) and
``ar1(0 + f | g)`` (autoregressive over the levels of a time factor). Each is one small module
behind :class:`~multilevel.core.covstruct.base.CovStructure`; :class:`ThetaMap` joins the
terms of a model: the optimiser works on ``phi``, the core on ``theta = theta(phi)``.

A model whose terms are all unstructured has the identity map: ``wrap`` returns the
objective itself and ``theta`` returns ``phi`` unchanged, so lme4's path is untouched.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import accumulate
from typing import Callable

import numpy as np

from ...errors import FormulaError, two_line
from ..theta import n_theta
from .ar1 import AR1
from .base import CovStructure, psd_cholesky
from .compound import CompoundSymmetry
from .diagonal import Diagonal
from .unstructured import Unstructured

__all__ = ["CovStructure", "Unstructured", "Diagonal", "CompoundSymmetry", "AR1",
           "STRUCTURES", "make_structure", "structure_of_term", "ThetaMap"]

#: lme4 2.0 / glmmTMB name -> structure class (``zerocorr`` is MixedModels.jl's ``diag``).
STRUCTURES: dict[str, type[CovStructure]] = {
    "us": Unstructured, "diag": Diagonal, "cs": CompoundSymmetry, "ar1": AR1,
}


def make_structure(name: str, p: int, hom: bool | None = None) -> CovStructure:
    """The structure ``name`` for a term with ``p`` columns.

    ``hom`` (one common variance) defaults to lme4's: False for ``diag`` and ``cs``, True
    for ``ar1``; ``us`` has no ``hom``.

    Examples
    --------
    >>> make_structure("ar1", 5)
    AR1(p=5, hom=True)
    >>> make_structure("us", 2, hom=True)
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: us() has no 'hom' argument: every variance is free
      How to fix: drop hom=, or use cs(..., hom = TRUE) or diag(..., hom = TRUE)
    """
    if name not in STRUCTURES:
        raise FormulaError(two_line(f"unknown covariance structure {name}()",
                                    f"use one of {', '.join(STRUCTURES)} or zerocorr"))
    if name == "us":
        if hom:
            raise FormulaError(two_line("us() has no 'hom' argument: every variance is free",
                                        "drop hom=, or use cs(..., hom = TRUE) or "
                                        "diag(..., hom = TRUE)"))
        return Unstructured(p)
    if hom is None:
        hom = name == "ar1"
    return STRUCTURES[name](p, hom=hom)


def structure_of_term(term) -> CovStructure:
    """The structure of a random-effects term (``ReTerm``), checked against its columns.

    ``ar1`` needs the full dummy coding of one factor (``0 + f``): each row has a single 1.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> structure_of_term(NS(p=2, cov=None, cnames=["(Intercept)", "x"]))
    Unstructured(p=2)
    """
    spec = getattr(term, "cov", None)
    if spec is None:
        return Unstructured(term.p)
    s = make_structure(spec.name, term.p, spec.hom)
    if s.name == "ar1":
        Z = np.asarray(getattr(term, "Z", np.zeros((0, term.p))))
        indicator = (Z.size == 0 or (np.all((Z == 0) | (Z == 1))
                                     and np.all(Z.sum(axis=1) == 1)))
        if "(Intercept)" in term.cnames or not indicator:
            raise FormulaError(two_line(
                f"ar1() needs a time factor with one column per level, got columns "
                f"{list(term.cnames)[:4]} in ({spec.text})",
                "write ar1(0 + f | g) with f a factor (e.g. pd.Categorical) whose levels "
                "are the time points in order"))
    return s


class ThetaMap:
    """The covariance parameters of a whole model: ``phi`` (optimised) -> lme4's ``theta``.

    Parameters
    ----------
    structures : list of CovStructure, in the model's term order (kept as a tuple: a map is
        not changed once made, and the identity maps are shared, see :meth:`for_terms`)

    Examples
    --------
    >>> tm = ThetaMap([Unstructured(2), make_structure("cs", 3, hom=True)])
    >>> tm.n_phi, tm.n_theta, tm.identity
    (5, 9, False)
    >>> tm.theta(tm.start).tolist()[:3]
    [1.0, 0.0, 1.0]
    >>> ThetaMap([Unstructured(1)]).identity
    True
    """

    def __init__(self, structures: list[CovStructure]):
        self.structures = tuple(structures)
        self.identity = all(s.identity for s in self.structures)
        lowers = [s.lower() for s in self.structures]
        self._lower = np.concatenate(lowers) if lowers else np.zeros(0)
        self._lower.flags.writeable = False
        self._diagonal = self._lower == 0  # lme4's theta: the diagonals of the T_k
        self._diagonal.flags.writeable = False
        # tuples, like the read-only arrays: identity maps are shared between fits
        self.sizes = tuple(lo.size for lo in lowers)
        self.n_phi = int(self._lower.size)
        tsizes = [n_theta(s.p) for s in self.structures]
        self.n_theta = int(sum(tsizes))
        self._cuts = tuple(accumulate([0, *self.sizes]))
        self._tcuts = tuple(accumulate([0, *tsizes]))

    @classmethod
    def for_terms(cls, terms) -> "ThetaMap":
        """The map of a model's random-effects terms (``ReTerm``s in fitting order).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + diag(1 + Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> ThetaMap.for_terms(m.terms)
        ThetaMap([Diagonal(p=2)])

        Terms without a structure (lme4's) share one identity map per list of term sizes:
        a fit does not make it again.

        >>> from types import SimpleNamespace as NS
        >>> ThetaMap.for_terms([NS(p=2, cov=None)]) is ThetaMap.for_terms([NS(p=2, cov=None)])
        True
        """
        if cls is ThetaMap and all(getattr(t, "cov", None) is None for t in terms):
            return _identity_map(tuple(int(t.p) for t in terms))
        return cls([structure_of_term(t) for t in terms])

    def __repr__(self) -> str:
        return f"ThetaMap({list(self.structures)!r})"

    # ----- phi <-> theta ------------------------------------------------------------------
    def parts(self, phi: np.ndarray) -> list[np.ndarray]:
        """``phi`` split by term (views, in the model's term order).

        Examples
        --------
        >>> tm = ThetaMap([make_structure("diag", 2), Unstructured(1)])
        >>> [x.tolist() for x in tm.parts(np.array([2.0, 3.0, 0.5]))]
        [[2.0, 3.0], [0.5]]
        """
        phi = np.asarray(phi, dtype=float)
        return [phi[a:b] for a, b in zip(self._cuts[:-1], self._cuts[1:])]

    def theta(self, phi: np.ndarray) -> np.ndarray:
        """lme4's theta (lower triangles of the ``T_k``) at ``phi``.

        Examples
        --------
        >>> ThetaMap([make_structure("diag", 2)]).theta(np.array([2.0, 3.0])).tolist()
        [2.0, 0.0, 3.0]
        """
        if self.identity:
            return np.asarray(phi, dtype=float)
        pieces = [s.theta(x) for s, x in zip(self.structures, self.parts(phi))]
        return np.concatenate(pieces) if pieces else np.zeros(0)

    def phi(self, theta: np.ndarray) -> np.ndarray:
        """The inverse map (exact for a theta of this structure).

        Examples
        --------
        >>> ThetaMap([make_structure("diag", 2)]).phi(np.array([2.0, 0.0, 3.0])).tolist()
        [2.0, 3.0]
        """
        theta = np.asarray(theta, dtype=float)
        if self.identity:
            return theta
        pieces = [s.phi_from_theta(theta[a:b]) for s, a, b in
                  zip(self.structures, self._tcuts[:-1], self._tcuts[1:])]
        return np.concatenate(pieces) if pieces else np.zeros(0)

    @property
    def lower(self) -> np.ndarray:
        """Bounds of ``phi`` (0 for standard deviations and lme4's diagonal theta), a copy
        the caller owns.

        Examples
        --------
        >>> ThetaMap([Unstructured(2)]).lower.tolist()
        [0.0, -inf, 0.0]
        """
        return self._lower.copy()

    @property
    def start(self) -> np.ndarray:
        """Each structure's starting ``phi``, concatenated (lme4's identity start for its
        terms).

        Examples
        --------
        >>> ThetaMap([Unstructured(2)]).start.tolist()
        [1.0, 0.0, 1.0]
        """
        parts = [s.start() for s in self.structures]
        return np.concatenate(parts) if parts else np.zeros(0)

    def wrap(self, fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
        """``fn`` of theta as a function of phi (``fn`` itself for the identity map).

        Examples
        --------
        >>> f = ThetaMap([make_structure("diag", 2)]).wrap(lambda th: float(th.sum()))
        >>> f(np.array([2.0, 3.0]))
        5.0
        """
        if self.identity:
            return fn
        theta = self.theta
        return lambda phi: fn(theta(phi))

    def is_singular(self, phi: np.ndarray, tol: float) -> bool:
        """A diagonal element of some ``T_k`` below ``tol`` (lme4's ``isSingular``).

        Examples
        --------
        >>> ThetaMap([make_structure("ar1", 3)]).is_singular(np.array([0.0, 0.5]), 1e-4)
        True
        """
        if self.identity:
            return bool((np.asarray(phi)[self._diagonal] < tol).any())
        return any(s.is_singular(x, tol) for s, x in zip(self.structures, self.parts(phi)))

    # ----- natural parameters ------------------------------------------------------------
    def sdcor_index(self) -> list[tuple[int, str, int, int]]:
        """``(term, kind, i, j)`` per natural parameter, in order.

        Examples
        --------
        >>> ThetaMap([make_structure("ar1", 3)]).sdcor_index()
        [(0, 'sd', 0, 0), (0, 'cor', 1, 0)]
        """
        return [(k, kind, i, j) for k, s in enumerate(self.structures)
                for kind, i, j in s.sdcor_index()]

    def sdcor(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """Standard deviations and correlations of every term, then sigma (lme4's
        ``Cv_to_Sv``).

        Examples
        --------
        >>> tm = ThetaMap([make_structure("ar1", 3)])
        >>> np.round(tm.sdcor(tm.theta(np.array([2.0, 1.0])), 0.5), 4).tolist()
        [1.0, 0.7071, 0.5]
        """
        theta = np.asarray(theta, dtype=float)
        out = []
        for s, a, b in zip(self.structures, self._tcuts[:-1], self._tcuts[1:]):
            T = Unstructured(s.p).factor(theta[a:b])
            out.append(s.sdcor_from_cov(sigma ** 2 * (T @ T.T)))
        return np.concatenate(out + [np.array([sigma])])

    def theta_from_sdcor(self, sv: np.ndarray) -> np.ndarray | None:
        """The inverse of :meth:`sdcor` (lme4's ``Sv_to_Cv``); None if not valid.

        Examples
        --------
        >>> tm = ThetaMap([make_structure("ar1", 3)])
        >>> np.allclose(tm.theta_from_sdcor(np.array([1.0, 0.7071068, 0.5])),
        ...             tm.theta(np.array([2.0, 1.0])))
        True
        >>> tm.theta_from_sdcor(np.array([1.0, 1.5, 0.5])) is None  # |rho| > 1
        True
        """
        sv = np.asarray(sv, dtype=float)
        sigma = sv[-1]
        if not sigma > 0:
            return None
        out, k = [], 0
        for s in self.structures:
            m = len(s.sdcor_index())
            S = s.cov_from_sdcor(sv[k:k + m])
            k += m
            if S is None or np.any(np.diag(S) < 0):
                return None
            T = psd_cholesky(S, strict=True)
            if T is None:
                return None
            out.append(Unstructured(s.p).phi_from_factor(T) / sigma)
        return np.concatenate(out) if out else np.zeros(0)

    def sdcor_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the natural parameters (sigma last: ``[0, inf)``).

        Examples
        --------
        >>> lo, hi = ThetaMap([make_structure("cs", 3)]).sdcor_bounds()
        >>> lo.tolist(), hi.tolist()
        ([0.0, 0.0, 0.0, -0.5, 0.0], [inf, inf, inf, 1.0, inf])
        """
        lo = [s.sdcor_bounds()[0] for s in self.structures] + [np.zeros(1)]
        hi = [s.sdcor_bounds()[1] for s in self.structures] + [np.full(1, np.inf)]
        return np.concatenate(lo), np.concatenate(hi)


@lru_cache(maxsize=128)
def _identity_map(ps: tuple[int, ...]) -> ThetaMap:
    """The (shared) identity map of unstructured terms with ``ps`` columns."""
    return ThetaMap([Unstructured(p) for p in ps])
