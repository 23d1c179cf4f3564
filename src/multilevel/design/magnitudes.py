"""The design's numbers: refused before fitting when squares would overflow or underflow.

Checks of a built design (:func:`check_design_numbers`) and of a model matrix while it is
built (:func:`check_magnitudes`); the error messages name the column and say how to rescale.
Re-exported by :mod:`multilevel._validate`, where the other boundary checks live.
"""
from __future__ import annotations

import math

from multilevel.errors import DataError, two_line

__all__ = ["MAX_SUM_SQUARES", "MIN_MAGNITUDE", "check_design_numbers", "check_magnitudes",
           "gram_matrix"]

#: Largest sum of squares of a column the cross-products can form without overflow (a
#: column's largest value times the square root of the rows must stay below its root; lme4
#: fits data scaled by 1e120 and fails at 1e300), and the smallest non-zero magnitude of a
#: column whose squares do not underflow (lme4 fails at 1e-300).
MAX_SUM_SQUARES = 1e300
MIN_MAGNITUDE = 1e-140


def check_design_numbers(design, kind: str = "lmer") -> None:
    """Refuse, before fitting, what would end in a raw numerical failure: no residual
    degrees of freedom (``lmer``), a constant response (``lmer``), and a response so large or
    so small that its squares overflow or underflow (1e300, 1e-300); the model matrix's
    columns were checked when the design was built (:func:`check_magnitudes`).

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace as NS
    >>> d = NS(y=np.array([1e300, 2e300, 3e300]), X=np.ones((3, 1)), xnames=["(Intercept)"],
    ...        nobs=3, response_name="y")
    >>> check_design_numbers(d)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: the response 'y' has values as large as 3e+300: ...
      How to fix: rescale it (e.g. divide by 1e300) and fit again
    """
    import numpy as np

    name = getattr(design, "response_name", None) or "response"
    y = np.asarray(design.y, dtype=float)
    # the response's magnitudes (X was checked by build_design); its range from one max/min
    hi, lo = (float(y.max()), float(y.min())) if y.size else (0.0, 0.0)
    top = max(hi, -lo)
    if math.isfinite(top):
        _refuse_magnitude(f"the response {name!r}", top, y.size)
    else:  # NaN or Inf: the finite values only
        _refuse_magnitude(f"the response {name!r}", *_column_top(y.ravel()))
    if kind != "lmer":
        return
    p = np.shape(design.X)[1]
    if design.nobs <= p:
        raise DataError(two_line(
            f"{design.nobs} observations for {p} fixed-effect coefficients: no residual "
            "degrees of freedom", "use fewer predictors or more data"))
    if y.size and hi - lo == 0:  # np.ptp: NaN (Inf - Inf) is not constant
        raise DataError(two_line(
            f"the response {name!r} is constant (every value is {y[0]:g}): a mixed model "
            "needs variation in the response", "check the data or the rows used"))


def _column_top(v) -> tuple[float, int]:
    """The largest absolute finite value of a vector (0.0 when none) and how many finite
    values it has."""
    import numpy as np

    if v.size == 0:
        return 0.0, 0
    top = max(float(v.max()), -float(v.min()))
    if math.isfinite(top):
        return top, int(v.size)
    v = v[np.isfinite(v)]
    return (float(np.max(np.abs(v))) if v.size else 0.0), int(v.size)


def gram_matrix(X):
    """``X'X`` of a 2-D float array, or None when it could overflow: when a value is NaN,
    infinite or larger than ``sqrt(MAX_SUM_SQUARES / n)`` (no column's sum of squares can
    exceed ``MAX_SUM_SQUARES`` below that bound, nor, by Cauchy-Schwarz, any cross-product).

    The model matrix's magnitude check reads its diagonal (:func:`check_magnitudes`'
    `gram`) and the rank screen the whole of it, so it is formed once per design.

    Examples
    --------
    >>> import numpy as np
    >>> gram_matrix(np.array([[1.0, 2.0], [1.0, 0.0]])).tolist()
    [[2.0, 2.0], [2.0, 4.0]]
    >>> gram_matrix(np.array([[1e300]])) is None
    True
    """
    n, p = X.shape
    if n == 0 or p == 0:
        return None
    top = max(float(X.max()), -float(X.min()))
    if not math.isfinite(top) or top > math.sqrt(MAX_SUM_SQUARES / n):
        return None
    return X.T @ X


