"""Refits on a prepared design: fewer fixed-effect columns, a subset of the rows, copies of
groups, another optimiser. No formula is parsed and no data frame is read again.

These are the building blocks of ``m.drop1()``, ``ml.cross_validate``, ``ml.all_fit`` and
``ml.power``: each takes the fitted model's :class:`~multilevel.design.types.Design`, changes
it, and fits again with the same settings (REML or ML, weights, family, ``n_agq``). The fits
themselves are the fit drivers' (:mod:`multilevel.fit.design_fit`), reached by name through
:mod:`multilevel.results.operations`, so ``inference/`` never imports ``fit/``.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..design.types import Design, ReTerm
from ..results.operations import operation


def drop_columns(design: Design, cols) -> Design:
    """The design without the fixed-effect columns at positions ``cols``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> drop_columns(m.design, [1]).xnames
    ['(Intercept)']
    """
    drop = set(int(c) for c in cols)
    keep = [i for i in range(design.X.shape[1]) if i not in drop]
    return dataclasses.replace(design, X=design.X[:, keep],
                               xnames=[design.xnames[i] for i in keep])


def _term_rows(t: ReTerm, rows: np.ndarray) -> ReTerm:
    used, dense = np.unique(np.asarray(t.codes)[rows], return_inverse=True)
    return dataclasses.replace(t, codes=dense.astype(np.int64),
                               levels=[t.levels[i] for i in used], Z=np.asarray(t.Z)[rows])


def subset_rows(design: Design, rows) -> Design:
    """The design restricted to ``rows`` (positions or a boolean mask of the fitted rows);
    levels of grouping factors without rows are dropped, as R's ``droplevels``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> d = subset_rows(m.design, m.design.re_terms[0].codes < 5)
    >>> d.nobs, d.re_terms[0].n_levels
    (50, 5)
    """
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    terms = [_term_rows(t, rows) for t in design.re_terms]
    off = None if design.offset is None else np.asarray(design.offset)[rows]
    return dataclasses.replace(design, y=np.asarray(design.y)[rows], X=design.X[rows],
                               re_terms=terms, offset=off,
                               rows=np.asarray(design.rows)[rows])


def replicate_groups(design: Design, along: str, n: int, *, return_rows: bool = False):
    """The design with ``n`` levels of the grouping factor ``along`` (simr's ``extend``).

    ``n`` at most the number of levels keeps the first ``n`` levels (simr's
    ``powerCurve`` subsets); more adds copies of existing groups, level ``k`` being a copy of
    level ``k mod L`` with a new label (``"<level>.copy<j>"``). ``return_rows=True`` also
    returns the positions (in ``design``'s rows) each new row copies. Other grouping factors keep
    their levels, except those that contain ``along`` (``class:school``), whose copies get
    new levels too. The response of the copies is the original one (simulate afterwards).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> d = replicate_groups(m.design, "Subject", 30)
    >>> d.nobs, d.re_terms[0].n_levels
    (300, 30)
    """
    from ..errors import DataError, two_line

    at = [k for k, t in enumerate(design.re_terms) if t.group == along]
    if not at:
        groups = sorted({t.group for t in design.re_terms})
        raise DataError(two_line(f"no grouping factor {along!r} in the model",
                                 f"use one of {', '.join(groups)}"))
    base = design.re_terms[at[0]]
    L = base.n_levels
    n = int(n)
    if n < 2:
        raise DataError(two_line(f"n={n}: need at least 2 levels of {along!r}",
                                 "give numbers of groups >= 2"))
    codes = np.asarray(base.codes)
    if n <= L:
        keep = np.flatnonzero(codes < n)
        out = subset_rows(design, keep)
        return (out, keep) if return_rows else out
    rows_of = [np.flatnonzero(codes == g) for g in range(L)]
    pieces, copy_no = [], []
    for k in range(n):
        pieces.append(rows_of[k % L])
        copy_no.append(np.full(rows_of[k % L].size, k // L))
    rows = np.concatenate(pieces)
    copy = np.concatenate(copy_no)
    terms = []
    for t in design.re_terms:
        c = np.asarray(t.codes)[rows]
        nested = t.group == along or along in t.group.split(":")
        if nested:
            key = copy * t.n_levels + c
            used, dense = np.unique(key, return_inverse=True)
            levels = [t.levels[u % t.n_levels] + ("" if u < t.n_levels else
                                                  f".copy{u // t.n_levels}") for u in used]
            terms.append(dataclasses.replace(t, codes=dense.astype(np.int64), levels=levels,
                                             Z=np.asarray(t.Z)[rows]))
        else:
            terms.append(_term_rows(t, rows))
    off = None if design.offset is None else np.asarray(design.offset)[rows]
    out = dataclasses.replace(design, y=np.asarray(design.y)[rows], X=design.X[rows],
                              re_terms=terms, offset=off, rows=np.arange(rows.size))
    return (out, rows) if return_rows else out


def _quietly(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def fit_lmer_design(design: Design, *, reml: bool, weights=None, data_name=None,
                    start=None, optimizer=None, quiet: bool = True):
    """Fit a linear mixed model to a prepared design (``lmer`` after ``build_design``); the
    fit driver's :func:`multilevel.fit.design_fit.fit_lmer_design`, reached as a result
    operation.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(fit_lmer_design(m.design, reml=True).loglik, 3)
    -871.814
    """
    return operation("fit_lmer_design")(design, reml=reml, weights=weights,
                                        data_name=data_name, start=start,
                                        optimizer=optimizer, quiet=quiet)


def glmer_response(m, rows=None, y=None):
    """The fitted GLMM's response (``GlmResponse``), restricted to ``rows`` and with the
    proportions ``y`` replaced when given.

    Examples
    --------
    >>> import multilevel as ml
    >>> g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> glmer_response(g, rows=[0, 1]).n_trials.tolist()
    [14.0, 12.0]
    """
    r = m.response
    sel = slice(None) if rows is None else np.asarray(rows)
    out = dataclasses.replace(r, y=np.asarray(r.y, dtype=float)[sel],
                              weights=np.asarray(r.weights, dtype=float)[sel],
                              n_trials=np.asarray(r.n_trials, dtype=float)[sel],
                              prior_weights=np.asarray(r.prior_weights, dtype=float)[sel])
    if y is not None:
        out = dataclasses.replace(out, y=np.asarray(y, dtype=float))
    return out


def fit_glmer_design(m, design: Design, resp=None, *, quiet: bool = True, control=None):
    """Fit ``m``'s GLMM (family, ``n_agq``) to a prepared design and response (``m``'s
    own by default); ``control``: a dict of :class:`~multilevel.fit.glmer.GlmerControl`
    settings or such an object, lme4's defaults if None.

    Examples
    --------
    >>> import multilevel as ml
    >>> g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> round(fit_glmer_design(g, g.design).loglik, 3) == round(g.loglik, 3)
    True
    """
    resp = glmer_response(m) if resp is None else resp
    return operation("fit_glmer_design")(m, design, resp, quiet=quiet, control=control)


def refit_design(m, design: Design, rows=None, *, reml=None):
    """Refit ``m`` (lmer or glmer) on ``design`` (whose rows are ``rows`` of ``m``'s).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(refit_design(m, m.design, reml=False).loglik, 2)
    -875.97
    """
    if getattr(m, "kind", None) == "glmer":
        return fit_glmer_design(m, design, glmer_response(m, rows))
    w = m.weights if rows is None or m.weights is None else np.asarray(m.weights)[rows]
    return fit_lmer_design(design, reml=m.reml if reml is None else reml, weights=w,
                           data_name=m.data_name)
