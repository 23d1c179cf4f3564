"""``lm``: ordinary least squares with R's formula semantics and labels."""
from __future__ import annotations

from ..errors import DataError, two_line
from .._callsite import caller_data_name


def lm(formula: str, data, *, contrasts: dict | None = None, data_name: str | None = None):
    """Fit a linear model by least squares, as R's ``lm``.

    Parameters
    ----------
    formula : str
        R syntax without random-effects terms, e.g. ``"math ~ homework + as.factor(schnum)"``.
    data : pandas.DataFrame (or polars DataFrame / dict of columns)
    contrasts : dict, optional
        Factor name -> ``"contr.sum"``, ``"contr.helmert"``, ``"contr.poly"``,
        ``"contr.SAS"``, ``"contr.sdif"``, ``"contr.treatment"`` or a numeric matrix
        (R's ``contrasts=``); ordered factors default to ``contr.poly``.
    data_name : str, optional
        Shown in the summary's ``Call:`` line; by default the caller's variable name.

    Returns
    -------
    LmResult

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy"))
    >>> round(m.sigma, 3)
    47.715
    """
    from ..design.model_frame import build_design
    from ..results.lm import LmResult

    from .._validate import check_data_name

    data_name = check_data_name(data_name)
    if data_name is None:
        data_name = caller_data_name(data)
    # R's lm keeps aliased coefficients (as NA, said in its summary) and unused levels
    design = build_design(formula, data, kind="lm", contrasts=contrasts)
    from .._validate import check_design_numbers

    check_design_numbers(design, kind="lm")  # squares that overflow or underflow
    if design.nobs <= design.X.shape[1] - len(design.dropped_columns):
        raise DataError(two_line(
            f"{design.nobs} observations for {design.X.shape[1]} coefficients: no residual "
            "degrees of freedom",
            "use fewer predictors or more data"))
    return LmResult(design=design, data_name=data_name)
