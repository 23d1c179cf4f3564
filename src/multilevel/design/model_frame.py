"""From formula and data to a :class:`~multilevel.design.types.Design` (lme4 ``lFormula``).

The pipeline follows R: split the bars out of the formula (``findbars``/``nobars``), expand
the fixed part into R's terms, evaluate every variable on the whole data (``model.frame``),
remove rows with NA in any model variable (``na.omit``), drop unused factor levels
(lme4's ``drop.unused.levels = TRUE``), build the model matrices with R's contrast rules
(``model.matrix``: treatment contrasts, full dummy coding where R uses it), and drop
collinear fixed-effect columns (``chkRank.drop.cols``).

Model matrices are built here rather than by formulaic: formulaic evaluates terms as
Python code, and its patsy-style handling of interactions without their margins (``f:g``)
gives different columns from R's ``model.matrix``. The variables are evaluated by the
whitelisted interpreter in :mod:`multilevel.design.variables`.
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.design.contrasts import (Contrast, contrast_matrix, default_contrast,
                                         resolve_contrasts)
from multilevel.design.magnitudes import check_magnitudes, gram_matrix
from multilevel.design.rank import drop_collinear, rank_mask
from multilevel.design.types import Design, ReTerm
from multilevel.design.formula_plan import formula_plan, group_parts
from multilevel.design.variables import (Columns, FacVar, NumVar, _factor_values, column,
                                         column_values, eval_numeric, eval_variable, names_in)
from multilevel.errors import (DataError, FormulaError, MissingDataWarning, MultilevelWarning,
                               two_line)
from multilevel.formula.expand import FixedTerms, findbars, nobars
from multilevel.formula.nodes import BinOp, Call, Name, Node, deparse
from multilevel.formula.terms import parse_checked

__all__ = ["build_design", "with_offset", "new_design", "new_design_matrices", "NewDesign", "DesignSpec", "as_dataframe",
           "response_matrix"]

_KINDS = ("lm", "lmer", "glmer")


@dataclass(frozen=True)
class _ReSpec:
    bar: str                       # "x | g" as deparsed, after expansion
    lhs: FixedTerms
    coding: tuple
    group: str
    components: tuple[str, ...]    # column names of the grouping factor's parts
    levels: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """What is needed to rebuild X and Z for new data (stored in ``Design.spec``).

    .. note:: internal; use :func:`new_design` and :func:`response_matrix`.
    """

    kind: str
    fixed: FixedTerms
    coding: tuple
    all_xnames: tuple[str, ...]
    kept: np.ndarray
    state: dict
    re: tuple[_ReSpec, ...]
    offsets: tuple[Node, ...]
    response: np.ndarray = field(repr=False)
    contrasts: dict = field(default_factory=dict)     # fixed part: variable -> Contrast
    re_contrasts: dict = field(default_factory=dict)  # left sides of the bars


@dataclass(frozen=True)
class NewDesign:
    """Fixed and random design for new data (for ``predict(newdata)``).

    Attributes
    ----------
    X : ndarray, shape (n, p)
        Columns as ``Design.xnames`` (NaN in rows with a missing predictor).
    offset : ndarray or None, shape (n,)
    re_terms : list of ReTerm
        The terms selected by ``re_form``; ``codes`` index the *fitted* levels, ``-1``
        for a level not seen in the fit (or a missing group).
    missing : ndarray of bool, shape (n,)
        Rows with NA in a fixed-effect variable or the offset (R's ``na.pass``: NA
        predictions).
    """

    X: np.ndarray
    offset: np.ndarray | None
    re_terms: list[ReTerm]
    missing: np.ndarray


def as_dataframe(data) -> pd.DataFrame:
    """Accept a pandas DataFrame, a polars DataFrame, a pyarrow Table or a dict of arrays.

    Examples
    --------
    >>> as_dataframe({"y": [1.0, 2.0]}).shape
    (2, 1)
    >>> as_dataframe([1, 2])
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: data must be a table, got list
      How to fix: pass a pandas DataFrame, a polars DataFrame, a pyarrow Table or a dict of equal-length arrays
    """
    from .._data_input import to_pandas  # the one boundary: pandas, polars, pyarrow, dict

    return to_pandas(data)


def _coding(ft: FixedTerms, vars_: dict) -> tuple:
    """R's TermCode: 1 = contrasts, 2 = full dummy coding, 0 = numeric (model.c)."""
    out = []
    for k, term in enumerate(ft.terms):
        row = []
        for v in term:
            if not isinstance(vars_[v], FacVar):
                row.append(0)
                continue
            rest = frozenset(term) - {v}
            earlier = any(rest <= frozenset(ft.terms[j]) for j in range(k))
            row.append(1 if (not rest or earlier) else 2)
        out.append(row)
    if not ft.intercept:  # first factor of the first term with one gets full coding
        for k, term in enumerate(ft.terms):
            hit = [i for i, v in enumerate(term)
                   if isinstance(vars_[v], FacVar) and len(vars_[v].levels) > 1]
            if hit:
                out[k][hit[0]] = 2
                break
    return tuple(tuple(r) for r in out)


