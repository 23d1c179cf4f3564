"""Confidence and prediction intervals for predictions (``m.predict(new, interval=...)``).

The method, in full (an analytic analogue of merTools' ``predictInterval``, which simulates):

* ``interval="confidence"``: Wald interval of the prediction's fixed part,
  ``x' beta +/- z * sqrt(x' V x)`` with ``V = vcov(m)``; random effects included by
  ``re_form`` are added to the fit as known (the interval is for the population-level
  mean when ``re_form=None``).
* ``interval="prediction"`` (linear mixed models): a new observation's interval,
  ``fit +/- z * sqrt(x' V x + v_re + sigma^2)``. For each random-effect term, ``v_re``
  adds ``z' Sigma_k z`` (the term's covariance, ``VarCorr``) when the row's group is new or
  the term is left out by ``re_form`` -- an observation from a new group -- and
  ``z' C_j z`` (the conditional variance of the group's random effects, lme4's
  ``condVar``) when the group was seen and the term is included. The covariance between
  the fixed effects and the conditional modes is ignored, as merTools does by default;
  the normal quantile is used (no degrees of freedom).

For a GLMM only ``"confidence"`` is available; with ``type="response"`` the limits on the
link scale are transformed by the inverse link.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line


def _new_terms(m, newdata, allow_new_levels: bool):
    from .._data_input import to_pandas  # polars and pyarrow too
    from ..design.model_frame import new_design

    newdata = to_pandas(newdata)
    spec = getattr(m.design, "spec", None)
    for r in getattr(spec, "re", ()):  # a missing grouping column means a new group
        for comp in r.components:
            if comp not in newdata.columns:
                newdata = newdata.assign(**{comp: "(new group)"})
    nd = new_design(m.design, newdata, allow_new_levels=True)
    out, used = {}, set()
    for nt in nd.re_terms:
        for k, t in enumerate(m.terms):
            if k not in used and t.group == nt.group and list(t.cnames) == list(nt.cnames):
                out[k] = (np.asarray(nt.codes), np.asarray(nt.Z, dtype=float))
                used.add(k)
                break
    return nd, out


def predict_interval(m, newdata=None, *, interval: str = "confidence", level: float = 0.95,
                     re_form="all", allow_new_levels: bool = False, type: str = "link"
                     ) -> pd.DataFrame:
    """Predictions with confidence or prediction limits (``fit``, ``lower``, ``upper``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
    newdata : DataFrame, optional
        Rows to predict for (the fitted rows when omitted).
    interval : {"confidence", "prediction"}
    level : float
    re_form, allow_new_levels
        As :meth:`LmerResult.predict`.
    type : {"link", "response"}
        GLMMs: the scale of the fit and limits.

    Returns
    -------
    DataFrame with columns ``fit, lower, upper`` (and ``se_fit``, the Wald standard error
    of the fixed part), indexed as ``newdata``.

    Examples
    --------
    >>> import multilevel as ml
    >>> import pandas as pd
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> new = pd.DataFrame({"Days": [0.0, 9.0]})
    >>> predict_interval(m, new, interval="prediction", re_form=None).round(1)["lower"].tolist()
    [180.4, 214.2]
    """
    if interval not in ("confidence", "prediction"):
        raise ValueError(f"interval must be 'confidence' or 'prediction', got {interval!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    glmm = getattr(m, "kind", None) == "glmer"
    if glmm and interval == "prediction":
        raise DataError(two_line(
            "prediction intervals are for linear mixed models: a GLMM's new observation is "
            "discrete and its interval is not a normal one",
            "use interval='confidence', or simulate from the model (m.simulate) for GLMMs"))
    keep = m._terms_for(re_form)
    V = np.asarray(m.vcov, dtype=float)
    beta = np.asarray(m.fixef, dtype=float)
    covs = m._term_covariances()
    if newdata is None:
        X, off = m.design.X, m.design.offset
        parts = {k: (np.asarray(t.codes), np.asarray(t.Z, dtype=float))
                 for k, t in enumerate(m.terms)}
        index = m.row_labels
    else:
        nd, parts = _new_terms(m, newdata, allow_new_levels)
        X, off = nd.X, nd.offset
        index = pd.Index(getattr(newdata, "index", np.arange(X.shape[0])))
    X = np.asarray(X, dtype=float)
    eta = X @ beta + (0.0 if off is None else np.asarray(off, dtype=float))
    var = np.einsum("ij,jk,ik->i", X, V, X)
    se_fit = np.sqrt(np.maximum(var, 0.0))
    for k, (codes, Z) in parts.items():
        ok = codes >= 0
        if k in keep:
            if np.any(~ok) and not allow_new_levels:
                raise DataError(two_line(
                    f"new levels of {m.terms[k].group!r} in newdata",
                    "pass allow_new_levels=True, or re_form=None for population predictions"))
            b = m._b[k]
            eta[ok] += np.einsum("np,np->n", Z[ok], b[codes[ok]])
        if interval == "prediction":
            new = ~ok if k in keep else np.ones(len(codes), dtype=bool)
            S = covs[k]
            var[new] += np.einsum("np,pq,nq->n", Z[new], S, Z[new])
            seen = ~new
            if np.any(seen):
                C = m._cond_var[k][codes[seen]]
                var[seen] += np.einsum("np,npq,nq->n", Z[seen], C, Z[seen])
    if interval == "prediction":
        var = var + m.sigma ** 2
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(np.maximum(var, 0.0))
    lo, hi = eta - half, eta + half
    if glmm and type == "response":
        inv = m._family.link.linkinv
        eta, lo, hi = inv(eta), inv(lo), inv(hi)
    elif type not in ("link", "response"):
        raise ValueError(f"type must be 'link' or 'response', got {type!r}")
    return pd.DataFrame({"fit": eta, "lower": np.minimum(lo, hi), "upper": np.maximum(lo, hi),
                         "se_fit": se_fit}, index=index)
