"""Plain data describing what an R-style model summary shows.

These frozen dataclasses are the contract between the fitted-model objects
(``results/``) and the text renderers in :mod:`multilevel.report.summary_text`.
They hold only plain Python values and numpy arrays -- never model objects --
so a summary can be built from any source (a fit, a reference JSON, a test).

All numbers are stored at full precision; rounding for display is done by
the renderer, following R's rules (``print.summary.merMod`` from lme4,
``print.summary.lm`` from stats, ``printCoefmat``, ``format.pval``).

Missing values (R's ``NA``) are written as ``float("nan")`` and printed as
``NA``.

Examples
--------
>>> from multilevel.report.summary_data import AicTab, VarCorrBlock
>>> AicTab.reml_criterion(319.65).reml
319.65
>>> VarCorrBlock("Batch", ("(Intercept)",), (42.0,)).variance
(1764.0,)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "AicTab",
    "VarCorrBlock",
    "CoefTable",
    "LmerSummaryData",
    "LmSummaryData",
]


@dataclass(frozen=True)
class AicTab:
    """Information criteria of a mixed model (lme4's ``summary(fit)$AICtab``).

    For an ML fit (lmer with ``REML=FALSE`` or any glmer) fill ``aic``,
    ``bic``, ``loglik``, ``deviance`` (printed ``deviance`` column, which is
    ``-2 * logLik``) and ``df_resid``; for a REML fit fill only ``reml``
    (the REML criterion at convergence).

    Attributes
    ----------
    aic, bic, loglik, deviance : float or None
        ML information criteria.
    df_resid : float or None
        Residual degrees of freedom, ``nobs - npar``.
    reml : float or None
        REML criterion; when set, the table prints as
        ``REML criterion at convergence: ...``.

    Examples
    --------
    >>> AicTab.ml(aic=333.3, bic=337.5, loglik=-163.7, deviance=327.3,
    ...           df_resid=27).is_reml
    False
    """

    aic: float | None = None
    bic: float | None = None
    loglik: float | None = None
    deviance: float | None = None
    df_resid: float | None = None
    reml: float | None = None

    @property
    def is_reml(self) -> bool:
        """True when this table holds the REML criterion only."""
        return self.reml is not None

    @classmethod
    def ml(
        cls, *, aic: float, bic: float, loglik: float, deviance: float, df_resid: float
    ) -> AicTab:
        """Table of an ML fit (``AIC BIC logLik deviance df.resid``)."""
        return cls(aic=aic, bic=bic, loglik=loglik, deviance=deviance, df_resid=df_resid)

    @classmethod
    def reml_criterion(cls, value: float) -> AicTab:
        """Table of a REML fit (``REML criterion at convergence``)."""
        return cls(reml=value)


@dataclass(frozen=True)
class VarCorrBlock:
    """One random-effects term (one grouping factor block) of ``VarCorr``.

    Attributes
    ----------
    group : str
        Grouping factor name as printed (``Subject``, ``cask:batch``,
        ``Subject.1`` for the second block of a ``||`` term).
    terms : tuple of str, length k
        Random-effect column names (``(Intercept)``, ``Days``).
    stddev : tuple of float, length k
        Standard deviations. Variances are printed as ``stddev ** 2``
        exactly as lme4's ``formatVC`` does.
    corr : ndarray of shape (k, k) or None
        Correlation matrix of the block; None (or ignored) when ``k == 1``.
    structure : str or None
        A covariance structure (lme4 2.0 / glmmTMB): ``"cs"`` and ``"ar1"`` print their one
        correlation parameter as ``0.67 (ar1)``, ``"diag"`` prints no correlations; None
        (unstructured) prints the lower triangle.

    Examples
    --------
    >>> b = VarCorrBlock("g", ("(Intercept)", "x"), (2.0, 1.0),
    ...                  np.array([[1.0, -0.5], [-0.5, 1.0]]))
    >>> b.variance
    (4.0, 1.0)
    """

    group: str
    terms: tuple[str, ...]
    stddev: tuple[float, ...]
    corr: np.ndarray | None = None
    structure: str | None = None

    @property
    def variance(self) -> tuple[float, ...]:
        """Variances, ``stddev ** 2``."""
        return tuple(float(s) ** 2 for s in self.stddev)


@dataclass(frozen=True)
class CoefTable:
    """A coefficient table as given to R's ``printCoefmat``.

    Rows are coefficients in R's order. Optional columns: ``df`` (lmerTest's
    Satterthwaite degrees of freedom, printed between ``Std. Error`` and the
    statistic) and ``p_value`` (printed with significance stars).

    Attributes
    ----------
    names : tuple of str, length p
        Coefficient names (``(Intercept)``, ``homework``).
    estimate, std_error, statistic : ndarray of shape (p,)
        Estimates, standard errors and test statistics. NaN prints ``NA``
        (e.g. an aliased ``lm`` coefficient).
    statistic_name : str
        ``"t value"`` or ``"z value"``.
    df : ndarray of shape (p,) or None
        Denominator degrees of freedom (column ``df``).
    p_value : ndarray of shape (p,) or None
        Two-sided p-values.
    p_value_name : str or None
        Column header; defaults to ``Pr(>|t|)`` / ``Pr(>|z|)`` matching
        ``statistic_name``.

    Examples
    --------
    >>> t = CoefTable(("(Intercept)",), [1.0], [0.5], [2.0])
    >>> t.p, t.p_header
    (1, 'Pr(>|t|)')
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    std_error: np.ndarray
    statistic: np.ndarray
    statistic_name: str = "t value"
    df: np.ndarray | None = None
    p_value: np.ndarray | None = None
    p_value_name: str | None = None

    def __post_init__(self) -> None:
        for name in ("estimate", "std_error", "statistic", "df", "p_value"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, np.asarray(value, dtype=float).reshape(-1))
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def p(self) -> int:
        """Number of coefficients (rows)."""
        return len(self.names)

    @property
    def p_header(self) -> str:
        """Header of the p-value column."""
        if self.p_value_name is not None:
            return self.p_value_name
        return "Pr(>|z|)" if self.statistic_name.startswith("z") else "Pr(>|t|)"


