"""Kenward-Roger: small-sample adjusted ``vcov(beta)`` and denominator df, as pbkrtest.

pbkrtest (Halekoh and Hojsgaard 2014) writes the marginal covariance as
``Sigma = sum_r gamma_r G_r`` with one ``G_r = Z_k (I (x) E_ij) Z_k'`` per variance or
covariance of a term and ``G = I`` for the residual, and forms (``vcovAdj16_internal``)

.. math::

    P_r = -X' W G_r W X, \\quad Q_{rs} = X' W G_r W G_s W X, \\quad
    K_{rs} = \\mathrm{tr}(W G_r W G_s), \\quad W = \\Sigma^{-1},

    I_{rs} = K_{rs} - 2\\,\\mathrm{tr}(\\Phi Q_{rs}) + \\mathrm{tr}(\\Phi P_r \\Phi P_s),
    \\quad \\Phi_A = \\Phi + 2 \\Phi \\Big[\\sum_{rs} w_{rs} (Q_{rs} - P_r \\Phi P_s)\\Big] \\Phi

with ``w = 2 I^{-1}`` and ``Phi = vcov(beta)``. pbkrtest builds the ``n x n`` matrices; here
every term is reduced to ``q x q`` algebra with the Woodbury identity. With ``U = Z Lambda``
and ``M = U'U + I``, ``sigma^{2k} W^k = I - U (M^{-1} + ... + M^{-k}) U'`` and
``tr(W^2) = (n - q + tr M^{-2}) / sigma^4``, so only the cross-products ``Z'Z``, ``Z'X``,
``X'X`` (the cached ``A`` blocks) are needed.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..core.theta import lower_tri_indices
from ..errors import DataError, two_line

MAX_DENSE_Q = 20_000
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class KRAdjusted:
    """pbkrtest's ``vcovAdj`` with its attributes.

    Attributes
    ----------
    vcov_adj : (p, p) array   -- ``Phi_A``
    vcov : (p, p) array       -- ``Phi`` (unadjusted)
    P : list of (p, p) arrays -- one per covariance parameter (residual last)
    W : (k, k) array          -- ``2 I^{-1}``

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> len(vcov_adjusted(m).P)  # one variance and the residual
    2
    """

    vcov_adj: np.ndarray
    vcov: np.ndarray
    P: list
    W: np.ndarray


def _dense_ztz(A) -> np.ndarray:
    sizes = [l * p for l, p in zip(A.n_levels, A.ps)]
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    out = np.zeros((off[-1], off[-1]))
    for k, D in enumerate(A.diag):
        l, p, _ = D.shape
        blk = np.zeros((l * p, l * p))
        idx = np.arange(l)[:, None, None] * p
        blk[idx + np.arange(p)[None, :, None], idx + np.arange(p)[None, None, :]] = D
        out[off[k]:off[k + 1], off[k]:off[k + 1]] = blk
    for (i, j), M in A.cross.items():
        M = M.toarray() if hasattr(M, "toarray") else np.asarray(M)
        out[off[i]:off[i + 1], off[j]:off[j + 1]] = M
        out[off[j]:off[j + 1], off[i]:off[i + 1]] = M.T
    return out, off


def _params(A, off) -> list:
    """(offset, n_levels, p, i, j) per covariance parameter, lme4's order."""
    out = []
    for k, (l, p) in enumerate(zip(A.n_levels, A.ps)):
        rows, cols = lower_tri_indices(p)
        out.extend((int(off[k]), l, p, int(i), int(j)) for i, j in zip(rows, cols))
    return out


def _times_E(Y: np.ndarray, par) -> np.ndarray:
    """``Y @ E_r`` (``E_r`` symmetric, nonzero only in its term's block)."""
    o, l, p, i, j = par
    out = np.zeros_like(Y)
    Yk = Y[:, o:o + l * p].reshape(Y.shape[0], l, p)
    Ok = np.zeros_like(Yk)
    Ok[:, :, i] = Yk[:, :, j]
    if i != j:
        Ok[:, :, j] = Yk[:, :, i]
    out[:, o:o + l * p] = Ok.reshape(Y.shape[0], l * p)
    return out


def _trace_E(C: np.ndarray, par) -> float:
    """``tr(E_r C)`` for a symmetric ``C``."""
    o, l, p, i, j = par
    rows = o + np.arange(l) * p
    v = C[rows + i, rows + j]
    return float(v.sum() * (2.0 if i != j else 1.0))


