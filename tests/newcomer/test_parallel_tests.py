"""README's test command runs the suite in parallel and says how long it takes."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _test_command() -> tuple[str, str]:
    section = (REPO / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    command = [ln for ln in re.findall(r"```bash\n(.*?)```", section, re.S)[1].splitlines()
               if ln.strip()][0]
    return section, command


def test_readme_test_command_is_parallel_and_timed():
    section, command = _test_command()
    assert command.endswith("-n auto")
    assert re.search(r"about \d+ minutes? on 2\s+cores", section)


def test_xdist_is_in_the_test_extra():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("pytest-xdist") for dep in extras["test"])
