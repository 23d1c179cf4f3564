"""The teaching figure of partial pooling: per-group estimates with no pooling (a separate
least-squares fit per group), complete pooling (one fit ignoring the groups) and partial
pooling (the mixed model's ``coef(m)``), with arrows showing the shrinkage.

No pooling and complete pooling regress the response on the columns of the grouping
factor's random-effect term only (``1`` for ``(1 | g)``; ``1, x`` for ``(x | g)``), as the
classic figure does; a group whose own fit is not estimable (too few rows, no spread in
``x``) has no no-pooling point. The numbers drawn are in ``ax.pooling_frame``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError, two_line
from ._style import ACCENT, BORDER, INK, new_axes, safe_text, style_axes

__all__ = ["pooling", "pooling_estimates"]


def _term(m, group):
    terms = [t for t in m.terms if group is None or t.group == group]
    if not terms:
        groups = sorted({t.group for t in m.terms})
        raise DataError(two_line(f"no grouping factor {group!r} in the model",
                                 f"use one of {', '.join(groups)}"))
    return terms[0]


def pooling_estimates(m, group: str | None = None) -> pd.DataFrame:
    """No-, complete- and partial-pooling estimates of each group's coefficients.

    Returns a DataFrame indexed by group level with columns ``("no", name)``,
    ``("complete", name)`` and ``("partial", name)`` for each column ``name`` of the
    term (``(Intercept)``, slopes) and ``n`` (rows per group).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> est = pooling_estimates(m)
    >>> est.shape, round(float(est[("complete", "Days")].iloc[0]), 3)
    ((18, 7), 10.467)
    """
    if getattr(m, "kind", None) != "lmer":
        raise DataError(two_line("the pooling figure is drawn for linear mixed models",
                                 "fit the model with ml.lmer"))
    t = _term(m, group)
    Z = np.asarray(t.Z, dtype=float)
    y = np.asarray(m.design.y, dtype=float)
    if m.design.offset is not None:
        y = y - np.asarray(m.design.offset, dtype=float)
    codes = np.asarray(t.codes)
    names = list(t.cnames)
    complete = np.linalg.lstsq(Z, y, rcond=None)[0]
    no = np.full((t.n_levels, t.p), np.nan)
    counts = np.bincount(codes, minlength=t.n_levels)
    for j in range(t.n_levels):
        rows = codes == j
        Zj = Z[rows]
        if rows.sum() >= t.p and np.linalg.matrix_rank(Zj) == t.p:
            no[j] = np.linalg.lstsq(Zj, y[rows], rcond=None)[0]
    coef = m.coef()[t.group]
    partial = np.column_stack([coef[c].to_numpy(dtype=float) if c in coef.columns
                               else np.full(t.n_levels, np.nan) for c in names])
    cols = pd.MultiIndex.from_tuples([(k, c) for k in ("no", "complete", "partial")
                                      for c in names] + [("n", "")])
    data = np.column_stack([no, np.tile(complete, (t.n_levels, 1)), partial, counts])
    return pd.DataFrame(data, index=pd.Index(list(t.levels), name=t.group), columns=cols)


def pooling(m, group: str | None = None, *, terms=None, ax=None, title: str | None = None):
    """No pooling vs partial pooling vs complete pooling, with shrinkage arrows.

    One column (``(1 | g)``): each group's intercept on a row, no-pooling (open) to
    partial-pooling (filled) arrows, the complete-pooling estimate as a vertical line.
    Two or more columns: the first two (or ``terms``) as a plane, intercept against slope,
    arrows from each group's own fit to the model's estimate, the complete-pooling point as
    a star.

    Parameters
    ----------
    m : LmerResult
    group : str, optional
        The grouping factor (default: the model's first term's).
    terms : pair of str, optional
        The two coefficients to draw (default: the first two of the term).
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes, with ``ax.pooling_frame`` (:func:`pooling_estimates`).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> ax = pooling(m)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('(Intercept)', 'Days')
    """
    est = pooling_estimates(m, group)
    names = list(dict.fromkeys(c for k, c in est.columns if k != "n"))
    grp = est.index.name
    if len(names) == 1:
        ax = new_axes(ax, figsize=(6.0, max(3.0, 0.22 * len(est) + 1.2)))
        _one_column(ax, est, names[0])
    else:
        pick = list(terms) if terms is not None else names[:2]
        bad = [p for p in pick if p not in names]
        if len(pick) != 2 or bad:
            raise DataError(two_line(f"terms must be two of {names}, got {list(pick)}",
                                     f"e.g. terms={names[:2]}"))
        ax = new_axes(ax, figsize=(6.2, 5.0))
        _two_columns(ax, est, pick)
    style_axes(ax)
    ax.set_title(safe_text(title if title is not None else
                           f"Shrinkage: no pooling \u2192 partial pooling ({grp})"), loc="left")
    ax.pooling_frame = est
    return ax


def _one_column(ax, est, name):
    no = est[("no", name)].to_numpy(float)
    part = est[("partial", name)].to_numpy(float)
    order = np.argsort(np.where(np.isfinite(no), no, part), kind="stable")
    y = np.arange(len(est))
    for yi, i in zip(y, order):
        if np.isfinite(no[i]):
            ax.annotate("", xy=(part[i], yi), xytext=(no[i], yi),
                        arrowprops=dict(arrowstyle="->", color=BORDER, lw=0.9))
    ax.scatter(no[order], y, facecolors="white", edgecolors=INK, s=26, zorder=3,
               label="no pooling")
    ax.scatter(part[order], y, color=ACCENT, s=26, zorder=4, label="partial pooling")
    ax.axvline(float(est[("complete", name)].iloc[0]), color=INK, linestyle="--",
               linewidth=1.0, label="complete pooling")
    ax.set_yticks(y)
    ax.set_yticklabels([safe_text(v) for v in est.index[order]])
    ax.set_xlabel(safe_text(name))
    ax.set_ylabel(safe_text(est.index.name))
    ax.legend(loc="best", frameon=False)


def _two_columns(ax, est, pick):
    a, b = pick
    nx, ny = est[("no", a)].to_numpy(float), est[("no", b)].to_numpy(float)
    px, py = est[("partial", a)].to_numpy(float), est[("partial", b)].to_numpy(float)
    for i in range(len(est)):
        if np.isfinite(nx[i]) and np.isfinite(ny[i]):
            ax.annotate("", xy=(px[i], py[i]), xytext=(nx[i], ny[i]),
                        arrowprops=dict(arrowstyle="->", color=BORDER, lw=0.9))
    ax.scatter(nx, ny, facecolors="white", edgecolors=INK, s=28, zorder=3,
               label="no pooling")
    ax.scatter(px, py, color=ACCENT, s=28, zorder=4, label="partial pooling")
    ax.scatter([est[("complete", a)].iloc[0]], [est[("complete", b)].iloc[0]], marker="*",
               s=180, color="#d95f02", zorder=5, label="complete pooling")
    ax.set_xlabel(safe_text(a))
    ax.set_ylabel(safe_text(b))
    ax.legend(loc="best", frameon=False)
