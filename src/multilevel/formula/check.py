"""Whitelist of what a formula may contain: formulas are data, not code.

Only column names, numeric literals, the formula operators and the functions in
:data:`ALLOWED_FUNCTIONS` are accepted. Everything else (unknown functions, string
literals, names with double underscores such as ``__import__``, ``%op%`` other than
``%in%``) is a :class:`~multilevel.errors.FormulaError` that names the offending piece and
lists the allowed functions. Nothing in a formula is ever handed to Python's ``eval``.
"""
from __future__ import annotations

from multilevel.formula.expand import COV_STRUCTURES
from multilevel.formula.nodes import BinOp, Call, Name, Node, Num, Paren, Str, Tilde, Unary
from multilevel.formula.tokenize import Token, caret_error

__all__ = ["ALLOWED_FUNCTIONS", "FACTOR_FUNCTIONS", "NUMERIC_FUNCTIONS", "check_tokens",
           "validate"]

#: Functions that turn a variable into a factor (R: ``factor``, ``as.factor``, ``C``).
FACTOR_FUNCTIONS = frozenset({"factor", "as.factor", "ordered", "as.ordered", "C"})
#: Elementwise numeric functions, allowed anywhere (also inside ``I()`` and other calls).
NUMERIC_FUNCTIONS = frozenset({"log", "log2", "log10", "log1p", "exp", "sqrt", "abs",
                               "as.numeric", "scale", "center", "I"})
#: Functions allowed only as a whole term of the right-hand side.
TERM_FUNCTIONS = FACTOR_FUNCTIONS | frozenset({"poly", "offset", "dummy"})
#: Every function a formula may call.
ALLOWED_FUNCTIONS = tuple(sorted(NUMERIC_FUNCTIONS | TERM_FUNCTIONS | {"cbind"}))

# (min positional, max positional, allowed keywords)
_SIGNATURES = {
    "log": (1, 2, {"base"}), "poly": (1, 2, {"degree", "raw"}), "cbind": (2, 2, set()),
    "dummy": (1, 2, {"levelsToKeep"}),
    "C": (1, 3, {"contr", "how.many"}),
}
_FIX_FUNCS = ("use only these functions: " + ", ".join(ALLOWED_FUNCTIONS)
              + "; around a random-effects term: " + ", ".join(COV_STRUCTURES))


