"""What a data engine does for an out-of-core fit: the Accumulator protocol and its SQL dialect.

A Gaussian linear mixed model needs the data only through the blocked cross-products
``A = [Z X y]'[Z X y]`` (see :mod:`multilevel.core.crossprod`). An engine that can run one
``GROUP BY`` over the data can therefore produce ``A`` where the data live, and the numerical
core fits on the small result. Everything engine-specific is behind :class:`SqlTable`:

* ``schema()``       -- column name -> kind (``numeric``, ``bool``, ``string``, ``other``);
* ``fetch(sql)``     -- run a query, return a (small) :class:`pyarrow.Table`;
* ``register(t)``    -- make a small Arrow table (random effects per level) joinable by name;
* ``write(sql, to)`` -- write a query's rows to Parquet/CSV atomically (temp file + rename);
* ``lazy(sql)``      -- the engine's own lazy table (a DuckDB relation, a Spark DataFrame).

The queries are generated once, in engine-neutral SQL (:mod:`multilevel.backends.sql_frame`),
through a :class:`Dialect` that spells literals, identifiers and the few functions whose
semantics differ (Spark's ANSI mode raises on ``x / 0``; R gives ``Inf``).

.. note:: internal; users pass a source to :func:`multilevel.lmer`.
"""
from __future__ import annotations

import contextlib
import math
import os
from abc import ABC, abstractmethod
from typing import Protocol, runtime_checkable

from ..errors import BackendError, two_line

NUMERIC, BOOL, STRING, OTHER = "numeric", "bool", "string", "other"

__all__ = ["NUMERIC", "BOOL", "STRING", "OTHER", "Dialect", "SqlTable", "Accumulator",
           "atomic_output", "output_format"]


class Dialect:
    """SQL spelling shared by DuckDB and Spark; subclasses override what differs.

    Every numeric value is a ``DOUBLE``. Functions whose domain errors differ between engines
    (``ln``, ``/``) are guarded so that both give R's IEEE results (``log(0) = -Inf``,
    ``log(-1) = NaN``, ``1/0 = Inf``).

    Examples
    --------
    >>> d = Dialect()
    >>> d.ident("x1"), d.string("it's")
    ('"x1"', "'it''s'")
    >>> d.double(0.1)
    "CAST('0.1' AS DOUBLE)"
    """

    name = "sql"
    INF = "CAST('Infinity' AS DOUBLE)"
    NAN = "CAST('NaN' AS DOUBLE)"

    def ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def string(self, s: str) -> str:
        return "'" + s.replace("'", "''") + "'"

    def double(self, v: float) -> str:
        v = float(v)
        if math.isnan(v):
            return self.NAN
        if math.isinf(v):
            return self.INF if v > 0 else f"(-{self.INF})"
        return f"CAST('{v!r}' AS DOUBLE)"

    def as_double(self, e: str) -> str:
        return f"CAST({e} AS DOUBLE)"

    def div(self, a: str, b: str) -> str:
        return f"(CASE WHEN {b} = 0 THEN {a} * {self.INF} ELSE {a} / {b} END)"

    def _log(self, fn: str, x: str, at: str = "0") -> str:
        return (f"(CASE WHEN {x} > {at} THEN {fn}({x}) WHEN {x} = {at} THEN (-{self.INF}) "
                f"ELSE {self.NAN} END)")

    def ln(self, x: str) -> str:
        return self._log("ln", x)

    def log2(self, x: str) -> str:
        return self._log("log2", x)

    def log10(self, x: str) -> str:
        return self._log("log10", x)

    def log1p(self, x: str) -> str:
        # Goldberg's trick: exact to a few ulps without a native log1p
        u = f"(CAST(1 AS DOUBLE) + {x})"
        return (f"(CASE WHEN {x} = -1 THEN (-{self.INF}) WHEN {x} < -1 THEN {self.NAN} "
                f"WHEN {u} = 1 THEN {x} ELSE ln({u}) * {x} / ({u} - 1) END)")

    def is_missing(self, e: str) -> str:
        """True for NULL or NaN (R's NA for doubles)."""
        return f"({e} IS NULL OR isnan({e}))"

    def is_infinite(self, e: str) -> str:
        return f"(abs({e}) = {self.INF})"

    def approx_quantiles(self, e: str, probs: list[float]) -> str:
        raise NotImplementedError

    def collect(self, e: str, cond: str) -> str:
        """An aggregate: the list of ``e`` over the rows where ``cond`` holds."""
        raise NotImplementedError

    def sample(self, name: str, percent: float) -> str:
        """A table expression: a random ``percent`` % of the rows of ``name``."""
        raise NotImplementedError


@runtime_checkable
class Accumulator(Protocol):
    """What :func:`multilevel.fit.lmer_source.lmer_source` needs from an engine.

    An implementation runs SQL where the data live and returns only small results.
    """

    engine: str
    dialect: Dialect
    name: str

    def schema(self) -> dict[str, str]: ...

    def fetch(self, sql: str): ...

    def register(self, table) -> str: ...

    def write(self, sql: str, to: str) -> str: ...

    def lazy(self, sql: str): ...


