"""F tests of the fixed-effect terms of one model: lmerTest's ``anova(m)``."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .coef_table import ddf_method

COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


def _contrasts(m, type):
    from .contrasts import type1_contrasts, type2_contrasts, type3_contrasts

    t = str(type).upper()
    if t in ("3", "III"):
        return type3_contrasts(m.design), "III"
    if t in ("2", "II"):
        return type2_contrasts(m.design), "II"
    if t in ("1", "I"):
        return type1_contrasts(m.design), "I"
    raise ValueError(f"type must be 3 ('III'), 2 ('II') or 1 ('I'), got {type!r}")


def _lme4_table(m) -> pd.DataFrame:
    """lme4's ``anova(m)`` for one model: sequential sums of squares, no df or p-values."""
    from .contrasts import term_columns

    p = m.problem.p
    F = m.problem.factor(np.asarray(m.theta, dtype=float))
    effects = F.LXX[:p, :p].T @ np.asarray(m.fixef, dtype=float)
    rows = []
    for term, cols in term_columns(m.design).items():
        if not cols:
            continue
        ss = float(np.sum(effects[cols] ** 2))
        rows.append((term, len(cols), ss, ss / len(cols), ss / len(cols) / m.sigma ** 2))
    out = pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows],
                       columns=["npar", "Sum Sq", "Mean Sq", "F value"])
    out.attrs["heading"] = "Analysis of Variance Table"
    return out


def anova_table(m, type=3, ddf="satterthwaite") -> pd.DataFrame:
    """Type III, II or I F tests of each fixed-effect term, as lmerTest's ``anova(m)``.

    Parameters
    ----------
    m : LmerResult
    type : {3, 2, 1}
        Type III (lmerTest's default: SAS's definition), type II (each term adjusted for
        every term not containing it) or type I (sequential) hypotheses.
    ddf : {"satterthwaite", "kenward-roger", None}
        Denominator df; ``None`` gives lme4's table (sums of squares and F, no df or p).

    Returns
    -------
    DataFrame indexed by term, columns ``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``;
    ``attrs["heading"]`` holds lmerTest's title.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> anova_table(m).round(3).loc["Days"].tolist()
    [30030.939, 30030.939, 1.0, 17.0, 45.853, 0.0]
    """
    method = ddf_method(ddf)
    if method is None:
        return _lme4_table(m)
    Ls, roman = _contrasts(m, type)
    s2 = m.sigma ** 2
    rows = []
    for term, L in Ls.items():
        if method == "Kenward-Roger":
            from .kenward_roger import kr_ftest

            if L.shape[0] == 0:
                r = {"F": np.nan, "F_unscaled": np.nan, "ndf": 0, "ddf": np.nan}
            else:
                r = kr_ftest(m, L)
            ms, F = r["F_unscaled"] * s2, r["F"]
        else:
            from .satterthwaite import contrast_f

            r = contrast_f(m, L)
            ms, F = r["F"] * s2, r["F"]
        p = float(stats.f.sf(F, r["ndf"], r["ddf"])) if r["ndf"] else np.nan
        rows.append((term, ms * r["ndf"], ms, r["ndf"], r["ddf"], F, p))
    out = pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows], columns=COLUMNS)
    out["NumDF"] = out["NumDF"].astype(int)
    out.attrs["heading"] = (f"Type {roman} Analysis of Variance Table with {method}'s method")
    return out
