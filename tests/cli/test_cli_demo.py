"""``multilevel demo``: the lesson's six models."""
from __future__ import annotations

import re
import shutil

from cli_helpers import assert_one_error_line, reference, run_cli
from multilevel.cli.demo_cmd import EXAM, Roles, plan

# The demo's HTML report has its own tests; here it is switched off so that no file is written.
LESSON = ["--y", "math", "--x", "homework", "--group", "schnum", "--level2", "meanses",
          "--level1", "ses"]


def test_plan_on_exam_defaults():
    steps = plan(Roles(**EXAM))
    assert [s.formula for s in steps] == [
        "normexam ~ standLRT",
        "normexam ~ standLRT + as.factor(school)",
        "normexam ~ standLRT + (1 | school)",
        "normexam ~ standLRT + (standLRT | school)",
        "normexam ~ standLRT + sex + schavg + (standLRT | school)",
        "normexam ~ standLRT + sex + schavg + (1 | schgend/school)",
    ]
    assert all(s.assumes.endswith(".") and "\n" not in s.assumes for s in steps)


def test_plan_skips_what_has_no_columns():
    steps = plan(Roles(y="y", x="x", group="g"))
    assert [s.number for s in steps if s.formula is None] == [5, 6]


def test_default_demo_runs_on_exam_offline(tmp_path):
    proc = run_cli("demo", "--no-report", env_extra={"MULTILEVEL_DATA": str(tmp_path),
                                                     "MULTILEVEL_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "imm10 data is not available" in proc.stderr
    out = proc.stdout
    assert re.findall(r"^Model (\d)\. ", out, flags=re.M) == list("123456")
    assert out.count("  Assumes: ") == 6
    assert "Formula: normexam ~ standLRT + sex + schavg + (1 | schgend/school)" in out
    assert "   Data: Exam" in out
    assert "maximum likelihood" in out


def test_default_demo_runs_the_lesson_on_imm10_when_available(imm10_csv, tmp_path):
    shutil.copy(imm10_csv, tmp_path / "imm10.csv")      # a local copy in $MULTILEVEL_DATA
    proc = run_cli("demo", "--no-report", env_extra={"MULTILEVEL_DATA": str(tmp_path),
                                                     "MULTILEVEL_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "The multilevel lesson on its own data, imm10" in out
    for case in ("imm10_lm1", "imm10_m3_ml", "imm10_m4_ml", "imm10_m5_ml"):
        assert reference(case)["summary_text_digits3"].strip() in out, case
    assert "math ~ homework + ses + meanses + (1 | region/schnum)" in out


def test_lesson_on_imm10_reproduces_the_lessons_summaries(imm10_csv):
    proc = run_cli("demo", "--data", "imm10.csv", *LESSON, "--no-report", cwd=imm10_csv.parent)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Model 6. A third level: skipped (no --level3 column given)" in out
    # lme4's own printout (options(digits = 3)) of the lesson's models appears verbatim
    for case in ("imm10_lm1", "imm10_lm2", "imm10_m3_ml", "imm10_m4_ml", "imm10_m5_ml"):
        assert reference(case)["summary_text_digits3"].strip() in out, case


def test_third_level_on_imm10(imm10_csv):
    proc = run_cli("demo", "--data", str(imm10_csv), *LESSON, "--level3", "region",
                   "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert "math ~ homework + ses + meanses + (1 | region/schnum)" in proc.stdout
    assert "warning: model 6: boundary (singular) fit" in proc.stderr


def test_data_needs_the_column_roles(imm10_csv):
    line = assert_one_error_line(run_cli("demo", "--data", str(imm10_csv), "--y", "math"), 2)
    assert "--x" in line and "--group" in line


def test_unknown_column_is_a_data_error(imm10_csv):
    line = assert_one_error_line(
        run_cli("demo", "--data", str(imm10_csv), "--y", "math", "--x", "homewrk",
                "--group", "schnum"), 1)
    assert "did you mean 'homework'" in line


def test_reml_option():
    proc = run_cli("demo", "--data", "sleepstudy", "--y", "Reaction", "--x", "Days",
                   "--group", "Subject", "--reml", "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Linear mixed model fit by REML") == 2
