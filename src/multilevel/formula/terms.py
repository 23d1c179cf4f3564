"""Parsed formulas as values: :class:`Formula` and :class:`RandomTerm`, :func:`parse`.

``str(Formula)`` is R's deparsed form (spaces around ``|``), and
:func:`deparse_lme4` reproduces the "Formula:" line that lme4's ``summary()`` prints
(``||`` expanded, as lme4 stores it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from multilevel.formula.check import check_tokens, validate
from multilevel.formula.expand import (_has_bar, bar_cov, expand_double_verts, findbars,
                                       is_cov_call, nobars)
from multilevel.formula.nodes import BinOp, Node, Paren, Tilde, Unary, deparse
from multilevel.formula.parser import parse_tree
from multilevel.formula.tokenize import tokenize

__all__ = ["RandomTerm", "Formula", "parse", "parse_checked", "deparse_lme4"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects bar as written: ``(expr | group)`` or ``(expr || group)``.

    Attributes
    ----------
    expr : str
        Left side, deparsed as R does: ``"1"``, ``"homework"``, ``"0 + Days"``.
    group : str
        Grouping factor: ``"schnum"``, ``"replicate:recipe"``, ``"batch/cask"``.
    correlated : bool
        False for ``||`` (independent terms).
    cov : str or None
        A covariance structure around the bar as written (``"cs(0 + f | g)"``); None for a
        plain bar.

    Examples
    --------
    >>> str(RandomTerm("Days", "Subject", correlated=False))
    '(Days || Subject)'
    """

    expr: str
    group: str
    correlated: bool = True
    cov: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        if self.cov is not None:  # a covariance structure as written: cs(0 + f | g)
            return self.cov
        return f"({self.expr} {'|' if self.correlated else '||'} {self.group})"


@dataclass(frozen=True)
class Formula:
    """A model formula split as lme4 splits it.

    Attributes
    ----------
    response : str or None
        Left side as R deparses it (``"math"``, ``"cbind(incidence, size - incidence)"``);
        None for a one-sided formula.
    fixed : str
        The fixed part (lme4 ``nobars``), deparsed; ``""`` when only bars were written.
    random : tuple of RandomTerm
        The bars as written, in order (``||`` and ``/`` not expanded; see
        :meth:`expanded_random`).

    Examples
    --------
    >>> f = parse("math~homework+(homework|schnum)")
    >>> str(f)
    'math ~ homework + (homework | schnum)'
    >>> f.random
    (RandomTerm(expr='homework', group='schnum', correlated=True),)
    """

    response: str | None
    fixed: str
    random: tuple[RandomTerm, ...]

    def __str__(self) -> str:
        parts = ([self.fixed] if self.fixed else []) + [str(r) for r in self.random]
        rhs = " + ".join(parts)
        return f"{self.response} ~ {rhs}" if self.response is not None else f"~{rhs}"

    def expanded_random(self) -> tuple[RandomTerm, ...]:
        """The bars after lme4's expansion of ``||`` and ``/`` (one per covariance block).

        Examples
        --------
        >>> [str(r) for r in parse("y ~ (x || g) + (1 | a/b)").expanded_random()]
        ['(1 | g)', '(0 + x | g)', '(1 | b:a)', '(1 | a)']
        """
        tree = parse_checked(str(self))
        return tuple(RandomTerm(deparse(b.left), deparse(b.right), True,
                                None if bar_cov(b) is None else bar_cov(b).text)
                     for b in findbars(tree.rhs))


def parse_checked(formula: str) -> Tilde:
    """Parse and whitelist-check a formula; return its syntax tree (internal helper).

    Parsing is a pure function of the text and the tree is immutable (frozen nodes, tuples),
    so trees of text formulas are cached: refitting a model parses its formula once. Errors
    are not cached; a bad formula is refused with the same message every time.

    Examples
    --------
    >>> parse_checked("y ~ x").lhs
    Name(id='y')
    >>> parse_checked("y ~ x") is parse_checked("y ~ x")
    True
    """
    if type(formula) is str:
        return _parse_cached(formula)
    return _parse_checked(formula)  # not text: refused by the checks, with their message


@lru_cache(maxsize=512)
def _parse_cached(formula: str) -> Tilde:
    return _parse_checked(formula)


def _parse_checked(formula) -> Tilde:
    check_tokens(tokenize(formula), formula)
    tree = parse_tree(formula)
    validate(tree, formula)
    return tree


def _written_bars(node: Node, out: list[RandomTerm]) -> None:
    if isinstance(node, BinOp) and node.op in ("|", "||"):
        out.append(RandomTerm(deparse(node.left), deparse(node.right), node.op == "|"))
    elif is_cov_call(node):  # cs(0 + f | g): the bar inside, and the wrapper as written
        bar = node.args[0].value
        while isinstance(bar, Paren):
            bar = bar.expr
        out.append(RandomTerm(deparse(bar.left), deparse(bar.right), True, deparse(node)))
    elif isinstance(node, BinOp):
        _written_bars(node.left, out)
        _written_bars(node.right, out)
    elif isinstance(node, Paren):
        _written_bars(node.expr, out)
    elif isinstance(node, Unary):
        _written_bars(node.operand, out)


def parse(formula: str) -> Formula:
    """Parse an lme4 formula into response, fixed part and random-effects terms.

    Parameters
    ----------
    formula : str
        e.g. ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    Formula

    Raises
    ------
    FormulaError
        Syntax errors (with a caret under the position), no ``~``, or anything outside the
        whitelist (unknown functions, string literals, attribute access, ...).

    Examples
    --------
    >>> f = parse("strength ~ 1 + (1|batch/cask)")
    >>> f.response, f.fixed, f.random[0].group
    ('strength', '1', 'batch/cask')
    """
    tree = parse_checked(formula)
    bars: list[RandomTerm] = []
    _written_bars(tree.rhs, bars)
    fixed = nobars(tree.rhs) if _has_bar(tree.rhs) else tree.rhs
    return Formula(deparse(tree.lhs) if tree.lhs is not None else None,
                   deparse(fixed) if fixed is not None else "", tuple(bars))


def deparse_lme4(formula: str | Formula) -> str:
    """The formula as lme4's ``summary()`` prints it after ``Formula:``.

    lme4 stores formulas with ``||`` already expanded (``expandDoubleVerts``) and R deparses
    them with spaces around ``+ - * ~ |`` and none around ``/ ^ :``.

    Examples
    --------
    >>> deparse_lme4("Reaction ~ Days + (Days||Subject)")
    'Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))'
    >>> deparse_lme4("strength ~ 1 + (1|batch/cask)")
    'strength ~ 1 + (1 | batch/cask)'
    """
    text = str(formula) if isinstance(formula, Formula) else formula
    return deparse(expand_double_verts(parse_checked(text)))
