"""Weighted Gram products of sparse blocks with a fixed pattern, ``A_i W A_j'``.

For scalar first terms (``p_0 = 1``) the update of a later diagonal block needs
``L_i0 L_j0' = theta_i theta_j A_i0 diag(w) A_j0'`` where only the weights ``w`` (one per level
of the first term) change with theta. The pattern of the product is fixed, so the triples
``(entry, level, a_ri a_cl)`` are enumerated once, as the columns (one per level) of a sparse
matrix ``P`` whose rows are the entries of the column-major output; each evaluation is then a
single sparse matrix-vector product ``P w`` — no sparse matrix product, no sorting, no sparse
result to convert.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MAX_TRIPLES = 60_000_000  # beyond this the enumeration costs more memory than it saves
CHUNK = 4_000_000  # triples enumerated at a time (bounds the temporary index arrays)


@dataclass(frozen=True)
class GramPlan:
    """``A_i diag(w) A_j'`` as ``P w`` (lower triangle only when ``i == j``).

    Attributes
    ----------
    P : scipy.sparse.csc_matrix, shape (q_i * q_j, n_levels)
        Column ``l`` holds ``A_i[r, l] * A_j[c, l]`` at row ``c * q_i + r`` (column-major).
    shape : (q_i, q_j)
    """

    P: sp.csc_matrix
    shape: tuple

    @property
    def n_triples(self) -> int:
        return int(self.P.nnz)

    def apply(self, w: np.ndarray) -> np.ndarray:
        """``A_i diag(w) A_j'`` as a dense Fortran-ordered array (lower triangle only for a
        diagonal block), ready for LAPACK.

        Examples
        --------
        >>> A = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]]))
        >>> gram_plan(A, A, lower=False).apply(np.array([1.0, 2.0])).tolist()
        [[9.0, 12.0], [12.0, 18.0]]
        """
        return np.asarray(self.P @ np.asarray(w, dtype=float)).reshape(self.shape, order="F")


def gram_plan(Ai, Aj, *, lower: bool) -> GramPlan | None:
    """Enumerate the triples of ``Ai diag(w) Aj'``; None when there would be too many.

    Examples
    --------
    >>> A = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> gram_plan(A, A, lower=True).apply(np.ones(2)).tolist()
    [[5.0, 0.0], [6.0, 9.0]]
    """
    Ci, Cj = sp.csc_matrix(Ai), sp.csc_matrix(Aj)
    Ci.sum_duplicates()
    Cj.sum_duplicates()
    ni, nj = np.diff(Ci.indptr), np.diff(Cj.indptr)
    cnt = ni * nj
    if (int((ni * (ni + 1) // 2).sum()) if lower and Ai is Aj else int(cnt.sum())) > MAX_TRIPLES:
        return None
    n_rows = Ai.shape[0] * Aj.shape[0]
    idx = np.int32 if n_rows < 2**31 else np.int64
    # levels in chunks of about CHUNK triples: triples come out grouped by level (CSC order)
    bounds = np.searchsorted(np.cumsum(cnt), np.arange(CHUNK, int(cnt.sum()), CHUNK))
    flats, prods, counts = [], [], []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(cnt)]):
        f, p, level = _triples(Ci, Cj, np.arange(lo, hi), lower)
        flats.append(f.astype(idx))
        prods.append(p)
        counts.append(np.bincount(level - lo, minlength=hi - lo))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(idx)
    P = sp.csc_matrix((np.concatenate(prods), np.concatenate(flats), indptr),
                      shape=(n_rows, Ai.shape[1]))
    return GramPlan(P=P, shape=(Ai.shape[0], Aj.shape[0]))


def _triples(Ci, Cj, levels: np.ndarray, lower: bool):
    """Output entry (column-major), product and level of every triple of ``levels``."""
    ni, nj = np.diff(Ci.indptr)[levels], np.diff(Cj.indptr)[levels]
    cnt = ni * nj
    total = int(cnt.sum())
    level = np.repeat(levels, cnt)
    t = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    njl = np.repeat(nj, cnt)
    pi = Ci.indptr[level] + t // njl
    pj = Cj.indptr[level] + t % njl
    r, c = Ci.indices[pi], Cj.indices[pj]
    prod = Ci.data[pi] * Cj.data[pj]
    if lower:
        keep = r >= c
        r, c, level, prod = r[keep], c[keep], level[keep], prod[keep]
    flat = c.astype(np.int64) * Ci.shape[0] + r
    return flat, prod, level
