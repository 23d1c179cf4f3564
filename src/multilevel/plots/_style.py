"""The look shared by every figure: a clean ggplot2-like theme and a colour per group.

Internal. matplotlib is imported inside functions only, so importing :mod:`multilevel.plots`
stays cheap.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

INK = "#222222"        # text and the population line
GRID = "#e5e5e5"
BORDER = "#b3b3b3"
POINT = "#4d4d4d"      # points when there are no groups
BAND = "#9e9e9e"       # confidence bands
ACCENT = "#2c7fb8"     # single-series marks (coefficients of one model)
MAX_LEGEND = 12        # more groups than this: colours, but no legend entries

RC = {
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.0,
    "axes.edgecolor": BORDER,
    "axes.linewidth": 0.8,
    "axes.labelcolor": INK,
    "xtick.color": "#4d4d4d",
    "ytick.color": "#4d4d4d",
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 9.0,
    "legend.title_fontsize": 9.5,
    "figure.dpi": 100.0,
    "savefig.dpi": 110.0,
    "figure.facecolor": "white",
}


def hue_palette(n: int, *, h: tuple[float, float] = (15.0, 375.0), c: float = 100.0,
                lum: float = 65.0) -> list[str]:
    """ggplot2's default discrete palette (``scales::hue_pal()``): ``n`` evenly spaced hues
    in HCL space at equal chroma and luminance, as hex strings.

    Examples
    --------
    >>> hue_palette(2)
    ['#F8766D', '#00BFC4']
    """
    if n <= 0:
        return []
    lo, hi = h
    if (hi - lo) % 360 < 1 and n > 0:
        hi -= 360.0 / n
    hues = np.linspace(lo, hi, n) % 360 if n > 1 else np.array([lo])
    return [_hcl_to_hex(hh, c, lum) for hh in hues]


def _hcl_to_hex(h: float, c: float, lum: float) -> str:
    """Polar CIE-LUV (D65) to an sRGB hex string, clipped to the gamut."""
    xn, yn, zn = 95.047, 100.0, 108.883
    un = 4 * xn / (xn + 15 * yn + 3 * zn)
    vn = 9 * yn / (xn + 15 * yn + 3 * zn)
    u = c * math.cos(math.radians(h))
    v = c * math.sin(math.radians(h))
    y = yn * ((lum + 16) / 116) ** 3 if lum > 8 else yn * lum / 903.2962962962963
    up = u / (13 * lum) + un
    vp = v / (13 * lum) + vn
    x = y * 9 * up / (4 * vp)
    z = y * (12 - 3 * up - 20 * vp) / (4 * vp)
    x, y, z = x / 100, y / 100, z / 100
    rgb_lin = (3.240479 * x - 1.537150 * y - 0.498535 * z,
               -0.969256 * x + 1.875992 * y + 0.041556 * z,
               0.055648 * x - 0.204043 * y + 1.057311 * z)

    def gamma(t: float) -> int:
        t = 12.92 * t if t <= 0.0031308 else 1.055 * t ** (1 / 2.4) - 0.055
        return int(round(255 * min(1.0, max(0.0, t))))

    return "#{:02X}{:02X}{:02X}".format(*(gamma(t) for t in rgb_lin))


def group_colors(levels: Sequence[Any], palette: Any = None) -> dict[Any, str]:
    """A colour for each level: ggplot2's hues, or a list / dict / matplotlib colormap name."""
    levels = list(levels)
    if palette is None:
        return dict(zip(levels, hue_palette(len(levels))))
    if isinstance(palette, dict):
        return {lv: palette[lv] for lv in levels}
    if isinstance(palette, str):
        import matplotlib as mpl
        from matplotlib.colors import to_hex

        cmap = mpl.colormaps[palette]
        n = max(len(levels), 1)
        if getattr(cmap, "N", 256) < 64:  # qualitative map: cycle its colours
            return {lv: to_hex(cmap(i % cmap.N)) for i, lv in enumerate(levels)}
        return {lv: to_hex(cmap(i / max(n - 1, 1))) for i, lv in enumerate(levels)}
    colours = list(palette)
    return {lv: colours[i % len(colours)] for i, lv in enumerate(levels)}


