"""The blocked cross-product ``A = [Z X y]' [Z X y]``, formed once per data set.

Block ``k < K`` belongs to random-effects term ``k`` (``q_k = l_k p_k`` columns, level-major:
the ``p_k`` columns of level 0, then of level 1, ...); block ``K`` is ``[X y]``.

* ``A[k][k]`` for a term is block diagonal (every row belongs to one level): stored as an
  ``(l_k, p_k, p_k)`` array.
* ``A[i][j]`` for two terms ``i > j`` is ``Z_i' Z_j``: a ``scipy.sparse`` CSR matrix, or a dense
  array when it is small or mostly filled.
* ``A[K][j] = [X y]' Z_j`` is dense ``(p + 1, q_j)``; ``A[K][K] = [X y]'[X y]`` is dense.

Every later step (``update_L``, the objective, the solutions) reads only ``A`` and theta, never
the data: this is what makes out-of-core accumulation possible. The sums are formed with
``np.bincount``, so a pass over the data is ``O(nobs * p^2)`` with no Python loop over groups.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DENSE_CROSS_MAX = 4_000_000  # entries below which a term-by-term block may be kept dense
DENSE_FILL_MIN = 0.25  # fill ratio above which it is kept dense
DENSE_SMALL = 250_000  # blocks this small are dense whatever their fill: sparse overhead
                       # (index checks, format conversions) costs more than the zeros
LEVEL_SUM_CHUNK = 4_000_000  # entries of the stack of products summed by runs at once
PAIR_TABLE_MAX = 4_000_000  # level pairs up to which a crossed block of vector terms finds its
                            # pattern by a table over all pairs (one bincount, no sort)


@dataclass(frozen=True)
class TermData:
    """One random-effects term as the core sees it.

    Attributes
    ----------
    codes : ndarray of int64, shape (nobs,)  -- level of each row
    Z : ndarray of float64, shape (nobs, p)   -- raw model matrix of the term
    n_levels : int
    """

    codes: np.ndarray
    Z: np.ndarray
    n_levels: int

    @property
    def p(self) -> int:
        return self.Z.shape[1]

    @property
    def q(self) -> int:
        return self.n_levels * self.p


def _per_level(codes: np.ndarray, weights: np.ndarray | None, n_levels: int,
               counts: np.ndarray | None = None) -> np.ndarray:
    """Sums of ``weights`` per level; None is a row of ones: the level counts (``counts``
    when the caller has them)."""
    if weights is None:
        return counts if counts is not None else \
            np.bincount(codes, minlength=n_levels).astype(float)
    return np.bincount(codes, weights=weights, minlength=n_levels)


def _rows(M: np.ndarray) -> list:
    """The columns of ``M`` as contiguous rows (products of rows are contiguous operations),
    None for a column of ones: a product with it is the other factor itself (exactly).

    Examples
    --------
    >>> [None if r is None else r.tolist() for r in _rows(np.array([[1.0, 2.0], [1.0, 3.0]]))]
    [None, [2.0, 3.0]]
    """
    Mt = np.ascontiguousarray(np.asarray(M, dtype=float).T)
    return [None if (r == 1.0).all() else r for r in Mt]


def _times(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """The product of two rows from :func:`_rows` (None is a row of ones)."""
    return b if a is None else a if b is None else a * b


class _LevelSums:
    """Sums per level of products of two rows (from :func:`_rows`; None is a row of ones).

    Rows stored level by level (sorted codes, every level present: data kept group by
    group) sum by runs, many products in one ``np.add.reduceat`` over a stack of them
    (several times faster than one ``bincount`` per product: 14 products of 7,185 rows,
    40 against 295 us); otherwise one ``bincount`` per product. Products of two columns of
    ones are the level counts, made once.

    Examples
    --------
    >>> sums = _LevelSums(np.array([0, 0, 1]), 2)
    >>> [v.tolist() for v in sums([(None, None), (np.array([1.0, 2.0, 3.0]), None)])]
    [[2.0, 1.0], [3.0, 3.0]]
    """

    def __init__(self, codes: np.ndarray, n_levels: int):
        self.codes, self.l = codes, n_levels
        self._counts = None
        self.starts = None
        n = codes.size
        # sorted codes start at 0 and end at l - 1, and so does every sample of them in
        # order (two cheap rejections of unsorted data before the full test)
        if n and codes[0] == 0 and codes[-1] == n_levels - 1:
            sample = codes[::max(1, n // 64)]
            if (sample[1:] >= sample[:-1]).all():
                change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
                if (change.size == n_levels - 1
                        and (codes[change] > codes[change - 1]).all()):
                    self.starts = np.concatenate([[0], change])

    def counts(self) -> np.ndarray:
        """Rows per level, as floats."""
        if self._counts is None:
            self._counts = (np.diff(np.append(self.starts, self.codes.size)).astype(float)
                            if self.starts is not None else
                            np.bincount(self.codes, minlength=self.l).astype(float))
        return self._counts

    def __call__(self, pairs: list) -> list:
        """``(l,)`` sums of ``a * b`` per level for each pair of rows ``(a, b)``."""
        out = [self.counts() if a is None and b is None else None for a, b in pairs]
        todo = [i for i, v in enumerate(out) if v is None]
        if self.starts is None:
            for i in todo:
                out[i] = np.bincount(self.codes, weights=_times(*pairs[i]), minlength=self.l)
            return out
        n = self.codes.size
        step = max(1, LEVEL_SUM_CHUNK // n)  # bounded stacks of products
        for j in range(0, len(todo), step):
            chunk = todo[j:j + step]
            W = np.empty((len(chunk), n))
            for row, i in enumerate(chunk):
                a, b = pairs[i]
                if a is None or b is None:
                    W[row] = b if a is None else a
                else:
                    np.multiply(a, b, out=W[row])
            for i, v in zip(chunk, np.add.reduceat(W, self.starts, axis=1)):
                out[i] = v
        return out


def diag_block(term: TermData, rows: list | None = None,
               sums: _LevelSums | None = None) -> np.ndarray:
    """``Z_k' Z_k`` as an ``(l, p, p)`` array of per-level blocks (``rows``: ``Z_k``'s
    :func:`_rows`, ``sums`` its :class:`_LevelSums`, when the caller has them).

    Examples
    --------
    >>> t = TermData(np.array([0, 0, 1]), np.ones((3, 1)), 2)
    >>> diag_block(t)[:, 0, 0].tolist()
    [2.0, 1.0]
    """
    p, l = term.p, term.n_levels
    z = _rows(term.Z) if rows is None else rows
    sums = _LevelSums(term.codes, l) if sums is None else sums
    pairs = [(a, b) for a in range(p) for b in range(a + 1)]
    out = np.empty((l, p, p))
    for (a, b), v in zip(pairs, sums([(z[a], z[b]) for a, b in pairs])):
        out[:, a, b] = v
        out[:, b, a] = v
    return out


def fixed_cross(term: TermData, XY: np.ndarray, rows: list | None = None,
                xy_rows: list | None = None, sums: _LevelSums | None = None) -> np.ndarray:
    """``[X y]' Z_k`` as a dense ``(p_x + 1, q_k)`` array (level-major columns); ``rows``,
    ``xy_rows`` and ``sums``: the :func:`_rows` of ``Z_k`` and ``XY`` and ``Z_k``'s
    :class:`_LevelSums`, when the caller has them.

    Examples
    --------
    >>> t = TermData(np.array([0, 0, 1]), np.ones((3, 1)), 2)
    >>> fixed_cross(t, np.array([[1.0], [2.0], [3.0]])).tolist()
    [[3.0, 3.0]]
    """
    p, l = term.p, term.n_levels
    z = _rows(term.Z) if rows is None else rows
    xs = _rows(XY) if xy_rows is None else xy_rows
    sums = _LevelSums(term.codes, l) if sums is None else sums
    out = np.empty((len(xs), l, p))
    values = iter(sums([(x, z[a]) for x in xs for a in range(p)]))
    for c in range(len(xs)):
        for a in range(p):
            out[c, :, a] = next(values)
    return out.reshape(len(xs), l * p)


def _coo_cross(ti: TermData, tj: TermData):
    """``Z_i' Z_j`` as a COO matrix with one entry per row and pair of columns."""
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for a in range(ti.p):
        for b in range(tj.p):
            rows.append(ti.codes * ti.p + a)
            cols.append(tj.codes * tj.p + b)
            vals.append(ti.Z[:, a] * tj.Z[:, b])
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(ti.q, tj.q))


