"""Syntax tree of a formula and R's deparser for it.

The nodes are frozen dataclasses so that equal expressions compare (and hash) equal: the
term ``log(x + 1)`` written twice is one variable. Positions are kept for error messages
but take no part in comparisons.

:func:`deparse` writes a node the way R's ``deparse()`` does: spaces around ``+ - * ~ |
||`` and ``%in%``, none around ``/ ^ :``; ``**`` is read as ``^``. R builds coefficient
labels (``I(x^2)``, ``log(x + 1)``, ``poly(x, 2)1``) and the summary's "Formula:" line from
this form.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["Node", "Name", "Num", "Str", "Arg", "Call", "BinOp", "Unary", "Paren", "Tilde",
           "deparse", "format_number"]


@dataclass(frozen=True)
class Node:
    """Base class of formula syntax nodes (internal)."""


@dataclass(frozen=True)
class Name(Node):
    id: str
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Num(Node):
    text: str
    pos: int = field(default=-1, compare=False, repr=False)

    @property
    def value(self) -> float:
        return float(self.text.rstrip("L"))


@dataclass(frozen=True)
class Str(Node):
    text: str
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Arg(Node):
    name: str | None
    value: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Arg, ...]
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Paren(Node):
    expr: Node
    pos: int = field(default=-1, compare=False, repr=False)


@dataclass(frozen=True)
class Tilde(Node):
    lhs: Node | None
    rhs: Node


_SPACED = {"+", "-", "*", "|", "||", "~"}
_R_NAME = re.compile(r"^((\.[A-Za-z_.])|[A-Za-z])[A-Za-z0-9_.]*$|^\.$")
_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE",
             "FALSE", "NULL", "Inf", "NaN", "NA", "in"}


def format_number(text: str) -> str:
    """Write a numeric literal as R's ``deparse()`` does (15 significant digits).

    Examples
    --------
    >>> [format_number(t) for t in ["2", "2.50", "1e-3", "100000", "10000", "2L", "0.5"]]
    ['2', '2.5', '0.001', '1e+05', '10000', '2L', '0.5']
    """
    if text.endswith("L"):
        return text
    v = float(text)
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else ("Inf" if v > 0 else "-Inf")
    sign = "-" if v < 0 else ""
    mant, exp = f"{abs(v):.14e}".split("e")
    digits = mant.replace(".", "").rstrip("0") or "0"
    e = int(exp)
    k = len(digits)
    if e >= k - 1:
        fixed = digits + "0" * (e - k + 1)
    elif e >= 0:
        fixed = digits[:e + 1] + "." + digits[e + 1:]
    else:
        fixed = "0." + "0" * (-e - 1) + digits
    sci = (digits[0] + ("." + digits[1:] if k > 1 else "")
           + "e" + ("-" if e < 0 else "+") + f"{abs(e):02d}")
    return sign + (fixed if len(fixed) <= len(sci) else sci)


def _name(s: str) -> str:
    return s if _R_NAME.match(s) and s not in _RESERVED else f"`{s}`"


def deparse(node: Node | None) -> str:
    """Write a formula node as R's ``deparse()`` would.

    Parameters
    ----------
    node : Node
        A node from :func:`multilevel.formula.parser.parse_expr`.

    Returns
    -------
    str

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> deparse(parse_tree("y~x*z+I(x**2)+log(x+1)+(x||g/h)"))
    'y ~ x * z + I(x^2) + log(x + 1) + (x || g/h)'
    """
    if node is None:
        return ""
    if isinstance(node, Name):  # TRUE / FALSE are R's constants, never backquoted
        return node.id if node.id in ("TRUE", "FALSE") else _name(node.id)
    if isinstance(node, Num):
        return format_number(node.text)
    if isinstance(node, Str):  # R deparses strings in double quotes
        if node.text[:1] == "'":
            inner = node.text[1:-1].replace("\\'", "'").replace('"', '\\"')
            return f'"{inner}"'
        return node.text
    if isinstance(node, Paren):
        return f"({deparse(node.expr)})"
    if isinstance(node, Unary):
        return f"{node.op}{deparse(node.operand)}"
    if isinstance(node, Call):
        parts = [(f"{_name(a.name)} = " if a.name else "") + deparse(a.value) for a in node.args]
        return f"{_name(node.func)}({', '.join(parts)})"
    if isinstance(node, BinOp):
        sep = f" {node.op} " if node.op in _SPACED or node.op.startswith("%") else node.op
        return f"{deparse(node.left)}{sep}{deparse(node.right)}"
    if isinstance(node, Tilde):
        return (f"{deparse(node.lhs)} ~ " if node.lhs is not None else "~") + deparse(node.rhs)
    raise TypeError(f"not a formula node: {node!r}")
