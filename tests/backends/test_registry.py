"""The engine registry: lazy imports, dispatch on the type of the data."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from multilevel.backends import engine_names, is_source, open_source
from multilevel.errors import BackendError


def test_import_multilevel_loads_no_engine():
    code = ("import sys, multilevel, multilevel.backends; "
            "print('duckdb' in sys.modules, 'pyspark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_dispatch_on_the_type_of_data():
    df = pd.DataFrame({"y": [1.0]})
    assert not is_source(df) and not is_source({"y": [1.0]})
    assert is_source(df, engine="duckdb")
    assert is_source("x.parquet") and is_source(["a.csv", "b.csv"])
    assert engine_names()[:2] == ["duckdb", "spark"]


def test_bad_data_type_is_a_clear_error():
    pytest.importorskip("duckdb")
    with pytest.raises(BackendError, match="cannot read data of type int"):
        open_source(42, engine="duckdb")