def term_cross(ti: TermData, tj: TermData, ri: list | None = None, rj: list | None = None,
               counts_j: np.ndarray | None = None):
    """``Z_i' Z_j`` for two terms, sparse (CSR) or dense by size and fill (``ri``, ``rj``: the
    terms' :func:`_rows`, ``counts_j`` the level counts of ``j``, when the caller has them).

    Examples
    --------
    >>> a = TermData(np.array([0, 1, 1]), np.ones((3, 1)), 2)
    >>> b = TermData(np.array([0, 0, 0]), np.ones((3, 1)), 1)
    >>> np.asarray(term_cross(a, b)).tolist()
    [[1.0], [2.0]]
    """
    size = ti.q * tj.q
    ri = _rows(ti.Z) if ri is None else ri
    rj = _rows(tj.Z) if rj is None else rj
    if size <= DENSE_SMALL:  # small: straight into a dense array
        out = np.zeros(size)
        for a in range(ti.p):
            for b in range(tj.p):
                flat = (ti.codes * ti.p + a) * tj.q + (tj.codes * tj.p + b)
                out += _per_level(flat, _times(ri[a], rj[b]), size)
        return out.reshape(ti.q, tj.q)
    import scipy.sparse as sp  # only for large blocks: small fits never import scipy.sparse

    # the pairs of levels that meet (sorted, row level major); the block sums go by a key per
    # row (n_keys of them), ``pick`` taking them into pair order
    li, lj = ti.n_levels, tj.n_levels
    parent = np.full(lj, -1, dtype=np.int64)
    parent[tj.codes] = ti.codes
    if np.array_equal(parent[tj.codes], ti.codes):  # each level of j within one level of i
        present = np.flatnonzero(parent >= 0)
        pairs = np.sort(parent[present] * lj + present)
        # one pair per level of j: sum by j's own codes, then the pairs' levels of j
        key, n_keys, pick = tj.codes, lj, pairs % lj
        known = counts_j  # a product of two columns of ones sums to j's level counts
    elif ti.p * tj.p > 1 and li * lj <= PAIR_TABLE_MAX:  # a table over all pairs: no sort
        table = ti.codes.astype(np.int64) * lj + tj.codes
        pairs = np.flatnonzero(np.bincount(table, minlength=li * lj))
        index = np.empty(li * lj, dtype=np.int64)
        index[pairs] = np.arange(pairs.size)
        key, n_keys, pick = index[table], pairs.size, None
        known = None
    else:  # crossed scalar terms (or a huge table): scipy sums the duplicates
        M = sp.coo_matrix((ti.Z[:, 0] * tj.Z[:, 0], (ti.codes, tj.codes)), shape=(li, lj)) \
            if ti.p * tj.p == 1 else _coo_cross(ti, tj)
        M = M.tocsr()
        M.sum_duplicates()
        return M.toarray() if size <= DENSE_CROSS_MAX and M.nnz >= DENSE_FILL_MIN * size else M
    n_pairs = pairs.size
    blocks = np.empty((n_pairs, ti.p, tj.p))
    for a in range(ti.p):
        for b in range(tj.p):
            sums = _per_level(key, _times(ri[a], rj[b]), n_keys, known)
            blocks[:, a, b] = sums if pick is None else sums[pick]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pairs // lj, minlength=li))])
    cols = pairs % lj
    if ti.p == tj.p == 1:
        M = sp.csr_matrix((blocks.ravel(), cols, indptr), shape=(ti.q, tj.q))
    else:
        M = sp.bsr_matrix((blocks, cols, indptr), shape=(ti.q, tj.q)).tocsr()
    M.has_sorted_indices = True
    if size <= DENSE_CROSS_MAX and M.nnz >= DENSE_FILL_MIN * size:
        return M.toarray()
    return M


