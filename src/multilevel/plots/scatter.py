"""The lesson's first two figures: the data with the OLS line, and one fitted line per group."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._style import (BAND, INK, MAX_LEGEND, POINT, group_colors, hue_palette, label_of,
                     legend_right, level_order, new_axes, point_style, safe_text, style_axes)

__all__ = ["scatter_fit", "group_lines"]


def _jittered(x: np.ndarray, width: float, seed: int = 1) -> np.ndarray:
    if not width:
        return x
    rng = np.random.default_rng(seed)
    return x + rng.uniform(-width, width, size=x.shape)


def scatter_fit(data, x: str, y: str, group: str | None = None, *, ax=None, level: float = 0.95,
                jitter: float = 0.0, palette: Any = None, labels: dict | None = None,
                title: str | None = None, legend: bool = True,
                point_size: float | None = None, alpha: float | None = None,
                max_groups: int = 50):
    """The data as points (a colour per group) with the OLS line and its confidence band.

    The lesson's first figure: ``ggplot(d, aes(x, y)) + geom_smooth(method = lm) +
    geom_point(colour = group)``.

    Parameters
    ----------
    data : DataFrame
    x, y : str
        Columns on the horizontal and vertical axes (numeric).
    group : str, optional
        Column whose levels get a colour each (ggplot2's hues, in R's level order).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    level : float
        Confidence level of the band around the regression line (0 for no band).
    jitter : float
        Spread points randomly by up to this much along x (for integer-valued x, e.g. 0.15).
    palette : list, dict, or colormap name, optional
        Colours of the groups.
    labels : dict, optional
        Axis titles by column; default ``data.attrs["labels"]`` (kept by :func:`multilevel.read`).
    title : str, optional
    legend : bool
        Show the group legend (only up to 12 groups).
    point_size, alpha : float, optional
        Marker area and opacity (default: smaller and lighter the more points there are).
    max_groups : int
        Beyond this many groups the points are one layer (a colour per group, no legend),
        which keeps 20,000 groups quick.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> ax = ml.plot.scatter_fit(sleep, "Days", "Reaction", group="Subject")
    >>> len(ax.lines), ax.get_xlabel()
    (1, 'Days')
    """
    import pandas as pd
    from scipy import stats

    from .._data_input import to_pandas

    data = to_pandas(data)  # polars and pyarrow too
    cols = [x, y] + ([group] if group is not None else [])
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"no column {', '.join(map(repr, missing))} in the data")
    labels = dict(getattr(data, "attrs", {}).get("labels") or {}) if labels is None else labels
    frame = data[cols].dropna(subset=[x, y])
    xs = pd.to_numeric(frame[x], errors="raise").to_numpy(float)
    ys = pd.to_numeric(frame[y], errors="raise").to_numpy(float)
    ax = new_axes(ax)
    style_axes(ax)
    point_size, alpha = point_style(len(xs), point_size, alpha)

    xj = _jittered(xs, jitter)
    if group is None:
        ax.scatter(xj, ys, s=point_size, color=POINT, alpha=alpha, linewidths=0, zorder=3)
        n_entries = 0
    else:
        levels = level_order(frame[group])
        codes = pd.Categorical(frame[group], categories=levels).codes
        if len(levels) > max_groups:  # many groups: one layer, a colour per group, no legend
            palette_ = hue_palette(min(len(levels), 360)) if palette is None else None
            if palette_ is not None:
                cs = np.asarray(palette_, dtype=object)[codes % len(palette_)]
            else:
                colours = group_colors(levels, palette)
                cs = np.asarray([colours[lv] for lv in levels], dtype=object)[codes]
            ax.scatter(xj, ys, s=point_size, c=list(cs), alpha=alpha, linewidths=0, zorder=3,
                       rasterized=True)
            n_entries = 0
        else:
            colours = group_colors(levels, palette)
            order_rows = np.argsort(codes, kind="stable")
            bounds = np.cumsum(np.bincount(codes[codes >= 0], minlength=len(levels)))[:-1]
            for lv, sel in zip(levels, np.split(order_rows[codes[order_rows] >= 0], bounds)):
                ax.scatter(xj[sel], ys[sel], s=point_size, color=colours[lv], alpha=alpha,
                           linewidths=0, zorder=3, label=safe_text(lv))
            n_entries = len(levels) if legend and len(levels) <= MAX_LEGEND else 0

    n = len(xs)
    if n >= 3 and np.ptp(xs) > 0:
        X = np.column_stack([np.ones(n), xs])
        beta, *_ = np.linalg.lstsq(X, ys, rcond=None)
        grid = np.linspace(xs.min(), xs.max(), 100)
        fit = beta[0] + beta[1] * grid
        if level:
            resid = ys - X @ beta
            s2 = resid @ resid / (n - 2)
            sxx = np.sum((xs - xs.mean()) ** 2)
            se = np.sqrt(s2 * (1.0 / n + (grid - xs.mean()) ** 2 / sxx))
            tq = stats.t.ppf(0.5 + level / 2, n - 2)
            ax.fill_between(grid, fit - tq * se, fit + tq * se, color=BAND, alpha=0.35,
                            linewidth=0, zorder=2, label="_band")
        ax.plot(grid, fit, color=INK, linewidth=1.8, zorder=4, label="_ols")
    ax.set_xlabel(label_of(labels, x))
    ax.set_ylabel(label_of(labels, y))
    if title:
        ax.set_title(safe_text(title), loc="left")
    if n_entries:
        legend_right(ax, label_of(labels, group), n_entries=n_entries)
    return ax


# ----- per-group lines of a fitted model -------------------------------------------------------
_FACTOR_CALL = re.compile(r"^(?:as\.factor|factor|as\.character|C)\((?P<var>[^()]+)\)")


def _dummy_columns(xnames: Sequence[str], group: str | None
                   ) -> tuple[str | None, list[int], list[str]]:
    """For an ``lm`` with group dummies: the grouping variable, the dummy columns and the
    levels they stand for (reference level omitted)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for j, name in enumerate(xnames):
        if ":" in name:
            continue
        m = _FACTOR_CALL.match(name)
        if m:
            prefix = m.group(0)
            var = m.group("var").strip()
            found.setdefault(var, []).append((j, name[len(prefix):]))
        elif group is not None and name.startswith(group) and name != group:
            found.setdefault(group, []).append((j, name[len(group):]))
    if group is not None:
        if group not in found:
            return None, [], []
        var = group
    elif found:
        var = max(found, key=lambda k: len(found[k]))
    else:
        return None, [], []
    return var, [j for j, _ in found[var]], [lv for _, lv in found[var]]


