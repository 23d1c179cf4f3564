"""Intraclass correlation and Nakagawa's R² (R's performance::icc and ::r2_nakagawa).

The variance components are insight's ``get_variance``:

* ``var_fixed``: the sample variance (``n - 1``) of the fixed-effects predictions ``X beta``;
* ``var_random``: for each random-effect term with covariance ``Sigma``, the mean over the
  observations of ``z_i' Sigma z_i``, where ``z_i`` are the columns of ``X`` named as the
  term's columns (Johnson 2014's extension to random slopes); summed over terms;
* ``var_residual``: ``sigma^2``.

``ICC_adjusted = var_random / (var_random + var_residual)``; ``ICC_unadjusted`` (performance's
name; ``ICC_conditional`` is kept as an alias) also has ``var_fixed`` in the denominator. ``R2_marginal = var_fixed /
total``, ``R2_conditional = (var_fixed + var_random) / total``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def variance_components(m) -> pd.Series:
    """insight's ``get_variance(m)``: fixed, random and residual variance.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> variance_components(m).round(0).to_dict()
    {'var_fixed': 909.0, 'var_random': 1698.0, 'var_residual': 655.0}
    """
    X = m.design.X
    xnames = list(m.design.xnames)
    pred = X @ np.asarray(m.fixef, dtype=float)
    var_fixed = float(np.var(pred, ddof=1)) if pred.size > 1 else 0.0
    var_random = 0.0
    Ts = m.problem.factor(np.asarray(m.theta, dtype=float)).T
    for t, T in zip(m.terms, Ts):
        S = m.sigma ** 2 * (T @ T.T)
        keep = [i for i, c in enumerate(t.cnames) if c in xnames]
        if not keep:
            continue
        Z = X[:, [xnames.index(t.cnames[i]) for i in keep]]
        Sk = S[np.ix_(keep, keep)]
        var_random += float(np.einsum("ni,ij,nj->", Z, Sk, Z) / X.shape[0])
    return pd.Series({"var_fixed": var_fixed, "var_random": var_random,
                      "var_residual": float(m.sigma ** 2)})


class IccSeries(pd.Series):
    """A Series whose old key ``ICC_conditional`` still reads ``ICC_unadjusted``.

    Examples
    --------
    >>> s = IccSeries({"ICC_adjusted": 0.5, "ICC_unadjusted": 0.25})
    >>> float(s["ICC_conditional"]), float(s.get("ICC_conditional"))
    (0.25, 0.25)
    """

    _aliases = {"ICC_conditional": "ICC_unadjusted"}

    @property
    def _constructor(self):
        return pd.Series  # derived objects are plain Series

    def __getitem__(self, key):
        if isinstance(key, str) and key not in self.index:
            key = self._aliases.get(key, key)
        return super().__getitem__(key)


def icc(m) -> pd.Series:
    """Adjusted and unadjusted ICC, named as ``performance::icc(m)`` prints them.

    ``ICC_conditional`` (the earlier name of ``ICC_unadjusted``) still works as a key.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> icc(m).round(3).to_dict()
    {'ICC_adjusted': 0.722, 'ICC_unadjusted': 0.521}
    """
    v = variance_components(m)
    rr = v["var_random"] + v["var_residual"]
    return IccSeries({"ICC_adjusted": v["var_random"] / rr,
                      "ICC_unadjusted": v["var_random"] / (rr + v["var_fixed"])})


def r2(m) -> pd.Series:
    """Nakagawa's marginal and conditional R², as ``performance::r2_nakagawa(m)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> r2(m).round(3).to_dict()
    {'R2_conditional': 0.799, 'R2_marginal': 0.279}
    """
    v = variance_components(m)
    total = v.sum()
    return pd.Series({"R2_conditional": (v["var_fixed"] + v["var_random"]) / total,
                      "R2_marginal": v["var_fixed"] / total})
