"""Tokenizer for lme4 model formulas.

A formula is data, never code: the tokenizer recognises only R names, numbers, the
formula operators and parentheses. Anything else (``[``, ``$``, ``@``, ``;``, quotes used
to call things, ...) is a :class:`~multilevel.errors.FormulaError` with a caret under the
offending character.
"""
from __future__ import annotations

from dataclasses import dataclass

from multilevel.errors import FormulaError, two_line

__all__ = ["Token", "tokenize", "caret_error"]

#: Operators, longest first so that ``||`` wins over ``|`` and ``**`` over ``*``.
_OPERATORS = ("||", "**", "~", "+", "-", "*", "/", "^", ":", "|", "=", ",", "(", ")")


@dataclass(frozen=True)
class Token:
    """One token of a formula.

    Attributes
    ----------
    kind : str
        ``"NAME"``, ``"NUMBER"``, ``"STRING"``, ``"OP"`` or ``"END"``.
    text : str
        The token as it appears in the formula (for a backquoted name: without backquotes).
    pos : int
        0-based position of the token's first character in the formula.
    """

    kind: str
    text: str
    pos: int


def caret_error(formula: str, pos: int, what: str, fix: str) -> FormulaError:
    """Build a FormulaError that shows `formula` with a caret under position `pos`.

    Examples
    --------
    >>> print(caret_error("y ~ x[1]", 5, "unexpected '['", "remove it"))
    unexpected '[' at position 5
        y ~ x[1]
             ^
      How to fix: remove it
    """
    pos = max(0, min(pos, len(formula)))
    shown = f"{what} at position {pos}\n    {formula}\n    {' ' * pos}^"
    return FormulaError(two_line(shown, fix))


def _is_name_start(s: str, i: int) -> bool:
    c = s[i]
    if c.isalpha() or c == "_":  # '_x' is not an R name, but pandas columns may look so
        return True
    # R: a name may start with '.' unless the dot is followed by a digit (".5" is a number)
    return c == "." and not (i + 1 < len(s) and s[i + 1].isdigit())


def read_number(s: str, i: int, integer_suffix: bool = True) -> int:
    """The end of the R number that starts at ``s[i]``: digits, a decimal point, an
    exponent, and (with ``integer_suffix``) R's integer ``L``.

    Examples
    --------
    >>> s = "x + 2.5e-3*z + 2L"
    >>> s[4:read_number(s, 4)], s[15:read_number(s, 15)], s[15:read_number(s, 15, False)]
    ('2.5e-3', '2L', '2')
    """
    j = i
    n = len(s)
    while j < n and s[j].isdigit():
        j += 1
    if j < n and s[j] == ".":
        j += 1
        while j < n and s[j].isdigit():
            j += 1
    if j < n and s[j] in "eE":
        k = j + 1
        if k < n and s[k] in "+-":
            k += 1
        if k < n and s[k].isdigit():
            j = k
            while j < n and s[j].isdigit():
                j += 1
    if integer_suffix and j < n and s[j] == "L":  # R integer literal 2L
        j += 1
    return j


def tokenize(formula: str) -> list[Token]:
    """Split a formula into tokens.

    Parameters
    ----------
    formula : str
        An lme4 model formula, e.g. ``"y ~ x + (x | g)"``.

    Returns
    -------
    list of Token
        The tokens, ending with a token of kind ``"END"``.

    Raises
    ------
    FormulaError
        For a character that cannot appear in a formula.

    Examples
    --------
    >>> [t.text for t in tokenize("y ~ x + (1 || g)")]
    ['y', '~', 'x', '+', '(', '1', '||', 'g', ')', '']
    """
    if not isinstance(formula, str):
        raise FormulaError(two_line(
            f"a formula must be a string, got {type(formula).__name__}",
            "write the model as text, e.g. \"y ~ x + (1 | g)\""))
    out: list[Token] = []
    i, n = 0, len(formula)
    while i < n:
        c = formula[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and formula[i + 1].isdigit()):
            j = read_number(formula, i)
            out.append(Token("NUMBER", formula[i:j], i))
            i = j
            continue
        if _is_name_start(formula, i):
            j = i + 1
            while j < n and (formula[j].isalnum() or formula[j] in "._"):
                j += 1
            out.append(Token("NAME", formula[i:j], i))
            i = j
            continue
        if c == "`":
            j = formula.find("`", i + 1)
            if j < 0:
                raise caret_error(formula, i, "unterminated backquoted name",
                                  "close the name with a second backquote: `my var`")
            out.append(Token("NAME", formula[i + 1:j], i))
            i = j + 1
            continue
        if c in "'\"":
            j = formula.find(c, i + 1)
            j = n if j < 0 else j + 1
            out.append(Token("STRING", formula[i:j], i))
            i = j
            continue
        if c == "%":
            j = formula.find("%", i + 1)
            if j < 0:
                raise caret_error(formula, i, "unexpected '%'",
                                  "only %in% is understood between '%' signs")
            out.append(Token("OP", formula[i:j + 1], i))
            i = j + 1
            continue
        for op in _OPERATORS:
            if formula.startswith(op, i):
                out.append(Token("OP", op, i))
                i += len(op)
                break
        else:
            raise caret_error(
                formula, i, f"unexpected character {c!r}",
                "a formula may contain only column names, numbers, the operators "
                "~ + - * / ^ : | || and function calls such as log(x) or factor(g)")
    out.append(Token("END", "", n))
    return out
