"""``ml.power``: power by simulation (simr's ``powerSim`` and ``powerCurve``).

Each simulation draws a response from the fitted model -- its fixed effects (the tested one
replaced by ``effect``), its random-effect covariances and residual variance, new random
effects and residuals (lme4's ``simulate``) -- refits the model to it on the prepared
design (no formula is parsed again; linear mixed models reuse the cross-products of the
design and start from the fitted theta), and tests the effect:

* ``"satterthwaite"``: lmerTest's t test with Satterthwaite df (linear mixed models, one
  coefficient; the default there);
* ``"lrt"``: likelihood-ratio test of ML fits with and without the term (any number of
  columns; the chi-square reference is anti-conservative with few groups);
* ``"z"``: Wald z test (GLMMs, one coefficient; the default there, as simr's).

Power is the share of simulations whose p-value is below ``alpha``, with a Clopper-Pearson
(exact binomial) interval. ``along``/``n`` change the number of groups (simr's ``extend`` and
``powerCurve``): ``n`` at most the fitted number keeps the first ``n`` groups; more adds
copies of the groups (with new levels; see :func:`multilevel.inference.design_fit.replicate_groups`).
Failed refits are counted and left out of the denominator.
"""
from __future__ import annotations

import dataclasses
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line

METHODS = {"satterthwaite": "Satterthwaite t test (lmerTest)",
           "lrt": "Likelihood ratio (ML refits)", "z": "Wald z test"}


