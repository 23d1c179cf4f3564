"""Caterpillar plot of random effects (lattice's ``dotplot(ranef(m, condVar = TRUE))``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._style import INK, group_colors, new_panels, safe_text, style_axes

__all__ = ["ranef"]


def ranef(model, *, group: str | None = None, level: float = 0.95, sort: bool = True,
          ax=None, palette: Any = None, color_levels: bool = True, max_levels: int = 50,
          n_extremes: int = 10):
    """Each level's conditional mode with a ± z·(conditional SD) interval, sorted.

    A grouping factor with more than `max_levels` levels is summarised: the `n_extremes`
    lowest and highest levels with their intervals, and behind them the density of all the
    levels' conditional modes (shaded), so the figure stays readable and quick for 20,000
    groups.

    One panel per random-effect term (``(Intercept)``, each slope), the levels of a grouping
    factor on a shared vertical axis, sorted by the first term as lattice does, and a line at
    zero (the population value). With ``level=0.95`` the whiskers are ± 1.96 SD.

    Parameters
    ----------
    model : LmerResult
    group : str, optional
        Only this grouping factor's terms (default: all of them).
    level : float
        Coverage of the intervals (0.95: ± 1.96 conditional SD).
    sort : bool
        Order levels by the first term's conditional mode (largest at the top).
    ax : Axes or sequence of Axes, optional
        One Axes per panel, or one Axes made by ``subplots()`` whose area is split into the
        panels; a new figure when omitted.
    palette : list, dict or colormap name, optional
    color_levels : bool
        A colour per level (the same as in :func:`group_lines`); else all dark.
    max_levels, n_extremes : int
        Show every level up to `max_levels`; beyond, the `n_extremes` lowest and highest
        ones and the density of all.

    Returns
    -------
    ndarray of matplotlib Axes
        One per panel, titled ``"group: term"``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> axes = ml.plot.ranef(m)
    >>> len(axes), len(axes[0].get_yticklabels())
    (1, 6)
    """
    from scipy import stats

    if not hasattr(model, "ranef") or not getattr(model.design, "re_terms", None):
        raise ValueError("ml.plot.ranef needs a mixed model (ml.lmer) with random effects")
    re = model.ranef(cond_var=True)
    if group is not None:
        if group not in set(re["grpvar"]):
            raise ValueError(f"no grouping factor {group!r}; the model has "
                             + ", ".join(map(repr, dict.fromkeys(re["grpvar"]))))
        re = re[re["grpvar"] == group]
    z = float(stats.norm.ppf(0.5 + level / 2))
    panels = list(dict.fromkeys(zip(re["grpvar"], re["term"])))
    n_levels = max(int((re["grpvar"] == g).sum() / max(1, sum(1 for gg, _ in panels if gg == g)))
                   for g, _ in panels)
    summarised = n_levels > max_levels
    if summarised:
        n_levels = 2 * n_extremes + 1
    axes = new_panels(len(panels), ax, ncols=len(panels),
                      panel_size=(3.3, min(0.24 * n_levels + 1.3, 14.0)))
    orders: dict[str, list[str]] = {}
    for axis, (g, term) in zip(axes, panels):
        part = re[(re["grpvar"] == g) & (re["term"] == term)]
        if g not in orders:
            levels = list(part["grp"])
            if sort:
                levels = list(part.sort_values("condval", kind="stable")["grp"])
            orders[g] = levels
        levels = orders[g]
        all_modes = part["condval"].to_numpy(dtype=float)
        n_all = len(levels)
        many = n_all > max_levels
        if many:
            k = n_extremes
            levels = levels[:k] + levels[-k:]
            y = np.r_[np.arange(k), np.arange(k) + k + 1].astype(float)
        else:
            y = np.arange(len(levels), dtype=float)
        part = part.set_index("grp").loc[levels]
        colours = (group_colors(levels if many else
                                list(dict.fromkeys(re.loc[re["grpvar"] == g, "grp"])), palette)
                   if color_levels else {})
        cs = [colours.get(lv, INK) for lv in levels]
        style_axes(axis, grid_axis="both")
        axis.axvline(0.0, color=INK, alpha=0.5, linewidth=1.0, zorder=2)
        lo = part["condval"] - z * part["condsd"]
        hi = part["condval"] + z * part["condsd"]
        axis.hlines(y, lo, hi, colors=cs, linewidth=1.6, zorder=3)
        axis.scatter(part["condval"], y, s=30, c=cs, edgecolors="white", linewidths=0.7,
                     zorder=4)
        top = float(y[-1]) + 0.6 if len(y) else 0.4
        if many:
            _density(axis, all_modes, -0.6, top)
            axis.text(0.02, (n_extremes + 0.5) / (top + 0.6), f"\u22ee {n_all - 2 * n_extremes:,} "
                      "more levels (shaded: all levels' density)", transform=axis.transAxes,
                      fontsize=7, color=INK, alpha=0.8, va="center")
        axis.set_yticks(y, [safe_text(v) for v in levels])
        axis.set_ylim(-0.6, top)
        axis.tick_params(axis="y", length=0)
        axis.set_title(safe_text(f"{g}: {term}"), loc="left")
        axis.set_xlabel(f"conditional mode \u00b1 {z:.2f} SD")
        if len(levels) > 40:
            axis.tick_params(axis="y", labelsize=6)
    # terms of the same grouping factor share the level axis: labels on the first only
    seen: set[str] = set()
    for axis, (g, _) in zip(axes, panels):
        if g in seen:
            axis.tick_params(axis="y", labelleft=False)
        seen.add(g)
    return np.array(axes, dtype=object)


def _density(axis, values: np.ndarray, bottom: float, top: float) -> None:
    """The density of `values` (a smoothed histogram) shaded behind a panel, full height."""
    values = values[np.isfinite(values)]
    if values.size < 2 or np.ptp(values) == 0:
        return
    counts, edges = np.histogram(values, bins=60)
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2)
    dens = np.convolve(counts, kernel / kernel.sum(), mode="same")
    centres = (edges[:-1] + edges[1:]) / 2
    axis.fill_between(centres, bottom, bottom + dens / dens.max() * (top - bottom),
                      color=INK, alpha=0.08, linewidth=0, zorder=1)
