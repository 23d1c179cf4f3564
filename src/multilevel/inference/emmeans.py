"""Estimated marginal means and their contrasts, as R's emmeans (1.8) computes them.

The reference grid is emmeans' ``ref_grid``: every factor of the fixed part at all its
levels (``factor(x)`` counts as the factor ``x``), every numeric covariate at its mean over
the rows used in the fit; the marginal mean of a level is the equally weighted average of
the grid's predictions over the other factors. For each linear function ``l`` of the fixed
effects the estimate is ``l' beta``, its variance ``l' V l`` and its df

* ``lmer``: Kenward-Roger (emmeans' default: pbkrtest's adjusted ``V`` and ``Lb_ddf``),
  Satterthwaite (lmerTest), or ``"asymptotic"`` / ``None`` (z); as emmeans, models with more
  than 3000 observations fall back to asymptotic df unless the limit is raised;
* ``lm``: the residual df; ``glmer``: asymptotic (z), on the link scale unless
  ``type="response"`` (back-transformed with the delta method, as emmeans' ``regrid``).

Rows that are not estimable (rank-deficient fits) are NaN, emmeans' ``nonEst``. The grid
itself is built in :mod:`multilevel.inference.refgrid`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, MultilevelError, two_line
from . import multiplicity as mult
from .refgrid import _fit_factors, _full_matrix, _grid_variables, _null_basis, _weights

DEFAULT_LIMIT = 3000
_LINK_LABEL = {"logit": "prob", "probit": "prob", "cloglog": "prob", "cauchit": "prob",
               "log": "rate"}


@dataclass
class _Basis:
    names: list
    bhat: np.ndarray
    V: np.ndarray
    dffun: object
    mode: str | None
    link: str | None = None
    family: str | None = None
    linkinv: object = None
    mu_eta: object = None
    notes: list = field(default_factory=list)


#: Response transformations emmeans recognises: name -> (inverse, its derivative).
_TRANS = {"log": (np.exp, np.exp), "log2": (lambda x: 2.0 ** x, lambda x: np.log(2.0) * 2.0 ** x),
          "log10": (lambda x: 10.0 ** x, lambda x: np.log(10.0) * 10.0 ** x),
          "sqrt": (lambda x: x ** 2, lambda x: 2.0 * x)}
#: Base of the ratios that back-transformed contrasts become.
_RATIO_BASE = {"log": np.e, "log2": 2.0, "log10": 10.0, "logit": np.e}


def _response_tran(m) -> str | None:
    """``log`` for ``log(y) ~ ...`` (and log2, log10, sqrt), as emmeans detects it."""
    from ..formula.nodes import Call, Name
    from ..formula.parser import parse_tree

    try:
        lhs = parse_tree(m.design.response_name + " ~ 1").lhs
    except Exception:  # noqa: BLE001 - an unusual response is simply not transformed
        return None
    if isinstance(lhs, Call) and lhs.func in _TRANS and len(lhs.args) == 1 \
            and isinstance(lhs.args[0].value, Name):
        return lhs.func
    return None


def _with_tran(basis: _Basis, m) -> _Basis:
    tran = _response_tran(m)
    if tran is not None:
        basis.link = tran
        basis.linkinv, basis.mu_eta = _TRANS[tran]
    return basis


def _basis(m, ddf, limit: int) -> _Basis:
    kind = getattr(m, "kind", None)
    names = list(m.fixef.index)
    bhat = np.asarray(m.fixef, dtype=float)
    V = np.asarray(m.vcov.loc[names, names], dtype=float)
    if kind == "lm":
        dfr = float(m.df_resid)
        return _with_tran(_Basis(names, bhat, V, lambda L: np.full(len(L), dfr), None), m)
    if kind == "lmer":
        mode = "asymptotic" if ddf is None else str(ddf).lower().replace("_", "-")
        if mode in ("kr", "kenward"):
            mode = "kenward-roger"
        if mode not in ("kenward-roger", "satterthwaite", "asymptotic"):
            raise MultilevelError(two_line(f"unknown ddf {ddf!r}",
                                           'use "kenward-roger", "satterthwaite" or None'))
        notes = []
        if mode != "asymptotic" and m.nobs > limit:
            notes.append(f"Note: D.f. calculations have been disabled because the number of "
                         f"observations exceeds {limit}; pass limit={m.nobs} to enable them")
            mode = "asymptotic"
        if mode == "kenward-roger":
            from .kenward_roger import kr_ddf, vcov_adjusted

            adj = vcov_adjusted(m)
            V = np.asarray(adj.vcov_adj, dtype=float)
            dffun = lambda L: np.array([kr_ddf(adj, row[None, :])["ddf"] for row in L])  # noqa: E731
        elif mode == "satterthwaite":
            from .satterthwaite import contrast_df

            dffun = lambda L: contrast_df(m, L) if len(L) else np.zeros(0)  # noqa: E731
        else:
            dffun = lambda L: np.full(len(L), np.inf)  # noqa: E731
        return _with_tran(_Basis(names, bhat, V, dffun, mode, notes=notes), m)
    if kind == "glmer" or hasattr(m, "link"):
        fam = m._family
        return _Basis(names, bhat, V, lambda L: np.full(len(L), np.inf), None, link=m.link,
                      family=m.family, linkinv=fam.link.linkinv, mu_eta=fam.link.mu_eta)
    raise MultilevelError(two_line(f"emmeans does not handle {type(m).__name__}",
                                   "fit the model with ml.lm, ml.lmer or ml.glmer"))


# ----- the EMM object --------------------------------------------------------------------------
def _is_num(values) -> bool:
    try:
        [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return True


def _label(v) -> str:
    from ..design.variables import r_label

    return r_label(v) if not isinstance(v, str) else v


class EmmTable(pd.DataFrame):
    """A DataFrame that prints as emmeans does (footer lines below the table).

    Examples
    --------
    >>> t = EmmTable({"recipe": ["A"], "emmean": [33.1]})
    >>> t.footer = ["Confidence level used: 0.95"]
    >>> print(repr(t).splitlines()[-1])
    Confidence level used: 0.95
    """

    _metadata = ["footer", "by_vars", "numeric_levels"]

    @property
    def _constructor(self):
        return pd.DataFrame

    def __repr__(self) -> str:
        from ..report.emm_text import render

        return render(pd.DataFrame(self), list(getattr(self, "by_vars", None) or []),
                      list(getattr(self, "footer", None) or []),
                      list(getattr(self, "numeric_levels", None) or []))

    __str__ = __repr__

    def to_frame(self) -> pd.DataFrame:
        """The table as a plain DataFrame.

        Examples
        --------
        >>> type(EmmTable({"a": [1]}).to_frame()).__name__
        'DataFrame'
        """
        return pd.DataFrame(self)


def _table(df: pd.DataFrame, by, footer, numeric=()) -> EmmTable:
    t = EmmTable(df)
    t.by_vars = list(by)
    t.footer = list(footer)
    t.numeric_levels = list(numeric)
    return t


class Emmeans:
    """Estimated marginal means of a fitted model (an emmeans ``emmGrid``).

    Build it with :func:`emmeans`. ``frame`` holds the means; :meth:`pairs` and
    :meth:`contrast` compare them; ``print(e)`` shows emmeans' print-out.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lm("angle ~ recipe + temperature", ml.datasets.load("cake"))
    >>> e = ml.emmeans(m, "temperature", at={"recipe": ["A", "B"]})
    >>> e.specs, e.averaged_over, len(e.frame)
    (['temperature'], ['recipe'], 6)
    """

    def __init__(self, m, basis: _Basis, levels: pd.DataFrame, L_all: np.ndarray,
                 offset: np.ndarray, estimable: np.ndarray, specs: list, by: list,
                 averaged: list, type: str, level: float, numeric_levels=()):
        self.model = m
        self._basis = basis
        self.levels = levels
        self._L = L_all
        self._offset = offset
        self._estimable = estimable
        self.specs = specs
        self.by = by
        self.averaged_over = averaged
        self.type = type
        self.level = level
        self.numeric_levels = list(numeric_levels)  # covariates and factor(x) of numbers

    # -- numbers ----------------------------------------------------------------------------
    def _stats(self, L: np.ndarray, offset: np.ndarray, ok: np.ndarray):
        b = self._basis
        est = L @ b.bhat + offset
        var = np.einsum("ki,ij,kj->k", L, b.V, L)
        se = np.sqrt(np.maximum(var, 0.0))
        df = np.full(len(L), np.nan)
        if ok.any():
            df[ok] = b.dffun(L[ok])
        est[~ok] = se[~ok] = np.nan
        return est, se, df

    @property
    def _response(self) -> bool:
        return self.type == "response" and self._basis.linkinv is not None \
            and self._basis.link != "identity"

    @property
    def estimate_name(self) -> str:
        """``emmean`` on the link scale; ``prob``, ``rate`` or ``response`` after regrid.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...              ml.datasets.load("cbpp"), family="binomial")
        >>> ml.emmeans(m, "period", type="response").estimate_name
        'prob'
        """
        if self._response:
            if self._basis.family is None:
                return "response"
            return _LINK_LABEL.get(self._basis.link, "response")
        return "emmean"

    @property
    def frame(self) -> EmmTable:
        """The marginal means: level columns, estimate, std_error, df, lower, upper.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)",
        ...             ml.datasets.load("cake"))
        >>> ml.emmeans(m, "recipe").frame["emmean"].round(3).tolist()
        [33.122, 31.644, 31.6]
        """
        est, se, df = self._stats(self._L, self._offset, self._estimable)
        q = stats.t.ppf(0.5 + self.level / 2.0, np.where(np.isnan(df), np.inf, df))
        lo, hi = est - q * se, est + q * se
        name = self.estimate_name
        if self._response:
            b = self._basis
            mu = b.linkinv(est)
            se = np.abs(b.mu_eta(est)) * se
            lo, hi = b.linkinv(lo), b.linkinv(hi)
            est = mu
        out = self.levels.copy()
        out[name] = est
        out["std_error"] = se
        out["df"] = df
        out["lower"] = lo
        out["upper"] = hi
        return _table(out.reset_index(drop=True), self.by, self._footer(kind="emm"),
                      self.numeric_levels)

    def _footer(self, kind: str, adjust_note: str | None = None, *, pre=(),
                still: bool = False, ratio: bool = False, link_ratio: bool = False
                ) -> list[str]:
        """emmeans' message lines, in its order."""
        b = self._basis
        lines = list(b.notes) if kind == "emm" else []
        lines.extend(pre)
        if self.averaged_over:
            lines.append("Results are averaged over the levels of: "
                         + ", ".join(self.averaged_over) + " ")
        if still:
            lines.append(f"Note: contrasts are still on the {b.link} scale ")
        if b.mode is not None:
            lines.append(f"Degrees-of-freedom method: {b.mode} ")
        if b.link is not None and not self._response and b.link != "identity":
            scale = "log odds ratio" if (link_ratio and b.link == "logit") else b.link
            lines.append(f"Results are given on the {scale} (not the response) scale. ")
        if kind == "emm":
            lines.append(f"Confidence level used: {self.level:g} ")
            if self._response:
                lines.append(f"Intervals are back-transformed from the {b.link} scale ")
        if adjust_note:
            lines.append(adjust_note)
        if ratio:
            scale = "log odds ratio" if b.link == "logit" else b.link
            lines.append(f"Tests are performed on the {scale} scale ")
        return lines

    def __repr__(self) -> str:
        return repr(self.frame)

    def _repr_html_(self) -> str:  # notebooks show the R-like text
        import html

        return f"<pre>{html.escape(repr(self))}</pre>"

    # -- contrasts --------------------------------------------------------------------------
    def _groups(self, by) -> list[np.ndarray]:
        if not by:
            return [np.arange(len(self.levels))]
        keys = self.levels[by].astype(str).agg("\x00".join, axis=1).to_numpy()
        return [np.flatnonzero(keys == k) for k in dict.fromkeys(keys)]

    def _level_labels(self, by) -> list[str]:
        cols = [c for c in self.levels.columns if c not in by]
        parts = []
        for c in cols:
            vals = [_label(v) for v in self.levels[c]]
            parts.append([c + v for v in vals] if _is_num(vals) else vals)
        labs = [" ".join(x) for x in zip(*parts)] if parts else [""] * len(self.levels)
        return [f"({s})" if any(ch in s for ch in "-+/*") else s for s in labs]

    def contrast(self, method="eff", *, by=None, adjust=None, ref=0, reverse: bool = False,
                 ci: bool = False, level: float | None = None, name: str = "contrast",
                 interaction: bool = False) -> EmmTable:
        """Contrasts of the marginal means (emmeans' ``contrast``).

        Parameters
        ----------
        method : str or dict
            ``"pairwise"``, ``"revpairwise"``, ``"trt.vs.ctrl"`` (against level ``ref``),
            ``"eff"`` (each mean against their average), ``"poly"`` (orthogonal polynomials),
            ``"consec"``, or a dict ``name -> weights`` (one weight per mean in a group).
        by : list of str, optional
            Conditioning variables (default: those of the grid).
        adjust : str, optional
            P-value adjustment (default as emmeans: tukey for pairs, dunnettx for
            trt.vs.ctrl, fdr for eff, mvt for consec, none otherwise).
        ci : bool
            Add simultaneous ``lower`` and ``upper`` limits (emmeans' ``confint``).
        interaction : bool
            Interaction contrasts (emmeans' ``interaction = method``): ``method`` applied to
            each factor in turn, e.g. differences of pairwise differences; no adjustment by
            default.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)",
        ...             ml.datasets.load("cake"))
        >>> e = ml.emmeans(m, "recipe")
        >>> e.contrast({"A vs rest": [1, -0.5, -0.5]})["estimate"].round(3).tolist()
        [1.5]
        """
        by = list(self.by if by is None else ([by] if isinstance(by, str) else by))
        if interaction:
            return self._interaction(method, by, "none" if adjust is None else adjust, ref,
                                     reverse)
        groups = self._groups(by)
        labels = self._level_labels(by)
        rows, names, grp_of, et, default_adj, fam = [], [], [], None, "none", 0
        for gi, idx in enumerate(groups):
            C, nm, et, default_adj = _coefficients(method, [labels[i] for i in idx], ref,
                                                   reverse)
            fam = len(idx)
            for j in range(C.shape[1]):
                w = np.zeros(len(self.levels))
                w[idx] = C[:, j]
                rows.append(w)
                names.append(nm[j])
                grp_of.append(gi)
        W = np.asarray(rows).reshape(len(rows), len(self.levels))
        adjust = mult.check_method(default_adj if adjust is None else adjust)
        L = W @ self._L
        off = W @ self._offset
        ok = np.array([bool(np.all(self._estimable[w != 0])) for w in W], dtype=bool)
        est, se, df = self._stats(L, off, ok)
        t = est / se
        true_con = bool(np.all(np.abs(W.sum(axis=1)) < 1e-6 * np.maximum(1, np.abs(W).max(axis=1))))
        grp_of = np.asarray(grp_of)
        n_contr = int(np.sum(grp_of == 0))
        notes = []
        if n_contr == 1 and adjust != "scheffe":
            adjust = "none"
        if adjust == "tukey" and et != "pairs":
            adjust = "sidak"
            notes.append("Note: adjust = \"tukey\" was changed to \"sidak\" because \"tukey\" "
                         "is only appropriate for one set of pairwise comparisons")
        p = np.full(len(t), np.nan)
        corr_all = None
        if adjust == "mvt":
            V = np.einsum("ki,ij,lj->kl", L, self._basis.V, L)
            d = np.sqrt(np.diag(V))
            corr_all = V / np.outer(d, d)
        for gi in range(len(groups)):
            sel = np.flatnonzero(grp_of == gi)
            ok_g = sel[np.isfinite(t[sel])]
            if ok_g.size:
                corr = None if corr_all is None else corr_all[np.ix_(ok_g, ok_g)]
                dfs = df[ok_g] if adjust != "mvt" else np.floor(df[ok_g])
                rank = int(np.linalg.matrix_rank(L[ok_g])) if adjust == "scheffe" else None
                p[ok_g] = mult.adjust_p(t[ok_g], dfs, adjust, fam, corr=corr, rank=rank)
        b = self._basis
        ratio = self._response and true_con and b.link in _RATIO_BASE
        base = _RATIO_BASE.get(b.link, np.e)
        col = "estimate"
        if ratio:
            col = "odds.ratio" if b.link == "logit" else "ratio"
            names = [n.replace(" - ", " / ") for n in names]
        out = pd.DataFrame({name: names})
        for c in by:
            out[c] = [self.levels[c].iloc[groups[g][0]] for g in grp_of]
        out[col] = base ** est if ratio else est
        out["std_error"] = base ** est * np.log(base) * se if ratio else se
        out["df"] = df
        if ratio:
            out["null"] = 1.0
        if ci:
            lev = self.level if level is None else level
            cv = np.full(len(t), np.nan)
            ci_adj = "none" if adjust in ("none",) else adjust
            if ci_adj in ("holm", "hochberg", "hommel", "BH", "BY", "fdr", "dunnettx"):
                ci_adj = "bonferroni" if ci_adj != "dunnettx" else "sidak"
            for gi in range(len(groups)):
                sel = np.flatnonzero(grp_of == gi)
                corr = None if corr_all is None else corr_all[np.ix_(sel, sel)]
                rank = int(np.linalg.matrix_rank(L[sel])) if ci_adj == "scheffe" else None
                cv[sel] = mult.critical_value(lev, df[sel], ci_adj, fam, len(sel), corr=corr,
                                              rank=rank)
            lo, hi = est - cv * se, est + cv * se
            out["lower"] = base ** lo if ratio else lo
            out["upper"] = base ** hi if ratio else hi
        out["statistic"] = t
        out["p_value"] = p
        note = None
        if adjust not in ("none",):
            if adjust == "tukey":
                note = f"P value adjustment: tukey method for comparing a family of {fam} estimates "
            elif adjust == "scheffe":
                r = int(np.linalg.matrix_rank(L[grp_of == 0]))
                note = f"P value adjustment: scheffe method with rank {r} "
            else:
                note = f"P value adjustment: {adjust} method for {n_contr} tests "
        still = self._response and not ratio and b.link not in (None, "identity")
        footer = self._footer(kind="contrast", adjust_note=note, pre=notes, still=still,
                              ratio=ratio, link_ratio=true_con and b.link in _RATIO_BASE)
        return _table(out, by, footer, self.numeric_levels)

    def _interaction(self, method, by, adjust, ref, reverse) -> EmmTable:
        """emmeans' interaction contrasts: the last factor first, the others as ``by``."""
        if isinstance(method, dict):
            raise MultilevelError(two_line("interaction contrasts take a method name",
                                           'e.g. e.contrast("pairwise", interaction=True)'))
        levels = self.levels.astype(str).reset_index(drop=True)
        W = np.eye(len(levels))
        vars_ = [c for c in levels.columns if c not in by]
        for v in reversed(vars_):
            rest = [c for c in levels.columns if c != v]
            keys = (levels[rest].agg("\x00".join, axis=1).to_numpy() if rest
                    else np.zeros(len(levels), dtype=object))
            new_rows, new_w = [], []
            for key in dict.fromkeys(keys):
                idx = np.flatnonzero(keys == key)
                C, nm, _, _ = _coefficients(method, levels[v].iloc[idx].tolist(), ref, reverse)
                for j in range(C.shape[1]):
                    row = {f"{v}_{method}": nm[j]}
                    row.update({c: levels[c].iloc[idx[0]] for c in rest})
                    new_rows.append(row)
                    new_w.append(C[:, j] @ W[idx])
            cols = [f"{v}_{method}"] + rest
            levels = pd.DataFrame(new_rows, columns=cols)
            W = np.asarray(new_w)
        L = W @ self._L
        off = W @ self._offset
        ok = np.array([bool(np.all(self._estimable[np.abs(w) > 1e-12])) for w in W])
        est, se, df = self._stats(L, off, ok)
        t = est / se
        adjust = mult.check_method(adjust)
        keys = levels[by].astype(str).agg("\x00".join, axis=1).to_numpy() if by else \
            np.zeros(len(levels), dtype=object)
        p = np.full(len(t), np.nan)
        for key in dict.fromkeys(keys):
            sel = np.flatnonzero((keys == key) & np.isfinite(t))
            if sel.size:
                corr = None
                if adjust == "mvt":
                    V = L[sel] @ self._basis.V @ L[sel].T
                    dd = np.sqrt(np.diag(V))
                    corr = V / np.outer(dd, dd)
                a = "sidak" if adjust == "tukey" else adjust
                p[sel] = mult.adjust_p(t[sel], df[sel], a, len(sel), corr=corr,
                                       rank=int(np.linalg.matrix_rank(L[sel])))
        out = levels[[c for c in levels.columns if c not in by] + by].copy()
        out["estimate"] = est
        out["std_error"] = se
        out["df"] = df
        out["statistic"] = t
        out["p_value"] = p
        n = int(np.sum(keys == keys[0])) if len(keys) else 0
        note = None if adjust == "none" else f"P value adjustment: {adjust} method for {n} tests "
        return _table(out, by, self._footer(kind="contrast", adjust_note=note),
                      self.numeric_levels)

    def pairs(self, adjust: str = "tukey", *, by=None, reverse: bool = False,
              ci: bool = False, level: float | None = None) -> EmmTable:
        """Pairwise comparisons ``"A - B"`` in emmeans' order (``pairs(e)``).

        Parameters
        ----------
        adjust : "tukey" (default), "holm", "bonferroni", "sidak", "BH", "mvt", "none", ...
        reverse : bool
            ``"B - A"`` instead (emmeans' ``revpairwise``).
        ci : bool
            Add simultaneous confidence limits (``confint(pairs(e))``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("angle ~ recipe + temperature + (1 | recipe:replicate)",
        ...             ml.datasets.load("cake"))
        >>> ml.emmeans(m, "recipe").pairs()["contrast"].tolist()
        ['A - B', 'A - C', 'B - C']
        """
        return self.contrast("revpairwise" if reverse else "pairwise", by=by, adjust=adjust,
                             ci=ci, level=level)


