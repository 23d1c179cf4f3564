"""R's model frame as SQL: the response, the columns of X and Z, and na.omit, for an engine.

The rules are the design layer's, reused rather than rewritten (:mod:`multilevel.design`):
the formula is parsed and expanded by :mod:`multilevel.formula` (``findbars``, ``nobars``,
R's term expansion); whether a variable is a factor, the levels and their labels, contrasts
(``_coding``: treatment contrasts or full dummy coding) and the coefficient names
(``_model_matrix``) are computed by :mod:`multilevel.design.model_frame` and
:mod:`multilevel.design.variables` on a *zero-row* frame with the source's column types, and on
small frames of the distinct values of each factor, fetched from the engine. Only the
evaluation of each column over the rows is translated to SQL:

* numbers: ``CAST(x AS DOUBLE)``; ``+ - * / ^``, ``I()``, ``log`` (with ``base``), ``log2``,
  ``log10``, ``log1p``, ``exp``, ``sqrt``, ``abs``, ``as.numeric``, ``scale``/``center`` (their
  mean and standard deviation come from one aggregate query over the whole source, as R
  evaluates them before removing rows with NA), ``poly(x, d, raw = TRUE)``;
* factors (text, logical, ``factor()``/``as.factor()``/``C()`` of anything): a 0/1 column per
  dummy, ``CASE WHEN f IN (<values of the level>) THEN 1 ELSE 0 END``;
* interactions: products of the columns above, in R's order (first factor fastest);
* ``na.omit``: one ``WHERE`` requiring every model variable to be non-NULL and non-NaN.

``poly()`` without ``raw = TRUE`` (its orthogonal basis needs the data) is refused with a
message. Results are :class:`SqlDesign`, which carries also the design layer's
``DesignSpec`` so that in-memory ``predict(newdata)`` works unchanged on a model fitted out of
core.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..design.formula_plan import group_parts
from ..design.model_frame import _check_columns, _coding, _drop_unused, _model_matrix, _response
from ..design.variables import FacVar, NumVar, column, eval_variable, is_factor_node, names_in
from ..errors import BackendError, DataError, FormulaError, two_line
from ..formula.expand import FixedTerms, expand_terms, findbars, nobars
from ..formula.nodes import BinOp, Call, Name, Node, Num, Paren, Unary, deparse
from ..formula.terms import parse_checked
from .base import BOOL, NUMERIC, OTHER, STRING, SqlTable

__all__ = ["SqlFactor", "SqlTerm", "SqlDesign", "frame_sql"]

_UNSUPPORTED_FIX = ("fit in memory (pass a pandas DataFrame), or compute the variable as a "
                    "column of the source first")


@dataclass(frozen=True)
class SqlFactor:
    """A factor variable: its SQL, and for each level the literals that map to it."""

    key: str
    sql: str
    levels: tuple[str, ...]
    literals: tuple[tuple[str, ...], ...]

    def dummy(self, level: str, one: str, zero: str) -> str:
        lits = self.literals[self.levels.index(level)]
        return f"(CASE WHEN {self.sql} IN ({', '.join(lits)}) THEN {one} ELSE {zero} END)"

    def known(self) -> str:
        """SQL true for rows whose value is one of the fitted levels."""
        lits = [x for ls in self.literals for x in ls]
        return f"({self.sql} IN ({', '.join(lits)}))"


@dataclass(frozen=True)
class SqlTerm:
    """One random-effects bar ``(expr | group)`` in SQL.

    Attributes
    ----------
    bar, group : str             -- as lme4 writes them (``"1 | g"``, ``"b:a"``)
    parts : tuple of str         -- the grouping columns, first slowest (``("b", "a")``)
    z : tuple of str             -- SQL of the columns of Z
    cnames : tuple of str        -- their names
    lhs : FixedTerms; coding : tuple  -- for the design layer's ``_ReSpec``
    """

    bar: str
    group: str
    parts: tuple[str, ...]
    z: tuple[str, ...]
    cnames: tuple[str, ...]
    lhs: FixedTerms
    coding: tuple


@dataclass
class SqlDesign:
    """The model frame of a source, as SQL expressions plus what the design layer decided.

    Attributes
    ----------
    formula, response_name : str
    y : str                      -- SQL of the response
    offset : str or None         -- SQL of the sum of the ``offset()`` terms
    x : list of str              -- SQL of every column of X (before the rank check)
    xnames : list of str         -- R's names of those columns
    terms : list of SqlTerm      -- in formula order
    where : str                  -- rows without NA in any model variable (na.omit)
    fixed_where : str            -- rows without NA in the fixed part (for predictions)
    missing : dict               -- variable label -> SQL true where it is NA
    numeric : dict               -- variable label -> SQL of numeric variables (Inf check)
    factors : dict               -- variable key -> SqlFactor
    fixed, coding, state         -- the design layer's objects (for ``DesignSpec``)
    one : str                    -- the SQL literal of the intercept column
    weights : str or None        -- SQL of the prior weights (a column of the source)
    """

    formula: str
    response_name: str
    y: str
    offset: str | None
    x: list[str]
    xnames: list[str]
    terms: list[SqlTerm]
    where: str
    fixed_where: str
    missing: dict
    numeric: dict
    factors: dict
    fixed: FixedTerms
    coding: tuple
    state: dict = field(default_factory=dict)
    one: str = ""
    offsets: tuple = ()
    weights: str | None = None

    @property
    def y_eff(self) -> str:
        """The response the core sees: ``y - offset``."""
        return self.y if self.offset is None else f"({self.y} - {self.offset})"


def _proxy(table: SqlTable, schema: dict[str, str]) -> pd.DataFrame:
    """A zero-row frame with the source's columns and kinds, for the design layer's checks."""
    cols = {}
    for c, k in schema.items():
        if k == NUMERIC:
            cols[c] = pd.Series([], dtype="float64")
        elif k == BOOL:
            cols[c] = pd.Series([], dtype="bool")
        else:
            cats = table.categories(c) if hasattr(table, "categories") and k == STRING else None
            cols[c] = (pd.Series(pd.Categorical([], categories=cats)) if cats is not None
                       else pd.Series([], dtype=object))
    return pd.DataFrame(cols)


class _Translator:
    """Numeric expressions of the formula as SQL (internal)."""

    def __init__(self, table: SqlTable, schema: dict[str, str], proxy: pd.DataFrame,
                 state: dict):
        self.t = table
        self.d = table.dialect
        self.schema = schema
        self.proxy = proxy
        self.state = state

    def col(self, name: str) -> str:
        return self.d.ident(name)

    def num(self, node: Node) -> str:
        d = self.d
        if isinstance(node, Name):
            if node.id in ("TRUE", "T"):
                return d.double(1.0)
            if node.id in ("FALSE", "F"):
                return d.double(0.0)
            s = column(self.proxy, node.id)
            kind = self.schema[node.id]
            if kind not in (NUMERIC, BOOL):
                from ..design.variables import _numeric_column

                _numeric_column(s, node.id)  # raises the design layer's message
            return d.as_double(self.col(node.id))
        if isinstance(node, Num):
            return d.double(node.value)
        if isinstance(node, Paren):
            return self.num(node.expr)
        if isinstance(node, Unary):
            v = self.num(node.operand)
            return f"(-{v})" if node.op == "-" else v
        if isinstance(node, BinOp):
            a, b = self.num(node.left), self.num(node.right)
            if node.op in ("+", "-", "*"):
                return f"({a} {node.op} {b})"
            if node.op == "/":
                return d.div(a, b)
            if node.op == "^":
                return f"power({a}, {b})"
            raise BackendError(two_line(f"operator {node.op!r} in {deparse(node)} cannot be "
                                        "evaluated out of core", _UNSUPPORTED_FIX))
        if isinstance(node, Call):
            return self.call(node)
        raise BackendError(two_line(f"{deparse(node)} cannot be evaluated out of core",
                                    _UNSUPPORTED_FIX))

    def call(self, node: Call) -> str:
        from ..formula.check import FACTOR_FUNCTIONS

        d, f = self.d, node.func
        arg = node.args[0].value if node.args else None
        if f == "I":
            return self.num(arg)
        if f in ("log2", "log10", "log1p"):
            return getattr(d, f)(self.num(arg))
        if f in ("exp", "sqrt", "abs"):
            return f"{f}({self.num(arg)})"
        if f == "log":
            x = d.ln(self.num(arg))
            if len(node.args) > 1:
                return d.div(x, d.ln(self.num(node.args[1].value)))
            return x
        if f == "as.numeric":
            if isinstance(arg, Name) and self.schema.get(arg.id) == STRING:
                raise BackendError(two_line(f"{deparse(node)}: the codes of a factor column "
                                            "cannot be computed out of core",
                                            _UNSUPPORTED_FIX))
            return self.num(arg)
        if f in ("scale", "center"):
            key = deparse(node)
            if key not in self.state:
                raise AssertionError(f"no statistics for {key}")  # computed by _scale_stats
            _, c, s = self.state[key]
            centred = f"({self.num(arg)} - {d.double(c)})"
            return d.div(centred, d.double(s)) if f == "scale" else centred
        if f in FACTOR_FUNCTIONS:
            raise DataError(two_line(f"{deparse(node)} is a factor and cannot be used in "
                                     "arithmetic", "use factors only as terms of the formula"))
        raise BackendError(two_line(f"{f}() cannot be evaluated out of core", _UNSUPPORTED_FIX))


def _calls(node: Node | None, funcs: tuple[str, ...], out: list) -> list:
    """Calls of ``funcs`` in ``node``, innermost first."""
    if node is None:
        return out
    if isinstance(node, Call):
        for a in node.args:
            _calls(a.value, funcs, out)
        if node.func in funcs and node not in out:
            out.append(node)
    elif isinstance(node, Paren):
        _calls(node.expr, funcs, out)
    elif isinstance(node, Unary):
        _calls(node.operand, funcs, out)
    elif isinstance(node, BinOp):
        _calls(node.left, funcs, out)
        _calls(node.right, funcs, out)
    return out


def _scale_stats(tr: _Translator, nodes: list[Node]) -> None:
    """Mean and SD of each ``scale()``/``center()`` argument over all non-NA values of the
    source (R evaluates them before na.omit), into ``tr.state``."""
    calls: list = []
    for n in nodes:
        _calls(n, ("scale", "center"), calls)
    d = tr.d
    while calls:
        ready = [c for c in calls if all(deparse(i) in tr.state
                                         for i in _calls(c.args[0].value, ("scale", "center"), []))]
        sel = []
        for i, c in enumerate(ready):
            e = tr.num(c.args[0].value)
            v = f"(CASE WHEN {d.is_missing(e)} THEN NULL ELSE {e} END)"
            sel.append(f"avg({v}) AS m{i}, stddev_samp({v}) AS s{i}")
        row = tr.t.fetch(f"SELECT {', '.join(sel)} FROM {tr.t.name}").to_pylist()[0]
        for i, c in enumerate(ready):
            m = row[f"m{i}"]
            s = row[f"s{i}"]
            m = float("nan") if m is None else float(m)
            s = float("nan") if s is None else float(s)
            tr.state[deparse(c)] = (c.func, m, s if c.func == "scale" else 1.0)
        calls = [c for c in calls if c not in ready]


def _factor_inner(node: Node) -> Node:
    return node.args[0].value if isinstance(node, Call) else node


def _literal(d, v, kind: str) -> str:
    if kind == STRING:
        return d.string(str(v))
    if kind == BOOL:
        return "TRUE" if bool(v) else "FALSE"
    return d.double(float(v))


def _factor(tr: _Translator, key: str, node: Node, where: str) -> tuple:
    """Levels of a factor among the rows used (the design layer decides them on the distinct
    values) and the SQL that recognises each level."""
    d, t = tr.d, tr.t
    inner = _factor_inner(node)
    raw = isinstance(inner, Name) and tr.schema.get(inner.id) in (STRING, BOOL)
    if isinstance(inner, Name) and inner.id in getattr(t, "ordered_columns", ()):
        raise DataError(two_line(
            f"{inner.id!r} is an ordered factor: R codes it with polynomial contrasts "
            "(contr.poly), which the out-of-core engine does not compute",
            f"fit the DataFrame in memory (no engine=), or make {inner.id!r} unordered "
            f"(d[{inner.id!r}] = d[{inner.id!r}].cat.as_unordered()) for treatment contrasts"))
    if raw:
        sql, kind = tr.col(inner.id), tr.schema[inner.id]
        q = f"SELECT DISTINCT {sql} AS {d.ident(inner.id)} FROM {t.name} WHERE {where}"
    else:
        sql, kind = tr.num(inner), NUMERIC
        cols = [nm for nm in names_in(inner) if nm not in ("TRUE", "FALSE", "T", "F")]
        sel = ", ".join([tr.col(c) for c in cols] + [f"{sql} AS ml_v"])
        q = f"SELECT DISTINCT {sel} FROM {t.name} WHERE {where}"
    tab = t.fetch(q)
    if tab.num_rows == 0:
        _no_rows()
    tiny = tab.to_pandas()
    cats = tr.proxy[inner.id].dtype if raw and isinstance(
        tr.proxy[inner.id].dtype, pd.CategoricalDtype) else None
    if cats is not None:
        tiny[inner.id] = pd.Categorical(tiny[inner.id].astype(object), dtype=cats)
    var = eval_variable(node, tiny, tr.state, True)
    var = _drop_unused(var, key, tr.state)
    values = tiny[inner.id].astype(object).to_numpy() if raw else tiny["ml_v"].to_numpy()
    lits: list[list[str]] = [[] for _ in var.levels]
    for code, v in zip(var.codes, values):
        if code >= 0:
            lits[code].append(_literal(d, v, kind))
    return var, SqlFactor(key, sql, tuple(var.levels), tuple(tuple(x) for x in lits))


def _no_rows():
    raise DataError(two_line(
        "no rows left after removing rows with missing values (NA)",
        "every row has NA in at least one model variable; check the data or the formula"))


def _columns_sql(ft: FixedTerms, coding: tuple, vars_: dict, sqls: dict, one: str,
                 zero: str) -> tuple[list[str], list[str]]:
    """SQL of the model-matrix columns, in ``_model_matrix``'s order and with its names."""
    n_empty = {k: (FacVar(np.zeros(0, dtype=np.int64), v.levels) if isinstance(v, FacVar)
                   else NumVar(np.zeros((0, len(v.suffixes))), v.suffixes))
               for k, v in vars_.items()}
    _, names = _model_matrix(ft, coding, n_empty, 0)  # names, and R's errors
    cols, mine = [], []
    if ft.intercept:
        cols.append(one)
        mine.append("(Intercept)")
    for term, codes in zip(ft.terms, coding):
        per_var = []
        for v, code in zip(term, codes):
            var = vars_[v]
            if isinstance(var, NumVar):
                per_var.append([(v + s, sqls[v][j]) for j, s in enumerate(var.suffixes)])
                continue
            levels = var.levels if code == 2 else var.levels[1:]
            per_var.append([(v + lev, sqls[v].dummy(lev, one, zero)) for lev in levels])
        for combo in itertools.product(*reversed(per_var)):
            combo = combo[::-1]  # first variable varies fastest, as in R
            mine.append(":".join(c[0] for c in combo))
            cols.append(combo[0][1] if len(combo) == 1
                        else "(" + " * ".join(c[1] for c in combo) + ")")
    if mine != list(names):  # pragma: no cover - guards against drift from the design layer
        raise AssertionError(f"SQL columns {mine} differ from the design's {names}")
    return cols, mine


