"""The command as a whole: help, version, usage errors, --debug."""
from __future__ import annotations

from cli_helpers import assert_one_error_line, run_cli


def test_help_lists_the_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("fit", "demo", "datasets"):
        assert command in proc.stdout
    assert "exit status" in proc.stdout


def test_each_command_has_help():
    for command in ("fit", "demo", "datasets"):
        proc = run_cli(command, "--help")
        assert proc.returncode == 0, command
        assert proc.stdout.startswith(f"usage: multilevel {command}")


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("multilevel ")


def test_no_command_is_a_usage_error():
    assert_one_error_line(run_cli(), 2)


def test_unknown_command_is_a_usage_error():
    line = assert_one_error_line(run_cli("frobnicate"), 2)
    assert "frobnicate" in line


def test_missing_required_option_is_a_usage_error():
    line = assert_one_error_line(run_cli("fit", "y ~ x"), 2)
    assert "--data" in line


def test_bad_choice_is_a_usage_error():
    line = assert_one_error_line(run_cli("fit", "y ~ x", "--data", "x.csv", "--format", "xml"), 2)
    assert "--format" in line


def test_ml_and_reml_exclude_each_other():
    assert_one_error_line(run_cli("fit", "y ~ x", "--data", "x.csv", "--ml", "--reml"), 2)


def test_debug_shows_the_traceback_in_either_position(tmp_path):
    missing = str(tmp_path / "missing.csv")
    for args in (["--debug", "fit", "y ~ x", "--data", missing],
                 ["fit", "y ~ x", "--data", missing, "--debug"]):
        proc = run_cli(*args)
        assert proc.returncode == 1
        assert "Traceback" in proc.stderr
        assert proc.stderr.rstrip().splitlines()[-1].startswith("error: no data file")
