"""Variance inflation factors of the fixed effects (car's ``vif``).

car (Fox and Monette 1992) works on the correlation matrix ``R`` of the fixed-effect
estimates without the intercept: for a term with columns ``S``,
``GVIF = det(R_SS) det(R_-S,-S) / det(R)``. When every term has one column the result is
the VIF per term; otherwise car adds ``Df`` and ``GVIF^(1/(2*Df))``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MultilevelError, two_line


def vif(m) -> pd.Series | pd.DataFrame:
    """car's ``vif(m)`` for ``lm``, ``lmer`` and ``glmer`` fits.

    Returns
    -------
    Series of VIFs (all terms one column) or DataFrame with ``GVIF``, ``Df`` and
    ``GVIF^(1/(2*Df))`` (car's columns), one row per term.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("normexam ~ standLRT + schavg + vr + (1 | school)",
    ...             ml.datasets.load("Exam"))
    >>> ml.vif(m).columns.tolist()
    ['GVIF', 'Df', 'GVIF^(1/(2*Df))']
    """
    from .contrasts import term_columns

    names = list(m.fixef.index)
    if np.any(~np.isfinite(np.asarray(m.fixef, dtype=float))):
        raise MultilevelError(two_line("there are aliased coefficients in the model",
                                       "remove the collinear terms first"))
    xnames = list(m.design.xnames)
    cols = term_columns(m.design)
    V = np.asarray(m.vcov.loc[names, names], dtype=float)
    keep = [i for i, n in enumerate(names) if n != "(Intercept)"]
    if len(keep) == len(names):
        import warnings

        warnings.warn("No intercept: vifs may not be sensible.", UserWarning, stacklevel=2)
    V = V[np.ix_(keep, keep)]
    kept_names = [names[i] for i in keep]
    pos = {n: i for i, n in enumerate(kept_names)}
    terms = {t: [pos[xnames[c]] for c in cs if xnames[c] in pos] for t, cs in cols.items()}
    terms = {t: s for t, s in terms.items() if s}
    if len(terms) < 2:
        raise MultilevelError(two_line("model contains fewer than 2 terms",
                                       "a VIF compares a term with the others"))
    d = np.sqrt(np.diag(V))
    R = V / np.outer(d, d)
    det_r = np.linalg.det(R)
    out = []
    for t, s in terms.items():
        rest = [i for i in range(len(kept_names)) if i not in s]
        g = np.linalg.det(R[np.ix_(s, s)]) * np.linalg.det(R[np.ix_(rest, rest)]) / det_r
        out.append((t, g, len(s)))
    labels = [o[0] for o in out]
    gv = np.array([o[1] for o in out])
    df = np.array([o[2] for o in out])
    if np.all(df == 1):
        return pd.Series(gv, index=labels, name="VIF")
    return pd.DataFrame({"GVIF": gv, "Df": df, "GVIF^(1/(2*Df))": gv ** (1.0 / (2.0 * df))},
                        index=labels)
