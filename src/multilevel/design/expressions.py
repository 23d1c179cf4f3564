"""Numeric columns given as simple expressions of the data's columns (``log(conc)``,
``age / 365``), as the response and input of :func:`multilevel.nlmer` are written."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import DataError, two_line

_NUMPY_FUNS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "log10": np.log10,
               "log2": np.log2, "abs": np.abs, "I": lambda v: v}


def eval_column(expr: str, df: pd.DataFrame, what: str) -> np.ndarray:
    """A numeric column, or a simple expression of columns (``log(conc)``, ``age / 365``).

    Examples
    --------
    >>> eval_column("log(x)", pd.DataFrame({"x": [1.0]}), "input").tolist()
    [0.0]
    """
    expr = expr.strip()
    if expr in df.columns:
        s = df[expr]
    else:
        names = set(re.findall(r"[A-Za-z.][A-Za-z0-9._]*", expr)) - set(_NUMPY_FUNS)
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise DataError(two_line(f"{what} {expr!r}: column {missing[0]!r} not in the data",
                                     f"the data have columns {', '.join(map(str, df.columns))}"))
        env = {n: df[n].to_numpy(dtype=float) for n in names}
        env.update(_NUMPY_FUNS)
        try:
            value = eval(expr.replace("^", "**"), {"__builtins__": {}}, env)  # noqa: S307
            s = pd.Series(np.asarray(value, dtype=float))
        except Exception as e:  # noqa: BLE001
            raise DataError(two_line(f"{what} {expr!r} cannot be evaluated: {e}",
                                     "use a numeric column or a simple expression of columns"))
    try:
        return np.asarray(s, dtype=float).reshape(-1) * np.ones(len(df))
    except (TypeError, ValueError):
        raise DataError(two_line(f"{what} {expr!r} is not numeric",
                                 "convert the column to numbers")) from None
