"""The profiled objective of a model whose grouping factors are nested, level by level.

When every level of each term touches exactly one level of every later term, and those
parents compose (a pupil's school's region is the pupil's region), every block of ``L``
keeps that structure: the diagonal blocks stay block diagonal and the block ``L_ij`` has one
``p_i x p_j`` block per level of term ``j`` (at the row of its parent). This covers one
grouping factor ``(x | g)`` and nested ones ``(x | a/b)``, ``(1 | region) + (x | region:school)``.

Every block is then a stack of small dense blocks, one per level, and one update of ``L`` is
a fixed sequence of batched numpy operations with an index plan made once per model: no
sparse matrix is built, no Python loop runs over levels. With ``C_ij`` the ``p_i x p_j``
blocks of ``Z_i'Z_j`` and ``P_jk`` the parent of each level of ``k`` in ``j``:

.. math::

    D_j = T_j' (Z_j'Z_j)_l T_j + I - \\sum_{k<j} \\sum_{P_{jk}(m) = l} L_{jk,m} L_{jk,m}'

    L_{ij,l} = \\Big(T_i' C_{ij,l} T_j - \\sum_{k<j} \\sum_{P_{jk}(m) = l}
               L_{ik,m} L_{jk,m}'\\Big) L_{jj,l}^{-T}

and the ``[X y]`` rows likewise, ending with a dense Cholesky factor of order ``p + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batched import NotPositiveDefinite, batched_cholesky, cholesky_lower
from .crossprod import CrossProducts
from .theta import lower_tri_indices, split_theta


def _entries(M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, values)`` of the nonzero entries of a dense or CSR block."""
    if hasattr(M, "indptr") and getattr(M, "format", "") == "csr":
        rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
        cols, vals = M.indices, M.data
    elif hasattr(M, "tocoo"):
        C = M.tocoo()
        rows, cols, vals = C.row, C.col, C.data
    else:
        M = np.asarray(M, dtype=float)
        rows, cols = np.nonzero(M)
        vals = M[rows, cols]
    nz = vals != 0
    return rows[nz], cols[nz], vals[nz]


def _level_parents(M, l_cols: int, p_rows: int, p_cols: int) -> np.ndarray | None:
    """The one row level each column level of ``M`` touches (-1 where it touches none), or
    None when some column level touches two or more."""
    rows, cols, _ = _entries(M)
    r, c = rows // p_rows, cols // p_cols
    parent = np.full(l_cols, -1, dtype=np.int64)
    parent[c] = r
    return parent if np.array_equal(parent[c], r) else None


def _parents(M, l_rows: int, p_rows: int, l_cols: int, p_cols: int) -> np.ndarray | None:
    """The one row level each column level of ``M`` touches, or None when some touch 0 or 2+."""
    if isinstance(M, np.ndarray):  # dense: which level pairs meet, then one per column level
        meet = (M != 0).reshape(l_rows, p_rows, l_cols, p_cols).any(axis=(1, 3))
        return meet.argmax(axis=0) if (meet.sum(axis=0) == 1).all() else None
    if getattr(M, "nnz", 0) > l_cols * p_rows * p_cols:  # some level has two parents
        return None
    parent = _level_parents(M, l_cols, p_rows, p_cols)
    if parent is None or np.any(parent < 0):
        return None
    return parent


