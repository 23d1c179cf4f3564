"""The fitted linear mixed model: lme4's accessors, as labelled pandas objects."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..core.lmm import LmmProblem, LmmSolution
from ..core.optimize import OptSummary
from ..design.types import Design, ReTerm
from .mixed import MixedResultBase
from .operations import operation
from .names import label_index, make_unique

LOG2PI = float(np.log(2.0 * np.pi))


class LmerResult(MixedResultBase):
    """A linear mixed model fitted by :func:`multilevel.lmer` (lme4's ``lmerMod``).

    Cheap values are properties; anything with options is a method. Outputs carry R's labels.

    Attributes
    ----------
    fixef : Series                 -- fixed effects (``fixef(m)``)
    vcov : DataFrame               -- their covariance (``vcov(m)``)
    sigma : float                  -- residual standard deviation
    theta : Series                 -- relative covariance parameters, lme4's names
    varcorr : DataFrame            -- ``as.data.frame(VarCorr(m))``
    loglik, aic, bic, deviance, reml_crit : float
    nobs : int; ngrps : Series; df_resid : int; is_singular : bool
    opt_summary : OptSummary

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> m.fixef.round(3).to_dict()
    {'(Intercept)': 251.405, 'Days': 10.467}
    """

    kind = "lmer"

    def __init__(self, *, design: Design, terms: list[ReTerm], problem: LmmProblem,
                 opt: OptSummary, data_name: str | None, singular: bool,
                 weights: np.ndarray | None = None, theta_map=None):
        if theta_map is not None:  # the fit's own ThetaMap of these terms: not made again
            self.__dict__["theta_map"] = theta_map
        self.design = design
        self.weights = weights
        self.terms = terms
        self.problem = problem
        self.opt_summary = opt
        self.data_name = data_name
        self.reml = problem.reml
        self.is_singular = singular

    @cached_property
    def _sol(self) -> LmmSolution:
        """Fixed effects, random effects and scale at the optimum (``problem.solve``),
        computed when first read, under the fit's BLAS thread setting
        (:func:`~multilevel.core.threads.blas_threads_for`): a fit whose estimates are never
        read (a refit for a test statistic, a loop of fits timed) does not pay for them."""
        from ..core.threads import blas_threads_for, largest_dense_block

        with blas_threads_for(largest_dense_block(self.problem.A)):
            return self.problem.solve(self.theta_map.theta(self.opt_summary.theta))

    # ----- parameters -------------------------------------------------------------------
    @property
    def formula(self) -> str:
        return self.design.formula

    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._sol.beta, index=label_index(self.design.xnames), name="fixef")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self._sol.vcov_beta, index=label_index(self.design.xnames),
                            columns=label_index(self.design.xnames))

    @property
    def sigma(self) -> float:
        return self._sol.sigma

    @property
    def _theta_hat(self) -> np.ndarray:
        return self._sol.theta


    # ----- random effects -----------------------------------------------------------------
    @property
    def _b(self) -> list[np.ndarray]:
        return self._sol.b

    @cached_property
    def _cond_var(self) -> list[np.ndarray]:
        return self.problem.cond_var(self._sol.theta, self.sigma)

    def cond_cov(self) -> dict[str, np.ndarray]:
        """Per term (keyed by ``group`` with a ``.k`` suffix for repeats) the conditional
        covariance blocks, shape ``(n_levels, p, p)`` (lme4's ``postVar`` array, transposed)."""
        names = make_unique([t.group for t in self.terms])
        return dict(zip(names, self._cond_var))

    # ----- fitted values and predictions --------------------------------------------------
    def _linear_predictor(self, X, re_parts, offset) -> np.ndarray:
        eta = np.asarray(X, dtype=float) @ self._sol.beta
        for k, (codes, Z) in re_parts:
            ok = codes >= 0
            contrib = np.zeros(len(codes))
            contrib[ok] = np.einsum("np,np->n", Z[ok], self._sol.b[k][codes[ok]])
            eta = eta + contrib
        return eta if offset is None else eta + offset

    @cached_property
    def _fitted(self) -> np.ndarray:
        parts = [(k, (np.asarray(t.codes), np.asarray(t.Z))) for k, t in enumerate(self.terms)]
        return self._linear_predictor(self.design.X, parts, self.design.offset)

    @property
    def fitted(self) -> pd.Series:
        """Fitted values ``X beta + Z b`` for the rows used in the fit (``fitted(m)``); a
        Series that can also be called, ``m.fitted()`` (see
        :class:`multilevel._rhabits.FittedValues` for why)."""
        from .._rhabits import FittedValues

        return FittedValues(self._fitted, index=self.row_labels, name="fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals ``y - fitted`` (``type="response"``), or ``"pearson"`` (times the square
        root of the prior weight); ``scaled`` divides by sigma (lme4's ``scaled = TRUE``; the
        summary shows ``residuals(m, "pearson", scaled=True)``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> len(m.residuals())
        30
        """
        if type not in ("response", "pearson", "working", "deviance"):
            raise ValueError(f"unknown residual type {type!r}: use 'response' or 'pearson'")
        r = self.design.y - self._fitted
        if self.weights is not None and type == "pearson":
            r = r * np.sqrt(self.weights)
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.row_labels, name="residuals")

    def predict(self, newdata=None, *, re_form="all", allow_new_levels: bool = False,
                interval: str | None = None, level: float = 0.95,
                se_fit: bool = False) -> pd.Series:
        """Predictions (lme4's ``predict.merMod``); with ``interval="confidence"`` or
        ``"prediction"`` a DataFrame ``fit, lower, upper, se_fit`` at ``level``
        (see :mod:`multilevel.inference.predict_interval` for the method).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict for; the fitted rows when omitted.
        re_form : "all" (default), None, "~0", or a formula of random terms
            ``"all"`` includes every random effect (R's ``re.form = NULL``); ``None``,
            ``"~0"`` or ``"NA"`` gives population-level predictions (R's ``re.form = NA``:
            no grouping columns needed, any level allowed); a formula such as
            ``"~ (1 | Subject)"`` (or ``"~ 1 | Subject"``) includes those terms, by grouping
            factor and column as lme4 does: the intercept of ``(Days | Subject)`` but not
            its slope. `newdata` needs only the columns of the terms kept.
        allow_new_levels : bool
            Levels not seen in the fit get random effect 0 (a population-level prediction
            for those rows) instead of an error.
        se_fit : bool
            lme4's ``se.fit = TRUE``: a DataFrame ``fit, se_fit`` whose standard errors come
            from the joint conditional covariance of the random and fixed effects (see
            :mod:`multilevel.inference.se_fit`).

        Examples
        --------
        >>> import multilevel as ml
        >>> sleep = ml.datasets.load("sleepstudy")
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
        >>> float(m.predict(sleep.head(1), re_form=None).round(3).iloc[0])
        251.405
        >>> m.predict(sleep.head(2), se_fit=True).columns.tolist()
        ['fit', 'se_fit']
        """
        if interval is not None:
            predict_interval = operation("predict_interval")

            return predict_interval(self, newdata, interval=interval, level=level,
                                    re_form=re_form, allow_new_levels=allow_new_levels)
        from ..design.model_frame import new_design

        keep = self._re_columns(re_form)  # term -> columns kept (lme4's re.form)
        if newdata is None:
            parts = [(k, (np.asarray(t.codes), np.asarray(t.Z) * keep[k]))
                     for k, t in enumerate(self.terms) if k in keep]
            X, eta = self.design.X, self._linear_predictor(self.design.X, parts,
                                                           self.design.offset)
            out = pd.Series(eta, index=self.row_labels, name="predicted")
        else:
            chosen = [k for k in range(len(self.terms)) if k in keep]
            nd = new_design(self.design, newdata, re_form=self._design_positions(chosen),
                            allow_new_levels=allow_new_levels)
            parts = [(k, (np.asarray(r.codes), np.asarray(r.Z) * keep[k]))
                     for k, r in zip(chosen, nd.re_terms)]
            X, eta = nd.X, self._linear_predictor(nd.X, parts, nd.offset)
            index = newdata.index if hasattr(newdata, "index") else None
            out = pd.Series(eta, index=index, name="predicted")
        if se_fit:
            se = operation("se_fit")(self, X, parts)
            return pd.DataFrame({"fit": out, "se_fit": se}, index=out.index)
        return out

    # ----- likelihood and information criteria --------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters (``attr(logLik(m), "df")``)."""
        return len(self.design.xnames) + self.theta_map.n_phi + 1

    @property
    def df_resid(self) -> int:
        return self.nobs - self.n_params

    @property
    def reml_crit(self) -> float:
        """The REML criterion at the estimates (``REMLcrit(m)``)."""
        if self.reml:
            return self.opt_summary.fmin
        prob = LmmProblem(self.problem.A, reml=True)
        return prob.objective(self._sol.theta)

    @property
    def deviance(self) -> float:
        """-2 log-likelihood (ML); for a REML fit, the ML deviance at the REML estimates
        (lme4's ``deviance(m, REML = FALSE)``)."""
        if not self.reml:
            return self.opt_summary.fmin
        return self.problem.deviance_ml(self._sol.theta)

    @property
    def loglik(self) -> float:
        """The log-likelihood: the REML log-likelihood for REML fits (``logLik(m)``)."""
        return -0.5 * (self.opt_summary.fmin)

    def augment(self, data=None, *, to=None):
        """The data with ``.fitted``, ``.resid`` (and ``.fixed`` for mixed models), as broom's
        ``augment``; see :func:`multilevel.report.broom.augment`. With ``to`` (a ``*.parquet``
        or ``*.csv`` path) the frame is written there atomically and the path returned."""
        from ..report.broom import augment

        if to is not None:
            from ..backends.base import write_frame

            from .._data_input import to_pandas  # augment gives the input's kind back

            return write_frame(to_pandas(augment(self, data)), to, inputs=[data])
        return augment(self, data)

    def summary(self, digits: int | None = None, ddf=None):
        """lme4's ``summary(m)``; ``str()`` of it prints R's layout (``digits`` as
        ``options(digits=)``). ``ddf="satterthwaite"`` or ``"kenward-roger"`` adds lmerTest's
        df and ``Pr(>|t|)`` columns.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> "Random effects:" in str(m.summary(digits=3))
        True
        """
        if ddf is not None:
            summary = operation("summary_ddf")

            return summary(self, digits=digits, ddf=ddf)
        from .summary import lmer_summary

        return lmer_summary(self, digits=digits)

    # ----- inference (multilevel.inference) ------------------------------------------------
    def drop1(self, test: str = "Chisq", **kw) -> pd.DataFrame:
        """Single term deletions (lme4's ``drop1``): ML refits without each droppable term;
        ``test="Chisq"``, ``"none"`` or ``"F"`` (see :func:`multilevel.inference.drop1.drop1`).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.drop1().columns.tolist()
        ['npar', 'AIC', 'LRT', 'Pr(Chi)']
        """
        drop1 = operation("drop1")

        return drop1(self, test=test, **kw)

    def coef_table(self, ddf="satterthwaite") -> pd.DataFrame:
        """Fixed effects with t tests: ``estimate, std_error, df, statistic, p_value``
        (lmerTest's table; ``ddf="kenward-roger"`` or ``None`` for lme4's, without p).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> round(float(m.coef_table().loc["Days", "df"]), 3)
        17.0
        """
        coef_table = operation("coef_table")

        return coef_table(self, ddf=ddf)

    def anova(self, type=3, ddf="satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effect terms (lmerTest's ``anova(m)``: type III, Satterthwaite);
        ``type=1`` sequential, ``type=2`` each term adjusted for the terms not containing it,
        ``ddf="kenward-roger"`` for Kenward-Roger df.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.anova().columns.tolist()
        ['Sum Sq', 'Mean Sq', 'NumDF', 'DenDF', 'F value', 'Pr(>F)']
        """
        anova_table = operation("anova_table")
        from ..report.rprint import as_anova_table

        return as_anova_table(anova_table(self, type=type, ddf=ddf))

    def confint(self, parm=None, level: float = 0.95, method: str = "profile", **kw
                ) -> pd.DataFrame:
        """Confidence intervals (lme4's ``confint``): ``method="profile"``, ``"wald"`` or
        ``"boot"`` (``nsim=``, ``seed=``); rows ``.sig01``, ..., ``.sigma``, fixed effects
        (``readable=True``: ``sd_(Intercept)|g``, ``sigma``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.confint(method="wald").columns.tolist()
        ['lower', 'upper']
        """
        confint = operation("confint")

        return confint(self, parm=parm, level=level, method=method, **kw)

    def simulate(self, nsim: int = 1, seed=None, *, use_u: bool = False,
                 re_form=None) -> pd.DataFrame:
        """Responses simulated from the fitted model (lme4's ``simulate``), one column each;
        ``re_form`` names the random terms kept at their fitted modes (lme4's ``re.form``,
        see :func:`multilevel.inference.simulate.simulate`).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.simulate(2, seed=1).shape
        (30, 2)
        """
        simulate = operation("simulate")

        return simulate(self, nsim=nsim, seed=seed, use_u=use_u, re_form=re_form)

    def icc(self) -> pd.Series:
        """Adjusted and unadjusted intraclass correlation (``performance::icc``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.icc().index.tolist()
        ['ICC_adjusted', 'ICC_unadjusted']
        """
        icc = operation("icc")

        return icc(self)

    def r2(self) -> pd.Series:
        """Nakagawa's conditional and marginal R² (``performance::r2_nakagawa``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.r2().index.tolist()
        ['R2_conditional', 'R2_marginal']
        """
        r2 = operation("r2")

        return r2(self)