def _reference_level(model, var: str, dummy_levels: list[str]) -> str:
    spec = getattr(model.design, "spec", None)
    for attr in ("levels", "factor_levels"):
        table = getattr(spec, attr, None)
        if isinstance(table, dict):
            for key, lv in table.items():
                if var in str(key):
                    rest = [str(v) for v in lv if str(v) not in dummy_levels]
                    if len(rest) == 1:
                        return rest[0]
    # integers 1..k with one missing: that one
    try:
        nums = sorted(int(v) for v in dummy_levels)
        for cand in range(min(nums) - 1, max(nums) + 2):
            if cand not in nums:
                return str(cand)
    except ValueError:
        pass
    return "(reference)"


def _default_x(model, skip: set[int]) -> str:
    design = model.design
    if getattr(design, "re_terms", None):
        for t in design.re_terms:
            for name in t.cnames:
                if name != "(Intercept)" and name in design.xnames:
                    return name
    X = np.asarray(design.X, dtype=float)
    for j, name in enumerate(design.xnames):
        if name == "(Intercept)" or j in skip or ":" in name:
            continue
        if np.isin(X[:, j], (0.0, 1.0)).all():  # a factor's dummy: not an axis
            continue
        return name
    raise ValueError("the model has no numeric predictor to put on the x axis; pass x=")


