"""``lmer`` on data that stay where they are: files read by DuckDB, or a Spark DataFrame.

The stages are lme4's, with the data-touching ones run by the engine:

1. the model frame in SQL (:func:`multilevel.backends.sql_frame.frame_sql`: na.omit, factors
   and their levels, contrasts, interactions, numeric transforms);
2. the cross-products in one ``GROUP BY`` pass (:func:`multilevel.backends.accumulate.accumulate`);
3. lme4's checks (rows removed for NA, infinite values, number of levels, rank of X);
4. the core as for in-memory data: :class:`~multilevel.core.lmm.LmmProblem` and BOBYQA.

The result is an :class:`~multilevel.results.lmm_source.LmerSourceResult`, an
:class:`~multilevel.results.lmm.LmerResult` whose row-level outputs (fitted values,
residuals, predictions) are computed by the engine.

Only Gaussian LMMs can be fitted this way: a GLMM needs a pass over the data at every
iteration of PIRLS (:func:`require_in_memory`).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..backends.accumulate import Sums, accumulate, as_block, rank_mask_gram
from ..backends.registry import is_source, open_source
from ..backends.sql_frame import SqlDesign, _no_rows, frame_sql
from ..core.crossprod import CrossProducts
from ..core.lmm import LmmProblem
from ..core.covstruct import ThetaMap
from ..core.theta import theta_start
from ..formula.expand import bar_cov, findbars
from ..formula.terms import parse_checked
from ..design.model_frame import DesignSpec, _check_levels, _ReSpec
from ..design.problem import order_terms
from ..design.rank import rank_deficiency_message
from ..design.types import ReTerm
from ..errors import (BackendError, DataError, MissingDataWarning, RankDeficiencyWarning,
                      two_line)
from ..results.lmm_source import LmerSourceResult, SourceDesign
from .lmer_control import SINGULAR_TOL, LmerControl, _post_fit_checks, minimise
from .start import crossproduct_start, initial_step
from ..core.threads import blas_threads_for, largest_dense_block

__all__ = ["lmer_source", "require_in_memory", "source_crossproducts"]


def require_in_memory(data, what: str = "glmer") -> None:
    """Refuse an out-of-core source where a method needs the data at every iteration.

    Examples
    --------
    >>> require_in_memory("data/*.parquet")
    Traceback (most recent call last):
    ...
    multilevel.errors.BackendError: glmer needs the data in memory: a GLMM makes a pass over the data at every iteration
      How to fix: load the data (or a sample of it) into a pandas DataFrame, e.g. duckdb.sql("SELECT * FROM 'data/*.parquet' USING SAMPLE 10%").df()
    """
    if is_source(data):
        raise BackendError(two_line(
            f"{what} needs the data in memory: a GLMM makes a pass over the data at every "
            "iteration",
            "load the data (or a sample of it) into a pandas DataFrame, e.g. duckdb.sql(\"SELECT "
            "* FROM 'data/*.parquet' USING SAMPLE 10%\").df()"))


def _warn_missing(table, sd: SqlDesign, nobs: int) -> int:
    n_all = int(table.fetch(f"SELECT count(*) AS n FROM {table.name}").column("n")[0].as_py())
    n_dropped = n_all - nobs
    if n_dropped > 0:
        sel = ", ".join(f"sum(CASE WHEN {m} THEN 1 ELSE 0 END) AS ml_m{i}"
                        for i, m in enumerate(sd.missing.values()))
        row = table.fetch(f"SELECT {sel} FROM {table.name}").to_pylist()[0]
        counts = ", ".join(f"{k} ({row[f'ml_m{i}']})" for i, k in enumerate(sd.missing)
                           if row[f"ml_m{i}"])
        warnings.warn(f"removed {n_dropped} of {n_all} rows with missing values (NA) in: "
                      f"{counts}", MissingDataWarning, stacklevel=4)
    return n_dropped


def _check_finite(table, sd: SqlDesign) -> None:
    d = table.dialect
    sel = ", ".join(f"sum(CASE WHEN {d.is_infinite(e)} THEN 1 ELSE 0 END) AS ml_i{i}"
                    for i, e in enumerate(sd.numeric.values()))
    row = table.fetch(f"SELECT {sel} FROM {table.name} WHERE {sd.where}").to_pylist()[0]
    bad = {k: row[f"ml_i{i}"] for i, k in enumerate(sd.numeric) if row[f"ml_i{i}"]}
    if bad:
        shown = ", ".join(f"{k!r} has {c} infinite value(s)" for k, c in bad.items())
        raise DataError(two_line(f"{shown} in the rows used",
                                 "remove or recode those rows (log(0) is -Inf, x/0 is Inf)"))
    raise DataError(two_line("the cross-products of the data overflowed (values too large)",
                             "rescale the variables, e.g. with scale(x)"))


def _order(ns: list[int]) -> list[int]:
    """lme4's term order (as :func:`multilevel.design.problem.order_terms`) as indices."""
    class _T:
        def __init__(self, i, n):
            self.i, self.n_levels = i, n

    return [t.i for t in order_terms([_T(i, n) for i, n in enumerate(ns)])]


