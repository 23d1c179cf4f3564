"""Power curve: simulated power against the number of groups with Clopper-Pearson intervals
(simr's ``plot(powerCurve(...))``)."""
from __future__ import annotations

from ._style import ACCENT, BORDER, new_axes, safe_text, style_axes

__all__ = ["power_curve"]


def power_curve(pc, ax=None, *, target: float | None = 0.8):
    """Draw a :class:`~multilevel.inference.power.PowerCurve` (``ml.power(..., n=[...])``).

    Parameters
    ----------
    pc : PowerCurve
    ax : matplotlib Axes, optional
    target : float or None
        A dashed reference line (simr draws 80%).

    Returns
    -------
    Axes; ``ax.lines[0]`` holds the points (number of groups, power).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> pc = ml.power(m, "Days", effect=2, nsim=5, along="Subject", n=[4, 8], seed=1,
    ...               progress=False)
    >>> power_curve(pc).get_xlabel()
    'number of levels of Subject'
    """
    ax = new_axes(ax, figsize=(5.6, 3.8))
    style_axes(ax)
    t = pc.table.astype(float)
    x, y = t["n_groups"].to_numpy(), t["power"].to_numpy()
    ax.errorbar(x, y, yerr=[y - t["lower"].to_numpy(), t["upper"].to_numpy() - y],
                marker="o", capsize=3, color=ACCENT, linewidth=1.6)
    if target is not None:
        ax.axhline(target, color=BORDER, linestyle="--", linewidth=1.0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(safe_text(f"number of levels of {pc.along}"))
    ax.set_ylabel(safe_text(f"power (test of {pc.sims[0].test})"))
    return ax