def _contrast_of(v: str, var: FacVar, contr: dict | None) -> Contrast:
    c = (contr or {}).get(v)
    return c if c is not None else default_contrast(var.levels, var.ordered, v)


def _model_matrix(ft: FixedTerms, coding: tuple, vars_: dict, n: int,
                  contr: dict | None = None, complete: bool = False):
    """R's ``model.matrix``: columns and names; `contr` maps factors to their contrasts.
    `complete`: no factor has an NA code (rows with NA were removed), so no NaN rows."""
    cols, names = [], []
    if ft.intercept:
        cols.append(1.0)  # filled in below
        names.append("(Intercept)")
    for term, codes in zip(ft.terms, coding):
        per_var = []
        for v, code in zip(term, codes):
            var = vars_[v]
            if isinstance(var, NumVar):
                per_var.append([(v + s, var.values[:, j]) for j, s in enumerate(var.suffixes)])
                continue
            if code == 1 and len(var.levels) < 2:
                raise DataError(two_line(
                    f"factor {v!r} has {len(var.levels)} level(s) in the rows used; contrasts "
                    "can be applied only to factors with 2 or more levels",
                    f"remove {v} from the formula or check the data"))
            if code == 2:
                per_var.append([(v + lev, (var.codes == i).astype(float))
                                for i, lev in enumerate(var.levels)])
                continue
            cm = _contrast_of(v, var, contr)
            # each row's contrast row, NaN for NA (take: ~15x faster than C[idx] on rows)
            if complete:
                rows_ = cm.matrix.take(var.codes, axis=0)
            else:
                C = np.vstack([cm.matrix, np.full((1, cm.matrix.shape[1]), np.nan)])
                rows_ = C.take(np.where(var.codes >= 0, var.codes, len(var.levels)), axis=0)
            per_var.append([(v + s, rows_[:, j]) for j, s in enumerate(cm.suffixes)])
        for combo in itertools.product(*reversed(per_var)):
            combo = combo[::-1]  # first variable varies fastest, as in R
            names.append(":".join(c[0] for c in combo))
            col = combo[0][1]
            for c in combo[1:]:
                col = col * c[1]
            cols.append(col)
    # one (n, p) array filled column by column (np.column_stack: ~2x slower for small n)
    M = np.empty((n, len(cols)))
    for j, col in enumerate(cols):
        M[:, j] = col
    return M, names


def _check_columns(df: pd.DataFrame, tree, bars: list[BinOp]) -> None:
    for nm in names_in(tree.lhs):
        column(df, nm, "response ")
    fixed = nobars(tree.rhs)
    for nm in names_in(fixed):
        column(df, nm)
    for bar in bars:
        for nm in names_in(bar.left):
            if nm not in df.columns:
                column(df, nm, f"random-effect variable in ({deparse(bar)}): ")
        for nm in names_in(bar.right):
            column(df, nm, f"grouping factor in ({deparse(bar)}): ")




def _group_codes(df: pd.DataFrame, parts: list[str]):
    """Codes and labels of the interaction of the parts, first part slowest.

    With a :class:`~multilevel.design.variables.Columns` view, each column's factor codes
    are worked out once for all the terms that group by it (``(1 | a/b)`` reads ``a``
    twice)."""
    memo = df.memo if isinstance(df, Columns) else {}
    if len(parts) == 1:  # one factor: its codes, NA as 0 (and flagged in `na`)
        codes, labels = _part_codes(df, parts[0], memo)
        return np.maximum(codes, 0), codes < 0, [labels]
    combined = np.zeros(len(df), dtype=np.int64)
    na = np.zeros(len(df), dtype=bool)
    part_levels = []
    for nm in parts:
        codes, labels = _part_codes(df, nm, memo)
        na |= codes < 0
        combined = combined * max(len(labels), 1) + np.maximum(codes, 0)
        part_levels.append(labels)
    return combined, na, part_levels


