"""Profile zeta plots (lme4's ``xyplot(profile(m))``)."""
from __future__ import annotations

import numpy as np

from ._style import ACCENT, BAND, INK, new_panels, safe_text, style_axes

__all__ = ["profile"]


def profile(prof, *, level: float | None = 0.95, absolute: bool = False, readable: bool = True,
            ax=None, ncols: int | None = None):
    """One panel per parameter: the profile ``zeta`` against the parameter's value.

    ``zeta`` is the signed square root of the increase in deviance; for a quadratic
    log-likelihood it is a straight line. Dashed lines mark ``zeta = +-z`` of ``level`` and
    the interval limits where they cross the profile (lme4's ``xyplot`` of a profile;
    ``absolute=True`` plots ``|zeta|``, its ``absVal = TRUE`` variant).

    Parameters
    ----------
    prof : Profile or LmerResult
        From :func:`multilevel.profile`; a fitted model is profiled first.
    level : float or None
        Confidence level whose limits are marked; None for no marks.
    absolute : bool
        Plot ``|zeta|`` (lme4's ``absVal = TRUE``).
    readable : bool
        Panel titles ``sd_(Intercept)|g`` rather than ``.sig01``.
    ax : Axes or sequence of Axes, optional
        Where to draw; a new figure when omitted.
    ncols : int, optional
        Panels per row (default: up to 3).

    Returns
    -------
    list of matplotlib Axes, one per profiled parameter.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.plots.profile import profile as profile_plot
    >>> pr = ml.profile(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))
    >>> [a.get_title() for a in profile_plot(pr)]
    ['sd_(Intercept)|Batch', 'sigma', '(Intercept)']
    """
    from scipy import stats

    if not hasattr(prof, "table"):
        from ..inference.profile import profile as make_profile

        prof = make_profile(prof)
    table = prof.table
    params = list(dict.fromkeys(table[".par"]))
    if not params:
        raise ValueError("the profile holds no parameter (see its .failures)")
    pr = prof._profiler
    titles = {n: (pr.readable[pr.names.index(n)] if readable else n) for n in params}
    ncols = ncols or min(3, len(params))
    axes = new_panels(len(params), ax, ncols=ncols, panel_size=(3.2, 2.8))
    ci = prof.confint(level=level) if level is not None else None
    z = float(stats.norm.ppf(0.5 + level / 2)) if level is not None else None
    for axis, name in zip(axes, params):
        part = table[table[".par"] == name].sort_values(name)
        x = part[name].to_numpy(dtype=float)
        zeta = part[".zeta"].to_numpy(dtype=float)
        style_axes(axis)
        axis.plot(x, np.abs(zeta) if absolute else zeta, color=ACCENT, linewidth=1.4,
                  marker="o", markersize=3)
        if z is not None:
            marks = [z] if absolute else [-z, z]
            for zz in marks:
                axis.axhline(zz, color=BAND, linestyle="--", linewidth=0.8)
            lo, hi = ci.loc[name, "lower"], ci.loc[name, "upper"]
            for lim, zz in ((lo, -z), (hi, z)):
                if np.isfinite(lim):
                    axis.vlines(lim, 0 if absolute else min(zz, 0), abs(zz) if absolute else
                                max(zz, 0), color=BAND, linestyle="--", linewidth=0.8)
        axis.axhline(0, color=INK, linewidth=0.6)
        axis.set_title(safe_text(titles[name]))
        axis.set_ylabel("|ζ|" if absolute else "ζ")
    return axes
