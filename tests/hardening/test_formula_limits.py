"""Formulas of any size: thousands of terms fit; nesting beyond the documented limit is a
FormulaError that says the limit, never a RecursionError."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel._validate import MAX_FORMULA_NESTING, MAX_FORMULA_OPERATORS
from multilevel.errors import FormulaError


def test_a_thousand_five_hundred_added_terms_fit():
    rng = np.random.default_rng(0)
    k, n = 1500, 1600
    d = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"x{i}" for i in range(k)])
    d["y"] = rng.normal(size=n)
    d["g"] = np.repeat(np.arange(n // 8), 8)
    m = ml.lm("y ~ " + " + ".join(d.columns[:k]), d)
    assert len(m.design.xnames) == k + 1
    with pytest.warns(ml.errors.SingularFitWarning):  # random data: no group variance
        m = ml.lmer("y ~ " + " + ".join(d.columns[:200]) + " + (1 | g)", d)
    assert len(m.fixef) == 201


@pytest.mark.parametrize("make", [
    lambda k: "y ~ " + "(" * k + "x" + ")" * k,
    lambda k: "y ~ " + "log(" * k + "x" + ")" * k,
    lambda k: "y ~ x + (1 | g) + I(" + "(" * k + "x" + ")" * k + ")",
])
def test_nesting_beyond_the_limit_says_the_limit(make):
    with pytest.raises(FormulaError, match=f"the limit is {MAX_FORMULA_NESTING}"):
        ml.lm(make(MAX_FORMULA_NESTING + 1), pd.DataFrame({"y": [1.0, 2], "x": [1.0, 3]}))


def test_nesting_at_the_limit_parses():
    from multilevel.formula.terms import parse_checked

    k = MAX_FORMULA_NESTING - 2
    parse_checked("y ~ " + "log(" * k + "x" + ")" * k)
    parse_checked("y ~ " + "(" * k + "x" + ")" * k)


def test_too_many_operators_say_the_limit():
    f = "y ~ " + " + ".join(f"x{i}" for i in range(MAX_FORMULA_OPERATORS + 5))
    with pytest.raises(FormulaError, match="the limit is 10,000"):
        ml.lm(f, pd.DataFrame({"y": [1.0, 2]}))


@pytest.mark.parametrize("formula", ["y ~ " + "(" * 5000, "y ~ " + ")" * 5000,
                                     "y ~ " + "x + " * 3000, "~" * 3000])
def test_malformed_huge_formulas_are_formula_errors(formula):
    with pytest.raises(FormulaError):
        ml.lm(formula, pd.DataFrame({"y": [1.0, 2], "x": [1.0, 3]}))


def test_deep_formulas_in_a_thread_with_a_fresh_interpreter():
    """A fresh process (default recursion limit) parses 9,000 terms in a worker thread."""
    code = textwrap.dedent("""
        import threading
        from multilevel.formula.terms import parse_checked
        from multilevel.formula.expand import expand_terms, nobars
        from multilevel.formula.nodes import deparse
        f = "y ~ " + " + ".join(f"x{i}" for i in range(9000)) + " + (1 | g)"
        out = []
        def run():
            t = parse_checked(f)
            out.append(len(expand_terms(nobars(t.rhs)).terms))
            out.append(len(deparse(t)))
        th = threading.Thread(target=run); th.start(); th.join()
        print(out[0])
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "9000"
