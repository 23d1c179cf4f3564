"""Dot-and-whisker plot of fixed effects (dotwhisker's ``dwplot``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._style import (ACCENT, BORDER, INK, group_colors, legend_right, new_axes, safe_text,
                     style_axes)

__all__ = ["coefficients"]


def _as_named(models, names) -> tuple[list[str], list[Any]]:
    if isinstance(models, dict):
        return [str(k) for k in models], list(models.values())
    if hasattr(models, "fixef"):
        return [names[0] if names else "Model 1"], [models]
    models = list(models)
    if names is None:
        names = [f"Model {i + 1}" for i in range(len(models))]
    if len(names) != len(models):
        raise ValueError(f"{len(names)} names for {len(models)} models")
    return [str(n) for n in names], models


def _size(present: list[list[int]], k: int) -> tuple[float, float]:
    extra = sum(max(len(p) - 1, 0) for p in present)
    return (6.8 if k > 1 else 6.0), max(2.2, 0.36 * len(present) + 0.1 * extra + 1.2)


def figure_size(models, *, intercept: bool = False, terms: Sequence[str] | None = None
                ) -> tuple[float, float]:
    """The (width, height) in inches :func:`coefficients` uses for a new figure."""
    from ..report.broom import fixed_table

    _, fitted = _as_named(models, None)
    tables = [fixed_table(m) for m in fitted]
    order: list[str] = [] if terms is None else list(terms)
    for t in tables if terms is None else []:
        for term in t.index:
            if term not in order and (intercept or term != "(Intercept)"):
                order.append(term)
    return _size([[i for i, t in enumerate(tables) if term in t.index] for term in order],
                 len(fitted))


def coefficients(models, *, names: Sequence[str] | None = None, intercept: bool = False,
                 terms: Sequence[str] | None = None, level: float = 0.95, ax=None,
                 palette: Any = None, title: str | None = None, legend: bool = True):
    """Estimates as dots with their confidence intervals as whiskers, a line at zero.

    dotwhisker's ``dwplot(model)``: one row per term, top to bottom in model order; several
    models are drawn side by side (dodged) in a colour each.

    Parameters
    ----------
    models : fitted model, list of models, or dict ``{name: model}``
    names : list of str, optional
        Legend labels (``Model 1``, ``Model 2``, ... by default).
    intercept : bool
        Show the intercept (dwplot leaves it out by default, as its scale is usually
        different).
    terms : list of str, optional
        Only these terms, in this order.
    level : float
        Confidence level of the whiskers (``lm``: t intervals; mixed models: Wald).
    ax : matplotlib Axes, optional
    palette : list, dict or colormap name, optional
        Colours of the models.
    title : str, optional
    legend : bool

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    >>> ax = ml.plot.coefficients(m, intercept=True)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['(Intercept)', 'Days']
    """
    from ..report.broom import fixed_table

    labels, fitted = _as_named(models, names)
    tables = [fixed_table(m, level) for m in fitted]
    if terms is None:
        order: list[str] = []
        for t in tables:
            for term in t.index:
                if term not in order and (intercept or term != "(Intercept)"):
                    order.append(term)
    else:
        order = list(terms)
    if not order:
        raise ValueError("no coefficients to plot (the models have only an intercept: "
                         "pass intercept=True)")
    k = len(fitted)
    colours = ([ACCENT] if k == 1 and palette is None
               else list(group_colors(labels, palette).values()))
    present = [[i for i, t in enumerate(tables) if term in t.index] for term in order]
    width, height = _size(present, k)
    ax = new_axes(ax, figsize=(width, height))
    style_axes(ax, grid_axis="x")
    step = min(0.62 / max(len(p), 1) for p in present) if k > 1 else 0.0
    ys = np.arange(len(order))[::-1].astype(float)  # first term at the top
    for j, term in enumerate(order):
        # dodge among the models that have this term, centred on its row
        for slot, i in enumerate(present[j]):
            r = tables[i].loc[term]
            y = ys[j] - (slot - (len(present[j]) - 1) / 2) * step
            ax.hlines(y, r["conf_low"], r["conf_high"], color=colours[i], linewidth=2.0,
                      zorder=3)
            ax.scatter([r["estimate"]], [y], s=38, color=colours[i], edgecolors="white",
                       linewidths=0.8, zorder=4, label="_nolegend_")
    ax.axvline(0.0, color=INK, alpha=0.45, linewidth=1.0, zorder=2)
    ax.set_yticks(ys, [safe_text(t) for t in order])
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.tick_params(axis="y", length=0)
    pct = f"{100 * level:g}%"
    ax.set_xlabel(f"Coefficient estimate and {pct} confidence interval")
    for side in ("left", "right", "top"):
        ax.spines[side].set_color(BORDER)
    if title:
        ax.set_title(safe_text(title), loc="left")
    if legend and k > 1:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=c, marker="o", markersize=6, linewidth=2.0)
                   for c in colours[:k]]
        legend_right(ax, None, n_entries=k, handles=handles,
                     labels=[safe_text(lab) for lab in labels])
    return ax
