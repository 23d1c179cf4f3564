"""Tables that are pandas DataFrames and print as R prints them.

``ml.anova(m3, m4)``, ``m.anova()``, ``m.varcorr`` and ``m.tidy()`` return DataFrames (index,
columns and values as before; ``.frame`` gives a plain :class:`pandas.DataFrame`), whose
``print`` is R's, whole and never truncated, under :func:`multilevel.options`:

* :class:`AnovaTable`: R's ``print.anova`` (the heading, e.g. lme4's ``Data: ... Models: ...``,
  then ``printCoefmat`` of the table with ``digits = max(getOption("digits") - 2, 3)`` and the
  significance legend);
* :class:`VarCorrTable`: lme4's ``print(VarCorr(m))`` (``Groups Name Std.Dev. Corr``) for the
  frame of ``as.data.frame(VarCorr(m))``;
* :class:`RDataFrame`: R's ``print.data.frame`` (each numeric column formatted with
  ``getOption("digits")`` significant digits), under a ``# A tibble: n x k`` line as broom's
  tables print.

Operations on these tables (selection, arithmetic, ``copy``) return plain DataFrames.

Examples
--------
>>> import pandas as pd
>>> t = AnovaTable(pd.DataFrame({"Df": [1], "F value": [71.46], "Pr(>F)": [9.9e-15]},
...                             index=["Days"]))
>>> print(t)  # doctest: +NORMALIZE_WHITESPACE
     Df F value    Pr(>F)
Days  1   71.46 9.9e-15 ***
---
Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1
>>> type(t.frame).__name__, float(t["F value"].iloc[0])
('DataFrame', 71.46)
"""
from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd

from ..options import get_option
from .rformat import (DBL_EPS, SIGNIF_LEGEND, format_r, print_char_matrix, pvalue_column,
                      reformat_false_zeros, round_r, zapsmall)

__all__ = ["RFrame", "AnovaTable", "VarCorrTable", "RDataFrame", "render_anova",
           "render_varcorr", "render_data_frame"]


class RFrame(pd.DataFrame):
    """A DataFrame whose ``str``/``repr`` is R's printout (subclasses define ``to_text``)."""

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a plain :class:`pandas.DataFrame` (a copy, ``attrs`` included)."""
        out = pd.DataFrame(self, copy=True)
        out.attrs = dict(self.attrs)
        return out

    def to_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return f"<pre class='multilevel-table'>{html.escape(self.to_text())}</pre>"


def _wrap(cls, frame: pd.DataFrame):
    out = cls(frame)
    out.attrs = dict(frame.attrs)
    return out


# ----------------------------------------------------------------------------
# print.anova
# ----------------------------------------------------------------------------


def _format_column(values, digits: int) -> list[str]:
    """R's ``format()`` of one column: integer columns as integers, doubles with ``digits``."""
    if getattr(values, "dtype", np.dtype(float)).kind in "iu":
        return [str(int(v)) for v in values]
    return format_r(np.asarray(values, dtype=float), digits)


def render_anova(frame: pd.DataFrame, digits: int | None = None) -> str:
    """Text of R's ``print.anova`` for an anova table (heading from ``attrs["heading"]``).

    Parameters
    ----------
    frame : DataFrame
        The table; a last column named ``Pr(...)`` holds p-values.
    digits : int, optional
        ``digits`` of ``print.anova``; default ``max(getOption("digits") - 2, 3)``.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"Res.Df": [179, 178], "RSS": [567954.1, 405252.3]}, index=["1", "2"])
    >>> print(render_anova(f))
      Res.Df    RSS
    1    179 567954
    2    178 405252
    """
    if digits is None:
        digits = max(get_option("digits") - 2, 3)
    cn = [str(c) for c in frame.columns]
    nc = len(cn)
    nr = len(frame)
    has_p = nc > 0 and re.match(r"^(P|Pr)\(", cn[-1]) is not None
    zap = list(range(nc - 1 if has_p else nc))
    tst = [j for j, c in enumerate(cn) if c[1:7] == " value"]
    tst += [j for j, c in enumerate(cn) if c in ("F", "Cp", "Chisq")]
    zap = [j for j in zap if j not in tst]
    zap = [j for j in zap if not cn[j].endswith("Df")]
    cols = [frame.iloc[:, j] for j in range(nc)]
    xm = [np.asarray(c, dtype=float) for c in cols]
    for j in zap:
        xm[j] = np.asarray(zapsmall(list(xm[j]), digits), dtype=float)
    cf: list[list[str]] = [[""] * nr for _ in range(nc)]
    dig_tst = max(1, min(5, digits - 1))
    for j in tst:
        cf[j] = format_r([round_r(v, dig_tst) for v in xm[j]], digits)
    for j in range(nc):
        if j in tst or (has_p and j == nc - 1):
            continue
        if getattr(cols[j], "dtype", np.dtype(float)).kind in "iu":
            cf[j] = _format_column(cols[j], digits)
        else:
            cf[j] = format_r(list(xm[j]), digits)
    # cells that are non-zero but print as zero get fewer digits (printCoefmat)
    ok_cells = [(j, i) for j in range(nc - int(has_p)) if j not in tst for i in range(nr)
                if not math.isnan(xm[j][i])]
    reformat_false_zeros(cf, xm, ok_cells, digits)
    for j in range(nc):
        for i in range(nr):
            if math.isnan(xm[j][i]):
                cf[j][i] = ""
    headers = list(cn)
    legend = has_p and pvalue_column(cf, headers, xm[-1], digits=dig_tst, eps=DBL_EPS)
    lines = []
    heading = frame.attrs.get("heading")
    if heading:
        lines += str(heading).split("\n")
    lines += print_char_matrix([str(r) for r in frame.index], headers, cf, right=True)
    if legend:
        lines += ["---", "Signif. codes:  " + SIGNIF_LEGEND]
    return "\n".join(lines)