class _Checker:
    def __init__(self, formula: str):
        self.formula = formula

    def err(self, node: Node, what: str, fix: str = _FIX_FUNCS):
        return caret_error(self.formula, max(getattr(node, "pos", 0), 0), what, fix)

    def name(self, node: Name) -> None:
        if "__" in node.id:
            raise self.err(node, f"name {node.id!r} is not allowed in a formula",
                           "refer to data columns by their names; names with double "
                           "underscores are refused because formulas are data, not code")

    def call(self, node: Call, allowed: frozenset[str] | set[str], where: str) -> None:
        if node.func not in ALLOWED_FUNCTIONS:
            raise self.err(node, f"function {node.func!r} is not allowed in a formula")
        if node.func not in allowed:
            raise self.err(node, f"function {node.func!r} cannot be used {where}",
                           f"use {node.func}() only as a whole term of the formula")
        lo, hi, keys = _SIGNATURES.get(node.func, (1, 1, set()))
        npos = sum(a.name is None for a in node.args)
        if not lo <= npos <= hi or any(a.name is not None and a.name not in keys
                                       for a in node.args):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            kw = f" and keywords {sorted(keys)}" if keys else ""
            raise self.err(node, f"{node.func}() takes {want} positional argument(s){kw}",
                           f"write e.g. {node.func}(x)" if node.func != "poly"
                           else "write e.g. poly(x, 2)")
        for i, a in enumerate(node.args):
            if node.func == "dummy" and i > 0 and isinstance(a.value, Str):
                continue  # lme4's dummy(f, "level"): the one place a string is data
            self.arith(a.value)

    def arith(self, node: Node) -> None:
        """Arithmetic context: inside I(), log(), factor(), ... and the response."""
        if isinstance(node, Name):
            self.name(node)
        elif isinstance(node, Num):
            pass
        elif isinstance(node, Str):
            raise self.err(node, f"string literal {node.text} is not allowed in a formula",
                           "use column names and numbers only")
        elif isinstance(node, Paren):
            self.arith(node.expr)
        elif isinstance(node, Unary):
            self.arith(node.operand)
        elif isinstance(node, BinOp):
            if node.op not in {"+", "-", "*", "/", "^"}:
                raise self.err(node, f"operator {node.op!r} is not allowed inside a function call",
                               "inside I(), log(), ... use only + - * / ^")
            self.arith(node.left)
            self.arith(node.right)
        elif isinstance(node, Call):
            self.call(node, NUMERIC_FUNCTIONS, "inside another call")
        else:
            raise self.err(node, "unexpected expression")

    def terms(self, node: Node, bars_ok: bool, parent_paren: bool = False) -> None:
        """Term context: the right-hand side, and the left side of a bar."""
        if isinstance(node, Name):
            self.name(node)
        elif isinstance(node, Num):
            if node.value not in (0.0, 1.0):
                raise self.err(node, f"number {node.text} cannot be a term of a formula",
                               "use 1 to include and 0 or -1 to remove the intercept; "
                               "wrap arithmetic in I(), e.g. I(2 * x)")
        elif isinstance(node, Str):
            self.arith(node)
        elif isinstance(node, Paren):
            self.terms(node.expr, bars_ok, parent_paren=True)
        elif isinstance(node, Unary):
            self.terms(node.operand, False)
        elif isinstance(node, Call) and node.func in COV_STRUCTURES:
            self.cov_call(node, bars_ok)
        elif isinstance(node, Call):
            self.call(node, TERM_FUNCTIONS | NUMERIC_FUNCTIONS, "here")
        elif isinstance(node, BinOp):
            if node.op in ("|", "||"):
                if not bars_ok:
                    raise self.err(node, f"random-effects term with '{node.op}' in an unexpected "
                                   "place", "write random effects as separate terms added "
                                   "with '+', e.g. y ~ x + (1 + x | g)")
                if not parent_paren:
                    raise self.err(node, f"random-effects term with '{node.op}' must be in "
                                   "parentheses", "write (x | g), e.g. y ~ x + (x | g)")
                self.terms(node.left, False)
                self.group(node.right)
                return
            if node.op.startswith("%"):
                raise self.err(node, f"the {node.op} operator is not supported",
                               "write a:b or a/b instead of %in%")
            if node.op == "^":
                if not (isinstance(node.right, Num) and node.right.value >= 1
                        and node.right.value == int(node.right.value)):
                    raise self.err(node, "in a formula, '^' needs a whole number on its right "
                                   "((a + b)^2 means all terms up to two-way interactions)",
                                   "for a power of a variable write I(x^2)")
                self.terms(node.left, False)
                return
            sub_ok = bars_ok and node.op in ("+", "-")
            self.terms(node.left, sub_ok)
            self.terms(node.right, bars_ok and node.op == "+")
        else:
            raise self.err(node, "unexpected expression")

    def cov_call(self, node: Call, bars_ok: bool) -> None:
        """A covariance structure around one bar: ``cs(0 + f | g)``, ``ar1(...)``, ..."""
        takes_hom = COV_STRUCTURES[node.func][2]
        example = f"{node.func}(0 + f | g)"
        if not bars_ok:
            raise self.err(node, f"{node.func}() random-effects term in an unexpected place",
                           f"add it as a separate term with '+', e.g. y ~ x + {example}")
        pos = [a for a in node.args if a.name is None]
        inner = pos[0].value if len(pos) == 1 else None
        while isinstance(inner, Paren):
            inner = inner.expr
        if not (isinstance(inner, BinOp) and inner.op == "|"):
            raise self.err(node, f"{node.func}() takes one random-effects term 'expr | group'",
                           f"write e.g. {example}; '||' is diag(), not needed inside it")
        for a in node.args:
            if a.name is None:
                continue
            if a.name != "hom" or not takes_hom:
                allowed = ("its only keyword is hom = TRUE / FALSE" if takes_hom else
                           "it takes no keywords" + (" (every variance is free in us(); "
                                                      "use cs(..., hom = TRUE) or "
                                                      "diag(..., hom = TRUE))"
                                                      if a.name == "hom" else ""))
                raise self.err(node, f"{node.func}() has no argument {a.name!r}",
                               f"{allowed}; write e.g. {example}")
            if not (isinstance(a.value, Name) and a.value.id in ("TRUE", "FALSE", "True",
                                                                "False", "T", "F")):
                raise self.err(a.value, "hom must be TRUE or FALSE",
                               f"write e.g. {node.func}(0 + f | g, hom = TRUE)")
        self.terms(inner.left, False)
        self.group(inner.right)

    def group(self, node: Node) -> None:
        if isinstance(node, Name):
            self.name(node)
        elif isinstance(node, Paren):
            self.group(node.expr)
        elif isinstance(node, BinOp) and node.op in (":", "/"):
            self.group(node.left)
            self.group(node.right)
        else:
            raise self.err(node, "a grouping factor must be a column name, a:b or a/b",
                           "write e.g. (1 | school) or (1 | school/class)")

    def lhs(self, node: Node) -> None:
        if isinstance(node, Call) and node.func == "cbind":
            self.call(node, {"cbind"}, "")
        else:
            self.arith(node)


