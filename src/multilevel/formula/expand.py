"""lme4's formula manipulations: findbars / nobars / ``||`` / ``/``, and R's term expansion.

* :func:`expand_double_verts` rewrites ``(x || g)`` as ``((1 | g) + (0 + x | g))``, one
  independent bar per term of the left side (lme4 ``expandDoubleVerts``).
* :func:`findbars` returns the bars, with ``(1 | a/b)`` expanded to ``(1 | b:a)``,
  ``(1 | a)`` in lme4's order (``expandSlash``).
* :func:`nobars` returns the fixed part (lme4 ``nobars``).
* :func:`expand_terms` does what R's ``terms.formula`` does to the fixed part: ``a*b`` is
  ``a + b + a:b``, ``a/b`` is ``a + a:b``, ``(a+b)^2`` is all terms up to two-way
  interactions; terms are sorted by order (stable), the variables of a term follow their
  first appearance in the formula, and ``offset()`` terms are set aside.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from multilevel.formula.nodes import BinOp, Call, Name, Node, Num, Paren, Tilde, Unary, deparse

__all__ = ["FixedTerms", "expand_terms", "expand_double_verts", "findbars", "nobars",
           "is_bar", "variable_order", "COV_STRUCTURES", "CovSpec", "StructuredBar",
           "is_cov_call", "cov_spec", "bar_cov", "has_dot", "expand_dot"]


def is_bar(node: Node) -> bool:
    """True for ``x | g`` or ``x || g`` (the node inside the parentheses)."""
    return isinstance(node, BinOp) and node.op in ("|", "||")


# --- covariance structures around a bar (lme4 >= 2.0, glmmTMB, MixedModels.jl) -----------

#: Wrapper name -> (structure, hom forced by the name or None, accepts ``hom =``).
COV_STRUCTURES = {"us": ("us", None, False), "diag": ("diag", None, True),
                  "zerocorr": ("diag", None, False), "cs": ("cs", None, True),
                  "homcs": ("cs", True, False), "homdiag": ("diag", True, False),
                  "ar1": ("ar1", None, True)}


@dataclass(frozen=True)
class CovSpec:
    """A covariance structure written around a bar: ``cs(0 + f | g, hom = TRUE)``.

    Attributes
    ----------
    name : str          -- ``"us"``, ``"diag"``, ``"cs"`` or ``"ar1"``
    hom : bool or None  -- one common variance; None: the structure's default
    text : str          -- the term as written (for messages)

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> cov_spec(parse_tree("~ cs(0 + f | g, hom = TRUE)").rhs)
    CovSpec(name='cs', hom=True, text='cs(0 + f | g, hom = TRUE)')
    """

    name: str
    hom: bool | None
    text: str


@dataclass(frozen=True)
class StructuredBar(BinOp):
    """A bar found inside a structure wrapper; ``cov`` says which structure.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> [deparse(b) for b in findbars(parse_tree("~ ar1(0 + f | a/b)").rhs)]
    ['0 + f | b:a', '0 + f | a']
    """

    cov: CovSpec | None = field(default=None, compare=False)


def is_cov_call(node: Node) -> bool:
    """True for a structure wrapper call such as ``cs(0 + f | g)``.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> is_cov_call(parse_tree("~ zerocorr(1 + x | g)").rhs), is_cov_call(parse_tree("~ log(x)").rhs)
    (True, False)
    """
    return isinstance(node, Call) and node.func in COV_STRUCTURES


def cov_spec(call: Call) -> CovSpec:
    """The :class:`CovSpec` of a checked wrapper call (see ``formula.check``); glmmTMB's
    ``homcs`` is ``cs`` with ``hom = TRUE``, MixedModels.jl's ``zerocorr`` is ``diag``.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> cov_spec(parse_tree("~ zerocorr(1 + x | g)").rhs).name
    'diag'
    """
    name, hom, _ = COV_STRUCTURES[call.func]
    for a in call.args:
        if a.name == "hom":
            hom = deparse(a.value) in ("TRUE", "True", "T", "1")
    return CovSpec(name, hom, deparse(call))


def bar_cov(bar: Node) -> CovSpec | None:
    """The structure of a bar from :func:`findbars` (None: unstructured, lme4's ``|``).

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> [bar_cov(b) is None for b in findbars(parse_tree("~ (1 | g) + diag(1 + x | h)").rhs)]
    [True, False]
    """
    return bar.cov if isinstance(bar, StructuredBar) else None


def _cov_inner(call: Call) -> Node:
    inner = call.args[0].value
    while isinstance(inner, Paren):
        inner = inner.expr
    return inner


def _has_bar(node: Node) -> bool:
    if is_bar(node) or is_cov_call(node):
        return True
    if isinstance(node, Paren):
        return _has_bar(node.expr)
    if isinstance(node, BinOp):
        return _has_bar(node.left) or _has_bar(node.right)
    if isinstance(node, Unary):
        return _has_bar(node.operand)
    return False


@dataclass(frozen=True)
class FixedTerms:
    """The terms of a one-part formula after R's expansion.

    Attributes
    ----------
    intercept : bool
    terms : tuple of tuple of str
        Each term is the R labels of its variables, in R's order, e.g. ``("cses", "sector")``.
    variables : dict
        Variable label -> syntax node (``"log(x + 1)"`` -> the ``Call`` node).
    offsets : tuple of Node
        Arguments of ``offset(...)`` terms.
    """

    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    variables: dict
    offsets: tuple[Node, ...]

    @property
    def labels(self) -> list[str]:
        """R's ``term.labels``: ``["a", "b", "a:b"]``."""
        return [":".join(t) for t in self.terms]


def variable_order(node: Node | None, out: dict | None = None) -> dict:
    """Labels of the variables of a formula (part) in order of first appearance (internal)."""
    out = {} if out is None else out
    if node is None:
        return out
    if isinstance(node, (Name, Call)):
        if isinstance(node, Call) and node.func == "offset":
            variable_order(node.args[0].value, {})
        out.setdefault(deparse(node), node)
    elif isinstance(node, Paren):
        variable_order(node.expr, out)
    elif isinstance(node, Unary):
        variable_order(node.operand, out)
    elif isinstance(node, BinOp):
        variable_order(node.left, out)
        if node.op != "^":
            variable_order(node.right, out)
    elif isinstance(node, Tilde):
        variable_order(node.lhs, out)
        variable_order(node.rhs, out)
    return out


_ZERO = frozenset({"\x000"})  # sentinel for the term "0"


def _dedupe(seq):
    seen, out = set(), []
    for t in seq:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def _product(a, b):
    return _dedupe(x | y for x in a for y in b if x is not _ZERO and y is not _ZERO)


def _ex(node: Node, offsets: list) -> tuple[list, list]:
    """(added terms, removed terms); a term is a frozenset of variable labels."""
    if isinstance(node, Num):
        return ([frozenset()] if node.value == 1 else [_ZERO]), []
    if isinstance(node, Call) and node.func == "offset":
        offsets.append(node.args[0].value)
        return [], []
    if isinstance(node, (Name, Call)):
        return [frozenset({deparse(node)})], []
    if isinstance(node, Paren):
        return _ex(node.expr, offsets)
    if isinstance(node, Unary):
        p, m = _ex(node.operand, offsets)
        return (m, p) if node.op == "-" else (p, m)
    assert isinstance(node, BinOp), node
    if node.op == "^":
        p, _ = _ex(node.left, offsets)
        out = p
        for _ in range(int(node.right.value) - 1):
            out = _dedupe(out + _product(out, p))
        return out, []
    pl, ml = _ex(node.left, offsets)
    pr, mr = _ex(node.right, offsets)
    if node.op == "+":
        return pl + pr, ml + mr
    if node.op == "-":
        return pl + mr, ml + pr
    if node.op == ":":
        return _product(pl, pr), []
    if node.op == "*":
        return _dedupe(pl + pr + _product(pl, pr)), []
    if node.op == "/":
        allvars = frozenset().union(*[t for t in pl if t is not _ZERO]) if pl else frozenset()
        return _dedupe(pl + _product([allvars], pr)), []
    raise ValueError(f"operator {node.op!r} in fixed part")


def expand_terms(rhs: Node | None, lhs: Node | None = None) -> FixedTerms:
    """Expand a bar-free right-hand side into R's terms.

    Parameters
    ----------
    rhs : Node or None
        The fixed part (from :func:`nobars`); None means only an intercept.
    lhs : Node, optional
        The response; its variables come first in R's variable order.

    Returns
    -------
    FixedTerms

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> t = parse_tree("mAch ~ meanses * cses + sector * cses")
    >>> expand_terms(t.rhs, t.lhs).labels
    ['meanses', 'cses', 'sector', 'meanses:cses', 'cses:sector']
    >>> expand_terms(parse_tree("y ~ 0 + (a + b)^2").rhs).intercept
    False
    """
    offsets: list[Node] = []
    if rhs is None:
        plus, minus = [frozenset()], []
    else:
        plus, minus = _ex(rhs, offsets)
    order = variable_order(Tilde(lhs, rhs) if rhs is not None else lhs)
    rank = {k: i for i, k in enumerate(order)}
    intercept = not (_ZERO in plus or frozenset() in minus)
    kept = [t for t in _dedupe(plus) if t is not _ZERO and t and t not in minus]
    kept.sort(key=len)  # stable: R sorts terms by order only
    terms = tuple(tuple(sorted(t, key=lambda v: rank.get(v, len(rank)))) for t in kept)
    variables = {k: order[k] for t in terms for k in t}
    return FixedTerms(intercept, terms, variables, tuple(offsets))


# --- bars ------------------------------------------------------------------------------


def _expand_double_vert(bar: BinOp) -> Node:
    lhs_terms = expand_terms(bar.left)
    pieces = (["1"] if lhs_terms.intercept else []) + [f"0 + {lab}" for lab in lhs_terms.labels]
    from multilevel.formula.parser import parse_tree  # local: parser imports nothing from here
    group = deparse(bar.right)
    text = " + ".join(f"({p} | {group})" for p in pieces)
    return parse_tree("~" + text).rhs


def expand_double_verts(node: Node) -> Node:
    """Replace every ``x || g`` by ``(1 | g) + (0 + x | g)`` (lme4 ``expandDoubleVerts``).

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> deparse(expand_double_verts(parse_tree("y ~ Days + (Days || Subject)")))
    'y ~ Days + ((1 | Subject) + (0 + Days | Subject))'
    """
    if isinstance(node, Tilde):
        return Tilde(node.lhs, expand_double_verts(node.rhs))
    if isinstance(node, BinOp):
        if node.op == "||":
            return _expand_double_vert(node)
        if node.op == "|":
            return node
        return BinOp(node.op, expand_double_verts(node.left), expand_double_verts(node.right),
                     node.pos)
    if isinstance(node, Paren):
        return Paren(expand_double_verts(node.expr), node.pos)
    return node


def _slash_groups(group: Node) -> list[Node]:
    """lme4 ``expandSlash`` of a grouping expression: a/b -> [b:a, a]."""
    if isinstance(group, Paren):
        return _slash_groups(group.expr)
    if isinstance(group, BinOp) and group.op == "/":
        outer = _slash_groups(group.left)
        inner = group.right
        return [BinOp(":", inner, outer[0])] + outer
    return [group]


def findbars(rhs: Node) -> list[BinOp]:
    """The random-effects bars of a right-hand side, expanded as lme4's ``findbars``.

    Returns
    -------
    list of BinOp
        Nodes ``expr | group`` (``||`` and ``/`` already expanded).

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> [deparse(b) for b in findbars(parse_tree("y ~ x + (x || g) + (1 | a/b)").rhs)]
    ['1 | g', '0 + x | g', '1 | b:a', '1 | a']
    """
    out: list[BinOp] = []

    def walk(n: Node) -> None:
        if isinstance(n, BinOp) and n.op == "|":
            out.extend(BinOp("|", n.left, g) for g in _slash_groups(n.right))
        elif is_cov_call(n):
            bar, spec = _cov_inner(n), cov_spec(n)
            out.extend(StructuredBar("|", bar.left, g, cov=spec)
                       for g in _slash_groups(bar.right))
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Paren):
            walk(n.expr)
        elif isinstance(n, Unary):
            walk(n.operand)

    walk(expand_double_verts(rhs))
    return out


