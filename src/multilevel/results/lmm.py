"""The fitted linear mixed model: lme4's accessors, as labelled pandas objects."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..core.lmm import LmmProblem, LmmSolution, cond_var
from ..core.optimize import OptSummary
from ..core.theta import lower_tri_indices, theta_lower
from ..design.types import Design, ReTerm
from .base import ResultBase
from .names import make_unique, theta_names

LOG2PI = float(np.log(2.0 * np.pi))


class LmerResult(ResultBase):
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
                 opt: OptSummary, data_name: str | None, singular: bool):
        self.design = design
        self.terms = terms
        self.problem = problem
        self.opt_summary = opt
        self.data_name = data_name
        self.reml = problem.reml
        self.is_singular = singular
        self._sol: LmmSolution = problem.solve(opt.theta)

    # ----- parameters -------------------------------------------------------------------
    @property
    def formula(self) -> str:
        return self.design.formula

    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._sol.beta, index=list(self.design.xnames), name="fixef")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        names = list(self.design.xnames)
        return pd.DataFrame(self._sol.vcov_beta, index=names, columns=names)

    @property
    def sigma(self) -> float:
        return self._sol.sigma

    @cached_property
    def theta(self) -> pd.Series:
        return pd.Series(self._sol.theta, index=theta_names(self.terms), name="theta")

    @cached_property
    def theta_lower(self) -> np.ndarray:
        return theta_lower([t.p for t in self.terms])

    def _term_covariances(self) -> list[np.ndarray]:
        """``sigma^2 T T'`` for each term, in lme4's term order."""
        return [self.sigma ** 2 * (T @ T.T) for T in self.problem.factor(self._sol.theta).T]

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        rows = []
        grps = make_unique([t.group for t in self.terms])
        for grp, term, S in zip(grps, self.terms, self._term_covariances()):
            sd = np.sqrt(np.diag(S))
            for a, name in enumerate(term.cnames):
                rows.append((grp, name, None, S[a, a], sd[a]))
            r, c = lower_tri_indices(term.p)
            for i, j in zip(r, c):
                if i == j:
                    continue
                cor = S[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                rows.append((grp, term.cnames[j], term.cnames[i], S[i, j], cor))
        rows.append(("Residual", None, None, self.sigma ** 2, self.sigma))
        grp, var1, var2, vcov, sdcor = zip(*rows)
        # names stay Python objects so that a missing name is None, as R's NA prints
        return pd.DataFrame({"grp": pd.Series(grp, dtype=object),
                             "var1": pd.Series(var1, dtype=object),
                             "var2": pd.Series(var2, dtype=object),
                             "vcov": np.asarray(vcov, dtype=float),
                             "sdcor": np.asarray(sdcor, dtype=float)})

    # ----- random effects -----------------------------------------------------------------
    def _groups(self) -> dict[str, list[int]]:
        """Grouping factor name -> indices of its terms, in order of first appearance."""
        out: dict[str, list[int]] = {}
        for k, t in enumerate(self.terms):
            out.setdefault(t.group, []).append(k)
        return out

    @cached_property
    def _cond_var(self) -> list[np.ndarray]:
        F = self.problem.factor(self._sol.theta)
        return cond_var(self.problem.A, F, self.sigma)

    def ranef(self, cond_var: bool = True) -> pd.DataFrame:
        """Conditional modes of the random effects (``as.data.frame(ranef(m, condVar=TRUE))``).

        Returns a long DataFrame with columns ``grpvar, term, grp, condval`` and, with
        ``cond_var=True``, ``condsd`` (conditional standard deviation).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.ranef().columns.tolist()
        ['grpvar', 'term', 'grp', 'condval', 'condsd']
        """
        frames = []
        for grp, idx in self._groups().items():
            for k in idx:
                t = self.terms[k]
                for a, name in enumerate(t.cnames):
                    part = {"grpvar": grp, "term": name, "grp": list(t.levels),
                            "condval": self._sol.b[k][:, a]}
                    if cond_var:
                        part["condsd"] = np.sqrt(self._cond_var[k][:, a, a])
                    frames.append(pd.DataFrame(part))
        out = pd.concat(frames, ignore_index=True)
        for col in ("grpvar", "term", "grp"):
            out[col] = out[col].astype(str)
        return out

    def ranef_wide(self) -> dict[str, pd.DataFrame]:
        """``ranef(m)`` as R shows it: per grouping factor, levels × terms."""
        out = {}
        for grp, idx in self._groups().items():
            cols = {}
            levels = self.terms[idx[0]].levels
            for k in idx:
                for a, name in enumerate(self.terms[k].cnames):
                    cols[name] = self._sol.b[k][:, a]
            out[grp] = pd.DataFrame(cols, index=pd.Index(levels, name=grp))
        return out

    def cond_cov(self) -> dict[str, np.ndarray]:
        """Per term (keyed by ``group`` with a ``.k`` suffix for repeats) the conditional
        covariance blocks, shape ``(n_levels, p, p)`` (lme4's ``postVar`` array, transposed)."""
        names = make_unique([t.group for t in self.terms])
        return dict(zip(names, self._cond_var))

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-group coefficients: fixed effects plus the group's random effects (``coef(m)``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.coef()["Subject"].columns.tolist()
        ['(Intercept)', 'Days']
        """
        out = {}
        for grp, re in self.ranef_wide().items():
            df = pd.DataFrame(np.tile(self.fixef.to_numpy(), (len(re), 1)), index=re.index,
                              columns=self.fixef.index)
            for col in re.columns:
                if col in df.columns:
                    df[col] = df[col] + re[col]
                else:
                    df[col] = re[col]
            out[grp] = df
        return out

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
        """Fitted values ``X beta + Z b`` for the rows used in the fit (``fitted(m)``)."""
        return pd.Series(self._fitted, index=self.row_labels, name="fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals ``y - fitted`` (``type="response"``) or ``"pearson"``; ``scaled`` divides
        by sigma (the summary's scaled residuals).

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
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.row_labels, name="residuals")

    def predict(self, newdata=None, *, re_form="all", allow_new_levels: bool = False
                ) -> pd.Series:
        """Predictions (lme4's ``predict.merMod``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict for; the fitted rows when omitted.
        re_form : "all" (default), None, "~0", or a formula of random terms
            ``"all"`` includes every random effect (R's ``re.form = NULL``); ``None`` or
            ``"~0"`` gives population-level predictions (R's ``re.form = NA``); a formula such
            as ``"~(1 | schnum)"`` includes only those terms.
        allow_new_levels : bool
            Levels not seen in the fit get random effect 0 instead of an error.

        Examples
        --------
        >>> import multilevel as ml
        >>> sleep = ml.datasets.load("sleepstudy")
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
        >>> float(m.predict(sleep.head(1), re_form=None).round(3).iloc[0])
        251.405
        """
        from ..design.model_frame import new_design

        keep = self._terms_for(re_form)
        if newdata is None:
            parts = [(k, (np.asarray(t.codes), np.asarray(t.Z)))
                     for k, t in enumerate(self.terms) if k in keep]
            eta = self._linear_predictor(self.design.X, parts, self.design.offset)
            return pd.Series(eta, index=self.row_labels, name="predicted")
        nd = new_design(self.design, newdata, allow_new_levels=allow_new_levels)
        position = {id(t): i for i, t in enumerate(self.design.re_terms)}
        parts = []
        for k, t in enumerate(self.terms):
            if k in keep:
                r = nd.re_terms[position[id(t)]]
                parts.append((k, (np.asarray(r.codes), np.asarray(r.Z))))
        eta = self._linear_predictor(nd.X, parts, nd.offset)
        index = newdata.index if hasattr(newdata, "index") else None
        return pd.Series(eta, index=index, name="predicted")

    def _terms_for(self, re_form) -> set[int]:
        if isinstance(re_form, str) and re_form == "all":
            return set(range(len(self.terms)))
        if re_form is None or (isinstance(re_form, str)
                               and re_form.replace(" ", "") in ("~0", "~1", "NA", "0")):
            return set()
        from ..formula import parse

        wanted = parse(re_form if "~" in re_form else "~" + re_form).random
        keep = set()
        for k, t in enumerate(self.terms):
            for rt in wanted:
                if rt.group == t.group or rt.group.replace(" ", "") == t.group:
                    keep.add(k)
        return keep

    # ----- likelihood and information criteria --------------------------------------------
    @property
    def nobs(self) -> int:
        return self.design.nobs

    @cached_property
    def ngrps(self) -> pd.Series:
        groups = self._groups()
        return pd.Series({g: self.terms[idx[0]].n_levels for g, idx in groups.items()},
                         name="ngrps")

    @property
    def n_params(self) -> int:
        """Number of estimated parameters (``attr(logLik(m), "df")``)."""
        return len(self.design.xnames) + self._sol.theta.size + 1

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

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.n_params

    @property
    def messages(self) -> list[str]:
        return list(self.opt_summary.messages)

    # ----- broom's verbs (multilevel.report.broom) --------------------------------------------
    def tidy(self, **options):
        """One row per parameter, broom's shape; options as :func:`multilevel.report.broom.tidy`.

        Examples
        --------
        >>> import multilevel as ml
        >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).tidy()["term"].tolist()
        ['(Intercept)', 'Days']
        """
        from ..report.broom import tidy

        return tidy(self, **options)

    def glance(self):
        """Model statistics in one row (broom's ``glance``; see :mod:`multilevel.report.broom`)."""
        from ..report.broom import glance

        return glance(self)

    def augment(self, data=None, *, to=None):
        """The data with ``.fitted``, ``.resid`` (and ``.fixed`` for mixed models), as broom's
        ``augment``; see :func:`multilevel.report.broom.augment`. With ``to`` (a ``*.parquet``
        or ``*.csv`` path) the frame is written there atomically and the path returned."""
        from ..report.broom import augment

        if to is not None:
            from .lmm_source import write_frame

            return write_frame(augment(self, data), to)
        return augment(self, data)

    def summary(self, digits: int = 7, ddf=None):
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
            from ..inference.coef_table import summary

            return summary(self, digits=digits, ddf=ddf)
        from .summary import lmer_summary

        return lmer_summary(self, digits=digits)

    # ----- inference (multilevel.inference) ------------------------------------------------
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
        from ..inference.coef_table import coef_table

        return coef_table(self, ddf=ddf)

    def anova(self, type=3, ddf="satterthwaite") -> pd.DataFrame:
        """F tests of the fixed-effect terms (lmerTest's ``anova(m)``: type III, Satterthwaite).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.anova().columns.tolist()
        ['Sum Sq', 'Mean Sq', 'NumDF', 'DenDF', 'F value', 'Pr(>F)']
        """
        from ..inference.ftests import anova_table

        return anova_table(self, type=type, ddf=ddf)

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
        from ..inference.confint import confint

        return confint(self, parm=parm, level=level, method=method, **kw)

    def simulate(self, nsim: int = 1, seed=None, *, use_u: bool = False) -> pd.DataFrame:
        """Responses simulated from the fitted model (lme4's ``simulate``), one column each.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.simulate(2, seed=1).shape
        (30, 2)
        """
        from ..inference.simulate import simulate

        return simulate(self, nsim=nsim, seed=seed, use_u=use_u)

    def icc(self) -> pd.Series:
        """Adjusted and conditional intraclass correlation (``performance::icc``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.icc().index.tolist()
        ['ICC_adjusted', 'ICC_conditional']
        """
        from ..inference.icc import icc

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
        from ..inference.icc import r2

        return r2(self)
