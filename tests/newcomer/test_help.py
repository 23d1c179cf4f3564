"""Warnings and errors that point to documentation point to ours: ml.help(topic)."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

import multilevel as ml
from multilevel.errors import DataError, SingularFitWarning

SRC = Path(ml.__file__).resolve().parent


def test_singular_fit_warning_points_to_ml_help(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff2"))
    msgs = [str(w.message) for w in caught if issubclass(w.category, SingularFitWarning)]
    assert msgs == ["boundary (singular) fit: see ml.help('isSingular')"]
    ml.help("isSingular")
    out = capsys.readouterr().out
    assert out.startswith("isSingular: boundary (singular) fits") and "(x || g)" in out


def test_every_help_topic_named_in_the_source_exists():
    named = set()
    for path in SRC.rglob("*.py"):
        named |= set(re.findall(r"""help\((?:\\?['"])(\w+)""", path.read_text()))
    assert "isSingular" in named
    for topic in named - {"name", "topic"}:    # placeholders in docstrings
        assert ml.help.text(topic)           # raises DataError for a missing page


def test_help_lists_topics_and_suggests(capsys):
    ml.help()
    listing = capsys.readouterr().out
    assert all(t in listing for t in ml.help.topics())
    assert ml.help.text("SINGULAR") == ml.help.text("isSingular")
    with pytest.raises(DataError, match="isSingular"):
        ml.help("isSingulr")


def test_no_message_points_to_r_help():
    """No user-facing string tells a Python user to run R's help()."""
    bad = []
    for path in SRC.rglob("*.py"):
        for line in path.read_text().splitlines():
            if re.search(r"""(?<![\w.])help\(['"]\w+""", line) and "warnings.warn(" in line:
                bad.append(f"{path.name}: {line.strip()}")
    assert not bad, bad
