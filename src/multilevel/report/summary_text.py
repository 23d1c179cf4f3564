"""Text layouts of R's model summaries.

:func:`render_lmer_summary` reproduces lme4's ``print.summary.merMod``
(and lmerTest's Satterthwaite variant) and :func:`render_lm_summary`
reproduces stats' ``print.summary.lm``, line for line, from the plain data
classes in :mod:`multilevel.report.summary_data`.

The ``digits`` argument of both renderers is R's ``options(digits = )``
value (7 by default). Both R methods print with
``digits = max(3, getOption("digits") - 3)`` internally, and some pieces
(the AIC table, correlations, ``cat`` of numbers) use the option itself;
the renderers apply those rules.

The returned text is what ``paste(capture.output(print(summary(fit))),
collapse = "\\n")`` gives in R with ``options(width = 80)``: lines joined by
newlines, without a final newline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..options import get_option
from .rformat import (
    DBL_EPS,
    SIGNIF_LEGEND,
    abbreviate,
    cat_fill,
    format_num,
    format_pval,
    format_r,
    formatc,
    print_char_matrix,
    print_named_vector,
    pvalue_column,
    reformat_false_zeros,
    round_r,
    signif_r,
    strwrap,
    zapsmall,
)
from .summary_data import CoefTable, LmerSummaryData, LmSummaryData, VarCorrBlock

__all__ = ["render_lmer_summary", "render_lm_summary", "print_coefmat", "COR_MAX"]

COR_MAX = 12
"""``getOption("lme4.summary.cor.max")``: largest p whose correlation is shown."""

_QUANTILE_NAMES = ["Min", "1Q", "Median", "3Q", "Max"]


# ----------------------------------------------------------------------------
# stats::printCoefmat
# ----------------------------------------------------------------------------


def print_coefmat(
    rownames: Sequence[str],
    colnames: Sequence[str],
    columns: Sequence[Sequence[float]],
    *,
    digits: int,
    has_pvalue: bool = False,
    signif_stars_show: bool = True,
    eps_pvalue: float = DBL_EPS,
    na_print: str = "NA",
) -> list[str]:
    """R's ``printCoefmat`` with default ``cs.ind``/``tst.ind``.

    The columns before the statistic (estimate, standard error and any
    others, e.g. lmerTest's ``df``) are rounded and formatted together; the
    statistic is rounded to ``dig.tst = max(1, min(5, digits - 1))``
    decimals and formatted with ``digits``; p-values go through
    :func:`format_pval` with ``dig.tst`` digits, followed by stars and the
    significance legend when any p-value is below 0.1.

    Parameters
    ----------
    rownames, colnames : sequence of str
        Row and column labels.
    columns : sequence of arrays
        The table's columns (the last one holds p-values when
        ``has_pvalue``).
    digits : int
        ``digits`` passed to ``printCoefmat``.
    has_pvalue : bool
        Whether the last column holds p-values.
    signif_stars_show : bool
        ``signif.stars``.

    Returns
    -------
    list of str
        Printed lines (no trailing newline).

    Examples
    --------
    >>> lines = print_coefmat(["(Intercept)"], ["Estimate", "Std. Error", "t value"],
    ...                       [[1527.5], [17.69], [86.33]], digits=4)
    >>> lines[1]
    '(Intercept)  1527.50      17.69   86.33'
    """
    cols = [[math.nan if v is None else float(v) for v in c] for c in columns]
    nr = len(rownames)
    nc = len(cols)
    k = nc - int(has_pvalue) - 1
    cs_ind = list(range(k))
    tst = k
    cf: list[list[str]] = [[""] * nr for _ in range(nc)]
    dig_tst = max(1, min(5, digits - 1))

    coef_se = [cols[j][i] for j in cs_ind for i in range(nr)]
    acs = [abs(v) for v in coef_se if math.isfinite(v)]
    if acs:
        nz = [v for v in acs if v != 0]
        if nz:
            digmin = [1 + math.floor(math.log10(min(nz))), 1 + math.floor(math.log10(max(nz)))]
        else:
            digmin = [1, 1]
        rd = max(1, digits - digmin[0], digits - digmin[1])
        rounded = [round_r(v, rd) if math.isfinite(v) else v for v in coef_se]
        fmt = format_r(rounded, digits)
        for n, (j, i) in enumerate((j, i) for j in cs_ind for i in range(nr)):
            cf[j][i] = fmt[n]
    fmt_t = format_r([round_r(v, dig_tst) for v in cols[tst]], digits)
    cf[tst] = fmt_t

    # values that are non-zero but print as zero: reformat with fewer digits
    cells = [(j, i) for j in cs_ind for i in range(nr) if not math.isnan(cols[j][i])]
    reformat_false_zeros(cf, cols, cells, digits)
    for j in range(nc):
        for i in range(nr):
            if math.isnan(cols[j][i]):
                cf[j][i] = na_print

    out_cols = [list(c) for c in cf]
    headers = list(colnames)
    legend = has_pvalue and pvalue_column(out_cols, headers, cols[-1], digits=dig_tst,
                                          eps=eps_pvalue, stars=signif_stars_show)
    lines = print_char_matrix(rownames, headers, out_cols, right=True)
    if legend:
        lines.append("---")
        lines.append("Signif. codes:  " + SIGNIF_LEGEND)
    return lines


# ----------------------------------------------------------------------------
# lme4 pieces
# ----------------------------------------------------------------------------


def _method_title(d: LmerSummaryData) -> str:
    """lme4's ``methTitle`` plus lmerTest's suffix."""
    kind = "Generalized linear" if d.is_glmm else "Linear"
    if d.reml:
        crit = "REML"
    else:
        crit = "maximum likelihood " + (f"({d.glmm_approximation})" if d.is_glmm else "")
    title = f"{kind} mixed model fit by {crit}"
    if d.ddf_method:
        title += f". t-tests use {d.ddf_method}'s method"
    return title


def _prt_meth_title(title: str, cls: str) -> list[str]:
    """lme4's ``.prt.methTit``: wrap long titles at the console width."""
    width = get_option("width")
    if len(title) + 5 + len(cls) > width:
        pieces = strwrap(title, width - 2, exdent=2) + [" [", cls, "]"]
        return cat_fill(pieces, sep="")
    return [f"{title} ['{cls}']"]


