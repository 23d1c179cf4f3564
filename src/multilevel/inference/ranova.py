"""``ml.ranova(m)``: likelihood-ratio tests of the random-effects terms (lmerTest's
``ranova``).

Each random-effects term ``(expr | g)`` is reduced in turn, as lmerTest's
``ranova(m, reduce.terms = TRUE)``: each model term of ``expr`` is removed in turn
(``"Days in (Days | Subject)"`` refits with ``(1 | Subject)``; ``"Days in (0 + Days |
Subject)"`` drops the bar); a bar with only an intercept is dropped (``"(1 | Product)"``). The reduced models are refitted
with the same criterion as ``m`` (REML or ML) on the same rows, and compared with ``m`` by
the likelihood-ratio statistic ``LRT = 2 (logLik(m) - logLik(reduced))`` on ``Df``
removed parameters.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line


def _bar_reductions(m):
    """(row label, index of the re_term, columns kept or None to drop the term) per row."""
    from ..formula.expand import expand_terms, findbars
    from ..formula.nodes import deparse
    from ..formula.parser import parse_tree

    bars = findbars(parse_tree(m.formula).rhs)
    terms = m.design.re_terms
    if len(bars) != len(terms):
        raise DataError(two_line("ranova() cannot match the formula's bars to the fit's terms",
                                 "write each random-effects term as its own (expr | g)"))
    out = []
    for k, (bar, term) in enumerate(zip(bars, terms)):
        label = f"({deparse(bar)})"
        if getattr(term, "cov", None) is not None:
            raise DataError(two_line(f"ranova() does not reduce the structured term {label}",
                                     "compare models with ml.anova(m1, m2) instead"))
        ft = expand_terms(bar.left)
        labels = list(ft.labels)
        for t in labels:  # lmerTest: "x in (1 + x | g)"; "(1 | g)" has no label to remove
            cols = [j for j, c in enumerate(term.cnames)
                    if c == t or (c.startswith(t) and c not in labels)]
            keep = [j for j in range(len(term.cnames)) if j not in cols]
            out.append((f"{t} in {label}", k, keep or None))
        if not labels:
            out.append((label, k, None))
    return out


def ranova(m) -> pd.DataFrame:
    """ANOVA-like table for the random effects (lmerTest's ``ranova(m)``).

    Parameters
    ----------
    m : LmerResult
        A linear mixed model; reduced models are refitted with its criterion (REML/ML).

    Returns
    -------
    DataFrame (prints as R's ``print.anova``)
        Rows ``<none>`` and one per reduction; columns ``npar, logLik, AIC, LRT, Df,
        Pr(>Chisq)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> tab = ranova(m)
    >>> tab.index.tolist(), round(float(tab.loc["Days in (Days | Subject)", "LRT"]), 3)
    (['<none>', 'Days in (Days | Subject)'], 42.837)
    """
    from ..report.rprint import as_anova_table
    from .design_fit import refit_design

    if getattr(m, "kind", None) != "lmer":
        raise DataError(two_line("ranova() is for linear mixed models (lmer fits)",
                                 "for a GLMM, compare fits with ml.anova(m1, m2)"))
    rows = {"<none>": (m.n_params, m.loglik, np.nan, np.nan)}
    for label, k, keep in _bar_reductions(m):
        terms = list(m.design.re_terms)
        if keep is None:
            del terms[k]
        else:
            t = terms[k]
            terms[k] = dataclasses.replace(t, Z=t.Z[:, keep],
                                           cnames=[t.cnames[j] for j in keep])
        if terms:
            r = refit_design(m, dataclasses.replace(m.design, re_terms=terms))
            npar, ll = r.n_params, r.loglik
        else:  # no random effects left: the linear model (REML or ML, as m)
            npar, ll = _lm_loglik(m)
        rows[label] = (npar, ll, 2.0 * (m.loglik - ll), m.n_params - npar)
    tab = pd.DataFrame.from_dict(rows, orient="index", columns=["npar", "logLik", "LRT", "Df"])
    tab.insert(2, "AIC", -2.0 * tab["logLik"] + 2.0 * tab["npar"])
    tab["Pr(>Chisq)"] = [np.nan if np.isnan(d) else float(stats.chi2.sf(max(x, 0.0), d))
                         for x, d in zip(tab["LRT"], tab["Df"])]
    tab.attrs = {"heading": "ANOVA-like table for random-effects: Single term deletions\n"
                            f"\nModel:\n{m.formula}"}
    return as_anova_table(tab)


def _lm_loglik(m) -> tuple[int, float]:
    """Parameters and (REML when ``m`` is REML) log-likelihood of the fixed-effects-only
    model on ``m``'s rows."""
    X, y = m.design.X, m.design.y
    if m.design.offset is not None:
        y = y - m.design.offset
    w = np.ones_like(y) if m.weights is None else np.asarray(m.weights, dtype=float)
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    n, p = X.shape
    if m.reml:
        dfr = n - p
        s2 = rss / dfr
        _, logdet = np.linalg.slogdet((X * w[:, None]).T @ X)
        ll = -0.5 * (dfr * np.log(2 * np.pi * s2) + dfr - np.sum(np.log(w)) + logdet)
    else:
        s2 = rss / n
        ll = -0.5 * (n * np.log(2 * np.pi * s2) + n - np.sum(np.log(w)))
    return p + 1, float(ll)
