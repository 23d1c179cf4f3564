"""Satterthwaite's denominator degrees of freedom, as lmerTest computes them.

lmerTest (Kuznetsova, Brockhoff and Christensen 2017) works with the variance parameters
``varpar = (theta, sigma)`` and the deviance as a function of them with ``beta`` profiled:

.. math::

    d(\\theta, \\sigma) = \\log|L_\\theta|^2 + \\frac{r^2_\\theta}{\\sigma^2}
        + n \\log(2 \\pi \\sigma^2) \\; [+ \\log|R_X|^2 - p \\log(2 \\pi \\sigma^2) \\text{ for REML}]

Its Hessian ``H`` at the estimates gives ``A = 2 H^{-1}`` (the asymptotic covariance of
``varpar``, a Moore-Penrose inverse over eigenvalues above ``1e-8``), and the Jacobian of
``vcov(beta) = sigma^2 (X' V^{-1} X)^{-1}`` gives ``J_i``. For a contrast ``L``

.. math::

    \\nu = \\frac{2 (L' V L)^2}{g' A g}, \\qquad g_i = L' J_i L .

Both derivatives are taken with :mod:`~multilevel.inference.numderiv`, which repeats
``numDeriv``'s steps. Every point needs one Cholesky update for its ``theta``; points that
differ only in ``sigma`` reuse it.
"""
from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core.cholesky import logdet_re
from ..errors import ConvergenceWarning
from .numderiv import hessian, jacobian

LOG2PI = float(np.log(2.0 * np.pi))
EIGEN_TOL = 1e-8

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class _AtTheta:
    """``(logdet_re, pwrss, logdet_x, (X'V^{-1}X)^{-1} sigma^{-2})`` per theta, memoised.

    With a ``theta_map`` (covariance structures) the argument is the structure's parameters
    ``phi`` and the factor is updated at ``theta(phi)``."""

    def __init__(self, problem, theta_map=None):
        self.problem = problem
        self.to_theta = None if theta_map is None or theta_map.identity else theta_map.theta
        self.memo: dict = {}

    def __call__(self, theta: np.ndarray):
        key = tuple(np.asarray(theta, dtype=float).tolist())
        hit = self.memo.get(key)
        if hit is None:
            th = np.asarray(key)
            F = self.problem.factor(th if self.to_theta is None else self.to_theta(th))
            LXX = F.LXX
            p = self.problem.p
            Lxx = LXX[:p, :p]
            ldx = float(2.0 * np.sum(np.log(np.abs(np.diag(Lxx))))) if p else 0.0
            unscaled = sla.cho_solve((Lxx, True), np.eye(p)) if p else np.zeros((0, 0))
            hit = (logdet_re(F), float(LXX[-1, -1] ** 2), ldx, unscaled)
            self.memo[key] = hit
        return hit


@dataclass(frozen=True)
class VarparCovariance:
    """What lmerTest stores on an ``lmerModLmerTest`` object.

    Attributes
    ----------
    varpar : (k,) array        -- ``(theta, sigma)`` at the estimates (a structured term
                                  contributes its own parameters, ``m.covpar``)
    hessian : (k, k) array     -- of the (REML) deviance with respect to ``varpar``
    vcov_varpar : (k, k) array -- ``2 H^+``
    jac : (k, p, p) array      -- derivative of ``vcov(beta)`` with respect to each ``varpar``
    vcov_beta : (p, p) array
    messages : tuple of str    -- lmerTest's warnings about the Hessian's eigenvalues

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> varpar_covariance(m).vcov_varpar.shape
    (2, 2)
    """

    varpar: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray
    jac: np.ndarray
    vcov_beta: np.ndarray
    messages: tuple = ()


def deviance_varpar(problem, reml: bool):
    """lmerTest's ``devfun_vp``: the deviance as a function of ``(theta, sigma)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> f = deviance_varpar(m.problem, m.reml)
    >>> bool(abs(f(np.r_[m.theta.to_numpy(), m.sigma]) - m.reml_crit) < 1e-6)
    True
    """
    at = problem if isinstance(problem, _AtTheta) else _AtTheta(problem)
    n, p = at.problem.n, at.problem.p

    def dev(varpar: np.ndarray) -> float:
        ld, pwrss, ldx, _ = at(varpar[:-1])
        s2 = varpar[-1] ** 2
        out = ld + pwrss / s2 + n * (LOG2PI + np.log(s2))
        if reml:
            out += ldx - p * (LOG2PI + np.log(s2))
        return float(out)

    return dev


def covbeta_varpar(problem):
    """lmerTest's ``get_covbeta``: ``vcov(beta)`` (flattened) as a function of ``varpar``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> v = covbeta_varpar(m.problem)(np.r_[m.theta.to_numpy(), m.sigma])
    >>> bool(np.isclose(v[0], m.vcov.iloc[0, 0]))
    True
    """
    at = problem if isinstance(problem, _AtTheta) else _AtTheta(problem)

    def cov(varpar: np.ndarray) -> np.ndarray:
        return (varpar[-1] ** 2 * at(varpar[:-1])[3]).ravel(order="F")

    return cov


