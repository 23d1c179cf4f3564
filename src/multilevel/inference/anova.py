"""``ml.anova``: model comparison tables (lme4's ``anova.merMod``, R's ``anova.lmlist``).

* Mixed models (and ``lm`` fits among them): likelihood-ratio tests. REML fits are refitted
  by ML first, as lme4 does (it says "refitting model(s) with ML (instead of REML)"); rows
  are ordered by the number of parameters; ``Chisq = 2 max(0, diff(logLik))``.
* Only ``lm`` fits: F tests on the residual sums of squares, scaled by the residual mean
  square of the model with the fewest residual df.
* One model: its own F tests (``m.anova()``).

Models must be fitted to the same observations, and nested: the fixed-effects columns of
a smaller model must lie in the span of a larger one's, and its random-effect terms must be
among the larger one's (per grouping factor). Anything else raises :class:`DataError`.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line

LRT_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
F_COLUMNS = ["Res.Df", "RSS", "Df", "Sum of Sq", "F", "Pr(>F)"]
REFIT_MESSAGE = "refitting model(s) with ML (instead of REML)"


def _is_lm(m) -> bool:
    return getattr(m, "kind", None) == "lm"


def _model_names(models, names) -> list[str]:
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(models):
            raise ValueError(f"{len(names)} model_names for {len(models)} models")
        return names
    out = []
    try:
        from .._callsite import _argument_text, _outside_frame

        f = _outside_frame()
        for i, m in enumerate(models):
            name = _argument_text(f, position=i, keyword="") if f is not None else None
            if name is None and f is not None:
                name = next((k for scope in (f.f_locals, f.f_globals) for k, v in scope.items()
                             if v is m and not k.startswith("_")), None)
            out.append(name or f"model{i + 1}")
        del f
    except Exception:  # pragma: no cover - names are cosmetic
        out = [f"model{i + 1}" for i in range(len(models))]
    if len(set(out)) < len(out):
        out = [f"model{i + 1}" for i in range(len(models))]
    return out


def _check_same_data(models) -> None:
    n0 = models[0].nobs
    if any(m.nobs != n0 for m in models):
        sizes = ", ".join(str(m.nobs) for m in models)
        raise DataError(two_line(
            f"models were not all fitted to the same size of dataset ({sizes} observations)",
            "fit every model to the same rows (drop rows with NA in any model's variables first)"))
    y0, r0 = models[0].design.y, np.asarray(models[0].design.rows)
    for m in models[1:]:
        if not (np.array_equal(np.asarray(m.design.rows), r0) and np.allclose(m.design.y, y0)):
            raise DataError(two_line(
                "all models must be fitted to the same data (the responses differ)",
                "compare models of the same response fitted to the same data frame"))


def _random_columns(m) -> list[tuple[frozenset, np.ndarray, set]]:
    """Per grouping factor after expansion: (its parts, its row codes, its columns).

    ``(1 | batch/cask)`` expands to ``cask:batch`` and ``batch``; ``batch:cask`` has the
    same parts as ``cask:batch``, so the two are one grouping factor."""
    out: dict = {}
    for t in getattr(m, "terms", None) or []:
        key = frozenset(p.strip() for p in t.group.split(":"))
        if key not in out:
            out[key] = (np.asarray(t.codes), set())
        out[key][1].update(t.cnames)
    return [(k, codes, cols) for k, (codes, cols) in out.items()]


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two grouping factors group the rows alike (level labels aside)."""
    if len(a) != len(b):
        return False
    pairs = len(np.unique(np.stack([a, b]), axis=1).T) if len(a) else 0
    return pairs == len(np.unique(a)) == len(np.unique(b))


