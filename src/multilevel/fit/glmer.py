"""``glmer``: parse → design → response → optimisation → result (lme4).

Stage 1 (lme4's ``nAGQ = 0`` step) optimises the Laplace deviance over theta alone, with the
fixed effects found by PIRLS together with the random effects. Stage 2 starts from there and
optimises over ``(theta, beta)`` with PIRLS for the random effects only, using the Laplace
approximation (``n_agq = 1``) or adaptive Gauss-Hermite quadrature (``n_agq > 1``). Both
stages use BOBYQA; stage 2 works in whitened coordinates (theta in units of rough standard
errors, beta through the stage-1 ``R_X^{-1}``) and ends with a Newton step using the
finite-difference Hessian (:mod:`multilevel.fit.glmer_stage2`). ``fast=True`` stops after
stage 1 (lme4's ``nAGQ = 0``).

For one scalar random-effects term with a canonical logit or log link (the common
``(1 | g)`` binomial and Poisson models) the gradient and Hessian of the Laplace deviance
are exact and cheap (:mod:`multilevel.fit.glmer_derivs`): Newton's method over
``(theta, beta)`` then runs straight from lme4's start, and the two stages only when it
fails or meets the boundary. It reaches the same optimum (lme4's optimum is unique there).

Standard errors come, as in lme4 (``vcov(m, use.hessian = TRUE)``), from the Hessian of the
deviance over ``(theta, beta)`` at the optimum -- exact, or by central differences of the
(tightly converged) deviance: ``vcov(beta) = 2 [H^{-1}]_{beta beta}``.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..core.families import Family
from ..core.glmm import GlmmData, GlmmProblem
from ..core.optimize import OptSummary, bobyqa, theta_scales
from ..core.covstruct import ThetaMap
from ..core.theta import theta_start
from .glmer_derivs import exact_applies
from .glmer_separation import check_separation
from .glmer_stage2 import (STAGE1_PIRLS_TOL, STAGE2_FTOL, STAGE2_PIRLS_TOL, Deviance,
                           PredictedObjective, bobyqa_unit_steps, newton_from_start,
                           newton_polish, newton_steps, pirls_tolerance, whitening)
from .weights import prior_weights as _prior_weights
from ..errors import ConvergenceError, ConvergenceWarning, DataError, SingularFitWarning, two_line
from .._callsite import caller_data_name
from ..core.threads import blas_threads_for, glmm_dense_order
from ..design.problem import order_terms, to_term_data

SINGULAR_TOL = 1e-4
STAGE1_FTOL = 1e-2  # stage 1's BOBYQA ftol_abs when stage 2 follows
GRAD_TOL = 2e-3  # lme4: check.conv.grad tol
HESS_TOL = 1e-6  # lme4: check.conv.hess tol
SEPARATION_MAX_ROWS = 2_000_000


@dataclass(frozen=True)
class GlmerControl:
    """Settings of :func:`glmer` (lme4's ``glmerControl``), keyword-only and frozen.

    Attributes
    ----------
    tol_pirls : float or None -- PIRLS stops when no linear predictor or spherical random
                              effect moves by more than this (default: 1e-7 for canonical
                              links, 1e-10 otherwise). lme4's ``tolPwrss`` is on the
                              deviance; this is tighter, so that the deviance is smooth in
                              the parameters and its finite-difference Hessian is accurate
    xtol_abs, ftol_abs : float -- BOBYQA stopping tolerances (stage 2 in whitened units);
                              ``ftol_abs = 1e-8`` is lme4's for lmer, 1000x tighter than
                              glmer's Nelder-Mead stage 2. With ``calc_derivs`` stage 2's
                              BOBYQA stops at ``max(ftol_abs, 1e-7)`` (a few 1e-4 standard
                              errors from the optimum) and a Newton step with the
                              finite-difference Hessian lands on the optimum
    maxeval : int
    check_conv : bool      -- lme4's gradient and Hessian checks at the optimum
    calc_derivs : bool     -- compute the finite-difference Hessian (the standard errors
                              then come from the penalised least-squares factor instead)
    check_separation : bool -- binomial: refuse complete separation, warn on quasi-complete
    check_nobs_vs_nlev, check_nlev_gtr_1, check_nobs_vs_nre : "stop" | "warning" | "ignore"
                            -- lme4's design checks (default "stop", as in glmerControl)

    Examples
    --------
    >>> GlmerControl(check_conv=False).check_conv
    False
    """

    tol_pirls: float | None = None
    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    maxeval: int = 100_000
    check_conv: bool = True
    calc_derivs: bool = True
    check_separation: bool = True
    check_nobs_vs_nlev: str = "stop"
    check_nlev_gtr_1: str = "stop"
    check_nobs_vs_nre: str = "stop"

    def __post_init__(self):
        from .._validate import check_fields

        check_fields(self)


@dataclass(frozen=True)
class GlmResponse:
    """The response as PIRLS sees it (R's ``family$initialize``).

    Attributes
    ----------
    y : (n,) array        -- binomial: proportion of successes
    weights : (n,) array  -- prior weights times the number of trials
    n_trials : (n,) array -- lme4's ``resp$n``
    prior_weights : (n,) array
    """

    y: np.ndarray
    weights: np.ndarray
    n_trials: np.ndarray
    prior_weights: np.ndarray


def glm_response(y_mat: np.ndarray, fam: Family, prior: np.ndarray, name: str) -> GlmResponse:
    """Check the response against the family's support and form ``y``, weights and trials.

    Raises
    ------
    DataError
        Negative counts, ``y`` outside ``[0, 1]``, a ``cbind`` with negative entries,
        non-positive values for Gamma / inverse Gaussian, a constant response.

    Examples
    --------
    >>> from multilevel.core.families import Family
    >>> r = glm_response(np.array([[1.0, 3.0], [2.0, 2.0]]), Family.make("binomial"),
    ...                  np.ones(2), "cbind(s, f)")
    >>> r.y.tolist(), r.weights.tolist()
    ([0.25, 0.5], [4.0, 4.0])
    """
    prior = np.asarray(prior, dtype=float)
    n = y_mat.shape[0]
    if fam.name == "binomial":
        if y_mat.shape[1] == 2:
            if np.any(y_mat < 0):
                raise DataError(two_line(
                    f"the response {name} has negative counts: a binomial response "
                    "cbind(successes, failures) needs counts >= 0",
                    "check both columns (the second one is the number of failures, "
                    "e.g. cbind(k, n - k))"))
            trials = y_mat.sum(axis=1)
            if np.any(np.abs(y_mat - np.rint(y_mat)) > 1e-3):
                warnings.warn("non-integer counts in a binomial glm!", UserWarning, stacklevel=3)
            with np.errstate(invalid="ignore", divide="ignore"):
                y = np.where(trials == 0, 0.0, y_mat[:, 0] / np.where(trials == 0, 1, trials))
            return GlmResponse(y, prior * trials, trials, prior)
        y = y_mat[:, 0].astype(float)
        if y_mat.shape[1] != 1:
            raise DataError(two_line(f"the response {name} has {y_mat.shape[1]} columns",
                                     "use cbind(successes, failures) with two columns"))
        if np.any((y < 0) | (y > 1)):
            bad = y[(y < 0) | (y > 1)][:3].tolist()
            raise DataError(two_line(
                f"the binomial response {name} has values outside [0, 1] (e.g. {bad}); "
                "y values must be 0 <= y <= 1",
                "use a 0/1 (or two-level factor) response, proportions with weights= the "
                "numbers of trials, or cbind(successes, failures) for counts"))
        y = np.where(prior == 0, 0.0, y)
        m = prior * y
        if np.any(np.abs(m - np.rint(m)) > 1e-3):
            warnings.warn("non-integer #successes in a binomial glm!", UserWarning, stacklevel=3)
        return GlmResponse(y, prior.copy(), np.ones(n), prior)
    if y_mat.shape[1] != 1:
        raise DataError(two_line(f"cbind() responses are only for the binomial family, "
                                 f"not {fam.name}", "use a single response column"))
    y = y_mat[:, 0].astype(float)
    if fam.name in ("poisson", "negative.binomial"):
        what = "Poisson" if fam.name == "poisson" else "negative binomial"
        if np.any(y < 0):
            raise DataError(two_line(
                f"the {what} response {name} has negative values; counts must be >= 0",
                "check the response column, or use another family for signed data"))
        if np.any(np.abs(y - np.rint(y)) > 1e-8):
            warnings.warn(f"non-integer counts in the {what} response {name}", UserWarning,
                          stacklevel=3)
    elif fam.name == "gaussian":  # R's gaussian()$initialize
        if ((fam.link.name == "log" and np.any(y <= 0))
                or (fam.link.name == "inverse" and np.any(y == 0))):
            raise DataError(two_line(
                f"cannot find valid starting values: the response {name} has values "
                f"{'<= 0' if fam.link.name == 'log' else 'equal to 0'}, outside the "
                f"gaussian family's {fam.link.name} link",
                "use a response inside the link's range, or another link"))
    elif np.any(y <= 0):
        raise DataError(two_line(
            f"the {fam.name} response {name} has values <= 0; non-positive values are not "
            f"allowed for the {fam.name} family",
            "use a strictly positive response, or another family"))
    return GlmResponse(y, prior.copy(), np.ones(n), prior)


def _conv_messages(grad: np.ndarray, hess: np.ndarray, n_theta: int) -> list[str]:
    """lme4's ``checkConv`` messages from the gradient and Hessian over ``(theta, beta)``."""
    out: list[str] = []
    try:
        scaled = np.linalg.solve(np.linalg.cholesky(hess).T, grad)
        worst = np.minimum(np.abs(scaled), np.abs(grad))
    except np.linalg.LinAlgError:
        worst = np.abs(grad)
        out.append("unable to evaluate scaled gradient")
    if worst.size and np.max(worst) > GRAD_TOL:
        k = int(np.argmax(worst))
        out.append(f"Model failed to converge with max|grad| = {np.max(worst):.6g} "
                   f"(tol = {GRAD_TOL}, component {k + 1})")
    blocks = [(hess[n_theta:, n_theta:], "fixed-effect ")] if hess.shape[0] > n_theta else []
    for H, what in blocks + [(hess, "")]:
        if H.size == 0:
            continue
        ev = np.linalg.eigvalsh(H)
        neg = int(np.sum(ev < -HESS_TOL))
        if neg:
            out.append(f"Model failed to converge: degenerate {what}Hessian with {neg} "
                       "negative eigenvalues")
        elif np.any(np.abs(ev) < HESS_TOL):
            out.append(f"{what}Hessian is numerically singular: parameters are not uniquely "
                       "determined")
        else:
            if ev.max() * HESS_TOL > 1:
                out.append("Model is nearly unidentifiable: very large eigenvalue\n - Rescale "
                           "variables?")
            if ev.min() / ev.max() < HESS_TOL:
                out.append("Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale "
                           "variables?")
    return list(dict.fromkeys(out))


def _offset(offset, design) -> np.ndarray:
    out = np.zeros(design.nobs) if design.offset is None else np.asarray(design.offset, float)
    if offset is not None:
        o = np.asarray(offset, dtype=float).ravel()
        if o.shape[0] != design.nobs:
            o = o[design.rows]
        out = out + o
    return out


def _stage_summary(opt1: OptSummary, opt2: OptSummary | None) -> OptSummary:
    """One OptSummary for the fit: stage 2 when run, else stage 1; messages from both."""
    final = opt2 if opt2 is not None else opt1
    final.messages = list(opt1.messages) + (list(opt2.messages) if opt2 is not None else [])
    return final


def glmer(formula: str, data, family="binomial", *, n_agq: int = 1, weights=None,
          offset=None, fast: bool = False, control: GlmerControl | None = None,
          data_name: str | None = None, contrasts: dict | None = None,
          nAGQ: int | None = None):  # noqa: N803 - R's spelling, an alias of n_agq
    """Fit a generalized linear mixed-effects model, as lme4's ``glmer``.

    Parameters
    ----------
    formula : str
        lme4 syntax. The response is a 0/1 variable, a two-level factor (first level =
        failure), proportions (with ``weights`` = numbers of trials), or
        ``cbind(successes, failures)`` for binomial models; counts for Poisson models, with
        ``offset(log(exposure))`` for rates.
    data : pandas.DataFrame (or polars DataFrame / dict of columns)
    family : str or family object, default "binomial"
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ``"inverse.gaussian"`` or an object such
        as ``ml.family.Binomial(link="probit")``.
    n_agq : int, default 1
        1: Laplace approximation; > 1: adaptive Gauss-Hermite quadrature with that many
        nodes (one scalar random-effects term only); 0: stage 1 only (same as ``fast``).
    weights : array-like or str, optional
        Prior weights, one per data row (or a column name).
    offset : array-like or str, optional
        Added to the linear predictor (on top of any ``offset(...)`` in the formula): one
        value per data row, or the name of a column.
    fast : bool, default False
        Stop after stage 1 (lme4's ``nAGQ = 0``): fixed effects from PIRLS, much faster,
        slightly different estimates.
    control : GlmerControl, optional
    data_name : str, optional
        Shown in the summary's ``Data:`` line; by default the caller's variable name.
    contrasts : dict, optional
        Factor name -> R contrast (``"contr.sum"``, ...) or matrix, as in :func:`lmer`.
    nAGQ : int, optional
        R's spelling of ``n_agq`` (``ml.glmer(f, data, nAGQ=9)``); giving both with
        different values is an error.

    Returns
    -------
    GlmerResult

    Raises
    ------
    DataError
        Response outside the family's support, a constant response, complete separation,
        bad weights, or a design lme4 refuses.
    ValueError
        An unknown family or link, ``n_agq > 1`` with more than one scalar random effect.

    Warns
    -----
    ConvergenceWarning
        Optimiser or PIRLS trouble, failed gradient/Hessian checks, quasi-complete
        separation.
    SingularFitWarning
        A variance component on the boundary.

    Examples
    --------
    >>> import multilevel as ml
    >>> cbpp = ml.datasets.load("cbpp")
    >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
    ...              family="binomial")
    >>> round(m.loglik, 2)
    -92.03
    """
    from ..family import resolve

    t_start = time.perf_counter()
    from .._rhabits import n_agq_alias
    from .._validate import check_bool, check_control, check_data_name, check_int

    control = check_control(control, GlmerControl)
    fast = check_bool(fast, "fast")
    n_agq = check_int(n_agq_alias(n_agq, nAGQ), "n_agq", minimum=0, maximum=100)
    data_name = check_data_name(data_name)
    fam = resolve(family)
    if data_name is None:
        data_name = caller_data_name(data)
    if isinstance(offset, str):  # a column name, as lmer(offset=) takes
        from ..design.model_frame import as_dataframe
        from ..design.variables import column

        offset = column(as_dataframe(data), offset, "offset ").to_numpy(dtype=float)
    design, terms, resp, gdata = _prepare(formula, data, fam, n_agq, weights, offset, control,
                                          contrasts)
    with blas_threads_for(glmm_dense_order(gdata)):
        return _fit(gdata, design, terms, resp, n_agq, fast, control, data_name, t_start)


def glmer_nb(formula: str, data, *, link: str = "log", n_agq: int = 1, weights=None,
             offset=None, control: GlmerControl | None = None, data_name: str | None = None,
             interval: tuple[float, float] | None = None, tol: float = 1e-6):
    """Fit a negative binomial GLMM, as lme4's ``glmer.nb``.

    As lme4: a Poisson fit gives a first estimate of the negative binomial ``theta``
    (``Var(y) = mu + mu^2 / theta``, MASS's ``theta.ml``); then ``log(theta)`` is optimised
    (Brent's method on ``interval``, by default the first estimate's log +- 3) with a full
    ``glmer`` fit at each value. The result is the ``glmer`` fit at the best ``theta``; its
    ``family`` prints as ``Negative Binomial(theta)`` and ``theta`` counts as a parameter
    (``n_params``). Standard errors are those of that fit (``theta`` held fixed), as in lme4.

    Parameters
    ----------
    formula, data, n_agq, weights, offset, control, data_name
        As for :func:`glmer`.
    link : {"log", "identity", "sqrt"}
    interval : (float, float), optional
        Bounds for ``log(theta)``.
    tol : float
        Tolerance on ``log(theta)`` (lme4's is ``5e-5``; the default finds the optimum).

    Returns
    -------
    GlmerResult

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", ml.datasets.load("grouseticks"))
    >>> m.family
    'negative.binomial'
    """
    from scipy.optimize import minimize_scalar

    from ..family import Poisson

    t_start = time.perf_counter()
    from .._validate import check_control, check_data_name, check_int, check_number

    control = check_control(control, GlmerControl)
    n_agq = check_int(n_agq, "n_agq", minimum=0, maximum=100)
    tol = check_number(tol, "tol", minimum=0, strict_min=True)
    data_name = check_data_name(data_name)
    if data_name is None:
        data_name = caller_data_name(data)
    pois = Poisson(link=link).to_core()
    design, terms, resp, gdata = _prepare(formula, data, pois, n_agq, weights, offset, control)
    inner = replace(control, calc_derivs=False, check_conv=False)

    def fit_at(th: float, ctl: GlmerControl, quiet: bool):
        fam = Family.make("negative.binomial", link, nb_theta=float(th))
        return _fit(replace(gdata, family=fam), design, terms, resp, n_agq, False, ctl,
                    data_name, t_start, quiet=quiet)

    with blas_threads_for(glmm_dense_order(gdata)):
        m0 = _fit(gdata, design, terms, resp, n_agq, False, inner, data_name, t_start,
                  quiet=True)
        th0 = theta_ml(resp.y, m0.fitted.to_numpy(), resp.prior_weights)
        lo, hi = interval if interval is not None else (np.log(th0) - 3, np.log(th0) + 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best = minimize_scalar(lambda t: fit_at(np.exp(t), inner, True).deviance,
                                   bounds=(lo, hi), method="bounded",
                                   options={"xatol": tol})
        m = fit_at(np.exp(best.x), control, False)
    m.nb_fits = int(best.nfev) + 1  # glmer fits used: the Poisson start and Brent's steps
    return m


def theta_ml(y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None = None,
             limit: int = 20, eps: float = 5e-5 ** 0.5) -> float:
    """Maximum likelihood ``theta`` of a negative binomial with known means (MASS's
    ``theta.ml``: Newton's method on the score, from the moment estimate).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.negative_binomial(2.0, 2.0 / (2.0 + 3.0), size=4000).astype(float)
    >>> round(theta_ml(y, np.full(4000, 3.0)), 1)
    2.0
    """
    from scipy.special import digamma, polygamma

    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    n = w.sum()
    t0 = n / np.sum(w * (y / mu - 1.0) ** 2)
    for _ in range(limit):
        t0 = abs(t0)
        score = np.sum(w * (digamma(t0 + y) - digamma(t0) + np.log(t0) + 1.0
                            - np.log(t0 + mu) - (y + t0) / (mu + t0)))
        info = np.sum(w * (-polygamma(1, t0 + y) + polygamma(1, t0) - 1.0 / t0
                           + 2.0 / (mu + t0) - (y + t0) / (mu + t0) ** 2))
        delta = score / info
        t0 = t0 + delta
        if abs(delta) <= eps:
            break
    return float(max(t0, 1e-8))


def _prepare(formula: str, data, fam: Family, n_agq: int, weights, offset,
             control: GlmerControl, contrasts: dict | None = None):
    """Design, lme4's term order, the checked response and the core's inputs."""
    from ..design.model_frame import build_design, response_matrix
    from .lmer_source import require_in_memory

    require_in_memory(data, "glmer")  # PIRLS needs a pass over the data per iteration

    if not 0 <= int(n_agq) <= 100:
        raise ValueError(f"n_agq must be between 0 and 100, got {n_agq}")
    from .checks import design_checks

    design = build_design(formula, data, kind="glmer", contrasts=contrasts,
                          checks=design_checks(control))
    terms = order_terms(design.re_terms)
    if n_agq > 1 and (len(terms) != 1 or terms[0].p != 1):
        raise ValueError("n_agq > 1 is only available for models with a single, scalar "
                         "random-effects term, such as (1 | group)")
    prior = _prior_weights(weights, design, data)
    resp = glm_response(response_matrix(design), fam, prior, design.response_name)
    if len(np.unique(resp.y[resp.weights > 0])) < 2:
        raise DataError(two_line(
            f"the response {design.response_name} is constant (every value is "
            f"{resp.y[resp.weights > 0][:1].tolist()}): response is constant",
            "a model needs variation in the response; check the data or the subset used"))
    if design.nobs <= design.X.shape[1]:  # before PIRLS, which could only fail on it
        raise DataError(two_line(
            f"{design.nobs} observations for {design.X.shape[1]} fixed-effect coefficients: "
            "the fixed effects alone would reproduce every observation",
            "use fewer predictors or more data"))
    if (fam.name == "binomial" and control.check_separation
            and design.nobs <= SEPARATION_MAX_ROWS):
        rows = resp.weights > 0
        complete, cols = check_separation(design.X[rows], resp.y[rows], list(design.xnames))
        if complete:
            raise DataError(two_line(
                f"complete separation: the fixed effects ({', '.join(design.xnames)}) "
                f"predict the response {design.response_name} perfectly, so their maximum "
                "likelihood estimates are infinite",
                "remove or merge the predictors that separate the outcomes, or use a "
                "penalised (bias-reduced / Bayesian) model"))
        if cols:
            warnings.warn(
                "quasi-complete separation: the response is perfectly predicted for some "
                f"rows by {', '.join(cols)}; those estimates may be infinite (huge values "
                "with huge standard errors)", ConvergenceWarning, stacklevel=4)
    gdata = GlmmData(to_term_data(terms), np.asarray(design.X, dtype=float), resp.y,
                     resp.weights, resp.n_trials, _offset(offset, design), fam)
    return design, terms, resp, gdata


def _fit(gdata: GlmmData, design, terms, resp: GlmResponse, n_agq: int, fast: bool,
         control: GlmerControl, data_name, t_start: float, *, quiet: bool = False):
    """Stages 1 and 2, derivatives, checks and the result (``glmer`` after the design)."""
    from ..results.glmm import GlmerResult

    problem = GlmmProblem(gdata, tol=control.tol_pirls)
    ps = [t.p for t in terms]
    tm = ThetaMap.for_terms(terms)  # covariance structures; the identity for (x | g) terms
    lower = tm.lower  # the optimiser works on the structures' parameters (theta for lme4's)
    m = lower.size
    messages: list[str] = []

    stage2 = not fast and n_agq > 0
    newton = None
    if (stage2 and control.calc_derivs and tm.identity and exact_applies(problem, n_agq)):
        # exact derivatives (glmer_derivs): Newton's method over (theta, beta) straight from
        # lme4's start; the two stages below only when it does not converge off the bounds
        dev = Deviance(problem, None, n_agq)
        with np.errstate(all="ignore"):
            newton = newton_from_start(dev, theta_start(ps), lower)
    if newton is not None:
        phi, beta, st, fmin, grad, hess, log = newton
        opt = OptSummary(optimizer="newton", theta0=theta_start(ps), lower=lower,
                         theta=phi.copy(), fmin=float(fmin), feval=dev.count,
                         return_code="SUCCESS", log=log)
    else:
        opt, phi, beta, st, fmin, grad, hess = _stages(problem, tm, ps, n_agq, fast, control,
                                                        messages)
    opt.fmin = float(fmin)

    singular = tm.is_singular(phi, SINGULAR_TOL)
    if hess is not None and control.check_conv and not singular:
        messages.extend(_conv_messages(grad, hess, m))
    if singular:
        messages.append("boundary (singular) fit: see help('isSingular')")
    if not st.converged:
        messages.append("PIRLS did not converge at the estimates")
    for msg in messages if not quiet else []:
        cat = SingularFitWarning if msg.startswith("boundary") else ConvergenceWarning
        warnings.warn(msg, cat, stacklevel=4)
    opt.messages.extend(messages)
    opt.seconds = time.perf_counter() - t_start
    return GlmerResult(design=design, terms=terms, problem=problem, state=st, opt=opt,
                       response=resp, n_agq=n_agq if stage2 else 0, hessian=hess,
                       gradient=grad, data_name=data_name, singular=singular)


def _stages(problem: GlmmProblem, tm: ThetaMap, ps: list, n_agq: int, fast: bool,
            control: GlmerControl, messages: list):
    """lme4's two stages: BOBYQA over theta with beta inside PIRLS, then over
    ``(theta, beta)`` (or Newton's method when the derivatives are exact), and the
    derivatives at the optimum. Returns ``(opt, phi, beta, state, fmin, grad, hess)``."""
    lower = tm.lower
    m = lower.size
    gdata = problem.data
    # ----- stage 1: theta only, beta inside PIRLS (lme4's nAGQ = 0) --------------------------
    # when stage 2 follows, stage 1 only gives its start (stage 2 re-optimises theta, whose
    # optimum moves by tenths of a standard error): deviance changes below STAGE1_FTOL,
    # about a tenth of a standard error of theta, are not worth evaluations
    stage2 = not fast and n_agq > 0
    ftol1 = max(control.ftol_abs, STAGE1_FTOL) if stage2 else control.ftol_abs
    # PIRLS to the precision each stage needs (glmer_stage2.pirls_tolerance)
    stage_tol = pirls_tolerance(problem, control.tol_pirls is None and stage2)
    stage_tol(STAGE1_PIRLS_TOL)
    tmap = None if tm.identity else tm
    # each PIRLS run starts from (beta, u) predicted from the runs before (glmer_stage2)
    f1 = PredictedObjective(Deviance(problem, tmap, n_agq, joint=True), lambda x: x, m)
    with np.errstate(all="ignore"):
        opt1 = bobyqa(f1, tm.phi(theta_start(ps)), lower, xtol_abs=control.xtol_abs,
                      ftol_abs=ftol1, maxeval=control.maxeval)
        st1 = f1.state_at(opt1.theta)
        if st1 is None:
            raise ConvergenceError(two_line(
                "PIRLS failed at the stage-1 estimates",
                "check the response and predictors for extreme values or separation"))
    if not opt1.converged:
        messages.append(f"optimizer (bobyqa, stage 1) stopped with code {opt1.return_code} "
                        f"after {opt1.feval} evaluations")
    se_beta = np.sqrt(np.maximum(np.diag(st1.sol.RX_inv @ st1.sol.RX_inv.T), 1e-300))
    se_beta = np.where(np.isfinite(se_beta) & (se_beta > 0), se_beta, 1.0)

    opt2: OptSummary | None = None
    grad = hess = newton = None
    if stage2:
        # stage 2 works in whitened units around the stage-1 point (see glmer_stage2)
        with np.errstate(all="ignore"):
            se_theta = theta_scales(f1, opt1.theta, lower, opt1.fmin)
        p1 = np.concatenate([opt1.theta, st1.beta])
        scale = np.concatenate([se_theta, se_beta])
        T = whitening(st1, se_beta)

        def to_pars(x: np.ndarray) -> np.ndarray:
            return p1 + np.concatenate([se_theta * x[:m], T @ x[m:]])

        dev = Deviance(problem, tmap, n_agq)
        f2 = PredictedObjective(dev, to_pars, m + gdata.p, st1)
        if (tm.identity and control.calc_derivs and exact_applies(problem, n_agq)
                and np.all(opt1.theta > lower)):
            # exact derivatives: Newton's method from the stage-1 point (glmer_derivs);
            # BOBYQA below only when it does not converge off the bounds
            stage_tol(None)
            with np.errstate(all="ignore"):
                f0, st0 = dev(p1, st1)
                if st0 is not None:
                    newton = newton_steps(dev, opt1.theta, st1.beta, st0, f0, lower, scale,
                                          exact=True)
    if newton is not None and newton[-1]:
        phi, beta, st, fmin, grad, hess, log, _ = newton
        opt2 = OptSummary(optimizer="newton", theta0=opt1.theta.copy(), lower=lower,
                          theta=phi.copy(), fmin=float(fmin), feval=dev.count,
                          return_code="SUCCESS", log=log)
    elif stage2:
        lower2 = np.concatenate([(lower - opt1.theta) / se_theta, np.full(gdata.p, -np.inf)])
        # with derivatives, a Newton step finishes the optimisation (glmer_stage2)
        ftol2 = max(control.ftol_abs, STAGE2_FTOL) if control.calc_derivs else control.ftol_abs
        stage_tol(STAGE2_PIRLS_TOL)
        with np.errstate(all="ignore"):
            opt2 = bobyqa_unit_steps(f2, lower2, xtol_abs=control.xtol_abs, ftol_abs=ftol2,
                                     maxeval=control.maxeval)
        pars = to_pars(opt2.theta)
        pars[:m] = np.maximum(pars[:m], lower)  # exact zeros on the boundary
        if not opt2.converged:
            messages.append(f"optimizer (bobyqa, stage 2) stopped with code "
                            f"{opt2.return_code} after {opt2.feval} evaluations")
        stage_tol(None)  # the estimates and the derivatives: PIRLS fully converged
        with np.errstate(all="ignore"):
            fmin, st = dev(pars, f2.start_at(opt2.theta))
            if st is None:
                raise ConvergenceError(two_line(
                    "PIRLS failed at the estimates",
                    "check the response and predictors for extreme values or separation"))
            phi, beta, st, fmin, grad, hess, log = newton_polish(
                dev, pars[:m], pars[m:], st, fmin, lower, scale, control.calc_derivs,
                exact=tm.identity and exact_applies(problem, n_agq))
        opt2.theta, opt2.theta0 = phi.copy(), opt1.theta.copy()
        opt2.log.extend(log)
    else:
        phi, beta, st = opt1.theta.copy(), st1.beta.copy(), st1
        fmin = problem.laplace(st)
    return _stage_summary(opt1, opt2), phi, beta, st, fmin, grad, hess
