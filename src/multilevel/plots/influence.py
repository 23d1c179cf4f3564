"""Index plot of Cook's distance (influence.ME's ``plot(cooks.distance(...))``)."""
from __future__ import annotations

import numpy as np

from ._style import ACCENT, BAND, INK, new_axes, safe_text, style_axes

__all__ = ["influence"]


def influence(result, *, group: str | None = None, cutoff: float | str | None = "4/n",
              label: int = 3, ax=None):
    """Cook's distance per group or per observation, as vertical segments (an index plot).

    Parameters
    ----------
    result : Influence or fitted model
        From ``m.influence(group=...)``; a fitted ``lmer`` model is refitted without each
        level of ``group`` (each observation when ``group`` is None).
    group : str, optional
        Grouping factor to delete (only when a model is given).
    cutoff : float, "4/n" or None
        A dashed reference line (the common ``4/n`` rule of thumb by default).
    label : int
        Name this many most influential units.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> ax = ml.plot.influence(m.influence(group="Subject"))
    >>> ax.get_ylabel()
    "Cook's distance"
    """
    if not hasattr(result, "cooks_distance") or callable(getattr(result, "cooks_distance")):
        from ..inference.influence import influence as make_influence

        result = make_influence(result, group)
    cd = result.cooks_distance
    ax = new_axes(ax)
    x = np.arange(1, len(cd) + 1)
    y = cd.to_numpy(dtype=float)
    ax.vlines(x, 0.0, y, color=ACCENT, linewidth=1.6)
    ax.plot(x, y, "o", color=ACCENT, markersize=3.5)
    n = len(cd)
    if cutoff is not None and n:
        c = 4.0 / n if cutoff == "4/n" else float(cutoff)
        ax.axhline(c, color=BAND, linestyle="--", linewidth=1.0)
    if label and n:
        top = np.argsort(-np.nan_to_num(y, nan=-np.inf))[:label]
        for i in top:
            ax.annotate(safe_text(str(cd.index[i])), (x[i], y[i]), xytext=(3, 3),
                        textcoords="offset points", fontsize=8.5, color=INK)
    ax.set_xlabel(safe_text(f"{result.group} (index)"))
    ax.set_ylabel("Cook's distance")
    ax.set_title(safe_text(f"Influence of each {result.group}"), loc="left")
    ax.set_ylim(bottom=0.0)
    style_axes(ax, grid_axis="y")
    return ax
