"""The blocks of ``A = [Z X y]'[Z X y]`` from one ``GROUP BY`` pass of an engine.

For random-effects term ``k`` with grouping factor ``g_k`` and columns ``z_k``, every block of
``A`` is a sum over rows of products of two columns, grouped by level:

* ``Z_k'Z_k``   -- per level of ``g_k``: ``sum(z_ka z_kb)``      (block diagonal, ``(l, p, p)``)
* ``[X y]'Z_k`` -- per level of ``g_k``: ``sum(c z_ka)`` for every column ``c`` of ``[X y]``
* ``Z_i'Z_j``   -- per pair of levels ``(g_i, g_j)``: ``sum(z_ia z_jb)`` (crossed factors);
  per level when ``g_i`` and ``g_j`` are the same factor (``(1|g) + (0+x|g)``)
* ``[X y]'[X y]`` -- the sum of the per-level sums of any one grouping.

So one query, ``GROUP BY GROUPING SETS ((g_1), (g_2), ..., (g_i, g_j))`` (a plain ``GROUP BY g``
for a single grouping factor), returns ``O(levels)`` rows whatever the number of data rows.
Products that occur in several blocks (the intercept column of X and of Z) are summed once.
Levels are coded and labelled by the design layer (``_group_codes``, ``_label_of``) from the
returned keys, exactly as for in-memory data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..core.crossprod import DENSE_CROSS_MAX, DENSE_FILL_MIN
from ..design.model_frame import _group_codes, _label_of
from .base import SqlTable
from .sql_frame import SqlDesign

__all__ = ["TermSums", "Sums", "accumulate", "as_block", "rank_mask_gram"]


@dataclass
class TermSums:
    """Per-level sums of one term (formula order).

    Attributes
    ----------
    levels : list of str        -- lme4's level labels, in lme4's order
    keys : DataFrame            -- the grouping columns' values, one row per level, in order
    diag : (l, p, p) array      -- ``Z_k'Z_k``
    fixed : (p_x + 1, l p) array -- ``[X y]'Z_k``, level-major columns
    """

    levels: list
    keys: pd.DataFrame
    diag: np.ndarray
    fixed: np.ndarray


@dataclass
class Sums:
    """Everything one pass returns: ``xy`` (``[X y]'[X y]`` over all columns of X before the
    rank check), per-term sums, ``cross[(i, j)] = (rows, cols, vals)`` of ``Z_i'Z_j`` for
    formula-order ``i < j``, the number of rows used and whether all sums are finite; with
    prior weights every sum is weighted, ``log_det_w = sum(log w)``, and the rows with an
    NA, infinite or negative weight (``bad_weights``) or a zero weight are counted."""

    xy: np.ndarray
    terms: list
    cross: dict
    nobs: int
    finite: bool
    log_det_w: float = 0.0
    bad_weights: int = 0
    zero_weights: int = 0


class _Columns:
    """Distinct SQL expressions -> aliases, so that equal columns are summed once."""

    def __init__(self, one: str):
        self.one = one
        self.sql: dict[str, str] = {}

    def __call__(self, expr: str) -> str:
        if expr == self.one:
            return "1"
        return self.sql.setdefault(expr, f"ml_c{len(self.sql)}")


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if (a == "1" or (b != "1" and a <= b)) else (b, a)


def _agg(a: str, b: str, w: str | None = None) -> str:
    """``sum(w a b)``, the intercept ``1`` left out of the product."""
    factors = [f for f in (w, a, b) if f is not None and f != "1"]
    if not factors:
        return "CAST(count(*) AS DOUBLE)"
    return f"sum({' * '.join(factors)})"


def _lookup(keys: pd.DataFrame, parts: tuple, rows: pd.DataFrame) -> np.ndarray:
    if len(parts) == 1:
        idx = pd.Index(keys[parts[0]])
        q = pd.Index(rows[parts[0]])
    else:
        idx = pd.MultiIndex.from_frame(keys[list(parts)])
        q = pd.MultiIndex.from_frame(rows[list(parts)])
    codes = idx.get_indexer(q)
    if (codes < 0).any():  # pragma: no cover - every pair's levels are levels of the terms
        raise AssertionError("a level of a crossed grouping was not found")
    return codes


def accumulate(table: SqlTable, sd: SqlDesign) -> Sums:
    """Run the one pass and return the sums (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from multilevel.backends import open_source
    >>> from multilevel.backends.sql_frame import frame_sql
    >>> t = open_source(pd.DataFrame({"y": [1., 2, 3], "g": list("aab")}), engine="duckdb")
    >>> s = accumulate(t, frame_sql("y ~ 1 + (1 | g)", t))
    >>> s.xy.tolist(), s.terms[0].levels, s.terms[0].diag[:, 0, 0].tolist()
    ([[3.0, 6.0], [6.0, 14.0]], ['a', 'b'], [2.0, 1.0])
    """
    d = table.dialect
    col = _Columns(sd.one)
    XY = [col(s) for s in sd.x] + [col(sd.y_eff)]
    Zs = [[col(s) for s in t.z] for t in sd.terms]
    key_cols = list(dict.fromkeys(p for t in sd.terms for p in t.parts))
    kalias = {p: f"ml_k{i}" for i, p in enumerate(key_cols)}
    tsets = [frozenset(t.parts) for t in sd.terms]
    sets: list[frozenset] = list(dict.fromkeys(tsets))
    pair_sets = {}
    for i in range(len(sd.terms)):
        for j in range(i + 1, len(sd.terms)):
            if tsets[i] != tsets[j]:
                pair_sets[(i, j)] = tsets[i] | tsets[j]
                if pair_sets[(i, j)] not in sets:
                    sets.append(pair_sets[(i, j)])

    pairs: dict[tuple[str, str], str] = {}

    def need(a, b):
        return pairs.setdefault(_pair(a, b), f"ml_s{len(pairs)}")

    for a in range(len(XY)):
        for b in range(a, len(XY)):
            need(XY[a], XY[b])
    for k, Z in enumerate(Zs):
        for a in range(len(Z)):
            for b in range(a, len(Z)):
                need(Z[a], Z[b])
            for c in XY:
                need(c, Z[a])
    for i in range(len(Zs)):
        for j in range(i + 1, len(Zs)):
            for za in Zs[i]:
                for zb in Zs[j]:
                    need(za, zb)

    inner = [f"{d.ident(p)} AS {kalias[p]}" for p in key_cols]
    inner += [f"{e} AS {a}" for e, a in col.sql.items()]
    outer = [kalias[p] for p in key_cols] + ["count(*) AS ml_n"]
    w = None
    if sd.weights is not None:
        w = "ml_w"
        inner.append(f"{sd.weights} AS ml_w")
        bad = f"({d.is_missing(w)} OR {d.is_infinite(w)} OR {w} < 0)"
        outer += [f"sum(CASE WHEN {bad} THEN 1 ELSE 0 END) AS ml_wbad",
                  f"sum(CASE WHEN {w} = 0 THEN 1 ELSE 0 END) AS ml_wzero",
                  f"sum(CASE WHEN {w} > 0 THEN ln({w}) ELSE 0 END) AS ml_wlog"]
    outer += [f"{_agg(a, b, w)} AS {alias}" for (a, b), alias in pairs.items()]
    if len(sets) == 1:
        group = "GROUP BY " + ", ".join(kalias[p] for p in key_cols)
    else:
        group = "GROUP BY GROUPING SETS (" + ", ".join(
            "(" + ", ".join(kalias[p] for p in key_cols if p in s) + ")" for s in sets) + ")"
    sql = (f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {table.name} "
           f"WHERE {sd.where}) AS ml_rows {group}")
    res = table.fetch(sql)

    keys_all = res.select([kalias[p] for p in key_cols]).rename_columns(key_cols).to_pandas()
    null = {p: keys_all[p].isna().to_numpy() for p in key_cols}
    S = {alias: np.asarray(res.column(alias).to_numpy(zero_copy_only=False), dtype=float)
         for alias in pairs.values()}
    n_rows = np.asarray(res.column("ml_n").to_numpy(zero_copy_only=False), dtype=np.int64)

    def rows_of(s: frozenset) -> np.ndarray:
        m = np.ones(len(keys_all), dtype=bool)
        for p in key_cols:
            m &= (~null[p]) if p in s else null[p]
        return np.flatnonzero(m)

    set_rows = {s: rows_of(s) for s in sets}
    first = set_rows[tsets[0]]
    nobs = int(n_rows[first].sum())
    p1 = len(XY)
    xy = np.empty((p1, p1))
    for a in range(p1):
        for b in range(a, p1):
            v = math.fsum(S[pairs[_pair(XY[a], XY[b])]][first])
            xy[a, b] = xy[b, a] = v

    terms: list[TermSums] = []
    codes_of: list[np.ndarray] = []
    for k, (t, Z) in enumerate(zip(sd.terms, Zs)):
        r = set_rows[tsets[k]]
        kdf = keys_all.iloc[r][list(t.parts)].reset_index(drop=True)
        combined, _, part_levels = _group_codes(kdf, list(t.parts))
        uniq, codes = np.unique(combined, return_inverse=True)
        levels = [_label_of(u, part_levels) for u in uniq]
        order = np.argsort(codes, kind="stable")
        p, l = len(Z), len(levels)
        diag = np.zeros((l, p, p))
        fixed = np.zeros((p1, l * p))
        for a in range(p):
            for b in range(a, p):
                v = S[pairs[_pair(Z[a], Z[b])]][r]
                diag[codes, a, b] = v
                diag[codes, b, a] = v
            for c in range(p1):
                fixed[c, codes * p + a] = S[pairs[_pair(XY[c], Z[a])]][r]
        terms.append(TermSums(levels, kdf.iloc[order].reset_index(drop=True), diag, fixed))
        codes_of.append(codes)

    cross = {}
    for i in range(len(Zs)):
        for j in range(i + 1, len(Zs)):
            if tsets[i] == tsets[j]:
                r = set_rows[tsets[i]]
                ci = cj = codes_of[i]
            else:
                r = set_rows[pair_sets[(i, j)]]
                rows = keys_all.iloc[r].reset_index(drop=True)
                ci = _lookup(terms[i].keys, sd.terms[i].parts, rows)
                cj = _lookup(terms[j].keys, sd.terms[j].parts, rows)
            pi, pj = len(Zs[i]), len(Zs[j])
            R, C, V = [], [], []
            for a in range(pi):
                for b in range(pj):
                    R.append(ci * pi + a)
                    C.append(cj * pj + b)
                    V.append(S[pairs[_pair(Zs[i][a], Zs[j][b])]][r])
            cross[(i, j)] = (np.concatenate(R), np.concatenate(C), np.concatenate(V))
    finite = bool(np.isfinite(xy).all() and all(np.isfinite(t.diag).all()
                                                and np.isfinite(t.fixed).all() for t in terms))
    out = Sums(xy=xy, terms=terms, cross=cross, nobs=nobs, finite=finite)
    if w is not None:
        def total(name):
            return np.asarray(res.column(name).to_numpy(zero_copy_only=False), dtype=float)[first]

        out.bad_weights = int(np.nansum(total("ml_wbad")))
        out.zero_weights = int(np.nansum(total("ml_wzero")))
        out.log_det_w = math.fsum(total("ml_wlog"))
    return out


def as_block(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple):
    """``Z_i'Z_j`` from coordinates: CSR, or dense by the core's size and fill rule."""
    M = sp.coo_matrix((vals, (rows, cols)), shape=shape).tocsr()
    M.sum_duplicates()
    size = shape[0] * shape[1]
    if size <= DENSE_CROSS_MAX and (size <= 10_000 or M.nnz >= DENSE_FILL_MIN * size):
        return M.toarray()
    return M


def rank_mask_gram(G: np.ndarray, nobs: int, tol: float = 1e-7) -> np.ndarray:
    """R's rank rule for X (``qr(X, tol)``, LINPACK ``dqrdc2``) decided from ``G = X'X``.

    Column ``j`` is kept when the norm of its residual on the columns kept before it is at
    least ``tol`` times its own norm: from ``G`` that residual's square is the Schur
    complement ``G_jj - g' G_KK^{-1} g``. Sums over ``n`` rows carry a rounding error of about
    ``sqrt(n) eps`` relative, so the squared ratio is compared with
    ``max(tol^2, 16 sqrt(n) eps)``: exact collinearity is always found; a column whose
    residual ratio lies between ``1e-7`` and about ``1e-6`` (``n = 1e6``) would be kept by R
    and dropped here.

    Examples
    --------
    >>> X = np.array([[1., 1, 2], [1, 2, 4], [1, 3, 6], [1, 5, 10]])
    >>> rank_mask_gram(X.T @ X, 4).tolist()
    [True, True, False]
    """
    import scipy.linalg as sla

    p = G.shape[0]
    eps = np.finfo(float).eps
    floor = max(tol ** 2, 16.0 * math.sqrt(max(nobs, 1)) * eps)
    keep = np.zeros(p, dtype=bool)
    kept: list[int] = []
    L = np.zeros((0, 0))
    for j in range(p):
        gjj = G[j, j]
        if kept:
            w = sla.solve_triangular(L, G[kept, j], lower=True)
            r2 = gjj - float(w @ w)
        else:
            w = np.zeros(0)
            r2 = gjj
        norm2 = gjj if gjj > 0 else 1.0
        if r2 > 0 and r2 >= floor * norm2:
            keep[j] = True
            kept.append(j)
            m = len(kept)
            L2 = np.zeros((m, m))
            L2[: m - 1, : m - 1] = L
            L2[m - 1, : m - 1] = w
            L2[m - 1, m - 1] = math.sqrt(r2)
            L = L2
    return keep
