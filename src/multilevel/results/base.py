"""Behaviour shared by every fitted model: printing, row labels, information criteria and
broom's verbs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .operations import operation


class ResultBase:
    """Mixin: ``str``/``repr``/``_repr_html_`` render ``summary()``; labels of the used rows.

    Subclasses provide ``design``, ``loglik``, ``n_params`` and ``nobs``.
    """

    design = None  # set by subclasses

    @property
    def row_labels(self) -> pd.Index:
        """Positions (0-based) of the data rows used in the fit."""
        return pd.Index(np.asarray(self.design.rows), name="row")

    @property
    def aic(self) -> float:
        """Akaike's information criterion, ``-2 logLik + 2 npar`` (R's ``AIC``)."""
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Schwarz's criterion, ``-2 logLik + log(n) npar`` (R's ``BIC``)."""
        return -2.0 * self.loglik + np.log(self.nobs) * self.n_params

    def summary(self, digits: int = 7):  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        summ = self.summary()
        if hasattr(summ, "_repr_html_"):
            return summ._repr_html_()
        import html

        return f"<pre>{html.escape(str(summ))}</pre>"

    # ----- broom's verbs (multilevel.report.broom) ----------------------------------------
    def tidy(self, **options):
        """One row per parameter, broom's shape; options as :func:`multilevel.report.broom.tidy`.

        Examples
        --------
        >>> import multilevel as ml
        >>> ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")).tidy()["term"].tolist()
        ['(Intercept)', 'Days']
        """
        from ..report.broom import tidy
        from ..report.rprint import as_r_data_frame  # printed whole, as R prints it

        return as_r_data_frame(tidy(self, **options))

    def glance(self):
        """Model statistics in one row (broom's ``glance``; see :mod:`multilevel.report.broom`)."""
        from ..report.broom import glance
        from ..report.rprint import as_r_data_frame

        return as_r_data_frame(glance(self))

    def augment(self, data=None):
        """The data with ``.fitted``, ``.resid`` (and ``.fixed`` for mixed models), as broom's
        ``augment``; see :func:`multilevel.report.broom.augment`."""
        from ..report.broom import augment

        return augment(self, data)

    def test(self, *hypotheses, **options):
        """Linear hypotheses about the fixed effects (car's ``linearHypothesis`` and
        multcomp's ``glht``); options as :func:`multilevel.inference.hypothesis.linear_hypothesis`.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy"))
        >>> round(float(m.test("Days = 10").joint["p_value"]), 3)
        0.706
        """
        linear_hypothesis = operation("linear_hypothesis")

        return linear_hypothesis(self, *hypotheses, **options)

    def hatvalues(self) -> pd.Series:
        """Leverages, the diagonal of the hat matrix (lme4's ``hatvalues(m)``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> round(float(m.hatvalues().iloc[0]), 4)
        0.2293
        """
        hatvalues = operation("hatvalues")

        return pd.Series(hatvalues(self), index=self.row_labels, name="hatvalues")

    def cooks_distance(self, method: str = "refit", group: str | None = None) -> pd.Series:
        """Cook's distance per observation (or per level of ``group``): by deletion refits,
        lme4's ``cooks.distance(influence(m))``, or ``method="closed"``, lme4's
        ``cooks.distance(m)``; see :mod:`multilevel.inference.influence`.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.cooks_distance(group="Batch").index.tolist()
        ['A', 'B', 'C', 'D', 'E', 'F']
        """
        cooks_distance_closed = operation("cooks_distance_closed")
        influence = operation("influence")

        if method == "closed" or getattr(self, "kind", None) == "lm":
            return pd.Series(cooks_distance_closed(self), index=self.row_labels,
                             name="cooks_distance")
        if method != "refit":
            from ..errors import MultilevelError, two_line

            raise MultilevelError(two_line(f"unknown method {method!r}",
                                           'use "refit" or "closed"'))
        cd = influence(self, group).cooks_distance
        return cd.set_axis(self.row_labels) if group is None else cd

    def influence(self, group: str | None = None, *, data=None):
        """Refit without each observation or each level of ``group`` (lme4's
        ``influence.merMod``, influence.ME's group deletion): changes in the fixed effects and
        variance components, Cook's distance; see :func:`multilevel.inference.influence.influence`.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.influence(group="Batch").var_cov_comps.columns.tolist()
        ['sigma^2', 'v[(Intercept)]']
        """
        influence = operation("influence")

        return influence(self, group, data=data)