def has_dot(node: Node | None) -> bool:
    """True when the fixed part of a right-hand side uses R's ``.`` (all other columns)."""
    if isinstance(node, Name):
        return node.id == "."
    if isinstance(node, Paren):
        return has_dot(node.expr)
    if isinstance(node, Unary):
        return has_dot(node.operand)
    if isinstance(node, BinOp) and not is_bar(node):
        return has_dot(node.left) or has_dot(node.right)
    return False


def expand_dot(tree: Tilde, columns: list[str]) -> Tilde:
    """Replace ``.`` by the sum of the data's columns not on the left-hand side.

    R's ``terms.formula(data = )``: ``y ~ .`` means every other column, in the data's
    order, ``y ~ . - x`` all but ``x``; in ``lmer`` the grouping columns are included
    (write ``. - g + (1 | g)`` to leave one out), as lme4 does.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> deparse(expand_dot(parse_tree("y ~ . - b + (1 | g)"), ["y", "a", "b", "g"]))
    'y ~ (a + b + g) - b + (1 | g)'
    """
    if not has_dot(tree.rhs):
        return tree
    on_left: set[str] = set()

    def names(n) -> None:
        if isinstance(n, Name):
            on_left.add(n.id)
        elif isinstance(n, Call):
            for a in n.args:
                names(a.value)
        elif isinstance(n, Paren):
            names(n.expr)
        elif isinstance(n, Unary):
            names(n.operand)
        elif isinstance(n, BinOp):
            names(n.left)
            names(n.right)

    names(tree.lhs)
    others = [Name(str(c)) for c in columns if str(c) not in on_left]
    if not others:
        from multilevel.errors import FormulaError, two_line

        raise FormulaError(two_line("'.' in the formula stands for no column: the data has "
                                    "no columns besides the response",
                                    "name the predictors instead of '.'"))
    total: Node = others[0]
    for o in others[1:]:
        total = BinOp("+", total, o)
    dot = Paren(total) if len(others) > 1 else total

    def sub(n: Node) -> Node:
        if isinstance(n, Name) and n.id == ".":
            return dot
        if isinstance(n, Paren):
            return Paren(sub(n.expr), n.pos)
        if isinstance(n, Unary):
            return Unary(n.op, sub(n.operand), n.pos)
        if isinstance(n, BinOp) and not is_bar(n) and type(n) is BinOp:
            return BinOp(n.op, sub(n.left), sub(n.right), n.pos)
        return n

    return Tilde(tree.lhs, sub(tree.rhs))


def nobars(rhs: Node) -> Node | None:
    """The right-hand side without its bars (lme4 ``nobars``); None if nothing is left.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> deparse(nobars(parse_tree("y ~ 1 + x + (x | g)").rhs))
    '1 + x'
    >>> nobars(parse_tree("y ~ (1 | g)").rhs) is None
    True
    """
    if is_bar(rhs) or is_cov_call(rhs):
        return None
    if isinstance(rhs, Paren):
        inner = nobars(rhs.expr)
        if inner is None:
            return None
        return rhs if inner is rhs.expr else Paren(inner, rhs.pos)
    if isinstance(rhs, BinOp) and rhs.op in ("+", "-") and _has_bar(rhs):
        left = nobars(rhs.left)
        right = nobars(rhs.right) if rhs.op == "+" else rhs.right
        if left is None:
            return right if rhs.op == "+" else (Unary("-", right) if right is not None else None)
        if right is None:
            return left
        return BinOp(rhs.op, left, right, rhs.pos)
    return rhs
