"""Cluster storage paths go to Spark as they are; DuckDB keeps ml.read's scheme rules."""
import pytest

from multilevel.backends.base import cluster_paths
from multilevel.errors import BackendError, MultilevelError


@pytest.mark.parametrize("path", ["hdfs://nn:8020/w/t", "s3a://bucket/t/", "abfss://c@a.dfs/t",
                                  "gs://b/t.parquet", "dbfs:/mnt/t"])
def test_cluster_paths_are_spark_native(path):
    assert cluster_paths(path) == ([path], "parquet")


def test_csv_and_mixed_formats():
    assert cluster_paths(("s3a://b/x.csv",))[1] == "csv"
    with pytest.raises(BackendError, match="mix CSV and Parquet"):
        cluster_paths(["s3a://b/x.csv", "s3a://b/y.parquet"])


@pytest.mark.parametrize("data", ["data/*.parquet", "file:///tmp/x.parquet", "s3://b/x.parquet",
                                  ["hdfs://nn/a", "local.parquet"], [], 3])
def test_anything_else_is_not_cluster_storage(data):
    assert cluster_paths(data) is None


def test_duckdb_still_refuses_cluster_schemes():
    pytest.importorskip("duckdb")
    from multilevel.backends.duckdb import resolve_files

    with pytest.raises(MultilevelError):
        resolve_files("hdfs://nn/warehouse/t.parquet")
