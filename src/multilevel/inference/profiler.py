"""The profiler behind :mod:`multilevel.inference.profile`: the ML deviance of an LMM as a
function of one parameter with the others minimised (lme4's ``devfun2`` for the variance
parameters, an offset refit from the cached cross-products for a fixed effect), memoised.
The GLMM profiler (:mod:`multilevel.inference.profile_glmm`) extends it.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import optimize

from ..core.cholesky import NotPositiveDefinite, logdet_re
from ..core.covstruct.base import safe_chol
from ..core.lmm import LmmProblem
from ..core.optimize import bobyqa
from ..core.theta import lower_tri_indices, n_theta
from ..errors import MultilevelWarning
from ..results.names import sig_names

LOG2PI = float(np.log(2.0 * np.pi))
BAD = 1e300


FLAT = "flat profile: the deviance does not depend on this parameter (singular fit)"


class ProfileWarning(MultilevelWarning):
    """A parameter's profile could not be computed, or is flat (a singular fit).

    Examples
    --------
    >>> issubclass(ProfileWarning, UserWarning)
    True
    """


def theta_to_sdcor(theta: np.ndarray, sigma: float, ps: list[int]) -> np.ndarray:
    """lme4's ``Cv_to_Sv``: ``theta`` to standard deviations and correlations (then sigma).

    Examples
    --------
    >>> theta_to_sdcor(np.array([1.0, 0.0, 1.0]), 2.0, [2]).tolist()
    [2.0, 0.0, 2.0, 2.0]
    """
    out, k = [], 0
    for p in ps:
        rows, cols = lower_tri_indices(p)
        T = np.zeros((p, p))
        T[rows, cols] = theta[k:k + n_theta(p)]
        k += n_theta(p)
        S = sigma ** 2 * (T @ T.T)
        sd = np.sqrt(np.diag(S))
        for i, j in zip(rows, cols):
            if i == j:
                out.append(sd[i])
            else:
                out.append(S[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else 0.0)
    return np.array(out + [sigma])


def sdcor_to_theta(sv: np.ndarray, ps: list[int]) -> np.ndarray | None:
    """lme4's ``Sv_to_Cv``: the inverse of :func:`theta_to_sdcor` (None if not valid).

    Examples
    --------
    >>> sdcor_to_theta(np.array([2.0, 0.0, 2.0, 2.0]), [2]).tolist()
    [1.0, 0.0, 1.0]
    """
    sigma = sv[-1]
    if not sigma > 0:
        return None
    out, k = [], 0
    for p in ps:
        rows, cols = lower_tri_indices(p)
        vals = sv[k:k + n_theta(p)]
        k += n_theta(p)
        sd = np.zeros(p)
        R = np.eye(p)
        for v, i, j in zip(vals, rows, cols):
            if i == j:
                sd[i] = v
            else:
                R[i, j] = R[j, i] = v
        T = safe_chol(np.outer(sd, sd) * R)
        if T is None:
            return None
        out.extend(T[rows, cols] / sigma)
    return np.array(out)


class Profiler:
    """The profiled ML deviance of each parameter of one model, memoised.

    .. note:: internal; use :func:`multilevel.profile` or ``m.confint(method="profile")``.

    Examples
    --------
    >>> import multilevel as ml
    >>> pr = Profiler(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))
    >>> pr.names, pr.zeta(2, pr.estimate(2))
    (['.sig01', '.sigma', '(Intercept)'], 0.0)
    """

    def __init__(self, m):
        from .refit import refit_ml

        ml_fit = refit_ml(m)
        self.m = ml_fit
        self.A = ml_fit.problem.A
        self.ps = list(self.A.ps)
        self.n = self.A.nobs
        self.problem = LmmProblem(self.A, reml=False)
        # covariance structures: the optimiser's parameters phi (theta itself for lme4's terms)
        self.tm = tm = ml_fit.theta_map
        lower = tm.lower
        self.theta_lower = lower
        # polish the optimum so that no profile point falls below it
        phi0 = tm.phi(np.asarray(ml_fit.theta, dtype=float))
        opt = bobyqa(tm.wrap(self.problem.objective), phi0, lower,
                     xtol_abs=1e-10, ftol_abs=1e-13)
        phi = opt.theta if opt.fmin <= ml_fit.opt_summary.fmin else phi0
        theta = tm.theta(phi)
        self.base = min(opt.fmin, ml_fit.opt_summary.fmin)
        sol = self.problem.solve(theta)
        self.theta_hat = theta
        self.phi_hat = phi
        self.beta_hat = sol.beta
        self.sigma_hat = sol.sigma
        self.se_beta = np.sqrt(np.diag(sol.vcov_beta)) if sol.beta.size else np.zeros(0)
        self.sv_hat = self.sdcor(theta, sol.sigma)
        self.kinds = [kind for _, kind, _, _ in tm.sdcor_index()] + ["sigma"]
        self.lo, self.hi = tm.sdcor_bounds()
        self.names = sig_names(ml_fit.terms) + [".sigma"] + list(ml_fit.fixef.index)
        self.readable = (sig_names(ml_fit.terms, old_names=False) + ["sigma"]
                         + list(ml_fit.fixef.index))
        self.nvp = len(self.kinds)
        self.memo: dict = {}

    # ----- deviances -------------------------------------------------------------------
    def sdcor(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        """Standard deviations and correlations (each term's structure's), then sigma."""
        if self.tm.identity:
            return theta_to_sdcor(theta, sigma, self.ps)
        return self.tm.sdcor(theta, sigma)

    def theta_of(self, sv: np.ndarray) -> np.ndarray | None:
        """The inverse of :meth:`sdcor` (None outside the parameter space)."""
        if self.tm.identity:
            return sdcor_to_theta(sv, self.ps)
        return self.tm.theta_from_sdcor(sv)

    def dev_sv(self, sv: np.ndarray) -> float:
        """lme4's ``devfun2``: ML deviance at standard deviations/correlations and sigma."""
        theta = self.theta_of(sv)
        if theta is None:
            return BAD
        try:
            F = self.problem.factor(theta)
        except NotPositiveDefinite:
            return BAD
        s2 = sv[-1] ** 2
        pwrss = F.LXX[-1, -1] ** 2
        return float(logdet_re(F) + pwrss / s2 + self.n * (LOG2PI + np.log(s2)))

    def _fixed_problem(self, j: int, x: float) -> LmmProblem:
        p = self.A.p_x
        M = np.zeros((p + 1, p))
        keep = [c for c in range(p) if c != j]
        M[keep, np.arange(p - 1)] = 1.0
        M[p, p - 1] = 1.0
        M[j, p - 1] = -x
        A = dataclasses.replace(self.A, fixed=[M.T @ F for F in self.A.fixed],
                                xy=M.T @ self.A.xy @ M)
        return LmmProblem(A, reml=False)

    def _start(self, w: int, x: float):
        """Warm start: the optimum at the evaluated point nearest to ``x``."""
        pts = self.memo.get(w)
        if not pts:
            return None
        near = min(pts, key=lambda v: abs(v - x))
        return pts[near][1]

    def zeta(self, w: int, x: float) -> float:
        """Signed square root of the deviance increase with parameter ``w`` held at ``x``."""
        pts = self.memo.setdefault(w, {})
        if x in pts:
            return pts[x][0]
        start = self._start(w, x)
        if w < self.nvp:
            free = [i for i in range(self.nvp) if i != w]
            x0 = self.sv_hat[free] if start is None else start
            x0 = np.clip(x0, self.lo[free], self.hi[free])

            def f(v):
                sv = np.empty(self.nvp)
                sv[free], sv[w] = v, x
                return self.dev_sv(sv)

            if free:
                fmin, arg = _minimise(f, x0, self.lo[free], self.hi[free])
            else:
                fmin, arg = f(np.zeros(0)), np.zeros(0)
            est = self.sv_hat[w]
        else:
            j = w - self.nvp
            prob = self._fixed_problem(j, x)
            x0 = self.phi_hat if start is None else start
            fmin, arg = _minimise(self.tm.wrap(prob.objective), x0, self.theta_lower,
                                  np.full(x0.size, np.inf))
            est = self.beta_hat[j]
        z = float(np.sign(x - est) * np.sqrt(max(fmin - self.base, 0.0)))
        pts[x] = (z, arg, fmin)
        return z

    def points_frame(self, w: int, pts) -> pd.DataFrame:
        """The profile of parameter ``w`` as lme4's rows (``.par``, ``.zeta``, values)."""
        return _points_frame(self, w, pts)

    # ----- limits ----------------------------------------------------------------------
    def estimate(self, w: int) -> float:
        return float(self.sv_hat[w] if w < self.nvp else self.beta_hat[w - self.nvp])

    def _step(self, w: int) -> float:
        est = self.estimate(w)
        if w >= self.nvp:
            return 2.0 * max(self.se_beta[w - self.nvp], 1e-8 * max(abs(est), 1.0))
        kind = self.kinds[w]
        if kind == "cor":
            return 0.5
        return 0.5 * abs(est) if est > 0 else 0.5 * self.sigma_hat

    def limit(self, w: int, target: float) -> tuple[float, str | None]:
        """The value where ``zeta = target``; the bound (and a note) if it is not reached."""
        est = self.estimate(w)
        side = 1.0 if target > 0 else -1.0
        bound = (self.hi if side > 0 else self.lo)[w] if w < self.nvp else side * np.inf
        step = self._step(w)
        a, za = est, 0.0
        for _ in range(60):
            b = est + side * step
            at_bound = (b - bound) * side >= 0
            if at_bound:
                b = float(bound)
            zb = self.zeta(w, b)
            if (zb - target) * side >= 0:
                break
            if at_bound:
                if abs(b - est) <= 1e-8 * max(abs(est), 1.0):
                    return float(bound), None  # the estimate is on the bound (lme4: the bound)
                if abs(zb) < 1e-6:
                    return float(bound), FLAT
                return float(bound), (f"the profile does not reach zeta = {target:+.3g} "
                                      "before the parameter's bound")
            a, za = b, zb
            step *= 2.0
        else:
            raise RuntimeError(f"the profile did not reach zeta = {target:g}")
        tol = 1e-9 * max(abs(est), abs(b), self._step(w))
        x = optimize.brentq(lambda v: self.zeta(w, v) - target, a, b, xtol=tol, rtol=1e-10)
        return float(x), None


