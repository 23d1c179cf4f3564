"""Recursive-descent parser for lme4 formulas, with R's operator precedence.

The precedence table is data (:data:`BINARY_LEVELS`, lowest first), as in R's grammar
(``?Syntax``): ``~`` < ``| ||`` < ``+ -`` < ``* /`` < ``%in%`` < ``:`` < unary ``+ -`` <
``^`` (right-associative; ``**`` is read as ``^``). Parentheses are kept as nodes, so bars
``(x | g)`` are found exactly where they were written (lme4's ``findbars``).

The parser builds a tree and never evaluates anything; :mod:`multilevel.formula.check`
then whitelists what the tree may contain.
"""
from __future__ import annotations

from multilevel.errors import FormulaError, two_line
from multilevel.formula.nodes import (Arg, BinOp, Call, Name, Node, Num, Paren, Str, Tilde,
                                      Unary)
from multilevel.formula.tokenize import Token, caret_error, tokenize

__all__ = ["BINARY_LEVELS", "parse_tree"]

#: Binary operators by precedence, lowest first; all left-associative except ``^``.
BINARY_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"|", "||"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/"}),
    frozenset({"%any%"}),  # any %op%; the whitelist accepts none of them
    frozenset({":"}),
)
_FIX_SYNTAX = ("write the formula as in R, e.g. \"y ~ x1 + x2 + (1 + x1 | g)\"; "
               "check that every '(' has its ')' and no operator is left dangling")


class _Parser:
    def __init__(self, formula: str):
        self.formula = formula
        self.toks: list[Token] = tokenize(formula)
        self.i = 0

    # -- helpers ---------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def advance(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.text in ops

    def expect(self, op: str) -> Token:
        if not self.is_op(op):
            self.fail(f"expected '{op}'")
        return self.advance()

    def fail(self, what: str, tok: Token | None = None) -> None:
        tok = tok or self.tok
        shown = "end of formula" if tok.kind == "END" else repr(tok.text)
        raise caret_error(self.formula, tok.pos, f"formula syntax error: {what}, found {shown}",
                          _FIX_SYNTAX)

    # -- grammar ---------------------------------------------------------------------
    def formula_(self) -> Tilde:
        if self.tok.kind == "END":
            raise FormulaError(two_line("the formula is empty",
                                        "write a model such as \"y ~ x + (1 | g)\""))
        if not any(t.kind == "OP" and t.text == "~" for t in self.toks):
            raise FormulaError(two_line(
                f"formula {self.formula!r} has no '~'",
                "separate the response from the predictors with '~', e.g. \"y ~ x\""))
        lhs: Node | None = None
        if not self.is_op("~"):
            lhs = self.binary(0)
        if not self.is_op("~"):
            self.fail("unexpected token")
        self.advance()
        if self.tok.kind == "END":
            self.fail("missing right-hand side after '~'")
        rhs = self.binary(0)
        if self.is_op("~"):
            self.fail("a formula has only one '~'")
        if self.tok.kind != "END":
            self.fail("unexpected token")
        return Tilde(lhs, rhs)

    def binary(self, level: int) -> Node:
        if level == len(BINARY_LEVELS):
            return self.unary()
        ops = BINARY_LEVELS[level]
        left = self.binary(level + 1)
        while self.tok.kind == "OP" and (self.tok.text in ops or (
                "%any%" in ops and self.tok.text.startswith("%"))):
            t = self.advance()
            right = self.binary(level + 1)
            left = BinOp(t.text, left, right, t.pos)
        return left

    def unary(self) -> Node:
        if self.is_op("-", "+"):
            t = self.advance()
            return Unary(t.text, self.unary(), t.pos)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.is_op("^", "**"):
            t = self.advance()
            return BinOp("^", base, self.unary(), t.pos)  # right-assoc, allows 2^-1
        return base

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "NUMBER":
            self.advance()
            return Num(t.text, t.pos)
        if t.kind == "STRING":
            self.advance()
            return Str(t.text, t.pos)
        if t.kind == "NAME":
            self.advance()
            if self.is_op("("):
                return self.call(t)
            return Name(t.text, t.pos)
        if self.is_op("("):
            self.advance()
            if self.is_op(")"):
                self.fail("empty parentheses")
            inner = self.binary(0)
            self.expect(")")
            return Paren(inner, t.pos)
        self.fail("expected a name, a number or '('")
        raise AssertionError  # unreachable

    def call(self, name: Token) -> Call:
        self.expect("(")
        args: list[Arg] = []
        while not self.is_op(")"):
            key = None
            if (self.tok.kind == "NAME" and self.toks[self.i + 1].kind == "OP"
                    and self.toks[self.i + 1].text == "="):
                key = self.advance().text
                self.advance()
            args.append(Arg(key, self.binary(0)))
            if self.is_op(","):
                self.advance()
                if self.is_op(")"):
                    self.fail("expected an argument after ','")
            elif not self.is_op(")"):
                self.fail(f"expected ',' or ')' in the arguments of {name.text}()")
        self.advance()
        return Call(name.text, tuple(args), name.pos)


def parse_tree(formula: str) -> Tilde:
    """Parse a formula into a syntax tree (no whitelist check, no evaluation).

    Parameters
    ----------
    formula : str
        e.g. ``"y ~ x + (x | g)"``; a one-sided ``"~ x"`` is allowed.

    Returns
    -------
    Tilde
        Root node; ``lhs`` is None for a one-sided formula.

    Raises
    ------
    FormulaError
        For a syntax error (the message shows the formula with a caret) or a missing ``~``.

    Examples
    --------
    >>> from multilevel.formula.nodes import deparse
    >>> deparse(parse_tree("y ~ a + b:c^2"))
    'y ~ a + b:c^2'
    """
    from .limits import guard_formula

    guard_formula(formula)  # documented size limits; room for the recursive walkers
    return _Parser(formula).formula_()
