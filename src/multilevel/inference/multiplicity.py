"""Multiplicity adjustments of p-values and confidence levels, as emmeans and multcomp do.

* R's ``p.adjust`` methods: ``holm``, ``hochberg``, ``hommel``, ``bonferroni``, ``BH``
  (``fdr``), ``BY``, ``none``;
* emmeans' own: ``tukey`` (studentized range with ``sqrt(2) |t|``), ``sidak``
  (``1 - (1 - p)^k``), ``dunnettx`` (Tukey-Sidak blend of emmeans' ``.pdunnx``) and
  ``mvt`` (the multivariate t distribution of the statistics, multcomp's single-step
  method; evaluated by scipy's quasi-Monte Carlo integration, so the last digits vary
  with the seed as they do in R's ``mvtnorm``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import MultilevelError, two_line

MVT_POINTS = 100_000
P_ADJUST = ("holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none")
METHODS = ("tukey", "sidak", "dunnettx", "mvt", "scheffe") + P_ADJUST


def check_method(adjust: str) -> str:
    """Validate an adjustment name (R's partial matching is not done).

    Examples
    --------
    >>> check_method("Tukey")
    'tukey'
    """
    a = str(adjust)
    low = a.lower()
    for m in METHODS:
        if low == m.lower():
            return m
    raise MultilevelError(two_line(f"unknown p-value adjustment {adjust!r}",
                                   f"use one of {', '.join(METHODS)}"))


def p_adjust(p, method: str = "holm", n: int | None = None) -> np.ndarray:
    """R's ``p.adjust(p, method, n)``.

    Examples
    --------
    >>> p_adjust([0.01, 0.04, 0.03], "holm").round(4).tolist()
    [0.03, 0.06, 0.06]
    >>> p_adjust([0.01, 0.04, 0.03], "BH").round(4).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = int(ok.sum()) if n is None else int(n)
    method = "BH" if method == "fdr" else method
    if q.size == 0 or method == "none" or n <= 1:
        out[ok] = q
        return out
    if method == "bonferroni":
        r = np.minimum(1.0, n * q)
    elif method == "holm":
        o = np.argsort(q, kind="stable")
        r = np.empty_like(q)
        r[o] = np.minimum(1.0, np.maximum.accumulate((n - np.arange(q.size)) * q[o]))
    elif method == "hochberg":
        o = np.argsort(-q, kind="stable")
        i = np.arange(q.size, 0, -1)
        r = np.empty_like(q)
        r[o] = np.minimum(1.0, np.minimum.accumulate((n - i + 1) * q[o]))
    elif method in ("BH", "BY"):
        o = np.argsort(-q, kind="stable")
        i = np.arange(q.size, 0, -1)
        c = np.sum(1.0 / np.arange(1, n + 1)) if method == "BY" else 1.0
        r = np.empty_like(q)
        r[o] = np.minimum(1.0, np.minimum.accumulate(c * n / i * q[o]))
    elif method == "hommel":
        r = _hommel(q)
    else:
        raise MultilevelError(two_line(f"unknown p.adjust method {method!r}",
                                       f"use one of {', '.join(P_ADJUST)}"))
    out[ok] = r
    return out


def _hommel(p: np.ndarray) -> np.ndarray:
    n = p.size
    i = np.arange(1, n + 1)
    o = np.argsort(p, kind="stable")
    p = p[o]
    ro = np.argsort(o, kind="stable")
    q = pa = np.full(n, np.min(n * p / i))
    for m in range(n - 1, 1, -1):
        i1 = np.arange(0, n - m + 1)
        i2 = np.arange(n - m + 1, n)
        q1 = np.min(m * p[i2] / np.arange(2, m + 1))
        q = q.copy()
        q[i1] = np.minimum(m * p[i1], q1)
        q[i2] = q[n - m]
        pa = np.maximum(pa, q)
    return np.maximum(pa, p)[ro]


def _ptukey_upper(q, k, df):
    q, df = np.broadcast_arrays(np.asarray(q, float), np.asarray(df, float))
    out = np.empty(q.shape)
    for idx in np.ndindex(q.shape):
        out[idx] = stats.studentized_range.sf(q[idx], k, df[idx]) if q[idx] > 0 else 1.0
    return out


def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    fin = np.isfinite(x)
    if not fin.any():
        return x
    mx = np.max(np.abs(x[fin]))
    d = max(0, digits - int(np.ceil(np.log10(mx)))) if mx > 0 else digits
    return np.where(fin, np.round(x, d), x)


def adjust_p(t, df, adjust: str, fam_size: int, corr=None, seed: int = 1,
             rank: int | None = None) -> np.ndarray:
    """Adjusted two-sided p-values of one family of t (or z, ``df = inf``) statistics.

    Parameters
    ----------
    t, df : arrays of the statistics and their degrees of freedom
    adjust : one of :data:`METHODS`
    fam_size : number of means compared (Tukey's range), emmeans' ``famSize``
    corr : correlation matrix of the statistics (``mvt`` only)
    rank : rank of the family's contrasts (``scheffe`` only)

    Examples
    --------
    >>> adjust_p([2.0, 0.5, 1.0], [20, 20, 20], "tukey", 3).round(4).tolist()
    [0.1381, 0.8721, 0.5854]
    """
    t = np.asarray(t, dtype=float)
    df = np.where(np.isnan(np.asarray(df, dtype=float)), np.inf, np.asarray(df, dtype=float))
    df = np.broadcast_to(df, t.shape)
    p = 2.0 * stats.t.sf(np.abs(t), df)
    k = t.size
    if adjust == "none" or k == 0:
        return p
    if adjust in P_ADJUST:
        return p_adjust(p, adjust, n=k)
    if adjust == "sidak":
        return 1.0 - (1.0 - p) ** k
    if adjust == "tukey":
        return _ptukey_upper(np.sqrt(2.0) * np.abs(t), fam_size, _zapsmall(df.astype(float)))
    if adjust == "dunnettx":
        return 1.0 - _pdunnx(np.abs(t), k, df)
    if adjust == "mvt":
        return np.array([1.0 - mvt_prob(abs(ti), corr, df_i, seed) for ti, df_i in zip(t, df)])
    if adjust == "scheffe":
        r = k if rank is None else int(rank)
        return stats.f.sf(t ** 2 / r, r, df)
    raise MultilevelError(two_line(f"adjustment {adjust!r} is not available for tests",
                                   "use tukey, sidak, bonferroni, holm, mvt or none"))


def _pdunnx(x, k, df):
    twt = (k - 1.0) / k
    tukey = 1.0 - _ptukey_upper(np.sqrt(2.0) * x, (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0, df)
    sidak = stats.f.cdf(x ** 2, 1, df) ** k
    return twt * tukey + (1.0 - twt) * sidak


def mvt_prob(c: float, corr: np.ndarray, df: float, seed: int = 1) -> float:
    """``P(max |T_i| <= c)`` for a multivariate t (normal when ``df`` is infinite).

    Examples
    --------
    >>> round(mvt_prob(1.959964, np.eye(1), np.inf), 4)
    0.95
    """
    corr = np.atleast_2d(np.asarray(corr, dtype=float))
    k = corr.shape[0]
    if k == 1:
        return float(1.0 - 2.0 * stats.t.sf(c, df))
    lo, hi = np.full(k, -c), np.full(k, c)
    rng = np.random.default_rng(seed)
    if not np.isfinite(df):
        dist = stats.multivariate_normal(mean=np.zeros(k), cov=corr, allow_singular=True)
        return float(dist.cdf(hi, lower_limit=lo, rng=rng))
    dist = stats.multivariate_t(loc=np.zeros(k), shape=corr, df=df, allow_singular=True)
    # scipy's default number of points leaves errors near 1e-4; 1e5 points give ~1e-5
    return float(dist.cdf(hi, lower_limit=lo, random_state=rng, maxpts=MVT_POINTS))


def critical_value(level: float, df, adjust: str, fam_size: int, k: int, corr=None,
                   seed: int = 1, rank: int | None = None) -> np.ndarray:
    """Multiplier of the standard error for simultaneous intervals (emmeans' confint).

    Examples
    --------
    >>> round(float(critical_value(0.95, [210.0], "tukey", 6, 15)[0]), 4)
    2.8762
    """
    df = np.asarray(df, dtype=float)
    df = np.where(np.isnan(df), np.inf, df)
    if adjust in ("none",) or k <= 1:
        return stats.t.ppf(0.5 + level / 2.0, df)
    if adjust == "tukey":
        return np.array([stats.studentized_range.ppf(level, fam_size, d) for d in df]) / np.sqrt(2.0)
    if adjust == "sidak":
        return stats.t.ppf((1.0 + level ** (1.0 / k)) / 2.0, df)
    if adjust == "bonferroni":
        return stats.t.ppf(1.0 - (1.0 - level) / (2.0 * k), df)
    if adjust == "scheffe":
        r = k if rank is None else int(rank)
        return np.sqrt(r * stats.f.ppf(level, r, df))
    if adjust == "mvt":
        from scipy.optimize import brentq

        out = []
        for d in df:
            out.append(brentq(lambda c: mvt_prob(c, corr, d, seed) - level, 0.0, 50.0,
                              xtol=1e-8))
        return np.asarray(out)
    # p.adjust methods other than Bonferroni have no interval form: emmeans uses Bonferroni
    return stats.t.ppf(1.0 - (1.0 - level) / (2.0 * k), df)