@dataclass(frozen=True)
class CrossProducts:
    """All blocks of ``A`` plus the sizes the objective needs.

    Attributes
    ----------
    diag : list of (l_k, p_k, p_k) arrays        -- ``Z_k' Z_k``
    cross : dict[(i, j)] -> sparse or dense       -- ``Z_i' Z_j`` for ``i > j``
    fixed : list of (p_x + 1, q_k) arrays         -- ``[X y]' Z_k``
    xy : (p_x + 1, p_x + 1) array                 -- ``[X y]' [X y]``
    ps, n_levels : per-term sizes
    nobs : int
    """

    diag: list
    cross: dict
    fixed: list
    xy: np.ndarray
    ps: list
    n_levels: list
    nobs: int

    @property
    def p_x(self) -> int:
        return self.xy.shape[0] - 1


def _gram(At: np.ndarray) -> np.ndarray:
    """``At At'`` for a short, wide ``At`` (the rows of ``[X y]``), exactly symmetric.

    By a general product against a copy: numpy sends ``At @ At.T`` to BLAS's symmetric
    rank-k update, which OpenBLAS runs several times slower for this shape (31,022 rows of
    three columns: 0.25 ms against 0.03 ms); the upper triangle is then the lower one.

    Examples
    --------
    >>> _gram(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[5.0, 11.0], [11.0, 25.0]]
    """
    G = At @ At.copy().T
    upper = _upper(G.shape[0])
    G[upper] = G.T[upper]
    return G


