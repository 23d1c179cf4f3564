"""The fitted generalized linear mixed model: lme4's ``glmerMod`` accessors, labelled."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from ..core.glmm import GlmmProblem, PirlsState
from ..core.optimize import OptSummary
from ..design.types import Design, ReTerm
from .mixed import MixedResultBase
from .operations import operation
from .names import label_index, make_unique, sig_names

RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")


class GlmerResult(MixedResultBase):
    """A GLMM fitted by :func:`multilevel.glmer` (lme4's ``glmerMod``).

    Cheap values are properties; anything with options is a method. Outputs carry R's labels.

    Attributes
    ----------
    fixef : Series                 -- fixed effects (``fixef(m)``)
    vcov : DataFrame               -- their covariance from the Hessian of the deviance over
                                      ``(theta, beta)`` (lme4's default, ``use.hessian=TRUE``)
    vcov_rx : DataFrame            -- from the penalised least-squares factor
                                      (``vcov(m, use.hessian = FALSE)``)
    theta : Series ; varcorr : DataFrame ; sigma : float (1 for binomial and Poisson)
    loglik, aic, bic : float
    deviance : float               -- ``-2 logLik`` (the summary's ``deviance`` column; what
                                      a likelihood-ratio test compares)
    cond_deviance : float          -- lme4's ``deviance(m)``: sum of squared deviance
                                      residuals at the conditional modes
    nobs : int ; n_params : int ; df_resid : int ; ngrps : Series ; is_singular : bool
    family, link : str ; n_agq : int ; opt_summary : OptSummary

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...              ml.datasets.load("cbpp"), family="binomial")
    >>> m.fixef.round(2).to_dict()
    {'(Intercept)': -1.4, 'period2': -0.99, 'period3': -1.13, 'period4': -1.58}
    """

    kind = "glmer"
    reml = False

    def __init__(self, *, design: Design, terms: list[ReTerm], problem: GlmmProblem,
                 state: PirlsState, opt: OptSummary, response, n_agq: int, hessian, gradient,
                 data_name: str | None, singular: bool):
        self.design = design
        self.terms = terms
        self.problem = problem
        self._st = state
        self.opt_summary = opt
        self.response = response
        self.n_agq = int(n_agq)
        self.hessian = hessian
        self.gradient = gradient
        self.data_name = data_name
        self.is_singular = bool(singular)
        self._family = problem.data.family

    # ----- model description ----------------------------------------------------------------
    @property
    def formula(self) -> str:
        return self.design.formula

    @property
    def family(self) -> str:
        return self._family.name

    @property
    def link(self) -> str:
        return self._family.link.name

    @property
    def nb_theta(self) -> float | None:
        """The negative binomial's ``theta`` (:func:`multilevel.glmer_nb`; lme4's
        ``getME(m, "glmer.nb.theta")``), None for other families."""
        return self._family.nb_theta

    # ----- parameters -------------------------------------------------------------------------
    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._st.beta, index=label_index(self.design.xnames), name="fixef")

    def _vcov_array(self, use_hessian: bool = True) -> np.ndarray:
        p = self._st.beta.size
        m = self.theta_map.n_phi  # the Hessian is over (phi, beta): structures' parameters
        if use_hessian and self.hessian is not None:
            try:
                Hinv = np.linalg.inv(self.hessian)
                V = 2.0 * Hinv[m:, m:]
                V = 0.5 * (V + V.T)
                np.linalg.cholesky(V) if p else None
                return V
            except np.linalg.LinAlgError:
                pass
        V = self.problem.vcov_rx(self._st.theta, self._st.beta, self._st.u)
        return self.sigma ** 2 * V

    @cached_property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self._vcov_array(True), index=label_index(self.design.xnames),
                            columns=label_index(self.design.xnames))

    @cached_property
    def vcov_rx(self) -> pd.DataFrame:
        return pd.DataFrame(self._vcov_array(False), index=label_index(self.design.xnames),
                            columns=label_index(self.design.xnames))

    @cached_property
    def sigma(self) -> float:
        """1 for binomial and Poisson; otherwise lme4's ``sqrt(pwrss / n)`` with
        ``pwrss = sum(w (y - mu)^2 / V(mu)) + |u|^2``."""
        if not self._family.has_scale:
            return 1.0
        d = self.problem.data
        mu = self._st.mu
        wrss = float(np.sum(d.weights * (d.y - mu) ** 2 / self._family.variance(mu)))
        return float(np.sqrt((wrss + self._st.u @ self._st.u) / self.nobs))

    # ----- random effects ---------------------------------------------------------------------
    @property
    def _theta_hat(self) -> np.ndarray:
        return self._st.theta

    @property
    def _has_residual(self) -> bool:
        return self._family.has_scale

    @cached_property
    def _b(self) -> list[np.ndarray]:
        return self.problem.b_from_u(self._st.theta, self._st.u)

    @cached_property
    def _cond_var(self) -> list[np.ndarray]:
        return self.problem.cond_var(self._st, self.sigma)

    def cond_cov(self) -> dict[str, np.ndarray]:
        """Per term (keyed by ``group`` with a ``.k`` suffix for repeats) the conditional
        covariance blocks, shape ``(n_levels, p, p)`` (lme4's ``postVar``, as for lmer).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> m.cond_cov()["herd"].shape
        (15, 1, 1)
        """
        from .names import make_unique

        return dict(zip(make_unique([t.group for t in self.terms]), self._cond_var))

    # ----- fitted values, residuals, predictions ----------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        """Fitted means ``mu`` (response scale, random effects included; ``fitted(m)``); a
        Series that can also be called, ``m.fitted()`` (:class:`multilevel._rhabits.FittedValues`)."""
        from .._rhabits import FittedValues

        return FittedValues(self._st.mu, index=self.row_labels, name="fitted")

    @property
    def linear_predictor(self) -> pd.Series:
        """``eta = X beta + Z b + offset`` for the rows of the fit."""
        return pd.Series(self._st.eta, index=self.row_labels, name="eta")

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals of the fit (``residuals(m, type=)``; lme4's default is deviance).

        Parameters
        ----------
        type : {"deviance", "pearson", "response", "working"}
        scaled : bool
            Divide by sigma (the summary's scaled residuals are scaled Pearson residuals).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> len(m.residuals("pearson"))
        56
        """
        if type not in RESIDUAL_TYPES:
            raise ValueError(f"unknown residual type {type!r}: use one of {RESIDUAL_TYPES}")
        d = self.problem.data
        fam = self._family
        y, mu, wt = d.y, self._st.mu, d.weights
        if type == "response":
            r = y - mu
        elif type == "pearson":
            r = (y - mu) * np.sqrt(wt / fam.variance(mu))
        elif type == "working":
            r = (y - mu) / fam.link.mu_eta(self._st.eta)
        else:
            dr = fam.dev_resid(y, mu, wt)
            r = np.sign(y - mu) * np.sqrt(np.maximum(dr, 0.0))
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.row_labels, name="residuals")

    def predict(self, newdata=None, *, type: str = "link", re_form="all",
                allow_new_levels: bool = False, interval: str | None = None,
                level: float = 0.95) -> pd.Series:
        """Predictions (lme4's ``predict.merMod``); ``interval="confidence"`` gives a
        DataFrame ``fit, lower, upper, se_fit`` (Wald on the link scale, transformed for
        ``type="response"``; see :mod:`multilevel.inference.predict_interval`).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict for; the fitted rows when omitted.
        type : {"link", "response"}
            Linear predictor, or the mean on the response scale.
        re_form : "all" (default), None, "~0", or a formula of random terms
            ``"all"`` includes every random effect (R's ``re.form = NULL``); ``None`` or
            ``"~0"`` gives population-level predictions (R's ``re.form = NA``); a formula
            such as ``"~(1 | herd)"`` includes only those terms.
        allow_new_levels : bool
            Levels not seen in the fit get random effect 0 instead of an error.

        Examples
        --------
        >>> import multilevel as ml
        >>> cbpp = ml.datasets.load("cbpp")
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
        ...              family="binomial")
        >>> round(float(m.predict(cbpp.head(1), type="response", re_form=None).iloc[0]), 3)
        0.198
        """
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', got {type!r}")
        if interval is not None:
            predict_interval = operation("predict_interval")

            return predict_interval(self, newdata, interval=interval, level=level, type=type,
                                    re_form=re_form, allow_new_levels=allow_new_levels)
        from ..design.model_frame import new_design

        keep = self._re_columns(re_form)  # term -> columns kept (lme4's re.form)
        beta = self._st.beta
        if newdata is None:
            eta = self.design.X @ beta
            if self.problem.data.offset is not None:
                eta = eta + self.problem.data.offset
            for k, cols in keep.items():
                t = self.terms[k]
                eta = eta + np.einsum("np,np->n", np.asarray(t.Z) * cols, self._b[k][t.codes])
            index = self.row_labels
        else:
            chosen = [k for k in range(len(self.terms)) if k in keep]
            nd = new_design(self.design, newdata, re_form=self._design_positions(chosen),
                            allow_new_levels=allow_new_levels)
            eta = nd.X @ beta
            if nd.offset is not None:
                eta = eta + nd.offset
            for k, r in zip(chosen, nd.re_terms):
                codes, Z = np.asarray(r.codes), np.asarray(r.Z, dtype=float) * keep[k]
                ok = codes >= 0
                contrib = np.zeros(len(codes))
                contrib[ok] = np.einsum("np,np->n", Z[ok], self._b[k][codes[ok]])
                eta = eta + contrib
            index = pd.Index(getattr(newdata, "index", np.arange(len(eta))))
        out = self._family.link.linkinv(eta) if type == "response" else eta
        return pd.Series(out, index=index, name="predicted")

    def _match_new_terms(self, new_terms) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Map the terms of a ``new_design`` (formula order) onto ``self.terms`` (lme4 order)."""
        out, used = {}, set()
        for nt in new_terms:
            for k, t in enumerate(self.terms):
                if k not in used and t.group == nt.group and list(t.cnames) == list(nt.cnames):
                    out[k] = (np.asarray(nt.codes), np.asarray(nt.Z, dtype=float))
                    used.add(k)
                    break
        return out

    # ----- likelihood and information criteria ----------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters (``attr(logLik(m), "df")``)."""
        extra = int(self._family.has_scale) + int(self._family.name == "negative.binomial")
        return len(self.design.xnames) + self.theta_map.n_phi + extra

    @property
    def df_resid(self) -> int:
        return self.nobs - self.n_params

    @property
    def loglik(self) -> float:
        """The (Laplace or AGQ) log-likelihood, ``logLik(m)``."""
        return -0.5 * self.opt_summary.fmin

    @property
    def deviance(self) -> float:
        """``-2 logLik`` (as the summary's ``deviance`` column and ``anova`` use)."""
        return float(self.opt_summary.fmin)

    @cached_property
    def cond_deviance(self) -> float:
        """lme4's ``deviance(m)`` for a GLMM: the sum of squared deviance residuals at the
        conditional modes (not ``-2 logLik``)."""
        d = self.problem.data
        return float(np.sum(self._family.dev_resid(d.y, self._st.mu, d.weights)))

    def drop1(self, test: str = "Chisq", **kw) -> pd.DataFrame:
        """Single term deletions (lme4's ``drop1``): ML refits without each droppable term;
        ``test="Chisq"`` or ``"none"`` (see :func:`multilevel.inference.drop1.drop1`).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> m.drop1().index.tolist()
        ['<none>', 'period']
        """
        drop1 = operation("drop1")

        return drop1(self, test=test, **kw)

    def coef_table(self) -> pd.DataFrame:
        """``coef(summary(m))``: Estimate, Std. Error, z value, Pr(>|z|).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> m.coef_table().columns.tolist()
        ['estimate', 'std_error', 'z_value', 'p_value']
        """
        est = self.fixef.to_numpy()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        z = est / se
        return pd.DataFrame({"estimate": est, "std_error": se, "z_value": z,
                             "p_value": 2.0 * stats.norm.sf(np.abs(z))},
                            index=self.fixef.index)

    def confint(self, method: str = "Wald", level: float = 0.95, *, parm=None,
                old_names: bool = True, readable: bool | None = None) -> pd.DataFrame:
        """Confidence intervals (lme4's ``confint(m, method = "Wald")`` or ``"profile"``).

        Rows are the variance parameters (``.sig01`` ...) then the fixed effects.

        Parameters
        ----------
        method : {"Wald", "profile"}
            ``"Wald"``: ``beta +- z se`` (NaN for the variance parameters, as in lme4),
            columns ``2.5 %`` and ``97.5 %``. ``"profile"``: limits where the profiled
            Laplace deviance rises by ``z^2`` (exact roots; lme4 interpolates splines),
            columns ``lower`` and ``upper`` as for ``lmer`` fits; a parameter whose
            profile fails is NaN, with a ``ProfileWarning`` giving the reason (see
            :func:`multilevel.profile`).
        level : float
        parm : str or list of str, optional
            Profile only these parameters (lme4's or readable names, or ``"theta_"`` /
            ``"beta_"``); all by default.
        old_names : bool
            lme4's ``oldNames``: ``.sig01`` rather than ``sd_(Intercept)|herd``.
        readable : bool, optional
            ``readable=True`` is ``old_names=False`` (the spelling of ``lmer``'s confint).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> m.confint().index.tolist()
        ['.sig01', '(Intercept)', 'period2', 'period3', 'period4']
        >>> m.confint("profile", parm="period2").round(3)
                 lower  upper
        period2 -1.617 -0.408
        """
        if readable is not None:
            old_names = not readable
        if method.lower() == "profile":
            profile_confint = operation("profile_confint")

            return profile_confint(self, which=parm, level=level, readable=not old_names)
        if method.lower() != "wald":
            raise NotImplementedError(f"confint(method={method!r}) is not available for "
                                      "glmer fits; use 'Wald' or 'profile'")
        a = (1.0 - level) / 2.0
        labels = [f"{100 * a:.3g} %", f"{100 * (1 - a):.3g} %"]
        zq = stats.norm.ppf(1.0 - a)
        est = self.fixef.to_numpy()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        sig = sig_names(self.terms, old_names=old_names)
        if self._family.has_scale:
            sig.append(".sigma" if old_names else "sigma")
        lo = np.concatenate([np.full(len(sig), np.nan), est - zq * se])
        hi = np.concatenate([np.full(len(sig), np.nan), est + zq * se])
        tab = pd.DataFrame({labels[0]: lo, labels[1]: hi}, index=sig + list(self.fixef.index))
        if parm is None:
            return tab
        if isinstance(parm, str) and parm in ("theta_", "beta_"):
            return tab.iloc[:len(sig)] if parm == "theta_" else tab.iloc[len(sig):]
        other = sig_names(self.terms, old_names=not old_names)
        if self._family.has_scale:
            other.append("sigma" if old_names else ".sigma")
        other += list(self.fixef.index)
        keys = [parm] if isinstance(parm, str) else list(parm)
        keys = [tab.index[other.index(k)] if k not in tab.index and k in other else k
                for k in keys]
        missing = [k for k in keys if k not in tab.index]
        if missing:
            raise ValueError(f"unknown parameters {missing}; the parameters are "
                             f"{list(tab.index)}")
        return tab.loc[keys]

    def overdispersion(self) -> pd.Series:
        """Pearson overdispersion check (the GLMM FAQ's ``overdisp_fun``).

        Returns the Pearson chi-square, the residual degrees of freedom, their ratio (about 1
        without overdispersion) and the upper-tail chi-square p-value. Meaningful for
        families with a fixed scale (binomial with trials > 1, Poisson).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> m.overdispersion().index.tolist()
        ['chisq', 'ratio', 'rdf', 'p_value']
        """
        chisq = float(np.sum(self.residuals("pearson").to_numpy() ** 2))
        rdf = self.df_resid
        return pd.Series({"chisq": chisq, "ratio": chisq / rdf, "rdf": float(rdf),
                          "p_value": float(stats.chi2.sf(chisq, rdf))}, name="overdispersion")

    def summary(self, digits: int | None = None):
        """lme4's ``summary(m)``; ``str()`` of it prints R's layout.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> str(m.summary()).splitlines()[2]
        ' Family: binomial  ( logit )'
        """
        from .summary import Summary, _deparse, _na_note, _quantiles
        from ..report.summary_data import AicTab, CoefTable, LmerSummaryData, VarCorrBlock

        blocks = []
        grps = make_unique([t.group for t in self.terms])
        structures = self.theta_map.structures
        for grp, t, S, st in zip(grps, self.terms, self._term_covariances(), structures):
            sd = np.sqrt(np.diag(S))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = S / np.outer(sd, sd) if t.p > 1 else None
            if st.correlation(S) is not None:  # cs(), ar1(): the structure's rho
                corr = st.correlation(S)
            blocks.append(VarCorrBlock(grp, tuple(t.cnames), tuple(float(s) for s in sd), corr,
                                       st.label))
        tab = self.coef_table()
        # lme4 labels the statistic "t value" for families with a scale, the p-value stays z
        coefs = CoefTable(tuple(tab.index), tab["estimate"].to_numpy(),
                          tab["std_error"].to_numpy(), tab["z_value"].to_numpy(),
                          statistic_name="t value" if self._family.has_scale else "z value",
                          p_value=tab["p_value"].to_numpy(), p_value_name="Pr(>|z|)")
        V = self.vcov.to_numpy()
        dv = np.sqrt(np.diag(V))
        corr = V / np.outer(dv, dv) if V.size else None
        if self.n_agq == 1:
            approx = "Laplace Approximation"
        else:
            approx = f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.n_agq}"
        data = LmerSummaryData(
            reml=False, formula=_deparse(self.formula), data_name=self.data_name,
            aictab=AicTab.ml(aic=self.aic, bic=self.bic, loglik=self.loglik,
                             deviance=self.deviance, df_resid=self.df_resid),
            scaled_resid_quantiles=_quantiles(self.residuals("pearson", scaled=True).to_numpy()),
            varcorr=tuple(blocks), residual_sd=self.sigma if self._family.has_scale else None,
            nobs=self.nobs, ngrps=tuple((str(k), int(v)) for k, v in self.ngrps.items()),
            coefficients=coefs, corr_fixef=corr, class_name="glmerMod",
            family=self._family.r_name,
            link=self.link, glmm_approximation=approx, optimizer="bobyqa",
            conv_code=0 if self.opt_summary.converged else 1,
            conv_messages=tuple(self.messages))
        notes = list(_na_note(self.design.n_dropped))
        if self.design.dropped_columns:
            k = len(self.design.dropped_columns)
            notes.insert(0, f"fixed-effect model matrix is rank deficient so dropping {k} "
                            f"column{'s' if k > 1 else ''} / coefficient{'s' if k > 1 else ''}")
        return Summary(data, digits=digits, notes=tuple(notes))
