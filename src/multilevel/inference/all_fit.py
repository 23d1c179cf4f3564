"""``ml.all_fit``: refit a mixed model with every available optimiser and compare
(lme4's ``allFit``).

A model that lands at the same optimum whatever the optimiser (same log-likelihood, fixed
effects and variance components to a few digits) can be trusted despite a convergence
warning; optimisers that disagree point at a flat or multi-modal likelihood.

Optimisers (lme4's names where lme4 has them): ``bobyqa`` (NLopt's BOBYQA with lme4's
settings, as the fit), ``nloptwrap.NLOPT_LN_NELDERMEAD``, ``nloptwrap.NLOPT_LN_NEWUOA``
(NEWUOA with bounds), ``nloptwrap.NLOPT_LN_COBYLA``, ``nloptwrap.NLOPT_LN_SBPLX``,
``Nelder_Mead`` (scipy's bounded Nelder-Mead), ``L-BFGS-B`` (scipy, finite-difference
gradients) and ``Powell`` (scipy, bounded). Every fit starts from lme4's start.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.optimize import OptSummary

NLOPT = {"nloptwrap.NLOPT_LN_NELDERMEAD": "LN_NELDERMEAD",
         "nloptwrap.NLOPT_LN_NEWUOA": "LN_NEWUOA_BOUND",
         "nloptwrap.NLOPT_LN_COBYLA": "LN_COBYLA",
         "nloptwrap.NLOPT_LN_SBPLX": "LN_SBPLX"}
SCIPY = {"Nelder_Mead": "Nelder-Mead", "L-BFGS-B": "L-BFGS-B", "Powell": "Powell"}


def available_optimizers() -> list[str]:
    """Names of the optimisers :func:`all_fit` can use here.

    Examples
    --------
    >>> available_optimizers()[0]
    'bobyqa'
    """
    import nlopt

    out = ["bobyqa"]
    out += [k for k, v in NLOPT.items() if hasattr(nlopt, v)]
    return out + list(SCIPY)


def _nlopt(algo: str):
    def run(fn, start, lower):
        import nlopt

        t0 = time.perf_counter()
        count = [0]
        if algo == "LN_NEWUOA_BOUND" and np.size(start) < 2:
            raise ValueError("NEWUOA needs two or more parameters")

        def f(x, grad):
            count[0] += 1
            return float(fn(x))

        opt = nlopt.opt(getattr(nlopt, algo), start.size)
        opt.set_min_objective(f)
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
        opt.set_xtol_abs(1e-8)
        opt.set_ftol_abs(1e-8)
        opt.set_maxeval(100_000)
        try:
            x = opt.optimize(start)
            code = {1: "SUCCESS", 3: "FTOL_REACHED", 4: "XTOL_REACHED",
                    5: "MAXEVAL_REACHED"}.get(opt.last_optimize_result(), "FAILURE")
        except (nlopt.RoundoffLimited, RuntimeError, ValueError) as exc:
            x, code = np.asarray(start, dtype=float), f"FAILURE ({type(exc).__name__})"
        return OptSummary(optimizer=algo, theta0=start, lower=lower, theta=np.asarray(x),
                          fmin=float(fn(x)), feval=count[0], return_code=code,
                          seconds=time.perf_counter() - t0)
    return run


def _scipy(method: str):
    def run(fn, start, lower):
        from scipy.optimize import minimize

        t0 = time.perf_counter()
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
        opts = {"Nelder-Mead": {"xatol": 1e-8, "fatol": 1e-8, "maxfev": 100_000},
                "Powell": {"xtol": 1e-8, "ftol": 1e-10, "maxfev": 100_000},
                "L-BFGS-B": {"ftol": 1e-12, "gtol": 1e-8, "maxfun": 100_000}}[method]
        res = minimize(lambda x: float(fn(x)), start, method=method, bounds=bounds,
                       options=opts)
        x = np.maximum(np.asarray(res.x, dtype=float), lower)
        return OptSummary(optimizer=method, theta0=start, lower=lower, theta=x,
                          fmin=float(fn(x)), feval=int(res.nfev),
                          return_code="SUCCESS" if res.success else f"FAILURE ({res.message})",
                          seconds=time.perf_counter() - t0)
    return run


def _optimizer(name: str):
    if name == "bobyqa":
        return None
    if name in NLOPT:
        return _nlopt(NLOPT[name])
    if name in SCIPY:
        return _scipy(SCIPY[name])
    raise ValueError(f"unknown optimizer {name!r}; available: {', '.join(available_optimizers())}")


@dataclass
class AllFitSummary:
    """lme4's ``summary(allFit(m))``: one row per optimiser that worked.

    Attributes
    ----------
    which_ok : Series (bool)    -- optimiser -> refit without error
    msgs : dict                 -- optimiser -> convergence messages (empty list: none)
    fixef, theta, sdcor : DataFrame -- optimiser x parameter
    llik, times, feval : Series
    """

    which_ok: pd.Series
    msgs: dict
    fixef: pd.DataFrame
    llik: pd.Series
    sdcor: pd.DataFrame
    theta: pd.DataFrame
    times: pd.Series
    feval: pd.Series

    def __str__(self) -> str:
        def block(title, obj):
            return f"${title}\n{obj.to_string()}\n"

        msgs = "\n".join(f"{k}: {'; '.join(v) if v else 'OK'}" for k, v in self.msgs.items())
        return "\n".join([block("which.OK", self.which_ok), f"$msgs\n{msgs}\n",
                          block("fixef", self.fixef), block("llik", self.llik),
                          block("sdcor", self.sdcor), block("theta", self.theta),
                          block("times", self.times), block("feval", self.feval)])

    __repr__ = __str__


@dataclass
class AllFit:
    """Refits of one model with several optimisers (lme4's ``allFit`` value).

    Attributes
    ----------
    fits : dict     -- optimiser -> refitted model (``LmerResult``)
    errors : dict   -- optimiser -> error message, for optimisers that failed
    """

    fits: dict
    errors: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)

    def summary(self) -> AllFitSummary:
        """Per-optimiser fixed effects, theta, sd/cor, log-likelihood, times and messages.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> s = all_fit(m, optimizers=["bobyqa", "Nelder_Mead"]).summary()
        >>> bool(s.llik.max() - s.llik.min() < 1e-6)
        True
        """
        from ..results.names import sig_names
        from .profile import theta_to_sdcor

        names = list(self.fits)
        ok = pd.Series({k: k in self.fits for k in list(self.fits) + list(self.errors)},
                       name="which.OK")
        msgs = {k: list(f.messages) for k, f in self.fits.items()}
        msgs.update({k: [v] for k, v in self.errors.items()})
        fixef = pd.DataFrame([f.fixef for f in self.fits.values()], index=names)
        theta = pd.DataFrame([f.theta for f in self.fits.values()], index=names)
        sd = []
        for f in self.fits.values():
            th, tm = np.asarray(f.theta, dtype=float), f.theta_map
            v = (theta_to_sdcor(th, f.sigma, [t.p for t in f.terms]) if tm.identity
                 else tm.sdcor(th, f.sigma))  # a structure's own sd/cor (cs(), ar1(), ...)
            s = pd.Series(v, index=sig_names(f.terms) + [".sigma"])
            sd.append(s if f._has_residual else s.iloc[:-1])
        return AllFitSummary(
            which_ok=ok, msgs=msgs, fixef=fixef,
            llik=pd.Series([f.loglik for f in self.fits.values()], index=names, name="llik"),
            sdcor=pd.DataFrame(sd, index=names), theta=theta,
            times=pd.Series([self.times[k] for k in names], index=names, name="elapsed"),
            feval=pd.Series([f.opt_summary.feval for f in self.fits.values()], index=names,
                            name="feval"))

    def table(self) -> pd.DataFrame:
        """One row per optimiser: log-likelihood, its distance to the best, the largest
        absolute difference of the fixed effects and of theta from the best fit, evaluations,
        seconds and messages.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> all_fit(m, optimizers=["bobyqa", "Powell"]).table().columns.tolist()[:2]
        ['loglik', 'delta_loglik']
        """
        s = self.summary()
        best = s.llik.idxmax()
        return pd.DataFrame({
            "loglik": s.llik, "delta_loglik": s.llik.max() - s.llik,
            "max_diff_fixef": (s.fixef - s.fixef.loc[best]).abs().max(axis=1),
            "max_diff_theta": (s.theta - s.theta.loc[best]).abs().max(axis=1),
            "feval": s.feval, "seconds": s.times,
            "messages": ["; ".join(v) for k, v in s.msgs.items() if k in self.fits]})

    def __str__(self) -> str:
        out = self.table().to_string()
        if self.errors:
            out += "\nfailed: " + "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        return out

    __repr__ = __str__


def _glmer_fit(m, optimizer):
    """lme4's two stages with ``optimizer`` in both (allFit's ``optimizer = c(opt, opt)``);
    stage 2 in standard-error units around the stage-1 point, as :func:`multilevel.glmer`."""
    from ..core.glmm import GlmmProblem
    from ..core.optimize import theta_scales
    from ..core.theta import theta_start
    from ..results.glmm import GlmerResult
    from .design_fit import fit_glmer_design
    from .refit import SINGULAR_TOL

    if optimizer is None:  # BOBYQA: the fit's own path
        return fit_glmer_design(m, m.design)
    tm = m.theta_map
    if not tm.identity:
        raise ValueError("optimisers other than BOBYQA refit GLMMs with unstructured terms only")
    t0 = time.perf_counter()
    gdata = m.problem.data
    problem = GlmmProblem(gdata, tol=getattr(m.problem, "tol", None))
    lower = np.asarray(tm.lower, dtype=float)
    k = lower.size
    with np.errstate(all="ignore"):
        opt1 = optimizer(problem.objective_theta, theta_start([t.p for t in m.terms]), lower)
        st1 = problem.pirls(opt1.theta)
        theta, beta, st, feval = opt1.theta, st1.beta, st1, opt1.feval
        n_agq = max(int(m.n_agq), 1)
        if int(m.n_agq) > 0:
            se_beta = np.sqrt(np.maximum(np.diag(st1.sol.RX_inv @ st1.sol.RX_inv.T), 1e-300))
            se_beta = np.where(np.isfinite(se_beta) & (se_beta > 0), se_beta, 1.0)
            problem.seed(st1)
            se_theta = theta_scales(problem.objective_theta, opt1.theta, lower, opt1.fmin)
            problem.seed(st1, joint=True)
            p1 = np.concatenate([opt1.theta, st1.beta])
            scale = np.concatenate([se_theta, se_beta])
            lower2 = np.concatenate([(lower - opt1.theta) / se_theta,
                                     np.full(gdata.p, -np.inf)])
            opt2 = optimizer(lambda x: problem.objective(p1 + scale * x, n_agq),
                             np.zeros(p1.size), lower2)
            pars = p1 + scale * opt2.theta
            theta, beta = np.maximum(pars[:k], lower), pars[k:]
            st = problem.pirls(theta, beta, start=problem._warm["u"])
            feval += opt2.feval
            code = opt2.return_code
        else:
            code = opt1.return_code
        fmin = problem.laplace(st) if n_agq <= 1 else problem.agq(st, n_agq)
    opt = OptSummary(optimizer=opt1.optimizer, theta0=opt1.theta0, lower=lower, theta=theta,
                     fmin=float(fmin), feval=feval, return_code=code,
                     seconds=time.perf_counter() - t0)
    return GlmerResult(design=m.design, terms=m.terms, problem=problem, state=st, opt=opt,
                       response=m.response, n_agq=m.n_agq, hessian=None, gradient=None,
                       data_name=m.data_name,
                       singular=tm.is_singular(theta, SINGULAR_TOL))


def all_fit(m, optimizers=None) -> AllFit:
    """Refit ``m`` with each optimiser and collect the fits (lme4's ``allFit``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
        GLMMs use the optimiser in both of lme4's stages (standard errors of the non-BOBYQA
        refits come from the penalised least-squares factor).
    optimizers : list of str, optional
        Default: :func:`available_optimizers` (BOBYQA, NLopt's Nelder-Mead, NEWUOA, COBYLA
        and Subplex, scipy's Nelder-Mead, L-BFGS-B and Powell).

    Returns
    -------
    AllFit
        ``fits`` (optimiser -> model), ``errors``, ``summary()`` (lme4's
        ``summary(allFit)``) and ``table()`` (differences from the best fit).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> af = all_fit(m, optimizers=["bobyqa", "L-BFGS-B"])
    >>> bool(af.table()["max_diff_fixef"].max() < 1e-3)
    True
    """
    from ..errors import DataError, two_line
    from .design_fit import fit_lmer_design

    kind = getattr(m, "kind", None)
    if kind not in ("lmer", "glmer"):
        raise DataError(two_line("all_fit() refits mixed models (lmer and glmer fits)",
                                 "fit the model with ml.lmer or ml.glmer"))
    names = available_optimizers() if optimizers is None else list(optimizers)
    fits, errors, times = {}, {}, {}
    for name in names:
        opt = _optimizer(name)
        t0 = time.perf_counter()
        try:
            if kind == "glmer":
                fits[name] = _glmer_fit(m, opt)
            else:
                fits[name] = fit_lmer_design(m.design, reml=m.reml, weights=m.weights,
                                             data_name=m.data_name, optimizer=opt)
        except Exception as exc:  # a failing optimiser is reported, as allFit does
            errors[name] = f"{type(exc).__name__}: {exc}"
        times[name] = time.perf_counter() - t0
    return AllFit(fits=fits, errors=errors, times=times)
