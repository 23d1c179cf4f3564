"""R-like text of emmeans tables (``print.summary_emm``) and of linear-hypothesis tests.

Numbers follow emmeans' printing: estimates, standard errors, df and limits with R's
``format(x, digits = 3)`` per column, test statistics with three decimals, p-values with
four (``<.0001`` below). Factor and label columns are left-aligned, numbers right-aligned;
``by`` groups get a ``var = level:`` header; footer lines end the text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .rformat import format_r

#: Python column -> R column (the interval names depend on whether df are finite).
R_NAMES = {"std_error": "SE", "statistic": "t.ratio", "p_value": "p.value"}


def _r_names(df: pd.DataFrame) -> list[str]:
    asymp = "df" in df.columns and len(df) and bool(np.all(np.isinf(df["df"].astype(float))))
    out = []
    for c in df.columns:
        if c == "statistic":
            out.append("z.ratio" if asymp else "t.ratio")
        elif c in ("lower", "upper"):
            out.append(("asymp." + ("LCL" if c == "lower" else "UCL")) if asymp else c + ".CL")
        else:
            out.append(R_NAMES.get(c, c))
    return out


def _pval(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    r = round(p, 4)
    return "<.0001" if r == 0 else f"{r:.4f}"


def _column(name: str, s: pd.Series) -> tuple[list[str], bool]:
    """Formatted cells and whether the column is right-aligned."""
    if name == "p_value":
        return [_pval(float(v)) for v in s], True
    if name == "statistic":
        # emmeans: format(round(x, 3), nsmall = 3), where a rounded -0 prints as 0.000
        return ["NA" if not np.isfinite(v) else f"{round(float(v), 3) + 0.0:.3f}"
                for v in s], True
    if pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        vals = s.astype(float).to_numpy()
        fin = np.isfinite(vals)
        cells = ["Inf" if np.isinf(v) and v > 0 else "NA" for v in vals]
        if fin.any():
            txt = [t.strip() for t in format_r(vals[fin].tolist(), digits=3)]
            for i, t in zip(np.flatnonzero(fin), txt):
                cells[i] = t
        if name == "df":
            cells = ["nonEst" if c == "NA" else c for c in cells]
        return cells, True
    return [str(v) for v in s], False


def _cells(df: pd.DataFrame, right_cols=()) -> list[tuple[str, list[str], bool]]:
    """(R header, formatted cells, right-aligned) per column, formatted over all rows."""
    out = []
    for c, h in zip(df.columns, _r_names(df)):
        s = df[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and c not in ("p_value", "statistic"):
            s = pd.Series(_zap(s.astype(float).to_numpy()), index=s.index)
        cells, right = _column(c, s)
        out.append((h, cells, right or c in right_cols))
    return out


def _zap(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: tiny values next to large ones print as 0."""
    fin = np.isfinite(x)
    if not fin.any():
        return x
    mx = float(np.max(np.abs(x[fin])))
    if mx == 0:
        return x
    d = max(0, digits - int(np.ceil(np.log10(mx))))
    return np.where(fin, np.round(x, d), x)


def _lines(cols, rows) -> list[str]:
    out = []
    widths = [max([len(h)] + [len(x) for x in cells]) for h, cells, _ in cols]
    head = [(h.rjust(w) if r else h.ljust(w)) for (h, _, r), w in zip(cols, widths)]
    out.append(" " + " ".join(head))
    for i in rows:
        out.append(" " + " ".join((cells[i].rjust(w) if r else cells[i].ljust(w))
                                  for (_, cells, r), w in zip(cols, widths)))
    return out


def render_table(df: pd.DataFrame) -> list[str]:
    """Lines of one table, R's ``print.data.frame(row.names = FALSE)`` layout.

    Examples
    --------
    >>> t = pd.DataFrame({"recipe": ["A", "B"], "emmean": [33.12, 31.64]})
    >>> render_table(t)
    [' recipe emmean', ' A        33.1', ' B        31.6']
    """
    return _lines(_cells(df), range(len(df)))


def render(df: pd.DataFrame, by: list[str], footer: list[str], right_cols=()) -> str:
    """The whole print-out: per-``by`` tables, then the footer lines.

    Examples
    --------
    >>> t = pd.DataFrame({"recipe": ["A", "B"], "emmean": [33.12, 31.64]})
    >>> print(render(t, [], ["Confidence level used: 0.95"]))
     recipe emmean
     A        33.1
     B        31.6
    <BLANKLINE>
    Confidence level used: 0.95
    """
    lines: list[str] = []
    by = [b for b in by if b in df.columns]
    if by:
        keys = df[by].astype(str).agg("\x00".join, axis=1).to_numpy()
        cols = _cells(df.drop(columns=by).reset_index(drop=True), right_cols)
        for key in dict.fromkeys(keys):
            vals = key.split("\x00")
            lines.append(", ".join(f"{b} = {v}" for b, v in zip(by, vals)) + ":")
            lines.extend(_lines(cols, np.flatnonzero(keys == key)))
            lines.append("")
    else:
        lines.extend(_lines(_cells(df, right_cols), range(len(df))))
        lines.append("")
    if footer:
        lines.extend(footer)
    elif lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
