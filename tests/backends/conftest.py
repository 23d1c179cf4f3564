"""Fixtures for the out-of-core engines: synthetic data written as Parquet/CSV, Spark."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest


def make_data(n: int, n_groups: int = 50, n_items: int = 12, seed: int = 1,
              na: bool = False) -> pd.DataFrame:
    """y ~ x + f * z + (1 + x | g) + (1 | item), with a text factor, an integer group id and
    (optionally) missing values in y, x, f and g."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    item = rng.integers(0, n_items, n)
    x = rng.normal(size=n)
    z = rng.uniform(1, 3, size=n)
    f = rng.choice(np.array(["lo", "mid", "hi"]), size=n)
    u0 = rng.normal(scale=0.8, size=n_groups)
    u1 = rng.normal(scale=0.3, size=n_groups)
    v = rng.normal(scale=0.5, size=n_items)
    y = (1.0 + 0.5 * x + 0.3 * z + (f == "hi") * 0.4 + u0[g] + u1[g] * x + v[item]
         + rng.normal(size=n))
    df = pd.DataFrame({"id": np.arange(n), "y": y, "x": x, "z": z, "f": f,
                       "g": g.astype(np.int64), "item": np.char.add("i", item.astype(str))})
    if na:
        df.loc[rng.choice(n, 7, replace=False), "y"] = np.nan
        df.loc[rng.choice(n, 5, replace=False), "x"] = np.nan
        df["f"] = df["f"].astype(object)
        df.loc[rng.choice(n, 3, replace=False), "f"] = None
        df["g"] = df["g"].astype("float64")
        df.loc[rng.choice(n, 4, replace=False), "g"] = np.nan
    return df


def write_parquet_parts(df: pd.DataFrame, folder, parts: int) -> str:
    os.makedirs(folder, exist_ok=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(df)), parts)):
        df.iloc[chunk].to_parquet(os.path.join(folder, f"part-{i:03d}.parquet"), index=False)
    return os.path.join(str(folder), "*.parquet")


@pytest.fixture(scope="session")
def data_small() -> pd.DataFrame:
    return make_data(3000)


@pytest.fixture(scope="session")
def data_na() -> pd.DataFrame:
    return make_data(2000, seed=7, na=True)


@pytest.fixture(scope="session")
def parquet_glob(tmp_path_factory, data_small) -> str:
    return write_parquet_parts(data_small, tmp_path_factory.mktemp("pq"), 3)


@pytest.fixture(scope="session")
def spark():
    """A local[2] Spark session, started once (skipped without pyspark or Java)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install "
                                          "'multilevel[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java, which is not installed")
    import warnings

    from pyspark.sql import SparkSession

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = (SparkSession.builder.master("local[2]").appName("multilevel-tests")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.driver.memory", "1g")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def make():
    """The data generator, for tests that need their own data."""
    return make_data


@pytest.fixture(scope="session")
def write_parts():
    return write_parquet_parts
