"""``multilevel fit``: summaries, JSON and Markdown output, data files, errors."""
from __future__ import annotations

import json

import pytest

import multilevel as ml
from cli_helpers import assert_one_error_line, reference, run_cli

SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_text_summary_equals_the_api_summary():
    proc = run_cli("fit", SLEEP, "--data", "sleepstudy")
    assert proc.returncode == 0, proc.stderr
    model = ml.lmer(SLEEP, ml.datasets.load("sleepstudy"), data_name="sleepstudy")
    assert proc.stdout == str(model.summary(digits=7)) + "\n"
    assert "Linear mixed model fit by REML" in proc.stdout
    assert "Data: sleepstudy" in proc.stdout


def test_digits_and_ml_reach_the_summary():
    proc = run_cli("fit", SLEEP, "--data", "sleepstudy", "--ml", "--digits", "3")
    assert proc.returncode == 0, proc.stderr
    model = ml.lmer(SLEEP, ml.datasets.load("sleepstudy"), reml=False, data_name="sleepstudy")
    assert proc.stdout == str(model.summary(digits=3)) + "\n"
    assert "maximum likelihood" in proc.stdout


def test_json_output_matches_lme4():
    proc = run_cli("fit", SLEEP, "--data", "sleepstudy", "--ml", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"fixef", "se", "varcorr", "loglik", "aic", "bic", "sigma", "nobs",
                        "ngrps"}
    assert out["model"] == "lmer" and out["reml"] is False
    assert out["nobs"] == 180 and out["ngrps"] == {"Subject": 18}
    assert [(r["grp"], r["var1"], r["var2"]) for r in out["varcorr"]] == [
        ("Subject", "(Intercept)", None), ("Subject", "Days", None),
        ("Subject", "(Intercept)", "Days"), ("Residual", None, None)]
    ref = reference("sleepstudy_corr_ml")
    assert out["loglik"] == pytest.approx(ref["logLik"], abs=1e-6)
    assert out["aic"] == pytest.approx(ref["AIC"], abs=1e-5)
    assert out["bic"] == pytest.approx(ref["BIC"], abs=1e-5)
    assert out["sigma"] == pytest.approx(ref["sigma"], rel=1e-5)
    assert out["fixef"] == pytest.approx(ref["fixef"], rel=1e-5)
    assert out["se"] == pytest.approx(ref["fixef_se"], rel=1e-4)


def test_json_for_lm_has_no_random_effects(imm10_csv):
    proc = run_cli("fit", "math ~ homework", "--data", str(imm10_csv), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    ref = reference("imm10_lm1")
    assert out["model"] == "lm" and out["reml"] is None
    assert out["varcorr"] == [] and out["ngrps"] == {}
    assert out["fixef"] == pytest.approx(ref["coefficients"], rel=1e-8)
    assert out["se"] == pytest.approx(ref["coef_se"], rel=1e-8)
    assert out["loglik"] == pytest.approx(ref["logLik"], rel=1e-10)


def test_markdown_output():
    proc = run_cli("fit", SLEEP, "--data", "sleepstudy", "--format", "markdown", "--digits", "4")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    assert md.startswith("## Linear mixed model fit by REML")
    assert "### Random effects" in md and "### Fixed effects" in md
    assert "| `(Intercept)` | 251.4 | 6.825 | 36.84 |" in md
    assert "| `Days` | 10.47 | 1.546 | 6.771 |" in md


def test_lesson_model_on_a_csv_file_shows_the_file_stem(imm10_csv):
    proc = run_cli("fit", "math ~ homework + (homework | schnum)", "--data", "imm10.csv",
                   "--ml", "--digits", "3", cwd=imm10_csv.parent)
    assert proc.returncode == 0, proc.stderr
    assert "   Data: imm10\n" in proc.stdout
    assert "-885" in proc.stdout


def test_lm_call_line_names_the_file(tmp_path):
    path = tmp_path / "my-sleep.csv"
    ml.datasets.load("sleepstudy").to_csv(path, index=False)
    proc = run_cli("fit", "Reaction ~ Days", "--data", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "lm(formula = Reaction ~ Days, data = my-sleep)" in proc.stdout


@pytest.mark.parametrize(("filename", "sep"), [("s.tsv", "\t"), ("s.csv.gz", ","),
                                                ("s.tsv.gz", "\t"), ("s.txt", ";")])
def test_delimited_and_compressed_files(tmp_path, filename, sep):
    path = tmp_path / filename
    ml.datasets.load("sleepstudy").to_csv(path, index=False, sep=sep)
    proc = run_cli("fit", SLEEP, "--data", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["data"] == "s" and out["nobs"] == 180
    assert out["fixef"]["Days"] == pytest.approx(10.46729, rel=1e-5)


def test_singular_fit_warns_on_stderr():
    proc = run_cli("fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff2")
    assert proc.returncode == 0, proc.stderr
    assert "warning: boundary (singular) fit" in proc.stderr


# ---- errors: exit status 1 and one line on stderr ---------------------------------------------

def test_missing_file(tmp_path):
    line = assert_one_error_line(
        run_cli("fit", "y ~ x", "--data", str(tmp_path / "nope.csv")), 1)
    assert "nope.csv" in line


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "empty" in assert_one_error_line(run_cli("fit", "y ~ x", "--data", str(path)), 1)


def test_corrupt_file_names_file_and_format(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1")
    line = assert_one_error_line(run_cli("fit", "y ~ x", "--data", str(path)), 1)
    assert "d.parquet" in line and "arquet" in line


def test_parquet_data(tmp_path):
    pytest.importorskip("pyarrow")
    import multilevel as ml

    path = tmp_path / "sleep.parquet"
    ml.datasets.load("sleepstudy").to_parquet(path)
    out = run_cli("fit", "Reaction ~ Days + (1 | Subject)", "--data", str(path))
    assert out.returncode == 0, out.stderr
    assert "Data: sleep" in out.stdout


def test_unknown_column():
    line = assert_one_error_line(
        run_cli("fit", "Reaction ~ Dayz + (1 | Subject)", "--data", "sleepstudy"), 1)
    assert "Dayz" in line


def test_malformed_formula():
    assert_one_error_line(
        run_cli("fit", "Reaction ~ Days + (1 | Subject", "--data", "sleepstudy"), 1)