class SqlTable(ABC):
    """Base class of the engines' tables (implements :class:`Accumulator`).

    Attributes
    ----------
    engine : str        -- ``"duckdb"`` or ``"spark"``
    dialect : Dialect
    name : str          -- the quoted name of the source in the engine's SQL
    description : str   -- what the source is, for messages and the summary's ``Data:``
    """

    engine = "sql"
    dialect: Dialect = Dialect()
    name: str = ""
    description: str = ""

    @abstractmethod
    def schema(self) -> dict[str, str]:
        """Column name -> kind (``NUMERIC``, ``BOOL``, ``STRING`` or ``OTHER``)."""

    @abstractmethod
    def fetch(self, sql: str):
        """Run ``sql`` and return its rows as a :class:`pyarrow.Table`."""

    @abstractmethod
    def register(self, table) -> str:
        """Make a small Arrow table queryable; return its quoted name."""

    @abstractmethod
    def write(self, sql: str, to: str) -> str:
        """Write the rows of ``sql`` to ``to`` (Parquet or CSV by extension), atomically."""

    @abstractmethod
    def lazy(self, sql: str):
        """The engine's lazy table for ``sql`` (nothing is computed yet)."""

    def unregister(self, name: str) -> None:  # pragma: no cover - optional clean-up
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def output_format(to: str) -> str:
    """``"parquet"`` or ``"csv"`` from a file name (a directory name means Parquet).

    Examples
    --------
    >>> output_format("fitted.parquet"), output_format("out/fitted.csv")
    ('parquet', 'csv')
    """
    low = str(to).lower()
    if low.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if low.endswith((".parquet", ".pq")) or "." not in os.path.basename(low):
        return "parquet"
    raise BackendError(two_line(f"cannot tell the output format of {to!r}",
                                "name the output file *.parquet or *.csv"))


# Storage that a Spark cluster reads with its own file systems and credentials: handed to
# Spark as they are (DuckDB and ml.read never see them; their scheme rules refuse them).
CLUSTER_SCHEMES = ("hdfs://", "s3a://", "s3n://", "abfs://", "abfss://", "gs://", "wasb://",
                   "wasbs://", "dbfs:/", "viewfs://")


def cluster_paths(data) -> tuple[list[str], str] | None:
    """Paths on cluster storage (``hdfs://``, ``s3a://``, ...) and their format, for Spark to
    read itself; None when ``data`` is not only such paths.

    Examples
    --------
    >>> cluster_paths("hdfs://nn/warehouse/scores")
    (['hdfs://nn/warehouse/scores'], 'parquet')
    >>> cluster_paths(["s3a://b/x.csv", "s3a://b/y.csv"])
    (['s3a://b/x.csv', 's3a://b/y.csv'], 'csv')
    >>> cluster_paths("data/*.parquet") is None
    True
    """
    paths = [data] if isinstance(data, (str, os.PathLike)) else data
    if not isinstance(paths, (list, tuple)) or not paths:
        return None
    paths = [os.fspath(p) for p in paths]
    if not all(p.lower().startswith(CLUSTER_SCHEMES) for p in paths):
        return None
    csv = [p.lower().endswith((".csv", ".csv.gz", ".tsv", ".txt")) for p in paths]
    if any(csv) and not all(csv):
        raise BackendError(two_line("the paths mix CSV and Parquet files",
                                    "fit one format at a time"))
    return paths, "csv" if all(csv) else "parquet"


@contextlib.contextmanager
def atomic_output(to: str, inputs=()):
    """Yield a temporary path beside ``to``; on success rename it to ``to``, on any failure
    (an error, an interrupt) remove it, so that nothing is written half-way.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with atomic_output(os.path.join(d, "a.txt")) as tmp:
    ...     _ = open(tmp, "w").write("x")
    >>> os.listdir(d)
    ['a.txt']
    """
    from .._validate import atomic_path, output_path

    to = os.fspath(to)
    folder = os.path.dirname(os.path.abspath(to))
    if not os.path.isdir(folder):
        raise BackendError(two_line(f"the output folder {folder!r} does not exist",
                                    "create it first or write somewhere else"))
    to = output_path(to, inputs=inputs, what="output", folder_ok=True)
    with atomic_path(to, folder_ok=True) as tmp:  # also removes what killed writers left
        yield tmp


def write_frame(frame, to: str, inputs=()) -> str:
    """Write an in-memory pandas frame to Parquet or CSV atomically (temp file, then rename).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> p = write_frame(pd.DataFrame({"a": [1]}), os.path.join(tempfile.mkdtemp(), "a.csv"))
    >>> open(p).read().splitlines()
    ['a', '1']
    """
    fmt = output_format(to)
    with atomic_output(to, inputs=[frame, *inputs]) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return str(to)
