"""Leverage and influence of observations and groups (lme4 1.1-31's ``hatvalues``,
``cooks.distance`` and ``influence.merMod``; influence.ME / HLMdiag's group deletion).

* ``hatvalues``: the diagonal of the hat matrix of the penalised least-squares problem,
  ``h_i = w_i u_i' M^{-1} u_i`` with ``u_i = (Lambda' z_i, x_i)`` and
  ``M = [Lambda'Z'WZ Lambda + I, Lambda'Z'WX; X'WZ Lambda, X'WX]`` (lme4's ``CL'CL + CR'CR``);
* Cook's distance by deletion (lme4's ``cooks.distance(influence(m))``): refit without each
  case (or group), ``D_i = (b_(i) - b)' V^{-1} (b_(i) - b) (n - p) / (n p)`` with ``V`` the
  full fit's ``vcov``, ``n`` the number of deleted units and ``p`` the number of fixed
  effects; the closed form ``method="closed"`` is lme4's ``cooks.distance(m)``,
  ``(r_i / (1 - h_i))^2 h_i / (sigma^2 p)`` with Pearson residuals;
* leave-one-group-out refits: changes of the fixed effects and of the variance components
  (lme4's ``var.cov.comps``: ``sigma^2``, then each term's variances and covariances).

lmer refits reuse the design (no re-parsing): the rows are subset, unused levels dropped, and
the optimiser starts at the full fit's ``theta`` (lme4's ``start = par``). glmer refits go
through :func:`multilevel.glmer` on the data without the unit (pass ``data=``), as lme4's
``update``.
"""
from __future__ import annotations

import dataclasses
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._data_input import to_pandas
from ..errors import DataError, MultilevelError, two_line

DENSE_LIMIT = 4000
MANY_REFITS = 2000


def _u_matrix(m) -> sp.csr_matrix:
    """``Z Lambda`` (n x q) in lme4's term order, sparse."""
    from ..core.theta import split_theta

    Ts = split_theta(np.asarray(m._theta_hat, dtype=float), [t.p for t in m.terms])
    n = m.nobs
    blocks = []
    for t, T in zip(m.terms, Ts):
        ZT = np.asarray(t.Z, dtype=float) @ T  # row i: z_i' T
        p = t.p
        codes = np.asarray(t.codes, dtype=np.int64)
        rows = np.repeat(np.arange(n), p)
        cols = (codes[:, None] * p + np.arange(p)[None, :]).ravel()
        blocks.append(sp.csr_matrix((ZT.ravel(), (rows, cols)), shape=(n, t.n_levels * p)))
    return sp.hstack(blocks, format="csr") if blocks else sp.csr_matrix((n, 0))


def hatvalues(m) -> np.ndarray:
    """Diagonal of the hat matrix, as lme4's ``hatvalues(m)`` (one value per used row).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(float(hatvalues(m)[0]), 5)
    0.2293
    """
    if getattr(m, "kind", None) not in ("lm", "lmer") or not hasattr(m, "design"):
        raise MultilevelError(two_line("hatvalues are available for ml.lm and ml.lmer fits",
                                       "lme4 itself warns that the hat matrix may not make "
                                       "sense for GLMMs"))
    if getattr(m, "kind", None) == "lm":
        X = m.design.X[:, m._estimable]
        Q, _ = np.linalg.qr(X)
        return np.sum(Q ** 2, axis=1)
    U = _u_matrix(m)
    X = np.asarray(m.design.X, dtype=float)
    w = getattr(m, "weights", None)
    sw = np.ones(m.nobs) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Uw = sp.diags(sw) @ U
    Xw = X * sw[:, None]
    B = sp.hstack([Uw, sp.csr_matrix(Xw)], format="csc")
    q = U.shape[1]
    M = (B.T @ B).tocsc() + sp.block_diag([sp.identity(q), sp.csr_matrix((X.shape[1],) * 2)])
    if M.shape[0] <= DENSE_LIMIT:
        from scipy.linalg import cho_factor, cho_solve

        Md = M.toarray()
        c = cho_factor(Md, lower=True)
        Bd = B.toarray()
        return np.einsum("ij,ji->i", Bd, cho_solve(c, Bd.T))
    from scipy.sparse.linalg import splu

    lu = splu(M)
    out = np.empty(m.nobs)
    Bt = B.T.tocsc()
    for s in range(0, m.nobs, 1000):
        e = min(m.nobs, s + 1000)
        rhs = Bt[:, s:e].toarray()
        out[s:e] = np.sum(rhs * lu.solve(rhs), axis=0)
    return out


