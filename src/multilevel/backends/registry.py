"""String-keyed, lazy registry of data engines, and the dispatch from a data source to one.

Engines are named by strings (``"duckdb"``, ``"spark"``) and imported only when used, so that
``import multilevel`` never loads DuckDB or PySpark. A third party can add one with
:func:`register_engine`.
"""
from __future__ import annotations

import importlib
import os

from ..errors import BackendError, two_line

__all__ = ["register_engine", "engine_names", "engine_class", "is_source", "open_source"]

_ENGINES: dict[str, str] = {
    "duckdb": "multilevel.backends.duckdb:DuckDBTable",
    "spark": "multilevel.backends.spark:SparkTable",
}
_EXTRAS = {"duckdb": "duckdb", "spark": "spark"}


def register_engine(name: str, target: str) -> None:
    """Register an engine class by ``"module:Class"`` (imported on first use).

    The class must implement :class:`multilevel.backends.base.SqlTable` and have a
    classmethod ``from_source(data)``.

    Examples
    --------
    >>> register_engine("duckdb", "multilevel.backends.duckdb:DuckDBTable")
    >>> "duckdb" in engine_names()
    True
    """
    if ":" not in target:
        raise ValueError("target must be 'module:Class'")
    _ENGINES[name] = target


def engine_names() -> list[str]:
    """Names of the registered engines.

    Examples
    --------
    >>> engine_names()[:2]
    ['duckdb', 'spark']
    """
    return list(_ENGINES)


def engine_class(name: str):
    """The class registered under ``name``, imported now.

    Raises
    ------
    BackendError
        Unknown engine, or its library is not installed.
    """
    if name not in _ENGINES:
        raise BackendError(two_line(f"unknown engine {name!r}",
                                    f"use one of: {', '.join(engine_names())}"))
    module, cls = _ENGINES[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:
        extra = _EXTRAS.get(name, name)
        raise BackendError(two_line(
            f"engine {name!r} needs a library that is not installed ({e.name or e})",
            f"pip install 'multilevel[{extra}]'")) from None


def _is_in_memory(data) -> bool:
    if isinstance(data, dict):
        return True
    mod = type(data).__module__.split(".")[0]
    return mod in ("pandas", "polars")


def _native_engine(data) -> str | None:
    mod = type(data).__module__.split(".")[0]
    if mod == "pyspark":
        return "spark"
    if mod in ("duckdb", "_duckdb"):
        return "duckdb"
    if (isinstance(data, tuple) and len(data) == 2
            and type(data[0]).__module__.split(".")[0] in ("duckdb", "_duckdb")):
        return "duckdb"
    return None


def is_source(data, engine: str | None = None) -> bool:
    """Whether ``data`` is to be fitted out of core: a path, a glob, an engine's table, or any
    data with an ``engine`` named.

    Examples
    --------
    >>> import pandas as pd
    >>> is_source(pd.DataFrame({"y": [1.0]})), is_source("data/*.parquet")
    (False, True)
    >>> is_source(pd.DataFrame({"y": [1.0]}), engine="duckdb")
    True
    """
    if engine is not None:
        return True
    if _native_engine(data) is not None:
        return True
    if isinstance(data, (str, os.PathLike)):
        return True
    if isinstance(data, (list, tuple)) and data and all(
            isinstance(p, (str, os.PathLike)) for p in data):
        return True
    return False


def open_source(data, engine: str | None = None):
    """A :class:`~multilevel.backends.base.SqlTable` over ``data``.

    Parameters
    ----------
    data : path, glob, list of paths, DuckDB relation, (DuckDB connection, table name),
        Spark DataFrame, or an in-memory frame (with ``engine`` named)
    engine : {"duckdb", "spark"}, optional
        Default: Spark for Spark DataFrames, DuckDB otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> t = open_source(pd.DataFrame({"y": [1.0, 2.0]}), engine="duckdb")
    >>> t.schema()
    {'y': 'numeric'}
    """
    native = _native_engine(data)
    if engine is None:
        engine = native or "duckdb"
    if native is not None and native != engine:
        raise BackendError(two_line(
            f"a {native} table cannot be read by engine {engine!r}",
            f"pass engine={native!r} (or leave engine out)"))
    if engine not in _ENGINES:
        raise BackendError(two_line(f"unknown engine {engine!r}",
                                    f"use one of: {', '.join(engine_names())}"))
    if data is None or (not is_source(data) and not _is_in_memory(data)):
        raise BackendError(two_line(
            f"cannot read data of type {type(data).__name__} out of core",
            "pass a path or glob of Parquet/CSV files, a DuckDB relation, "
            "(connection, table name), or a Spark DataFrame"))
    return engine_class(engine).from_source(data)
