"""A linear mixed model fitted out of core: the in-memory result, with rows left in the source.

:class:`LmerSourceResult` is an :class:`~multilevel.results.lmm.LmerResult`: every quantity
computed from the cross-products (``fixef``, ``vcov``, ``varcorr``, ``ranef`` with conditional
SDs, ``loglik``, ``aic`` ...) is the same code. What needs the rows is computed by the engine:

* ``augment(to="fitted.parquet")`` writes the rows used with ``.fitted``, ``.resid`` and
  ``.fixed``; ``augment()`` returns the engine's lazy table of the same;
* ``predict(source)`` predicts for another source (lazy table, or ``to=`` a file);
  ``predict(pandas_frame)`` works in memory as for any fit;
* the summary's scaled-residual quantiles are exact: a pass over a sample places brackets
  around them, and one pass over all rows selects the order statistics
  (:func:`exact_quantiles`).

``fitted`` and ``residuals()`` would bring every row home, so they raise a
:class:`~multilevel.errors.BackendError` that says how to get them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..backends.base import write_frame
from ..errors import BackendError, DataError, two_line
from .lmm import LmerResult

__all__ = ["SourceDesign", "LmerSourceResult", "exact_quantiles", "write_frame"]

SAMPLE_ROWS = 1_000_000  # rows sampled to place the brackets of the exact quantiles
_ROWS_FIX = ("write them with m.augment(to='fitted.parquet'), or use m.augment() for the "
             "engine's lazy table")


@dataclass(frozen=True)
class SourceDesign:
    """A :class:`~multilevel.design.types.Design` without rows (they stay in the source).

    Attributes
    ----------
    xnames, re_terms, n_dropped, dropped_columns, response_name, formula, spec
        As :class:`~multilevel.design.types.Design`; ``re_terms`` have zero-row ``codes``
        and ``Z``; ``spec`` is the design layer's ``DesignSpec`` (for ``predict(newdata)``).
    nobs : int
    source : str -- what the data are
    """

    xnames: list
    re_terms: list
    n_dropped: int
    dropped_columns: list
    response_name: str
    formula: str
    spec: Any = field(repr=False)
    nobs: int = 0
    source: str = ""
    offset: Any = None

    def _rows(self, what: str):
        raise BackendError(two_line(f"{what} of an out-of-core fit stay in the source "
                                    f"({self.source})", _ROWS_FIX))

    @property
    def y(self):
        return self._rows("the response values")

    @property
    def X(self):
        return self._rows("the model matrix rows")

    @property
    def rows(self):
        return self._rows("the rows")


def exact_quantiles(table, base_sql: str, sample_sql: str | None = None,
                    probs=(0.25, 0.5, 0.75), delta: float = 0.005) -> tuple[float, ...]:
    """R's ``quantile(r, c(0, probs, 1))`` (type 7) of the column ``r`` of ``base_sql``,
    exactly, in a bounded amount of memory.

    Pass 1 estimates the quantiles at ``p ± delta`` on ``sample_sql`` (a random sample of the
    same rows; the rows themselves when omitted). Pass 2, over all rows, counts them, takes
    min and max, counts the rows below each bracket and returns the few values inside it;
    the order statistics ``floor(h)`` and ``floor(h) + 1`` (``h = (n - 1) p``) are read from
    those. A bracket that missed (the estimate was off) is widened and pass 2 repeated.

    Examples
    --------
    >>> import pandas as pd
    >>> from multilevel.backends import open_source
    >>> t = open_source(pd.DataFrame({"v": [3.0, 1.0, 4.0, 1.5, 9.0, 2.0]}), engine="duckdb")
    >>> exact_quantiles(t, f"SELECT v AS r FROM {t.name}")
    (1.0, 1.625, 2.5, 3.75, 9.0)
    """
    d = table.dialect
    lo_hi = []
    for p in probs:
        lo_hi += [max(0.0, p - delta), min(1.0, p + delta)]
    q1 = f"SELECT {d.approx_quantiles('r', lo_hi)} AS aq FROM ({sample_sql or base_sql}) AS ml_r"
    aq = table.fetch(q1).column("aq").to_pylist()[0] or []
    inf = math.inf
    brackets = [(aq[2 * i], aq[2 * i + 1]) if len(aq) == 2 * len(probs) else (-inf, inf)
                for i in range(len(probs))]
    out: list[float | None] = [None] * len(probs)
    tries = 0
    n = rmin = rmax = None
    while any(v is None for v in out):
        todo = [i for i, v in enumerate(out) if v is None]
        if tries >= 3:
            brackets = [(-inf, inf) if i in todo else b for i, b in enumerate(brackets)]
        sel = ["count(*) AS n", "min(r) AS lo", "max(r) AS hi"]
        for i in todo:
            a, b = (d.double(v) for v in brackets[i])
            sel.append(f"sum(CASE WHEN r < {a} THEN 1 ELSE 0 END) AS b{i}")
            sel.append(f"{d.collect('r', f'r >= {a} AND r <= {b}')} AS v{i}")
        row = table.fetch(f"SELECT {', '.join(sel)} FROM ({base_sql}) AS ml_r").to_pylist()[0]
        n, rmin, rmax = int(row["n"]), row["lo"], row["hi"]
        if n == 0:
            return (math.nan,) * (len(probs) + 2)
        for i in todo:
            a, b = brackets[i]
            inside = np.sort(np.asarray(row[f"v{i}"] or [], dtype=float))
            start = int(row[f"b{i}"] or 0)
            h = (n - 1) * probs[i]
            k = int(math.floor(h))
            frac = h - k
            need = k + 1 if frac > 0 and k + 1 < n else k
            if start <= k and need < start + len(inside):
                x0 = inside[k - start]
                x1 = inside[need - start]
                out[i] = float(x0 + frac * (x1 - x0))
            else:  # widen towards the side that missed
                width = (b - a) or abs(a) or 1.0
                brackets[i] = (a - 4 * width if start > k else a,
                               b + 4 * width if need >= start + len(inside) else b)
        tries += 1
    return (float(rmin), *[float(v) for v in out], float(rmax))


class _SummaryView:
    """The result, with ``residuals()`` giving the exact quantiles (for the summary)."""

    def __init__(self, m: LmerSourceResult):
        self._m = m

    def __getattr__(self, name):
        return getattr(self._m, name)

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        q = np.asarray(self._m.resid_quantiles(), dtype=float)
        return pd.Series(q / self._m.sigma if scaled else q, name="residuals")


class LmerSourceResult(LmerResult):
    """An :class:`~multilevel.results.lmm.LmerResult` fitted by an engine (DuckDB, Spark).

    Attributes
    ----------
    engine : str       -- ``"duckdb"`` or ``"spark"``
    table : SqlTable   -- the source, as the engine sees it
    (and every attribute of LmerResult)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"), engine="duckdb")
    >>> m.engine, m.nobs
    ('duckdb', 30)
    """

    def __init__(self, *, table, sql, keys, sql_terms, x_kept, **kw):
        super().__init__(**kw)
        self.table = table
        self.engine = table.engine
        self._sql = sql
        self._keys = keys
        self._sql_terms = sql_terms
        self._x_kept = x_kept
        self._b_tables: dict = {}

    # ----- rows stay in the source ----------------------------------------------------------
    @property
    def _fitted(self):
        return self.design._rows("fitted values")

    @property
    def fitted(self):
        """Not available: the rows stay in the source (use :meth:`augment`)."""
        return self.design._rows("fitted values")

    def residuals(self, type: str = "response", scaled: bool = False):
        """Not available: the rows stay in the source (use :meth:`augment`)."""
        return self.design._rows("residuals")

    # ----- SQL of predictions -----------------------------------------------------------------
    def _b_table(self, table, k: int) -> str:
        key = (id(table), k)
        if key not in self._b_tables:
            import pyarrow as pa

            keys = self._keys[k]
            cols = {f"ml_key{i}": pa.array(keys[p].to_numpy(), from_pandas=True)
                    if not isinstance(keys[p].dtype, pd.CategoricalDtype)
                    else pa.array(keys[p].astype(object).to_numpy())
                    for i, p in enumerate(self._sql_terms[k].parts)}
            for a in range(self.terms[k].p):
                cols[f"ml_b{a}"] = pa.array(np.asarray(self._sol.b[k][:, a], dtype=float))
            self._b_tables[key] = table.register(pa.table(cols))
        return self._b_tables[key]

    def _eta_sql(self, table, keep: set[int]) -> tuple[str, str, str]:
        """(joins, fixed part, random part) of the linear predictor over ``table``."""
        d = table.dialect
        fixed = [f"({d.double(b)} * {x})" for b, x in zip(self._sol.beta, self._x_kept)]
        if self._sql.offset is not None:
            fixed.append(self._sql.offset)
        fixed_sql = "(" + " + ".join(fixed) + ")" if fixed else d.double(0.0)
        joins, re = [], []
        for k in sorted(keep):
            t = self._sql_terms[k]
            alias = f"ml_j{k}"
            on = " AND ".join(f"ml_s.{d.ident(p)} = {alias}.ml_key{i}"
                              for i, p in enumerate(t.parts))
            joins.append(f"LEFT JOIN {self._b_table(table, k)} AS {alias} ON {on}")
            for a, z in enumerate(t.z):
                re.append(f"({z} * coalesce({alias}.ml_b{a}, {d.double(0.0)}))")
        re_sql = "(" + " + ".join(re) + ")" if re else d.double(0.0)
        return " ".join(joins), fixed_sql, re_sql

    def _fit_rows_sql(self, columns=None) -> str:
        t = self.table
        joins, fixed, re = self._eta_sql(t, set(range(len(self.terms))))
        cols = self._select_columns(t, columns)
        fitted = f"({fixed} + {re})"
        return (f"SELECT {cols}{fixed} AS {t.dialect.ident('.fixed')}, "
                f"{fitted} AS {t.dialect.ident('.fitted')}, "
                f"({self._sql.y} - {fitted}) AS {t.dialect.ident('.resid')} "
                f"FROM {t.name} AS ml_s {joins} WHERE {self._sql.where}")

    @staticmethod
    def _select_columns(table, columns) -> str:
        if columns is None:
            return "ml_s.*, "
        if not columns:
            return ""
        return "".join(f"ml_s.{table.dialect.ident(c)}, " for c in columns)

    # ----- row-level outputs through the engine ---------------------------------------------
    def augment(self, data=None, *, to=None, columns=None):
        """The rows used in the fit with ``.fitted``, ``.resid`` and ``.fixed`` (broom's
        ``augment``), computed by the engine.

        Parameters
        ----------
        data : None
            The fit's own source (other data: use :meth:`predict`).
        to : str, optional
            A ``*.parquet`` or ``*.csv`` path (a folder of part files for Spark): the rows
            are written there, atomically, and the path is returned. Without it, the
            engine's lazy table (a DuckDB relation or Spark DataFrame) is returned.
        columns : list of str, optional
            Source columns to keep (default: all).

        Examples
        --------
        >>> import multilevel as ml, os, tempfile
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"), engine="duckdb")
        >>> out = m.augment(to=os.path.join(tempfile.mkdtemp(), "fitted.parquet"))
        >>> import pandas as pd; pd.read_parquet(out).columns.tolist()
        ['Batch', 'Yield', '.fixed', '.fitted', '.resid']
        """
        if data is not None:
            raise BackendError(two_line(
                "augment() of an out-of-core fit works on the fit's own source",
                "use m.predict(other_source, to=...) for other data"))
        sql = self._fit_rows_sql(columns)
        if to is None:
            return self.table.lazy(sql)
        return self.table.write(sql, to)

    def predict(self, newdata=None, *, re_form="all", allow_new_levels: bool = False,
                to=None, engine: str | None = None):
        """Predictions (lme4's ``predict.merMod``), computed where the data are.

        Parameters
        ----------
        newdata : None, source, or in-memory frame
            None: the rows of the fit's source; a path/glob/relation/Spark DataFrame: that
            source, read by this fit's engine (or ``engine``); a pandas frame: in memory,
            as for any fit (a Series), unless ``to`` is given.
        re_form, allow_new_levels
            As :meth:`multilevel.results.lmm.LmerResult.predict`.
        to : str, optional
            Write the source's rows with a ``predicted`` column there (atomically) and
            return the path; otherwise the engine's lazy table is returned.

        Examples
        --------
        >>> import multilevel as ml
        >>> sleep = ml.datasets.load("sleepstudy")
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, engine="duckdb")
        >>> float(m.predict(sleep.head(1), re_form=None).round(3).iloc[0])
        251.405
        """
        from ..backends.registry import is_source, open_source

        if newdata is not None and not is_source(newdata) and to is None:
            return super().predict(newdata, re_form=re_form, allow_new_levels=allow_new_levels)
        if newdata is None:
            table, where = self.table, self._sql.where
        else:
            table = open_source(newdata, engine or self.engine)
            where = "TRUE"
            self._check_new(table, re_form, allow_new_levels)
        keep = self._terms_for(re_form)
        joins, fixed, re = self._eta_sql(table, keep)
        d = table.dialect
        eta = f"(CASE WHEN {self._sql.fixed_where} THEN {fixed} + {re} ELSE NULL END)"
        sql = (f"SELECT ml_s.*, {eta} AS {d.ident('predicted')} FROM {table.name} AS ml_s "
               f"{joins} WHERE {where}")
        if to is None:
            return table.lazy(sql)
        return table.write(sql, to)

    def _check_new(self, table, re_form, allow_new_levels: bool) -> None:
        """New data must have the model's columns, no unseen factor levels, and (unless
        allowed) no unseen or missing grouping levels -- as in memory."""
        from ..design.variables import column, names_in

        schema = table.schema()
        proxy = pd.DataFrame({c: [] for c in schema})
        sd = self._sql
        keep = self._terms_for(re_form)
        for key in sd.fixed.variables:
            for nm in names_in(sd.fixed.variables[key]):
                column(proxy, nm)
        for k in keep:
            for nm in self._sql_terms[k].parts:
                column(proxy, nm, f"grouping factor in ({self._sql_terms[k].bar}): ")
        checks = []
        for key, fac in sd.factors.items():
            if key in sd.fixed.variables:
                checks.append((f"factor {key!r} has new level(s) in newdata",
                               f"use only the levels seen in the fit: {list(fac.levels)[:10]}",
                               f"{fac.sql} IS NOT NULL AND NOT {fac.known()}", ""))
        joins = []
        if not allow_new_levels:
            for k in sorted(keep):
                t = self._sql_terms[k]
                alias = f"ml_j{k}"
                on = " AND ".join(f"ml_s.{table.dialect.ident(p)} = {alias}.ml_key{i}"
                                  for i, p in enumerate(t.parts))
                joins.append(f"LEFT JOIN {self._b_table(table, k)} AS {alias} ON {on}")
                checks.append((f"grouping factor {t.group!r} in newdata has new levels or "
                               "missing values not seen in the fit",
                               "pass allow_new_levels=True to predict those rows at the "
                               "population level", f"{alias}.ml_b0 IS NULL", ""))
        if not checks:
            return
        sel = ", ".join(f"sum(CASE WHEN {c[2]} THEN 1 ELSE 0 END) AS ml_c{i}"
                        for i, c in enumerate(checks))
        row = table.fetch(f"SELECT {sel} FROM {table.name} AS ml_s {' '.join(joins)}"
                          ).to_pylist()[0]
        for i, (what, fix, _, _) in enumerate(checks):
            if row[f"ml_c{i}"]:
                raise DataError(two_line(f"{what} ({row[f'ml_c{i}']} rows)", fix))

    # ----- the summary ------------------------------------------------------------------------
    def resid_quantiles(self) -> tuple[float, ...]:
        """Exact min, quartiles and max of the Pearson residuals (response residuals times
        the square root of the prior weight; the summary's scaled residuals times sigma),
        from the engine (:func:`exact_quantiles`)."""
        return self._resid_quantiles

    @cached_property
    def _resid_quantiles(self) -> tuple[float, ...]:
        t = self.table
        joins, fixed, re = self._eta_sql(t, set(range(len(self.terms))))
        r = f"({self._sql.y} - ({fixed} + {re}))"
        if self._sql.weights is not None:  # the summary shows Pearson residuals, as lme4
            r = f"(sqrt({self._sql.weights}) * {r})"
        sel = f"SELECT {r} AS r FROM "
        rest = f"AS ml_s {joins} WHERE {self._sql.where}"
        base = f"{sel}{t.name} {rest}"
        pct = 100.0 * min(1.0, SAMPLE_ROWS / max(self.nobs, 1))
        sample = f"{sel}{t.dialect.sample(t.name, pct)} {rest}" if pct < 50 else None
        return exact_quantiles(t, base, sample)

    def summary(self, digits: int | None = None, **kw):
        """lme4's ``summary(m)``; the scaled-residual quantiles are computed exactly by the
        engine (a sampled pass and a full one, once per fit)."""
        from .summary import lmer_summary

        return lmer_summary(_SummaryView(self), digits=digits, **kw)

