"""``m.summary()`` printed against R's ``print(summary(m))``, line for line.

Numbers may differ only in their last printed digit (the optimiser stops a hair away from
lme4's point on a flat optimum); every other character must be the same.
"""
from __future__ import annotations

import re

import pytest

from .cases import fitted_case, load_case, reference_ids

CASES = reference_ids(("lm", "lmer"), max_nobs=10_000)
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/reference is absent")
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[-+]\d+)?$")


def last_digit_apart(a: str, b: str) -> bool:
    """True when two printed numbers differ by at most one unit of the coarser last digit,
    or by 1e-3 relative (a flat optimum: lme4 and we stop at points a hair apart, ours with
    the same or a higher log-likelihood, see test_lme4_parity)."""
    if not (NUMBER.match(a) and NUMBER.match(b)):
        return False
    fa, fb = float(a), float(b)
    decimals = min(len(x.split(".")[1]) if "." in x else 0 for x in (a, b) if "e" not in x) \
        if "e" not in a + b else 99
    return abs(fa - fb) <= max(1.0001 * 10.0 ** (-decimals), 1e-3 * max(abs(fa), abs(fb)))


def same_line(got: str, want: str) -> bool:
    if got == want:
        return True
    g, w = got.split(), want.split()
    return len(g) == len(w) and all(x == y or last_digit_apart(x, y) for x, y in zip(g, w))


@pytest.mark.parametrize("digits", [3, 7])
@pytest.mark.parametrize("case_id", CASES)
def test_summary_matches_r(case_id, digits):
    case, m = load_case(case_id), fitted_case(case_id)
    want = case["summary_text_digits3" if digits == 3 else "summary_text_default"].splitlines()
    got = str(m.summary(digits=digits)).splitlines()
    assert len(got) == len(want), "\n".join(got)
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not same_line(g, w)]
    assert not bad, "\n".join(f"line {i}:\n  got  {g!r}\n  want {w!r}" for i, g, w in bad)


LESSON = {  # the lesson's printed tables (lesson.txt), as the issue lists them
    "imm10_lm1": ["44.074", "3.572"],
    "imm10_lm2": ["42.766", "2.137", "-5.638"],
    "imm10_m3_ml": ["22.5", "64.3", "44.978", "2.214"],
    "imm10_m4_ml": ["61.8", "20.0", "-0.80", "43.1"],
    "imm10_m5_ml": ["48.022", "1.802", "2.376", "6.230"],
}


@pytest.mark.parametrize("case_id", sorted(LESSON))
def test_lesson_numbers_print(case_id):
    load_case(case_id)
    text = str(fitted_case(case_id).summary(digits=3))
    for number in LESSON[case_id]:
        assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text), number
