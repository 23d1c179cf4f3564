"""Bundled datasets: every name loads with R's column types and level order."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from multilevel.errors import DataError
from multilevel.io import datasets

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _reference_columns() -> dict[str, list[dict]]:
    """``dataset.columns`` of the lme4 reference JSON, by dataset name (empty without shared/)."""
    out: dict[str, list[dict]] = {}
    for path in sorted((SHARED / "reference").glob("*.json")):
        ds = json.loads(path.read_text())["dataset"]
        out.setdefault(ds["name"], ds["columns"])
    return out


REFERENCE = _reference_columns()
needs_shared = pytest.mark.skipif(not REFERENCE, reason="../shared/reference not present")


def test_names_lists_every_bundled_file():
    bundled = {p.name.removesuffix(".csv.gz") for p in datasets._DATA_DIR.glob("*.csv.gz")}
    assert set(datasets.names()) == bundled
    assert "imm10" not in {n.lower() for n in datasets.names()}


@pytest.mark.parametrize("name", datasets.names())
def test_every_dataset_loads(name):
    frame = datasets.load(name)
    entry = datasets._TABLE[name]
    assert frame.shape == (entry.nrow, entry.ncol)
    assert list(frame.columns) == list(entry.columns)
    assert not frame.isna().any().any()


@needs_shared
@pytest.mark.parametrize("name", datasets.names())
def test_column_types_match_reference(name):
    frame = datasets.load(name)
    reference = REFERENCE[name]
    assert list(frame.columns) == [c["name"] for c in reference]
    for col in reference:
        series = frame[col["name"]]
        if col["type"] == "factor":
            assert isinstance(series.dtype, pd.CategoricalDtype), col["name"]
            assert not series.cat.ordered
            assert list(series.cat.categories) == col["levels"], col["name"]
        elif col["type"] == "integer":
            assert series.dtype == "int64", col["name"]
        else:
            assert series.dtype == "float64", col["name"]


@needs_shared
@pytest.mark.parametrize("name", datasets.names())
def test_values_equal_shared_csv(name):
    raw = pd.read_csv(SHARED / "data" / f"{name}.csv")
    frame = datasets.load(name)
    for col in raw.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            assert frame[col].astype(str).tolist() == raw[col].astype(str).tolist()
        else:
            assert frame[col].to_numpy().tolist() == raw[col].to_numpy().tolist()


@pytest.mark.parametrize("spelling", ["sleepstudy", "SleepStudy", "SLEEPSTUDY", " sleepstudy "])
def test_names_are_case_insensitive(spelling):
    assert datasets.load(spelling).shape == (180, 3)


def test_load_returns_a_fresh_copy():
    first = datasets.load("Dyestuff")
    first.loc[0, "Yield"] = -1.0
    assert datasets.load("Dyestuff").loc[0, "Yield"] == 1545.0


def test_unknown_name_suggests_closest():
    with pytest.raises(DataError, match="did you mean 'sleepstudy'"):
        datasets.load("sleepstudi")


def test_unknown_name_without_close_match_lists_names():
    with pytest.raises(DataError, match="choose one of .*Dyestuff"):
        datasets.load("qqqqqq")


def test_describe_is_one_line_with_source():
    text = datasets.describe("exam")
    assert text.startswith("Exam: ")
    assert "\n" not in text
    assert "mlmRev" in text and "4059 rows" in text


def test_public_reexport():
    import multilevel.datasets as public

    assert public.load is datasets.load
    assert public.names is datasets.names
    assert public.describe is datasets.describe