def varpar_covariance(m) -> VarparCovariance:
    """Hessian-based covariance of ``(theta, sigma)`` and the Jacobian of ``vcov(beta)``.

    Computed once per fitted model (lmerTest's ``as_lmerModLmerTest``) and cached.

    Parameters
    ----------
    m : LmerResult

    Returns
    -------
    VarparCovariance

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> varpar_covariance(m).jac.shape
    (4, 2, 2)
    """
    hit = _CACHE.get(m)
    if hit is not None:
        return hit
    tm = m.theta_map  # structured terms: their own parameters (lmerTest: theta)
    at = _AtTheta(m.problem, tm)
    varpar = np.r_[tm.phi(np.asarray(m.theta, dtype=float)), m.sigma]
    H = hessian(deviance_varpar(at, m.reml), varpar)
    evals, evecs = np.linalg.eigh(H)
    messages = []
    neg, zero = evals < -EIGEN_TOL, np.abs(evals) < EIGEN_TOL
    if neg.any():
        word = "eigenvalues" if neg.sum() > 1 else "eigenvalue"
        messages.append(f"Model failed to converge with {int(neg.sum())} negative {word}: "
                        + " ".join(f"{v:.1e}" for v in evals[neg][::-1]))
    if zero.any():
        word = "eigenvalues" if zero.sum() > 1 else "eigenvalue"
        messages.append(f"Model may not have converged with {int(zero.sum())} {word} close "
                        "to zero: " + " ".join(f"{v:.1e}" for v in evals[zero][::-1]))
    for msg in messages:
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    pos = evals > EIGEN_TOL
    Hinv = (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    p = m.problem.p
    J = jacobian(covbeta_varpar(at), varpar)
    jac = np.stack([J[:, i].reshape((p, p), order="F") for i in range(varpar.size)])
    out = VarparCovariance(varpar=varpar, hessian=H, vcov_varpar=2.0 * Hinv, jac=jac,
                           vcov_beta=np.asarray(m.vcov, dtype=float), messages=tuple(messages))
    _CACHE[m] = out
    return out


def contrast_df(m, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df of one or more one-row contrasts (lmerTest's ``contest1D``).

    Parameters
    ----------
    m : LmerResult
    L : (p,) or (k, p) array
        Each row a contrast of the fixed effects.

    Returns
    -------
    (k,) array

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> np.round(contrast_df(m, np.eye(2)), 3).tolist()
    [17.0, 17.0]
    """
    vc = varpar_covariance(m)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    var_con = np.einsum("ki,ij,kj->k", L, vc.vcov_beta, L)
    grad = np.einsum("ki,mij,kj->km", L, vc.jac, L)
    denom = np.einsum("km,mn,kn->k", grad, vc.vcov_varpar, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var_con ** 2 / denom


def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of an F statistic made of independent t statistics (lmerTest).

    Examples
    --------
    >>> round(fstat_ddf(np.array([10.0, 20.0])), 4)
    13.0769
    """
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - nu.size)


def contrast_f(m, L: np.ndarray, eps: float = float(np.sqrt(np.finfo(float).eps)),
               rhs=None) -> dict:
    """F test of ``L beta = rhs`` (``rhs`` defaults to 0) with Satterthwaite's ddf
    (lmerTest's ``contestMD``).

    Returns
    -------
    dict with ``F``, ``ndf``, ``ddf`` (NaN-filled when ``L`` has no rows)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> r = contrast_f(m, np.array([[0.0, 1.0]]))
    >>> round(float(r["F"]), 3), round(float(r["ddf"]), 3)
    (45.853, 17.0)
    """
    vc = varpar_covariance(m)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    beta = np.asarray(m.fixef, dtype=float)
    r = np.zeros(L.shape[0]) if rhs is None else np.atleast_1d(np.asarray(rhs, dtype=float))
    if L.shape[0] == 0:
        return {"F": np.nan, "ndf": 0, "ddf": np.nan}
    if L.shape[0] == 1:
        t = (float(L[0] @ beta) - r[0]) / np.sqrt(float(L[0] @ vc.vcov_beta @ L[0]))
        return {"F": t * t, "ndf": 1, "ddf": float(contrast_df(m, L)[0])}
    VL = L @ vc.vcov_beta @ L.T
    d, P = np.linalg.eigh(VL)
    d, P = d[::-1], P[:, ::-1]  # R's eigen(): decreasing
    q = int(np.sum(d > max(eps * d[0], 0.0)))
    if q == 0:
        return {"F": np.nan, "ndf": 0, "ddf": np.nan}
    PtL, Ptr = (P.T @ L)[:q], (P.T @ r)[:q]
    if q == 1:
        t = (float(PtL[0] @ beta) - Ptr[0]) / np.sqrt(float(PtL[0] @ vc.vcov_beta @ PtL[0]))
        return {"F": t * t, "ndf": 1, "ddf": float(contrast_df(m, PtL)[0])}
    t2 = (PtL @ beta - Ptr) ** 2 / d[:q]
    grad = np.einsum("ki,mij,kj->km", PtL, vc.jac, PtL)
    nu = 2.0 * d[:q] ** 2 / np.einsum("km,mn,kn->k", grad, vc.vcov_varpar, grad)
    return {"F": float(t2.sum() / q), "ndf": q, "ddf": fstat_ddf(nu)}
