"""Formula parsing as tables {formula: expected}, plus the whitelist and error messages."""
from __future__ import annotations

import pytest

from multilevel.errors import FormulaError
from multilevel.formula import Formula, RandomTerm, deparse_lme4, parse
from multilevel.formula.expand import expand_terms, findbars, nobars
from multilevel.formula.nodes import deparse
from multilevel.formula.parser import parse_tree

R = RandomTerm

PARSE = {
    "math ~ homework": Formula("math", "homework", ()),
    "math ~ homework + (1 | schnum)": Formula("math", "homework", (R("1", "schnum"),)),
    "math~homework+(homework|schnum)": Formula("math", "homework", (R("homework", "schnum"),)),
    "y ~ x + (0 + x | g)": Formula("y", "x", (R("0 + x", "g"),)),
    "Reaction ~ Days + (Days || Subject)":
        Formula("Reaction", "Days", (R("Days", "Subject", False),)),
    "strength ~ 1 + (1 | batch/cask)": Formula("strength", "1", (R("1", "batch/cask"),)),
    "angle ~ recipe * temperature + (1 | replicate:recipe)":
        Formula("angle", "recipe * temperature", (R("1", "replicate:recipe"),)),
    "diameter ~ 1 + (1 | plate) + (1 | sample)":
        Formula("diameter", "1", (R("1", "plate"), R("1", "sample"))),
    "y ~ (1 | g)": Formula("y", "", (R("1", "g"),)),
    "y ~ (1 | g) + x - 1": Formula("y", "x - 1", (R("1", "g"),)),
    "y ~ -1 + x": Formula("y", "-1 + x", ()),
    "y ~ 0 + x": Formula("y", "0 + x", ()),
    "cbind(incidence, size - incidence) ~ period + (1 | herd)":
        Formula("cbind(incidence, size - incidence)", "period", (R("1", "herd"),)),
    "log(y) ~ I(x^2) + poly(x, 2) + scale(z) + offset(log(n))":
        Formula("log(y)", "I(x^2) + poly(x, 2) + scale(z) + offset(log(n))", ()),
    "y ~ x + ((1 | a) + (1 | b))": Formula("y", "x", (R("1", "a"), R("1", "b"))),
    "y ~ I(x**2)": Formula("y", "I(x^2)", ()),
    "y ~ `my var` + as.factor(g)": Formula("y", "`my var` + as.factor(g)", ()),
    "~ x + (1|g)": Formula(None, "x", (R("1", "g"),)),
}


@pytest.mark.parametrize("formula", list(PARSE))
def test_parse_table(formula):
    assert parse(formula) == PARSE[formula]


STR = {
    "math~homework+(homework|schnum)": "math ~ homework + (homework | schnum)",
    "y~x*z+I(x^2)+(x||g)": "y ~ x * z + I(x^2) + (x || g)",
    "y ~ x/z + a:b + log(x+1) + poly(x,degree=2)": "y ~ x/z + a:b + log(x + 1) + poly(x, degree = 2)",
    "y ~ I(1e5 * x) + I(x / 2.50)": "y ~ I(1e+05 * x) + I(x/2.5)",
}


@pytest.mark.parametrize("formula", list(STR))
def test_str_is_r_deparse(formula):
    assert str(parse(formula)) == STR[formula]


TERMS = {  # rhs: (intercept, R's term.labels)
    "x": (True, ["x"]),
    "a * b": (True, ["a", "b", "a:b"]),
    "meanses * cses + sector * cses": (True, ["meanses", "cses", "sector", "meanses:cses",
                                              "cses:sector"]),
    "recipe * temperature": (True, ["recipe", "temperature", "recipe:temperature"]),
    "b:a + a": (True, ["b", "a", "b:a"][1:2] + ["b:a"]),
    "(a + b + c)^2": (True, ["a", "b", "c", "a:b", "a:c", "b:c"]),
    "a/b": (True, ["a", "a:b"]),
    "(a + b)/c": (True, ["a", "b", "a:b:c"]),
    "a*b - a": (True, ["b", "a:b"]),
    "0 + x": (False, ["x"]),
    "x - 1": (False, ["x"]),
    "-1 + x": (False, ["x"]),
    "x + x + 1": (True, ["x"]),
    "x + offset(log(n))": (True, ["x"]),
    "1": (True, []),
    "x^2": (True, ["x"]),  # R: a power of one term is the term; I(x^2) is the square
    "log(x + 1) + I(x^2):z": (True, ["log(x + 1)", "I(x^2):z"]),
}


@pytest.mark.parametrize("rhs", list(TERMS))
def test_term_expansion_like_terms_formula(rhs):
    t = parse_tree("y ~ " + rhs)
    ft = expand_terms(t.rhs, t.lhs)
    assert (ft.intercept, ft.labels) == TERMS[rhs]


def test_offset_is_set_aside():
    t = parse_tree("y ~ x + offset(log(n))")
    assert [deparse(o) for o in expand_terms(t.rhs).offsets] == ["log(n)"]


