"""``ml.options``: R's ``options(digits =, scipen =, width =)`` for everything `multilevel` prints.

Every printed summary and table (``m.summary()``, ``ml.anova``, ``m.varcorr``, ``m.tidy()``,
...) formats its numbers as R does under these options, read when the text is made:

* ``digits`` (7): R's ``options(digits)``; summaries print with ``digits - 3`` significant
  digits and anova tables with ``digits - 2``, as R's print methods do.
* ``scipen`` (0): R's penalty for scientific notation: a number prints in fixed notation
  unless that is more than ``scipen`` characters wider than scientific notation
  (``scipen=8``, the lesson's setting, keeps p-values such as ``0.00000000147`` fixed).
* ``width`` (80): the line width tables wrap at.

``ml.options(digits=3)`` sets options for the session and returns the previous values (as R
does); used in a ``with`` statement it sets them for the block only.

Examples
--------
>>> import multilevel as ml
>>> ml.options()["digits"]
7
>>> with ml.options(digits=3, scipen=8):
...     ml.options()["digits"], ml.options()["scipen"]
(3, 8)
>>> ml.options()["digits"]
7
"""
from __future__ import annotations


__all__ = ["options", "get_option"]

_DEFAULTS = {"digits": 7, "scipen": 0, "width": 80}
_LIMITS = {"digits": (1, 22), "scipen": (-9, 9999), "width": (10, 10000)}
_values = dict(_DEFAULTS)


def get_option(name: str) -> int:
    """The current value of one option (R's ``getOption``).

    Examples
    --------
    >>> get_option("width")
    80
    """
    if name not in _values:
        raise ValueError(f"unknown option {name!r}: choose one of " + ", ".join(_DEFAULTS))
    return _values[name]


def resolve_digits(digits: int | None) -> int:
    """``digits`` if given, else ``options(digits)``: the rule every printer follows.

    Examples
    --------
    >>> resolve_digits(3), resolve_digits(None)
    (3, 7)
    """
    return _values["digits"] if digits is None else int(digits)


class _Options(dict):
    """The values before an :func:`options` call; a context manager that restores them."""

    def __init__(self, old: dict, current: dict):
        super().__init__(old if old else current)
        self._old = old

    def __enter__(self) -> _Options:
        return self

    def __exit__(self, *exc) -> None:
        _values.update(self._old)

    def __repr__(self) -> str:
        return "options(" + ", ".join(f"{k}={v!r}" for k, v in self.items()) + ")"


def options(**values: int) -> _Options:
    """Set (or, without arguments, show) the print options: ``digits``, ``scipen``, ``width``.

    Parameters
    ----------
    digits : int, optional
        Significant digits, 1 to 22 (R's ``options(digits)``; default 7).
    scipen : int, optional
        Penalty for scientific notation (R's ``options(scipen)``; default 0; ``8`` keeps
        small p-values in fixed notation).
    width : int, optional
        Line width of printed tables (default 80).

    Returns
    -------
    dict
        With arguments, the previous values of the options set (R's ``op <- options(...)``;
        ``ml.options(**op)`` restores them); without, all current values. Used in a ``with``
        statement, the options return to their previous values at the end of the block.

    Raises
    ------
    ValueError
        An unknown option or a value outside its range.

    Examples
    --------
    >>> import multilevel as ml
    >>> op = ml.options(digits=4)
    >>> op
    options(digits=7)
    >>> ml.options()["digits"]
    4
    >>> _ = ml.options(**op)
    >>> with ml.options(scipen=8):
    ...     ml.options()["scipen"]
    8
    """
    for name, value in values.items():
        if name not in _DEFAULTS:
            raise ValueError(f"unknown option {name!r}: choose one of " + ", ".join(_DEFAULTS))
        lo, hi = _LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"options({name}=...) must be an integer from {lo} to {hi}, "
                             f"not {value!r}")
    old = {name: _values[name] for name in values}
    _values.update(values)
    return _Options(old, dict(_values))