def _coefficients(method, labels: list[str], ref, reverse: bool):
    """(k x c matrix, names, estType, default adjustment) of an emmeans contrast family."""
    k = len(labels)
    if isinstance(method, dict):
        cols, names = [], []
        for nm, w in method.items():
            w = np.asarray(w, dtype=float)
            if w.shape != (k,):
                raise MultilevelError(two_line(
                    f"contrast {nm!r} has {w.size} weights for {k} means",
                    f"give one weight per mean, in the order {labels}"))
            cols.append(w)
            names.append(str(nm))
        return np.column_stack(cols), names, "custom", "none"
    method = str(method)
    cols, names = [], []
    if method == "pairwise":
        for i in range(k - 1):
            for j in range(i + 1, k):
                c = np.zeros(k); c[i], c[j] = 1.0, -1.0
                cols.append(c); names.append(f"{labels[i]} - {labels[j]}")
        return np.column_stack(cols) if cols else np.zeros((k, 0)), names, "pairs", "tukey"
    if method == "revpairwise":
        for i in range(1, k):
            for j in range(i):
                c = np.zeros(k); c[i], c[j] = 1.0, -1.0
                cols.append(c); names.append(f"{labels[i]} - {labels[j]}")
        return np.column_stack(cols) if cols else np.zeros((k, 0)), names, "pairs", "tukey"
    if method in ("trt.vs.ctrl", "trt.vs.ctrl1", "trt.vs.ctrlk"):
        r = 0 if method == "trt.vs.ctrl1" else (k - 1 if method == "trt.vs.ctrlk" else ref)
        if isinstance(r, str):
            if r not in labels:
                raise MultilevelError(two_line(f"reference level {r!r} not among {labels}",
                                               "pass ref= as a level label or a 0-based position"))
            r = labels.index(r)
        for i in range(k):
            if i == r:
                continue
            c = np.zeros(k); c[i], c[r] = 1.0, -1.0
            nm = f"{labels[r]} - {labels[i]}" if reverse else f"{labels[i]} - {labels[r]}"
            cols.append(-c if reverse else c); names.append(nm)
        return np.column_stack(cols), names, "contrast", "dunnettx"
    if method == "eff":
        for i in range(k):
            c = np.full(k, -1.0 / k); c[i] += 1.0
            cols.append(c); names.append(f"{labels[i]} effect")
        return np.column_stack(cols), names, "contrast", "fdr"
    if method == "consec":
        for i in range(k - 1):
            c = np.zeros(k); c[i], c[i + 1] = -1.0, 1.0
            cols.append(c); names.append(f"{labels[i + 1]} - {labels[i]}")
        return np.column_stack(cols), names, "contrast", "mvt"
    if method == "poly":
        return (*_poly_contrasts(k), "contrast", "none")
    raise MultilevelError(two_line(f"unknown contrast method {method!r}",
                                   "use pairwise, revpairwise, trt.vs.ctrl, eff, consec, poly "
                                   "or a dict of weights"))