def cooks_distance_closed(m) -> np.ndarray:
    """lme4's ``cooks.distance(m)``: ``(r / (1 - h))^2 h / (sigma^2 p)``, Pearson residuals.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(float(cooks_distance_closed(m)[0]), 5)
    0.00496
    """
    h = hatvalues(m)
    p = int(np.linalg.matrix_rank(m.design.X))
    kind = getattr(m, "kind", None)
    r = np.asarray(m.residuals(type="pearson") if kind != "lm" else m.residuals(),
                   dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (r / (1.0 - h)) ** 2 * h / (m.sigma ** 2 * p)
    d[np.isinf(d)] = np.nan
    return d


# ----- deletion refits -------------------------------------------------------------------------
def _check_lmer(m):
    if getattr(m, "kind", None) != "lmer" or not hasattr(m, "problem"):
        raise MultilevelError(two_line(
            "deletion refits are available for models fitted with ml.lmer (and ml.glmer "
            "with data=) in memory", "use method='closed' for Cook's distance of lm fits"))


def refit_without(m, drop: np.ndarray, start=None):
    """Refit ``m`` on the used rows not in ``drop`` (a boolean mask over the used rows).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> drop = np.zeros(m.nobs, bool); drop[:10] = True
    >>> refit_without(m, drop).nobs
    170
    """
    from ..core.covstruct import ThetaMap
    from ..core.optimize import bobyqa
    from ..design.problem import lmer_problem
    from ..results.lmm import LmerResult
    from .design_fit import subset_rows
    from .refit import SINGULAR_TOL

    keep = ~np.asarray(drop, dtype=bool)
    sub = subset_rows(m.design, keep)
    by_id = {id(t): s for t, s in zip(m.design.re_terms, sub.re_terms)}
    terms = [by_id[id(t)] for t in m.terms]  # m's term order, so its theta starts the fit
    w = None if getattr(m, "weights", None) is None else np.asarray(m.weights)[keep]
    problem = lmer_problem(sub, terms, reml=m.reml, weights=w)
    tm = ThetaMap.for_terms(terms)
    theta0 = np.asarray(m._theta_hat if start is None else start, dtype=float)
    opt = bobyqa(tm.wrap(problem.objective), tm.phi(theta0), tm.lower)
    return LmerResult(design=sub, terms=terms, problem=problem, opt=opt,
                      data_name=m.data_name, singular=tm.is_singular(opt.theta, SINGULAR_TOL),
                      weights=w)


def _null():
    import contextlib

    return contextlib.nullcontext()


def _glmer_refitter(m, data):
    """Refits of a glmer model on its data without some rows (lme4's ``update``)."""
    from ..results.operations import operation

    glmer = operation("glmer")
    if data is None:
        raise DataError(two_line("deletion refits of a glmer model need its data",
                                 "pass data=, the data the model was fitted to"))
    if getattr(m, "nb_theta", None) is not None:
        raise MultilevelError(two_line("deletion refits are not available for glmer_nb fits",
                                       "refit the subsets with ml.glmer_nb yourself"))
    w = np.asarray(m.problem.data.weights, dtype=float)
    if m.design.offset is not None and not m.design.spec.offsets or (
            m.design.spec.response.shape[1] == 1 and not np.allclose(w, 1.0)):
        raise MultilevelError(two_line(
            "this glmer fit used weights= or offset= arguments, which are not kept",
            "write the offset in the formula (offset(log(n))), or refit the subsets yourself"))
    used = to_pandas(data).iloc[np.asarray(m.design.rows)]

    def refit(drop):
        return glmer(m.formula, used[~np.asarray(drop)], family=m._family, n_agq=m.n_agq,
                     data_name=m.data_name)

    return refit


def _var_cov_comps(m) -> pd.Series:
    """lme4's ``var.cov.comps``: ``sigma^2``, then per term the lower triangle by column."""
    vals = {"sigma^2": float(m.sigma) ** 2}
    groups = [t.group for t in m.terms]
    single = len(groups) == 1
    for t, S in zip(m.terms, m._term_covariances()):
        pre = "" if single else t.group + ":"
        c = t.cnames
        for j in range(t.p):
            for i in range(j, t.p):
                nm = f"v[{c[i]}]" if i == j else f"C[{c[i]},{c[j]}]"
                vals[pre + nm] = float(S[i, j])
    return pd.Series(vals)


@dataclasses.dataclass
class Influence:
    """Leave-one-unit-out refits (lme4's ``influence.merMod`` for ``groups=``).

    Attributes
    ----------
    group : str                  -- the deleted variable (``"case"`` for observations)
    fixef : DataFrame            -- fixed effects without each unit (rows: units)
    var_cov_comps : DataFrame    -- ``sigma^2`` and the variance components without each unit
    dfbeta : DataFrame           -- ``fixef - m.fixef``
    cooks_distance : Series      -- Cook's distance of each unit (lme4's formula)
    converged : Series; function_evals : Series

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> inf = m.influence(group="Batch")
    >>> inf.dfbeta.shape, inf.var_cov_change.columns.tolist()
    ((6, 1), ['sigma^2', 'v[(Intercept)]'])
    >>> bool((inf.cooks_distance >= 0).all())
    True
    """

    group: str
    fixef: pd.DataFrame
    var_cov_comps: pd.DataFrame
    full_fixef: pd.Series
    full_var_cov_comps: pd.Series
    vcov: np.ndarray
    converged: pd.Series
    function_evals: pd.Series

    @property
    def dfbeta(self) -> pd.DataFrame:
        """Fixed effects without each unit minus the full fit's (lme4's ``dfbeta``)."""
        return self.fixef - self.full_fixef

    @property
    def var_cov_change(self) -> pd.DataFrame:
        """Changes of the variance components (HLMdiag's ``varcomp.mm`` view)."""
        return self.var_cov_comps - self.full_var_cov_comps

    @property
    def cooks_distance(self) -> pd.Series:
        """lme4's ``cooks.distance(influence(m))``: ``db' V^{-1} db (n - p) / (n p)``."""
        db = self.dfbeta.to_numpy()
        n, p = db.shape
        Vinv = (n - p) / (n * p) * np.linalg.inv(self.vcov)
        d = np.einsum("ij,jk,ik->i", db, Vinv, db)
        return pd.Series(d, index=self.fixef.index, name="cooks_distance")

    @property
    def cooks_distance_me(self) -> pd.Series:
        """Cook's distance as influence.ME and HLMdiag define it, ``db' V^{-1} db / p``
        (lme4's value times ``n / (n - p)``)."""
        db = self.dfbeta.to_numpy()
        p = db.shape[1]
        d = np.einsum("ij,jk,ik->i", db, np.linalg.inv(self.vcov), db) / p
        return pd.Series(d, index=self.fixef.index, name="cooks_distance")

    def __repr__(self) -> str:
        cd = self.cooks_distance
        top = cd.sort_values(ascending=False).head(5)
        lines = [f"Influence of each {self.group} ({len(cd)} refits; "
                 f"{int((~self.converged).sum())} not converged)",
                 "Largest Cook's distances:"]
        lines += [f"  {k}: {v:.4g}" for k, v in top.items()]
        return "\n".join(lines)


def _units(m, group, data) -> tuple[str, np.ndarray, list]:
    """(name, unit code per used row, unit labels in order of first appearance)."""
    n = m.nobs
    if group is None:
        return "case", np.arange(n), [str(int(r) + 1) for r in np.asarray(m.design.rows)]
    for t in m.terms:
        if t.group == group:
            codes = np.asarray(t.codes)
            first = pd.unique(codes)
            remap = np.empty(t.n_levels, dtype=np.int64)
            remap[first] = np.arange(len(first))
            return group, remap[codes], [t.levels[i] for i in first]
    if data is not None and group in data:
        vals = to_pandas(data)[group].iloc[np.asarray(m.design.rows)].astype(str).to_numpy()
        codes, labels = pd.factorize(vals)
        return group, codes, list(labels)
    raise DataError(two_line(f"{group!r} is not a grouping factor of the model",
                             f"use one of {[t.group for t in m.terms]}, or pass data= "
                             "holding that column"))


def influence(m, group: str | None = None, *, data=None) -> Influence:
    """Refit without each observation (default) or each level of ``group``.

    Parameters
    ----------
    m : LmerResult, or GlmerResult with ``data=``
    group : str, optional
        A grouping factor of the model (``"schnum"``) or, with ``data=``, any column.
    data : DataFrame, optional
        The data of the fit (needed for glmer, and to delete by a column that is not a
        grouping factor).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> inf = influence(m, "Subject")
    >>> inf.cooks_distance.idxmax()
    '309'
    """
    from .refit import blas_context

    name, codes, labels = _units(m, group, data)
    if len(labels) > MANY_REFITS:
        import warnings

        warnings.warn(f"{len(labels)} refits (one per {name}); this may take a while. "
                      "Delete groups instead (group=...) or use lme4's closed-form Cook's "
                      "distance, m.cooks_distance(method='closed')", UserWarning, stacklevel=3)
    if getattr(m, "kind", None) == "glmer":
        refit = _glmer_refitter(m, data)
    else:
        _check_lmer(m)
        refit = lambda drop: refit_without(m, drop)  # noqa: E731
    fix, vcs, conv, fev = [], [], [], []
    with blas_context(m) if hasattr(m.problem, "A") else _null():
        for u in range(len(labels)):
            try:
                r = refit(codes == u)
                fix.append(np.asarray(r.fixef, dtype=float))
                vcs.append(_var_cov_comps(r).to_numpy())
                rc = str(r.opt_summary.return_code).upper()
                conv.append("MAXEVAL" not in rc and "FAIL" not in rc and "ERROR" not in rc)
                fev.append(int(r.opt_summary.feval))
            except Exception:  # noqa: BLE001 - a failed refit is reported, not raised
                fix.append(np.full(len(m.fixef), np.nan))
                vcs.append(np.full(len(_var_cov_comps(m)), np.nan))
                conv.append(False)
                fev.append(0)
    full_vc = _var_cov_comps(m)
    idx = pd.Index(labels, name=name)
    return Influence(
        group=name,
        fixef=pd.DataFrame(np.vstack(fix), index=idx, columns=m.fixef.index),
        var_cov_comps=pd.DataFrame(np.vstack(vcs), index=idx, columns=full_vc.index),
        full_fixef=m.fixef.copy(), full_var_cov_comps=full_vc,
        vcov=np.asarray(m.vcov, dtype=float),
        converged=pd.Series(conv, index=idx), function_evals=pd.Series(fev, index=idx))


def cooks_distance(m, method: str = "refit", group: str | None = None) -> np.ndarray:
    """Cook's distance per observation: by deletion refits (lme4's
    ``cooks.distance(influence(m))``, default) or ``method="closed"`` (``cooks.distance(m)``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    >>> cooks_distance(m).shape
    (30,)
    """
    if method == "closed":
        return cooks_distance_closed(m)
    if method != "refit":
        raise MultilevelError(two_line(f"unknown method {method!r}", 'use "refit" or "closed"'))
    if getattr(m, "kind", None) == "lm":
        return cooks_distance_closed(m)
    return influence(m, group).cooks_distance.to_numpy()
