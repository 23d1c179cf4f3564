"""Find the name a caller gave its data, for the summary's ``Data:`` line (as R prints it).

R prints the expression passed as ``data``. Python keeps no such thing, so we read the caller's
source at the exact call position (Python 3.11's instruction positions) and take the text of
the data argument when it is a plain name; failing that, a variable bound to the same object.
"""
from __future__ import annotations

import ast
import inspect
import itertools
import linecache
import os
from functools import lru_cache

_PKG = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


@lru_cache(maxsize=256)
def _in_package(filename: str) -> bool:
    return os.path.realpath(filename).startswith(_PKG)


def _outside_frame():
    f = inspect.currentframe()
    while f is not None and _in_package(f.f_code.co_filename):
        f = f.f_back
    return f


#: (id of the code object, instruction, position, keyword) -> (code object, argument text):
#: the call sites already read. Keyed by the code object's id, not the object (hashing a
#: code object hashes its constants, nested functions included: ~7 us for a 400-line
#: script, each fit); the entry keeps the code object alive, so its id is not reused.
_CALL_SITES: dict = {}
_MAX_CALL_SITES = 1024


def _argument_text(f, position: int = 1, keyword: str = "data") -> str | None:
    """Source text of the call's data argument in frame ``f``, if it is a simple name."""
    code = f.f_code
    key = (id(code), f.f_lasti, position, keyword)
    hit = _CALL_SITES.get(key)
    if hit is not None and hit[0] is code:
        return hit[1]
    text = _call_argument(code.co_filename, code, f.f_lasti, position, keyword)
    if len(_CALL_SITES) >= _MAX_CALL_SITES:
        _CALL_SITES.clear()
    _CALL_SITES[key] = (code, text)
    return text


def _call_argument(filename: str, code, lasti: int, position: int,
                   keyword: str) -> str | None:
    """The data argument's text of the call at instruction ``lasti`` of ``code`` in
    ``filename`` (cached by :func:`_argument_text`: a call site's text does not change while
    its code object lives, so a loop of fits reads and parses it once)."""
    try:
        # the position of the instruction being executed: the call into multilevel
        positions = itertools.islice(code.co_positions(), lasti // 2, None)
        lineno, end_lineno, col, end_col = next(positions)
        if None in (lineno, end_lineno, col, end_col):
            return None
        lines = [linecache.getline(filename, n) for n in range(lineno, end_lineno + 1)]
        if not any(lines):
            return None
        if len(lines) == 1:
            text = lines[0][col:end_col]
        else:
            text = lines[0][col:] + "".join(lines[1:-1]) + lines[-1][:end_col]
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, OSError, IndexError, AttributeError, StopIteration):
        return None
    if not isinstance(node, ast.Call):
        return None
    arg = next((k.value for k in node.keywords if k.arg == keyword), None)
    if arg is None and len(node.args) > position:
        arg = node.args[position]
    if isinstance(arg, (ast.Name, ast.Attribute)):
        return ast.unparse(arg)
    return None


def caller_data_name(data) -> str | None:
    """The expression the caller passed as ``data`` when it is a name, else a variable bound
    to the same object, else None.

    Examples
    --------
    >>> frame = object()
    >>> caller_data_name(frame)
    'frame'
    """
    f = _outside_frame()
    try:
        if f is None:
            return None
        name = _argument_text(f)
        if name is not None:
            return name
        for scope in (f.f_locals, f.f_globals):
            for key, value in _snapshot(scope):
                if value is data and isinstance(key, str) and not key.startswith("_"):
                    return key
        return None
    finally:
        del f


def _snapshot(scope) -> list:
    """The items of a namespace that other threads may be changing right now.

    ``dict.copy()`` runs without releasing the interpreter lock, so it sees one consistent
    state; iterating the live dict instead fails with "dictionary changed size during
    iteration" when another thread adds a global. A namespace that is not a plain dict is
    copied item by item, retried a few times, and given up (no name) if it keeps changing.

    Examples
    --------
    >>> _snapshot({"a": 1})
    [('a', 1)]
    """
    if type(scope) is dict:
        return list(scope.copy().items())
    for _ in range(5):
        try:
            return list(scope.items())
        except RuntimeError:
            continue
    return []