def clopper_pearson(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for ``x`` successes in ``n`` trials (R's
    ``binom.test``; simr's interval).

    Examples
    --------
    >>> [round(v, 4) for v in clopper_pearson(8, 10)]
    [0.4439, 0.9748]
    """
    a = (1 - level) / 2
    lo = 0.0 if x == 0 else float(stats.beta.ppf(a, x, n - x + 1))
    hi = 1.0 if x == n else float(stats.beta.ppf(1 - a, x + 1, n - x))
    return lo, hi


@dataclass
class PowerSim:
    """One power estimate (simr's ``powerSim`` value).

    Attributes
    ----------
    power : float ; lower, upper : float (Clopper-Pearson, ``level``)
    successes, nsim, n_failed : int
    p_values : ndarray   -- one per simulation (NaN for a failed refit)
    test, method, effect, alpha, n_groups, nobs, seconds
    """

    test: str
    method: str
    effect: float | None
    alpha: float
    p_values: np.ndarray
    n_groups: int | None
    nobs: int
    seconds: float
    level: float = 0.95
    errors: list = field(default_factory=list)

    @property
    def successes(self) -> int:
        p = self.p_values[np.isfinite(self.p_values)]
        return int(np.sum(p < self.alpha))

    @property
    def nsim(self) -> int:
        return int(np.sum(np.isfinite(self.p_values)))

    @property
    def n_failed(self) -> int:
        return int(self.p_values.size - self.nsim)

    @property
    def power(self) -> float:
        return self.successes / self.nsim if self.nsim else float("nan")

    @property
    def lower(self) -> float:
        return clopper_pearson(self.successes, self.nsim, self.level)[0]

    @property
    def upper(self) -> float:
        return clopper_pearson(self.successes, self.nsim, self.level)[1]

    def __str__(self) -> str:
        pct = f"{100 * self.power:6.2f}% ({100 * self.lower:.2f}, {100 * self.upper:.2f})"
        eff = "" if self.effect is None else f"\nEffect size for {self.test} is {self.effect:.4g}"
        return (f"Power for predictor '{self.test}', ({100 * self.level:.0f}% confidence "
                f"interval):\n{pct}\n\nTest: {METHODS[self.method]}{eff}\n\n"
                f"Based on {self.p_values.size} simulations, ({self.n_failed} errors)\n"
                f"alpha = {self.alpha:g}, nrow = {self.nobs}\n\n"
                f"Time elapsed: {self.seconds:.1f} s")

    __repr__ = __str__


@dataclass
class PowerCurve:
    """Power at several numbers of groups (simr's ``powerCurve`` value).

    Attributes
    ----------
    sims : list of PowerSim
    along : str
    """

    sims: list
    along: str

    @property
    def table(self) -> pd.DataFrame:
        """One row per number of groups: ``n_groups, nobs, power, lower, upper, nsim``."""
        return pd.DataFrame({"n_groups": [s.n_groups for s in self.sims],
                             "nobs": [s.nobs for s in self.sims],
                             "power": [s.power for s in self.sims],
                             "lower": [s.lower for s in self.sims],
                             "upper": [s.upper for s in self.sims],
                             "nsim": [s.nsim for s in self.sims]})

    def plot(self, ax=None, target: float | None = 0.8):
        """Power against the number of groups with its confidence intervals.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
        >>> pc = power(m, "Days", effect=2, nsim=5, along="Subject", n=[4, 8], seed=1,
        ...            progress=False)
        >>> pc.plot().get_xlabel()
        'number of levels of Subject'
        """
        from ..plots.power_curve import power_curve

        return power_curve(self, ax=ax, target=target)

    def __str__(self) -> str:
        s = self.sims[0]
        return (f"Power for predictor '{s.test}', ({100 * s.level:.0f}% confidence "
                f"interval), by number of levels of {self.along}:\n"
                f"{self.table.to_string(index=False)}\n\nTest: {METHODS[s.method]}\n"
                f"alpha = {s.alpha:g}")

    __repr__ = __str__


# ----- the simulation engine ------------------------------------------------------------------

def _columns(m, test: str) -> list[int]:
    names = list(m.design.xnames)
    if test in names:
        return [names.index(test)]
    from .contrasts import term_columns

    try:
        cols = term_columns(m.design).get(test)
    except DataError:
        cols = None
    if not cols:
        raise DataError(two_line(f"no fixed effect or term {test!r} in the model",
                                 f"use one of {', '.join(names)}"))
    return list(cols)


class _Lmm:
    """Simulate-and-test for one linear mixed model on one design."""

    def __init__(self, m, design, beta, method, cols):
        from ..core.theta import split_theta
        from ..design.problem import lmer_problem, order_terms
        from .design_fit import drop_columns

        self.m, self.design, self.beta, self.method, self.cols = m, design, beta, method, cols
        self.terms = order_terms(design.re_terms)
        self.T = split_theta(np.asarray(m.theta, dtype=float), [t.p for t in m.terms])
        self.weights = None
        self.theta0 = np.asarray(m.theta_map.phi(np.asarray(m.theta, dtype=float)), float)
        self.lower = np.asarray(m.theta_map.lower, dtype=float)
        reml = method == "satterthwaite"
        self.full = lmer_problem(design, self.terms, reml=reml)
        self.small_design = drop_columns(design, cols) if method == "lrt" else None
        self.small = (lmer_problem(self.small_design, order_terms(self.small_design.re_terms),
                                   reml=False) if method == "lrt" else None)

    def simulate(self, rng):
        d, m = self.design, self.m
        eta = d.X @ self.beta if d.X.shape[1] else np.zeros(d.nobs)
        if d.offset is not None:
            eta = eta + d.offset
        for t_fit, T in zip(m.terms, self.T):
            t = next(x for x in d.re_terms if x.group == t_fit.group
                     and list(x.cnames) == list(t_fit.cnames))
            u = rng.standard_normal((t.n_levels, t.p))
            b = m.sigma * (u @ T.T)
            eta = eta + np.einsum("np,np->n", np.asarray(t.Z), b[np.asarray(t.codes)])
        return eta + m.sigma * rng.standard_normal(d.nobs)

    def _fit(self, problem, design, terms, y):
        from ..core.lmm import LmmProblem
        from ..core.optimize import bobyqa
        from .refit import with_response

        off = design.offset
        A = with_response(problem.A, terms, design.X, y if off is None else y - off)
        prob = LmmProblem(A, reml=problem.reml)
        obj = self.m.theta_map.wrap(prob.objective)
        opt = bobyqa(obj, self.theta0, self.lower)
        return prob, opt

    def p_value(self, y) -> float:
        from ..design.problem import order_terms

        prob, opt = self._fit(self.full, self.design, self.terms, y)
        if self.method == "lrt":
            sd = self.small_design
            _, opt0 = self._fit(self.small, sd, order_terms(sd.re_terms), y)
            chisq = max(opt0.fmin - opt.fmin, 0.0)
            return float(stats.chi2.sf(chisq, len(self.cols)))
        from ..results.lmm import LmerResult
        from .coef_table import coef_table
        from .refit import SINGULAR_TOL

        fit = LmerResult(design=dataclasses.replace(self.design, y=y), terms=self.terms,
                         problem=prob, opt=opt, data_name=None,
                         singular=bool(self.m.theta_map.is_singular(opt.theta, SINGULAR_TOL)))
        return float(coef_table(fit, ddf="satterthwaite")["p_value"].iloc[self.cols[0]])


class _Glmm:
    """Simulate-and-test for a GLMM (binomial or Poisson) on one design."""

    def __init__(self, m, design, src, beta, method, cols):
        from ..core.theta import split_theta
        from .design_fit import drop_columns, glmer_response

        fam = m._family.name
        if fam not in ("binomial", "poisson"):
            raise DataError(two_line(f"power() simulates binomial and Poisson GLMMs, not {fam}",
                                     "use a linear mixed model or one of those families"))
        self.m, self.design, self.beta, self.method, self.cols = m, design, beta, method, cols
        self.resp = glmer_response(m, rows=src)
        self.T = split_theta(np.asarray(m.theta, dtype=float), [t.p for t in m.terms])
        self.small_design = drop_columns(design, cols) if method == "lrt" else None

    def simulate(self, rng):
        d, m = self.design, self.m
        eta = d.X @ self.beta + (0.0 if d.offset is None else d.offset)
        for t_fit, T in zip(m.terms, self.T):
            t = next(x for x in d.re_terms if x.group == t_fit.group
                     and list(x.cnames) == list(t_fit.cnames))
            b = rng.standard_normal((t.n_levels, t.p)) @ T.T
            eta = eta + np.einsum("np,np->n", np.asarray(t.Z), b[np.asarray(t.codes)])
        mu = m._family.link.linkinv(eta)
        if m._family.name == "binomial":
            n = self.resp.n_trials
            return rng.binomial(n.astype(np.int64), np.clip(mu, 0, 1)) / np.where(n > 0, n, 1)
        return rng.poisson(mu).astype(float)

    def p_value(self, y) -> float:
        from .design_fit import fit_glmer_design

        # standard errors from the penalised least-squares factor (lme4's
        # use.hessian = FALSE): the finite-difference Hessian costs more than the fit
        ctl = {"calc_derivs": False, "check_conv": False}
        resp = dataclasses.replace(self.resp, y=y)
        fit = fit_glmer_design(self.m, self.design, resp, control=ctl)
        if self.method == "lrt":
            fit0 = fit_glmer_design(self.m, self.small_design, resp, control=ctl)
            chisq = max(2 * (fit.loglik - fit0.loglik), 0.0)
            return float(stats.chi2.sf(chisq, len(self.cols)))
        return float(fit.coef_table().iloc[self.cols[0], 3])


_STATE: dict = {}
_STATE_LOCK = threading.Lock()
POOL_MIN_SECONDS = 2.0  # below this, starting worker processes costs more than it saves


def _chunk(idx: list[int]) -> list:
    """p-values of the simulations ``idx`` (run here or in a forked worker)."""
    import warnings

    eng, seeds, blas = _STATE["eng"], _STATE["seeds"], _STATE["blas"]
    out = []
    with blas(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in idx:
            try:
                out.append((i, eng.p_value(eng.simulate(np.random.default_rng(seeds[i]))),
                            None))
            except Exception as exc:  # a failed refit is counted, not fatal
                out.append((i, np.nan, f"{type(exc).__name__}: {exc}"))
    return out


def _one_n(m, design, src, beta, method, cols, seeds, bar, errors, n_jobs=1):
    import multiprocessing as mp
    import os

    from ..core.threads import blas_threads_for
    from .refit import blas_context

    eng = (_Glmm(m, design, src, beta, method, cols) if m.kind == "glmer"
           else _Lmm(m, design, beta, method, cols))
    order = max([t.n_levels * t.p for t in design.re_terms[1:]] + [design.X.shape[1] + 1])
    blas = (lambda: blas_context(m)) if m.kind == "lmer" else (lambda: blas_threads_for(order))
    p = np.full(len(seeds), np.nan)

    def collect(res):
        for i, val, err in res:
            p[i] = val
            if err is not None:
                errors.append(err)
            bar.update()

    nsim = len(seeds)
    size = max(1, min(25, nsim // (4 * max(n_jobs, 1))))
    chunks = [list(range(s, min(s + size, nsim))) for s in range(0, nsim, size)]
    with _STATE_LOCK:  # one run at a time uses the workers' shared state
        _STATE.update(eng=eng, seeds=seeds, blas=blas)
        try:
            start = time.perf_counter()
            collect(_chunk(chunks[0]))
            per = (time.perf_counter() - start) / len(chunks[0])
            rest = chunks[1:]
            if (n_jobs > 1 and rest and per * (nsim - len(chunks[0])) > POOL_MIN_SECONDS
                    and "fork" in mp.get_all_start_methods()):
                with mp.get_context("fork").Pool(min(n_jobs, os.cpu_count() or 1)) as pool:
                    for res in pool.imap_unordered(_chunk, rest):
                        collect(res)
            else:
                for c in rest:
                    collect(_chunk(c))
        finally:
            _STATE.clear()
    return p


def power(m, test: str, effect: float | None = None, *, nsim: int = 1000,
          along: str | None = None, n=None, alpha: float = 0.05, method: str | None = None,
          seed=None, progress: bool | None = None, level: float = 0.95, n_jobs: int = 1):
    """Power to detect a fixed effect, by simulation (simr's ``powerSim``/``powerCurve``).

    Parameters
    ----------
    m : LmerResult or GlmerResult (binomial, Poisson)
    test : str
        The coefficient (``"homework"``) or term (``"period"``, several columns: LRT) tested.
    effect : float, optional
        The value of the tested coefficient in the simulations (simr's
        ``fixef(m)["x"] <- effect``); the fitted value by default. ``0`` gives the test's
        type I error rate.
    nsim : int
        Simulations per number of groups.
    along : str, optional
        Grouping factor whose number of levels is varied (needs ``n``).
    n : int or list of int, optional
        Numbers of levels of ``along``: one number gives a :class:`PowerSim` at that size,
        a list a :class:`PowerCurve`.
    alpha : float
        Significance level of the test.
    method : {"satterthwaite", "lrt", "z"}, optional
        The test (default: Satterthwaite t for a single coefficient of an lmer fit, z for a
        GLMM, LRT for a term with several columns).
    seed : int, optional
        Same seed, same simulations.
    progress : bool, optional
        A progress bar on stderr (default: when stderr is a terminal).
    level : float
        Confidence level of the Clopper-Pearson interval for the power.
    n_jobs : int
        Worker processes (fork; 2 uses both cores of a small machine). The result does not
        depend on ``n_jobs``: each simulation has its own seed.

    Returns
    -------
    PowerSim, or PowerCurve when ``n`` is a list.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> ps = power(m, "Days", effect=3, nsim=20, seed=1, progress=False)
    >>> ps.method, ps.nsim, 0 <= ps.lower <= ps.power <= ps.upper <= 1
    ('satterthwaite', 20, True)
    """
    from .bootstrap import _Progress
    from .design_fit import replicate_groups

    kind = getattr(m, "kind", None)
    if kind not in ("lmer", "glmer"):
        raise DataError(two_line("power() simulates mixed models (lmer, glmer)",
                                 "fit the model with ml.lmer or ml.glmer"))
    if getattr(m, "weights", None) is not None:
        raise DataError(two_line("power() does not simulate models with prior weights yet",
                                 "fit the model without weights= for the power analysis"))
    cols = _columns(m, test)
    if method is None:
        method = "lrt" if len(cols) > 1 else ("z" if kind == "glmer" else "satterthwaite")
    method = str(method).lower()
    allowed = {"lmer": ("satterthwaite", "lrt"), "glmer": ("z", "lrt")}[kind]
    if method not in allowed:
        raise ValueError(f"method for a {kind} fit must be one of {', '.join(allowed)}, "
                         f"got {method!r}")
    if method != "lrt" and len(cols) > 1:
        raise DataError(two_line(f"{test!r} has {len(cols)} columns: a t or z test needs one",
                                 "use method='lrt', or name one coefficient"))
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    beta = np.asarray(m.fixef, dtype=float).copy()
    if effect is not None:
        eff = np.broadcast_to(np.asarray(effect, dtype=float), (len(cols),))
        beta[cols] = eff
    curve = n is not None and np.ndim(n) > 0
    sizes = list(n) if curve else [n]
    if n is not None and along is None:
        along = max(m.ngrps.index, key=lambda g: m.ngrps[g])
    if progress is None:
        progress = sys.stderr.isatty()
    seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    bar = _Progress(int(nsim) * len(sizes), bool(progress), label="power")
    sims = []
    for size, seq in zip(sizes, seqs):
        t0 = time.perf_counter()
        if size is None:
            design, src = m.design, np.arange(m.nobs)
        else:
            design, src = replicate_groups(m.design, along, int(size), return_rows=True)
        errors: list = []
        p = _one_n(m, design, src, beta, method, cols, seq.spawn(int(nsim)), bar, errors,
                   n_jobs=int(n_jobs))
        ng = None
        if along is not None:
            ng = next(t.n_levels for t in design.re_terms if t.group == along)
        sims.append(PowerSim(test=test, method=method, effect=None if effect is None
                             else float(np.ravel(effect)[0]), alpha=alpha, p_values=p,
                             n_groups=ng, nobs=design.nobs,
                             seconds=time.perf_counter() - t0, level=level, errors=errors))
    return PowerCurve(sims=sims, along=along) if curve else sims[0]
