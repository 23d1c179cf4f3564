"""Model checks: residuals against fitted values, normal QQ plots of residuals and of the
random effects (R's ``plot(m)``, ``qqnorm(resid(m))`` and ``qqmath(ranef(m))``)."""
from __future__ import annotations

import math

import numpy as np

from ._style import INK, POINT, new_panels, point_style, safe_text, style_axes

__all__ = ["diagnostics"]

SMOOTH = "#d7301f"


def ppoints(n: int) -> np.ndarray:
    """R's ``ppoints(n)``: probabilities for a normal QQ plot.

    Examples
    --------
    >>> ppoints(4).round(4).tolist()
    [0.1471, 0.3824, 0.6176, 0.8529]
    """
    a = 3.0 / 8.0 if n <= 10 else 0.5
    return (np.arange(1, n + 1) - a) / (n + 1 - 2 * a)


def _smooth(x: np.ndarray, y: np.ndarray, frac: float = 2.0 / 3.0, points: int = 60
            ) -> tuple[np.ndarray, np.ndarray]:
    """A local linear smoother with tricube weights (lowess without robustness steps),
    evaluated on a grid."""
    n = len(x)
    grid = np.linspace(x.min(), x.max(), points)
    k = max(3, int(math.ceil(frac * n)))
    out = np.empty(points)
    for i, g in enumerate(grid):
        d = np.abs(x - g)
        h = np.partition(d, k - 1)[k - 1]
        h = h if h > 0 else d.max() or 1.0
        w = np.clip(1 - (d / h) ** 3, 0, None) ** 3
        sw = w.sum()
        mx, my = (w @ x) / sw, (w @ y) / sw
        vx = w @ (x - mx) ** 2
        slope = (w @ ((x - mx) * (y - my))) / vx if vx > 0 else 0.0
        out[i] = my + slope * (g - mx)
    return grid, out


def _qq(axis, values: np.ndarray, title: str, ylabel: str, color: str = POINT) -> None:
    from scipy import stats

    v = np.sort(values[np.isfinite(values)])
    theo = stats.norm.ppf(ppoints(len(v)))
    style_axes(axis)
    size, alpha = point_style(len(v))
    axis.scatter(theo, v, s=size, color=color, alpha=alpha, linewidths=0, zorder=3)
    # R's qqline: through the first and third quartiles
    q1, q3 = np.quantile(v, [0.25, 0.75])
    t1, t3 = stats.norm.ppf([0.25, 0.75])
    slope = (q3 - q1) / (t3 - t1) if t3 != t1 else 0.0
    lo, hi = theo.min(), theo.max()
    axis.plot([lo, hi], [q1 + slope * (lo - t1), q1 + slope * (hi - t1)], color=SMOOTH,
              linewidth=1.3, zorder=4)
    import textwrap

    axis.set_title(safe_text("\n".join(textwrap.wrap(title, 26))), loc="left",
                   fontsize=10.5)
    axis.set_xlabel("Theoretical normal quantiles")
    axis.set_ylabel(ylabel)


def diagnostics(model, *, ax=None, ranef: bool = True):
    """Residuals against fitted values (with a smoother), and normal QQ plots of the scaled
    residuals and of each random-effect term's conditional modes.

    Parameters
    ----------
    model : LmResult or LmerResult
    ax : sequence of Axes or one Axes, optional
        One Axes per panel, or one Axes made by ``subplots()`` whose area is split; a new
        figure when omitted.
    ranef : bool
        Add the QQ panels of the random effects (mixed models).

    Returns
    -------
    ndarray of matplotlib Axes
        ``lm``: 2 panels; mixed models: 2 + one per random-effect term.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> axes = ml.plot.diagnostics(m)
    >>> len(axes), axes[0].get_title(loc="left")
    (4, 'Residuals vs fitted')
    """
    fitted = np.asarray(model.fitted, dtype=float)
    resid = np.asarray(model.residuals(), dtype=float)
    mixed = bool(getattr(model.design, "re_terms", None)) and hasattr(model, "ranef")
    re_panels = []
    if mixed and ranef:
        re = model.ranef(cond_var=False)
        for (g, term), part in re.groupby(["grpvar", "term"], sort=False):
            re_panels.append((g, term, part["condval"].to_numpy(float)))
    n = 2 + len(re_panels)
    ncols = n if n <= 3 else (2 if n == 4 else 3)
    axes = new_panels(n, ax, ncols=ncols, panel_size=(3.6, 3.2))

    a0 = axes[0]
    style_axes(a0)
    a0.axhline(0.0, color=INK, alpha=0.5, linewidth=1.0, zorder=2)
    size, alpha = point_style(len(fitted))
    a0.scatter(fitted, resid, s=size, color=POINT, alpha=alpha, linewidths=0, zorder=3)
    if len(fitted) >= 10 and np.ptp(fitted) > 0:
        gx, gy = _smooth(fitted, resid)
        a0.plot(gx, gy, color=SMOOTH, linewidth=1.6, zorder=4)
    a0.set_title("Residuals vs fitted", loc="left", fontsize=10.5)
    a0.set_xlabel("Fitted values")
    a0.set_ylabel("Residuals")

    sigma = float(model.sigma)
    scaled = resid / sigma if sigma > 0 else resid
    _qq(axes[1], scaled, "Normal QQ: residuals", "Scaled residuals")
    for axis, (g, term, vals) in zip(axes[2:], re_panels):
        _qq(axis, vals, f"Normal QQ: {term} | {g}", f"Random effects ({g})")
    return np.array(axes, dtype=object)