def _in_dummy(tokens: list[Token], tok: Token) -> bool:
    """Whether a string token is an argument (after the first) of lme4's ``dummy()``."""
    i = tokens.index(tok)
    depth = 0
    for j in range(i - 1, -1, -1):
        t = tokens[j]
        if t.kind == "OP" and t.text == ")":
            depth += 1
        elif t.kind == "OP" and t.text == "(":
            if depth == 0:
                return j > 0 and tokens[j - 1].kind == "NAME" and tokens[j - 1].text == "dummy"
            depth -= 1
    return False


def check_tokens(tokens: list[Token], formula: str) -> None:
    """Refuse dunder names, unknown function calls and strings before parsing.

    Checking tokens first names the offending piece even when the rest of the text is
    not a formula at all (``__import__('os').system(...)``).

    Examples
    --------
    >>> from multilevel.formula.tokenize import tokenize
    >>> f = "y ~ __import__('os').system('ls')"
    >>> check_tokens(tokenize(f), f)
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: name '__import__' is not allowed in a formula at position 4
    ...
    """
    c = _Checker(formula)
    for k, (t, nxt) in enumerate(zip(tokens, tokens[1:])):
        if t.kind == "NAME":
            c.name(Name(t.text, t.pos))
            if (nxt.kind == "OP" and nxt.text == "(" and t.text not in ALLOWED_FUNCTIONS
                    and t.text not in COV_STRUCTURES):
                if _wraps_bar(tokens, k + 1):  # glmmTMB's toep(), ou(), ... around a bar
                    raise c.err(Call(t.text, (), t.pos),
                                f"unknown covariance structure {t.text}()",
                                "use one of " + ", ".join(COV_STRUCTURES)
                                + ", e.g. cs(0 + f | g) or ar1(0 + f | g)")
                raise c.err(Call(t.text, (), t.pos),
                            f"function {t.text!r} is not allowed in a formula")
        elif t.kind == "STRING" and not _in_dummy(tokens, t):
            c.arith(Str(t.text, t.pos))


def _wraps_bar(tokens: list[Token], open_at: int) -> bool:
    """Whether the call whose '(' is ``tokens[open_at]`` has a '|' at its own depth."""
    depth = 0
    for t in tokens[open_at:]:
        if t.kind == "OP" and t.text == "(":
            depth += 1
        elif t.kind == "OP" and t.text == ")":
            depth -= 1
            if depth == 0:
                return False
        elif depth == 1 and t.kind == "OP" and t.text in ("|", "||"):
            return True
    return False


def validate(tree: Tilde, formula: str) -> None:
    """Check that a parsed formula uses only whitelisted names, operators and functions.

    Parameters
    ----------
    tree : Tilde
        From :func:`multilevel.formula.parser.parse_tree`.
    formula : str
        The formula text, for the caret in error messages.

    Raises
    ------
    FormulaError
        Naming the offending piece and listing the allowed functions.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> f = "y ~ __import__(1)"
    >>> validate(parse_tree(f), f)
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: function '__import__' is not allowed in a formula at position 4
    ...
    """
    c = _Checker(formula)
    if tree.lhs is not None:
        c.lhs(tree.lhs)
    c.terms(tree.rhs, bars_ok=True, parent_paren=True)  # a bare bar: R reads `y ~ x | g` as
    # `y ~ (x | g)` (`|` binds loosest), as lme4 does