def _part_codes(df, name: str, memo: dict) -> tuple[np.ndarray, list[str]]:
    """Factor codes (-1 for NA) and level labels of the grouping column `name`."""
    key = ("group", name)
    if key not in memo:
        codes, labels, _ = _factor_values(Name(name), df, {}, True)
        memo[key] = (codes, labels)
    codes, labels = memo[key]
    return codes, list(labels)


def dense_codes(values: np.ndarray, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative integer codes, in O(n).

    `size`: a bound the codes are known to stay below (the number of level combinations),
    which saves looking for the largest.

    Examples
    --------
    >>> used, codes = dense_codes(np.array([5, 2, 5, 9]))
    >>> used.tolist(), codes.tolist()
    ([2, 5, 9], [1, 0, 1, 2])
    >>> dense_codes(np.array([1, 0, 1]), size=2)[0].tolist()
    [0, 1]
    """
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return values, values
    if size is not None and size <= 4 * len(values) + 1_000_000:
        top = size  # codes beyond the largest are unused: they drop out below
    else:
        top = int(values.max()) + 1
    if top > 4 * len(values) + 1_000_000:  # sparse codes: sort instead
        used, codes = np.unique(values, return_inverse=True)
        return used, codes.astype(np.int64)
    present = np.bincount(values, minlength=top) > 0
    if present.all():  # every code in 0..top-1 is used: the codes are already dense
        return np.arange(top), values.copy()
    remap = np.cumsum(present) - 1
    return np.flatnonzero(present), remap[values]


def _labels_of(codes: np.ndarray, part_levels: list[list[str]]) -> list[str]:
    """Labels of sorted distinct combined codes (see :func:`_group_codes`; the levels
    :func:`dense_codes` finds used), vectorised over codes."""
    if len(part_levels) == 1:
        labels = part_levels[0]
        if len(codes) == len(labels):  # sorted distinct codes, as many as labels: all of them
            return list(labels)
        return [labels[c] for c in np.asarray(codes).tolist()]  # tolist: Python ints
    pieces = []
    rest = np.asarray(codes, dtype=np.int64)
    for labels in reversed(part_levels):
        base = max(len(labels), 1)
        rest, r = np.divmod(rest, base)
        pieces.append([labels[i] for i in r.tolist()])
    return [":".join(parts) for parts in zip(*reversed(pieces))]


def _label_of(code: int, part_levels: list[list[str]]) -> str:
    out = []
    for labels in reversed(part_levels):
        code, r = divmod(int(code), max(len(labels), 1))
        out.append(labels[r])
    return ":".join(reversed(out))


def _drop_unused(var: FacVar, key: str, state: dict) -> FacVar:
    """lme4's drop.unused.levels on a factor of the rows used; NA codes (-1) stay NA.

    Examples
    --------
    >>> v = _drop_unused(FacVar(np.array([2, -1, 0]), ["a", "b", "c"], False), "f", {})
    >>> v.codes.tolist(), v.levels
    ([1, -1, 0], ['a', 'c'])
    """
    try:  # no NA code: a design's rows (NA rows removed), the common case
        present = np.bincount(var.codes, minlength=len(var.levels)) > 0  # levels the rows use
    except ValueError:  # an NA code (the out-of-core engine's distinct values may hold one)
        present = np.bincount(var.codes[var.codes >= 0], minlength=len(var.levels)) > 0
    if present.all():
        return var
    used = np.flatnonzero(present)
    remap = np.full(len(var.levels), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    levels = [var.levels[i] for i in used]
    state[key] = ("factor", levels)
    return FacVar(np.where(var.codes >= 0, remap[np.maximum(var.codes, 0)], -1), levels,
                  var.ordered)


def _response(lhs: Node, df: pd.DataFrame, state: dict, kind: str) -> np.ndarray:
    if isinstance(lhs, Call) and lhs.func == "cbind":
        if kind != "glmer":  # lme4 refuses it in lmer; R's lm would fit one model per column
            fit = "lmer" if kind == "lmer" else "lm"
            raise FormulaError(two_line(
                f"{fit}() fits one response, not {deparse(lhs)}",
                "fit one model per response column; cbind(successes, failures) is for "
                "glmer(..., family='binomial')"))
        return np.column_stack([eval_numeric(a.value, df, state, True) for a in lhs.args])
    if isinstance(lhs, Name):
        dt = column_values(df, lhs.id, "response ").dtype
        numeric = isinstance(dt, np.dtype) and dt.kind in "biufc"
        is_text = not numeric and (isinstance(dt, pd.CategoricalDtype) or dt == object
                                   or pd.api.types.is_string_dtype(dt))
        if is_text and not pd.api.types.is_bool_dtype(dt):
            if kind != "glmer":
                raise DataError(two_line(
                    f"the response {lhs.id!r} is not numeric (it holds text or a factor)",
                    "use a numeric response column, or convert it, e.g. with pd.to_numeric"))
            codes, _, _ = _factor_values(lhs, df, {}, True)
            return np.where(codes < 0, np.nan, (codes > 0).astype(float))[:, None]
    return eval_numeric(lhs, df, state, True)[:, None]


def _omit_missing(na_by: dict, n_all: int) -> tuple[np.ndarray, int]:
    """R's na.omit over the model variables; warn naming the variables with NA."""
    na = np.zeros(n_all, dtype=bool)
    for m in na_by.values():
        na |= m
    n_na = int(np.count_nonzero(na))
    rows = (np.arange(n_all, dtype=np.int64) if n_na == 0
            else np.flatnonzero(~na).astype(np.int64, copy=False))
    if len(rows) == 0:
        raise DataError(two_line(
            "no rows left after removing rows with missing values (NA)",
            "every row has NA in at least one model variable; check the data or the formula"))
    if n_na:
        counts = ", ".join(f"{k} ({int(m.sum())})" for k, m in na_by.items() if m.any())
        warnings.warn(f"removed {n_na} of {n_all} rows with missing values (NA) in: "
                      f"{counts}", MissingDataWarning, stacklevel=3)
    return rows, n_na


def _check_finite(named: dict, rows: np.ndarray | None) -> None:
    """R refuses Inf in y, X and the offset ("NA/NaN/Inf in 'x'"); name and count them.
    `rows`: the rows used (None: all of them)."""
    bad = {}
    for k, v in named.items():
        m = np.isinf(v if rows is None else v[rows])
        count = int((m.any(axis=1) if m.ndim == 2 else m).sum())
        if count:
            bad[k] = count
    if bad:
        shown = ", ".join(f"{k!r} has {c} infinite value(s)" for k, c in bad.items())
        raise DataError(two_line(f"{shown} in the rows used",
                                 "remove or recode those rows (log(0) is -Inf, x/0 is Inf)"))


def _inline_contrast(node: Node):
    """R's ``C(f, contr)`` in a formula: the contrast named by its second argument."""
    if not (isinstance(node, Call) and node.func == "C"):
        return None
    arg = next((a.value for a in node.args[1:] if a.name in (None, "contr")), None)
    return None if arg is None else deparse(arg)


def _contrasts_used(fts: list, codings: list, vars_: dict, user: dict) -> dict:
    """Variable -> Contrast for each factor coded by contrasts in these terms: the
    ``contrasts=`` argument, else ``C(f, contr)``, else R's default for the factor."""
    out: dict = {}
    for ft, coding in zip(fts, codings):
        for term, codes in zip(ft.terms, coding):
            for v, code in zip(term, codes):
                var = vars_[v]
                if code == 1 and v not in out and len(var.levels) >= 2:
                    inline = _inline_contrast(ft.variables.get(v))
                    out[v] = (contrast_matrix(user[v], var.levels, v) if v in user
                              else contrast_matrix(inline, var.levels, v) if inline
                              else default_contrast(var.levels, var.ordered, v))
    return out


def build_design(formula: str, data, *, rank_tol: float = 1e-7, kind: str = "lmer",
                 contrasts: dict | None = None, checks: dict | None = None) -> Design:
    """Build the response, fixed-effects matrix and random-effects terms of a model.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"math ~ homework + (homework | schnum)"``.
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
    rank_tol : float
        Tolerance of the rank check (R's ``qr`` tolerance).
    kind : {"lmer", "glmer", "lm"}
        ``"lmer"``: lme4's checks (levels < observations, random effects < observations).
        ``"glmer"``: a grouping factor may have as many levels as observations, and the
        response may be a factor (first level = failure). ``"lm"``: no bars allowed,
        unused factor levels kept and aliased columns kept in ``X`` (listed in
        ``dropped_columns``, no warning) so that ``lm`` can report them as NA.
    contrasts : dict, optional
        Factor name -> R contrast name (``"contr.sum"``, ``"contr.helmert"``,
        ``"contr.poly"``, ``"contr.SAS"``, ``"contr.sdif"``, ``"contr.treatment"``) or a
        numeric matrix, for the fixed effects (lme4's ``contrasts=``). Unlisted factors get
        R's defaults: ``contr.treatment``, or ``contr.poly`` when ordered.
    checks : dict, optional
        lme4's design checks -> ``"ignore"``, ``"warning"`` or ``"stop"`` (the default):
        ``check_nlev_gtr_1``, ``check_nobs_vs_nlev``, ``check_nobs_vs_nre`` (see
        :func:`multilevel.fit.checks.design_checks`).

    Returns
    -------
    Design
        ``re_terms`` are in formula order after expansion (see :func:`multilevel.fit.lmer.order_terms`
        for lme4's order). For ``cbind(a, b) ~ ...``, ``y`` is the first column; the
        two-column response is :func:`response_matrix`.

    Raises
    ------
    FormulaError
        Bad syntax, no ``~``, anything outside the whitelist, bars in an ``lm`` formula.
    DataError
        Unknown columns, non-numeric response, infinite values, no rows left after
        removing NA, grouping factors with one level or as many levels as observations.

    Warns
    -----
    MissingDataWarning
        When rows with NA in a model variable are removed (R's ``na.omit``).
    RankDeficiencyWarning
        When collinear fixed-effect columns are dropped (lme4's message).

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1., 2, 3, 4, 5, 7, 6, 8, 9], "x": [1., 2, 3] * 3,
    ...                    "g": list("aaabbbccc")})
    >>> d = build_design("y ~ x + (x | g)", df)
    >>> d.xnames, d.re_terms[0].cnames, d.re_terms[0].levels
    (['(Intercept)', 'x'], ['(Intercept)', 'x'], ['a', 'b', 'c'])
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    df = as_dataframe(data)
    # the formula's tree, bars, terms and names: worked out once per formula text; R's `.`
    # stands for the other columns (tolist: list() of an Arrow-backed Index is ~15x slower)
    plan = formula_plan(formula, lambda: df.columns.tolist())
    tree = plan.tree
    if tree.lhs is None:
        raise FormulaError(two_line(f"formula {formula!r} has no response",
                                    "put the response left of '~', e.g. \"y ~ x\""))
    bars = plan.bars
    if kind == "lm" and bars:
        raise FormulaError(two_line("lm() formulas cannot have random-effects terms (x | g)",
                                    "use lmer() for mixed models, or remove the bars"))
    if kind != "lm" and not bars:
        raise FormulaError(two_line("no random effects terms specified in formula",
                                    "add a term such as (1 | group), or use lm()"))
    if len(df) == 0:
        raise DataError(two_line("the data has no rows", "pass a table with observations"))
    from .._validate import check_allocation, check_model_data

    # each model column is taken out of the frame once (Columns), then checked: duplicated
    # names, complex numbers, stray text; then every name must be a column
    df = check_model_data(Columns(df), tree, bars, plan.model_names)
    if not all(nm in df.columns for nm in plan.column_names):
        _check_columns(df, tree, bars)  # names the first missing column and its role
    fixed = plan.fixed_terms()  # R's terms (a 20-way interaction is refused first)
    check_allocation(8.0 * len(df) * (len(fixed.terms) + 1), "the fixed-effects model matrix",
                     f"use fewer terms than {len(fixed.terms):,} or fewer rows")
    lhs_terms = plan.bar_terms()
    state: dict = {}
    n_all = len(df)

    # evaluate every model variable on all rows (R's model.frame)
    y_all = _response(tree.lhs, df, state, kind)
    variables: dict = {}
    for ft in [fixed, *lhs_terms]:
        for key, node in ft.variables.items():
            if key not in variables:
                variables[key] = eval_variable(node, df, state, True)
    offsets = [eval_numeric(o, df, state, True) for o in fixed.offsets]
    groups = [_group_codes(df, list(parts)) for parts in plan.parts]

    # R's na.omit over the model variables, then no infinite values in the rows left
    named = {plan.response: y_all}
    named.update({k: v.values for k, v in variables.items() if isinstance(v, NumVar)})
    named.update({f"offset({deparse(o)})": v for o, v in zip(fixed.offsets, offsets)})
    # a finite sum means no NA and no Inf (both propagate into it); only the others (an
    # overflowing sum or Inf - Inf included) are looked at value by value
    named = {k: v for k, v in named.items() if not math.isfinite(v.sum())}
    na_by = {k: (np.isnan(v).any(axis=1) if v.ndim == 2 else np.isnan(v))
             for k, v in named.items()}
    na_by.update({k: v.na for k, v in variables.items() if isinstance(v, FacVar)})
    for group, (_, gna, _) in zip(plan.groups, groups):
        na_by.setdefault(group, gna)
    rows, n_dropped = _omit_missing(na_by, n_all)
    every_row = n_dropped == 0  # rows is 0..n-1: no row selection (no copies) below
    _check_finite(named, None if every_row else rows)

    vars_ = {}
    for k, v in variables.items():
        if isinstance(v, FacVar):
            v = v if every_row else FacVar(v.codes[rows], v.levels, v.ordered)
            if kind != "lm":
                v = _drop_unused(v, k, state)
        elif not every_row:
            v = NumVar(v.values[rows], v.suffixes)
        vars_[k] = v
    n = len(rows)

    # the fixed-effects model matrix (R's model.matrix), its magnitudes and rank
    coding = _coding(fixed, vars_)
    factors = [k for k in fixed.variables if isinstance(vars_[k], FacVar)]
    contr = _contrasts_used([fixed], [coding], vars_, resolve_contrasts(contrasts, factors))
    X_all, names = _model_matrix(fixed, coding, vars_, n, contr, complete=True)
    G = gram_matrix(X_all)  # X'X, formed once for both checks (None if it could overflow)
    check_magnitudes(X_all, names, gram=G)  # 1e300 / 1e-300: before a tiny column looks collinear
    if kind == "lm":  # lm keeps aliased columns in X and reports them (keep_aliased)
        aliased = (~rank_mask(X_all, rank_tol, gram=G) if X_all.shape[1]
                   else np.zeros(0, bool))
        X, xnames = X_all, names
        dropped = [nm for nm, a in zip(names, aliased) if a]
        kept = np.ones(len(names), dtype=bool)
    else:
        X, xnames, dropped = drop_collinear(X_all, names, rank_tol, gram=G)
        kept = np.array([nm not in dropped for nm in names], dtype=bool)

    # one ReTerm per bar: the model matrix of its left side and the grouping factor's levels
    re_terms, re_specs = [], []
    re_codings = [_coding(ft, vars_) for ft in lhs_terms]
    re_contr = _contrasts_used(lhs_terms, re_codings, vars_, {})
    for k, (ft, c, (combined, _, part_levels)) in enumerate(zip(lhs_terms, re_codings, groups)):
        bar_text, group = plan.bar_texts[k], plan.groups[k]
        Z, cnames = _model_matrix(ft, c, vars_, n, re_contr, complete=True)
        if Z.shape[1] == 0:
            raise FormulaError(two_line(f"random-effects term ({bar_text}) has no columns",
                                        "write (1 | g) for a random intercept"))
        used, codes = dense_codes(combined if every_row else combined[rows],
                                  size=math.prod(max(len(p), 1) for p in part_levels))
        levels = _labels_of(used, part_levels)
        _check_levels(group, len(levels), n, Z.shape[1], kind, bar_text, checks)
        re_terms.append(ReTerm(group, codes.astype(np.int64, copy=False), levels, Z, cnames,
                               plan.covs[k]))  # dense_codes' codes are new int64 arrays
        re_specs.append(_ReSpec(bar_text, ft, c, group, plan.parts[k], tuple(levels)))

    y_mat = y_all if every_row else y_all[rows]
    spec = DesignSpec(kind, fixed, coding, tuple(names), kept, state, tuple(re_specs),
                      fixed.offsets, y_mat, contr, re_contr)
    if not offsets:
        offset = None
    else:
        offset = np.sum(offsets, axis=0) if every_row else np.sum([o[rows] for o in offsets],
                                                                   axis=0)
    return Design(y=np.ascontiguousarray(y_mat[:, 0]), X=np.ascontiguousarray(X),
                  xnames=list(xnames), re_terms=re_terms, offset=offset, rows=rows,
                  n_dropped=n_dropped, dropped_columns=dropped,
                  response_name=plan.response, formula=formula, spec=spec)


def with_offset(design: Design, offset, data) -> Design:
    """The design with an ``offset=`` argument added to its offset (lme4's ``offset=``).

    `offset` is one value per row of `data` (or per row used), or the name of a column.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1., 2, 3, 4, 5, 7], "o": [1., 0, 0, 0, 0, 1],
    ...                    "g": list("aabbcc")})
    >>> with_offset(build_design("y ~ 1 + (1 | g)", df), "o", df).offset.tolist()
    [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """
    import dataclasses

    if isinstance(offset, str):
        o = column(as_dataframe(data), offset, "offset ").to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            o = np.asarray(offset, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DataError(two_line(f"offset must be numbers or a column name, got "
                                     f"{type(offset).__name__}",
                                     "pass one number per row, e.g. offset=np.log(df['n'])"))
    if o.shape[0] == len(as_dataframe(data)):
        o = o[design.rows]
    if o.shape[0] != design.nobs:
        raise DataError(two_line(f"offset has {o.shape[0]} values; the data has "
                                 f"{len(as_dataframe(data))} rows", "pass one value per row"))
    if not np.isfinite(o).all():
        raise DataError(two_line("offset has missing or infinite values in the rows used",
                                 "remove those rows or fill the offset"))
    total = o if design.offset is None else design.offset + o
    return dataclasses.replace(design, offset=total)


def _act(action: str, message: str) -> None:
    """lme4's check actions: raise for "stop", warn for "warning", nothing for "ignore"."""
    if action == "stop":
        raise DataError(message)
    if action == "warning":
        warnings.warn(message.split("\n")[0], MultilevelWarning, stacklevel=4)


def _check_levels(group: str, nlev: int, n: int, p: int, kind: str, bar: str,
                  checks: dict | None = None) -> None:
    checks = checks or {}
    if nlev < 2:
        _act(checks.get("check_nlev_gtr_1", "stop"), two_line(
            f"grouping factor {group!r} has only {nlev} level in the rows used; grouping "
            "factors must have > 1 sampled level",
            f"remove the term ({bar}), check the data, or pass "
            "control=...(check_nlev_gtr_1=\"ignore\")"))
    if kind == "lmer" and nlev >= n:
        _act(checks.get("check_nobs_vs_nlev", "stop"), two_line(
            f"number of levels of each grouping factor must be < number of observations "
            f"(problems: {group}): {nlev} levels, {n} observations",
            "a grouping factor with one level per observation is confounded with the "
            "residual; remove the term, or to fit it as lme4 does pass control="
            "LmerControl(check_nobs_vs_nlev=\"ignore\", check_nobs_vs_nre=\"ignore\")"))
    if (p * nlev >= n) if kind == "lmer" else (p * nlev > n):  # lme4 checkZdims
        resid = " and the residual variance (or scale parameter)" if kind == "lmer" else ""
        _act(checks.get("check_nobs_vs_nre", "stop"), two_line(
            f"number of observations (={n}) {'<=' if kind == 'lmer' else '<'} number of "
            f"random effects (={p * nlev}) for term ({bar}); the random-effects parameters"
            f"{resid} are probably unidentifiable",
            "simplify the random-effects term, use more data, or pass "
            "control=...(check_nobs_vs_nre=\"ignore\")"))


def response_matrix(design: Design) -> np.ndarray:
    """The response of the rows used, as a (nobs, k) array.

    ``k`` is 2 for ``cbind(successes, failures) ~ ...`` (glmer binomial) and 1 otherwise;
    ``design.y`` is always the first column.

    Examples
    --------
    >>> df = pd.DataFrame({"s": [1., 2, 3, 4], "n": [5., 5, 6, 6], "g": list("aabb")})
    >>> response_matrix(build_design("cbind(s, n - s) ~ 1 + (1 | g)", df, kind="glmer"))[0]
    array([1., 4.])
    """
    return design.spec.response


def _select_re(spec: DesignSpec, re_form) -> list[int]:
    if re_form is None:
        return list(range(len(spec.re)))
    if isinstance(re_form, (list, tuple)):  # positions in Design.re_terms (from results)
        return [int(i) for i in re_form]
    if re_form is False or (isinstance(re_form, float) and np.isnan(re_form)):
        return []
    if not isinstance(re_form, str):
        raise FormulaError(two_line(f"re_form must be None, NA or a formula, got {re_form!r}",
                                    "use re_form=None (all random effects) or \"~0\" (none)"))
    text = re_form.strip()
    if text in ("NA", "~0", "~ 0", "0", "~1", "~ 1"):
        return []
    tree = parse_checked(text if "~" in text else "~" + text)
    wanted = [deparse(b) for b in findbars(tree.rhs)]
    have = [r.bar for r in spec.re]
    missing = [w for w in wanted if w not in have]
    if missing:
        raise FormulaError(two_line(f"re_form terms not in the model: {missing}",
                                    f"use terms of the fitted model: {have}"))
    return [i for i, h in enumerate(have) if h in wanted]


def new_design(design: Design, newdata, *, re_form=None,
               allow_new_levels: bool = False) -> NewDesign:
    """Rebuild X, the offset and the random-effects terms for new data.

    Uses the fit-time factor levels, contrasts, ``scale``/``center`` parameters and
    ``poly`` coefficients, as R's ``predict`` does.

    Parameters
    ----------
    design : Design
        From :func:`build_design`.
    newdata : DataFrame-like
    re_form : None, NA/False, str or list of int
        None: all random-effects terms; ``"~0"``, ``"NA"`` or False: none
        (population level); a formula such as ``"~(1 | g)"``: those terms; a list:
        the terms at these positions of ``design.re_terms``. Only the columns of the
        terms selected are needed in `newdata`.
    allow_new_levels : bool
        If False, a grouping level not seen in the fit is an error; if True it gets code
        ``-1`` (random effect 0).

    Returns
    -------
    NewDesign

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1., 2, 3, 4, 5, 7], "x": [1., 2, 3, 1, 2, 3],
    ...                    "g": ["a", "a", "b", "b", "c", "c"]})
    >>> d = build_design("y ~ scale(x) + (1 | g)", df)
    >>> nd = new_design(d, pd.DataFrame({"x": [2.0], "g": ["z"]}), allow_new_levels=True)
    >>> nd.X.tolist(), nd.re_terms[0].codes.tolist()
    ([[1.0, 0.0]], [-1])
    """
    spec: DesignSpec = design.spec
    df = as_dataframe(newdata)
    n = len(df)
    state = spec.state
    sel = _select_re(spec, re_form)
    vars_: dict = {}
    wanted = [spec.fixed] + [spec.re[i].lhs for i in sel]
    for ft in wanted:
        for key, node in ft.variables.items():
            if key not in vars_:
                for nm in names_in(node):
                    column(df, nm)
                vars_[key] = eval_variable(node, df, state, False)
    missing = np.zeros(n, dtype=bool)
    for key in spec.fixed.variables:
        v = vars_[key]
        if isinstance(v, FacVar) and (v.codes == -2).any():
            raise DataError(two_line(f"factor {key!r} has new level(s) in newdata",
                                     f"use only the levels seen in the fit: {v.levels[:10]}"))
        missing |= v.na
    offset = None
    if spec.offsets:
        offs = [eval_numeric(o, df, state, False) for o in spec.offsets]
        offset = np.sum(offs, axis=0)
        missing |= np.isnan(offset)
    X_all, _ = _model_matrix(spec.fixed, spec.coding, vars_, n, spec.contrasts)
    X = X_all[:, spec.kept]
    X[missing] = np.nan
    re_terms = []
    for i in sel:
        r = spec.re[i]
        Z, cnames = _model_matrix(r.lhs, r.coding, vars_, n, spec.re_contrasts)
        for nm in r.components:
            column(df, nm, f"grouping factor in ({r.bar}): ")
        combined, gna, part_levels = _group_codes(df, list(r.components))
        index = {lev: j for j, lev in enumerate(r.levels)}
        uniq, inv = np.unique(combined, return_inverse=True)
        table = np.array([index.get(_label_of(u, part_levels), -1) for u in uniq], dtype=np.int64)
        codes = table[inv] if len(uniq) else np.zeros(0, dtype=np.int64)
        codes[gna] = -1
        if not allow_new_levels and (codes < 0).any():
            new = sorted({_label_of(u, part_levels) for u in combined[(codes < 0) & ~gna]})
            what = f"new levels {new[:10]}" if new else "missing values"
            raise DataError(two_line(
                f"grouping factor {r.group!r} in newdata has {what} not seen in the fit",
                "pass allow_new_levels=True to predict those rows at the population level"))
        re_terms.append(ReTerm(r.group, codes, list(r.levels), Z, cnames))
    return NewDesign(X, offset, re_terms, missing)


#: Alias named in ``design/types.py``.
new_design_matrices = new_design
