"""The profiled objective when everything after the first term is small: one dense Schur
complement.

Crossed designs such as pupils' primary by secondary school (148 x 19 levels) or plates by
samples have a large first term and a few dozen other columns. The first term's diagonal
block is block diagonal, so eliminating it leaves a dense system of order
``r = q_rest + p + 1`` for the other terms and ``[X y]``:

.. math::

    S = \\Lambda_r' \\left(R - W W'\\right) \\Lambda_r + I_z, \\qquad
    W = C \\,\\Lambda_0 L_0^{-T},

where ``R`` is the cross-product of the other terms and ``[X y]``, ``C`` their cross-product
with the first term, and ``L_0`` the batched factors of the first term's levels. One matrix
product and one dense Cholesky factor of order ``r`` per evaluation; the same factor as
:func:`~multilevel.core.cholesky.update_L`, without its sparse objects.
"""
from __future__ import annotations

import numpy as np

from .cholesky import (NotPositiveDefinite, batched_cholesky, blockdiag_right,
                       lambda_times_inv_t, scaled_blocks)
from .crossprod import CrossProducts
from .dense_small import dense_crossproducts, lambda_index
from .theta import n_theta, split_theta

SCHUR_MAX = 400          # largest order r of the dense Schur complement
SCHUR_ENTRIES = 2_000_000  # largest r x q_0 block W formed per evaluation


def _dense(M) -> np.ndarray:
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M, dtype=float)


def schur_applies(A: CrossProducts) -> bool:
    """Whether :class:`SchurObjective` suits ``A`` (two or more terms, a small rest).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> a, b = np.arange(200) % 100, np.arange(200) % 7
    >>> A = form_crossproducts([TermData(a, np.ones((200, 1)), 100),
    ...                         TermData(b, np.ones((200, 1)), 7)], np.ones((200, 1)),
    ...                        np.arange(200.0))
    >>> schur_applies(A)
    True
    """
    if len(A.ps) < 2:
        return False
    r = sum(l * p for l, p in zip(A.n_levels[1:], A.ps[1:])) + A.xy.shape[0]
    return r <= SCHUR_MAX and r * A.n_levels[0] * A.ps[0] <= SCHUR_ENTRIES


class SchurObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` by eliminating the first term; see the module docstring.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.cholesky import logdet_re, update_L
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.integers(0, 30, 300), rng.integers(0, 6, 300)
    >>> A = form_crossproducts([TermData(a, np.ones((300, 1)), 30),
    ...                         TermData(b, np.ones((300, 1)), 6)], np.ones((300, 1)),
    ...                        rng.normal(size=300))
    >>> ld, LXX = SchurObjective(A)(np.array([0.7, 1.3]))
    >>> F = update_L(A, np.array([0.7, 1.3]))
    >>> bool(np.isclose(ld, logdet_re(F))), bool(np.allclose(LXX, F.LXX))
    (True, True)
    """

    def __init__(self, A: CrossProducts):
        K = len(A.ps)
        rest = CrossProducts(diag=A.diag[1:], fixed=A.fixed[1:], xy=A.xy, ps=A.ps[1:],
                             n_levels=A.n_levels[1:], nobs=A.nobs,
                             cross={(i - 1, j - 1): A.cross[(i, j)]
                                    for i in range(2, K) for j in range(1, i)})
        self.R = dense_crossproducts(rest)
        self.C = np.vstack([_dense(A.cross[(k, 0)]) for k in range(1, K)]
                           + [np.asarray(A.fixed[0], dtype=float)])
        self.diag0, self.p0 = np.asarray(A.diag[0], dtype=float), A.ps[0]
        self.q_rest = int(sum(l * p for l, p in zip(A.n_levels[1:], A.ps[1:])))
        self.m0 = n_theta(self.p0)
        self._rows, self._cols, self._tidx = lambda_index(A.n_levels[1:], A.ps[1:])
        self._rest_sizes = list(zip(A.n_levels[1:], A.ps[1:]))
        self._lam = np.eye(self.R.shape[0])
        self._diag_z = np.arange(self.q_rest)

    def _factor(self, theta: np.ndarray):
        theta = np.asarray(theta, dtype=float)
        T0 = split_theta(theta[:self.m0], [self.p0])[0]
        L0, L0inv = batched_cholesky(scaled_blocks(self.diag0, T0))
        p = self.p0
        ld0 = 2.0 * float(np.sum(np.log(L0.reshape(-1, p * p)[:, ::p + 1])))
        W = blockdiag_right(self.C, lambda_times_inv_t(T0, L0inv))
        G = self.R - W @ W.T
        lam = self._lam
        lam[self._rows, self._cols] = theta[self.m0:][self._tidx]
        S = lam.T @ G @ lam
        S[self._diag_z, self._diag_z] += 1.0
        try:
            L = np.linalg.cholesky(S)
        except np.linalg.LinAlgError as exc:
            raise NotPositiveDefinite(str(exc)) from exc
        ld = ld0 + 2.0 * float(np.sum(np.log(np.diag(L)[:self.q_rest])))
        return ld, L, L0inv, W, lam

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``.

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` when the system is not
        positive definite.
        """
        ld, L, *_ = self._factor(theta)
        q = self.q_rest
        return ld, L[q:, q:]

    def solve(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, list]:
        """``(log|L_Z|^2, L_XX, beta, u)`` with ``u`` per term as ``(l_k, p_k)`` arrays: the
        back-substitution ``L' [u; beta] = `` the last row of ``L``, the first term last.
        """
        ld, L, L0inv, W, lam = self._factor(theta)
        x = np.linalg.solve(L[:-1, :-1].T, L[-1, :-1])  # [u of the other terms; beta]
        V = lam.T @ W                                  # L_{i0}: the rows below the first term
        rhs0 = (V[-1] - x @ V[:-1]).reshape(L0inv.shape[0], self.p0)
        u0 = np.einsum("lab,la->lb", L0inv, rhs0)      # L_00^{-T} per level
        us, start = [u0], 0
        for l, p in self._rest_sizes:
            us.append(x[start:start + l * p].reshape(l, p))
            start += l * p
        q = self.q_rest
        return ld, L[q:, q:], x[q:], us
