"""The same out-of-core fit through PySpark (local[2]); skipped without pyspark or Java."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import BackendError

# a JVM start and its warm-up take ~30 s: in the slow tier (pytest -m backend runs them)
pytestmark = [pytest.mark.backend, pytest.mark.slow]

F = "y ~ x + f * z + (1 + x | g) + (1 | item)"


@pytest.fixture(scope="module")
def sdf(spark, data_small):
    return spark.createDataFrame(data_small)


@pytest.fixture(scope="module")
def fits(sdf, data_small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.lmer(F, data_small), ml.lmer(F, sdf)


def test_spark_fit_equals_in_memory(fits):
    m0, m1 = fits
    assert m1.engine == "spark"
    assert m1.loglik == pytest.approx(m0.loglik, rel=1e-8)
    assert list(m1.fixef.index) == list(m0.fixef.index)
    np.testing.assert_allclose(m1.fixef, m0.fixef, atol=1e-6)
    r0, r1 = m0.ranef(), m1.ranef()
    pd.testing.assert_frame_equal(r1[["grpvar", "term", "grp"]], r0[["grpvar", "term", "grp"]])
    np.testing.assert_allclose(r1["condsd"], r0["condsd"], atol=1e-5)
    s0, s1 = str(m0.summary()).splitlines(), str(m1.summary()).splitlines()
    assert s1[3:] == s0[3:]  # all but the Data: line (the variable names differ)


def test_spark_augment_writes_a_folder(fits, tmp_path):
    m0, m1 = fits
    out = m1.augment(to=str(tmp_path / "fitted.parquet"), columns=["id"])
    got = pd.read_parquet(out).sort_values("id")
    np.testing.assert_allclose(got[".fitted"], m0.fitted, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["fitted.parquet"]


def test_spark_predict_and_path_source(fits, spark, parquet_glob, data_small):
    m0, m1 = fits
    pred = m1.predict(spark.createDataFrame(data_small.head(20)))
    got = pred.toPandas().sort_values("id") if hasattr(pred, "toPandas") else None
    np.testing.assert_allclose(got["predicted"], m0.predict(data_small.head(20)), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m2 = ml.lmer(F, parquet_glob, engine="spark")
    assert m2.loglik == pytest.approx(m0.loglik, rel=1e-8)


def test_spark_errors_are_clear(sdf):
    with pytest.raises(BackendError, match="cannot be read by engine"):
        ml.lmer(F, sdf, engine="duckdb")
    with pytest.raises(ml.DataError, match="not found"):
        ml.lmer("y ~ nope + (1 | g)", sdf)


def test_spark_files_with_a_missing_column(spark, tmp_path, data_small):
    data_small.iloc[:1000].to_parquet(tmp_path / "a.parquet", index=False)
    data_small.iloc[1000:].drop(columns="x").to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(BackendError, match="column 'x' is missing in 1 of 2 files"):
        ml.lmer("y ~ x + (1 | g)", str(tmp_path / "*.parquet"), engine="spark")


def test_spark_transforms_na_and_weights(spark, data_na):
    df = data_na.assign(w=np.linspace(0.5, 2.0, len(data_na)), z0=data_na["z"] - 1.0)
    f = "y ~ log(z) + I(x^2) + x / z + log1p(z0) + scale(z) + f + offset(0.1 * x) + (1 | g)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m0 = ml.lmer(f, df, weights="w")
        m1 = ml.lmer(f, spark.createDataFrame(df), weights="w")
    assert m1.design.n_dropped == m0.design.n_dropped > 0
    assert m1.loglik == pytest.approx(m0.loglik, rel=1e-8)
    np.testing.assert_allclose(m1.fixef, m0.fixef, atol=1e-6)
