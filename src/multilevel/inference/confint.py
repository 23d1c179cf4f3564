"""``m.confint()``: Wald, profile and bootstrap intervals with lme4's row names.

Rows are lme4's: ``.sig01, .sig02, ...`` (standard deviations and correlations of each
term, in theta's order), ``.sigma``, then the fixed effects; ``readable=True`` gives
``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``, ``sigma`` instead
(``confint(m, oldNames = FALSE)``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line
from ..results.names import sig_names


def parameter_names(m, readable: bool = False) -> list[str]:
    """lme4's names of all parameters of ``confint``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> parameter_names(m), parameter_names(m, readable=True)
    (['.sig01', '.sigma', '(Intercept)'], ['sd_(Intercept)|Batch', 'sigma', '(Intercept)'])
    """
    return (sig_names(m.terms, old_names=not readable) + ["sigma" if readable else ".sigma"]
            + list(m.fixef.index))


def wald_confint(m, level: float = 0.95, readable: bool = False) -> pd.DataFrame:
    """lme4's ``confint(m, method = "Wald")``: ``beta +- z se``; NaN for variance parameters.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> wald_confint(m).round(3).loc["Days"].tolist()
    [7.438, 13.497]
    """
    z = float(stats.norm.ppf((1 + level) / 2))
    beta = np.asarray(m.fixef, dtype=float)
    se = np.sqrt(np.diag(np.asarray(m.vcov, dtype=float)))
    nv = len(parameter_names(m)) - beta.size
    lower = np.r_[np.full(nv, np.nan), beta - z * se]
    upper = np.r_[np.full(nv, np.nan), beta + z * se]
    return pd.DataFrame({"lower": lower, "upper": upper},
                        index=pd.Index(parameter_names(m, readable)))


def _select(tab: pd.DataFrame, m, parm, readable: bool) -> pd.DataFrame:
    if parm is None:
        return tab
    names = parameter_names(m, readable)
    nv = len(names) - len(m.fixef)
    if isinstance(parm, str) and parm in ("theta_", "beta_"):
        return tab.iloc[:nv] if parm == "theta_" else tab.iloc[nv:]
    if not isinstance(parm, (str, list, tuple)) and not hasattr(parm, "__iter__"):
        raise DataError(two_line(f"parm must be a parameter name or a list of them, not "
                                 f"{parm!r}", "pass e.g. parm=['(Intercept)', 'Days']"))
    parm = [parm] if isinstance(parm, str) else list(parm)
    other = parameter_names(m, not readable)
    keys = [names[other.index(p)] if p not in names and p in other else p for p in parm]
    missing = [p for p in keys if p not in tab.index]
    if missing:
        raise DataError(two_line(f"unknown parameters {missing}",
                                 f"the parameters are {', '.join(map(str, names))}"))
    return tab.loc[keys]


def confint(m, parm=None, level: float = 0.95, method: str = "profile", *,
            nsim: int = 500, seed=None, boot_type: str = "perc", readable: bool = False,
            n_jobs: int = 2, progress: bool | None = None) -> pd.DataFrame:
    """Confidence intervals for the parameters of a linear mixed model (lme4's ``confint``).

    Parameters
    ----------
    m : LmerResult
    parm : str or list of str, optional
        Parameters (lme4's or readable names), or ``"theta_"`` / ``"beta_"``; all by default.
    level : float
    method : {"profile", "wald", "boot"}
        ``"profile"`` (lme4's default): likelihood-profile limits of the ML deviance;
        ``"wald"``: ``beta +- z se`` (NaN for variance parameters); ``"boot"``: parametric
        bootstrap (``nsim`` replicates, ``seed``, ``boot_type`` "perc", "basic" or "norm").
    readable : bool
        Row names ``sd_(Intercept)|g`` / ``cor_x.(Intercept)|g`` / ``sigma`` instead of
        ``.sig01`` / ``.sigma``.

    Returns
    -------
    DataFrame with columns ``lower, upper``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> confint(m, method="wald").index.tolist()
    ['.sig01', '.sigma', '(Intercept)']
    """
    from .._validate import check_level

    level = check_level(level)
    if not isinstance(method, str):
        raise DataError(two_line(f"method must be 'profile', 'wald' or 'boot', got {method!r}",
                                 "pass method='profile', 'wald' or 'boot'"))
    method = method.lower()
    if method == "wald":
        tab = wald_confint(m, level, readable)
    elif method == "profile":
        from .profile import profile_confint

        which = None
        if parm is not None and not (isinstance(parm, str) and parm in ("theta_", "beta_")):
            which = [parm] if isinstance(parm, str) else list(parm)
        elif parm is not None:
            which = parm
        return profile_confint(m, which=which, level=level, readable=readable)
    elif method in ("boot", "bootstrap"):
        from .bootstrap import bootstrap

        b = bootstrap(m, nsim=nsim, seed=seed, n_jobs=n_jobs, progress=progress)
        tab = b.confint(level=level, type=boot_type)
        tab.index = pd.Index(parameter_names(m, readable))
    else:
        raise DataError(two_line(f"method must be 'profile', 'wald' or 'boot', got {method!r}",
                                 "pass method='profile', 'wald' or 'boot'"))
    return _select(tab, m, parm, readable)
