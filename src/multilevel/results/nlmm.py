"""The result of :func:`multilevel.nlmer`: lme4's ``nlmerMod`` accessors and summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .._data_input import to_pandas
from ..core.nlmm import unscaled_vcov
from ..core.theta import split_theta
from ..errors import DataError, two_line
from .mixed import MixedResultBase
from .names import make_unique


@dataclass(frozen=True)
class NlTermInfo:
    """One random-effects term as the result shows it: group, parameter names, levels.

    ``codes`` holds each fitted row's level; ``cols`` the parameters' positions in ``fixef``.
    """

    group: str
    cnames: list
    levels: list
    codes: np.ndarray = field(repr=False)
    cols: tuple = ()

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def p(self) -> int:
        return len(self.cnames)


def orange() -> pd.DataFrame:
    """R's ``Orange`` data (growth of five orange trees), for examples.

    Examples
    --------
    >>> orange().shape
    (35, 3)
    """
    circ = {"1": [30, 58, 87, 115, 120, 142, 145], "2": [33, 69, 111, 156, 172, 203, 203],
            "3": [30, 51, 75, 108, 115, 139, 140], "4": [32, 62, 112, 167, 179, 209, 214],
            "5": [30, 49, 81, 125, 142, 174, 177]}
    ages = [118, 484, 664, 1004, 1231, 1372, 1582]
    rows = [(t, a, c) for t, cs in circ.items() for a, c in zip(ages, cs)]
    d = pd.DataFrame(rows, columns=["Tree", "age", "circumference"])
    d["Tree"] = d["Tree"].astype("category")
    return d


class NlmerResult(MixedResultBase):
    """A fitted nonlinear mixed model (lme4's ``nlmerMod``).

    Attributes
    ----------
    fixef : Series ; vcov : DataFrame ; sigma : float ; theta : Series
    varcorr : DataFrame (``as.data.frame(VarCorr(m))``)
    loglik, aic, bic, deviance : float ; nobs : int ; ngrps : Series ; df_resid : int
    fitted : Series ; opt_summary : OptSummary

    Examples
    --------
    >>> from multilevel.fit.nlmer import _example
    >>> m = _example()
    >>> round(m.sigma, 3), round(m.loglik, 3)
    (7.843, -131.572)
    """

    kind = "nlmer"
    reml = False

    def __init__(self, *, formula, parsed, xnames, terms, core, theta, beta, state, opt,
                 data_name, rows, n_dropped, y, x, model, arg_cols, groups):
        self._formula = formula
        self.parsed = parsed
        self.terms = terms
        self.core = core
        self._theta_hat = np.asarray(theta, dtype=float)
        self._beta = np.asarray(beta, dtype=float)
        self._state = state
        self.opt_summary = opt
        self.data_name = data_name
        self._y, self._x = y, x
        self.model = model
        self._arg_cols = arg_cols
        self._xnames = list(xnames)
        self.design = SimpleNamespace(rows=np.asarray(rows), n_dropped=n_dropped,
                                      nobs=int(len(y)), y=y, formula=formula,
                                      xnames=list(xnames), dropped_columns=[])
        self.is_singular = bool(np.any(self._theta_hat[core.lower == 0] == 0))

    # ----- parameters ---------------------------------------------------------------------
    @property
    def formula(self) -> str:
        return self._formula

    @cached_property
    def fixef(self) -> pd.Series:
        """Fixed effects: the population values of the model's parameters (``fixef(m)``)."""
        return pd.Series(self._beta, index=self._xnames, name="fixef")

    @property
    def sigma(self) -> float:
        """Residual standard deviation, ``sqrt(pwrss / n)`` (lme4's ``sigmaML``)."""
        return float(np.sqrt(self._state.pwrss / self.nobs))

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects as lme4's ``vcov(m)`` gives it.

        lme4 uses the finite-difference Hessian of the stage-2 deviance (``2 H^{-1}``, its
        fixed-effects block) where that is positive definite, and ``sigma^2 (RX'RX)^{-1}``
        otherwise. nlmer's deviance is evaluated to PNLS tolerance only, so that Hessian is
        often noise; :meth:`vcov_rx` always gives the RX-based matrix.

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> float(np.sqrt(_example().vcov.iloc[0, 0])).__round__(2)
        15.58
        """
        from ..core.nlmm import hessian_vcov

        H = getattr(self.opt_summary, "hessian", None)
        V = None if H is None else hessian_vcov(H, len(self._theta_hat))
        if V is None:
            return self.vcov_rx()
        return pd.DataFrame(V, index=self._xnames, columns=self._xnames)

    def vcov_rx(self) -> pd.DataFrame:
        """``sigma^2 (RX'RX)^{-1}``: lme4's ``vcov(m, use.hessian = FALSE)``.

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> _example().vcov_rx().shape
        (3, 3)
        """
        V = self.sigma ** 2 * unscaled_vcov(self._state.RX)
        return pd.DataFrame(V, index=self._xnames, columns=self._xnames)

    # ----- random effects -----------------------------------------------------------------
    @cached_property
    def _b(self) -> list[np.ndarray]:
        return self.core.b_blocks(self._theta_hat, self._state.u)

    @cached_property
    def _cond_var(self) -> list[np.ndarray]:
        """Conditional covariances of ``b`` per level: ``sigma^2 T (L L')^{-1}_block T'``."""
        st = self._state
        resid = self._y - st.mu
        _, grad = self.core.model_fn(st.phi)
        L, _ = self.core._system(self._theta_hat, grad, resid, st.u)
        q = self.core.q
        Linv = np.linalg.inv(L[:q, :q])
        Sinv = Linv.T @ Linv
        out = []
        Ts = split_theta(self._theta_hat, [t.p for t in self.terms])
        for k, (t, T) in enumerate(zip(self.terms, Ts)):
            off = self.core.offsets[k]
            blocks = np.empty((t.n_levels, t.p, t.p))
            for j in range(t.n_levels):
                s = off + j * t.p
                blocks[j] = self.sigma ** 2 * T @ Sinv[s:s + t.p, s:s + t.p] @ T.T
            out.append(blocks)
        return out

    # ----- fitted values, residuals, predictions ------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        """Fitted values ``f(x, beta + b)`` of the rows used (``fitted(m)``).

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> round(float(_example().fitted.iloc[0]), 3)
        24.011
        """
        return pd.Series(self._state.mu, index=self.row_labels, name="fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals ``y - fitted`` (``"response"`` and ``"pearson"`` agree: no weights);
        ``scaled`` divides by sigma, as the summary's scaled residuals.

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> len(_example().residuals())
        35
        """
        if type not in ("response", "pearson", "working", "deviance"):
            raise ValueError(f"unknown residual type {type!r}: use 'response' or 'pearson'")
        r = self._y - self._state.mu
        if scaled:
            r = r / self.sigma
        return pd.Series(r, index=self.row_labels, name="residuals")

    def predict(self, newdata=None, *, re_form="all", allow_new_levels: bool = False
                ) -> pd.Series:
        """Predictions ``f(x, beta + b)``; ``re_form=None`` (or ``"~0"``) leaves out the random
        effects (lme4's ``re.form = NA``); a formula such as ``"~(Asym | Tree)"`` keeps only
        the terms of those grouping factors.

        ``newdata`` needs the model's input column and the grouping columns of the terms kept;
        levels not in the fit raise an error unless ``allow_new_levels`` (then they get 0).

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> m = _example()
        >>> new = pd.DataFrame({"age": [500.0], "Tree": ["4"]})
        >>> round(float(m.predict(new, re_form=None).iloc[0]), 2)
        65.67
        """
        from ..design.expressions import eval_column

        keep = self._terms_for(re_form)
        if newdata is None:
            x = self._x
            codes = [t.codes if k in keep else None for k, t in enumerate(self.terms)]
            index = self.row_labels
        else:
            newdata = to_pandas(newdata, what="newdata")
            x = eval_column(self.parsed.input, newdata, f"input of {self.model.name}")
            codes = []
            for k, t in enumerate(self.terms):
                if k not in keep:
                    codes.append(None)
                    continue
                if t.group not in newdata.columns and ":" not in t.group:
                    raise DataError(two_line(f"newdata lacks the grouping column {t.group!r}",
                                             "add it, or predict with re_form=None"))
                labels = _labels(newdata, t.group)
                pos = {lev: i for i, lev in enumerate(t.levels)}
                c = np.array([pos.get(v, -1) for v in labels])
                if (c < 0).any() and not allow_new_levels:
                    bad = labels[int(np.flatnonzero(c < 0)[0])]
                    raise DataError(two_line(
                        f"level {bad!r} of {t.group!r} was not in the fitted data",
                        "pass allow_new_levels=True to predict it at the population level"))
                codes.append(c)
            index = newdata.index
        phi = np.tile(self._beta, (len(x), 1))
        for t, b, c in zip(self.terms, self._b, codes):
            if c is None:
                continue
            ok = c >= 0
            phi[np.ix_(ok, list(t.cols))] += b[c[ok]]
        mu = self.model.value(x, *[phi[:, j] for j in self._arg_cols])
        return pd.Series(mu, index=index, name="predicted")

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-group parameters: fixed effects plus the group's random effects (``coef(m)``).

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> _example().coef()["Tree"].columns.tolist()
        ['Asym', 'xmid', 'scal']
        """
        return super().coef()

    # ----- likelihood ---------------------------------------------------------------------
    @property
    def deviance(self) -> float:
        """The Laplace deviance at the estimates (-2 logLik): the optimiser's best value, as
        lme4 reports it (``opt$fval``)."""
        return float(self.opt_summary.fmin)

    @property
    def loglik(self) -> float:
        """The Laplace approximation of the log-likelihood (``logLik(m)``)."""
        return -0.5 * self.deviance

    @property
    def n_params(self) -> int:
        """Fixed effects + theta + sigma (``attr(logLik(m), "df")``)."""
        return len(self._beta) + len(self._theta_hat) + 1

    @property
    def df_resid(self) -> int:
        return self.nobs - self.n_params

    @property
    def nobs(self) -> int:
        return int(len(self._y))

    @property
    def messages(self) -> list[str]:
        out = list(self.opt_summary.messages)
        if self.is_singular:
            out.append("boundary (singular) fit: see help('isSingular')")
        return out

    # ----- broom's verbs ------------------------------------------------------------------
    def glance(self) -> pd.DataFrame:
        """Model statistics in one row (broom.mixed's ``glance``).

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> _example().glance()[["nobs", "df_residual"]].values.tolist()
        [[35, 30]]
        """
        return pd.DataFrame([{"nobs": self.nobs, "sigma": self.sigma, "loglik": self.loglik,
                              "aic": self.aic, "bic": self.bic, "deviance": self.deviance,
                              "df_residual": self.df_resid,
                              "ngrps": int(self.ngrps.iloc[0])}])

    def augment(self, data=None) -> pd.DataFrame:
        """The used rows of ``data`` with ``.fitted``, ``.resid`` and ``.fixed`` (the
        population-level prediction), as broom.mixed's ``augment``.

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> _example().augment(orange()).columns.tolist()[-3:]
        ['.fitted', '.resid', '.fixed']
        """
        if data is None:
            out = pd.DataFrame({"y": self._y, "x": self._x}, index=self.row_labels)
        else:
            data = to_pandas(data)
            out = data.iloc[np.asarray(self.design.rows)].copy()
        out[".fitted"] = self._state.mu
        out[".resid"] = self._y - self._state.mu
        out[".fixed"] = self.predict(re_form=None).to_numpy()
        return out

    # ----- presentation -------------------------------------------------------------------
    def summary(self, digits: int | None = None):
        """lme4's ``print(summary(m))`` for an nlmer fit (``digits``: default
        :func:`multilevel.options`' ``digits``).

        Examples
        --------
        >>> from multilevel.fit.nlmer import _example
        >>> print(str(_example().summary()).splitlines()[0])
        Nonlinear mixed model fit by maximum likelihood  ['nlmerMod']
        """
        from ..report.summary_data import AicTab, CoefTable, LmerSummaryData, VarCorrBlock
        from .summary import _na_note, _quantiles

        blocks = []
        for grp, t, S in zip(make_unique([t.group for t in self.terms]), self.terms,
                             self._term_covariances()):
            sd = np.sqrt(np.diag(S))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = S / np.outer(sd, sd) if t.p > 1 else None
            blocks.append(VarCorrBlock(grp, tuple(t.cnames), tuple(float(s) for s in sd), corr))
        V = self.vcov.to_numpy()
        se = np.sqrt(np.diag(V))
        est = self.fixef.to_numpy()
        data = LmerSummaryData(
            reml=False, formula=self.formula, data_name=self.data_name,
            aictab=AicTab.ml(aic=self.aic, bic=self.bic, loglik=self.loglik,
                             deviance=self.deviance, df_resid=self.df_resid),
            scaled_resid_quantiles=_quantiles(self.residuals(scaled=True).to_numpy()),
            varcorr=tuple(blocks), residual_sd=self.sigma, nobs=self.nobs,
            ngrps=tuple((str(k), int(v)) for k, v in self.ngrps.items()),
            coefficients=CoefTable(tuple(self._xnames), est, se, est / se),
            corr_fixef=V / np.outer(se, se), class_name="nlmerMod",
            optimizer=self.opt_summary.optimizer, conv_code=self._conv_code,
            conv_messages=(),  # nlmer runs none of lme4's convergence checks
            optimizer_warnings=tuple(self.opt_summary.messages))
        fail = (f"failure to converge in {self.opt_summary.maxeval} evaluations"
                if self._conv_code else "")
        return _NlSummary(data, digits=digits, notes=_na_note(self.design.n_dropped),
                          failure=fail)

    @property
    def _conv_code(self) -> int:
        """lme4's ``optinfo$conv$opt``: 4 when Nelder-Mead ran out of evaluations."""
        return 4 if self.opt_summary.return_code == "MAXEVAL_REACHED" else 0


def _labels(df: pd.DataFrame, group: str) -> list[str]:
    parts = [p.strip() for p in group.split(":")]
    for p in parts:
        if p not in df.columns:
            raise DataError(two_line(f"newdata lacks the grouping column {p!r}",
                                     "add it, or predict with re_form=None"))
    cols = []
    for p in parts:
        s = df[p]
        cols.append([str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer()
                     else str(v) for v in s.to_numpy(dtype=object)])
    return [":".join(v) for v in zip(*cols)]


class _NlSummary:
    """lme4's summary layout with nlmer's title (``Nonlinear mixed model ...``)."""

    def __init__(self, data, digits: int | None = None, notes: tuple = (), failure: str = ""):
        from .summary import Summary

        self._inner = Summary(data, digits=digits, notes=tuple(notes))
        self.data = data
        self.digits = digits
        self._failure = failure

    def __str__(self) -> str:
        text = str(self._inner)
        if self._failure:  # lme4 prints the optimizer's message in place of "failure"
            text = text.replace(" convergence code: 4 (failure)",
                                f" convergence code: 4 ({self._failure})")
        return "Nonlinear" + text[len("Linear"):] if text.startswith("Linear") else text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html

        return f"<pre class='multilevel-summary'>{html.escape(str(self))}</pre>"
