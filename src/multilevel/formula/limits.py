"""Documented size limits of a formula, checked before it is parsed.

The parser and the walkers over its tree recurse: a formula of many thousand terms or of deeply
nested calls is refused here with the limit it passed (a :class:`~multilevel.errors.FormulaError`),
never a RecursionError, and the recursion limit is raised to what an accepted formula needs.
"""
from __future__ import annotations

import sys

from ..errors import FormulaError, two_line
from .tokenize import tokenize

#: Most parentheses and calls nested inside one another in a formula.
MAX_FORMULA_NESTING = 200
#: Most operators (``+ - * / : ^ | ~`` ...) in a formula: 10,000 terms and more.
MAX_FORMULA_OPERATORS = 10_000
#: Longest formula text accepted (characters).
MAX_FORMULA_LENGTH = 1_000_000


def guard_formula(formula) -> None:
    """Check a formula's size before it is parsed, and make room for the tree walkers.

    The parser and the tree walkers recurse; a formula within the documented limits
    (:data:`MAX_FORMULA_NESTING` levels of parentheses or calls, :data:`MAX_FORMULA_OPERATORS`
    operators: wide data give formulas of thousands of terms) always fits, because the
    interpreter's recursion limit is raised to what the formula needs (never lowered). Beyond
    the limits: a FormulaError that says them, never a RecursionError.

    Examples
    --------
    >>> guard_formula("y ~ " + " + ".join(f"x{i}" for i in range(2000)))
    >>> guard_formula("y ~ " + "log(" * 300 + "x" + ")" * 300)
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: the formula nests ... 300 deep; the limit is 200
      How to fix: write the model with fewer nested parentheses or functions
    """
    if not isinstance(formula, str):
        raise FormulaError(two_line(
            f"a formula must be text, not the {type(formula).__name__} {formula!r}"[:300],
            "write it as a string, e.g. \"y ~ x + (1 | g)\""))
    if len(formula) > MAX_FORMULA_LENGTH:
        raise FormulaError(two_line(
            f"the formula is {len(formula):,} characters long; the limit is "
            f"{MAX_FORMULA_LENGTH:,}", "write a shorter formula (e.g. fit fewer predictors)"))
    depth = deepest = operators = 0
    for tok in tokenize(formula):
        if tok.kind != "OP":
            continue
        if tok.text == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif tok.text == ")":
            depth -= 1
        elif tok.text not in (",", "="):
            operators += 1
    if deepest > MAX_FORMULA_NESTING:
        raise FormulaError(two_line(
            f"the formula nests parentheses and calls {deepest} deep; the limit is "
            f"{MAX_FORMULA_NESTING}",
            "write the model with fewer nested parentheses or functions"))
    if operators > MAX_FORMULA_OPERATORS:
        raise FormulaError(two_line(
            f"the formula has {operators:,} operators; the limit is {MAX_FORMULA_OPERATORS:,}",
            "fit fewer terms at a time, or combine predictors (e.g. a matrix of scores)"))
    need = 10 * (operators + 10 * deepest) + 5_000
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