BARS = {  # formula: lme4 findbars after expandDoubleVerts and expandSlash
    "y ~ x + (x | g)": ["x | g"],
    "y ~ x + (x || g)": ["1 | g", "0 + x | g"],
    "y ~ (x + z || g)": ["1 | g", "0 + x | g", "0 + z | g"],
    "y ~ (0 + x || g)": ["0 + x | g"],
    "y ~ (1 | batch/cask)": ["1 | cask:batch", "1 | batch"],
    "y ~ (1 | a/b/c)": ["1 | c:b:a", "1 | b:a", "1 | a"],
    "y ~ (1 | a:b) + (1 | c)": ["1 | a:b", "1 | c"],
    "y ~ (x || a/b)": ["1 | b:a", "1 | a", "0 + x | b:a", "0 + x | a"],
}


@pytest.mark.parametrize("formula", list(BARS))
def test_findbars(formula):
    assert [deparse(b) for b in findbars(parse_tree(formula).rhs)] == BARS[formula]


NOBARS = {
    "y ~ x + (x | g)": "x", "y ~ (1 | g) + x": "x", "y ~ (1 | g)": None,
    "y ~ 0 + x + (1 | a) + (1 | b)": "0 + x", "y ~ x + ((1 | a) + (1 | b))": "x",
}


@pytest.mark.parametrize("formula", list(NOBARS))
def test_nobars(formula):
    got = nobars(parse_tree(formula).rhs)
    assert (deparse(got) if got is not None else None) == NOBARS[formula]


LME4_LINE = {
    "Reaction ~ Days + (Days || Subject)":
        "Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))",
    "y ~ x + (x + z || g)": "y ~ x + ((1 | g) + (0 + x | g) + (0 + z | g))",
    "strength ~ 1 + (1|batch/cask)": "strength ~ 1 + (1 | batch/cask)",
    "y ~ (1|g) + x": "y ~ (1 | g) + x",
}


@pytest.mark.parametrize("formula", list(LME4_LINE))
def test_deparse_lme4(formula):
    assert deparse_lme4(formula) == LME4_LINE[formula]
    assert deparse_lme4(parse(formula)) == deparse_lme4(str(parse(formula)))


def test_expanded_random():
    f = parse("y ~ (x || g) + (1 | a/b)")
    assert [str(r) for r in f.expanded_random()] == ["(1 | g)", "(0 + x | g)", "(1 | b:a)",
                                                     "(1 | a)"]


# --- errors and the whitelist -----------------------------------------------------------

BAD = {  # formula: piece the message must name
    "y ~ __import__('os').system('echo hacked')": "__import__",
    "y ~ x.__class__": "x.__class__",
    "y ~ x[0]": "'['",
    "y ~ lambda x: x": "found 'x'",
    "y ~ eval(x)": "'eval'",
    "y ~ open(x)": "'open'",
    "y ~ log(x, 'a')": "string literal",
    "y ~ 'x'": "string literal",
    "y ~ x$y": "'$'",
    "y ~ x@y": "'@'",
    "y ~ x; import os": "';'",
    "y ~ x + (1 | g": "expected ')'",
    "y ~ x +": "end of formula",
    "y ~ (x + )": "found ')'",
    "y": "has no '~'",
    "": "empty",
    "y ~ x ~ z": "only one '~'",
    "y ~ x + (1 | g) | h": "unexpected place",
    "y ~ x + (z + 1 | g | h)": "unexpected place",
    "y ~ x * (1 | g)": "unexpected place",
    "y ~ (1 | log(g))": "grouping factor",
    "y ~ x %foo% z": "%in%",
    "y ~ x %in% z": "%in%",
    "y ~ 2 + x": "number 2",
    "y ~ x^z": "I(x^2)",
    "y ~ log(x:z)": "':'",
    "y ~ I(factor(x))": "cannot be used",
    "y ~ poly(x, deg = 2)": "poly()",
    "y ~ log(poly(x, 2))": "poly",
    "y ~ sqrt(x, 2)": "sqrt()",
}


@pytest.mark.parametrize("formula", list(BAD))
def test_bad_formulas_are_formula_errors(formula):
    with pytest.raises(FormulaError) as e:
        parse(formula)
    assert BAD[formula] in str(e.value)
    assert "How to fix:" in str(e.value)


def test_unknown_function_lists_allowed_functions():
    with pytest.raises(FormulaError, match="use only these functions: C, I, abs, as.factor"):
        parse("y ~ system(x)")


def test_syntax_error_shows_caret_under_position():
    with pytest.raises(FormulaError) as e:
        parse("y ~ x + )")
    lines = str(e.value).splitlines()
    assert lines[1] == "    y ~ x + )"
    assert lines[2] == "            ^"


def test_malicious_formula_runs_nothing(tmp_path, monkeypatch):
    import builtins
    import os

    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a) or 0)
    monkeypatch.setattr(builtins, "__import__", builtins.__import__)
    flag = tmp_path / "hacked"
    for f in [f"y ~ __import__('os').system('touch {flag}')",
              f"y ~ I(__import__('os').system('touch {flag}'))",
              "y ~ I(x.__class__.__bases__)", "y ~ (lambda: 1)()"]:
        with pytest.raises(FormulaError):
            parse(f)
    assert not called and not flag.exists()


def test_formula_must_be_a_string():
    with pytest.raises(FormulaError, match="must be a string"):
        parse(42)  # type: ignore[arg-type]
