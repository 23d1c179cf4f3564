"""Helpers for the CLI tests: run the real `multilevel` command (``python -m multilevel``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600,
            env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m multilevel ARGS`` with this checkout's ``src`` first on the path (and
    ``env_extra`` added to the environment)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("COLUMNS", "80")
    return subprocess.run(
        [sys.executable, "-m", "multilevel", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess, code: int) -> str:
    """The process failed with `code` and said why in exactly one ``error: ...`` line."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def reference(case: str) -> dict:
    """One lme4 reference JSON from ../shared/reference (skip when absent)."""
    path = SHARED / "reference" / f"{case}.json"
    if not path.is_file():
        pytest.skip(f"../shared/reference/{case}.json not present")
    return json.loads(path.read_text())