@lru_cache(maxsize=32)
def _upper(k: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(k, 1)``, made once per order (read-only)."""
    rows, cols = np.triu_indices(k, 1)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def form_crossproducts(terms: list[TermData], X: np.ndarray, y: np.ndarray,
                       weights: np.ndarray | None = None) -> CrossProducts:
    """Form every block of ``A`` in one pass over the data.

    With prior ``weights`` the rows are scaled by ``sqrt(w)`` first (weighted least squares).

    Examples
    --------
    >>> t = TermData(np.array([0, 1, 1]), np.ones((3, 1)), 2)
    >>> A = form_crossproducts([t], np.ones((3, 1)), np.array([1.0, 2.0, 3.0]))
    >>> A.xy.tolist()
    [[3.0, 6.0], [6.0, 14.0]]
    """
    # [X y] and every term's Z as contiguous rows (columns of ones marked: no products)
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    XYt = np.empty((X.shape[1] + 1, X.shape[0]))
    XYt[:-1] = X.T
    XYt[-1] = y
    if weights is not None:
        sw = np.sqrt(np.asarray(weights, dtype=float))
        XYt *= sw
        terms = [TermData(t.codes, t.Z * sw[:, None], t.n_levels) for t in terms]
    xy_rows = [None if (r == 1.0).all() else r for r in XYt]
    z_rows = [_rows(t.Z) for t in terms]
    # per-level sums of each term (its level counts made once: its Z'Z, [X y]'Z and cross
    # blocks meet them wherever two columns of ones do)
    sums = [_LevelSums(t.codes, t.n_levels) for t in terms]
    diag = [diag_block(t, z, su) for t, z, su in zip(terms, z_rows, sums)]
    cross = {(i, j): term_cross(terms[i], terms[j], z_rows[i], z_rows[j],
                                sums[j].counts() if any(r is None for r in z_rows[j]) else None)
             for i in range(len(terms)) for j in range(i)}
    fixed = [fixed_cross(t, None, z, xy_rows, su) for t, z, su in zip(terms, z_rows, sums)]
    return CrossProducts(diag=diag, cross=cross, fixed=fixed, xy=_gram(XYt),
                         ps=[t.p for t in terms], n_levels=[t.n_levels for t in terms],
                         nobs=int(XYt.shape[1]))


class RowPlan:
    """:func:`form_crossproducts` for repeated weights and responses on fixed terms (PIRLS).

    The level indices of every block are computed once; each call is then one ``bincount``
    per term (its own columns against ``[Z_k X y]``) and one per pair of terms. Only for
    terms whose cross blocks are all small enough to be dense (:func:`RowPlan.applies`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ts = [TermData(rng.integers(0, 6, 50), np.ones((50, 1)), 6),
    ...       TermData(rng.integers(0, 3, 50), np.ones((50, 1)), 3)]
    >>> X, y, w = np.ones((50, 1)), rng.normal(size=50), rng.uniform(1, 2, 50)
    >>> A, B = RowPlan(ts).crossproducts(X, y, w), form_crossproducts(ts, X, y, weights=w)
    >>> bool(np.allclose(A.cross[(1, 0)], B.cross[(1, 0)]) and np.allclose(A.fixed[0], B.fixed[0]))
    True
    """

    def __init__(self, terms: list[TermData]):
        self.terms = terms
        self._flat: dict = {}
        self._pairs = {}
        for i in range(len(terms)):
            for j in range(i):
                ti, tj = terms[i], terms[j]
                a, b = np.meshgrid(np.arange(ti.p), np.arange(tj.p), indexing="ij")
                self._pairs[(i, j)] = (((ti.codes[:, None] * ti.p + a.ravel()[None, :]) * tj.q
                                        + tj.codes[:, None] * tj.p + b.ravel()[None, :]).ravel(),
                                       a.ravel(), b.ravel())

    @staticmethod
    def applies(terms: list[TermData]) -> bool:
        """Every cross block dense-sized (``q_i q_j <= DENSE_SMALL``)."""
        return all(terms[i].q * terms[j].q <= DENSE_SMALL
                   for i in range(len(terms)) for j in range(i))

    def crossproducts(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> CrossProducts:
        """The blocks of ``[Z X y]' W [Z X y]`` (as ``form_crossproducts(..., weights=w)``)."""
        XY = np.column_stack([X, y])
        diag, fixed = [], []
        for k, t in enumerate(self.terms):
            left = np.column_stack([t.Z, XY])
            c, p = left.shape[1], t.p
            flat = self._flat.get((k, c))
            if flat is None:
                flat = (t.codes[:, None] * (c * p) + np.arange(c * p)[None, :]).ravel()
                self._flat[(k, c)] = flat
            vals = (left[:, :, None] * (t.Z * w[:, None])[:, None, :]).ravel()
            G = np.bincount(flat, weights=vals, minlength=t.n_levels * c * p)
            G = G.reshape(t.n_levels, c, p)
            diag.append(np.ascontiguousarray(G[:, :p, :]))
            fixed.append(np.ascontiguousarray(G[:, p:, :].transpose(1, 0, 2))
                         .reshape(c - p, t.n_levels * p))
        cross = {}
        for (i, j), (flat, a, b) in self._pairs.items():
            ti, tj = self.terms[i], self.terms[j]
            vals = (ti.Z[:, a] * (tj.Z[:, b] * w[:, None])).ravel()
            cross[(i, j)] = np.bincount(flat, weights=vals,
                                        minlength=ti.q * tj.q).reshape(ti.q, tj.q)
        return CrossProducts(diag=diag, cross=cross, fixed=fixed, xy=(XY * w[:, None]).T @ XY,
                             ps=[t.p for t in self.terms],
                             n_levels=[t.n_levels for t in self.terms], nobs=int(XY.shape[0]))