def _line_data(model, x: str | None, group: str | None):
    """Everything ``group_lines`` draws, from the model's design alone (no data needed).

    Returns a dict with x values, y values, group labels per row, level order, per-level
    curves (x grid, y) and the population curve.
    """
    import pandas as pd

    design = model.design
    # a GLMM's lines are its linear predictor mapped through the inverse link (the response
    # scale: proportions, rates), over the response as the model sees it
    glmm = getattr(model, "kind", "") == "glmer"
    inv = model.problem.data.family.link.linkinv if glmm else (lambda eta: eta)
    xnames = list(design.xnames)
    X = np.asarray(design.X, dtype=float)
    beta = model.fixef.reindex(xnames).to_numpy(dtype=float)
    re_terms = list(getattr(design, "re_terms", []) or [])
    if re_terms:
        groups = [t.group for t in re_terms]
        if group is None:
            group = groups[0]
        if group not in groups:
            raise ValueError(f"no grouping factor {group!r} in the model; it has "
                             + ", ".join(map(repr, dict.fromkeys(groups))))
        term_ix = [k for k, t in enumerate(re_terms) if t.group == group]
        t0 = re_terms[term_ix[0]]
        levels = [str(v) for v in t0.levels]
        keys = np.asarray(levels, dtype=object)[np.asarray(t0.codes)]
        dummy_ix: list[int] = []
        coefs = model.coef()
        table = coefs[group] if group in coefs else next(iter(coefs.values()))
        table.index = table.index.astype(str)
        mat = table.reindex(index=levels, columns=xnames).fillna(0.0).to_numpy(float)
        per_level = dict(zip(levels, mat))
    else:
        var, dummy_ix, dummy_levels = _dummy_columns(xnames, group)
        if var is None:
            raise ValueError("this lm has no group dummies (e.g. + as.factor(school)); "
                             "fit one, or use ml.plot.scatter_fit for the single OLS line")
        group = var
        ref = _reference_level(model, var, dummy_levels)
        D = X[:, dummy_ix]
        keys = np.full(len(X), ref, dtype=object)
        has = D.sum(axis=1) > 0.5
        keys[has] = np.asarray(dummy_levels, dtype=object)[np.argmax(D[has], axis=1)]
        levels = [ref] + list(dummy_levels)
        per_level = {lv: beta for lv in levels}
    if x is None:
        x = _default_x(model, set(dummy_ix))
    if x not in xnames:
        raise ValueError(f"{x!r} is not a numeric predictor of the model; its columns are "
                         + ", ".join(xnames))
    jx = xnames.index(x)
    xs = X[:, jx]
    ys = np.asarray(model.problem.data.y if glmm else design.y, dtype=float)
    others = [j for j, name in enumerate(xnames) if j != jx and j not in dummy_ix]
    # a column that is a function of x (x:z, I(x^2), poly(x)) makes the line a curve we cannot
    # rebuild from the design: then draw the fitted values joined in x order, as the lesson does
    token = re.compile(r"(?<![\w.])" + re.escape(x) + r"(?![\w.])")
    exact = not any(token.search(xnames[j]) for j in others)
    curves = {}
    fitted = np.asarray(model.fitted, dtype=float)
    # rows of each level in one pass (a level's rows by position: O(n), not O(levels x n))
    codes, uniq = pd.factorize(pd.Series(keys, dtype=object))
    order_rows = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniq)))[:-1]
    rows_of = dict(zip(uniq, np.split(order_rows, bounds)))
    for lv in levels:
        rows = rows_of.get(lv)
        if rows is None or not len(rows):
            continue
        sel = rows
        if exact:
            grid = np.linspace(xs[sel].min(), xs[sel].max(), 50)
            G = np.tile(X[sel].mean(axis=0), (len(grid), 1))
            G[:, jx] = grid
            if dummy_ix:  # this group's dummy on, the others off
                G[:, dummy_ix] = 0.0
                k = levels.index(lv)
                if k > 0:
                    G[:, dummy_ix[k - 1]] = 1.0
            curves[lv] = (grid, inv(G @ per_level[lv]))
        else:
            order = np.argsort(xs[sel], kind="stable")
            curves[lv] = (xs[sel][order], fitted[sel][order])
    grid = np.linspace(xs.min(), xs.max(), 50)
    row = X.mean(axis=0)
    G = np.tile(row, (len(grid), 1))
    G[:, jx] = grid
    if dummy_ix:
        G[:, dummy_ix] = 0.0
    population = (grid, inv(G @ beta))
    return {"x": x, "group": group, "xs": xs, "ys": ys, "keys": keys, "levels": levels,
            "curves": curves, "population": population, "exact": exact,
            "response": getattr(design, "response_name", "y"),
            "population_label": ("fixed effects" if re_terms
                                 else safe_text(f"{group} {levels[0]} (reference)"))}