def structure_jacobian(m, h: float = 1e-6) -> np.ndarray | None:
    """``d gamma_e / d psi_r`` for a model with covariance structures; None without.

    pbkrtest's parameters ``gamma`` are the variances and covariances of each term (lme4's
    unstructured terms). A structured term (``cs()``, ``ar1()``, ``diag()``) has fewer: its
    variances and correlation ``psi``; its ``G_r = sum_e J[e, r] G_e``. Kenward-Roger's first-order
    terms transform with ``J`` (pbkrtest omits the second-derivative term, as here), so a
    structure equivalent to an unstructured term gives the same result.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + diag(1 + Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> np.round(structure_jacobian(m), 6).tolist()
    [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    """
    tm = m.theta_map
    if tm.identity:
        return None
    sv = tm.sdcor(np.asarray(m.theta, dtype=float), m.sigma)[:-1]
    blocks, pos = [], 0
    for st in tm.structures:
        kinds = [kind for kind, _, _ in st.sdcor_index()]
        part = sv[pos:pos + len(kinds)]
        pos += len(kinds)
        rows, cols = lower_tri_indices(st.p)
        if st.identity:  # lme4's term: its own gamma
            blocks.append(np.eye(rows.size))
            continue
        psi = np.array([v * v if kd == "sd" else v for v, kd in zip(part, kinds)])

        def gamma(x, st=st, kinds=kinds, rows=rows, cols=cols):
            nat = np.array([np.sqrt(max(v, 0.0)) if kd == "sd" else v for v, kd in zip(x, kinds)])
            return st.cov_from_sdcor(nat)[rows, cols]

        Jk = np.empty((rows.size, psi.size))
        for r in range(psi.size):
            step = h * max(abs(psi[r]), 1e-2)
            e = np.zeros(psi.size)
            e[r] = step
            Jk[:, r] = (gamma(psi + e) - gamma(psi - e)) / (2.0 * step)
        blocks.append(Jk)
    return sla.block_diag(*blocks)


def _combine(mats: list, J: np.ndarray) -> list:
    """``sum_e J[e, r] mats[e]`` for each column ``r`` of ``J``."""
    out = []
    for r in range(J.shape[1]):
        acc = np.zeros_like(mats[0])
        for e in np.flatnonzero(J[:, r]):
            acc += J[e, r] * mats[e]
        out.append(acc)
    return out


def vcov_adjusted(m) -> KRAdjusted:
    """pbkrtest's ``vcovAdj(m)``: the Kenward-Roger adjusted covariance of ``beta``.

    Parameters
    ----------
    m : LmerResult
        A REML fit (pbkrtest and lmerTest refuse ML fits for Kenward-Roger).

    Returns
    -------
    KRAdjusted

    Raises
    ------
    DataError
        For an ML fit, or when the random effects are too many for dense ``q x q`` algebra.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> adj, v = np.diag(vcov_adjusted(m).vcov_adj), np.diag(m.vcov.to_numpy())
    >>> bool(np.all(adj >= v * (1 - 1e-9)))   # never smaller (equal for this balanced design)
    True
    """
    hit = _CACHE.get(m)
    if hit is not None:
        return hit
    if not m.reml:
        raise DataError(two_line(
            "Kenward-Roger's method is only available for REML model fits",
            "refit with reml=True, or use ddf='satterthwaite'"))
    A = m.problem.A
    q = sum(l * p for l, p in zip(A.n_levels, A.ps))
    if q > MAX_DENSE_Q:
        raise DataError(two_line(
            f"Kenward-Roger needs dense {q} x {q} matrices for {q} random effects",
            "use ddf='satterthwaite', which scales to large models"))
    p = A.p_x
    s2 = m.sigma ** 2
    ZtZ, off = _dense_ztz(A)
    XtZ = np.hstack(A.fixed)[:p] if A.fixed else np.zeros((p, 0))
    XtX = A.xy[:p, :p]
    Ts = m.problem.factor(np.asarray(m.theta, dtype=float)).T
    Lam = sla.block_diag(*[np.kron(np.eye(l), T) for l, T in zip(A.n_levels, Ts)])
    B = ZtZ @ Lam
    XB = XtZ @ Lam
    M = Lam.T @ B + np.eye(q)
    c = sla.cho_factor(M, lower=True)
    N1 = sla.cho_solve(c, np.eye(q))
    N2 = N1 + N1 @ N1
    N3 = N1 + N2 @ N1
    ZSZ = ZtZ - B @ N1 @ B.T
    XSZ = XtZ - XB @ N1 @ B.T
    ZS2Z = ZtZ - B @ N2 @ B.T
    XS2Z = XtZ - XB @ N2 @ B.T
    XS2X = XtX - XB @ N2 @ XB.T
    XS3X = XtX - XB @ N3 @ XB.T
    trS2 = A.nobs - q + float(np.sum(N1 * N1))
    pars = _params(A, off)
    Phi = np.asarray(m.vcov, dtype=float)
    XSZE = [_times_E(XSZ, par) for par in pars]
    CE = [_times_E(ZSZ, par) for par in pars]
    trE = [_trace_E(ZS2Z, par) for par in pars]
    J = structure_jacobian(m)
    if J is not None:  # structured terms: G_r = sum_e (d gamma_e / d psi_r) G_e
        XSZE, CE = _combine(XSZE, J), _combine(CE, J)
        trE = list(J.T @ np.asarray(trE))
    k = len(XSZE) + 1
    P = [-(Y @ XSZ.T) / s2 ** 2 for Y in XSZE] + [-XS2X / s2 ** 2]
    Q: dict = {}
    K = np.empty((k, k))
    for r in range(k):
        for s in range(r, k):
            if s < k - 1:
                Q[r, s] = XSZE[r] @ ZSZ @ XSZE[s].T / s2 ** 3
                K[r, s] = np.sum(CE[r].T * CE[s]) / s2 ** 2
            elif r < k - 1:
                Q[r, s] = XSZE[r] @ XS2Z.T / s2 ** 3
                K[r, s] = trE[r] / s2 ** 2
            else:
                Q[r, s] = XS3X / s2 ** 3
                K[r, s] = trS2 / s2 ** 2
            K[s, r] = K[r, s]
    IE2 = np.empty((k, k))
    for r in range(k):
        PhiP = Phi @ P[r]
        for s in range(r, k):
            IE2[r, s] = IE2[s, r] = (K[r, s] - 2.0 * np.sum(Phi * Q[r, s])
                                     + np.sum(PhiP * (P[s] @ Phi)))
    cond = np.min(np.abs(np.linalg.eigvalsh(IE2)))
    W = 2.0 * (np.linalg.inv(IE2) if cond > 1e-10 else np.linalg.pinv(IE2))
    W = (W + W.T) / 2.0
    U = np.zeros((p, p))
    for r in range(k - 1):
        for s in range(r + 1, k):
            U += W[r, s] * (Q[r, s] - P[r] @ Phi @ P[s])
    U = U + U.T
    for r in range(k):
        U += W[r, r] * (Q[r, r] - P[r] @ Phi @ P[r])
    out = KRAdjusted(vcov_adj=Phi + 2.0 * Phi @ U @ Phi, vcov=Phi, P=P, W=W)
    _CACHE[m] = out
    return out


