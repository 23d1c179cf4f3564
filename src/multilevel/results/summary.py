"""Build the data of a model summary from a fitted model (rendering lives in ``report/``)."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from ..report.summary_data import AicTab, CoefTable, LmerSummaryData, LmSummaryData, VarCorrBlock
from .names import make_unique


@dataclass(frozen=True)
class Summary:
    """A model summary: data plus R's layout. ``str(s)`` prints it as R does.

    Attributes
    ----------
    data : LmerSummaryData or LmSummaryData
    digits : int or None -- R's ``options(digits=)`` the text is printed under (None: the
        current ``ml.options(digits=)``, read when the text is made)
    notes : tuple of str -- lines appended after R's layout (rows removed for NA, ...)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> print(str(m.summary()).splitlines()[0])
    Linear mixed model fit by REML ['lmerMod']
    """

    data: object
    digits: int | None = None

    def __post_init__(self):
        if self.digits is not None:
            from .._validate import check_int

            check_int(self.digits, "digits", minimum=1, maximum=22)
    notes: tuple = ()

    def __str__(self) -> str:
        from ..options import resolve_digits
        from ..report.summary_text import render_lm_summary, render_lmer_summary

        digits = resolve_digits(self.digits)
        if isinstance(self.data, LmSummaryData):
            text = render_lm_summary(self.data, digits=digits)
        else:
            text = render_lmer_summary(self.data, digits=digits)
        if self.notes:
            text = text.rstrip("\n") + "\n" + "\n".join(self.notes) + "\n"
        return text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre class='multilevel-summary'>{html.escape(str(self))}</pre>"


def _quantiles(x: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(x, [0.0, 0.25, 0.5, 0.75, 1.0]))


def _na_note(n: int) -> tuple:
    if n <= 0:
        return ()
    s = "observation" if n == 1 else "observations"
    return (f"({n} {s} deleted due to missingness)",)


def _deparse(formula: str) -> str:
    try:
        from ..formula import deparse_lme4
    except ImportError:  # pragma: no cover
        return formula
    return deparse_lme4(formula)


def lmer_summary_data(m, coefficients: CoefTable | None = None,
                      ddf_method: str | None = None) -> LmerSummaryData:
    """Everything lme4's ``print(summary(m))`` shows, from an :class:`LmerResult`."""
    blocks = []
    grps = make_unique([t.group for t in m.terms])
    structures = m.theta_map.structures
    for grp, t, S, st in zip(grps, m.terms, m._term_covariances(), structures):
        sd = np.sqrt(np.diag(S))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = S / np.outer(sd, sd) if t.p > 1 else None
        if st.correlation(S) is not None:  # cs(), ar1(): the structure's rho
            corr = st.correlation(S)
        blocks.append(VarCorrBlock(grp, tuple(t.cnames), tuple(float(s) for s in sd), corr,
                                   st.label))
    if m.reml:
        aictab = AicTab.reml_criterion(m.reml_crit)
    else:
        aictab = AicTab.ml(aic=m.aic, bic=m.bic, loglik=m.loglik, deviance=-2 * m.loglik,
                           df_resid=m.df_resid)
    if coefficients is None:
        se = np.sqrt(np.diag(m.vcov.to_numpy()))
        coefficients = CoefTable(tuple(m.fixef.index), m.fixef.to_numpy(), se,
                                 m.fixef.to_numpy() / se)
    V = m.vcov.to_numpy()
    d = np.sqrt(np.diag(V))
    corr = V / np.outer(d, d) if V.size else None
    return LmerSummaryData(
        reml=m.reml, formula=_deparse(m.formula), data_name=m.data_name, aictab=aictab,
        scaled_resid_quantiles=_quantiles(m.residuals("pearson", scaled=True).to_numpy()),
        varcorr=tuple(blocks), residual_sd=m.sigma, nobs=m.nobs,
        ngrps=tuple((str(k), int(v)) for k, v in m.ngrps.items()),
        coefficients=coefficients, corr_fixef=corr,
        class_name="lmerModLmerTest" if ddf_method else "lmerMod", ddf_method=ddf_method,
        conv_messages=tuple(m.messages))


def lmer_summary(m, digits: int | None = None, **kw) -> Summary:
    notes = list(_na_note(m.design.n_dropped))
    if m.design.dropped_columns:
        k = len(m.design.dropped_columns)
        notes.insert(0, f"fixed-effect model matrix is rank deficient so dropping {k} "
                        f"column{'s' if k > 1 else ''} / coefficient{'s' if k > 1 else ''}")
    return Summary(lmer_summary_data(m, **kw), digits=digits, notes=tuple(notes))


def lm_summary(m, digits: int | None = None) -> Summary:
    """R's ``print(summary(lm))`` for an :class:`LmResult`."""
    tab = m.coef_table()
    names = list(tab.index)
    est, se, t, p = (tab[c].to_numpy() for c in ("estimate", "std_error", "statistic", "p_value"))
    if m.aliased:  # R lists aliased coefficients in place, as NA
        full = list(m.design.xnames)
        pos = {n: i for i, n in enumerate(names)}
        pick = lambda v: np.array([v[pos[n]] if n in pos else np.nan for n in full])  # noqa: E731
        est, se, t, p, names = pick(est), pick(se), pick(t), pick(p), full
    coefs = CoefTable(tuple(names), est, se, t, p_value=p)
    resid = m.residuals().to_numpy()
    df_res = m.df_resid
    if df_res > 5:
        res, labels = _quantiles(resid), None
    else:
        res, labels = tuple(float(r) for r in resid), tuple(str(i + 1) for i in m.design.rows)
    f = m.fstatistic
    has_f = f[1] > 0
    from scipy import stats

    from .._validate import printable

    call = f"lm(formula = {m.formula}" + (f", data = {printable(m.data_name)})" if m.data_name
                                          else ")")
    data = LmSummaryData(
        call=call, residuals=res, coefficients=coefs, sigma=m.sigma, df_residual=df_res,
        rank=m.rank, r_squared=m.r_squared if has_f else None,
        adj_r_squared=m.adj_r_squared if has_f else None,
        fstatistic=(f[0], float(f[1]), float(f[2])) if has_f else None,
        f_p_value=float(stats.f.sf(f[0], f[1], f[2])) if has_f else None,
        n_deleted=m.design.n_dropped, residual_labels=labels)
    return Summary(data, digits=digits)
