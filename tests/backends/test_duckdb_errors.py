"""Bad sources and failures of the engine: clear errors, nothing written half-way."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import BackendError, DataError

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
pytestmark = pytest.mark.backend


def test_missing_source():
    with pytest.raises(BackendError, match="no file matches") as e:
        ml.lmer("y ~ x + (1 | g)", "/no/such/dir/*.parquet")
    assert "How to fix" in str(e.value)


def test_column_missing_in_some_files(tmp_path, data_small):
    data_small.iloc[:1000].to_parquet(tmp_path / "a.parquet", index=False)
    data_small.iloc[1000:].drop(columns="x").to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(BackendError, match=r"column 'x' is missing in 1 of 2 files: .*b\.parquet"):
        ml.lmer("y ~ x + (1 | g)", str(tmp_path / "*.parquet"))


def test_column_missing_everywhere_suggests_names(parquet_glob):
    with pytest.raises(DataError, match="did you mean 'x'"):
        ml.lmer("y ~ xx + (1 | g)", parquet_glob)


def test_schema_type_conflict(tmp_path, data_small):
    data_small.iloc[:1000].to_parquet(tmp_path / "a.parquet", index=False)
    data_small.iloc[1000:].assign(x=lambda d: d["x"].astype(str)).to_parquet(
        tmp_path / "b.parquet", index=False)
    with pytest.raises(BackendError, match="conflicting types across files"):
        ml.lmer("y ~ x + (1 | g)", str(tmp_path / "*.parquet"))


def test_unsupported_out_of_core(data_small):
    with pytest.raises(BackendError, match="raw = TRUE"):
        ml.lmer("y ~ poly(x, 2) + (1 | g)", data_small, engine="duckdb")
    m = ml.lmer("y ~ poly(x, 2, raw = TRUE) + (1 | g)", data_small, engine="duckdb")
    m0 = ml.lmer("y ~ poly(x, 2, raw = TRUE) + (1 | g)", data_small)
    assert m.loglik == pytest.approx(m0.loglik, rel=1e-8)


def test_glmm_needs_data_in_memory():
    from multilevel.fit.lmer_source import require_in_memory

    with pytest.raises(BackendError, match="needs the data in memory"):
        require_in_memory("data/*.parquet")
    require_in_memory(pd.DataFrame({"y": [1.0]}))  # in-memory data pass


def test_text_response_and_infinite_values(data_small):
    with pytest.raises(DataError, match="is not numeric"):
        ml.lmer("f ~ x + (1 | g)", data_small, engine="duckdb")
    bad = data_small.assign(z=data_small["z"] - data_small["z"].min())
    with pytest.raises(DataError, match="infinite value"):
        ml.lmer("y ~ log(z) + (1 | g)", bad, engine="duckdb")


def _slow_relation(con):
    # ~2e8 rows made on the fly: long enough to interrupt
    return con.sql("SELECT random() AS y, random() AS x, (range % 1000) AS g "
                   "FROM range(200000000)")


def test_interrupted_engine_is_a_clear_error():
    con = duckdb.connect()
    rel = _slow_relation(con)
    timer = threading.Timer(0.5, con.interrupt)
    timer.start()
    t0 = time.time()
    with pytest.raises(BackendError, match="interrupted"):
        ml.lmer("y ~ x + (1 | g)", rel)
    timer.cancel()
    assert time.time() - t0 < 30


def test_interrupted_write_leaves_nothing(tmp_path, data_small):
    con = duckdb.connect()
    con.register("frame", data_small)
    m = ml.lmer("y ~ x + (1 | g)", con.sql("SELECT * FROM frame"))
    # swap in a slow source for the same fit: the write is interrupted half-way
    slow = con.sql("SELECT s.* FROM frame AS s, range(20000)")
    m.table._rel = slow
    target = tmp_path / "out.parquet"
    timer = threading.Timer(0.5, con.interrupt)
    timer.start()
    with pytest.raises(BackendError, match="interrupted"):
        m.augment(to=str(target))
    timer.cancel()
    assert os.listdir(tmp_path) == []


def test_output_format_and_folder_are_checked(data_small, tmp_path):
    m = ml.lmer("y ~ x + (1 | g)", data_small, engine="duckdb")
    with pytest.raises(BackendError, match="output format"):
        m.augment(to=str(tmp_path / "out.xlsx"))
    with pytest.raises(BackendError, match="does not exist"):
        m.augment(to=str(tmp_path / "nope" / "out.parquet"))


def test_unknown_engine(data_small):
    with pytest.raises(BackendError, match="unknown engine"):
        ml.lmer("y ~ x + (1 | g)", data_small, engine="polars")


def test_glmer_on_a_source_says_it_needs_memory(parquet_glob):
    with pytest.raises(BackendError, match="glmer needs the data in memory"):
        ml.glmer("y ~ x + (1 | g)", parquet_glob, family="poisson")
