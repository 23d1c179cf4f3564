"""DuckDB engine: Parquet/CSV files (paths, globs, folders), DuckDB relations and tables.

Files are read where they lie, by DuckDB's streaming scans; a fit runs one ``GROUP BY`` pass
over them and keeps nothing but the per-level sums. Every file of a glob is checked first:
a model column missing from some files, or holding text in one file and numbers in another,
is an error that names the files (DuckDB would otherwise fill the column with NULLs, and the
rows would silently be dropped as missing).

Missing values: NULL, and NaN in floating-point columns; in CSV files, empty fields and
``NA`` (R's ``write.csv``).

``duckdb`` is imported when this module is, i.e. only when the engine is used.
"""
from __future__ import annotations

import glob
import os
import uuid

import duckdb

from ..errors import BackendError, two_line
from .base import BOOL, NUMERIC, OTHER, STRING, Dialect, SqlTable, atomic_output, output_format

__all__ = ["DuckDBTable", "DuckDBDialect", "resolve_files"]

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL", "INT")
_PARQUET = (".parquet", ".pq", ".parq")
_CSV = (".csv", ".csv.gz", ".tsv", ".txt", ".csv.zst")


class DuckDBDialect(Dialect):
    """DuckDB's SQL (see :class:`~multilevel.backends.base.Dialect`)."""

    name = "duckdb"

    def approx_quantiles(self, e: str, probs: list[float]) -> str:
        return f"approx_quantile({e}, [{', '.join(repr(float(p)) for p in probs)}])"

    def collect(self, e: str, cond: str) -> str:
        return f"list({e}) FILTER (WHERE {cond})"

    def sample(self, name: str, percent: float) -> str:
        return f"(SELECT * FROM {name} USING SAMPLE {float(percent)!r}% (bernoulli))"


def kind_of(type_name: str) -> str:
    """Kind of a DuckDB type name.

    Examples
    --------
    >>> kind_of("BIGINT"), kind_of("DECIMAL(10,2)"), kind_of("VARCHAR"), kind_of("DATE")
    ('numeric', 'numeric', 'string', 'other')
    """
    t = type_name.upper()
    if t == "BOOLEAN":
        return BOOL
    if t.startswith(_NUMERIC):
        return NUMERIC
    if t.startswith(("VARCHAR", "ENUM")):
        return STRING
    return OTHER


def _is_remote(p: str) -> bool:
    return "://" in p

#: DuckDB never downloads or loads an extension by itself (a data file cannot make it).
SAFE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def connect():
    """A new in-memory DuckDB connection with extension autoinstall and autoload off.

    Examples
    --------
    >>> connect().sql("SELECT current_setting('autoload_known_extensions') AS v").fetchall()
    [(False,)]
    """
    return duckdb.connect(config=dict(SAFE_CONFIG))


def _local(p: str) -> str:
    """A source string under :func:`multilevel.read`'s scheme rules: local paths as they are,
    ``http(s)://`` downloaded once into its cache (with its timeout, size cap and checks),
    any other scheme (``s3://``, ``file://``, ...) refused with its message."""
    from ..io.readers import _download, _is_url, scheme_check
    from ..io.readers import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT

    if not _is_remote(p):
        return p
    scheme_check(p)
    if _is_url(p):
        return os.fspath(_download(p, cache_dir=None, timeout=DEFAULT_TIMEOUT,
                                   max_bytes=DEFAULT_MAX_BYTES, refresh=False))
    return p  # pragma: no cover - scheme_check refused it


