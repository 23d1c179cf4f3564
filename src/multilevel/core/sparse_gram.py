"""Weighted Gram products of sparse blocks with a fixed pattern, ``A_i W A_j'``.

For scalar first terms (``p_0 = 1``) the update of a later diagonal block needs
``L_i0 L_j0' = theta_i theta_j A_i0 diag(w) A_j0'`` where only the weights ``w`` (one per level
of the first term) change with theta. The pattern of the product is fixed, so the triples
``(row, col, level, a_ri a_cl)`` are enumerated once, sorted by output entry; each evaluation
is then one gather, one multiply and one segmented sum (``np.add.reduceat``) — no sparse matrix
product, no allocation of a sparse result.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

MAX_TRIPLES = 60_000_000  # beyond this the enumeration costs more memory than it saves


@dataclass(frozen=True)
class GramPlan:
    """Precomputed triples of ``A_i diag(w) A_j'`` (lower triangle only when ``i == j``).

    Attributes
    ----------
    flat : (t,) int array  -- index into the column-major (Fortran) ``(q_i, q_j)`` output
    level : (t,) int array -- the level (column of ``A_i`` / ``A_j``) each product belongs to
    prod : (t,) float array -- ``A_i[r, level] * A_j[c, level]``
    shape : (q_i, q_j)
    """

    flat: np.ndarray
    level: np.ndarray
    prod: np.ndarray
    shape: tuple
    starts: np.ndarray  # first triple of each distinct output entry (triples sorted by flat)
    targets: np.ndarray  # the distinct output entries

    def apply(self, w: np.ndarray) -> np.ndarray:
        """``A_i diag(w) A_j'`` as a dense Fortran-ordered array (lower triangle only for a
        diagonal block), ready for LAPACK.

        Examples
        --------
        >>> A = sp.csr_matrix(np.array([[1.0, 2.0], [0.0, 3.0]]))
        >>> gram_plan(A, A, lower=False).apply(np.array([1.0, 2.0])).tolist()
        [[9.0, 12.0], [12.0, 18.0]]
        """
        out = np.zeros(self.shape[0] * self.shape[1])
        if len(self.prod):
            terms = np.multiply(self.prod, np.take(w, self.level))
            out[self.targets] = np.add.reduceat(terms, self.starts)  # triples sorted by entry
        return out.reshape(self.shape, order="F")


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
    total = int(cnt.sum())
    if total > MAX_TRIPLES:
        return None
    idx = np.int32 if max(Ai.shape[0] * Aj.shape[0], Ai.shape[1], total) < 2**31 else np.int64
    level = np.repeat(np.arange(Ai.shape[1], dtype=idx), cnt)
    start = np.repeat(np.cumsum(cnt) - cnt, cnt)
    t = np.arange(total, dtype=np.int64) - start
    njl = nj[level]
    pi = Ci.indptr[level] + t // njl
    pj = Cj.indptr[level] + t % njl
    r, c = Ci.indices[pi], Cj.indices[pj]
    prod = Ci.data[pi] * Cj.data[pj]
    if lower:
        keep = r >= c
        r, c, level, prod = r[keep], c[keep], level[keep], prod[keep]
    flat = (c.astype(np.int64) * Ai.shape[0] + r).astype(idx)
    order = np.argsort(flat, kind="stable")  # each output entry's triples side by side
    flat = flat[order]
    targets, starts = np.unique(flat, return_index=True)
    return GramPlan(flat=flat, level=level[order], prod=prod[order],
                    shape=(Ai.shape[0], Aj.shape[0]), starts=starts, targets=targets)
