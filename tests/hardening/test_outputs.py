"""Never write over an input; every output is written atomically; folders checked first."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import multilevel as ml
from multilevel._validate import atomic_path, atomic_write_text, output_path
from multilevel.errors import DataError, MultilevelError

FORMULA = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture()
def sleep_csv(tmp_path) -> Path:
    path = tmp_path / "sleep.csv"
    ml.datasets.load("sleepstudy").to_csv(path, index=False)
    return path


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(Path(ml.__file__).parents[1]))
    return subprocess.run([sys.executable, "-m", "multilevel", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_cli_report_refuses_to_overwrite_its_data(sleep_csv):
    before = sleep_csv.read_bytes()
    r = _cli("report", "--data", str(sleep_csv), "-f", FORMULA, "-o", str(sleep_csv), "-q")
    assert r.returncode != 0
    assert "overwrite the input file" in r.stderr
    assert sleep_csv.read_bytes() == before


def test_cli_report_refuses_a_link_or_other_spelling_of_the_data(sleep_csv, tmp_path):
    before = sleep_csv.read_bytes()
    link = tmp_path / "link.html"
    link.symlink_to(sleep_csv)
    other = tmp_path / "sub" / ".." / "sleep.csv"
    (tmp_path / "sub").mkdir()
    for out in (link, other):
        r = _cli("report", "--data", str(sleep_csv), "-f", FORMULA, "-o", str(out), "-q")
        assert r.returncode != 0 and "overwrite the input file" in r.stderr
    assert sleep_csv.read_bytes() == before


def test_cli_report_into_a_missing_folder_fails_fast(sleep_csv, tmp_path):
    r = _cli("report", "--data", str(sleep_csv), "-f", FORMULA,
             "-o", str(tmp_path / "nope" / "r.html"), "-q")
    assert r.returncode != 0 and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr


def test_api_report_refuses_the_data_file_and_checks_the_folder_before_fitting(sleep_csv,
                                                                                monkeypatch):
    frame = ml.read(sleep_csv)
    calls = []
    monkeypatch.setattr(ml, "lmer", lambda *a, **k: calls.append(a))
    with pytest.raises(DataError, match="overwrite the input file"):
        ml.report([FORMULA], data=frame, path=sleep_csv)
    with pytest.raises(DataError, match="does not exist"):
        ml.report([FORMULA], data=frame, path=sleep_csv.parent / "missing" / "r.html")
    assert calls == []
    assert sleep_csv.read_text().startswith("Reaction")


def test_augment_to_refuses_the_data_file(sleep_csv):
    frame = ml.read(sleep_csv)
    m = ml.lmer(FORMULA, frame)
    before = sleep_csv.read_bytes()
    with pytest.raises(MultilevelError, match="overwrite the input file"):
        m.augment(frame, to=str(sleep_csv))
    assert sleep_csv.read_bytes() == before


@pytest.mark.backend
def test_out_of_core_augment_refuses_its_source_file_and_folder(tmp_path):
    pytest.importorskip("duckdb")
    folder = tmp_path / "parts"
    folder.mkdir()
    src = folder / "sleep.parquet"
    ml.datasets.load("sleepstudy").to_parquet(src)
    m = ml.lmer(FORMULA, str(src))
    before = src.read_bytes()
    for to in (str(src), str(folder)):
        with pytest.raises(MultilevelError, match="overwrite the input file"):
            m.augment(to=to)
    assert src.read_bytes() == before
    m2 = ml.lmer(FORMULA, str(folder))
    with pytest.raises(MultilevelError, match="overwrite the input file"):
        m2.augment(to=str(folder))
    assert src.read_bytes() == before


def test_output_path_refuses_folders_pipes_and_bad_types(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        output_path(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        output_path(fifo)
    with pytest.raises(DataError, match="must be a file name"):
        output_path(3)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_datasets_export_is_atomic_and_checks_the_folder(tmp_path):
    out = tmp_path / "s.csv.gz"
    r = _cli("datasets", "export", "sleepstudy", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 180
    r = _cli("datasets", "export", "sleepstudy", "-o", str(tmp_path / "no" / "s.csv"))
    assert r.returncode != 0 and "does not exist" in r.stderr
