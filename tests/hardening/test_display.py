"""A data name cannot forge lines of a summary: control characters are shown escaped."""
from __future__ import annotations

import pytest

import multilevel as ml

FORGED = "sleep\nREML criterion at convergence: 0.0\r\x1b[2J\u2028x"


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


def _data_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "sleep" in line]


def test_lmer_summary_keeps_the_name_on_one_line(sleep):
    m = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, data_name=FORGED)
    text = str(m.summary())
    assert sum(ln.startswith("REML criterion") for ln in text.splitlines()) == 1
    assert "\x1b" not in text and "\r" not in text and "\u2028" not in text
    (line,) = _data_lines(text)
    assert line.strip().startswith("Data: sleep\\n")


def test_lm_and_glmer_summaries(sleep):
    text = str(ml.lm("Reaction ~ Days", sleep, data_name=FORGED).summary())
    assert len(_data_lines(text)) == 1 and "\x1b" not in text
    cbpp = ml.datasets.load("cbpp")
    m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial", data_name="cbpp\nAIC forged")
    text = str(m.summary())
    assert "cbpp\\nAIC forged" in text and "\ncbpp" not in text


def test_summary_shows_a_name_set_after_fitting_on_one_line(sleep):
    m = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    m.data_name = FORGED
    assert len(_data_lines(str(m.summary()))) == 1


def test_data_name_must_be_text(sleep):
    with pytest.raises(ml.errors.DataError, match="data_name must be text"):
        ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, data_name=3)


def test_file_names_with_control_characters(tmp_path, sleep):
    p = tmp_path / "a\nb.csv"
    sleep.to_csv(p, index=False)
    frame = ml.read(p)
    assert "\n" not in frame.attrs["name"]
