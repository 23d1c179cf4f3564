"""Standard errors of predictions from the joint conditional covariance of the random and
fixed effects (lme4's ``predict(m, se.fit = TRUE)`` and ``vcov_full``, lme4 >= 2.0).

For a linear mixed model with relative covariance factor ``Lambda`` (``Lambda Lambda' =
Sigma / sigma^2``, block diagonal over terms and levels), design ``[Z X]`` and prior weights
``W``, the covariance of ``(b, beta)`` given the data is::

    C = sigma^2 D M^-1 D',  M = [[L'Z'WZL + I, L'Z'WX], [X'WZL, X'WX]],  D = diag(L, I)

(with ``L = Lambda``; it depends on ``Lambda`` only through ``Lambda Lambda'``, so any square
root of the term covariances serves). A prediction ``z'b + x'beta`` has standard error
``sqrt([z x] C [z x]')``; the random-effect columns a ``re_form`` leaves out, and levels not
seen in the fit, contribute zero (lme4 pads ``C`` with zeros for new levels).
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError, two_line


def _blocks(m) -> tuple[list[int], list[np.ndarray]]:
    """Per term: its number of columns in ``Z`` (levels x p) and the factor of one level."""
    sizes, factors = [], []
    s2 = float(m.sigma) ** 2
    for t, S in zip(m.terms, m._term_covariances()):
        if getattr(t, "cov", None) is not None:
            raise DataError(two_line(
                f"se_fit is not available for the structured term on {t.group}",
                "use interval='confidence' for fixed-part standard errors"))
        w, V = np.linalg.eigh(np.asarray(S, dtype=float) / s2)
        factors.append(V * np.sqrt(np.clip(w, 0.0, None)))
        sizes.append(len(t.levels) * t.Z.shape[1])
    return sizes, factors


def _dense_z(parts, sizes, n: int) -> np.ndarray:
    """The dense ``Z`` (level-major, columns within a level) of the terms in ``parts``."""
    out = np.zeros((n, sum(sizes)))
    start = np.r_[0, np.cumsum(sizes)]
    rows = np.arange(n)
    for k, (codes, Z) in parts:
        codes = np.asarray(codes)
        ok = codes >= 0  # new levels: no column (lme4 pads C with zeros)
        p = Z.shape[1]
        for j in range(p):
            out[rows[ok], start[k] + codes[ok] * p + j] = Z[ok, j]
    return out


def joint_cov(m) -> np.ndarray:
    """lme4's ``vcov_full(m)``: covariance of ``(b, beta)``, random effects first (by term
    in lme4's order, then level, then column).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> C = joint_cov(m)
    >>> C.shape, round(float(C[-1, -1]), 4) == round(float(m.vcov.iloc[0, 0]), 4)
    ((7, 7), True)
    """
    sizes, factors = _blocks(m)
    X = np.asarray(m.design.X, dtype=float)
    n = X.shape[0]
    parts = [(k, (np.asarray(t.codes), np.asarray(t.Z, dtype=float)))
             for k, t in enumerate(m.terms)]
    Z = _dense_z(parts, sizes, n)
    Lam = np.zeros((Z.shape[1], Z.shape[1]))
    at = 0
    for t, F in zip(m.terms, factors):
        p = F.shape[0]
        for _ in range(len(t.levels)):
            Lam[at:at + p, at:at + p] = F
            at += p
    w = np.ones(n) if m.weights is None else np.asarray(m.weights, dtype=float)
    ZL = Z @ Lam
    q, pX = ZL.shape[1], X.shape[1]
    M = np.empty((q + pX, q + pX))
    M[:q, :q] = (ZL * w[:, None]).T @ ZL + np.eye(q)
    M[:q, q:] = (ZL * w[:, None]).T @ X
    M[q:, :q] = M[:q, q:].T
    M[q:, q:] = (X * w[:, None]).T @ X
    D = np.zeros((q + pX, q + pX))
    D[:q, :q] = Lam
    D[q:, q:] = np.eye(pX)
    return float(m.sigma) ** 2 * D @ np.linalg.solve(M, D.T)


def se_fit(m, X: np.ndarray, parts) -> np.ndarray:
    """Standard errors of the predictions ``X beta + sum of parts' Z b`` (``parts``: term
    index -> (level codes, columns of Z kept), as ``predict`` builds them).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> se = se_fit(m, m.design.X, [])  # population level: the intercept's standard error
    >>> round(float(se[0]), 4) == round(float(m.vcov.iloc[0, 0]) ** 0.5, 4)
    True
    """
    if getattr(m, "kind", None) != "lmer":
        raise DataError(two_line("se_fit is available for linear mixed models (lmer fits)",
                                 "for a GLMM use interval='confidence'"))
    sizes, _ = _blocks(m)
    X = np.asarray(X, dtype=float)
    ZX = np.hstack([_dense_z(parts, sizes, X.shape[0]), X])
    C = joint_cov(m)
    return np.sqrt(np.clip(np.einsum("ij,ij->i", ZX @ C, ZX), 0.0, None))
