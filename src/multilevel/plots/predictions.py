"""Effect plot: predictions over one predictor with a confidence band (ggeffects'
``ggpredict`` / sjPlot's ``plot_model(type = "pred")``).

The population line is ``X beta`` over the focal predictor's range (a factor: its levels),
the other numeric predictors at their means and factors at their reference level (ggpredict's
defaults), with the Wald confidence band of ``X beta`` (on the link scale, transformed for a
GLMM on the response scale). ``by=`` adds each group's line (fixed plus that group's
random effects). The numbers drawn are in ``ax.prediction_frame`` (a DataFrame).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._data_input import to_pandas
from ..errors import DataError, two_line
from ._style import ACCENT, BAND, INK, group_colors, new_axes, safe_text, style_axes

__all__ = ["predictions", "reference_grid"]


def _focal_range(m, name: str, data, n_points: int) -> np.ndarray:
    if data is not None:
        col = pd.to_numeric(to_pandas(data)[name], errors="coerce").to_numpy(float)
    elif name in m.design.xnames:
        col = m.design.X[:, m.design.xnames.index(name)]
    else:
        raise DataError(two_line(
            f"the range of {name!r} is not a column of the model matrix",
            f"pass the data of the fit: ml.plot.predictions(m, {name!r}, data=df)"))
    col = col[np.isfinite(col)]
    return np.linspace(col.min(), col.max(), n_points)


def reference_grid(m, term: str, *, data=None, n_points: int = 50) -> pd.DataFrame:
    """Rows over ``term`` (its range, or its levels), the other predictors held at their
    means (numeric) or reference levels (factors), as ggpredict's grid.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> reference_grid(m, "Days", n_points=3)["Days"].tolist()
    [0.0, 4.5, 9.0]
    """
    from ..inference.emmeans import _grid_variables

    variables = _grid_variables(m.design, data, None)
    names = [v[0] for v in variables]
    if term not in names:
        raise DataError(two_line(f"{term!r} is not a predictor of the model",
                                 f"use one of {', '.join(names)}"))
    cols = {}
    for name, kind, vals in variables:
        if name == term:
            cols[name] = (list(vals) if kind == "factor"
                          else _focal_range(m, name, data, n_points))
    n = len(cols[term])
    for name, kind, vals in variables:
        if name != term:
            cols[name] = [vals[0]] * n  # factors: reference level; covariates: mean
    return pd.DataFrame(cols)


def predictions(m, term: str, by: str | None = None, *, data=None, ax=None,
                level: float = 0.95, type: str = "response", n_points: int = 50,
                max_groups: int = 50, title: str | None = None):
    """Predicted response over ``term`` with its confidence band, optionally per group.

    Parameters
    ----------
    m : LmerResult or GlmerResult
    term : str
        The focal predictor (a numeric variable or a factor).
    by : str, optional
        A grouping factor: add each group's prediction (at most ``max_groups`` lines).
    data : DataFrame, optional
        The data of the fit; needed only when a covariate's mean or range is not a column
        of the model matrix (e.g. it enters through ``poly()``).
    ax : matplotlib Axes, optional
    level : float
        Confidence level of the band.
    type : {"response", "link"}
        GLMMs: the scale of the predictions.

    Returns
    -------
    Axes, with ``ax.prediction_frame``: the grid with ``fit, lower, upper`` (population) and,
    with ``by``, ``ax.group_frame`` (``group``, the focal values and ``fit``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> ax = predictions(m, "Days", by="Subject")
    >>> ax.get_xlabel(), len(ax.group_frame["group"].unique())
    ('Days', 18)
    """
    from ..inference.predict_interval import predict_interval

    kind = getattr(m, "kind", None)
    if kind not in ("lmer", "glmer"):
        raise DataError(two_line("predictions() draws mixed models (lmer, glmer fits)",
                                 "fit the model with ml.lmer or ml.glmer"))
    grid = reference_grid(m, term, data=data, n_points=n_points)
    scale = type if kind == "glmer" else "link"
    pop = predict_interval(m, grid, interval="confidence", level=level, re_form=None,
                           type=scale)
    frame = pd.concat([grid.reset_index(drop=True), pop.reset_index(drop=True)], axis=1)
    ax = new_axes(ax, figsize=(6.4, 4.4))
    style_axes(ax)
    focal = grid[term]
    numeric = pd.api.types.is_numeric_dtype(focal)
    x = focal.to_numpy(dtype=float) if numeric else np.arange(len(focal))
    groups_frame = None
    if by is not None:
        groups = {t.group: t for t in m.terms}
        if by not in groups:
            raise DataError(two_line(f"no grouping factor {by!r} in the model",
                                     f"use one of {', '.join(groups)}"))
        levels = list(groups[by].levels)[:max_groups]
        rows = []
        colors = group_colors(levels)
        for lev in levels:
            g = grid.assign(**{by: lev})
            fit = predict_interval(m, g, interval="confidence", re_form="all",
                                   allow_new_levels=True, type=scale)["fit"].to_numpy()
            ax.plot(x, fit, color=colors[lev], linewidth=0.8, alpha=0.55, zorder=1,
                    marker=None if numeric else "o", markersize=3)
            rows.append(pd.DataFrame({"group": lev, term: focal.to_numpy(), "fit": fit}))
        groups_frame = pd.concat(rows, ignore_index=True)
    fit, lo, hi = (frame[c].to_numpy(dtype=float) for c in ("fit", "lower", "upper"))
    if numeric:
        ax.fill_between(x, lo, hi, color=BAND, alpha=0.35, linewidth=0, zorder=2,
                        label=f"{100 * level:g}% CI")
        ax.plot(x, fit, color=INK if by else ACCENT, linewidth=2.2, zorder=3,
                label="population")
    else:
        ax.errorbar(x, fit, yerr=[fit - lo, hi - fit], fmt="o", color=INK if by else ACCENT,
                    capsize=4, linewidth=1.6, zorder=3, label="population")
        ax.set_xticks(x)
        ax.set_xticklabels([safe_text(v) for v in focal])
    ax.set_xlabel(safe_text(term))
    resp = getattr(m.design, "response_name", "response")
    ax.set_ylabel(safe_text(resp if scale != "link" or kind == "lmer"
                            else f"{resp} (link scale)"))
    ax.set_title(safe_text(title if title is not None else f"Predicted {resp} by {term}"),
                 loc="left")
    ax.prediction_frame = frame
    ax.group_frame = groups_frame
    return ax
