"""The fit drivers on a prepared design: what a result needs to be fitted again.

``inference/`` (``m.drop1()``, ``ml.all_fit``, ``ml.power``, ``ml.cross_validate``,
influence) changes a fitted model's :class:`~multilevel.design.types.Design` and fits again
with the same settings. It does not import ``fit/``: these functions are registered as result
operations (:mod:`multilevel.results.operations`) and reached by name, so the layers stay
``core <- design <- results <- inference <- fit`` (docs/architecture.md).
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from ..design.problem import lmer_problem, order_terms, to_term_data
from ..design.types import Design
from ..results.operations import register
from .glmer import GlmerControl, _fit, _offset, glmer
from .lmer import optimise
from .lmer_control import LmerControl


def fit_lmer_design(design: Design, *, reml: bool, weights=None, data_name=None,
                    start=None, optimizer=None, quiet: bool = True):
    """Fit a linear mixed model to a prepared design (``lmer`` after ``build_design``).

    Parameters
    ----------
    optimizer : callable, optional
        ``optimizer(objective, start, lower) -> OptSummary``; BOBYQA with lme4's settings
        by default.
    start : array, optional
        Starting parameters (lme4's start by default).
    quiet : bool
        Keep convergence and singularity messages in ``opt_summary.messages`` only.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(fit_lmer_design(m.design, reml=True).loglik, 3)
    -871.814
    """
    terms = order_terms(design.re_terms)
    problem = lmer_problem(design, terms, reml=reml, weights=weights)
    res, msgs = optimise(design, terms, problem, LmerControl(), data_name=data_name,
                         weights=weights, start=start, optimizer=optimizer)
    if not quiet:
        for msg, cat in msgs:
            warnings.warn(msg, cat, stacklevel=2)
    return res


def fit_glmer_design(m, design: Design, resp, *, quiet: bool = True, control=None):
    """Fit ``m``'s GLMM (family, ``n_agq``) to a prepared design and response (a
    ``GlmResponse``); ``control`` a :class:`~multilevel.fit.glmer.GlmerControl`, a dict of
    its settings, or None for lme4's defaults.

    Examples
    --------
    >>> import multilevel as ml
    >>> g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> refit = fit_glmer_design(g, g.design, g.response, control={"calc_derivs": False})
    >>> round(refit.loglik, 3) == round(g.loglik, 3)
    True
    """
    from ..core.glmm import GlmmData

    terms = order_terms(design.re_terms)
    fam = m.problem.data.family
    gdata = GlmmData(to_term_data(terms), np.asarray(design.X, dtype=float), resp.y,
                     resp.weights, resp.n_trials, _offset(None, design), fam)
    n_agq = max(int(m.n_agq), 1)
    fast = int(m.n_agq) == 0
    if control is None:
        control = GlmerControl()
    elif isinstance(control, dict):
        control = GlmerControl(**control)
    return _fit(gdata, design, terms, resp, n_agq, fast, control, m.data_name,
                time.perf_counter(), quiet=quiet)


register(fit_lmer_design=fit_lmer_design, fit_glmer_design=fit_glmer_design, glmer=glmer)