def kr_ddf(adj: KRAdjusted, L: np.ndarray) -> dict:
    """pbkrtest's ``.KR_adjust`` / ``Lb_ddf``: ddf and F scaling for ``L beta = 0``.

    Returns
    -------
    dict with ``ddf``, ``F_scaling``, ``q`` (rank of ``L``)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(kr_ddf(vcov_adjusted(m), np.array([[0.0, 1.0]]))["ddf"], 3)
    17.0
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    V0 = adj.vcov
    Theta = L.T @ np.linalg.solve(L @ V0 @ L.T, L)
    TV = Theta @ V0
    n = len(adj.P)
    us = [TV @ Pi @ V0 for Pi in adj.P]
    A1 = A2 = 0.0
    for i in range(n):
        for j in range(i, n):
            e = 1.0 if i == j else 2.0
            A1 += e * adj.W[i, j] * np.trace(us[i]) * np.trace(us[j])
            A2 += e * adj.W[i, j] * np.sum(us[i] * us[j].T)
    q = int(np.linalg.matrix_rank(L))
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0_ = 1.0 + c1 * B
    V1 = 1.0 - c2 * B
    V2 = 1.0 - c3 * B
    V0_ = 0.0 if abs(V0_) < 1e-10 else V0_
    x = 1.0 - A2 / q
    ratio = 1.0 if (abs(x) < 1e-14 and abs(V1) < 1e-14) else x / V1  # pbkrtest's .divZero
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (1.0 / q) * ratio ** 2 * V0_ / V2
        df2 = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scaling = 1.0 if abs(df2 - 2.0) < 1e-2 else df2 * (1.0 - A2 / q) / (df2 - 2.0)
    return {"ddf": float(df2), "F_scaling": float(scaling), "q": q}


def kr_ftest(m, L: np.ndarray, rhs=None) -> dict:
    """Kenward-Roger F test of ``L beta = rhs`` (``rhs`` defaults to 0; pbkrtest's
    ``KRmodcomp``).

    Returns
    -------
    dict with ``F`` (scaled), ``F_unscaled``, ``ndf``, ``ddf``, ``F_scaling``

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(kr_ftest(m, np.array([[0.0, 1.0]]))["F"], 3)
    45.853
    """
    adj = vcov_adjusted(m)
    L = np.atleast_2d(np.asarray(L, dtype=float))
    r = kr_ddf(adj, L)
    Lb = L @ np.asarray(m.fixef, dtype=float)
    if rhs is not None:
        Lb = Lb - np.asarray(rhs, dtype=float)
    wald = float(Lb @ np.linalg.solve(L @ adj.vcov_adj @ L.T, Lb))
    Fu = wald / r["q"]
    return {"F": Fu * r["F_scaling"], "F_unscaled": Fu, "ndf": r["q"], "ddf": r["ddf"],
            "F_scaling": r["F_scaling"]}