def resolve_files(paths) -> tuple[list[str], str]:
    """Expand paths, globs and folders into files; return them and their format.

    Examples
    --------
    >>> resolve_files("/no/such/file.parquet")
    Traceback (most recent call last):
    ...
    multilevel.errors.BackendError: no file matches '/no/such/file.parquet'
      How to fix: check the path (globs such as data/*.parquet and folders are allowed)
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for p in map(os.fspath, paths):
        if _is_remote(p):
            local = _local(p)
            name = p.split("?", 1)[0].lower()
            if not local.lower().endswith(_PARQUET + _CSV) and name.endswith(_PARQUET + _CSV):
                ext = next(e for e in _PARQUET + _CSV if name.endswith(e))
                linked = f"{local}{ext}"
                if not os.path.exists(linked):
                    _copy(local, linked)
                local = linked
            files.append(local)
        elif os.path.isdir(p):
            found = sorted(f for f in glob.glob(os.path.join(p, "**", "*"), recursive=True)
                           if f.lower().endswith(_PARQUET + _CSV) and os.path.isfile(f))
            if not found:
                raise BackendError(two_line(f"folder {p!r} holds no Parquet or CSV files",
                                            "point at the files, e.g. data/*.parquet"))
            files.extend(found)
        else:
            found = sorted(glob.glob(p, recursive=True)) if glob.has_magic(p) else (
                [p] if os.path.exists(p) else [])
            found = [f for f in found if os.path.isfile(f)]
            if not found:
                raise BackendError(two_line(
                    f"no file matches {p!r}",
                    "check the path (globs such as data/*.parquet and folders are allowed)"))
            files.extend(found)
    fmts = {("csv" if f.lower().endswith(_CSV) else "parquet") for f in files}
    if len(fmts) > 1:
        raise BackendError(two_line("the source mixes Parquet and CSV files",
                                    "pass files of one format"))
    fmt = fmts.pop()
    if fmt == "parquet" and not all(f.lower().endswith(_PARQUET) or _is_remote(f)
                                    for f in files):
        bad = [f for f in files if not f.lower().endswith(_PARQUET)][:3]
        raise BackendError(two_line(f"cannot tell the format of {bad}",
                                    "name the files *.parquet or *.csv"))
    return files, fmt


def _copy(src: str, dst: str) -> None:
    import shutil

    from .._validate import atomic_path

    with atomic_path(dst) as tmp:  # no half-copied file is ever left under dst's name
        shutil.copyfile(src, tmp)


def _list_sql(files: list[str]) -> str:
    d = DuckDBDialect()
    return "[" + ", ".join(d.string(f) for f in files) + "]"


def _reader(files: list[str], fmt: str, union: bool) -> str:
    u = ", union_by_name = true" if union else ""
    if fmt == "parquet":
        return f"read_parquet({_list_sql(files)}{u})"
    return f"read_csv({_list_sql(files)}, header = true, nullstr = ['NA', '']{u})"


def _wrap(e: Exception, what: str) -> BackendError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, duckdb.InterruptException):
        return BackendError(two_line(f"DuckDB was interrupted while {what}",
                                     "run the call again; nothing was written"))
    if isinstance(e, duckdb.IOException):
        return BackendError(two_line(f"DuckDB could not read the data while {what}: {msg}",
                                     "check that the files exist and are readable"))
    if isinstance(e, duckdb.OutOfMemoryException):
        return BackendError(two_line(f"DuckDB ran out of memory while {what}: {msg}",
                                     "set a larger memory limit or a temp_directory for DuckDB"))
    return BackendError(two_line(f"DuckDB failed while {what}: {msg}",
                                 "check the data source and the formula's columns"))


class DuckDBTable(SqlTable):
    """A data source read by DuckDB.

    Build one with :meth:`from_source`; :func:`multilevel.lmer` does so for you.

    Examples
    --------
    >>> import pandas as pd
    >>> t = DuckDBTable.from_source(pd.DataFrame({"y": [1.0, 2.0], "g": ["a", "b"]}))
    >>> t.schema(), t.fetch("SELECT count(*) AS n FROM " + t.name).column("n").to_pylist()
    ({'y': 'numeric', 'g': 'string'}, [2])
    """

    engine = "duckdb"
    dialect = DuckDBDialect()

    def __init__(self, rel, description: str, *, con=None, files=None, fmt=None,
                 file_schemas=None):
        self._rel = rel
        self._con = con  # kept alive for sources we opened ourselves
        self.files = files
        self.fmt = fmt
        self._file_schemas = file_schemas or {}
        self.description = description
        self._view = f"ml_src_{uuid.uuid4().hex[:10]}"
        self.name = self.dialect.ident(self._view)
        self._types: dict[str, str] | None = None
        self._registered: list[str] = []

    # ----- construction ---------------------------------------------------------------------
    @classmethod
    def from_source(cls, data) -> DuckDBTable:
        """From a path/glob/folder/list of files, a DuckDB relation, ``(connection, table)``,
        or an in-memory frame (pandas, polars, pyarrow)."""
        mod = type(data).__module__.split(".")[0]
        if mod in ("duckdb", "_duckdb") and hasattr(data, "query"):
            return cls(data, "a DuckDB relation")
        if isinstance(data, tuple) and len(data) == 2:
            con, table = data
            try:
                rel = con.table(table) if isinstance(table, str) else table
            except duckdb.Error as e:
                raise BackendError(two_line(f"DuckDB has no table {table!r}: "
                                            f"{str(e).splitlines()[0]}",
                                            "pass (connection, name of an existing table)"))
            return cls(rel, f"DuckDB table {table!r}")
        if isinstance(data, (str, os.PathLike, list, tuple)):
            return cls._from_files(data)
        con = connect()
        frame = data
        if isinstance(data, dict):
            import pandas as pd

            frame = pd.DataFrame(data)
        try:
            con.register("ml_frame", frame)
            rel = con.sql("SELECT * FROM ml_frame")
        except duckdb.Error as e:
            raise _wrap(e, "reading the in-memory data") from None
        out = cls(rel, "an in-memory table", con=con)
        # ordered categoricals become plain ENUMs in DuckDB: remember them (sql_frame refuses
        # them rather than fit treatment contrasts where R uses contr.poly)
        out.ordered_columns = frozenset(
            c for c, t in getattr(frame, "dtypes", {}).items()
            if getattr(t, "ordered", False))
        return out

    @classmethod
    def _from_files(cls, paths) -> DuckDBTable:
        files, fmt = resolve_files(paths)
        con = connect()
        schemas = {}
        if len(files) > 1:
            for f in files:
                try:
                    rows = con.sql(f"DESCRIBE SELECT * FROM {_reader([f], fmt, False)}").fetchall()
                except duckdb.Error as e:
                    raise _wrap(e, f"reading the schema of {f!r}") from None
                schemas[f] = {r[0]: r[1] for r in rows}
        try:
            rel = con.sql(f"SELECT * FROM {_reader(files, fmt, len(files) > 1)}")
        except duckdb.Error as e:
            raise _wrap(e, f"opening {files[0]!r}") from None
        shown = files[0] if len(files) == 1 else f"{len(files)} {fmt} files ({files[0]}, ...)"
        return cls(rel, shown, con=con, files=files, fmt=fmt, file_schemas=schemas)

    # ----- the Accumulator protocol ---------------------------------------------------------
    def types(self) -> dict[str, str]:
        if self._types is None:
            try:
                self._types = {c: str(t) for c, t in zip(self._rel.columns, self._rel.types)}
            except duckdb.Error as e:
                raise _wrap(e, "reading the schema") from None
        return self._types

    def schema(self) -> dict[str, str]:
        return {c: kind_of(t) for c, t in self.types().items()}

    def categories(self, column: str) -> list[str] | None:
        """The levels of an ENUM column in their declared order (pandas categoricals)."""
        t = self.types().get(column, "")
        if not t.upper().startswith("ENUM"):
            return None
        out = self.fetch(f"SELECT enum_range(NULL::{t}) AS v").column("v").to_pylist()[0]
        return list(out)

    def check_columns(self, columns: list[str]) -> None:
        """Each column must be in every file, with one kind (numbers, text or logical)."""
        if not self._file_schemas:
            return
        for col in columns:
            missing = [f for f, s in self._file_schemas.items() if col not in s]
            if missing:
                shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
                raise BackendError(two_line(
                    f"column {col!r} is missing in {len(missing)} of "
                    f"{len(self._file_schemas)} files: {shown}",
                    "give every file the same columns, or select the files that have it"))
            kinds = {}
            for f, s in self._file_schemas.items():
                kinds.setdefault(kind_of(s[col]), []).append(f"{f} ({s[col]})")
            if len(kinds) > 1:
                shown = "; ".join(f"{k} in {v[0]}" for k, v in kinds.items())
                raise BackendError(two_line(
                    f"column {col!r} has conflicting types across files: {shown}",
                    "write the column with one type in every file (numbers or text)"))

    def _query(self, sql: str):
        return self._rel.query(self._view, sql)

    def fetch(self, sql: str):
        try:
            rel = self._query(sql)
            return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        except duckdb.Error as e:
            raise _wrap(e, f"reading {self.description}") from None

    def register(self, table) -> str:
        name = f"ml_tbl_{uuid.uuid4().hex[:10]}"
        _ml_arrow_input = table  # noqa: F841 - found by DuckDB's replacement scan
        try:
            # called here, in the frame that holds the variable
            self._rel.query(self._view,
                            f"CREATE TEMP TABLE {name} AS SELECT * FROM _ml_arrow_input")
        except duckdb.Error as e:
            raise _wrap(e, "registering the random effects") from None
        self._registered.append(name)
        return self.dialect.ident(name)

    def unregister(self, name: str) -> None:
        try:
            self._query(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:  # pragma: no cover - best effort
            pass

    def write(self, sql: str, to: str) -> str:
        fmt = output_format(to)
        try:
            with atomic_output(to, inputs=self.files or ()) as tmp:
                rel = self._query(sql)
                if fmt == "csv":
                    rel.write_csv(tmp, header=True)
                else:
                    rel.write_parquet(tmp)
        except duckdb.Error as e:
            raise _wrap(e, f"writing {to!r}") from None
        return os.fspath(to)

    def lazy(self, sql: str):
        try:
            return self._query(sql)
        except duckdb.Error as e:
            raise _wrap(e, "building the query") from None

    def interrupt(self) -> None:
        """Interrupt the running query (for sources opened from files or frames)."""
        if self._con is not None:
            self._con.interrupt()
