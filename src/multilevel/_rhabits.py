"""Small bridges for R habits: ``REML=`` as an alias of ``reml=``, and fitted values that can
be read as a property (``m.fitted``) or called as R's ``fitted(m)`` (``m.fitted()``)."""
from __future__ import annotations

import pandas as pd

from .errors import DataError, two_line

__all__ = ["reml_alias", "FittedValues"]


def reml_alias(reml, REML):  # noqa: N803 - R's spelling on purpose
    """The ``reml`` to use when a caller may write R's ``REML=`` (default True).

    Examples
    --------
    >>> reml_alias(None, False), reml_alias(True, None), reml_alias(None, None)
    (False, True, True)
    >>> reml_alias(True, False)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: reml=True and REML=False disagree
      How to fix: give one of them (REML= is R's spelling of reml=)
    """
    if REML is None:
        return True if reml is None else reml
    if reml is not None and bool(reml) != bool(REML):
        raise DataError(two_line(f"reml={reml!r} and REML={REML!r} disagree",
                                 "give one of them (REML= is R's spelling of reml=)"))
    return REML


def n_agq_alias(n_agq, nAGQ):  # noqa: N803 - R's spelling on purpose
    """The ``n_agq`` to use when a caller may write lme4's ``nAGQ=`` (default 1).

    Examples
    --------
    >>> n_agq_alias(1, 9), n_agq_alias(9, None), n_agq_alias(9, 9)
    (9, 9, 9)
    >>> n_agq_alias(5, 9)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: n_agq=5 and nAGQ=9 disagree
      How to fix: give one of them (nAGQ= is lme4's spelling of n_agq=)
    """
    if nAGQ is None:
        return n_agq
    if n_agq != 1 and n_agq != nAGQ:
        raise DataError(two_line(f"n_agq={n_agq!r} and nAGQ={nAGQ!r} disagree",
                                 "give one of them (nAGQ= is lme4's spelling of n_agq=)"))
    return nAGQ


class FittedValues(pd.Series):
    """Fitted values: a pandas Series that can also be called, ``m.fitted()``.

    ``m.fitted`` has always been a property (a Series, as before: existing code keeps
    working); R users write ``fitted(m)``, so calling it, ``m.fitted()``, returns the same
    values as a plain Series instead of failing with "'Series' object is not callable".
    (``m.residuals()`` is a method, as ``residuals(m, type=)`` takes arguments.) Operations
    on it give plain Series.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy"))
    >>> bool((m.fitted() == m.fitted).all()), type(m.fitted()).__name__
    (True, 'Series')
    """

    @property
    def _constructor(self):
        return pd.Series

    @property
    def _constructor_expanddim(self):
        return pd.DataFrame

    def __call__(self, *args, **kwargs) -> pd.Series:
        # DataFrame.assign(col=m.fitted) calls a callable with the frame: give the values
        if kwargs or len(args) > 1 or (args and not isinstance(args[0], pd.DataFrame)):
            raise TypeError("fitted values take no arguments: m.fitted or m.fitted()")
        return pd.Series(self, copy=True)
