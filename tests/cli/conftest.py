"""Fixtures of the CLI tests; the helpers live in cli_helpers.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import SHARED


@pytest.fixture(scope="session")
def imm10_csv() -> Path:
    """The lesson's imm10.csv from ../shared/data (skip when shared/ is absent)."""
    path = SHARED / "data" / "imm10.csv"
    if not path.is_file():
        pytest.skip("../shared/data/imm10.csv not present")
    return path