def _check_stray_text(table: SqlTable, schema: dict, tree, bars) -> None:
    """A text column that mostly holds numbers, used as a number (a bare name in the fixed
    part): refused as in memory (see :func:`multilevel._validate.check_model_data`), found by
    the engine with one pass (DuckDB; other engines cast text themselves)."""
    from .._validate import _factor_wrapped

    if table.engine != "duckdb":
        return
    wrapped: set = set()
    _factor_wrapped(tree.rhs, wrapped)
    names = names_in(tree.lhs) + names_in(nobars(tree.rhs)) + [
        n for b in bars for n in names_in(b.left)]
    for name in dict.fromkeys(names):
        if schema.get(name) != STRING or name in wrapped or (
                hasattr(table, "categories") and table.categories(name) is not None):
            continue
        c = table.dialect.ident(name)
        num = f"TRY_CAST({c} AS DOUBLE) IS NOT NULL"
        row = table.fetch(f"SELECT count({c}) AS n, count(*) FILTER (WHERE {num}) AS k "
                          f"FROM {table.name}").to_pylist()[0]
        n, k = int(row["n"] or 0), int(row["k"] or 0)
        if 0 < k < n and (n - k) <= n / 2:
            bad = table.fetch(f"SELECT DISTINCT {c} AS v FROM {table.name} WHERE {c} IS NOT "
                              f"NULL AND NOT ({num}) LIMIT 5").column("v").to_pylist()
            raise DataError(two_line(
                f"column {name!r} holds numbers and {n - k} text value(s) "
                f"({', '.join(map(repr, bad))})",
                "make them numbers or missing in the source (CSV: write NA or leave the field "
                f"empty); write factor({name}) if the column is a category"))