def source_crossproducts(sd: SqlDesign, sums: Sums, keep: np.ndarray, order: list[int]
                         ) -> CrossProducts:
    """The core's :class:`CrossProducts` from the engine's sums: kept X columns, terms in
    lme4's order."""
    rows = np.append(np.flatnonzero(keep), len(keep))
    xy = sums.xy[np.ix_(rows, rows)]
    terms = [sums.terms[k] for k in order]
    ps = [len(sd.terms[k].z) for k in order]
    cross = {}
    for a in range(len(order)):
        for b in range(a):
            i, j = order[a], order[b]
            shape = (ps[a] * len(terms[a].levels), ps[b] * len(terms[b].levels))
            if i < j:
                r, c, v = sums.cross[(i, j)]
            else:
                c, r, v = sums.cross[(j, i)]
            cross[(a, b)] = as_block(r, c, v, shape)
    return CrossProducts(diag=[t.diag for t in terms], cross=cross,
                         fixed=[t.fixed[rows] for t in terms], xy=xy, ps=ps,
                         n_levels=[len(t.levels) for t in terms], nobs=sums.nobs)


def lmer_source(formula: str, data, *, reml: bool = True, weights=None, control=None,
                engine: str | None = None, data_name: str | None = None) -> LmerSourceResult:
    """Fit a linear mixed model to data read by an engine (lme4's ``lmer``, out of core).

    Called by :func:`multilevel.lmer` when ``data`` is not an in-memory frame or ``engine`` is
    given; see there and ``docs/out_of_core.md``.

    Parameters
    ----------
    formula : str
    data : path, glob, folder or list of Parquet/CSV files; DuckDB relation;
        ``(duckdb connection, table name)``; Spark DataFrame; or an in-memory frame
        (with ``engine``)
    reml : bool
    weights : str, optional
        The name of a column of prior weights (lme4's ``weights``).
    control : LmerControl, optional
    engine : {"duckdb", "spark"}, optional
        Default: Spark for Spark DataFrames, DuckDB otherwise.
    data_name : str, optional

    Returns
    -------
    LmerSourceResult

    Raises
    ------
    BackendError
        The source cannot be read, its files disagree, the engine failed or was interrupted,
        or the formula needs something that cannot be computed out of core.
    DataError, FormulaError
        As for in-memory data.

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, engine="duckdb")
    >>> round(m.loglik, 3)
    -871.814
    """
    control = control or LmerControl()
    table = open_source(data, engine)
    sd = frame_sql(formula, table, weights=weights)
    sums = accumulate(table, sd)
    nobs = sums.nobs
    if nobs == 0:
        _no_rows()
    if sums.bad_weights:
        raise DataError(two_line("weights must be finite and non-negative",
                                 "check the weights for NA, Inf or negative values"))
    if sums.zero_weights:
        raise DataError(two_line("weights must be positive for lmer (a zero weight has no "
                                 "likelihood)", "drop the rows with weight 0 from the data"))
    n_dropped = _warn_missing(table, sd, nobs)
    if not sums.finite:
        _check_finite(table, sd)
    for t, s in zip(sd.terms, sums.terms):
        _check_levels(t.group, len(s.levels), nobs, len(t.z), "lmer", t.bar)
    p_all = len(sd.x)
    keep = rank_mask_gram(sums.xy[:p_all, :p_all], nobs) if p_all else np.zeros(0, bool)
    dropped = [nm for nm, k in zip(sd.xnames, keep) if not k]
    if dropped:
        warnings.warn(rank_deficiency_message(len(dropped)), RankDeficiencyWarning,
                      stacklevel=3)
    order = _order([len(s.levels) for s in sums.terms])
    A = source_crossproducts(sd, sums, keep, order)
    problem = LmmProblem(A, reml=reml, log_det_w=sums.log_det_w)

    re_specs = tuple(_ReSpec(t.bar, t.lhs, t.coding, t.group, t.parts, tuple(s.levels))
                     for t, s in zip(sd.terms, sums.terms))
    spec = DesignSpec("lmer", sd.fixed, sd.coding, tuple(sd.xnames), keep, sd.state, re_specs,
                      sd.offsets, np.zeros((0, 1)))
    covs = [bar_cov(b) for b in findbars(parse_checked(formula).rhs)]  # cs(), ar1(), ...
    re_terms = [ReTerm(t.group, np.zeros(0, dtype=np.int64), list(s.levels),
                       np.zeros((0, len(t.z))), list(t.cnames), cov)
                for t, s, cov in zip(sd.terms, sums.terms, covs)]
    design = SourceDesign(xnames=[n for n, k in zip(sd.xnames, keep) if k], re_terms=re_terms,
                          n_dropped=n_dropped, dropped_columns=dropped,
                          response_name=sd.response_name, formula=formula, spec=spec,
                          nobs=nobs, source=table.description)
    terms = [re_terms[k] for k in order]
    ps = [t.p for t in terms]
    tm = ThetaMap.for_terms(terms)  # covariance structures; the identity for (x | g) terms
    lower = tm.lower
    objective = tm.wrap(problem.objective)
    with blas_threads_for(largest_dense_block(A)):
        start = tm.phi(crossproduct_start(A, terms) if weights is None and not sd.offsets
                       else theta_start(ps))
        step = initial_step(start, ps, control.step_fraction) if tm.identity else None
        opt, gradient = minimise(problem, tm, terms, start, step, control)  # as lmer's
        singular = tm.is_singular(opt.theta, SINGULAR_TOL)
        messages = _post_fit_checks(problem, opt, lower, control, nobs, singular,
                                    objective=objective, gradient=gradient, f_theta=opt.fmin)
        result = LmerSourceResult(design=design, terms=terms, problem=problem, opt=opt,
                                  data_name=data_name or table.description,
                                  singular=singular, table=table, sql=sd,
                                  keys=[sums.terms[k].keys for k in order],
                                  sql_terms=[sd.terms[k] for k in order],
                                  x_kept=[x for x, k in zip(sd.x, keep) if k])
    for msg, category in messages:
        warnings.warn(msg, category, stacklevel=3)
    return result