def _prt_aictab(d: LmerSummaryData, opt_digits: int) -> list[str]:
    """lme4's ``.prt.aictab``: values rounded to one decimal."""
    a = d.aictab
    if a.is_reml:
        return ["REML criterion at convergence: " + format_num(round_r(a.reml, 1), opt_digits)]
    vals = [round_r(v, 1) for v in (a.aic, a.bic, a.loglik, a.deviance, a.df_resid)]
    strs = format_r(vals, opt_digits)
    strs[4] = format_r([vals[4]], opt_digits)[0]
    return print_named_vector(["AIC", "BIC", "logLik", "deviance", "df.resid"], strs)


def _prt_resids(q, digits: int, title: str = "Scaled residuals:") -> list[str]:
    """lme4's ``.prt.resids`` (``zapsmall`` to ``digits + 1``, print with ``digits``)."""
    vals = format_r(zapsmall(q, digits + 1), digits)
    return [title + " ", *print_named_vector(_QUANTILE_NAMES, vals)]


def _corr_cells(x: np.ndarray, dig: int, opt_digits: int) -> list[list[str]]:
    """``format(round(x, dig), nsmall = dig)`` of a square matrix, as rows."""
    x = np.asarray(x, dtype=float)
    k = x.shape[0]
    flat = [round_r(v, dig) for v in x.T.reshape(-1)]  # column-major like R
    fmt = format_r(flat, opt_digits, nsmall=dig)
    return [[fmt[j * k + i] for j in range(k)] for i in range(k)]


