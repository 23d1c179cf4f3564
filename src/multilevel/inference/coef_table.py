"""The fixed-effects table with t tests: lme4's, lmerTest's (Satterthwaite) or Kenward-Roger."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ["estimate", "std_error", "df", "statistic", "p_value"]

_ALIASES = {
    None: None, "lme4": None, "none": None,
    "satterthwaite": "Satterthwaite", "satt": "Satterthwaite",
    "kenward-roger": "Kenward-Roger", "kenward_roger": "Kenward-Roger", "kr": "Kenward-Roger",
}


def ddf_method(ddf) -> str | None:
    """Normalise a ``ddf=`` argument to lmerTest's spelling (``None`` for lme4's table).

    Examples
    --------
    >>> ddf_method("KR"), ddf_method("satterthwaite"), ddf_method(None)
    ('Kenward-Roger', 'Satterthwaite', None)
    """
    key = ddf.lower() if isinstance(ddf, str) else ddf
    if key not in _ALIASES:
        raise ValueError(f"ddf must be 'satterthwaite', 'kenward-roger' or None, got {ddf!r}")
    return _ALIASES[key]


def coef_table(m, ddf="satterthwaite") -> pd.DataFrame:
    """Estimates, standard errors, df, t statistics and p-values of the fixed effects.

    Parameters
    ----------
    m : LmerResult
    ddf : {"satterthwaite", "kenward-roger", None}
        ``"satterthwaite"``: lmerTest's ``summary`` (default); ``"kenward-roger"``: the
        adjusted standard errors and df of pbkrtest (REML fits only); ``None``: lme4's table
        (no df, no p-values: those columns are NaN).

    Returns
    -------
    DataFrame indexed by R's coefficient labels, columns
    ``estimate, std_error, df, statistic, p_value``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> coef_table(m).round(3).loc["Days"].tolist()
    [10.467, 1.546, 17.0, 6.771, 0.0]
    """
    method = ddf_method(ddf)
    names = list(m.fixef.index)
    est = np.asarray(m.fixef, dtype=float)
    eye = np.eye(len(names))
    if method == "Kenward-Roger":
        from .kenward_roger import kr_ddf, vcov_adjusted

        adj = vcov_adjusted(m)
        se = np.sqrt(np.diag(adj.vcov_adj))
        df = np.array([kr_ddf(adj, e)["ddf"] for e in eye]) if names else np.zeros(0)
    else:
        se = np.sqrt(np.diag(np.asarray(m.vcov, dtype=float)))
        if method == "Satterthwaite":
            from .satterthwaite import contrast_df

            df = contrast_df(m, eye) if names else np.zeros(0)
        else:
            df = np.full(len(names), np.nan)
    t = est / se
    p = 2.0 * stats.t.sf(np.abs(t), df) if method else np.full(len(names), np.nan)
    return pd.DataFrame({"estimate": est, "std_error": se, "df": df, "statistic": t,
                         "p_value": p}, index=pd.Index(names), columns=COLUMNS)


def summary(m, digits: int | None = None, ddf="satterthwaite"):
    """lme4's summary with lmerTest's df and ``Pr(>|t|)`` columns (``ddf=None``: lme4's).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> "Satterthwaite's method" in str(summary(m))
    True
    """
    from ..report.summary_data import CoefTable
    from ..results.summary import lmer_summary

    method = ddf_method(ddf)
    if method is None:
        return lmer_summary(m, digits=digits)
    tab = coef_table(m, ddf=method)
    coefs = CoefTable(tuple(tab.index), tab["estimate"].to_numpy(), tab["std_error"].to_numpy(),
                      tab["statistic"].to_numpy(), df=tab["df"].to_numpy(),
                      p_value=tab["p_value"].to_numpy())
    return lmer_summary(m, digits=digits, coefficients=coefs, ddf_method=method)