def _nested(small, big) -> bool:
    """Whether `small` is a special case of `big`: its fixed-effect columns lie in the span of
    big's, and each of its random terms is among big's random terms (same grouping factor,
    by parts or by how it groups the rows, and a subset of the columns)."""
    Xs, Xb = getattr(small.design, "X", None), getattr(big.design, "X", None)
    if Xs is None or Xb is None:  # nlmer: the fixed effects are the nonlinear model's parameters
        if not set(small.fixef.index) <= set(big.fixef.index):
            return False
    elif Xs.shape[1]:
        coef = np.linalg.lstsq(Xb, Xs, rcond=None)[0] if Xb.shape[1] else np.zeros((0, Xs.shape[1]))
        resid = Xs - Xb @ coef
        if np.max(np.abs(resid)) > 1e-7 * max(1.0, np.max(np.abs(Xs))):
            return False
    rb = _random_columns(big)
    for key, codes, cols in _random_columns(small):
        have = set()
        for kb, cb, colsb in rb:
            if kb == key or _same_partition(codes, cb):
                have |= colsb
        if not cols <= have:
            return False
    return True


def _check_nested(models, names, npar) -> None:
    order = np.argsort(npar, kind="stable")
    for a, b in zip(order[:-1], order[1:]):
        if not _nested(models[a], models[b]):
            raise DataError(two_line(
                f"models {names[a]!r} and {names[b]!r} are not nested: a likelihood-ratio test "
                "needs the smaller model to be a special case of the larger",
                "compare nested models, or compare AIC/BIC directly (check_nested=False "
                "gives the table anyway)"))


def _lrt_table(models, names, refit, check_nested) -> pd.DataFrame:
    from .refit import refit_ml

    messages = []
    if refit and any(getattr(m, "reml", False) for m in models):
        messages.append(REFIT_MESSAGE)
        sys.stderr.write(REFIT_MESSAGE + "\n")
        models = [refit_ml(m) if getattr(m, "reml", False) else m for m in models]
    npar = np.array([m.n_params for m in models], dtype=float)
    if check_nested:
        _check_nested(models, names, npar)
    order = np.argsort(npar, kind="stable")
    models = [models[i] for i in order]
    names = [names[i] for i in order]
    npar = npar[order]
    ll = np.array([m.loglik for m in models], dtype=float)
    n = models[0].nobs
    chisq = np.r_[np.nan, 2.0 * np.maximum(0.0, np.diff(ll))]
    df = np.r_[np.nan, np.diff(npar)]
    with np.errstate(invalid="ignore"):
        p = np.where(df == 0, np.nan, stats.chi2.sf(chisq, np.where(df == 0, 1, df)))
    p[0] = np.nan
    out = pd.DataFrame({"npar": npar.astype(int), "AIC": -2 * ll + 2 * npar,
                        "BIC": -2 * ll + np.log(n) * npar, "logLik": ll, "deviance": -2 * ll,
                        "Chisq": chisq, "Df": df, "Pr(>Chisq)": p},
                       index=pd.Index(names), columns=LRT_COLUMNS)
    data = models[0].data_name
    out.attrs["heading"] = (f"Data: {data}\n" if data else "") + "Models:\n" + "\n".join(
        f"{nm}: {m.formula}" for nm, m in zip(names, models))
    out.attrs["messages"] = messages
    out.attrs["refit_ml"] = bool(messages)
    return out


def _f_table(models, check_nested) -> pd.DataFrame:
    resdf = np.array([m.df_resid for m in models], dtype=float)
    rss = np.array([m.rss for m in models], dtype=float)
    if check_nested:
        _check_nested(models, [f"model {i + 1}" for i in range(len(models))], -resdf)
    big = int(np.argmin(resdf))
    scale = rss[big] / resdf[big]
    df = np.r_[np.nan, -np.diff(resdf)]
    ss = np.r_[np.nan, -np.diff(rss)]
    with np.errstate(invalid="ignore", divide="ignore"):
        F = ss / df / scale
        p = stats.f.sf(np.abs(F), np.abs(df), resdf[big])
    out = pd.DataFrame({"Res.Df": resdf, "RSS": rss, "Df": df, "Sum of Sq": ss, "F": F,
                        "Pr(>F)": p}, index=pd.Index([str(i + 1) for i in range(len(models))]),
                       columns=F_COLUMNS)
    out.attrs["heading"] = "Analysis of Variance Table\n\n" + "\n".join(
        f"Model {i + 1}: {m.formula}" for i, m in enumerate(models))
    return out


