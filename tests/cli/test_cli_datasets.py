"""``multilevel datasets list|show|export``."""
from __future__ import annotations

import pandas as pd

import multilevel.datasets as datasets
from cli_helpers import assert_one_error_line, run_cli


def test_list_names_every_dataset():
    proc = run_cli("datasets", "list")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert listed == datasets.names() + datasets.remote_names()
    assert "downloaded on first use" in proc.stdout.splitlines()[-1]


def test_show_gives_types_and_levels():
    proc = run_cli("datasets", "show", "SLEEPSTUDY")
    assert proc.returncode == 0
    assert proc.stdout.startswith("sleepstudy: ")
    assert "Subject   factor with 18 levels: 308, 309, 310" in proc.stdout
    assert "Reaction  numeric" in proc.stdout


def test_show_unknown_suggests_a_name():
    line = assert_one_error_line(run_cli("datasets", "show", "sleepstudi"), 1)
    assert "did you mean 'sleepstudy'" in line


def test_export_to_csv_round_trips(tmp_path):
    out = tmp_path / "penicillin.csv"
    proc = run_cli("datasets", "export", "Penicillin", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    back = pd.read_csv(out)
    expected = datasets.load("Penicillin")
    assert list(back.columns) == list(expected.columns)
    assert back["plate"].astype(str).tolist() == expected["plate"].astype(str).tolist()
    assert back["diameter"].tolist() == expected["diameter"].tolist()


def test_export_tsv_gz(tmp_path):
    out = tmp_path / "dye.tsv.gz"
    assert run_cli("datasets", "export", "dyestuff", "-o", str(out)).returncode == 0
    back = pd.read_csv(out, sep="\t")
    assert back.shape == (30, 2)


def test_export_to_stdout():
    proc = run_cli("datasets", "export", "Dyestuff")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "Batch,Yield"
    assert len(lines) == 31


def test_export_to_a_missing_folder_is_a_data_error(tmp_path):
    target = tmp_path / "no" / "such" / "dir.csv"
    assert_one_error_line(run_cli("datasets", "export", "cake", "-o", str(target)), 1)


def test_datasets_without_action_is_a_usage_error():
    assert_one_error_line(run_cli("datasets"), 2)
