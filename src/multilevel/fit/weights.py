"""Prior weights given to a fit (lme4's ``weights =``)."""
from __future__ import annotations

import numpy as np

from ..errors import DataError, two_line


def prior_weights(weights, design, data, *, positive: bool = False) -> np.ndarray:
    """Prior weights for the rows used in a fit, from an array or a column name.

    An array may have one value per data row (the rows used are taken) or per used row.
    With ``positive`` zero weights are refused too (lmer: a weight enters as ``log w``).

    Examples
    --------
    >>> import pandas as pd
    >>> from multilevel.design.model_frame import build_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": list("aabb"), "w": [1.0, 2, 1, 2]})
    >>> prior_weights("w", build_design("y ~ 1 + (1 | g)", df), df).tolist()
    [1.0, 2.0, 1.0, 2.0]
    """
    n = design.nobs
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        from ..design.model_frame import as_dataframe

        df = as_dataframe(data)
        if weights not in df.columns:
            raise DataError(two_line(f"weights column {weights!r} not found in the data",
                                     "pass the name of a column or an array of weights"))
        w = np.asarray(df[weights], dtype=float)
    else:
        w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] == design.nobs + design.n_dropped and design.n_dropped:
        w = w[design.rows]
    elif w.shape[0] != n and w.shape[0] > int(np.max(design.rows, initial=-1)):
        w = w[design.rows]
    if w.shape[0] != n:
        raise DataError(two_line(f"weights has {w.shape[0]} values for {n} observations",
                                 "give one weight per row of the data"))
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise DataError(two_line("weights must be finite and non-negative",
                                 "check the weights for NA, Inf or negative values"))
    if positive and np.any(w == 0):
        raise DataError(two_line("weights must be positive for lmer (a zero weight has no "
                                 "likelihood)", "drop the rows with weight 0 from the data"))
    return w