def _format_vc(
    blocks: tuple[VarCorrBlock, ...], residual_sd: float | None, digits: int, opt_digits: int
) -> list[str]:
    """lme4's ``formatVC`` printed with ``print(quote = FALSE)``."""
    groups: list[str] = []
    names: list[str] = []
    sds: list[float] = []
    lens = []
    for b in blocks:
        k = len(b.terms)
        lens.append(k)
        groups += [b.group] + [""] * (k - 1)
        names += list(b.terms)
        sds += [float(s) for s in b.stddev]
    if residual_sd is not None:
        groups.append("Residual")
        names.append("")
        sds.append(float(residual_sd))
    nr = len(sds)
    cols = [groups, names, format_r([s * s for s in sds], digits), format_r(sds, digits)]
    headers = ["Groups", "Name", "Variance", "Std.Dev."]
    # correlation columns a block needs: k - 1 (unstructured), 1 (cs, ar1: one parameter,
    # printed "0.67 (ar1)" on the block's first row, as glmmTMB), 0 (diag)
    need = [0 if k < 2 or b.structure == "diag" else 1 if b.structure in ("cs", "ar1")
            else k - 1 for b, k in zip(blocks, lens)]
    if need and max(need) > 0:
        maxlen = max(need) + 1
        dig = max(2, digits - 2)
        rows: list[list[str]] = []
        for b, k in zip(blocks, lens):
            if k > 1 and b.corr is not None and b.structure != "diag":
                cc = _corr_cells(b.corr, dig, opt_digits)
            else:
                cc = [[""] * k for _ in range(k)]
            for i in range(k):
                if b.structure in ("cs", "ar1", "diag"):
                    first = f"{cc[1][0]} ({b.structure})" if i == 0 and cc[1][0] else ""
                    row = [first] + [""] * (maxlen - 1)
                else:
                    row = [cc[i][j] if j < i else "" for j in range(k)] + [""] * (maxlen - k)
                rows.append(row[: maxlen - 1])
        while len(rows) < nr:
            rows.append([""] * (maxlen - 1))
        for j in range(maxlen - 1):
            cols.append([r[j] for r in rows])
            headers.append("Corr" if j == 0 else "")
    return ["Random effects:", *print_char_matrix([""] * nr, headers, cols, right=False)]


def _coef_columns(t: CoefTable) -> tuple[list[str], list, bool]:
    headers = ["Estimate", "Std. Error"]
    cols = [t.estimate, t.std_error]
    if t.df is not None:
        headers.append("df")
        cols.append(t.df)
    headers.append(t.statistic_name)
    cols.append(t.statistic)
    has_p = t.p_value is not None
    if has_p:
        headers.append(t.p_header)
        cols.append(t.p_value)
    return headers, cols, has_p


def _fixef_corr(names: tuple[str, ...], corr: np.ndarray, opt_digits: int) -> list[str]:
    p = len(names)
    rns = abbreviate(names, 11)
    cns = abbreviate(names, 6)
    cells = _corr_cells(corr, 3, opt_digits)
    cols = [[cells[i][j] if i > j else "" for i in range(1, p)] for j in range(p - 1)]
    return ["Correlation of Fixed Effects:", *print_char_matrix(rns[1:], cns[:-1], cols)]