def _poly_contrasts(k: int, max_degree: int | None = None):
    """emmeans' ``poly.emmc``: R's ``poly(1:k)`` scaled to the smallest integers."""
    deg = min(6, k - 1) if max_degree is None else max_degree
    x = np.arange(1, k + 1, dtype=float)
    xc = x - x.mean()
    Q, _ = np.linalg.qr(np.vander(xc, deg + 1, increasing=True))
    M = Q[:, 1:] * np.sign(Q[-1, 1:])
    nm = ["linear", "quadratic", "cubic", "quartic"] + [f"degree {d}" for d in range(5, 21)]
    out = np.empty_like(M)
    for j in range(M.shape[1]):
        con = M[:, j]
        con = con / np.min(con[con > 0.01])
        z = np.max(np.abs(con - np.round(con)))
        while z > 0.05:
            con = con / z
            z = np.max(np.abs(con - np.round(con)))
        out[:, j] = np.round(con)
    return out, nm[:M.shape[1]]


def _parse_specs(specs, by) -> tuple[list[str], list[str]]:
    if isinstance(specs, str):
        s = specs.split("~")[-1]
        if "|" in s:
            s, b = s.split("|", 1)
            by = [x.strip() for x in b.split("+") if x.strip()] + list(
                [] if by is None else ([by] if isinstance(by, str) else by))
        specs = [x.strip() for x in s.replace("*", "+").split("+") if x.strip()]
    specs = list(specs)
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    return specs, by


