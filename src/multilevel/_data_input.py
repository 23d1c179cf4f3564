"""One boundary for tables: pandas inside, polars and pyarrow (and dicts) accepted outside.

Every public function that takes data calls :func:`to_pandas` first; results stay pandas
(labelled objects), except :func:`multilevel.report.broom.augment`, which gives back the
input's kind (:func:`like_input`).
"""
from __future__ import annotations

import pandas as pd

from .errors import DataError, two_line

__all__ = ["to_pandas", "kind_of", "like_input"]

_FIX = ("pass a pandas DataFrame, a polars DataFrame, a pyarrow Table or a dict of "
        "equal-length arrays")


def kind_of(data) -> str:
    """``"pandas"``, ``"polars"``, ``"pyarrow"``, ``"dict"`` or ``"other"``.

    Examples
    --------
    >>> kind_of(pd.DataFrame()), kind_of({"a": [1]}), kind_of([1])
    ('pandas', 'dict', 'other')
    """
    if isinstance(data, pd.DataFrame):
        return "pandas"
    if isinstance(data, dict):
        return "dict"
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        return "polars"
    if module == "pyarrow":
        return "pyarrow"
    return "other"


def to_pandas(data, *, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (the same object when it already is one).

    polars DataFrames (and LazyFrames, collected) and pyarrow Tables/RecordBatches convert
    with their own ``to_pandas`` (categoricals/dictionaries become pandas categories, i64
    columns int64); a dict of columns becomes a DataFrame.

    Raises
    ------
    DataError
        For anything else (a list, an array, ...), saying what to pass.

    Examples
    --------
    >>> import polars as pl
    >>> to_pandas(pl.DataFrame({"math": [48, 52]}))["math"].dtype
    dtype('int64')
    >>> to_pandas([1, 2])
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: data must be a table, got list
      How to fix: pass a pandas DataFrame, a polars DataFrame, a pyarrow Table or a dict of equal-length arrays
    """
    kind = kind_of(data)
    if kind == "pandas":
        return data
    if kind == "polars":
        if hasattr(data, "collect") and not hasattr(data, "to_pandas"):  # LazyFrame
            data = data.collect()
        if hasattr(data, "to_pandas"):
            try:
                return data.to_pandas()
            except ModuleNotFoundError as e:  # polars needs pyarrow for to_pandas
                raise DataError(two_line(f"converting a polars table needs {e.name}",
                                         "pip install pyarrow")) from None
    if kind == "pyarrow" and hasattr(data, "to_pandas"):
        return data.to_pandas()
    if kind == "dict":
        try:
            return pd.DataFrame(data)
        except (ValueError, TypeError) as e:
            raise DataError(two_line(f"cannot make a table from the dict: {e}", _FIX)) from None
    if hasattr(data, "__dataframe__"):  # the dataframe interchange protocol
        return pd.api.interchange.from_dataframe(data)
    raise DataError(two_line(f"{what} must be a table, got {type(data).__name__}", _FIX))


def like_input(frame: pd.DataFrame, original):
    """``frame`` in the kind of ``original``: polars for polars, pyarrow for pyarrow, else
    pandas (the index is dropped for polars and pyarrow, which have none).

    Examples
    --------
    >>> import pyarrow as pa
    >>> type(like_input(pd.DataFrame({"a": [1]}), pa.table({"a": [0]}))).__name__
    'Table'
    """
    kind = kind_of(original)
    if kind == "polars":
        import polars as pl

        return pl.from_pandas(frame.reset_index(drop=True))
    if kind == "pyarrow":
        import pyarrow as pa

        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame
