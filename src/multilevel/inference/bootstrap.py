"""Parametric bootstrap (lme4's ``bootMer``) with percentile, basic and normal intervals.

Replicate ``i`` simulates a response from the fitted model with its own random generator
(spawned from ``seed``), refits the model to it from the fitted ``theta`` (only the response
rows of the cross-products change) and applies ``func``. Replicates run in ``n_jobs``
worker processes (fork); the result does not depend on ``n_jobs``. Intervals follow the
boot package (``boot.ci``): percentile and basic limits interpolate the order statistics on
the normal scale (``norm.inter``).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .simulate import replicate_seeds, simulate_one

_STATE: dict = {}
_STATE_LOCK = threading.Lock()
POOL_MIN_SECONDS = 2.0  # below this, starting worker processes costs more than it saves


def default_statistic(fit) -> pd.Series:
    """lme4's ``confint(method = "boot")`` statistic: sd/cor parameters, sigma, fixef.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> default_statistic(m).index.tolist()
    ['.sig01', '.sigma', '(Intercept)']
    """
    from ..results.names import sig_names
    from .profile import theta_to_sdcor

    theta, tm = np.asarray(fit.theta, dtype=float), getattr(fit, "theta_map", None)
    sv = (theta_to_sdcor(theta, fit.sigma, [t.p for t in fit.terms])
          if tm is None or tm.identity else tm.sdcor(theta, fit.sigma))  # cs(), ar1(), ...
    names = sig_names(fit.terms) + [".sigma"] + list(fit.fixef.index)
    return pd.Series(np.r_[sv, np.asarray(fit.fixef, dtype=float)], index=names)


class _Progress:
    def __init__(self, total: int, enabled: bool, label: str = "bootstrap"):
        self.total, self.enabled, self.label = total, enabled, label
        self.done, self.t0, self.last = 0, time.perf_counter(), 0.0

    def update(self, k: int = 1) -> None:
        self.done += k
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and self.done < self.total):
            return
        self.last = now
        width = 30
        fill = int(width * self.done / max(self.total, 1))
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] "
                         f"{self.done}/{self.total}  {now - self.t0:.1f}s")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _one(i: int):
    from .refit import refit_response

    m, func, seeds, use_u = (_STATE[k] for k in ("m", "func", "seeds", "use_u"))
    try:
        y = simulate_one(m, np.random.default_rng(seeds[i]), use_u=use_u)
        val = np.asarray(func(refit_response(m, y)), dtype=float).ravel()
        return i, val, None
    except Exception as exc:  # a failed replicate is recorded, not fatal
        return i, None, f"{type(exc).__name__}: {exc}"


def _run_chunk(idx: list[int]):
    from .refit import blas_context

    with blas_context(_STATE["m"]):
        return [_one(i) for i in idx]


@dataclass
class BootResult:
    """Bootstrap replicates of a statistic (lme4's ``bootMer`` value).

    Attributes
    ----------
    t0 : Series          -- the statistic on the fitted model
    t : DataFrame        -- one row per replicate (NaN rows for failed refits)
    seed : int or None
    errors : dict        -- replicate -> error message, for failed refits

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> b = bootstrap(m, nsim=5, seed=1, n_jobs=1, progress=False)
    >>> b.nsim, list(b.t0.index)
    (5, ['.sig01', '.sigma', '(Intercept)'])
    """

    t0: pd.Series
    t: pd.DataFrame
    seed: object = None
    errors: dict = field(default_factory=dict)

    @property
    def nsim(self) -> int:
        return len(self.t)

    def confint(self, level: float = 0.95, type: str = "perc") -> pd.DataFrame:
        """Bootstrap intervals: ``"perc"`` (lme4's default), ``"basic"`` or ``"norm"``.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> b = bootstrap(m, nsim=20, seed=1, n_jobs=1, progress=False)
        >>> b.confint().columns.tolist()
        ['lower', 'upper']
        """
        from .._validate import check_level

        level = check_level(level)
        alpha = np.array([(1 - level) / 2, (1 + level) / 2])
        rows = []
        for name in self.t.columns:
            t = self.t[name].to_numpy(dtype=float)
            t0 = float(self.t0[name])
            if type == "perc":
                rows.append(norm_inter(t, alpha))
            elif type == "basic":
                q = norm_inter(t, alpha[::-1])
                rows.append(2.0 * t0 - q)
            elif type == "norm":
                t = t[np.isfinite(t)]
                bias = t.mean() - t0
                merr = t.std(ddof=1) * stats.norm.ppf((1 + level) / 2)
                rows.append(np.array([t0 - bias - merr, t0 - bias + merr]))
            else:
                raise ValueError(f"type must be 'perc', 'basic' or 'norm', got {type!r}")
        return pd.DataFrame(np.array(rows).reshape(-1, 2), index=self.t.columns,
                            columns=["lower", "upper"])


def norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """boot's ``norm.inter``: quantiles interpolated on the normal scale.

    Examples
    --------
    >>> norm_inter(np.arange(1.0, 100.0), np.array([0.5])).tolist()
    [50.0]
    """
    t = np.sort(np.asarray(t, dtype=float)[np.isfinite(t)])
    R = t.size
    out = np.full(len(alpha), np.nan)
    if R == 0:
        return out
    for n, a in enumerate(np.asarray(alpha, dtype=float)):
        rk = (R + 1) * a
        k = int(np.trunc(rk))
        if k == rk and 0 < k <= R:
            out[n] = t[k - 1]
        elif k <= 0:
            out[n] = t[0]
        elif k >= R:
            out[n] = t[R - 1]
        else:
            z, z1, z2 = stats.norm.ppf([a, k / (R + 1), (k + 1) / (R + 1)])
            out[n] = t[k - 1] + (z - z1) / (z2 - z1) * (t[k] - t[k - 1])
    return out


def bootstrap(m, nsim: int = 500, seed=None, func=None, *, n_jobs: int = 2,
              progress: bool | None = None, use_u: bool = False) -> BootResult:
    """Parametric bootstrap of a fitted linear mixed model (lme4's ``bootMer``).

    Parameters
    ----------
    m : LmerResult
    nsim : int
        Number of replicates.
    seed : int, optional
        Same seed, same replicates (whatever ``n_jobs``).
    func : callable, optional
        ``func(fit) -> Series or array``, applied to each refitted model (an ``LmerResult``);
        by default the standard deviations/correlations, sigma and fixed effects with
        lme4's names (``.sig01``, ..., ``.sigma``, ...).
    n_jobs : int
        Worker processes (2 by default: both cores); 1 runs in this process.
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal).
    use_u : bool
        Condition on the fitted random effects (lme4's ``use.u = TRUE``).

    Returns
    -------
    BootResult
        ``t0``, the replicates ``t``, and ``confint(level, type="perc" | "basic" | "norm")``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> b = bootstrap(m, nsim=10, seed=3, n_jobs=1, progress=False)
    >>> b.t.shape
    (10, 3)
    """
    from .._validate import check_int, check_seed

    nsim = check_int(nsim, "nsim", minimum=1)  # before any work
    n_jobs = check_int(n_jobs, "n_jobs", minimum=1)
    seed = check_seed(seed)
    if func is not None and not callable(func):
        from ..errors import DataError, two_line

        raise DataError(two_line(f"func must be a function of the refitted model, not {func!r}",
                                 "pass e.g. func=lambda m: m.fixef"))
    func = default_statistic if func is None else func
    t0 = func(m)
    names = list(t0.index) if isinstance(t0, pd.Series) else None
    t0 = np.asarray(t0, dtype=float).ravel()
    names = names or [f"t{i + 1}" for i in range(t0.size)]
    if progress is None:
        progress = sys.stderr.isatty()
    seeds = replicate_seeds(seed, nsim)
    with _STATE_LOCK:  # one bootstrap at a time uses the workers' shared state
        _STATE.update(m=m, func=func, seeds=seeds, use_u=use_u)
        bar = _Progress(nsim, progress)
        out = np.full((nsim, t0.size), np.nan)
        errors: dict = {}
        chunk = max(1, min(25, nsim // (4 * max(n_jobs, 1))))
        chunks = [list(range(s, min(s + chunk, nsim))) for s in range(0, nsim, chunk)]
        try:
            # the first chunk runs here; worker processes only when the rest takes a while
            start = time.perf_counter()
            _collect(_run_chunk(chunks[0]), out, errors, bar)
            per = (time.perf_counter() - start) / len(chunks[0])
            rest = chunks[1:]
            use_pool = (n_jobs > 1 and per * (nsim - len(chunks[0])) > POOL_MIN_SECONDS
                        and "fork" in mp.get_all_start_methods())
            if use_pool:
                with mp.get_context("fork").Pool(min(n_jobs, os.cpu_count() or 1)) as pool:
                    for res in pool.imap_unordered(_run_chunk, rest):
                        _collect(res, out, errors, bar)
            else:
                for c in rest:
                    _collect(_run_chunk(c), out, errors, bar)
        finally:
            _STATE.clear()
    return BootResult(t0=pd.Series(t0, index=names),
                      t=pd.DataFrame(out, columns=names,
                                     index=pd.RangeIndex(1, nsim + 1, name="replicate")),
                      seed=seed, errors=errors)


def _collect(res, out, errors, bar) -> None:
    for i, val, err in res:
        if err is None and val.size == out.shape[1]:
            out[i] = val
        else:
            errors[i + 1] = err or f"func returned {val.size} values, expected {out.shape[1]}"
        bar.update()
