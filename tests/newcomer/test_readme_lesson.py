"""README's lesson example runs as written (with a local copy of imm10 in $MULTILEVEL_DATA,
as CI has no network)."""
from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMM10 = REPO.parent / "shared" / "data" / "imm10.csv"


def _python_block(heading: str) -> str:
    section = (REPO / "README.md").read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]


def test_lesson_example_runs_as_written(tmp_path, monkeypatch):
    if not IMM10.is_file():
        pytest.skip("../shared/data/imm10.csv not present")
    shutil.copy(IMM10, tmp_path / "imm10.csv")
    monkeypatch.setenv("MULTILEVEL_DATA", str(tmp_path))
    monkeypatch.setenv("MULTILEVEL_OFFLINE", "1")
    code = _python_block("## In Python: the lesson's random-slope model")
    assert 'ml.datasets.load("imm10")' in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    text = out.getvalue()
    assert "Linear mixed model fit by maximum likelihood" in text
    assert "-884.69" in text and "schnum" in text