def group_lines(model, x: str | None = None, *, group: str | None = None, ax=None,
                points: bool = True, jitter: float = 0.0, palette: Any = None,
                labels: dict | None = None, title: str | None = None, legend: bool = True,
                point_size: float | None = None, alpha: float | None = None,
                max_groups: int = 50, n_extremes: int = 8):
    """Each group's fitted line over the data, with the population (fixed-effect) line bold.

    With more than `max_groups` groups the figure summarises instead of drawing every line:
    the `n_extremes` groups with the lowest and the highest lines (at the middle of the x
    range) in colour, shaded bands holding the middle 50% and 90% of all the groups' lines
    (their density), and the data points in grey; it stays readable and quick for 20,000
    groups.

    Works for an ``lmer`` (lines from ``coef(m)``: fixed plus the group's random effects), a
    ``glmer`` (the same, on the response scale: each group's curve is the inverse link of its
    linear predictor) and for an ``lm`` with group dummies such as ``y ~ x + as.factor(school)`` (the lesson's
    "fixed coefficients" model). Other predictors are held at each group's mean, so each line
    is straight; when the model has a function of `x` (``x:z``, ``I(x^2)``), the fitted values
    are joined in order of `x` instead, as the lesson's ``geom_line(aes(y = fitted))``.

    Parameters
    ----------
    model : LmerResult, GlmerResult or LmResult
    x : str, optional
        The predictor on the horizontal axis; by default the first random slope (``lmer``) or
        the first predictor that is not a group dummy.
    group : str, optional
        The grouping factor (``lmer``: one of the random-effect groups, default the first;
        ``lm``: the variable whose dummies are in the model, found automatically).
    ax : matplotlib Axes, optional
    points : bool
        Draw the data points under the lines (in the group's colour).
    jitter : float
        Spread points randomly by up to this much along x.
    palette : list, dict or colormap name, optional
    labels : dict, optional
        Axis titles by variable name.
    title : str, optional
    legend : bool
    point_size, alpha : float, optional
        Marker area and opacity (default: smaller and lighter the more points there are).
    max_groups : int
        Draw every group's line up to this many groups; beyond, summarise (see above).
    n_extremes : int
        How many of the lowest and of the highest groups' lines a summary shows.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> ax = ml.plot.group_lines(m)
    >>> len(ax.lines)   # 18 subjects and the population line
    19
    """
    info = _line_data(model, x, group)
    labels = labels or {}
    ax = new_axes(ax)
    style_axes(ax)
    if len(info["levels"]) > max_groups:
        _summary_lines(ax, info, n_extremes=n_extremes, palette=palette, points=points,
                       jitter=jitter, point_size=point_size, alpha=alpha)
        ax.set_xlabel(label_of(labels, info["x"]))
        ax.set_ylabel(label_of(labels, info["response"]))
        if title:
            ax.set_title(safe_text(title), loc="left")
        if legend:
            ax.legend(loc="upper left", frameon=False, fontsize=8)
        return ax
    colours = group_colors(info["levels"], palette)
    point_size, alpha = point_style(len(info["xs"]), point_size, alpha)
    if points:
        xj = _jittered(info["xs"], jitter)
        for lv in info["levels"]:
            sel = info["keys"] == lv
            ax.scatter(xj[sel], info["ys"][sel], s=point_size, color=colours[lv], alpha=alpha,
                       linewidths=0, zorder=2)
    for lv in info["levels"]:
        if lv in info["curves"]:
            gx, gy = info["curves"][lv]
            ax.plot(gx, gy, color=colours[lv], linewidth=1.4, zorder=3, label=safe_text(lv))
    px, py = info["population"]
    ax.plot(px, py, color=INK, linewidth=2.8, zorder=4, label=info["population_label"],
            solid_capstyle="round")
    ax.set_xlabel(label_of(labels, info["x"]))
    ax.set_ylabel(label_of(labels, info["response"]))
    if title:
        ax.set_title(safe_text(title), loc="left")
    n = len(info["levels"])
    if legend:
        if n <= 12:
            legend_right(ax, label_of(labels, info["group"]), n_entries=n + 1)
        else:
            from matplotlib.lines import Line2D

            handle = Line2D([], [], color=INK, linewidth=2.8)
            ax.legend([handle], [info["population_label"]], loc="best", frameon=False)
    return ax


