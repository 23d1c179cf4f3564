"""Spark engine: the same SQL as DuckDB, run distributed through PySpark.

Pass a Spark DataFrame as ``data`` (or a path with ``engine="spark"``, read by the active
Spark session). The fit runs one ``GROUP BY`` job; only the per-level sums come back to the
driver. The SQL is the engine-neutral SQL of :mod:`multilevel.backends.sql_frame`; Spark's
ANSI mode (division by zero and ``ln(0)`` raise or give NULL) is handled by the guarded
functions of :class:`~multilevel.backends.base.Dialect`.

``pyspark`` is imported when this module is, i.e. only when the engine is used.
"""
from __future__ import annotations

import os
import uuid

import pyspark  # noqa: F401 - fail early, with the registry's message, if it is missing
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from ..errors import BackendError, two_line
from .base import BOOL, NUMERIC, OTHER, STRING, Dialect, SqlTable, atomic_output, output_format

__all__ = ["SparkTable", "SparkDialect"]


class SparkDialect(Dialect):
    """Spark SQL (backquoted identifiers, backslash escapes in strings)."""

    name = "spark"

    def ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def string(self, s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def approx_quantiles(self, e: str, probs: list[float]) -> str:
        return (f"percentile_approx({e}, array({', '.join(repr(float(p)) for p in probs)}), "
                "100000)")

    def collect(self, e: str, cond: str) -> str:
        return f"collect_list({e}) FILTER (WHERE {cond})"

    def sample(self, name: str, percent: float) -> str:
        return f"(SELECT * FROM {name} TABLESAMPLE ({float(percent)!r} PERCENT))"


def _kind(dt) -> str:
    if isinstance(dt, T.BooleanType):
        return BOOL
    if isinstance(dt, (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType,
                       T.DoubleType, T.DecimalType)):
        return NUMERIC
    if isinstance(dt, (T.StringType, T.VarcharType, T.CharType)):
        return STRING
    return OTHER


def _errors() -> tuple:
    out: list = []
    try:
        from pyspark.errors import PySparkException

        out.append(PySparkException)
    except ImportError:  # pragma: no cover
        pass
    try:
        from py4j.protocol import Py4JError

        out.append(Py4JError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(out) or (Exception,)


_SPARK_ERRORS = _errors()


def _wrap(e: Exception, what: str) -> BackendError:
    text = str(e).strip()
    first = text.splitlines()[0] if text else type(e).__name__
    if "cancel" in text.lower() or "interrupt" in text.lower() or "shut down" in text.lower():
        return BackendError(two_line(f"the Spark job was interrupted while {what}: {first}",
                                     "run the call again; nothing was written"))
    return BackendError(two_line(f"Spark failed while {what}: {first}",
                                 "check the data source, the formula's columns and the "
                                 "Spark session"))


class SparkTable(SqlTable):
    """A Spark DataFrame seen as a SQL table (a temporary view).

    Examples
    --------
    >>> from pyspark.sql import SparkSession                      # doctest: +SKIP
    >>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
    >>> t = SparkTable.from_source(spark.range(3))                # doctest: +SKIP
    >>> t.schema()                                                # doctest: +SKIP
    {'id': 'numeric'}
    """

    engine = "spark"
    dialect = SparkDialect()

    def __init__(self, df: DataFrame, description: str, checker=None):
        self._df = df
        self._checker = checker  # per-file schema checks for file sources
        self.spark: SparkSession = df.sparkSession
        self.description = description
        self._view = f"ml_src_{uuid.uuid4().hex[:10]}"
        self.name = self.dialect.ident(self._view)
        try:
            df.createOrReplaceTempView(self._view)
        except _SPARK_ERRORS as e:
            raise _wrap(e, "registering the DataFrame") from None
        self._registered: list[str] = []

    @classmethod
    def from_source(cls, data) -> SparkTable:
        """From a Spark DataFrame, a path/glob of Parquet or CSV files (read by the active
        session; cluster storage such as ``hdfs://`` or ``s3a://`` is handed to Spark as it
        is, local and ``http(s)://`` paths follow :func:`multilevel.read`'s rules), or an
        in-memory pandas frame."""
        if isinstance(data, DataFrame) or type(data).__module__.startswith("pyspark"):
            return cls(data, "a Spark DataFrame")
        spark = SparkSession.getActiveSession()
        if spark is None:
            raise BackendError(two_line("engine='spark' needs a running Spark session",
                                        "start one first: SparkSession.builder.master("
                                        "'local[2]').getOrCreate(), or pass a Spark DataFrame"))
        if isinstance(data, (str, os.PathLike, list, tuple)):
            from .base import cluster_paths

            native = cluster_paths(data)  # hdfs://, s3a://, ...: Spark's own file systems
            if native is None:
                from .duckdb import resolve_files

                native = resolve_files(data)
            files, fmt = native
            checker = None
            if len(files) > 1 and not any("://" in f or f.startswith("dbfs:/") for f in files):
                try:  # the files' own schemas: a column missing in some files is an error
                    from .duckdb import DuckDBTable

                    checker = DuckDBTable.from_source(files)
                except ImportError:  # pragma: no cover - DuckDB is optional here
                    checker = None
            try:
                if fmt == "parquet":
                    df = spark.read.option("mergeSchema", "true").parquet(*files)
                else:
                    df = spark.read.csv(files, header=True, inferSchema=True, nullValue="NA")
            except _SPARK_ERRORS as e:
                raise _wrap(e, f"reading {files[0]!r}") from None
            return cls(df, files[0] if len(files) == 1 else f"{len(files)} {fmt} files",
                       checker)
        try:
            import pyarrow as pa

            table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(
                data, preserve_index=False)
            return cls(spark.createDataFrame(table), "an in-memory table")
        except _SPARK_ERRORS as e:
            raise _wrap(e, "copying the in-memory data to Spark") from None

    def schema(self) -> dict[str, str]:
        return {f.name: _kind(f.dataType) for f in self._df.schema.fields}

    def check_columns(self, columns: list[str]) -> None:
        """For file sources: each column in every file, with one kind."""
        if self._checker is not None:
            self._checker.check_columns(columns)

    def fetch(self, sql: str):
        try:
            df = self.spark.sql(sql)
            if hasattr(df, "toArrow"):
                return df.toArrow()
            import pyarrow as pa  # pragma: no cover - Spark < 4

            return pa.Table.from_pandas(df.toPandas(), preserve_index=False)
        except _SPARK_ERRORS as e:
            raise _wrap(e, f"reading {self.description}") from None

    def register(self, table) -> str:
        name = f"ml_tbl_{uuid.uuid4().hex[:10]}"
        try:
            self.spark.createDataFrame(table).createOrReplaceTempView(name)
        except _SPARK_ERRORS as e:
            raise _wrap(e, "registering the random effects") from None
        self._registered.append(name)
        return self.dialect.ident(name)

    def unregister(self, name: str) -> None:
        try:
            self.spark.catalog.dropTempView(name.strip("`"))
        except _SPARK_ERRORS:  # pragma: no cover - best effort
            pass

    def write(self, sql: str, to: str) -> str:
        """Write the rows to ``to``: a folder of part files (Spark's layout) when ``to`` is
        local, written under a temporary name and renamed when complete. Other URLs
        (``hdfs://``, ``s3a://``) are written by Spark's own committer."""
        fmt = output_format(to)
        to = os.fspath(to)
        try:
            df = self.spark.sql(sql)
            if "://" in to and not to.startswith("file://"):
                writer = df.write.mode("overwrite")
                (writer.option("header", True).csv(to) if fmt == "csv" else writer.parquet(to))
                return to
            with atomic_output(to, inputs=getattr(self, "files", None) or ()) as tmp:
                writer = df.write.mode("errorifexists")
                (writer.option("header", True).csv(tmp) if fmt == "csv" else writer.parquet(tmp))
        except _SPARK_ERRORS as e:
            raise _wrap(e, f"writing {to!r}") from None
        return to

    def lazy(self, sql: str):
        try:
            return self.spark.sql(sql)
        except _SPARK_ERRORS as e:
            raise _wrap(e, "building the query") from None