def frame_sql(formula: str, table: SqlTable, weights=None) -> SqlDesign:
    """Translate a model formula into SQL over ``table`` (lme4's ``lFormula``, out of core).

    Runs small queries on the engine: statistics of ``scale()`` arguments, and the distinct
    values of each factor among the rows used.

    Parameters
    ----------
    formula : str
        lme4 syntax.
    table : SqlTable
    weights : str, optional
        The name of a numeric column of prior weights (lme4's ``weights``).

    Returns
    -------
    SqlDesign

    Raises
    ------
    FormulaError, DataError
        As :func:`multilevel.design.model_frame.build_design`.
    BackendError
        Something that cannot be evaluated out of core (``poly()`` without ``raw = TRUE``, a
        column of an unsupported type), or a source whose files disagree.

    Examples
    --------
    >>> import pandas as pd
    >>> from multilevel.backends import open_source
    >>> t = open_source(pd.DataFrame({"y": [1., 2, 3, 4], "x": [1., 2, 3, 5],
    ...                               "g": list("aabb")}), engine="duckdb")
    >>> sd = frame_sql("y ~ x + (1 | g)", t)
    >>> sd.xnames, [s.group for s in sd.terms]
    (['(Intercept)', 'x'], ['g'])
    """
    schema = table.schema()
    proxy = _proxy(table, schema)
    tree = parse_checked(formula)
    if tree.lhs is None:
        raise FormulaError(two_line(f"formula {formula!r} has no response",
                                    "put the response left of '~', e.g. \"y ~ x\""))
    bars = findbars(tree.rhs)
    if not bars:
        raise FormulaError(two_line("no random effects terms specified in formula",
                                    "add a term such as (1 | group), or use lm()"))
    _check_columns(proxy, tree, bars)
    _check_stray_text(table, schema, tree, bars)
    used = names_in(tree.lhs) + names_in(nobars(tree.rhs))
    for b in bars:
        used += names_in(b.left) + names_in(b.right)
    w_sql = None
    if weights is not None:
        if not isinstance(weights, str):
            raise BackendError(two_line("out of core, weights= must name a column of the source",
                                        "pass weights='w' for a column w of the data"))
        if weights not in schema:
            raise DataError(two_line(f"weights column {weights!r} not found in the data",
                                     "pass the name of a column or an array of weights"))
        if schema[weights] != NUMERIC:
            raise DataError(two_line(f"weights column {weights!r} is not numeric",
                                     "use a numeric column of weights"))
        used.append(weights)
        w_sql = table.dialect.as_double(table.dialect.ident(weights))
    used = list(dict.fromkeys(u for u in used if u in schema))
    if hasattr(table, "check_columns"):
        table.check_columns(used)
    for u in used:
        if schema[u] == OTHER:
            raise BackendError(two_line(f"column {u!r} has a type that cannot be used in a "
                                        "model (dates, lists, ...)",
                                        "convert it to numbers or text in the source first"))
    if isinstance(tree.lhs, Call) and tree.lhs.func == "cbind":
        raise BackendError(two_line("a cbind() response cannot be fitted out of core by lmer",
                                    "use a single numeric response"))
    _response(tree.lhs, proxy, {}, "lmer")  # the design layer's check of a text response

    fixed = expand_terms(nobars(tree.rhs), tree.lhs)
    lhs_terms = [expand_terms(b.left) for b in bars]
    state: dict = {}
    tr = _Translator(table, schema, proxy, state)
    d = table.dialect
    one, zero = d.double(1.0), d.double(0.0)

    variables: dict = {}
    for ft in [fixed, *lhs_terms]:
        for key, node in ft.variables.items():
            variables.setdefault(key, node)
    _scale_stats(tr, [tree.lhs, *variables.values(), *fixed.offsets])

    missing: dict = {}
    numeric: dict = {}
    y = tr.num(tree.lhs)
    missing[deparse(tree.lhs)] = d.is_missing(y)
    numeric[deparse(tree.lhs)] = y
    num_sql: dict = {}
    fac_nodes: dict = {}
    for key, node in variables.items():
        if is_factor_node(node, proxy):
            inner = _factor_inner(node)
            raw = isinstance(inner, Name) and schema.get(inner.id) in (STRING, BOOL)
            s = tr.col(inner.id) if raw else tr.num(inner)
            missing[key] = f"({s} IS NULL)" if raw else d.is_missing(s)
            fac_nodes[key] = node
        elif isinstance(node, Call) and node.func == "poly":
            num_sql[key] = _poly_raw(tr, node)
            missing[key] = d.is_missing(num_sql[key][0])
            numeric[key] = num_sql[key][0]
        else:
            num_sql[key] = [tr.num(node)]
            missing[key] = d.is_missing(num_sql[key][0])
            numeric[key] = num_sql[key][0]
    offsets = [tr.num(o) for o in fixed.offsets]
    for o, s in zip(fixed.offsets, offsets):
        missing[f"offset({deparse(o)})"] = d.is_missing(s)
        numeric[f"offset({deparse(o)})"] = s
    for b in bars:
        g = deparse(b.right)
        if g in missing:
            continue
        conds = []
        for part in group_parts(b.right):
            c = tr.col(part)
            conds.append(d.is_missing(d.as_double(c)) if schema[part] == NUMERIC
                         else f"({c} IS NULL)")
        missing[g] = "(" + " OR ".join(conds) + ")"
    # the design layer's order of the NA report: response, numbers, offsets, factors, groups
    groups = [deparse(b.right) for b in bars]
    first = [k for k in missing if k not in fac_nodes and k not in groups]
    missing = {k: missing[k] for k in first + [k for k in fac_nodes if k not in first]
               + [g for g in dict.fromkeys(groups) if g not in first and g not in fac_nodes]}
    where = " AND ".join(f"NOT {m}" for m in missing.values())
    fixed_keys = list(fixed.variables) + [f"offset({deparse(o)})" for o in fixed.offsets]
    fixed_where = " AND ".join(f"NOT {missing[k]}" for k in fixed_keys) or "TRUE"

    vars_: dict = {}
    factors: dict = {}
    for key, node in variables.items():
        if key in fac_nodes:
            var, fac = _factor(tr, key, node, where)
            vars_[key], factors[key] = var, fac
        else:
            vars_[key] = NumVar(np.zeros((0, len(num_sql[key]))),
                                [""] if len(num_sql[key]) == 1
                                else [str(i) for i in range(1, len(num_sql[key]) + 1)])
    sqls = {**num_sql, **factors}
    coding = _coding(fixed, vars_)
    x, xnames = _columns_sql(fixed, coding, vars_, sqls, one, zero)
    terms = []
    for b, ft in zip(bars, lhs_terms):
        c = _coding(ft, vars_)
        z, cnames = _columns_sql(ft, c, vars_, sqls, one, zero)
        if not z:
            raise FormulaError(two_line(f"random-effects term ({deparse(b)}) has no columns",
                                        "write (1 | g) for a random intercept"))
        terms.append(SqlTerm(deparse(b), deparse(b.right), tuple(group_parts(b.right)),
                             tuple(z), tuple(cnames), ft, c))
    offset = None if not offsets else "(" + " + ".join(offsets) + ")"
    return SqlDesign(formula=formula, response_name=deparse(tree.lhs), y=y, offset=offset,
                     x=x, xnames=xnames, terms=terms, where=where, fixed_where=fixed_where,
                     missing=missing, numeric=numeric, factors=factors, fixed=fixed,
                     coding=coding, state=state, one=one, offsets=tuple(fixed.offsets),
                     weights=w_sql)


def _poly_raw(tr: _Translator, node: Call) -> list[str]:
    kw = {a.name: a.value for a in node.args if a.name}
    pos = [a for a in node.args if a.name is None]
    raw = kw.get("raw")
    if not (isinstance(raw, Name) and raw.id in ("TRUE", "T")):
        raise BackendError(two_line(
            f"{deparse(node)}: orthogonal polynomials need the data in memory",
            "use poly(x, d, raw = TRUE) or I(x^2) terms out of core, or fit in memory"))
    dnode = pos[1].value if len(pos) > 1 else kw.get("degree", Num("1"))
    if not isinstance(dnode, Num) or dnode.value < 1 or not float(dnode.value).is_integer():
        raise DataError(two_line(f"{deparse(node)}: the degree must be a whole number >= 1",
                                 "write e.g. poly(x, 2)"))
    x = tr.num(node.args[0].value)
    return [x if i == 1 else f"power({x}, {tr.d.double(i)})"
            for i in range(1, int(dnode.value) + 1)]