def _summary_lines(ax, info: dict, *, n_extremes: int, palette, points: bool, jitter: float,
                   point_size, alpha) -> None:
    """Many groups: extremes in colour, the density of all lines as bands, points in grey."""
    import warnings

    px, py = info["population"]
    grid = np.asarray(px, dtype=float)
    names = [lv for lv in info["levels"] if lv in info["curves"]]
    lines = np.full((len(names), len(grid)), np.nan)
    for k, lv in enumerate(names):
        gx, gy = info["curves"][lv]
        lines[k] = np.interp(grid, gx, gy, left=np.nan, right=np.nan)
    mid = float(grid[len(grid) // 2])
    at_mid = np.array([np.interp(mid, *info["curves"][lv]) for lv in names])
    if points:
        size, a = point_style(len(info["xs"]), point_size, alpha)
        ax.scatter(_jittered(info["xs"], jitter), info["ys"], s=size, color=POINT,
                   alpha=min(a, 0.35), linewidths=0, zorder=1, rasterized=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # x values no group's line reaches
        q = np.nanquantile(lines, [0.05, 0.25, 0.75, 0.95], axis=0)
    reach = np.isfinite(lines).sum(axis=0)          # groups whose data span that x
    ok = np.isfinite(q).all(axis=0) & (reach >= max(5, 0.1 * len(names)))
    ax.fill_between(grid[ok], q[0][ok], q[3][ok], color=BAND, alpha=0.45, linewidth=0,
                    zorder=2, label=f"middle 90% of the {len(names):,} groups' lines")
    ax.fill_between(grid[ok], q[1][ok], q[2][ok], color=BAND, alpha=0.9, linewidth=0,
                    zorder=2, label="middle 50%")
    order = np.argsort(at_mid, kind="stable")
    k = min(n_extremes, len(names) // 2)
    picks = [names[i] for i in order[:k]] + [names[i] for i in order[len(order) - k:]]
    colours = group_colors(picks, palette)
    for j, lv in enumerate(picks):
        gx, gy = info["curves"][lv]
        label = f"the {k} lowest and {k} highest ({info['group']})" if j == 0 else None
        ax.plot(gx, gy, color=colours[lv], linewidth=1.2, zorder=3, label=label)
    ax.plot(px, py, color=INK, linewidth=2.8, zorder=4, label=info["population_label"],
            solid_capstyle="round")