@dataclass(frozen=True)
class LmerSummaryData:
    """Everything ``print(summary(fit))`` shows for an lmer / glmer fit.

    Attributes
    ----------
    reml : bool
        REML fit (title ``... fit by REML``) or ML.
    formula : str
        Deparsed formula, printed as is after ``Formula:``.
    data_name : str or None
        Name printed after ``Data:``; the line is omitted when None.
    aictab : AicTab
        Information criteria (ML) or REML criterion.
    scaled_resid_quantiles : tuple of 5 float
        Min, 1Q, Median, 3Q, Max of the scaled (Pearson / sigma) residuals.
    varcorr : tuple of VarCorrBlock
        Random-effect blocks in lme4's order.
    residual_sd : float or None
        Residual standard deviation (``sigma``); None for GLMMs with a
        fixed scale (binomial, Poisson), which print no ``Residual`` row.
    nobs : int
        Number of observations.
    ngrps : tuple of (str, int)
        Grouping factors and their numbers of levels, in lme4's order (a
        dict is accepted and converted).
    coefficients : CoefTable
        Fixed effects. For glmer use ``statistic_name="z value"`` and give
        ``p_value``; for lmerTest give ``df`` and ``p_value``.
    corr_fixef : ndarray of shape (p, p) or None
        Correlation of the fixed effects; None suppresses that section
        (``summary(fit, correlation = FALSE)``).
    class_name : str
        Object class printed in the title: ``lmerMod``, ``glmerMod``,
        ``lmerModLmerTest``.
    family, link : str or None
        GLMM family and link (``binomial``, ``logit``); the ``Family:`` line
        is printed unless they are ``gaussian``/``identity`` or None.
    glmm_approximation : str
        Title suffix for GLMMs, inside the parentheses:
        ``Laplace Approximation`` (nAGQ = 1) or, as lme4 words it,
        ``Adaptive Gauss-Hermite Quadrature, nAGQ = 10``.
    ddf_method : str or None
        ``"Satterthwaite"`` for lmerTest's title ``. t-tests use
        Satterthwaite's method``; None for plain lme4.
    optimizer : str or None
        Optimizer name used in ``optimizer (nloptwrap) convergence code``.
    conv_code : int
        Optimizer return code (0 = OK).
    conv_messages : tuple of str
        lme4 convergence messages (``optinfo$conv$lme4$messages``), e.g.
        ``boundary (singular) fit: see help('isSingular')``.
    optimizer_warnings : tuple of str
        Optimizer warnings (``optinfo$warnings``).

    Notes
    -----
    As in lme4's ``.prt.warn``, the final block
    ``optimizer (<name>) convergence code: <code> (OK|failure)`` followed by
    the messages and warnings is printed only when ``conv_code != 0`` or
    there is at least one message or warning.
    """

    reml: bool
    formula: str
    data_name: str | None
    aictab: AicTab
    scaled_resid_quantiles: tuple[float, ...]
    varcorr: tuple[VarCorrBlock, ...]
    residual_sd: float | None
    nobs: int
    ngrps: tuple[tuple[str, int], ...]
    coefficients: CoefTable
    corr_fixef: np.ndarray | None = None
    class_name: str = "lmerMod"
    family: str | None = None
    link: str | None = None
    glmm_approximation: str = "Laplace Approximation"
    ddf_method: str | None = None
    optimizer: str | None = "nloptwrap"
    conv_code: int = 0
    conv_messages: tuple[str, ...] = field(default_factory=tuple)
    optimizer_warnings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        ngrps = self.ngrps.items() if isinstance(self.ngrps, dict) else self.ngrps
        object.__setattr__(self, "ngrps", tuple((str(g), int(n)) for g, n in ngrps))
        object.__setattr__(self, "varcorr", tuple(self.varcorr))
        q = tuple(float(v) for v in self.scaled_resid_quantiles)
        object.__setattr__(self, "scaled_resid_quantiles", q)
        if self.corr_fixef is not None:
            object.__setattr__(self, "corr_fixef", np.asarray(self.corr_fixef, dtype=float))
        for name in ("conv_messages", "optimizer_warnings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def messages(self) -> tuple[str, ...]:
        """Lines lme4's ``.prt.warn`` prints at the end (empty when all is well).

        Examples
        --------
        >>> from multilevel.report.summary_data import AicTab, CoefTable
        >>> d = LmerSummaryData(True, "y ~ 1 + (1 | g)", None, AicTab.reml_criterion(1.0),
        ...     (0.0,) * 5, (), 1.0, 10, (("g", 2),), CoefTable((), [], [], []),
        ...     conv_messages=("boundary (singular) fit: see help('isSingular')",))
        >>> d.messages[0]
        'optimizer (nloptwrap) convergence code: 0 (OK)'
        """
        if self.conv_code == 0 and not self.conv_messages and not self.optimizer_warnings:
            return ()
        status = "OK" if self.conv_code == 0 else "failure"
        head = f"optimizer ({self.optimizer}) convergence code: {self.conv_code} ({status})"
        return (head, *self.conv_messages, *self.optimizer_warnings)

    @property
    def is_glmm(self) -> bool:
        """True for a generalized (non-Gaussian or non-identity) model."""
        return self.family is not None and (self.family, self.link) != ("gaussian", "identity")


@dataclass(frozen=True)
class LmSummaryData:
    """Everything ``print(summary(lm(...)))`` shows.

    Attributes
    ----------
    call : str
        Deparsed call, e.g. ``lm(formula = math ~ homework, data = imm10)``.
    residuals : tuple of float
        Either the 5 quantiles (Min, 1Q, Median, 3Q, Max; used when
        ``df_residual > 5``) or all residuals (printed when
        ``0 < df_residual <= 5``, labelled with ``residual_labels``).
    coefficients : CoefTable
        All coefficients in R's order, aliased ones with NaN entries
        (printed ``NA``); needs ``p_value``.
    sigma : float
        Residual standard error.
    df_residual : int
        Residual degrees of freedom.
    rank : int
        Rank of the model matrix; ``n_coef - rank`` coefficients are
        reported as "not defined because of singularities".
    r_squared, adj_r_squared : float or None
        Multiple and adjusted R-squared (None when there is no F statistic,
        e.g. an intercept-only model).
    fstatistic : tuple of (value, numdf, dendf) or None
        Overall F statistic.
    f_p_value : float or None
        Upper-tail p-value of the F statistic.
    n_deleted : int
        Observations dropped for missingness (``na.omit``); printed as
        ``(n observations deleted due to missingness)`` when positive.
    residual_labels : tuple of str or None
        Names of all residuals (row names), when ``residuals`` holds them all.
    weighted : bool
        Prints ``Weighted Residuals:`` when True.
    """

    call: str
    residuals: tuple[float, ...]
    coefficients: CoefTable
    sigma: float
    df_residual: int
    rank: int
    r_squared: float | None = None
    adj_r_squared: float | None = None
    fstatistic: tuple[float, float, float] | None = None
    f_p_value: float | None = None
    n_deleted: int = 0
    residual_labels: tuple[str, ...] | None = None
    weighted: bool = False

    @property
    def n_singular(self) -> int:
        """Number of coefficients not defined because of singularities."""
        return self.coefficients.p - self.rank
