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

    ``lower=True`` (for ``Ai is Aj``) keeps the lower triangle only.

    Examples
    --------
    >>> A = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]]))
    >>> gram_plan(A, A, lower=True).apply(np.ones(2)).tolist()
    [[5.0, 0.0], [6.0, 9.0]]
    """
    same = Ai is Aj
    if lower and not same:
        raise ValueError("lower=True is for the Gram product of one matrix (Ai is Aj)")
    Ci = sp.csc_matrix(Ai)
    Ci.sum_duplicates()  # canonical: sorted row indices, so position order is row order
    Cj = Ci if same else sp.csc_matrix(Aj)
    Cj.sum_duplicates()
    ni, nj = np.diff(Ci.indptr), np.diff(Cj.indptr)
    cnt = ni * (ni + 1) // 2 if lower else ni * nj
    total = int(cnt.sum())
    if total > MAX_TRIPLES:
        return None
    n_rows = Ai.shape[0] * Aj.shape[0]
    idx = np.int32 if max(n_rows, total) < 2**31 else np.int64
    start = np.cumsum(cnt) - cnt
    flat = np.empty(total, dtype=idx)
    prod = np.empty(total)
    # levels with the same entry counts share one pattern of position pairs: enumerate it once
    # and gather all those levels at a time (no per-triple division or repeat)
    key = ni.astype(np.int64) * (int(nj.max(initial=0)) + 1) + nj
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for group in np.split(order, cuts):
        if group.size == 0 or cnt[group[0]] == 0:
            continue
        a, b = (np.tril_indices(int(ni[group[0]])) if lower
                else np.indices((int(ni[group[0]]), int(nj[group[0]]))).reshape(2, -1))
        step = max(1, CHUNK // a.size)
        for k in range(0, group.size, step):
            levels = group[k:k + step]
            pi = Ci.indptr[levels][:, None] + a
            pj = Cj.indptr[levels][:, None] + b
            pos = start[levels][:, None] + np.arange(a.size)
            flat[pos] = Cj.indices[pj].astype(np.int64) * Ai.shape[0] + Ci.indices[pi]
            prod[pos] = Ci.data[pi] * Cj.data[pj]
    indptr = np.concatenate([[0], np.cumsum(cnt)]).astype(idx)
    P = sp.csc_matrix((prod, flat, indptr), shape=(n_rows, Ai.shape[1]))
    return GramPlan(P=P, shape=(Ai.shape[0], Aj.shape[0]))
