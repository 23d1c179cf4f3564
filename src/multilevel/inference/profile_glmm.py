"""Likelihood profiles of GLMMs (lme4's ``profile`` and ``confint(method = "profile")`` of a
``glmerMod``).

The profiled function is lme4's ``devfun2`` for a GLMM: the fit's Laplace (or adaptive
Gauss-Hermite) deviance as a function of all parameters ``par = [s, beta]``, where ``s``
are the standard deviations and correlations of each term (``.sig01``, ...; there is no
``.sigma``: binomial and Poisson models have none, and lme4 refuses families with a
scale) and ``beta`` the fixed effects. For a fixed value ``x`` of one parameter the
deviance is minimised over all the others -- the fixed effects included, so a fixed
effect's profile is the same function lme4 computes by moving ``x X_j`` into the offset
and refitting. ``zeta(x) = sign(x - x_hat) sqrt(d(x) - d_hat)``; an interval limit is the
exact root of ``zeta(x) = +-z`` (Brent's method, shared with the LMM profile in
:mod:`multilevel.inference.profile`), where lme4 interpolates a spline through a grid.

Each re-optimisation is a BOBYQA run in coordinates whitened by the curvature of the
deviance at the optimum (a finite-difference Hessian over ``par``, computed once), with the
fixed effects following the variance parameters as the quadratic model says, and starts
from the optimum at the nearest evaluated point between the estimate and ``x``, moved
along the profile trace that the same quadratic model predicts. A run then needs a few tens
of deviance evaluations. Continuing the profile outwards from the estimate (as lme4 does)
matters where the deviance has two branches: in a correlated random slope, a correlation
far from its estimate can be fitted with the slope's standard deviation at 0, a local
minimum that a start from a point further out would fall into.
"""
from __future__ import annotations

import numpy as np

from ..core.glmm import BAD_OBJECTIVE, GlmmProblem, fd_hessian
from ..results.names import sig_names
from .profiler import Profiler

__all__ = ["GlmmProfiler", "glmm_blas_context"]

# BOBYQA in whitened units, where a unit step changes the deviance by about 1
RHO_BEG = 0.1
XTOL_Y = 1e-7
FTOL = 1e-12


def glmm_blas_context(m):
    """The BLAS threading the fit used (single-threaded for small dense blocks).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> with glmm_blas_context(m):
    ...     pass
    """
    from ..core.threads import blas_threads_for, glmm_dense_order

    return blas_threads_for(glmm_dense_order(m.problem.data))


