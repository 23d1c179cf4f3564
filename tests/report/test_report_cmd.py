"""``multilevel report`` and the report written by ``multilevel demo``."""
from __future__ import annotations

import re

import pytest

import multilevel as ml
from multilevel.cli.main import main


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "sleep.csv"
    ml.datasets.load("sleepstudy").to_csv(path, index=False)
    return path


def test_report_command_writes_the_page(csv, tmp_path, capsys):
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    rc = main(["report", "--data", str(csv), "--formula", "Reaction ~ Days",
               "-f", "Reaction ~ Days + (1 | Subject)", "-o", str(out), "--title", "Sleep"])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert re.fullmatch(rf"wrote {re.escape(str(out.resolve()))} \(2 models, \d+ figures\)\n",
                        stdout)
    page = out.read_text(encoding="utf-8")
    assert "<title>Sleep</title>" in page and "Data: <code>sleep</code>" in page
    assert "Data: sleep" in page                      # the summaries name the file's data


def test_report_command_on_a_bundled_dataset_with_names(tmp_path, capsys):
    out = tmp_path / "r.html"
    rc = main(["report", "--data", "sleepstudy", "-f", "Reaction ~ Days + (Days | Subject)",
               "--name", "Random slopes", "--reml", "-o", str(out), "--images", "svg"])
    assert rc == 0
    page = out.read_text(encoding="utf-8")
    assert "Random slopes" in page and "fit by REML" in page and "image/svg+xml" in page


def test_report_command_errors_are_one_line(csv, tmp_path, capsys):
    assert main(["report", "--data", str(tmp_path / "nope.csv"), "-f", "y ~ x"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no data file")
    assert main(["report", "--data", str(csv), "-f", "Reaction ~ Days", "--group", "school",
                 "-o", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column 'school'" in err[0]
    with pytest.raises(SystemExit) as info:
        main(["report", "--data", str(csv)])
    assert info.value.code == 2


def test_failing_formula_still_writes_the_rest(csv, tmp_path, capsys):
    out = tmp_path / "r.html"
    rc = main(["report", "--data", str(csv), "-f", "Reaction ~ Days",
               "-f", "Reaction ~ nope + (1 | Subject)", "-o", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Model 2 (Reaction ~ nope + (1 | Subject)):")
    assert "could not be fitted" in out.read_text(encoding="utf-8")


def test_demo_writes_the_report_and_says_where(tmp_path, capsys):
    out = tmp_path / "demo.html"
    rc = main(["demo", "--data", "sleepstudy", "--y", "Reaction", "--x", "Days",
               "--group", "Subject", "--report", str(out)])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert str(out.resolve()) in stdout
    page = out.read_text(encoding="utf-8")
    assert "Model 4. Random intercept and random slope" in page
    assert page.count('class="ml-intro"') == 4
    rc = main(["demo", "--data", "sleepstudy", "--y", "Reaction", "--x", "Days",
               "--group", "Subject", "--no-report"])
    assert rc == 0 and "The report with" not in capsys.readouterr().out
