"""Behaviour shared by every fitted model: printing, row labels, information criteria and
broom's verbs."""
from __future__ import annotations

import numpy as np
import pandas as pd


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
        from ..inference.hypothesis import linear_hypothesis

        return linear_hypothesis(self, *hypotheses, **options)
