"""``ml.model_table``: an information-criterion table of candidate models (MuMIn's
``model.sel``, AICcmodavg's ``aictab``).

Each model contributes ``df`` (lme4's ``attr(logLik(m), "df")``), ``logLik`` (the REML
log-likelihood for REML fits, as R's ``logLik``), ``AIC = -2 logLik + 2 df``,
``AICc = AIC + 2 df (df + 1) / (n - df - 1)`` and ``BIC = -2 logLik + log(n) df``. Rows are
sorted by the chosen criterion; ``delta`` is the difference to the best model and
``weight`` the Akaike weight ``exp(-delta/2) / sum(exp(-delta/2))``.

REML likelihoods of models with different fixed effects are not comparable (their REML
criteria integrate over different fixed-effect spaces): the table then warns and, with
``refit=True`` (default), uses the ML refits, as lme4's ``anova`` does.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataError, two_line
from ..report.rprint import RFrame, render_data_frame

COLUMNS = ["df", "logLik", "AIC", "AICc", "BIC", "delta", "weight", "rank"]
CRITERIA = ("AICc", "AIC", "BIC")


class ModelTable(RFrame):
    """The model-selection table (a DataFrame) that prints as an R data frame under a
    heading naming each model's formula; ``.frame`` is the plain DataFrame.

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m1 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    >>> m0 = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    >>> print(str(model_table(m0, m1)).splitlines()[0])
    Model selection table (sorted by AICc)
    """

    def to_text(self) -> str:
        """The printout: heading, then the table with ``getOption("digits")``-like digits."""
        head = self.attrs.get("heading", "")
        frame = self.frame
        if "formula" in frame.columns:
            head += "\nModels:\n" + "\n".join(f"{i}: {f}" for i, f in frame["formula"].items())
            frame = frame.drop(columns="formula")
        body = render_data_frame(frame, digits=None)
        notes = "\n".join(self.attrs.get("messages", []))
        return "\n".join(x for x in (head, body, notes) if x)


def _names(models, names) -> list[str]:
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(models):
            raise ValueError(f"{len(names)} model_names for {len(models)} models")
        return names
    from .anova import _model_names

    return _model_names(models, None)


def _check_same_data(models, names) -> None:
    n = [m.nobs for m in models]
    if len(set(n)) > 1:
        sizes = ", ".join(f"{nm}: {k}" for nm, k in zip(names, n))
        raise DataError(two_line(
            f"models were fitted to different numbers of observations ({sizes}); "
            "information criteria of different data cannot be compared",
            "fit every model to the same rows (drop rows with NA in any model's variables "
            "first)"))
    y0, r0 = models[0].design.y, np.asarray(models[0].design.rows)
    for nm, m in zip(names[1:], models[1:]):
        if not (np.array_equal(np.asarray(m.design.rows), r0) and np.allclose(m.design.y, y0)):
            raise DataError(two_line(
                f"model {nm!r} was fitted to other data than {names[0]!r} (other rows or "
                "another response)", "compare models of the same response and the same rows"))


def _fixed_differ(models) -> bool:
    X0 = models[0].design.X
    for m in models[1:]:
        X = m.design.X
        if X.shape != X0.shape:
            return True
        both = np.linalg.matrix_rank(np.column_stack([X0, X])) if X.size else 0
        if both != np.linalg.matrix_rank(X0):
            return True
    return False


def model_table(*models, criterion: str = "AICc", model_names=None,
                refit: bool = True) -> ModelTable:
    """Rank models by AICc, AIC or BIC with Akaike weights (MuMIn's ``model.sel``).

    Parameters
    ----------
    *models : LmerResult, GlmerResult or LmResult
        Fits to the same rows and response.
    criterion : {"AICc", "AIC", "BIC"}
        Sorts the rows and defines ``delta``, ``weight`` and ``rank``.
    model_names : list of str, optional
        Row names; by default the names the models are bound to in the caller.
    refit : bool, default True
        When REML fits with different fixed effects are compared, use their ML refits
        (lme4's ``anova`` does the same); a warning says so either way.

    Returns
    -------
    ModelTable
        A DataFrame with columns ``formula, df, logLik, AIC, AICc, BIC, delta, weight, rank``,
        one row per model, best first; ``attrs["refit_ml"]`` tells whether ML refits were
        used.

    Raises
    ------
    DataError
        Models fitted to different numbers of observations, other rows or another response.

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m1 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    >>> m0 = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    >>> tab = model_table(m0, m1)
    >>> tab.index.tolist(), round(float(tab.loc["m1", "AICc"]), 3)
    (['m1', 'm0'], 1764.425)
    """
    if not models:
        raise TypeError("model_table() needs at least one fitted model")
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    models = list(models)
    names = _names(models, model_names)
    if len(set(names)) < len(names):
        raise ValueError(f"model names must be unique, got {names}")
    _check_same_data(models, names)
    messages: list[str] = []
    used_ml = False
    remls = [bool(getattr(m, "reml", False)) for m in models]
    if any(remls) and len(models) > 1 and _fixed_differ(models):
        if refit:
            from .refit import refit_ml

            msg = ("REML fits with different fixed effects: refitting with ML (instead of "
                   "REML) to compare them, as lme4's anova does")
            models = [refit_ml(m) if r else m for m, r in zip(models, remls)]
            used_ml = True
        else:
            msg = ("REML fits with different fixed effects: their REML likelihoods are not "
                   "comparable (refit=True compares the ML fits)")
        messages.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)
    elif len(set(remls)) > 1:
        msg = "some models were fitted by REML and some by ML: their likelihoods differ in kind"
        messages.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)
    n = models[0].nobs
    k = np.array([m.n_params for m in models], dtype=float)
    ll = np.array([m.loglik for m in models], dtype=float)
    aic = -2 * ll + 2 * k
    with np.errstate(divide="ignore", invalid="ignore"):
        aicc = np.where(n - k - 1 > 0, aic + 2 * k * (k + 1) / (n - k - 1), np.inf)
    bic = -2 * ll + np.log(n) * k
    crit = {"AIC": aic, "AICc": aicc, "BIC": bic}[criterion]
    delta = crit - np.min(crit)
    w = np.exp(-0.5 * delta)
    w = w / w.sum()
    out = pd.DataFrame({"formula": [m.formula for m in models], "df": k.astype(int),
                        "logLik": ll, "AIC": aic, "AICc": aicc, "BIC": bic, "delta": delta,
                        "weight": w}, index=pd.Index(names, name="model"))
    out = out.iloc[np.argsort(crit, kind="stable")]
    out["rank"] = np.arange(1, len(out) + 1)
    tab = ModelTable(out[["formula"] + COLUMNS])
    tab.attrs.update(
        heading=f"Model selection table (sorted by {criterion})"
        + ("" if not used_ml else "; ML refits of the REML fits"),
        messages=messages, refit_ml=used_ml, criterion=criterion)
    return tab