def lm_anova(m) -> pd.DataFrame:
    """R's ``anova(lm)``: sequential (type I) sums of squares with a Residuals row.

    Examples
    --------
    >>> import multilevel as ml
    >>> a = lm_anova(ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")))
    >>> a.index.tolist(), round(float(a.loc["Days", "F value"]), 2)
    (['Days', 'Residuals'], 71.46)
    """
    from .contrasts import term_columns

    X, y = m.design.X, m.design.y
    if m.design.offset is not None:
        y = y - m.design.offset
    Q, _ = np.linalg.qr(X)
    effects = Q.T @ y
    s2 = m.rss / m.df_resid
    rows = []
    for term, cols in term_columns(m.design).items():
        if not cols:
            continue
        ss = float(np.sum(effects[cols] ** 2))
        F = ss / len(cols) / s2
        rows.append((term, len(cols), ss, ss / len(cols), F,
                     float(stats.f.sf(F, len(cols), m.df_resid))))
    rows.append(("Residuals", m.df_resid, m.rss, s2, np.nan, np.nan))
    out = pd.DataFrame([r[1:] for r in rows], index=[r[0] for r in rows],
                       columns=["Df", "Sum Sq", "Mean Sq", "F value", "Pr(>F)"])
    out.attrs["heading"] = f"Analysis of Variance Table\n\nResponse: {m.design.response_name}"
    return out


def anova(*models, refit: bool = True, model_names=None, check_nested: bool = True,
          type=3, ddf="satterthwaite") -> pd.DataFrame:
    """Compare nested models (lme4's ``anova(m1, m2, ...)``), or test one model's terms.

    Parameters
    ----------
    *models : LmerResult or LmResult
        Two or more fits to the same data; a single model gives its own F tests
        (``m.anova(type=, ddf=)``, lmerTest's ``anova``; R's ``anova(lm)`` for ``lm``).
    refit : bool, default True
        Refit REML fits by ML before comparing (lme4's default); the returned table's
        ``attrs["messages"]`` says so, and so does a line on stderr, as lme4's message.
    model_names : list of str, optional
        Row names; by default the names the models are bound to in the caller.
    check_nested : bool, default True
        Refuse models that are not nested (their likelihood-ratio test means nothing).
    type, ddf
        For a single mixed model: see :meth:`LmerResult.anova`.

    Returns
    -------
    DataFrame
        Mixed models: one row per model ordered by ``npar`` (lme4's order; the order given
        when the smaller model comes first), columns
        ``npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq)``. Only ``lm`` fits:
        rows ``"1", "2", ...`` in the order given, columns
        ``Res.Df, RSS, Df, Sum of Sq, F, Pr(>F)``.

    Raises
    ------
    DataError
        Models fitted to different data, or not nested.

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m0 = ml.lmer("Reaction ~ Days + (Days || Subject)", sleep, reml=False)
    >>> m1 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    >>> tab = anova(m0, m1)
    >>> tab.index.tolist(), round(float(tab["Chisq"].iloc[1]), 4)
    (['m0', 'm1'], 0.0639)
    """
    from ..report.rprint import as_anova_table  # prints as R's print.anova

    if not models:
        raise TypeError("anova() needs at least one fitted model")
    for i, m in enumerate(models):
        if not (hasattr(m, "nobs") and hasattr(m, "fixef")):
            raise DataError(two_line(
                f"argument {i + 1} of anova() is a {m.__class__.__name__}, not a fitted model",
                "pass models from ml.lmer, ml.glmer or ml.lm: anova(m1, m2)"))
    if len(models) == 1:
        m = models[0]
        if _is_lm(m):
            return as_anova_table(lm_anova(m))
        from .ftests import anova_table

        return as_anova_table(anova_table(m, type=type, ddf=ddf))
    names = _model_names(models, model_names)
    _check_same_data(models)
    if all(_is_lm(m) for m in models):
        return as_anova_table(_f_table(list(models), check_nested))
    return as_anova_table(_lrt_table(list(models), names, refit, check_nested))