class AnovaTable(RFrame):
    """An anova table (a DataFrame) that prints as R's ``print.anova``.

    ``attrs["heading"]`` holds the lines printed above the table (lme4's ``Data:`` and
    ``Models:``, lmerTest's title); ``.frame`` is the plain DataFrame.

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m0 = ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)
    >>> m1 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    >>> print(str(ml.anova(m0, m1)).splitlines()[1])
    Models:
    """

    def to_text(self) -> str:
        """The printout (R's ``print(anova(...))``)."""
        return render_anova(self)


def as_anova_table(frame: pd.DataFrame) -> AnovaTable:
    """Wrap an anova DataFrame so that it prints as R does (values and ``attrs`` kept).

    Examples
    --------
    >>> import pandas as pd
    >>> type(as_anova_table(pd.DataFrame({"Df": [1]}))).__name__
    'AnovaTable'
    """
    if isinstance(frame, AnovaTable):
        return frame
    return _wrap(AnovaTable, frame)


# ----------------------------------------------------------------------------
# print(VarCorr(m))
# ----------------------------------------------------------------------------


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def render_varcorr(frame: pd.DataFrame, digits: int | None = None,
                   comp: tuple[str, ...] = ("Std.Dev.",)) -> str:
    """lme4's ``print(VarCorr(m), comp=)`` from the frame of ``as.data.frame(VarCorr(m))``.

    Parameters
    ----------
    frame : DataFrame
        Columns ``grp, var1, var2, vcov, sdcor`` (``m.varcorr``).
    digits : int, optional
        Default ``max(3, getOption("digits") - 2)``, as lme4's print method.
    comp : tuple of str
        ``("Std.Dev.",)`` (lme4's default), ``("Variance",)`` or both.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"grp": ["Batch", "Residual"], "var1": ["(Intercept)", None],
    ...                   "var2": [None, None], "vcov": [1764.0, 2451.25],
    ...                   "sdcor": [42.0, 49.51]})
    >>> print(render_varcorr(f))
     Groups   Name        Std.Dev.
     Batch    (Intercept) 42.00   
     Residual             49.51   
    """
    from .summary_text import _corr_cells

    opt = get_option("digits")
    if digits is None:
        digits = max(3, opt - 2)
    blocks: list[tuple[str, list[str], list[float], dict]] = []
    for grp, var1, var2, vcov, sdcor in frame[["grp", "var1", "var2", "vcov", "sdcor"]] \
            .itertuples(index=False):
        if not blocks or blocks[-1][0] != grp:
            blocks.append((grp, [], [], {}))
        _, names, sds, corr = blocks[-1]
        if _blank(var2):
            names.append("" if _blank(var1) else str(var1))
            sds.append(float(sdcor))
        else:
            corr[(str(var1), str(var2))] = float(sdcor)
    groups, names_col, sd_all = [], [], []
    lens = []
    for grp, names, sds, _ in blocks:
        groups += [str(grp)] + [""] * (len(names) - 1)
        names_col += names
        sd_all += sds
        lens.append(len(names))
    nr = len(sd_all)
    cols = [groups, names_col]
    headers = ["Groups", "Name"]
    if "Variance" in comp:
        cols.append(format_r([s * s for s in sd_all], digits))
        headers.append("Variance")
    if "Std.Dev." in comp:
        cols.append(format_r(sd_all, digits))
        headers.append("Std.Dev.")
    maxlen = max(lens) if lens else 0
    if maxlen > 1:
        dig = max(2, digits - 2)
        rows = []
        for (grp, names, sds, corr), k in zip(blocks, lens):
            if k > 1:
                mat = np.eye(k)
                for a in range(k):
                    for b in range(k):
                        if (names[a], names[b]) in corr:
                            mat[a, b] = mat[b, a] = corr[(names[a], names[b])]
                cc = _corr_cells(mat, dig, opt)
            else:
                cc = [["1"]]
            for i in range(k):
                row = [cc[i][j] if j < i else "" for j in range(k)] + [""] * (maxlen - k)
                rows.append(row[: maxlen - 1])
        for j in range(maxlen - 1):
            cols.append([r[j] for r in rows])
            headers.append("Corr" if j == 0 else "")
    return "\n".join(print_char_matrix([""] * nr, headers, cols, right=False))


class VarCorrTable(RFrame):
    """``as.data.frame(VarCorr(m))`` (columns ``grp, var1, var2, vcov, sdcor``) that prints as
    lme4's ``print(VarCorr(m))``; ``.frame`` is the plain DataFrame and
    :meth:`to_text` takes ``comp=("Variance", "Std.Dev.")`` for both columns.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> print(m.varcorr)
     Groups   Name        Std.Dev.
     Batch    (Intercept) 42.001  
     Residual             49.510  
    >>> m.varcorr["vcov"].round(0).tolist()
    [1764.0, 2451.0]
    """

    def to_text(self, comp: tuple[str, ...] = ("Std.Dev.",), digits: int | None = None) -> str:
        """The printout; ``comp`` as lme4's (``"Variance"``, ``"Std.Dev."``)."""
        return render_varcorr(self, digits=digits, comp=tuple(comp))


# ----------------------------------------------------------------------------
# print.data.frame
# ----------------------------------------------------------------------------


def _cells(col: pd.Series, digits: int) -> tuple[list[str], bool]:
    """One column as R's ``format.data.frame`` formats it; (cells, right-justified)."""
    if pd.api.types.is_bool_dtype(col):
        return [("NA" if pd.isna(v) else ("TRUE" if v else "FALSE")) for v in col], True
    if pd.api.types.is_integer_dtype(col):
        return [("NA" if pd.isna(v) else str(int(v))) for v in col], True
    if pd.api.types.is_numeric_dtype(col):
        return [s.strip() for s in format_r(col.astype(float).tolist(), digits)], True
    return [("<NA>" if _blank(v) else str(v)) for v in col], True


def render_data_frame(frame: pd.DataFrame, digits: int | None = None,
                      header: str | None = None) -> str:
    """R's ``print.data.frame`` of the whole frame (row names 1, 2, ... unless labelled).

    Examples
    --------
    >>> import pandas as pd
    >>> print(render_data_frame(pd.DataFrame({"term": ["a", "b"], "estimate": [1.5, -22.25]})))
      term estimate
    1    a     1.50
    2    b   -22.25
    """
    if digits is None:
        digits = get_option("digits")
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 \
            and frame.index.step == 1:
        rows = [str(i + 1) for i in range(len(frame))]
    else:
        rows = [str(r) for r in frame.index]
    cols = []
    for name in frame.columns:
        cells, _ = _cells(frame[name], digits)
        cols.append(cells)
    lines = [header] if header else []
    lines += print_char_matrix(rows, [str(c) for c in frame.columns], cols, right=True)
    return "\n".join(lines)


class RDataFrame(RFrame):
    """A broom-style table (``m.tidy()``, ``m.glance()``) printed whole, as R prints a
    data frame, under a ``# A tibble: rows x columns`` line.

    Examples
    --------
    >>> import multilevel as ml
    >>> t = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).tidy()
    >>> str(t).splitlines()[0]
    '# A tibble: 2 × 7'
    """

    def to_text(self) -> str:
        """The printout: every row and column."""
        nr, nc = self.shape
        return render_data_frame(self, header=f"# A tibble: {nr} \u00d7 {nc}")


def as_r_data_frame(frame: pd.DataFrame) -> RDataFrame:
    """Wrap a DataFrame so that it prints whole, as R does (values and ``attrs`` kept).

    Examples
    --------
    >>> import pandas as pd
    >>> type(as_r_data_frame(pd.DataFrame({"a": [1]}))).__name__
    'RDataFrame'
    """
    return _wrap(RDataFrame, frame)