def render_lmer_summary(d: LmerSummaryData, digits: int = 7) -> str:
    """Text of lme4's ``print(summary(fit))`` for an lmer or glmer fit.

    Parameters
    ----------
    d : LmerSummaryData
        What to show.
    digits : int
        R's ``options(digits = )``; the tables use
        ``max(3, digits - 3)`` significant digits, as lme4 does.

    Returns
    -------
    str
        The printed lines joined by ``"\\n"`` (no final newline).

    Examples
    --------
    >>> from multilevel.report.summary_data import AicTab, CoefTable, VarCorrBlock
    >>> d = LmerSummaryData(
    ...     reml=True, formula="Yield ~ 1 + (1 | Batch)", data_name="Dyestuff",
    ...     aictab=AicTab.reml_criterion(319.6543),
    ...     scaled_resid_quantiles=(-1.4117, -0.7634, 0.1418, 0.7792, 1.8296),
    ...     varcorr=(VarCorrBlock("Batch", ("(Intercept)",), (42.0001,)),),
    ...     residual_sd=49.5101, nobs=30, ngrps=(("Batch", 6),),
    ...     coefficients=CoefTable(("(Intercept)",), [1527.5], [19.3834], [78.8045]))
    >>> print(render_lmer_summary(d).splitlines()[0])
    Linear mixed model fit by REML ['lmerMod']
    """
    xd = max(3, digits - 3)
    out: list[str] = []
    out += _prt_meth_title(_method_title(d), d.class_name)
    if d.is_glmm:
        out.append(f" Family: {d.family}  ( {d.link} )")
    out.append(f"Formula: {d.formula}")
    if d.data_name is not None:
        from .._validate import printable

        out.append(f"   Data: {printable(d.data_name)}")  # one line, whatever the name holds
    out.append("")
    out += _prt_aictab(d, digits)
    out.append("")
    out += _prt_resids(d.scaled_resid_quantiles, xd)
    out.append("")
    out += _format_vc(d.varcorr, d.residual_sd, xd, digits)
    grps = "; ".join(f"{name}, {n}" for name, n in d.ngrps)
    out += cat_fill([f"Number of obs: {int(d.nobs)}, groups: ", grps])

    t = d.coefficients
    p = t.p
    if p > 0:
        out += ["", "Fixed effects:"]
        headers, cols, has_p = _coef_columns(t)
        out += print_coefmat(t.names, headers, cols, digits=xd, has_pvalue=has_p)
        if p > COR_MAX:
            out += [
                "",
                f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                "Use print(obj, correlation=TRUE)  or",
                "    vcov(obj)        if you need it",
                "",
            ]
        elif d.corr_fixef is not None and p > 1:
            out.append("")
            out += _fixef_corr(t.names, d.corr_fixef, digits)

    if d.messages:
        out += [*d.messages, ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# stats::print.summary.lm
# ----------------------------------------------------------------------------


def _cat_number(x: float, opt_digits: int) -> str:
    return format_num(x, opt_digits)


def render_lm_summary(d: LmSummaryData, digits: int = 7) -> str:
    """Text of R's ``print(summary(lm(...)))``.

    Parameters
    ----------
    d : LmSummaryData
        What to show.
    digits : int
        R's ``options(digits = )``; ``print.summary.lm`` uses
        ``max(3, digits - 3)``.

    Returns
    -------
    str
        The printed lines joined by ``"\\n"`` (no final newline).

    Examples
    --------
    >>> from multilevel.report.summary_data import CoefTable
    >>> d = LmSummaryData(
    ...     call="lm(formula = y ~ x, data = df)",
    ...     residuals=(-2.0, -0.5, 0.1, 0.6, 2.2),
    ...     coefficients=CoefTable(("(Intercept)", "x"), [1.0, 2.0], [0.1, 0.2],
    ...                            [10.0, 10.0], p_value=[1e-20, 1e-20]),
    ...     sigma=1.234, df_residual=98, rank=2, r_squared=0.5, adj_r_squared=0.49,
    ...     fstatistic=(100.0, 1.0, 98.0), f_p_value=1e-20)
    >>> print(render_lm_summary(d).splitlines()[-1])
    F-statistic: 100 on 1 and 98 DF,  p-value: < 2.2e-16
    """
    xd = max(3, digits - 3)
    out = ["", "Call:", d.call, ""]
    out.append(("Weighted " if d.weighted else "") + "Residuals:")
    rdf = int(d.df_residual)
    if rdf > 5:
        rq = zapsmall(list(d.residuals), xd + 1)
        out += print_named_vector(_QUANTILE_NAMES, format_r(rq, xd))
    elif rdf > 0:
        labels = d.residual_labels or tuple(str(i + 1) for i in range(len(d.residuals)))
        out += print_named_vector(list(labels), format_r(list(d.residuals), xd))
    else:
        out.append(
            f"ALL {d.rank} residuals are 0: no residual degrees of freedom!"
        )
    t = d.coefficients
    out.append("")
    if t.p == 0:
        out.append("No Coefficients")
    else:
        if d.n_singular:
            out.append(f"Coefficients: ({d.n_singular} not defined because of singularities)")
        else:
            out.append("Coefficients:")
        headers, cols, has_p = _coef_columns(t)
        out += print_coefmat(t.names, headers, cols, digits=xd, has_pvalue=has_p)
    out.append("")
    out.append(
        f"Residual standard error: {_cat_number(signif_r(d.sigma, xd), digits)} "
        f"on {rdf} degrees of freedom"
    )
    if d.n_deleted > 0:
        noun = "observation" if d.n_deleted == 1 else "observations"
        out.append(f"  ({d.n_deleted} {noun} deleted due to missingness)")
    if d.fstatistic is not None:
        fval, numdf, dendf = d.fstatistic
        out.append(
            f"Multiple R-squared:  {formatc(d.r_squared, xd)},\t"
            f"Adjusted R-squared:  {formatc(d.adj_r_squared, xd)} "
        )
        pv = d.f_p_value if d.f_p_value is not None else math.nan
        out.append(
            f"F-statistic: {formatc(fval, xd)} on {_cat_number(numdf, digits)} and "
            f"{_cat_number(dendf, digits)} DF,  p-value: {format_pval([pv], digits=xd)[0]}"
        )
    out.append("")
    return "\n".join(out)
