"""Property: parse -> str -> parse is the identity, and str is a fixed point."""
from __future__ import annotations

import pytest

hyp = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from multilevel.formula import parse  # noqa: E402

names = st.sampled_from(["x", "z", "w", "Days", "sex.M", "a_b", "`my var`"])
groups = st.sampled_from(["g", "h", "school", "batch/cask", "a:b", "a/b/c"])
funcs = st.sampled_from(["log({})", "I({}^2)", "scale({})", "factor({})", "poly({}, 2)",
                         "sqrt({} + 1)", "I(2 * {} - 1)", "as.factor({})", "C({})"])
atoms = st.one_of(names, st.builds(lambda f, n: f.format(n), funcs, names))
ops = st.sampled_from([" + ", "*", ":", " - ", "/"])


@st.composite
def expressions(draw, max_terms=4):
    k = draw(st.integers(1, max_terms))
    out = draw(atoms)
    for _ in range(k - 1):
        out += draw(ops) + draw(atoms)
    if draw(st.booleans()):
        out = draw(st.sampled_from(["0 + ", "1 + ", "-1 + "])) + out
    return out


@st.composite
def formulas(draw):
    lhs = draw(st.sampled_from(["y", "log(y)", "cbind(s, n - s)", "Reaction"]))
    parts = []
    if draw(st.booleans()):
        parts.append(draw(expressions()))
    for _ in range(draw(st.integers(0 if parts else 1, 3))):
        bar = draw(st.sampled_from(["|", "||"]))
        parts.append(f"({draw(st.one_of(st.just('1'), expressions(2)))}{bar}{draw(groups)})")
    return f"{lhs}~{'+'.join(parts)}"


@settings(max_examples=150, deadline=None)
@given(formulas())
def test_parse_str_parse_roundtrip(f):
    once = parse(f)
    text = str(once)
    assert parse(text) == once
    assert str(parse(text)) == text
