"""Likelihood profiles and profile confidence intervals (lme4's ``profile`` and
``confint(method = "profile")``).

As lme4, the profile is of the ML deviance (a REML fit is refitted by ML first). The
parameters are lme4's: the standard deviations and correlations of each term (``.sig01``,
...), the residual standard deviation (``.sigma``) and the fixed effects. For a fixed value
``x`` of one parameter the deviance is minimised over all others:

* a variance parameter: lme4's ``devfun2``, the deviance as a function of the sd/cor vector
  ``s`` and ``sigma`` with ``beta`` profiled,
  ``log|L_theta|^2 + r^2_theta / sigma^2 + n log(2 pi sigma^2)`` where
  ``theta = chol(S(s)) / sigma`` term by term;
* a fixed effect ``beta_j``: the profiled ML deviance over ``theta`` of the model with
  ``x X_j`` moved into the offset. Its cross-products are a linear map of the cached
  ``A`` blocks (``[X_{-j}, y - x X_j] = [X y] M``), so no pass over the data is needed.

``zeta(x) = sign(x - x_hat) sqrt(d(x) - d_hat)``; an interval limit solves
``zeta(x) = +-z`` (Brent's method on the exact profile, where lme4 interpolates splines
through a grid). A limit not reached before a bound (a standard deviation at 0, a
correlation at +-1) is that bound, as lme4 reports it.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .profiler import FLAT, Profiler, ProfileWarning
from .profiler import sdcor_to_theta, theta_to_sdcor  # noqa: F401 - imported from here too


@dataclasses.dataclass
class Profile:
    """The profile of a fitted model (lme4's ``thpr`` object).

    Attributes
    ----------
    table : DataFrame      -- long format: ``.par`` (profiled parameter), ``.zeta`` and the
                              value of every parameter at that point (lme4's columns)
    estimates : Series     -- ML estimates of all parameters
    failures : dict        -- parameter -> why its profile failed
    notes : dict           -- parameter -> remarks (flat profile, limit at a bound)

    Examples
    --------
    >>> import multilevel as ml
    >>> pr = profile(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))
    >>> pr.confint().round(2).loc[".sigma"].tolist()
    [38.23, 67.66]
    """

    table: pd.DataFrame
    estimates: pd.Series
    failures: dict
    notes: dict
    _profiler: object = dataclasses.field(repr=False, default=None)

    def confint(self, level: float = 0.95, readable: bool = False) -> pd.DataFrame:
        """Profile confidence intervals (lme4's ``confint(profile(m))``).

        Examples
        --------
        >>> import multilevel as ml
        >>> pr = profile(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))
        >>> pr.confint(level=0.9, readable=True).index.tolist()
        ['sd_(Intercept)|Batch', 'sigma', '(Intercept)']
        """
        which = [self._profiler.names.index(p) for p in self.estimates.index]
        return _intervals(self._profiler, which, level, readable, self.failures, self.notes)


def _intervals(pr: Profiler, which, level, readable, failures, notes) -> pd.DataFrame:
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    rows = []
    for w in which:
        name = pr.names[w]
        if name in failures:
            rows.append((np.nan, np.nan))
            continue
        try:
            lo, note_lo = pr.limit(w, -z)
            hi, note_hi = pr.limit(w, z)
        except Exception as exc:  # one parameter's failure must not lose the others
            failures[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"profiling {name} failed ({failures[name]}); its interval is NaN",
                          ProfileWarning, stacklevel=3)
            rows.append((np.nan, np.nan))
            continue
        for note in (note_lo, note_hi):
            if note and notes.get(name) != note:
                notes[name] = note
                warnings.warn(f"{name}: {note}; that limit is the bound", ProfileWarning,
                              stacklevel=3)
        rows.append((lo, hi))
    labels = pr.readable if readable else pr.names
    return pd.DataFrame(rows, index=pd.Index([labels[w] for w in which]),
                        columns=["lower", "upper"])


def profile_confint(m, which=None, level: float = 0.95, readable: bool = False
                    ) -> pd.DataFrame:
    """lme4's ``confint(m, method = "profile")`` (see :func:`profile`).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> profile_confint(m).round(2).loc["(Intercept)"].tolist()
    [1486.45, 1568.55]
    """
    context, make = _profiler_for(m)
    with context:
        pr = make(m)
        idx = _which(pr, which)
        return _intervals(pr, idx, level, readable, {}, {})


def _profiler_for(m):
    """The BLAS context and the profiler class for a fit (a GLMM's is in profile_glmm)."""
    if getattr(m, "kind", None) == "glmer":
        from .profile_glmm import GlmmProfiler, glmm_blas_context

        return glmm_blas_context(m), GlmmProfiler
    from .refit import blas_context

    return blas_context(m), Profiler


def _which(pr: Profiler, which) -> list[int]:
    if which is None:
        return list(range(len(pr.names)))
    if isinstance(which, str):
        if which == "theta_":
            return list(range(pr.nvp))
        if which == "beta_":
            return list(range(pr.nvp, len(pr.names)))
        which = [which]
    out = []
    for w in which:
        if w in pr.names:
            out.append(pr.names.index(w))
        elif w in pr.readable:
            out.append(pr.readable.index(w))
        else:
            raise ValueError(f"unknown parameter {w!r}; the parameters are {pr.names}")
    return out


def profile(m, which=None, *, alphamax: float = 0.01, n_points: int = 8) -> Profile:
    """Profile the ML deviance of each parameter (lme4's ``profile(m)``).

    Parameters
    ----------
    m : LmerResult or GlmerResult
        A REML fit is refitted by ML first, as lme4 does. A GLMM's profile is of its
        Laplace (or AGQ) deviance over the sd/cor parameters and the fixed effects
        (:mod:`multilevel.inference.profile_glmm`).
    which : list of str, "theta_" or "beta_", optional
        Parameters to profile (lme4's or readable names); all by default.
    alphamax : float
        The profile extends to ``zeta = +-sqrt(qchisq(1 - alphamax, nparams))`` (lme4).
    n_points : int
        Points on each side of the estimate.

    Returns
    -------
    Profile
        With ``table`` for plotting (:func:`multilevel.plots.profile.profile`) and
        ``confint(level)``. A parameter whose profile fails (e.g. in a singular fit) is
        listed in ``failures`` with the reason; the others are kept.

    Examples
    --------
    >>> import multilevel as ml
    >>> pr = profile(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))
    >>> sorted(pr.table[".par"].unique())
    ['(Intercept)', '.sig01', '.sigma']
    """
    context, make = _profiler_for(m)
    with context:
        pr = make(m)
        idx = _which(pr, which)
        cutoff = float(np.sqrt(stats.chi2.ppf(1.0 - alphamax, len(pr.names))))
        failures, notes, frames = {}, {}, []
        for w in idx:
            name = pr.names[w]
            try:
                pts = [(0.0, pr.estimate(w))]
                for target in (-cutoff, cutoff):
                    lim, note = pr.limit(w, target)
                    if note == FLAT:
                        notes[name] = note
                    est = pr.estimate(w)
                    for x in np.linspace(est, lim, n_points + 1)[1:]:
                        pts.append((pr.zeta(w, x), x))
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"profiling {name} failed ({failures[name]}); the other "
                              "parameters are kept", ProfileWarning, stacklevel=2)
                continue
            frames.append(pr.points_frame(w, sorted(set(pts), key=lambda t: t[1])))
    cols = [".par", ".zeta"] + pr.names
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    est = pd.Series([pr.estimate(w) for w in idx], index=[pr.names[w] for w in idx])
    return Profile(table=table[cols], estimates=est, failures=failures, notes=notes,
                   _profiler=pr)
