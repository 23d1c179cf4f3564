"""``ml.cross_validate``: leave-groups-out K-fold cross-validation of a mixed model.

The levels of the grouping factor ``by`` are shuffled (seeded) and dealt into ``k`` folds
of near-equal numbers of groups. For each fold the model is refitted on the other folds'
groups (same formula, same REML/ML, family and weights; the design is subset, nothing is
parsed again) and the held-out groups are predicted at population level (lme4's
``re.form = NA``: the held-out groups are new groups, so their random effects are 0).

Scores per fold: for a linear mixed model ``rmse`` and ``mae`` of ``y - X beta``; for a
GLMM ``log_score`` (mean log-probability of the held-out responses: binomial and Poisson),
``deviance`` (sum of the family's deviance residuals, squared) and for the binomial family
``brier`` (mean squared difference of the observed proportion and the predicted
probability, weighted by the number of trials).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, two_line


@dataclass
class CrossValidation:
    """Leave-groups-out cross-validation scores.

    Attributes
    ----------
    folds : DataFrame -- one row per fold: ``n_groups``, ``n_obs`` and the scores
    mean : Series     -- the scores averaged over folds (weighted by held-out rows)
    by : str ; k : int ; seed : object
    assignment : Series -- group level -> fold number (1-based)
    """

    folds: pd.DataFrame
    mean: pd.Series
    by: str
    k: int
    seed: object
    assignment: pd.Series

    def __str__(self) -> str:
        return (f"{self.k}-fold leave-groups-out cross-validation by {self.by!r} "
                f"(seed={self.seed})\n{self.folds.to_string()}\n\nmean:\n"
                f"{self.mean.to_string()}")

    __repr__ = __str__


def _scores(m, y, eta, rows) -> dict:
    if m.kind == "lmer":
        r = y - eta
        return {"rmse": float(np.sqrt(np.mean(r ** 2))), "mae": float(np.mean(np.abs(r)))}
    fam = m._family
    mu = fam.link.linkinv(eta)
    resp = m.response
    w = np.asarray(resp.weights, dtype=float)[rows]
    y = np.asarray(resp.y, dtype=float)[rows]
    out = {}
    if fam.name == "binomial":
        n = np.asarray(resp.n_trials, dtype=float)[rows]
        k = np.rint(y * n)
        out["log_score"] = float(np.mean(stats.binom.logpmf(k, n, mu)))
    elif fam.name == "poisson":
        out["log_score"] = float(np.mean(stats.poisson.logpmf(np.rint(y), mu)))
    out["deviance"] = float(np.sum(fam.dev_resid(y, mu, w)))
    if fam.name == "binomial":
        out["brier"] = float(np.sum(w * (y - mu) ** 2) / np.sum(w))
    return out


def fold_assignment(levels, k: int, seed=None) -> np.ndarray:
    """Fold number (0-based) of each level: levels shuffled with ``seed``, dealt round-robin.

    Examples
    --------
    >>> np.bincount(fold_assignment(list("abcdefg"), 3, seed=1)).tolist()
    [3, 2, 2]
    """
    L = len(levels)
    order = np.random.default_rng(seed).permutation(L)
    fold = np.empty(L, dtype=np.int64)
    fold[order] = np.arange(L) % k
    return fold


def cross_validate(m, by: str | None = None, k: int = 10, seed=None) -> CrossValidation:
    """Leave-groups-out K-fold cross-validation (held-out groups predicted as new groups).

    Parameters
    ----------
    m : LmerResult or GlmerResult
    by : str, optional
        Grouping factor whose levels are held out (default: the model's only grouping
        factor, or the one with most levels).
    k : int
        Number of folds (at most the number of groups; ``k`` = number of groups is
        leave-one-group-out).
    seed : int, optional
        Same seed, same folds and scores.

    Returns
    -------
    CrossValidation
        ``folds`` (per fold), ``mean`` (over folds, weighted by held-out rows) and the
        fold ``assignment`` of each group.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> cv = cross_validate(m, by="Subject", k=3, seed=1)
    >>> cv.folds.columns.tolist(), round(float(cv.mean["rmse"]), 1)
    (['n_groups', 'n_obs', 'rmse', 'mae'], 49.1)
    """
    from .design_fit import refit_design, subset_rows

    kind = getattr(m, "kind", None)
    if kind not in ("lmer", "glmer"):
        raise DataError(two_line("cross_validate() is for mixed models (lmer, glmer)",
                                 "fit the model with ml.lmer or ml.glmer"))
    groups = {t.group: t for t in m.terms}
    if by is None:
        by = max(groups, key=lambda g: groups[g].n_levels)
    if by not in groups:
        raise DataError(two_line(f"no grouping factor {by!r} in the model",
                                 f"use one of {', '.join(groups)}"))
    term = groups[by]
    L = term.n_levels
    k = int(k)
    if not 2 <= k <= L:
        raise DataError(two_line(f"k={k} folds for {L} groups of {by!r}",
                                 f"use 2 <= k <= {L} (k={L} is leave-one-group-out)"))
    fold_of_level = fold_assignment(term.levels, k, seed)
    fold_of_row = fold_of_level[np.asarray(term.codes)]
    design = m.design
    off = np.zeros(m.nobs) if design.offset is None else np.asarray(design.offset, float)
    rows_out = []
    for f in range(k):
        test = np.flatnonzero(fold_of_row == f)
        train = np.flatnonzero(fold_of_row != f)
        fit = refit_design(m, subset_rows(design, train), rows=train)
        eta = design.X[test] @ np.asarray(fit.fixef, dtype=float) + off[test]
        row = {"n_groups": int(np.sum(fold_of_level == f)), "n_obs": int(test.size)}
        row.update(_scores(m, np.asarray(design.y, dtype=float)[test], eta, test))
        rows_out.append(row)
    folds = pd.DataFrame(rows_out, index=pd.RangeIndex(1, k + 1, name="fold"))
    w = folds["n_obs"].to_numpy(dtype=float)
    mean = {}
    for col in folds.columns[2:]:
        v = folds[col].to_numpy(dtype=float)
        if col == "rmse":
            mean[col] = float(np.sqrt(np.sum(w * v ** 2) / w.sum()))
        elif col == "deviance":
            mean[col] = float(v.sum() / w.sum())  # per observation
        else:
            mean[col] = float(np.sum(w * v) / w.sum())
    mean_s = pd.Series(mean, name="mean")
    if "deviance" in mean_s:
        mean_s = mean_s.rename({"deviance": "deviance_per_obs"})
    return CrossValidation(folds=folds, mean=mean_s, by=by, k=k, seed=seed,
                           assignment=pd.Series(fold_of_level + 1, index=pd.Index(
                               term.levels, name=by), name="fold"))