def emmeans(m, specs, by=None, *, ddf="kenward-roger", type: str = "link", at=None,
            data=None, weights: str = "equal", level: float = 0.95,
            limit: int = DEFAULT_LIMIT) -> Emmeans:
    """Estimated marginal means (R's ``emmeans(m, specs, by)``).

    Parameters
    ----------
    m : a fit of :func:`multilevel.lmer`, :func:`multilevel.lm` or :func:`multilevel.glmer`
    specs : str or list of str
        The factor(s) whose means are wanted; ``"recipe | temperature"`` also sets ``by``.
    by : str or list of str, optional
        Conditioning factors: means (and later contrasts) within each of their levels.
    ddf : "kenward-roger" (default, as emmeans), "satterthwaite", or None (asymptotic)
        lmer only; ``lm`` uses its residual df and ``glmer`` z statistics.
    type : "link" (default) or "response"
        For glmer: means back-transformed with the inverse link (delta-method SE).
    at : dict, optional
        Values for covariates (a list makes it a grid dimension) or a subset of levels.
    data : DataFrame, optional
        The data of the fit; only needed when a covariate is not a column of ``X``
        (``log(x)``, ``poly(x, 2)``, an offset) or collinear columns were dropped.
    weights : "equal" (default), "proportional", "outer", "cells" or "flat"
        How the other factors are averaged over (emmeans' ``weights``): equally, by the
        frequencies of their level combinations in the fit, by the product of their
        marginal frequencies, by the cell frequencies, or equally over the cells with data.
    level : float
        Confidence level of the intervals.
    limit : int
        Above this many observations, df fall back to asymptotic (emmeans'
        ``pbkrtest.limit`` / ``lmerTest.limit``).

    Returns
    -------
    Emmeans
        ``.frame`` (the means), ``.pairs()``, ``.contrast()``; prints as emmeans. The
        estimate column is ``emmean``; with ``type="response"`` it is named as emmeans
        names it (``prob``, ``rate`` or ``response``).

    Warns
    -----
    UserWarning
        emmeans' note when the factors are in an interaction with factors averaged over.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)",
    ...             ml.datasets.load("cake"))
    >>> e = ml.emmeans(m, "recipe")
    >>> e.frame[["recipe", "emmean", "df"]].round(2).values.tolist()
    [['A', 33.12, 42.0], ['B', 31.64, 42.0], ['C', 31.6, 42.0]]
    >>> print(e.pairs())  # doctest: +NORMALIZE_WHITESPACE
     contrast estimate   SE df t.ratio p.value
     A - B      1.4778 2.46 42   0.602  0.8200
     A - C      1.5222 2.46 42   0.620  0.8102
     B - C      0.0444 2.46 42   0.018  0.9998
    <BLANKLINE>
    Results are averaged over the levels of: temperature
    Degrees-of-freedom method: kenward-roger
    P value adjustment: tukey method for comparing a family of 3 estimates
    """
    if type not in ("link", "response"):
        raise MultilevelError(two_line(f"type must be 'link' or 'response', got {type!r}",
                                       'use type="response" for back-transformed means'))
    specs, by = _parse_specs(specs, by)
    basis = _basis(m, ddf, limit)
    design = m.design
    gv = _grid_variables(design, data, at)
    known = {g[0]: g for g in gv}
    for v in specs + by:
        if v not in known:
            raise DataError(two_line(f"{v!r} is not a predictor of the model",
                                     f"use one of {list(known)}"))
    names = [g[0] for g in gv]
    values = [g[2] for g in gv]
    combos = list(itertools.product(*reversed(values)))  # first variable fastest
    grid = pd.DataFrame([c[::-1] for c in combos], columns=names)
    for name, kind, vals in gv:
        if kind == "factor":
            grid[name] = pd.Categorical(grid[name], categories=list(dict.fromkeys(vals)))
    X_all, off = _full_matrix(design, grid)
    off = np.zeros(len(grid)) if off is None else off
    kept = np.asarray(design.spec.kept, dtype=bool)
    all_names = list(np.asarray(design.spec.all_xnames)[kept])
    N = _null_basis(design, data)
    # the EMMs: equal-weight averages over the other grid variables
    wanted = specs + [b for b in by if b not in specs]
    lv_vals = [known[v][2] for v in wanted]
    lev_combos = list(itertools.product(*reversed(lv_vals)))
    levels = pd.DataFrame([c[::-1] for c in lev_combos], columns=wanted)
    key_grid = grid[wanted].astype(str).agg("\x00".join, axis=1).to_numpy()
    key_lev = levels.astype(str).agg("\x00".join, axis=1).to_numpy()
    L_full = np.zeros((len(levels), X_all.shape[1]))
    L_off = np.zeros(len(levels))
    others = [g[0] for g in gv if g[1] == "factor" and g[0] not in wanted]
    counts = None
    if weights != "equal":
        facs = [g[0] for g in gv if g[1] == "factor"]
        counts = _fit_factors(design, data, facs)
    grid_str = grid.astype(str)
    for i, k in enumerate(key_lev):
        sel = key_grid == k
        w = _weights(weights, grid_str, sel, [c for c in wanted if known[c][1] == "factor"],
                     others, counts)
        L_full[i] = w @ X_all[sel]
        L_off[i] = w @ off[sel]
    if N.shape[1]:
        chk = np.abs(L_full @ N).max(axis=1)
        estimable = chk <= 1e-8 * np.maximum(1.0, np.abs(L_full).max(axis=1))
    else:
        estimable = np.ones(len(levels), dtype=bool)
    Lk = L_full[:, kept]
    col = {n: i for i, n in enumerate(all_names)}
    L = np.column_stack([Lk[:, col[n]] for n in basis.names]) if basis.names else \
        np.zeros((len(levels), 0))
    for c in levels.columns:
        if known[c][1] == "factor":
            levels[c] = levels[c].astype(str)
    averaged = [g[0] for g in gv if g[1] == "factor" and g[0] not in wanted
                and len(g[2]) > 1]
    if averaged and _in_interaction(design, wanted):
        import warnings

        warnings.warn("NOTE: Results may be misleading due to involvement in interactions",
                      UserWarning, stacklevel=2)
    numeric = [g[0] for g in gv if g[1] == "covariate" or _coerced(design, g[0])]
    return Emmeans(m, basis, levels, L, L_off, estimable, specs, by, averaged, type, level,
                   numeric)


def _in_interaction(design, wanted: list[str]) -> bool:
    """emmeans' ``.some.term.contains``: a term holds all of ``wanted`` and more variables."""
    from ..design.variables import names_in

    spec = design.spec
    for term in spec.fixed.terms:
        names = [set(names_in(spec.fixed.variables[v])) | {v} for v in term]
        if all(any(w in ns for ns in names) for w in wanted) and len(term) > len(wanted):
            return True
    return False


def _coerced(design, name: str) -> bool:
    """Whether ``name`` enters the model only as ``factor(name)`` (a numeric column)."""
    st = design.spec.state.get(name)
    if st is not None and st[0] == "factor":
        return False
    return any(k != name and design.spec.state.get(k, ("",))[0] == "factor"
               and k.endswith(f"({name})") for k in design.spec.fixed.variables)