def new_axes(ax=None, *, figsize=(7.0, 4.6)):
    """``ax`` itself, or a fresh themed Axes on a new pyplot figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def new_panels(n: int, ax=None, *, ncols: int | None = None, panel_size=(3.4, 3.2),
               sharey: bool = False) -> list:
    """``n`` Axes: those given in ``ax`` (a sequence), the area of one given Axes split into a
    grid, or a new figure."""
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    if ax is not None and not hasattr(ax, "plot"):
        axes = list(np.ravel(ax))
        if len(axes) < n:
            raise ValueError(f"this figure has {n} panels but {len(axes)} Axes were given")
        return axes[:n]
    if ax is not None:
        if n == 1:
            return [ax]
        fig = ax.figure
        spec = ax.get_subplotspec()
        if spec is None:
            raise ValueError(f"this figure has {n} panels: pass a sequence of {n} Axes, or an "
                             "Axes made by subplots() so that it can be split")
        grid = spec.subgridspec(nrows, ncols, wspace=0.35, hspace=0.45)
        ax.remove()
        axes = []
        for i in range(n):
            share = axes[0] if (sharey and axes) else None
            axes.append(fig.add_subplot(grid[i // ncols, i % ncols], sharey=share))
        return axes
    import matplotlib.pyplot as plt

    with plt.rc_context(RC):
        fig, grid_axes = plt.subplots(nrows, ncols, squeeze=False, sharey=sharey,
                                      figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                                      layout="constrained")
    axes = list(grid_axes.ravel())
    for extra in axes[n:]:
        extra.remove()
    return axes[:n]


def style_axes(ax, *, grid_axis: str = "both") -> None:
    """The theme on one Axes: white panel, light grid behind the data, thin grey border."""
    ax.set_facecolor("white")
    ax.set_axisbelow(True)
    ax.grid(True, axis=grid_axis, color=GRID, linewidth=0.8)
    if grid_axis != "both":
        ax.grid(False, axis="x" if grid_axis == "y" else "y")
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_color(BORDER)
        ax.spines[side].set_linewidth(0.8)
    ax.tick_params(length=3, color=BORDER, labelsize=RC["xtick.labelsize"],
                   labelcolor="#4d4d4d")
    ax.xaxis.label.set_color(INK)
    ax.yaxis.label.set_color(INK)
    ax.title.set_color(INK)


def legend_right(ax, title: str | None, *, n_entries: int, handles=None, labels=None) -> None:
    """A frameless legend outside the panel on the right (ggplot2's position)."""
    if n_entries == 0:
        return
    ncol = 1 if n_entries <= 12 else 2
    args = (handles, labels) if handles is not None else ()
    leg = ax.legend(*args, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                    ncol=ncol, handletextpad=0.4, borderaxespad=0.0, alignment="left",
                    markerscale=1.6 if handles is None else 1.0)
    leg.get_title().set_color(INK)


def safe_text(text) -> str:
    r"""Data-derived text as matplotlib shows it literally (``$`` would start mathtext).

    Examples
    --------
    >>> print(safe_text("income $"))
    income \$
    """
    text = str(text).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text  # "_x" would hide a legend entry


def label_of(labels: dict | None, column: str) -> str:
    """An axis title: the variable label kept by :func:`multilevel.read`, else the column name."""
    if labels and labels.get(column) and str(labels[column]) != str(column):
        return safe_text(f"{labels[column]} ({column})")
    return safe_text(column)


def level_order(values) -> list:
    """Levels in R's order: the categories of a categorical, else sorted distinct values."""
    import pandas as pd

    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    uniq = pd.unique(values.dropna())
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def point_style(n: int, size: float | None = None, alpha: float | None = None
                ) -> tuple[float, float]:
    """Marker area and opacity for `n` points: smaller and lighter as points crowd."""
    if size is None:
        size = 16.0 if n <= 500 else 9.0 if n <= 3000 else 6.0
    if alpha is None:
        alpha = 0.8 if n <= 500 else 0.55 if n <= 3000 else 0.4
    return size, alpha
