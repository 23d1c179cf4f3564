"""lmer's settings (lme4's ``lmerControl``) and the checks that follow its optimiser, shared
by the in-memory driver (``fit/lmer.py``), the out-of-core one (``fit/lmer_source.py``) and
the refits on a prepared design (``fit/design_fit.py``)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.optimize import bobyqa
from ..core.theta import theta_columns
from ..core.trust_region import trust_sr1
from ..errors import ConvergenceWarning, SingularFitWarning
from .checks import check_convergence
from .start import STEP_FRACTION

SINGULAR_TOL = 1e-4
OPTIMIZERS = ("auto", "gradient", "bobyqa")
GRADIENT_MIN_THETA = 4  # optimizer="auto": the gradient method from this many thetas on


@dataclass(frozen=True)
class LmerControl:
    """Optimiser settings (lme4's ``lmerControl``), keyword-only and frozen.

    Attributes
    ----------
    optimizer : {"auto", "gradient", "bobyqa"}
        ``"gradient"``: where the model's objective has an analytic gradient (terms
        ``(x | g)`` without covariance structures, on the dense, nested or Schur paths), a
        trust-region quasi-Newton method with it
        (:func:`multilevel.core.trust_region.trust_sr1`), falling back to BOBYQA when it
        fails; it stops where the gradient vanishes, in 3-15 times fewer evaluations than
        BOBYQA (growth model, 6 thetas: 227 -> 31; 15 thetas: 480 -> 33). ``"bobyqa"``:
        lme4's optimiser, which stops within ~1e-5 of the optimum in theta where lme4 does.
        ``"auto"`` (default): the gradient for models with ``GRADIENT_MIN_THETA`` (4) or more
        thetas, BOBYQA below, and BOBYQA with ``step_fraction=None`` (lme4's own path). A
        gradient costs 3-5 objectives, so with 1-3 thetas (BOBYQA: 15-80 evaluations; the
        gradient method 7-18) the two take about the same time, and BOBYQA reproduces
        lme4's digits; from 4 thetas on BOBYQA's evaluations grow with their square.
    xtol_abs, ftol_abs : float   -- NLopt BOBYQA stopping tolerances (lme4's defaults)
    maxeval : int
    check_conv : bool            -- run lme4's gradient / Hessian convergence checks
    step_fraction : float or None
        BOBYQA's initial trust region as a fraction of lme4's variance-ratio start (models
        whose random effects are all ``(1 | g)``); ``None`` uses NLopt's default, which
        follows lme4's optimiser path step by step (see
        :func:`multilevel.fit.start.initial_step`).
    check_nobs_vs_nlev, check_nlev_gtr_1, check_nobs_vs_nre : {"stop", "warning", "ignore"}
        lme4's checks of the random-effects design (``check.nobs.vs.nlev``, ...), "stop" by
        default as in lme4; ``check_nobs_vs_nlev="ignore", check_nobs_vs_nre="ignore"``
        fits observation-level effects ``(1 | obs)``.
    """

    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    maxeval: int = 100_000
    check_conv: bool = True
    step_fraction: float | None = STEP_FRACTION
    check_nobs_vs_nlev: str = "stop"
    check_nlev_gtr_1: str = "stop"
    check_nobs_vs_nre: str = "stop"
    optimizer: str = "auto"

    def __post_init__(self):
        from .._validate import check_fields

        check_fields(self)
        if self.optimizer not in OPTIMIZERS:
            from ..errors import DataError, two_line

            raise DataError(two_line(f"LmerControl(optimizer=...) must be one of {OPTIMIZERS}, "
                                     f"got {self.optimizer!r}"[:200],
                                     'use optimizer="bobyqa" for lme4\'s optimiser'))

    def use_gradient(self, n_theta: int) -> bool:
        """Whether a fit with ``n_theta`` parameters minimises with the analytic gradient
        (where the model has one); see ``optimizer``.

        Examples
        --------
        >>> LmerControl().use_gradient(3), LmerControl().use_gradient(6)
        (False, True)
        >>> LmerControl(optimizer="gradient").use_gradient(1)
        True
        """
        if self.optimizer == "auto":
            return self.step_fraction is not None and n_theta >= GRADIENT_MIN_THETA
        return self.optimizer == "gradient"


def _post_fit_checks(problem, opt, lower, control, nobs, singular, objective=None,
                     gradient=None, f_theta=None) -> list:
    """lme4's checks after the optimiser: convergence code, singularity, gradient (of
    ``objective``, the function the optimiser saw; ``problem.objective`` by default).
    ``gradient(theta) -> (f, grad)``: its analytic gradient, when there is one (the Hessian
    is then differences of it, see :func:`multilevel.fit.checks.check_convergence`).
    Without it the finite differences of ``problem.objective`` are evaluated together by
    ``problem.objectives`` where the problem batches them (``problem.batches``), else one
    at a time; ``f_theta``: the objective at ``opt.theta`` when the caller knows it exactly
    (BOBYQA's last value there), then not evaluated again.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> opt = NS(converged=False, return_code=5, feval=10, messages=[])
    >>> _post_fit_checks(None, opt, [], LmerControl(check_conv=False), 10, False)[0][0]
    'optimizer (bobyqa) stopped with code 5 after 10 evaluations'
    """
    out: list = []
    if not opt.converged:
        out.append((f"optimizer ({getattr(opt, 'optimizer', 'bobyqa')}) stopped with code "
                    f"{opt.return_code} after "
                    f"{opt.feval} evaluations", ConvergenceWarning))
    if singular:
        out.append(("boundary (singular) fit: see help('isSingular')", SingularFitWarning))
    elif control.check_conv and nobs < 100_000:
        fn = objective or problem.objective
        # the same function as problem.objective (an identity ThetaMap) evaluated in one
        # batch, where the problem batches (else one at a time, reusing f_theta at the centre)
        many = (problem.objectives
                if fn == getattr(problem, "objective", None) and getattr(problem, "batches", False)
                else None)
        out.extend((m, ConvergenceWarning)
                   for m in check_convergence(fn, opt.theta, lower, fg=gradient,
                                              fn_many=many, f_theta=f_theta))
    opt.messages.extend(m for m, _ in out)
    return out


TRUST_MAXEVAL_PER_PARAM = 50  # the gradient method's evaluations per (theta size + 1) before
                              # BOBYQA takes over (it needs 3-5: sleepstudy 17 for 3 thetas)


def lmm_gradient(problem, tm):
    """``problem.objective_and_gradient`` where the model has an analytic gradient by the
    optimiser's parameters (terms without covariance structures), else None.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.core.covstruct import ThetaMap
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> lmm_gradient(m.problem, ThetaMap.for_terms(m.terms))(m.opt_summary.theta)[1].shape
    (3,)
    """
    if tm.identity and getattr(problem, "has_gradient", False):
        return problem.objective_and_gradient
    return None


def dense_newton(problem, tm):
    """``theta -> (f, gradient, Hessian)`` of a small model with terms without covariance
    structures (:class:`multilevel.core.dense_newton.DenseNewton`), else None: the
    convergence checks after the gradient method take its exact Hessian in one call instead
    of ``p + 1`` gradients (six thetas: about half the checks' time).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.core.covstruct import ThetaMap
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> type(dense_newton(m.problem, ThetaMap.for_terms(m.terms))).__name__
    'DenseNewton'
    """
    if not tm.identity or not hasattr(problem, "_fast"):
        return None
    from ..core.dense_newton import DenseNewton

    return DenseNewton(problem) if DenseNewton.applies(problem) else None


def minimise(problem, tm, terms, start, step, control: LmerControl):
    """lmer's optimiser: ``(OptSummary, gradient or None)``.

    With an analytic gradient (:func:`lmm_gradient`) where :meth:`LmerControl.use_gradient`,
    the trust-region SR1 method (:func:`multilevel.core.trust_region.trust_sr1`, bounds by
    reflection through the columns of the factors); where it fails, and otherwise, NLopt's
    BOBYQA from ``start`` with ``control``'s settings and first trust region ``step`` (lme4's
    optimiser), within what is left of ``control.maxeval``. The gradient, when the method
    used it, is returned for the convergence checks (lme4's finite differences otherwise):
    for a small model :func:`dense_newton`'s, which also gives the exact Hessian.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.core.covstruct import ThetaMap
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> tm = ThetaMap.for_terms(m.terms)
    >>> ctl = LmerControl(optimizer="gradient")
    >>> opt, grad = minimise(m.problem, tm, m.terms, m.opt_summary.theta0, None, ctl)
    >>> opt.optimizer, round(opt.fmin, 4), grad is not None
    ('trust-region SR1', 1743.6283, True)
    """
    start = np.asarray(start, dtype=float)
    gradient = lmm_gradient(problem, tm) if control.use_gradient(start.size) else None
    opt, spent = None, 0
    if gradient is not None:
        opt = trust_sr1(gradient, start, tm.lower, columns=theta_columns([t.p for t in terms]),
                        maxeval=min(control.maxeval, TRUST_MAXEVAL_PER_PARAM * (start.size + 1)))
        spent = opt.feval
        # a small model: the checks take the exact Hessian, (f, grad, Hessian) in one call
        gradient = dense_newton(problem, tm) or gradient
    if opt is None or (not opt.converged and spent < control.maxeval):
        fn = (problem.objective_function()  # the same values, least work per call
              if tm.identity and hasattr(problem, "objective_function")
              else tm.wrap(problem.objective))
        fallback = bobyqa(fn, start, tm.lower,
                          xtol_abs=control.xtol_abs, ftol_abs=control.ftol_abs,
                          maxeval=control.maxeval - spent, initial_step=step)
        if spent:
            fallback.feval += spent
            fallback.log.append(f"{opt.optimizer} stopped ({opt.return_code}) after {spent} "
                                "evaluations; BOBYQA from the start")
        opt = fallback
    return opt, gradient
