"""The fitted ordinary least-squares model (R's ``lm``)."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import stats

from ..design.types import Design
from .base import ResultBase
from .operations import operation


class LmResult(ResultBase):
    """A linear model fitted by :func:`multilevel.lm` (R's ``lm``).

    Attributes
    ----------
    fixef : Series          -- coefficients (``coef(fit)``; aliased ones omitted, see ``aliased``)
    vcov : DataFrame        -- their covariance
    sigma : float           -- residual standard error
    loglik, aic, bic, deviance (RSS), r_squared, adj_r_squared : float
    fstatistic : (value, numdf, dendf)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy"))
    >>> m.fixef.round(3).to_dict()
    {'(Intercept)': 251.405, 'Days': 10.467}
    """

    kind = "lm"

    def __init__(self, *, design: Design, data_name: str | None):
        self.design = design
        self.data_name = data_name
        # aliased (collinear) columns stay in the design, as R keeps them with NA estimates
        self._estimable = np.array([n not in set(design.dropped_columns)
                                    for n in design.xnames], dtype=bool)
        X, y = design.X[:, self._estimable], design.y
        if design.offset is not None:
            y = y - design.offset
        self._y_fit = y
        Q, R = np.linalg.qr(X) if X.shape[1] else (np.zeros((len(y), 0)), np.zeros((0, 0)))
        self._R = R
        self._beta = sla.solve_triangular(R, Q.T @ y) if X.shape[1] else np.zeros(0)
        self._fitted = X @ self._beta + (0 if design.offset is None else design.offset)

    @property
    def formula(self) -> str:
        return self.design.formula

    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._beta, index=self.coef_names, name="coef")

    @property
    def coef_names(self) -> list[str]:
        """Names of the estimable coefficients (R's labels; aliased ones left out)."""
        return [n for n, ok in zip(self.design.xnames, self._estimable) if ok]

    @property
    def aliased(self) -> list[str]:
        """Coefficients not estimable because their columns are collinear (R prints NA)."""
        return list(self.design.dropped_columns)

    @property
    def nobs(self) -> int:
        return self.design.nobs

    @property
    def rank(self) -> int:
        return int(self._estimable.sum())

    @property
    def df_resid(self) -> int:
        return self.nobs - self.rank

    @cached_property
    def rss(self) -> float:
        return float(np.sum((self.design.y - self._fitted) ** 2))

    @property
    def deviance(self) -> float:
        """Residual sum of squares (R's ``deviance(lm)``)."""
        return self.rss

    @property
    def sigma(self) -> float:
        return float(np.sqrt(self.rss / self.df_resid)) if self.df_resid > 0 else float("nan")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        Rinv = sla.solve_triangular(self._R, np.eye(self.rank)) if self.rank else self._R
        names = self.coef_names
        return pd.DataFrame(self.sigma ** 2 * (Rinv @ Rinv.T), index=names, columns=names)

    @property
    def fitted(self) -> pd.Series:
        """Fitted values (R's ``fitted(m)``): a Series; ``m.fitted()`` works too (see
        :class:`multilevel._rhabits.FittedValues` for why)."""
        from .._rhabits import FittedValues

        return FittedValues(self._fitted, index=self.row_labels, name="fitted")

    def coef(self) -> pd.Series:
        """R's ``coef(lm)``: the coefficients by name, aliased ones as NaN (R's NA).

        Examples
        --------
        >>> import multilevel as ml
        >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).coef().round(3).tolist()
        [251.405, 10.467]
        """
        return self.fixef.reindex(list(self.design.xnames)).rename("coef")

    def residuals(self, type: str = "response") -> pd.Series:
        """Residuals ``y - fitted``.

        Examples
        --------
        >>> import multilevel as ml
        >>> abs(float(ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).residuals().sum())) < 1e-8
        True
        """
        return pd.Series(self.design.y - self._fitted, index=self.row_labels, name="residuals")

    def predict(self, newdata=None) -> pd.Series:
        """Predictions for new data (or the fitted rows).

        Examples
        --------
        >>> import multilevel as ml
        >>> sleep = ml.datasets.load("sleepstudy")
        >>> float(ml.lm("Reaction ~ Days", sleep).predict(sleep.head(1)).round(3).iloc[0])
        251.405
        """
        if newdata is None:
            return self.fitted.rename("predicted")
        from ..design.model_frame import new_design

        nd = new_design(self.design, newdata)
        eta = np.asarray(nd.X, dtype=float)[:, self._estimable] @ self._beta
        if nd.offset is not None:
            eta = eta + nd.offset
        index = newdata.index if hasattr(newdata, "index") else None
        return pd.Series(eta, index=index, name="predicted")

    @property
    def has_intercept(self) -> bool:
        return "(Intercept)" in self.coef_names

    @property
    def n_params(self) -> int:
        return self.rank + 1

    @property
    def loglik(self) -> float:
        n = self.nobs
        return float(-0.5 * n * (np.log(2 * np.pi) + np.log(self.rss / n) + 1))

    @cached_property
    def _tss(self) -> float:
        y = self.design.y
        return float(np.sum((y - y.mean()) ** 2) if self.has_intercept else np.sum(y ** 2))

    @property
    def r_squared(self) -> float:
        return 1.0 - self.rss / self._tss

    @property
    def adj_r_squared(self) -> float:
        df_int = 1 if self.has_intercept else 0
        return 1.0 - (1.0 - self.r_squared) * (self.nobs - df_int) / self.df_resid

    @property
    def fstatistic(self) -> tuple[float, int, int]:
        numdf = self.rank - (1 if self.has_intercept else 0)
        value = ((self._tss - self.rss) / numdf) / (self.rss / self.df_resid) if numdf else np.nan
        return float(value), numdf, self.df_resid

    def coef_table(self, ddf=None) -> pd.DataFrame:
        """Estimates, standard errors, t statistics and p-values on ``df_resid`` df.

        Examples
        --------
        >>> import multilevel as ml
        >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).coef_table().columns.tolist()
        ['estimate', 'std_error', 'df', 'statistic', 'p_value']
        """
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        t = self._beta / se
        p = 2 * stats.t.sf(np.abs(t), self.df_resid)
        return pd.DataFrame({"estimate": self._beta, "std_error": se,
                             "df": float(self.df_resid), "statistic": t, "p_value": p},
                            index=self.coef_names)

    def summary(self, digits: int | None = None):
        """R's ``summary(lm)``; ``str()`` of it prints R's layout.

        Examples
        --------
        >>> import multilevel as ml
        >>> "Residual standard error" in str(ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).summary())
        True
        """
        from .summary import lm_summary

        return lm_summary(self, digits=digits)

    def anova(self) -> pd.DataFrame:
        """R's ``anova(lm)``: sequential sums of squares and F tests of each term.

        Examples
        --------
        >>> import multilevel as ml
        >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).anova().index.tolist()
        ['Days', 'Residuals']
        """
        lm_anova = operation("lm_anova")
        from ..report.rprint import as_anova_table

        return as_anova_table(lm_anova(self))

    def confint(self, parm=None, level: float = 0.95) -> pd.DataFrame:
        """R's ``confint(lm)``: ``estimate +- t_{df} se``.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy"))
        >>> m.confint().round(3).loc["Days"].tolist()
        [8.024, 12.911]
        """
        tab = self.coef_table()
        q = stats.t.ppf((1 + level) / 2, self.df_resid)
        out = pd.DataFrame({"lower": tab["estimate"] - q * tab["std_error"],
                            "upper": tab["estimate"] + q * tab["std_error"]})
        return out if parm is None else out.loc[[parm] if isinstance(parm, str) else list(parm)]
