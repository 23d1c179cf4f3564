"""What :func:`~multilevel.design.model_frame.build_design` learns from the formula alone.

Parsing, lme4's ``findbars``/``nobars``, R's term expansion and the names of the columns a
formula uses depend only on the formula's text (and, for R's ``.``, on the data's column
names). They are worked out once per formula text and reused by every fit of that formula
(a tiny model fitted in a loop, bootstrap and profile refits, cross-validation), so a fit
spends its time on the data.

Each piece is computed on first use, in the order :func:`build_design` asks for it, so a
formula with several problems is refused with the same first error as without the cache;
errors are never cached.
"""
from __future__ import annotations

from functools import cached_property, lru_cache

from multilevel.formula.expand import (FixedTerms, bar_cov, expand_dot, expand_terms, findbars,
                                       has_dot, nobars)
from multilevel.formula.nodes import BinOp, Name, Node, Paren, Tilde, deparse
from multilevel.formula.terms import parse_checked

__all__ = ["FormulaPlan", "formula_plan", "group_parts"]


def group_parts(node: Node) -> list[str]:
    """Column names of a grouping factor's parts: ``a:b`` -> ``["a", "b"]``.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> group_parts(parse_tree("~ (1 | a:b)").rhs.expr.right)
    ['a', 'b']
    """
    if isinstance(node, Paren):
        return group_parts(node.expr)
    if isinstance(node, BinOp):
        return group_parts(node.left) + group_parts(node.right)
    assert isinstance(node, Name)
    return [node.id]


def _copy_terms(ft: FixedTerms) -> FixedTerms:
    """A FixedTerms whose ``variables`` dict is the caller's own (the cached one is shared)."""
    return FixedTerms(ft.intercept, ft.terms, dict(ft.variables), ft.offsets)


class FormulaPlan:
    """A parsed, whitelist-checked formula (``.`` expanded) and what follows from it.

    Attributes are computed on first use and kept: ``bars`` (lme4's ``findbars``, ``||``
    and ``/`` expanded), ``response`` (the left side deparsed), ``fixed_rhs`` (``nobars``),
    per bar its deparsed text, grouping factor, the grouping factor's columns and covariance
    structure; :meth:`fixed_terms` and :meth:`bar_terms` give R's term expansions.

    Examples
    --------
    >>> p = formula_plan("y ~ x + (x | g/h)", list)
    >>> p.response, p.bar_texts, p.groups, p.parts
    ('y', ('x | h:g', 'x | g'), ('h:g', 'g'), (('h', 'g'), ('g',)))
    >>> p.fixed_terms().labels, [t.labels for t in p.bar_terms()]
    (['x'], [['x'], ['x']])
    """

    def __init__(self, tree: Tilde):
        self.tree = tree

    @cached_property
    def bars(self) -> tuple[BinOp, ...]:
        return tuple(findbars(self.tree.rhs))

    @cached_property
    def response(self) -> str:
        return deparse(self.tree.lhs)

    @cached_property
    def fixed_rhs(self) -> Node | None:
        return nobars(self.tree.rhs)

    @cached_property
    def bar_texts(self) -> tuple[str, ...]:
        return tuple(deparse(b) for b in self.bars)

    @cached_property
    def groups(self) -> tuple[str, ...]:
        return tuple(deparse(b.right) for b in self.bars)

    @cached_property
    def parts(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(group_parts(b.right)) for b in self.bars)

    @cached_property
    def covs(self) -> tuple:
        return tuple(bar_cov(b) for b in self.bars)

    @cached_property
    def model_names(self) -> tuple[tuple, tuple, tuple, frozenset]:
        """The column names of the model (see :func:`multilevel._validate.model_names`),
        as tuples and a frozenset: the plan is shared by every fit of the formula."""
        from .._validate import model_names

        lhs, fixed, groups, wrapped = model_names(self.tree, self.bars)
        return tuple(lhs), tuple(fixed), tuple(groups), frozenset(wrapped)

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        """Every name the formula reads from the data (response, variables, groups)."""
        lhs, fixed, groups, _ = self.model_names
        return tuple(dict.fromkeys(lhs + fixed + groups))

    @cached_property
    def _fixed(self) -> FixedTerms:
        from .._validate import guard_terms

        guard_terms(self.tree.rhs)  # a 20-way interaction: refused before it is expanded
        return expand_terms(self.fixed_rhs, self.tree.lhs)

    def fixed_terms(self) -> FixedTerms:
        """R's terms of the fixed part (after the size guard), the response's variables first."""
        return _copy_terms(self._fixed)

    @cached_property
    def _bar_terms(self) -> tuple[FixedTerms, ...]:
        return tuple(expand_terms(b.left) for b in self.bars)

    def bar_terms(self) -> list[FixedTerms]:
        """R's terms of each bar's left side."""
        return [_copy_terms(t) for t in self._bar_terms]


@lru_cache(maxsize=256)
def _text_plan(formula: str) -> tuple[FormulaPlan, bool]:
    tree = parse_checked(formula)
    return FormulaPlan(tree), has_dot(tree.rhs)


def formula_plan(formula: str, columns) -> FormulaPlan:
    """The plan of `formula`; ``columns()`` gives the data's column names for R's ``.``.

    Plans of text formulas without ``.`` are cached (parsing and expansion are pure); with
    ``.`` the expansion depends on the data, so the plan is made afresh.

    Examples
    --------
    >>> formula_plan("y ~ x + (1 | g)", list) is formula_plan("y ~ x + (1 | g)", list)
    True
    >>> deparse(formula_plan("y ~ . + (1 | g)", lambda: ["y", "x", "g"]).tree)
    'y ~ (x + g) + (1 | g)'
    """
    if type(formula) is str:
        plan, dot = _text_plan(formula)
        if not dot:
            return plan
        tree = plan.tree
    else:
        tree = parse_checked(formula)  # not text: refused there with its message
    return FormulaPlan(expand_dot(tree, columns()))
