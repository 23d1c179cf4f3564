"""An unquoted formula split by the shell gets a hint to quote it; --data help lists formats."""
from __future__ import annotations

import pytest

from cli_helpers import assert_one_error_line, run_cli
from multilevel.cli.main import main
from multilevel.io.readers import FORMATS


@pytest.mark.parametrize("words", [["math", "/home/ann", "homework"],      # ~ -> $HOME
                                   ["math", "~", "homework"],              # not expanded
                                   ["math", "/home/ann", "homework", "+", "ses"]])
def test_split_formula_says_to_quote_it(words, monkeypatch, capsys):
    monkeypatch.setenv("HOME", "/home/ann")
    assert main(["fit", *words, "--data", "imm10.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    formula = " ".join("~" if w == "/home/ann" else w for w in words)
    assert f'quote the formula: "{formula}"' in err
    if "/home/ann" in words:
        assert "home folder" in err


def test_split_formula_in_report_command(monkeypatch, capsys):
    monkeypatch.setenv("HOME", "/home/ann")
    assert main(["report", "--data", "x.csv", "-f", "math", "/home/ann", "homework"]) == 2
    assert 'quote the formula: "math ~ homework"' in capsys.readouterr().err


def test_other_stray_words_keep_argparses_message():
    line = assert_one_error_line(run_cli("fit", "y", "x", "--data", "sleepstudy"), 2)
    assert "unrecognized arguments: x" in line


@pytest.mark.parametrize("command", ["fit", "report", "demo"])
def test_data_help_lists_every_format(command):
    out = " ".join(run_cli(command, "--help").stdout.split())
    for suffixes in FORMATS.values():
        for suffix in suffixes:
            assert suffix in out, (command, suffix)
    assert "http(s) URL" in out and ".gz" in out
