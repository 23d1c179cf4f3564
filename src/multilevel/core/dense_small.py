"""The profiled objective of a small model as one dense Cholesky factorisation.

For the lesson's models (10 schools, 2 random effects each: ``q = 20``) the whole system
``[[Lambda' Z'Z Lambda + I, Lambda' Z'[X y]], [., [X y]'[X y]]]`` has order ``q + p + 1 = 23``:
one LAPACK call on it costs less than the dozen small numpy operations of the blocked update
(:func:`multilevel.core.cholesky.update_L`), whose per-call overhead then dominates. The
factor is the same ``L`` (same blocks, same order), so the objective is the same to rounding;
everything other than the objective (solutions, conditional variances) keeps the blocked path.
"""
from __future__ import annotations

import numpy as np

from .cholesky import NotPositiveDefinite
from .crossprod import CrossProducts
from .theta import lower_tri_indices, n_theta

DENSE_OBJECTIVE_MAX = 64  # order q + p + 1 up to which the dense objective is used (measured
                          # single-threaded: 19 vs 64 us at order 28, 49 vs 66 at 68, 104 vs 68 at 98)


def dense_crossproducts(A: CrossProducts) -> np.ndarray:
    """``A`` as one dense symmetric array (terms in order, levels major within a term).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> t = TermData(np.array([0, 0, 1]), np.ones((3, 1)), 2)
    >>> dense_crossproducts(form_crossproducts([t], np.ones((3, 1)), np.arange(3.0))).tolist()
    [[2.0, 0.0, 2.0, 1.0], [0.0, 1.0, 1.0, 2.0], [2.0, 1.0, 3.0, 3.0], [1.0, 2.0, 3.0, 5.0]]
    """
    qs = [l * p for l, p in zip(A.n_levels, A.ps)]
    off = np.concatenate([[0], np.cumsum(qs)]).astype(int)
    q = int(off[-1])
    m = q + A.xy.shape[0]
    out = np.zeros((m, m))
    for k, (l, p) in enumerate(zip(A.n_levels, A.ps)):
        idx = off[k] + np.arange(l)[:, None, None] * p
        out[idx + np.arange(p)[None, :, None], idx + np.arange(p)[None, None, :]] = A.diag[k]
        out[q:, off[k]:off[k + 1]] = A.fixed[k]
        for j in range(k):
            C = A.cross[(k, j)]
            out[off[k]:off[k + 1], off[j]:off[j + 1]] = C.toarray() if hasattr(C, "toarray") \
                else np.asarray(C)
    out[q:, q:] = A.xy
    return np.tril(out) + np.tril(out, -1).T


class DenseObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` by one dense factorisation; see the module docstring.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.cholesky import logdet_re, update_L
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(4), 5)
    >>> A = form_crossproducts([TermData(g, np.ones((20, 1)), 4)], np.ones((20, 1)),
    ...                        rng.normal(size=20))
    >>> ld, LXX = DenseObjective(A)(np.array([0.7]))
    >>> F = update_L(A, np.array([0.7]))
    >>> bool(np.isclose(ld, logdet_re(F))), bool(np.allclose(LXX, F.LXX))
    (True, True)
    """

    def __init__(self, A: CrossProducts):
        self.full = dense_crossproducts(A)
        self.q = int(sum(l * p for l, p in zip(A.n_levels, A.ps)))
        rows, cols, tidx = [], [], []
        off, start = 0, 0
        for l, p in zip(A.n_levels, A.ps):
            r, c = lower_tri_indices(p)
            base = off + np.arange(l)[:, None] * p
            rows.append((base + r[None, :]).ravel())
            cols.append((base + c[None, :]).ravel())
            tidx.append(np.tile(start + np.arange(r.size), l))
            off += l * p
            start += n_theta(p)
        self._rows = np.concatenate(rows)
        self._cols = np.concatenate(cols)
        self._tidx = np.concatenate(tidx)
        m = self.full.shape[0]
        self._lam = np.eye(m)  # Lambda on the Z block, identity on [X y]
        self._diag_z = np.arange(self.q)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``.

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` when the system is not
        positive definite.
        """
        lam = self._lam
        lam[self._rows, self._cols] = np.asarray(theta, dtype=float)[self._tidx]
        S = lam.T @ self.full @ lam
        S[self._diag_z, self._diag_z] += 1.0
        try:
            L = np.linalg.cholesky(S)
        except np.linalg.LinAlgError as exc:
            raise NotPositiveDefinite(str(exc)) from exc
        d = np.diag(L)
        q = self.q
        return 2.0 * float(np.sum(np.log(d[:q]))), np.tril(L[q:, q:])
