"""Responses simulated from a fitted linear mixed model (lme4's ``simulate.merMod``).

Each replicate draws new spherical random effects ``u ~ N(0, I)`` and residuals
``e ~ N(0, I)`` and returns ``y* = X beta + offset + Z Lambda u sigma + sigma e``
(lme4's default ``use.u = FALSE``). Replicate ``i`` uses its own generator, spawned from
``seed`` (``numpy.random.SeedSequence``), so a replicate does not depend on how many are
drawn or on which process draws it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def replicate_seeds(seed, nsim: int) -> list:
    """Independent child seeds of ``seed``, one per replicate.

    Examples
    --------
    >>> a, b = replicate_seeds(1, 2)
    >>> np.random.default_rng(a).normal() != np.random.default_rng(b).normal()
    True
    """
    from .._validate import check_allocation, check_int, check_seed

    nsim = check_int(nsim, "nsim", minimum=1)
    seed = check_seed(seed)
    check_allocation(400.0 * nsim, f"{nsim:,} replicates", "ask for fewer replicates (nsim)")
    if type(seed).__name__ == "SeedSequence":
        return seed.spawn(nsim)
    return np.random.SeedSequence(seed).spawn(nsim)


def simulate_one(m, rng: np.random.Generator, *, use_u: bool = False,
                 keep: set | None = None) -> np.ndarray:
    """One simulated response vector for the rows used in the fit.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> simulate_one(m, np.random.default_rng(0)).shape
    (30,)
    """
    sigma = m.sigma
    X = m.design.X
    eta = X @ np.asarray(m.fixef, dtype=float) if X.shape[1] else np.zeros(m.nobs)
    if m.design.offset is not None:
        eta = eta + m.design.offset
    Ts = m.problem.factor(np.asarray(m.theta, dtype=float)).T
    for k, (t, T) in enumerate(zip(m.terms, Ts)):
        if use_u or (keep is not None and k in keep):  # conditional on the fitted modes
            b = m._sol.b[k]
        else:
            u = rng.standard_normal((t.n_levels, t.p))
            b = sigma * (u @ T.T)
        eta = eta + np.einsum("np,np->n", np.asarray(t.Z), b[np.asarray(t.codes)])
    return eta + sigma * rng.standard_normal(m.nobs)


def simulate(m, nsim: int = 1, seed=None, *, use_u: bool = False,
             re_form=None) -> pd.DataFrame:
    """Simulate responses from the fitted model (lme4's ``simulate(m, nsim, seed)``).

    Parameters
    ----------
    m : LmerResult
    nsim : int
        Number of replicates.
    seed : int or None
        Same seed, same draws.
    use_u : bool
        Keep the fitted conditional modes instead of drawing new random effects.
    re_form : None (default), "all" or a formula of random terms
        lme4's ``re.form``: the terms it names (e.g. ``"~ (1 | Subject)"`` or
        ``"~ 1 | Subject"``) keep their fitted conditional modes and the others get new
        draws; None draws every term anew (lme4's ``re.form = NA``), ``"all"`` is
        ``use_u=True`` (``re.form = NULL``).

    Returns
    -------
    DataFrame, one column per replicate (``sim_1``, ``sim_2``, ...), one row per observation
    used in the fit (indexed as ``m.fitted``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> sims = simulate(m, nsim=3, seed=42)
    >>> sims.shape, bool((sims == simulate(m, nsim=3, seed=42)).all().all())
    ((180, 3), True)
    """
    from .._validate import check_allocation, check_bool, check_int

    nsim = check_int(nsim, "nsim", minimum=1)
    use_u = check_bool(use_u, "use_u")
    from ..design.prediction import re_columns

    keep = set(re_columns(m.terms, re_form))
    check_allocation(16.0 * nsim * max(int(m.nobs), 1), f"{nsim:,} simulated responses of "
                     f"{int(m.nobs):,} rows", "ask for fewer replicates (nsim)")
    cols = {f"sim_{i + 1}": simulate_one(m, np.random.default_rng(s), use_u=use_u, keep=keep)
            for i, s in enumerate(replicate_seeds(seed, nsim))}
    return pd.DataFrame(cols, index=m.row_labels)
