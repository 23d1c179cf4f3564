"""Out-of-core data engines: DuckDB (embedded, files) and Spark (distributed).

A Gaussian linear mixed model needs its data only through the cross-products
``[Z X y]'[Z X y]``; an engine computes them where the data live, in one ``GROUP BY`` pass,
and the numerical core fits on the small result. Engines are optional and load lazily
(``pip install 'multilevel[duckdb]'`` / ``'multilevel[spark]'``).

Examples
--------
>>> import pandas as pd
>>> from multilevel.backends import open_source
>>> open_source(pd.DataFrame({"y": [1.0]}), engine="duckdb").engine
'duckdb'
"""
from __future__ import annotations

from .registry import engine_names, is_source, open_source, register_engine

__all__ = ["open_source", "is_source", "register_engine", "engine_names"]