def _blocks(M, parent: np.ndarray, p_rows: int, p_cols: int) -> np.ndarray:
    """The ``(p_rows, p_cols, l_cols)`` blocks of ``M`` at (parent row level, column level)."""
    if hasattr(M, "tocoo"):  # sparse: every entry lies in its column level's parent block
        rows, cols, vals = _entries(M)
        out = np.zeros((p_rows, p_cols, parent.size))
        out[rows % p_rows, cols % p_cols, cols // p_cols] = vals
        return out
    l = parent.size
    rows = np.arange(p_rows)[:, None, None] + parent[None, None, :] * p_rows
    cols = np.arange(p_cols)[None, :, None] + np.arange(l)[None, None, :] * p_cols
    return np.asarray(M, dtype=float)[rows, cols]


class _GroupSum:
    """Sum of an ``(a, b, l_k)`` stack over the levels with the same parent: ``(a, b, l_j)``;
    :meth:`spread` is the other way, each parent's entries at its levels."""

    def __init__(self, parent: np.ndarray, n_parent: int):
        order = np.argsort(parent, kind="stable")
        self.order = None if np.array_equal(order, np.arange(parent.size)) else order
        counts = np.bincount(parent, minlength=n_parent)
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.one_each = bool(np.all(counts == 1))
        self.parent, self.counts = parent, counts

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.order is not None:
            X = X[..., self.order]
        return X if self.one_each else np.add.reduceat(X, self.starts, axis=-1)

    def spread(self, X: np.ndarray) -> np.ndarray:
        """``X[..., parent]``: levels sorted by parent (as :class:`NestedSystem` orders them)
        repeat each parent's entries, else one ``take`` (a fancy index on the last axis of a
        stack costs several times more).

        Examples
        --------
        >>> _GroupSum(np.array([0, 0, 1]), 2).spread(np.array([[1.0, 2.0]])).tolist()
        [[1.0, 1.0, 2.0]]
        """
        if self.order is None:
            return np.repeat(X, self.counts, axis=-1)
        return np.take(X, self.parent, axis=-1)


# Stacks of small blocks are stored levels last, ``(a, b, l)``: a product of two stacks is
# then a handful of long elementwise operations (numpy's matmul on thousands of 2 x 2
# matrices costs several times more).

def _mul_t(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A_l B_l'`` for every level of two stacks ``(a, b, l)``, ``(c, b, l)``."""
    out = A[:, None, 0] * B[None, :, 0]
    for b in range(1, A.shape[1]):
        out += A[:, None, b] * B[None, :, b]
    return out


def _left(T: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``T' X_l`` for a constant ``T`` (one matrix product over all levels)."""
    b, c, l = X.shape
    if b == 1:
        return X * T[0, 0]
    return (T.T @ X.reshape(b, c * l)).reshape(T.shape[1], c, l)


def _right(X: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``X_l T`` for a constant lower-triangular ``T``."""
    p = T.shape[0]
    if p == 1:
        return X * T[0, 0]
    out = np.empty(X.shape[:1] + (p,) + X.shape[2:])
    for c in range(p):
        acc = X[:, c] * T[c, c]
        for b in range(c + 1, p):
            acc += X[:, b] * T[b, c]
        out[:, c] = acc
    return out


def _cholesky(D: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverses of the lower Cholesky factors of a ``(p, p, l)`` stack, and ``sum log det``.

    Closed forms for ``p = 1, 2``; LAPACK (through numpy) beyond.
    """
    p = D.shape[0]
    if p == 1:
        d = D[0, 0]
        if not d.min() > 0:  # one reduction; also false for NaN
            raise NotPositiveDefinite("non-positive diagonal")
        return (1.0 / np.sqrt(d))[None, None], float(np.sum(np.log(d)))
    if p == 2:
        a, b, c = D[0, 0], D[1, 0], D[1, 1]
        if not a.min() > 0:
            raise NotPositiveDefinite("non-positive diagonal")
        r = c - b * b / a
        if not r.min() > 0:
            raise NotPositiveDefinite("non-positive pivot")
        i11, i22 = 1.0 / np.sqrt(a), 1.0 / np.sqrt(r)
        Linv = np.empty_like(D)
        Linv[0, 0], Linv[0, 1], Linv[1, 0], Linv[1, 1] = i11, 0.0, -b * (i11 * i11 * i22), i22
        return Linv, float(np.sum(np.log(a * r)))
    L, Linv = batched_cholesky(np.moveaxis(D, 2, 0))
    ld = 2.0 * float(np.sum(np.log(L.reshape(-1, p * p)[:, ::p + 1])))
    return np.moveaxis(Linv, 0, 2), ld


def nested_structure(A: CrossProducts) -> dict | None:
    """``{(j, k): parent levels}`` for all terms ``j > k`` when the terms are nested, else None.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> child, school = np.array([0, 0, 1, 2, 2, 3]), np.array([0, 0, 0, 1, 1, 1])
    >>> ts = [TermData(child, np.ones((6, 1)), 4), TermData(school, np.ones((6, 1)), 2)]
    >>> s = nested_structure(form_crossproducts(ts, np.ones((6, 1)), np.arange(6.0)))
    >>> s[(1, 0)].tolist()
    [0, 0, 1, 1]
    """
    K = len(A.ps)
    out: dict = {}
    for j in range(1, K):
        for k in range(j):
            par = _parents(A.cross[(j, k)], A.n_levels[j], A.ps[j], A.n_levels[k], A.ps[k])
            if par is None:
                return None
            out[(j, k)] = par
    for i in range(2, K):  # parents must compose: P_ik = P_ij o P_jk
        for j in range(1, i):
            for k in range(j):
                if not np.array_equal(out[(i, k)], out[(i, j)][out[(j, k)]]):
                    return None
    return out


@dataclass
class NestedSystem:
    """The cross-products of nested terms as stacks of level blocks (levels last).

    Attributes
    ----------
    diag : list of (p_k, p_k, l_k) arrays      -- ``Z_k'Z_k`` per level
    cross : dict[(j, k)] -> (p_j, p_k, l_k)    -- ``Z_j'Z_k`` at each level's parent
    fixed : list of (m, p_k, l_k) arrays       -- ``[X y]'Z_k``
    xy : (m, m) array                          -- ``[X y]'[X y]``
    sums : dict[(j, k)] -> level sums by parent
    parents : dict[(j, k)] -> (l_k,) arrays
    below : list of (c_k, p_k, l_k) arrays     -- ``[Z_{k+1}; ...; Z_{K-1}; [X y]]'Z_k``
                                                  stacked (``cross`` and ``fixed`` are views)
    perm : list of (l_k,) arrays or None        -- the original level of each stacked level
    """

    diag: list
    cross: dict
    fixed: list
    xy: np.ndarray
    sums: dict
    parents: dict
    below: list | None = None
    perm: list | None = None

    def __post_init__(self):
        if self.below is None:  # stack the blocks below each term's diagonal once
            K = len(self.diag)
            self.below = [np.ascontiguousarray(np.concatenate(
                [self.cross[(j, k)] for j in range(k + 1, K)] + [self.fixed[k]], axis=0))
                for k in range(K)]
            for k in range(K):
                start = 0
                for j in range(k + 1, K):
                    p = self.diag[j].shape[0]
                    self.cross[(j, k)] = self.below[k][start:start + p]
                    start += p
                self.fixed[k] = self.below[k][start:]

    @classmethod
    def from_crossproducts(cls, A: CrossProducts, parents: dict) -> "NestedSystem":
        """The system of ``A`` with each term's levels reordered by their parents (coarsest
        term first), so that every sum over a parent's levels is over a contiguous run.
        The objective does not depend on the order of levels; the solutions would."""
        K, m = len(A.ps), A.xy.shape[0]
        perm, rank = [None] * K, [None] * K
        for k in range(K - 1, -1, -1):
            key = rank[k + 1][parents[(k + 1, k)]] if k + 1 < K else np.zeros(A.n_levels[k])
            perm[k] = np.argsort(key, kind="stable")
            rank[k] = np.argsort(perm[k])
        new_parents = {(j, k): rank[j][par[perm[k]]] for (j, k), par in parents.items()}
        # levels already in order (one term, or sorted codes) are not copied again
        order = [None if np.array_equal(pk, np.arange(pk.size)) else pk for pk in perm]

        def levels(X, k, axis):  # X's levels on ``axis`` in term k's new order
            return X if order[k] is None else np.take(X, order[k], axis=axis)

        return cls(
            diag=[np.ascontiguousarray(np.moveaxis(levels(np.asarray(D, dtype=float), k, 0),
                                                   0, 2))
                  for k, D in enumerate(A.diag)],
            cross={(j, k): np.ascontiguousarray(
                levels(_blocks(A.cross[(j, k)], par, A.ps[j], A.ps[k]), k, -1))
                for (j, k), par in parents.items()},
            fixed=[np.ascontiguousarray(levels(np.asarray(F, dtype=float).reshape(m, l, p), k, 1)
                                        .transpose(0, 2, 1))
                   for k, (F, l, p) in enumerate(zip(A.fixed, A.n_levels, A.ps))],
            xy=np.asarray(A.xy, dtype=float), parents=new_parents, perm=perm,
            sums={(j, k): _GroupSum(par, A.n_levels[j]) for (j, k), par in new_parents.items()})

    @classmethod
    def from_rows(cls, terms: list, parents: dict, XY: np.ndarray, w: np.ndarray,
                  sums: dict, cache: dict | None = None) -> "NestedSystem":
        """Weighted cross-products straight from the rows (no sparse matrix): ``terms`` are
        :class:`~multilevel.core.crossprod.TermData` whose codes agree with ``parents``.

        One ``bincount`` per term: the products of the term's columns with its own, the
        later terms' and ``[X y]``'s columns, summed per level. ``cache`` keeps the flat
        level indices between calls (PIRLS calls this once per iteration).
        """
        K = len(terms)
        cache = {} if cache is None else cache
        diag, cross, fixed, below = [], {}, [], []
        for k in range(K):
            t = terms[k]
            later = [j for j in range(k + 1, K) if (j, k) in parents]
            left = np.column_stack([t.Z] + [terms[j].Z for j in later] + [XY])
            n, c = left.shape
            p = t.p
            right = t.Z * w[:, None]
            key = (k, c)
            flat = cache.get(key)
            if flat is None:
                flat = (t.codes[:, None] * (c * p) + np.arange(c * p)[None, :]).ravel()
                cache[key] = flat
            vals = (left[:, :, None] * right[:, None, :]).ravel()
            G = np.bincount(flat, weights=vals, minlength=t.n_levels * c * p)
            G = G.reshape(t.n_levels, c, p).transpose(1, 2, 0)  # (c, p, l)
            diag.append(G[:p])
            below.append(G[p:])
            start = p
            for j in later:
                cross[(j, k)] = G[start:start + terms[j].p]
                start += terms[j].p
            fixed.append(G[start:])
        return cls(diag=diag, cross=cross, fixed=fixed, xy=(XY * w[:, None]).T @ XY,
                   sums=sums, parents=parents, below=below)


@dataclass
class NestedFactor:
    """``L`` for one theta: inverses of the diagonal level blocks, the blocks below them
    (``below[k]``: ``(c_k, p_k, l_k)``, the rows of the later terms and ``[X y]`` stacked as
    in :class:`NestedSystem`; ``rows[(i, k)]`` are views of them, ``i = K`` for ``[X y]``),
    ``L_XX`` and ``log det(Lambda'Z'Z Lambda + I)``."""

    Ts: list
    Linv: list
    rows: dict
    LXX: np.ndarray
    logdet: float
    below: list | None = None


def nested_factor(S: NestedSystem, Ts: list) -> NestedFactor:
    """Factor the penalised system of a :class:`NestedSystem` at the factors ``Ts``.

    Term by term, finest first: the diagonal level blocks ``T_j'(Z_j'Z_j)_l T_j + I`` and the
    stacked blocks below them (``blockdiag(T_i', I) C T_j``), less the fill from the finer
    terms (one product of their stacked rows per finer term, summed over the levels with the
    same parent), then the batched Cholesky factors and ``L_below = B L_jj^{-T}``.

    Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` when a block is not
    positive definite.
    """
    K = len(Ts)
    m = S.xy.shape[0]
    ps = [T.shape[0] for T in Ts]
    below: list = []
    Linvs = []
    logdet = 0.0
    for j in range(K):
        p = ps[j]
        D = _right(_left(Ts[j], S.diag[j]), Ts[j])
        if p == 1:
            D += 1.0
        else:
            D[np.arange(p), np.arange(p)] += 1.0
        B = _right(S.below[j], Ts[j])
        start = 0
        for i in range(j + 1, K):  # T_i' on the rows of each later term ([X y] keeps I)
            B[start:start + ps[i]] = _left(Ts[i], B[start:start + ps[i]])
            start += ps[i]
        for k in range(j):  # fill from the finer term k: its rows of term j and below
            o = sum(ps[k + 1:j])
            Lk = below[k]
            P = S.sums[(j, k)](_mul_t(Lk[o:], Lk[o:o + p]))
            D -= P[:p]
            B -= P[p:]
        Linv, ld = _cholesky(D)
        Linvs.append(Linv)
        logdet += ld
        below.append(_mul_t(B, Linv))
    XX = S.xy.copy()
    for j in range(K if XX.size else 0):
        M = below[j][-m:].reshape(m, -1)
        XX -= M @ M.T
    LXX = cholesky_lower(XX) if XX.size else XX
    rows: dict = {}
    for j in range(K):
        start = 0
        for i in range(j + 1, K):
            rows[(i, j)] = below[j][start:start + ps[i]]
            start += ps[i]
        rows[(K, j)] = below[j][start:]
    return NestedFactor(Ts=Ts, Linv=Linvs, rows=rows, LXX=LXX, logdet=logdet, below=below)


def nested_solve(F: NestedFactor, S: NestedSystem) -> tuple[np.ndarray, list]:
    """Fixed effects and spherical random effects ``u`` (per term, ``(l_k, p_k)``) from a
    :class:`NestedFactor` (``L' [u; beta] = `` the last row of ``L``)."""
    K = len(F.Ts)
    p = F.LXX.shape[0] - 1
    Lxx, c_beta = F.LXX[:p, :p], F.LXX[p, :p]
    beta = np.linalg.solve(Lxx.T, c_beta) if p else np.zeros(0)
    u: list = [None] * K  # (p_k, l_k)
    for j in range(K - 1, -1, -1):
        LKj = F.rows[(K, j)]
        rhs = LKj[p] - (beta @ LKj[:p].reshape(p, -1)).reshape(LKj.shape[1:]) if p \
            else LKj[p].copy()
        for i in range(j + 1, K):
            ui = S.sums[(i, j)].spread(u[i])  # (p_i, l_j): the parent's u at each level
            rhs -= (F.rows[(i, j)] * ui[:, None, :]).sum(axis=0)
        u[j] = (F.Linv[j] * rhs[:, None, :]).sum(axis=0)  # L_jj^{-T} rhs per level
    return beta, [np.ascontiguousarray(uk.T) for uk in u]


# --- derivatives: selected inverse (levels last, as the factor) ---------------------------

def _mul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A_l B_l`` for every level of two stacks ``(a, b, l)``, ``(b, c, l)``."""
    out = A[:, 0, None] * B[None, 0]
    for b in range(1, A.shape[1]):
        out += A[:, b, None] * B[None, b]
    return out


def _tmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A_l' B_l`` for every level of two stacks ``(b, a, l)``, ``(b, c, l)``."""
    out = A[0, :, None] * B[None, 0]
    for b in range(1, A.shape[0]):
        out += A[b, :, None] * B[None, b]
    return out


def _right_t(X: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``X_l T'`` for a constant lower-triangular ``T``."""
    p = T.shape[0]
    if p == 1:
        return X * T[0, 0]
    out = np.empty(X.shape[:1] + (p,) + X.shape[2:])
    for c in range(p):
        acc = X[:, 0] * T[c, 0]
        for b in range(1, c + 1):
            acc += X[:, b] * T[c, b]
        out[:, c] = acc
    return out


def _level_sum(X: np.ndarray, T: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``sum_l X_l T' Y_l`` for stacks ``X (a, c, l)``, ``Y (d, b, l)`` and a constant ``T``
    ``(d, c)``: one matrix product over the levels, then the small contraction with ``T``."""
    a, c, l = X.shape
    d, b, _ = Y.shape
    P = (X.reshape(a * c, l) @ Y.reshape(d * b, l).T).reshape(a, c, d, b)
    return np.einsum("dc,acdb->ab", T, P)


def selected_inverse(S: NestedSystem, F: NestedFactor) -> tuple[list, dict]:
    """The blocks of ``A^{-1} = (Lambda'Z'Z Lambda + I)^{-1}`` on the pattern of ``L``.

    Returns ``(diag, off)``: ``diag[k]`` the ``(p_k, p_k, l_k)`` diagonal level blocks,
    ``off[(j, k)]`` (``j > k``) the ``(p_j, p_k, l_k)`` blocks between each level of ``k`` and
    its parent in ``j``. From ``Sigma L = L^{-T}`` (Takahashi's recursion), coarsest term
    first, with ``s`` over the parents of a level ``m`` of ``k``:

    .. math::

        \\Sigma_{r,k} = -\\Big(\\sum_s \\Sigma_{r,s} L_{s,k}\\Big) L_{kk}^{-1}, \\qquad
        \\Sigma_{kk} = \\Big(L_{kk}^{-T} - \\sum_s \\Sigma_{s,k}' L_{s,k}\\Big) L_{kk}^{-1}

    Every ``Sigma_{r,s}`` between two parents of ``m`` is itself on the pattern (parents
    compose), so no other block is needed.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.dense_small import dense_crossproducts
    >>> child, school = np.array([0, 0, 1, 2, 2, 3]), np.array([0, 0, 0, 1, 1, 1])
    >>> ts = [TermData(child, np.ones((6, 1)), 4), TermData(school, np.ones((6, 1)), 2)]
    >>> A = form_crossproducts(ts, np.ones((6, 1)), np.arange(6.0))
    >>> S = NestedSystem.from_crossproducts(A, nested_structure(A))
    >>> diag, off = selected_inverse(S, nested_factor(S, [np.eye(1), np.eye(1)]))
    >>> full = np.linalg.inv(dense_crossproducts(A)[:6, :6] + np.eye(6))
    >>> bool(np.allclose(diag[0][0, 0], np.diag(full)[:4]))
    True
    """
    K = len(F.Linv)
    diag: list = [None] * K
    off: dict = {}
    for k in range(K - 1, -1, -1):
        Li = F.Linv[k]
        for r in range(k + 1, K):
            acc = None
            for s in range(k + 1, K):  # Sigma_{r,s} at the parents of each level of k
                if s == r:
                    sig = S.sums[(r, k)].spread(diag[r])
                elif r > s:
                    sig = S.sums[(s, k)].spread(off[(r, s)])
                else:
                    sig = S.sums[(r, k)].spread(off[(s, r)]).transpose(1, 0, 2)
                term = _mul(sig, F.rows[(s, k)])
                acc = term if acc is None else acc + term
            off[(r, k)] = -_mul(acc, Li)
        D = _tmul(Li, Li)  # L_kk^{-T} L_kk^{-1}
        for s in range(k + 1, K):
            D -= _mul(_tmul(off[(s, k)], F.rows[(s, k)]), Li)
        diag[k] = D
    return diag, off


def _gram_times(S: NestedSystem, x: list) -> list:
    """``x' Z'Z`` for stacks ``x[k]`` of shape ``(c, p_k, l_k)`` (``c`` row vectors ``x'``,
    per term and level): the same layout back."""
    K = len(x)
    out = []
    for k in range(K):
        g = _mul(x[k], S.diag[k])
        for j in range(k + 1, K):  # coarser terms: Z_j'Z_k at each level's parent
            g += _mul(S.sums[(j, k)].spread(x[j]), S.cross[(j, k)])
        for i in range(k):  # finer terms: summed over the levels of each parent
            g += S.sums[(k, i)](_mul(x[i], S.cross[(k, i)].transpose(1, 0, 2)))
        out.append(g)
    return out


def nested_gradient(S: NestedSystem, F: NestedFactor) -> tuple[np.ndarray, ...]:
    """Derivatives of ``log|L_Z|^2``, ``log|R_X|^2`` and ``r^2`` by theta at the factor ``F``.

    With ``A = Lambda'Z'Z Lambda + I``, ``E_t`` the 0/1 pattern of ``theta_t`` in ``Lambda``
    and ``[L_XZ, L_XX]`` the ``[X y]`` rows of ``L``:

    .. math::

        \\partial_t \\log|L_Z|^2 = 2 \\operatorname{tr}(A^{-1} \\Lambda' Z'Z E_t)

    needs only the diagonal level blocks of ``A^{-1} Lambda'Z'Z``: the blocks of ``A^{-1}``
    on the pattern of ``L`` (:func:`selected_inverse`), because ``Z'Z`` has no others. With
    ``V = L_Z^{-T} L_XZ' L_XX^{-T}`` (one back-substitution, ``p + 1`` columns) and
    ``G = Z'Z Lambda V``, the derivative of ``log det`` of the ``[X y]`` Schur complement is
    ``2 tr(V (G' - L_XX^{-1} [X y]'Z) E_t)``; its first ``p`` columns are
    ``d log|R_X|^2`` and its last is ``d log r^2`` (``V``'s last column is ``u / r``, so this
    is the envelope theorem's ``d r^2 = -2 (Z'(y - X beta) - Z'Z Lambda u)' E_t u``).

    Returns ``(g_logdet_z, g_logdet_x, g_r2)``, each of length ``len(theta)``.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> child, school = np.array([0, 0, 1, 2, 2, 3]), np.array([0, 0, 0, 1, 1, 1])
    >>> ts = [TermData(child, np.ones((6, 1)), 4), TermData(school, np.ones((6, 1)), 2)]
    >>> A = form_crossproducts(ts, np.ones((6, 1)), np.array([1.0, 2, 4, 3, 5, 9]))
    >>> S = NestedSystem.from_crossproducts(A, nested_structure(A))
    >>> logdet = lambda t: nested_factor(S, [np.eye(1) * t[0], np.eye(1) * t[1]]).logdet
    >>> g_z = nested_gradient(S, nested_factor(S, [np.eye(1) * 0.5, np.eye(1) * 0.8]))[0]
    >>> h = 1e-6
    >>> fd = (logdet([0.5 + h, 0.8]) - logdet([0.5 - h, 0.8])) / (2 * h)
    >>> bool(np.isclose(g_z[0], fd))
    True
    """
    return nested_gradient_internals(S, F)[:3]


def nested_gradient_internals(S: NestedSystem, F: NestedFactor) -> tuple:
    """:func:`nested_gradient`'s ``(g_logdet_z, g_logdet_x, g_r2)`` and what it computed on
    the way: the selected inverse ``(diag, off)``, ``(Lambda V)'`` per term (``(m, p_k,
    l_k)``) and ``L_XX^{-1}``."""
    K = len(F.Ts)
    LXX = F.LXX
    m = LXX.shape[0]
    p = m - 1
    diag, off = selected_inverse(S, F)
    # Y' = L_XZ L_Z^{-1}... as stacks (m, p_k, l_k), coarsest term first: Y_k' =
    # (L_{X,k} - sum_j Y_j' L_{jk}) L_kk^{-1}; then V' = L_XX^{-1} Y'
    LXXinv = np.linalg.inv(LXX)
    Vt: list = [None] * K
    Yt: list = [None] * K
    for k in range(K - 1, -1, -1):
        B = F.rows[(K, k)]
        for j in range(k + 1, K):
            B = B - _mul(S.sums[(j, k)].spread(Yt[j]), F.rows[(j, k)])
        Yt[k] = _mul(B, F.Linv[k])
        Vt[k] = _left(LXXinv.T, Yt[k])
    # (Lambda V)' per term, then G' = (Lambda V)' Z'Z
    LVt = [_right_t(v, T) for v, T in zip(Vt, F.Ts)]
    Gt = _gram_times(S, LVt)
    g_z, g_x, g_r2 = [], [], []
    r2 = float(LXX[-1, -1]) ** 2
    for k in range(K):
        Tk = F.Ts[k]
        # N_k = sum over levels of the diagonal blocks of A^{-1} Lambda'Z'Z in term k
        N = _level_sum(diag[k], Tk, S.diag[k])
        for j in range(k + 1, K):
            N += _level_sum(off[(j, k)].transpose(1, 0, 2), F.Ts[j], S.cross[(j, k)])
        for i in range(k):
            N += _level_sum(off[(k, i)], F.Ts[i], S.cross[(k, i)].transpose(1, 0, 2))
        # the [X y] part: sum over levels of V_c (G_c' - (L_XX^{-1} [X y]'Z)_c) per column c
        E = Gt[k] - _left(LXXinv.T, S.fixed[k])
        Q = np.einsum("cbl,cal->cba", Vt[k], E)
        rows, cols = lower_tri_indices(Tk.shape[0])
        g_z.append(2.0 * N[cols, rows])
        g_x.append(2.0 * Q[:p].sum(axis=0)[cols, rows])
        g_r2.append(2.0 * r2 * Q[p][cols, rows])
    return (np.concatenate(g_z), np.concatenate(g_x), np.concatenate(g_r2), diag, off, LVt,
            LXXinv)
