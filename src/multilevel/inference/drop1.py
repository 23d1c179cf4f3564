"""``m.drop1()``: single term deletions (lme4's ``drop1.merMod``; lmerTest's ``drop1`` for
``test="F"``).

Each fixed-effect term that no other term contains (R's ``drop.scope``: marginality, so
``a`` and ``b`` are not dropped while ``a:b`` is in the model) is dropped in turn and the
model refitted by maximum likelihood on the same design (lme4's ``extractAIC`` refits REML
fits by ML). The table has lme4's columns: ``npar`` (parameters removed), ``AIC``, and with
``test="Chisq"`` the likelihood-ratio statistic ``LRT`` and ``Pr(Chi)``. ``test="F"`` gives
lmerTest's Satterthwaite (or Kenward-Roger) F tests of the same terms.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line


def droppable_terms(design) -> dict[str, list[int]]:
    """Terms that can be dropped respecting marginality -> their columns of ``X``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("angle ~ recipe * temperature + (1 | replicate:recipe)",
    ...             ml.datasets.load("cake"))
    >>> list(droppable_terms(m.design))
    ['recipe:temperature']
    """
    from .contrasts import term_columns

    cols = term_columns(design)
    factors = {t: set(t.split(":")) for t in cols}
    return {t: c for t, c in cols.items() if c and not any(
        u != t and factors[t] < factors[u] for u in cols)}


def drop1(m, test: str = "Chisq", *, scope=None, ddf: str = "satterthwaite", k: float = 2.0
          ) -> pd.DataFrame:
    """Drop each droppable fixed-effect term and refit (lme4's ``drop1(m, test="Chisq")``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
    test : {"Chisq", "none", "F"}
        ``"Chisq"``: likelihood-ratio tests of ML refits (lme4); ``"none"``: AIC only;
        ``"F"`` (linear mixed models): lmerTest's F tests with ``ddf``.
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator degrees of freedom for ``test="F"``.
    scope : list of str, optional
        The terms to drop (R's ``scope``), among those that marginality allows (the
        default: all of them).
    k : float
        Penalty per parameter in the AIC column (2; ``log(n)`` gives BIC).

    Returns
    -------
    DataFrame (prints as R's ``print.anova``)
        Rows ``<none>`` and one per term; columns ``npar, AIC, LRT, Pr(Chi)``
        (``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)`` for ``test="F"``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> tab = drop1(m)
    >>> tab.index.tolist(), round(float(tab.loc["Days", "LRT"]), 3)
    (['<none>', 'Days'], 23.537)
    """
    from ..report.rprint import as_anova_table

    if getattr(m, "kind", None) not in ("lmer", "glmer"):
        raise DataError(two_line("drop1() is for mixed models (lmer, glmer)",
                                 "for an lm fit, compare models with ml.anova(m1, m2)"))
    tests = {"chisq": "Chisq", "lrt": "Chisq", "none": "none", "f": "F"}
    key = tests.get(str(test).lower())
    if key is None:
        raise ValueError(f"test must be 'Chisq', 'none' or 'F', got {test!r}")
    if scope is None:
        scope = droppable_terms(m.design)
    else:
        from .contrasts import term_columns

        cols = term_columns(m.design)
        wanted = [scope] if isinstance(scope, str) else list(scope)
        bad = [t for t in wanted if t not in cols]
        if bad:
            raise DataError(two_line(f"scope names terms not in the model: {bad}",
                                     f"use terms of {', '.join(cols)}"))
        allowed = droppable_terms(m.design)
        inner = [t for t in wanted if t not in allowed]
        if inner:
            raise DataError(two_line(
                f"{inner[0]!r} is contained in a higher-order term: dropping it alone changes "
                "that term's coding, not the model (R then refits the same model)",
                f"drop terms that marginality allows: {', '.join(allowed)}"))
        scope = {t: cols[t] for t in wanted}
    heading_model = f"\nModel:\n{m.formula}"
    if key == "F":
        if m.kind != "lmer":
            raise DataError(two_line("test='F' is for linear mixed models",
                                     "use test='Chisq' for a GLMM"))
        from .ftests import anova_table

        tab = anova_table(m, type=3, ddf=ddf)
        out = tab.loc[[t for t in scope if t in tab.index]].copy()
        method = "Satterthwaite's" if ddf.startswith("s") else "Kenward-Roger's"
        out.attrs = {"heading": f"Single term deletions using {method} method:\n"
                                + heading_model}
        return as_anova_table(out)
    from .design_fit import drop_columns, refit_design
    from .refit import refit_ml

    full = refit_ml(m) if getattr(m, "reml", False) else m
    rows = [("<none>", full.n_params, full.loglik)]
    for term, cols in scope.items():
        fit = refit_design(m, drop_columns(m.design, cols), reml=False)
        rows.append((term, fit.n_params, fit.loglik))
    names = [r[0] for r in rows]
    edf = np.array([r[1] for r in rows], dtype=float)
    ll = np.array([r[2] for r in rows], dtype=float)
    aic = -2 * ll + k * edf
    npar = edf[0] - edf
    npar[0] = np.nan
    out = pd.DataFrame({"npar": npar, "AIC": aic}, index=pd.Index(names))
    if key == "Chisq":
        lrt = -2 * ll - (-2 * ll[0])
        lrt[0] = np.nan
        p = np.full(len(rows), np.nan)
        p[1:] = stats.chi2.sf(lrt[1:], npar[1:])
        out["LRT"] = lrt
        out["Pr(Chi)"] = p
    out.attrs = {"heading": "Single term deletions\n" + heading_model}
    return as_anova_table(out)