def _minimise(f, x0, lo, hi):
    import nlopt

    n = x0.size
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_min_objective(lambda x, g: f(x))
    opt.set_lower_bounds(np.asarray(lo, dtype=float))
    opt.set_upper_bounds(np.asarray(hi, dtype=float))
    width = np.where(np.isfinite(hi) & np.isfinite(lo), hi - lo, np.inf)
    step = np.minimum(np.maximum(0.1 * np.abs(x0), 1e-3), 0.25 * width)
    opt.set_initial_step(np.where(step > 0, step, 1e-3))
    opt.set_xtol_rel(1e-10)
    opt.set_ftol_abs(1e-12)
    opt.set_maxeval(20_000)
    try:
        arg = opt.optimize(np.asarray(x0, dtype=float))
        val = opt.last_optimum_value()
    except (nlopt.RoundoffLimited, ValueError):
        arg, val = np.asarray(x0, dtype=float), f(x0)
    return float(val), np.asarray(arg)


def _points_frame(pr: Profiler, w: int, pts) -> pd.DataFrame:
    rows = []
    for z, x in pts:
        vals = np.empty(len(pr.names))
        if w < pr.nvp:
            sv = pr.sv_hat.copy()
            if x != pr.estimate(w):
                free = [i for i in range(pr.nvp) if i != w]
                sv[free] = pr.memo[w][x][1]
            sv[w] = x
            theta = pr.theta_of(sv)
            beta = pr.problem.solve(theta).beta if theta is not None else pr.beta_hat
            vals[:pr.nvp], vals[pr.nvp:] = sv, beta
        else:
            j = w - pr.nvp
            theta = pr.theta_hat if x == pr.estimate(w) else pr.tm.theta(pr.memo[w][x][1])
            sol = pr._fixed_problem(j, x).solve(theta)
            vals[:pr.nvp] = pr.sdcor(theta, sol.sigma)
            vals[pr.nvp:] = np.insert(sol.beta, j, x)
        rows.append([pr.names[w], z, *vals])
    return pd.DataFrame(rows, columns=[".par", ".zeta"] + pr.names)