def _magnitude_suspects(X, gram=None) -> list[int]:
    """The columns of a 2-D float array that may be out of range for
    :func:`check_magnitudes`; the others certainly are not.

    Two full reductions (max, min) bound every column's largest |value|: below the overflow
    limit for n values, no column overflows. A column's sum of squares ``s_j`` bounds its
    largest |value| from below (``max |x| >= sqrt(s_j / n)``): ``s_j >= n (2 MIN)^2`` rules
    out underflow (the factor 2 covers rounding). Reductions along the columns of a tall
    C-ordered array are slow in numpy (``X.max(axis=0)`` is ~25x a full ``X.max()``), which
    this avoids. A `gram` from :func:`gram_matrix` (which vouches for the first bound)
    gives the sums of squares on its diagonal."""
    import numpy as np

    n, p = X.shape
    if n == 0 or p == 0:
        return []
    floor = n * (2.0 * MIN_MAGNITUDE) ** 2
    if gram is not None:  # the few columns of a model matrix: compared in Python floats
        return [j for j, s in enumerate(np.diagonal(gram).tolist()) if s < floor]
    top = max(float(X.max()), -float(X.min()))
    if not math.isfinite(top) or top > math.sqrt(MAX_SUM_SQUARES / n):
        return list(range(p))  # NaN, Inf or very large values: every column on its own
    squares = np.einsum("ij,ij->j", X, X)
    return np.flatnonzero(squares < floor).tolist()


def check_magnitudes(X, xnames, y=None, response: str = "response", *, gram=None) -> None:
    """A DataError for a column whose squares overflow or underflow (see
    :func:`check_design_numbers`); called on the model matrix before collinear columns are
    looked for (a column of 1e-300 would otherwise be dropped as zero). `gram`: ``X'X``
    from :func:`gram_matrix` when the caller has it (None: worked out here).

    Examples
    --------
    >>> import numpy as np
    >>> check_magnitudes(np.array([[1.0, 2e-200], [1.0, 3e-200]]), ["(Intercept)", "x"])
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: the column 'x' of the fixed effects has ... 3e-200: ...
      How to fix: rescale it (e.g. multiply by 1e200) and fit again
    """
    import numpy as np

    X = np.asarray(X, dtype=float)
    # the largest |finite value| of the response, then of each column that may be out of
    # range (see _magnitude_suspects), against the limits for that many finite values
    if y is not None:
        _refuse_magnitude(f"the response {response!r}",
                          *_column_top(np.asarray(y, float).ravel()))
    X = (X if X.ndim == 2 else X.reshape(X.size, 1))[:, :len(xnames)]  # 1-D: one column
    if gram is not None and X.shape[1] != gram.shape[0]:
        gram = None  # 1-D or trimmed X: not that Gram matrix
    for j in _magnitude_suspects(X, gram):  # in column order: the first out of range is named
        _refuse_magnitude(f"the column {xnames[j]!r} of the fixed effects",
                          *_column_top(X[:, j]))


def _refuse_magnitude(what: str, top: float, count: int) -> None:
    """The DataError for values whose squares overflow (summed over `count` values) or
    underflow; `top` is the largest absolute finite value."""
    if top > math.sqrt(MAX_SUM_SQUARES / max(count, 1)):
        import numpy as np

        raise DataError(two_line(
            f"{what} has values as large as {top:.3g}: their squares overflow",
            f"rescale it (e.g. divide by 1e{int(np.floor(np.log10(top)))}) and fit again"))
    if 0 < top < MIN_MAGNITUDE:
        import numpy as np

        raise DataError(two_line(
            f"{what} has values no larger than {top:.3g}: their squares underflow to 0",
            f"rescale it (e.g. multiply by 1e{-int(np.floor(np.log10(top)))}) and fit "
            "again"))
