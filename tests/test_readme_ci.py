"""README's quick start and .ci/run stay in step: CI runs exactly README's test command."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands():
    install, tests = _quick_start_commands()
    assert install.endswith("multilevel demo")
    assert "pytest" in tests


def test_ci_runs_readmes_test_command_verbatim():
    test_command = _quick_start_commands()[1]
    ci = (REPO / ".ci" / "run").read_text()
    commands = [ln for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert commands[0] == "set -euo pipefail"
    assert commands[-1] == test_command
    assert sum("pytest" in ln for ln in commands) == 1
