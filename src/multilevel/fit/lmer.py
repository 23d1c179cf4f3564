"""``lmer``: parse → design → cross-products → optimise → result (lme4's modular stages).

Each stage can be called alone: :func:`lmer_problem` returns the objective without fitting
(lme4's ``devFunOnly = TRUE``).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..backends.registry import is_source
from ..core.covstruct import ThetaMap
from ..design import model_frame
from ..design.problem import lmer_problem, order_terms
from ..results.lmm import LmerResult
from .._callsite import caller_data_name
from .._rhabits import reml_alias
# every fit needs these: imported with the module, not at each call (~2 us an import)
from .._validate import check_bool, check_control, check_data_name, check_design_numbers
from .checks import design_checks
from .lmer_control import SINGULAR_TOL, LmerControl, _post_fit_checks, minimise
from .start import initial_step, lmer_start
from ..core.threads import blas_threads_for, largest_dense_block
from .weights import prior_weights


def lmer(formula: str, data, *, reml: bool | None = None, weights=None,
         control: LmerControl | None = None, data_name: str | None = None,
         engine: str | None = None, offset=None, contrasts: dict | None = None,
         REML: bool | None = None):  # noqa: N803 - R's spelling, an alias of reml
    """Fit a linear mixed-effects model, as lme4's ``lmer``.

    Parameters
    ----------
    formula : str
        lme4 syntax, e.g. ``"math ~ homework + (homework | schnum)"``.
    data : pandas.DataFrame (or polars DataFrame / dict of columns), or a source
        Out of core: a path, glob or folder of Parquet/CSV files, a DuckDB relation,
        ``(duckdb connection, table name)`` or a Spark DataFrame; the cross-products are
        computed by the engine (see :mod:`multilevel.fit.lmer_source`, docs/out_of_core.md).
    reml : bool, default True
        REML estimates (lme4's default); ``False`` for maximum likelihood. ``REML=``, R's
        spelling, is accepted as an alias (``ml.lmer(f, data, REML=False)``); giving both
        with different values is an error.
    weights : array or str, optional
        Prior weights (lme4's ``weights``): the residual variance of row ``i`` is
        ``sigma^2 / w_i``. An array, or the name of a column of ``data``.
    control : LmerControl, optional
    data_name : str, optional
        Shown in the summary's ``Data:`` line; by default the caller's variable name.
    engine : {"duckdb", "spark"}, optional
        Fit out of core with this engine (default for sources: DuckDB, Spark for Spark
        DataFrames).
    offset : array-like or str, optional
        A known term added to the linear predictor (lme4's ``offset=``), one value per data
        row or the name of a column; on top of any ``offset(...)`` in the formula.
    contrasts : dict, optional
        Factor name -> ``"contr.treatment"``, ``"contr.sum"``, ``"contr.helmert"``,
        ``"contr.poly"``, ``"contr.SAS"``, ``"contr.sdif"`` or a numeric matrix (lme4's
        ``contrasts=``, fixed effects only); ordered factors default to ``contr.poly``.

    Returns
    -------
    LmerResult

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    >>> round(m.loglik, 3)
    -871.814
    """
    reml = reml_alias(reml, REML)  # R's REML= spelling
    reml = check_bool(reml, "reml")
    control = check_control(control, LmerControl)
    data_name = check_data_name(data_name)
    if data_name is None:
        data_name = caller_data_name(data)
    if is_source(data, engine):  # out of core: the engine computes the cross-products
        from .lmer_source import lmer_source

        if offset is not None or contrasts:
            from ..errors import DataError, two_line

            raise DataError(two_line("offset= and contrasts= are not available out of core",
                                     "write offset(x) in the formula, or fit a DataFrame"))

        return lmer_source(formula, data, reml=reml, weights=weights, control=control,
                           engine=engine, data_name=data_name)
    design = model_frame.build_design(formula, data, contrasts=contrasts,  # checks formula,
                                      checks=design_checks(control))  # data, groups
    check_design_numbers(design)  # before any work: overflow, no residual df, constant y
    if offset is not None:
        design = model_frame.with_offset(design, offset, data)
    terms = order_terms(design.re_terms)
    w = prior_weights(weights, design, data, positive=True) if weights is not None else None
    problem = lmer_problem(design, terms, reml=reml, weights=w)
    result, messages = optimise(design, terms, problem, control, data_name=data_name,
                                weights=w)
    for msg, category in messages:
        warnings.warn(msg, category, stacklevel=2)
    return result


def optimise(design, terms, problem, control: LmerControl, *, data_name=None, weights=None,
             start=None, optimizer=None) -> tuple[LmerResult, list]:
    """Optimise ``problem`` (from :func:`lmer_problem`) and check the optimum: the result and
    lme4's ``(message, warning class)`` pairs, not yet warned. Shared by :func:`lmer` and the
    refits on a prepared design (:mod:`multilevel.fit.design_fit`).

    ``start``: starting parameters (lme4's by default); ``optimizer``:
    ``optimizer(objective, start, lower) -> OptSummary`` (by default
    :func:`~multilevel.fit.lmer_control.minimise`: the analytic-gradient method or BOBYQA
    as ``control.optimizer`` says).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> res, msgs = optimise(m.design, m.terms, m.problem, LmerControl())
    >>> round(res.loglik, 3), msgs
    (-871.814, [])
    """
    tm = ThetaMap.for_terms(terms)  # covariance structures; the identity for (x | g) terms
    lower = tm.lower
    objective = tm.wrap(problem.objective)  # problem.objective itself for the identity
    with blas_threads_for(largest_dense_block(problem.A)):
        if start is None:
            start = tm.phi(lmer_start(terms, design.y))
            step = (initial_step(start, [t.p for t in terms], control.step_fraction)
                    if tm.identity else None)
        else:
            start, step = np.asarray(start, dtype=float), None
        if optimizer is not None:
            opt, gradient = optimizer(objective, start, lower), None
        else:
            opt, gradient = minimise(problem, tm, terms, start, step, control)
        singular = tm.is_singular(opt.theta, SINGULAR_TOL)
        # minimise's fmin is the objective evaluated at opt.theta (BOBYQA or trust_sr1)
        f_theta = opt.fmin if optimizer is None else None
        messages = _post_fit_checks(problem, opt, lower, control, design.nobs, singular,
                                    objective=objective, gradient=gradient, f_theta=f_theta)
        result = LmerResult(design=design, terms=terms, problem=problem, opt=opt,
                            data_name=data_name, singular=singular, weights=weights,
                            theta_map=tm)
    return result, messages
