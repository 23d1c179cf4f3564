"""Exceptions and warnings that users see.

Every error raised for bad input is a subclass of :class:`MultilevelError` and carries a
message written for people: one line saying what is wrong, one line saying how to fix it.
"""
from __future__ import annotations


class MultilevelError(ValueError):
    """Base class of every error `multilevel` raises for bad input or a failed fit."""


class FormulaError(MultilevelError):
    """A model formula that cannot be parsed or uses something not allowed."""


class DataError(MultilevelError):
    """Data that cannot be used for the model (missing columns, wrong types, NA/inf, ...)."""


class ConvergenceError(MultilevelError):
    """The optimiser failed in a way that leaves no usable estimate."""


class BackendError(MultilevelError):
    """A data engine (DuckDB, Spark) failed or a data source cannot be read."""


def our_help(message: str) -> str:
    """Point a message that names R's help (``see help('isSingular')``) to ours.

    Examples
    --------
    >>> our_help("boundary (singular) fit: see help('isSingular')")
    "boundary (singular) fit: see ml.help('isSingular')"
    """
    import re

    return re.sub(r"(?<![\w.])help\((['\"])", r"ml.help(\1", message)


class MultilevelWarning(UserWarning):
    """Base class of warnings from `multilevel`; a message naming R's ``help('topic')``
    names ``ml.help('topic')`` (:mod:`multilevel.help`) instead."""

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (our_help(args[0]), *args[1:])
        super().__init__(*args)


class ConvergenceWarning(MultilevelWarning):
    """The optimiser stopped with a warning (lme4's convergence checks)."""


class SingularFitWarning(MultilevelWarning):
    """The fit is on the boundary of the parameter space (lme4's 'boundary (singular) fit')."""


class RankDeficiencyWarning(MultilevelWarning):
    """Columns of the fixed-effects model matrix were dropped because they are collinear."""


class MissingDataWarning(MultilevelWarning):
    """Rows were removed because a variable in the model was missing."""


def two_line(what: str, fix: str) -> str:
    """Join the two halves of a user-facing error message.

    Examples
    --------
    >>> two_line("column 'x' not found", "check the spelling")
    "column 'x' not found\\n  How to fix: check the spelling"
    """
    return f"{what}\n  How to fix: {fix}"