class GlmmProfiler(Profiler):
    """The profiled Laplace (or AGQ) deviance of each parameter of a GLMM, memoised.

    .. note:: internal; use :func:`multilevel.profile` or ``m.confint(method="profile")``.

    Parameters
    ----------
    m : GlmerResult
        A fit of a family without a scale parameter (binomial, Poisson, or a negative
        binomial, whose ``theta`` stays fixed), with ``n_agq >= 1``.

    Raises
    ------
    ValueError
        For a family with a scale (lme4: "can't (yet) profile GLMMs with non-fixed scale
        parameters") or an ``n_agq = 0`` fit, whose deviance does not depend on ``beta``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> pr = GlmmProfiler(m)
    >>> pr.names
    ['.sig01', '(Intercept)', 'period2', 'period3', 'period4']
    >>> round(pr.zeta(1, pr.estimate(1) + 0.3), 3)
    1.316
    """

    def __init__(self, m):
        if getattr(m, "kind", None) != "glmer":
            raise TypeError(f"GlmmProfiler profiles glmer fits, not {type(m).__name__}")
        data = m.problem.data
        if data.family.has_scale:
            raise ValueError(
                f"cannot profile a {data.family.name} GLMM: its scale parameter is not "
                "profiled (lme4: can't (yet) profile GLMMs with non-fixed scale parameters)")
        if m.n_agq < 1:
            raise ValueError("cannot profile an n_agq = 0 (fast) fit: its deviance does not "
                             "depend on the fixed effects; refit with n_agq = 1")
        self.m = m
        self.n_agq = int(m.n_agq)
        self.problem = GlmmProblem(data, tol=m.problem.tol)
        self.ps = list(data.ps)
        self.tm = m.theta_map  # covariance structures: their sd/cor (lme4's for (x | g))
        kinds = [kind for _, kind, _, _ in self.tm.sdcor_index()]
        self.kinds = kinds
        self.nvp = len(kinds)
        nb = data.p
        lo, hi = self.tm.sdcor_bounds()
        self.lo = np.r_[lo[:-1], np.full(nb, -np.inf)]
        self.hi = np.r_[hi[:-1], np.full(nb, np.inf)]
        self.names = sig_names(m.terms) + list(m.fixef.index)
        self.readable = sig_names(m.terms, old_names=False) + list(m.fixef.index)
        theta = np.asarray(m.theta, dtype=float)
        par = np.r_[self.sdcor(theta, 1.0)[:-1], np.asarray(m.fixef, float)]
        self.base = float(self.dev(par))
        self._curvature(par, np.sqrt(np.diag(np.asarray(m.vcov, dtype=float))))
        self._trans: dict = {}
        # polish the optimum, so that no profile point falls below it
        fmin, polished = self._minimise(None, par)
        if fmin < self.base:
            self.base, par = fmin, polished
        self.par_hat = par
        self.sv_hat = par[:self.nvp]
        self.beta_hat = par[self.nvp:]
        self.memo: dict = {}

    # ----- the deviance --------------------------------------------------------------------
    def dev(self, par: np.ndarray) -> float:
        """lme4's ``devfun2`` of a GLMM: the deviance at ``[sd/cor..., beta...]``."""
        theta = self.theta_of(np.r_[par[:self.nvp], 1.0])
        if theta is None:
            return BAD_OBJECTIVE
        with np.errstate(all="ignore"):
            return self.problem.objective(np.r_[theta, par[self.nvp:]], self.n_agq)

    def _curvature(self, par: np.ndarray, se_beta: np.ndarray) -> None:
        """Finite-difference Hessian of the deviance over ``par`` (made positive definite)."""
        steps = np.r_[1e-3 * np.maximum(np.abs(par[:self.nvp]), 0.05),
                      1e-3 * np.where(se_beta > 0, se_beta, 1.0)]
        steps[:self.nvp][np.array(self.kinds, dtype=object) == "cor"] = 1e-4
        with np.errstate(all="ignore"):
            _, H = fd_hessian(self.dev, par, steps, fx=self.base)
        bad = ~np.isfinite(H) | (np.abs(H) > 1e100)
        if bad.any():  # a step left the parameter space: no coupling for that parameter
            rows = np.flatnonzero(bad.any(axis=1))
            H[rows, :] = H[:, rows] = 0.0
            H[rows, rows] = 2.0 / np.r_[np.maximum(np.abs(par[:self.nvp]), 0.1),
                                        se_beta][rows] ** 2
        H = 0.5 * (H + H.T)
        ev, V = np.linalg.eigh(H)
        ev = np.maximum(ev, 1e-8 * max(float(ev.max()), 1e-300))
        self.H = (V * ev) @ V.T
        self.se = np.sqrt(2.0 * np.diag(np.linalg.inv(self.H)))

    def _transform(self, w: int | None):
        """Whitening of the parameters other than ``w``: ``par_free = start + T y``, with
        variance parameters scaled one by one (their bounds stay boxes) and the fixed
        effects following them, so that the deviance is about ``|y|^2`` above its minimum.
        Also the trace ``c``: how the other parameters move per unit of ``w``."""
        if w in self._trans:
            return self._trans[w]
        n = self.H.shape[0]
        free = np.array([i for i in range(n) if i != w], dtype=int)
        Hoo = self.H[np.ix_(free, free)]
        c = (-np.linalg.solve(Hoo, self.H[free, w]) if w is not None
             else np.zeros(free.size))
        v = free < self.nvp
        iv, ib = np.flatnonzero(v), np.flatnonzero(~v)
        Hvv, Hvb, Hbb = Hoo[np.ix_(iv, iv)], Hoo[np.ix_(iv, ib)], Hoo[np.ix_(ib, ib)]
        T = np.zeros((free.size, free.size))
        if ib.size:
            R = np.linalg.cholesky(Hbb).T  # Hbb = R'R
            G = -np.linalg.solve(Hbb, Hvb.T)  # beta follows the variance parameters
            S = Hvv + Hvb @ G
        else:
            S = Hvv
        D = np.sqrt(2.0 / np.maximum(np.diag(S), 1e-300)) if iv.size else np.zeros(0)
        T[np.ix_(iv, iv)] = np.diag(D)
        if ib.size:
            T[np.ix_(ib, iv)] = G * D
            T[np.ix_(ib, ib)] = np.sqrt(2.0) * np.linalg.inv(R)
        self._trans[w] = (free, T, c, iv, D)
        return self._trans[w]

    def _minimise(self, w: int | None, start: np.ndarray) -> tuple[float, np.ndarray]:
        """Minimise the deviance over the parameters other than ``w`` from ``start``."""
        import nlopt

        free, T, _, iv, D = self._transform(w)
        s0 = start[free]

        def full(y):
            par = start.copy()
            par[free] = s0 + T @ y
            return par

        if free.size == 0:
            return float(self.dev(start)), start.copy()
        lo = np.full(free.size, -np.inf)
        hi = np.full(free.size, np.inf)
        lo[iv] = (self.lo[free][iv] - s0[iv]) / D
        hi[iv] = (self.hi[free][iv] - s0[iv]) / D
        best = [np.inf, np.zeros(free.size)]

        def f(y, grad):
            val = float(self.dev(full(y)))
            if val < best[0]:
                best[0], best[1] = val, y.copy()
            return val

        opt = nlopt.opt(nlopt.LN_BOBYQA, free.size)
        opt.set_min_objective(f)
        opt.set_lower_bounds(lo)
        opt.set_upper_bounds(hi)
        width = np.where(np.isfinite(hi - lo), hi - lo, np.inf)
        opt.set_initial_step(np.maximum(np.minimum(RHO_BEG, 0.25 * width), 1e-6))
        opt.set_xtol_abs(XTOL_Y)
        opt.set_ftol_abs(FTOL)
        opt.set_maxeval(5_000)
        try:
            opt.optimize(np.zeros(free.size))
        except (nlopt.RoundoffLimited, ValueError):
            pass
        return float(best[0]), full(best[1])

    # ----- the profile ---------------------------------------------------------------------
    def _start(self, w: int, x: float) -> np.ndarray:
        """Warm start: the optimum at the nearest evaluated point between the estimate and
        ``x`` (the profile is continued outwards from the estimate, as lme4's
        ``startmethod = "prev"``: a point further out may lie on another branch, e.g. with
        a standard deviation at 0), moved along the quadratic model's trace."""
        est = self.estimate(w)
        inward = [v for v in self.memo.get(w, {})
                  if (v - est) * (x - est) > 0 and abs(v - est) < abs(x - est)]
        if inward:
            x0 = min(inward, key=lambda v: abs(v - x))
            par = self.memo[w][x0][1].copy()
        else:
            par, x0 = self.par_hat.copy(), est
        free, _, c, _, _ = self._transform(w)
        par[free] = np.clip(par[free] + c * (x - x0), self.lo[free], self.hi[free])
        par[w] = x
        return par

    def zeta(self, w: int, x: float) -> float:
        """Signed square root of the deviance increase with parameter ``w`` held at ``x``."""
        pts = self.memo.setdefault(w, {})
        if x in pts:
            return pts[x][0]
        fmin, par = self._minimise(w, self._start(w, x))
        z = float(np.sign(x - self.estimate(w)) * np.sqrt(max(fmin - self.base, 0.0)))
        pts[x] = (z, par, fmin)
        return z

    def estimate(self, w: int) -> float:
        return float(self.par_hat[w])

    def _step(self, w: int) -> float:
        est = self.estimate(w)
        se = self.se[w]
        if not (np.isfinite(se) and se > 0):
            se = 0.5 * max(abs(est), 0.1)
        if w < self.nvp and self.kinds[w] == "cor":
            return min(2.0 * se, 0.5)
        return 2.0 * se

    def points_frame(self, w: int, pts):
        """The profile of parameter ``w`` as lme4's rows: ``.par``, ``.zeta``, all values."""
        import pandas as pd

        rows = []
        for z, x in pts:
            par = self.par_hat if x == self.estimate(w) else self.memo[w][x][1]
            rows.append([self.names[w], z, *par])
        return pd.DataFrame(rows, columns=[".par", ".zeta"] + self.names)
