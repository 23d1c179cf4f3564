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

import math

import numpy as np

from .batched import cholesky_lower
from .cholesky import (NotPositiveDefinite, batched_cholesky, blockdiag_right,
                       lambda_right, lambda_times_inv_t, scaled_blocks)
from .crossprod import CrossProducts
from .dense_layout import lambda_index
from .dense_small import dense_crossproducts
from .single_term import det_rows, packed_q, sigma_coefficients, theta_gradient
from .theta import lower_tri_indices, n_theta, split_theta

SCHUR_MAX = 400          # largest order r of the dense Schur complement
SCHUR_ENTRIES = 2_000_000  # largest r x q_0 block W formed per evaluation


def _dense(M) -> np.ndarray:
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M, dtype=float)


def _level_blocks(A: np.ndarray, B: np.ndarray, l: int, p: int) -> np.ndarray:
    """``(l, p, p)`` blocks ``sum_r A[r, level a] B[r, level b]`` of two level-major arrays."""
    if p == 1:
        return np.einsum("rl,rl->l", A, B)[:, None, None]
    return np.einsum("rla,rlb->lab", A.reshape(-1, l, p), B.reshape(-1, l, p))


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
        r = self.R.shape[0]
        self._diag_flat = slice(0, self.q_rest * (r + 1), r + 1)  # diag[:q_rest], flat
        self._scalar_rest = all(p == 1 for p in A.ps[1:])
        self._lam_flat = self._rows * r + self._cols   # where theta goes in the flat Lambda
        self._trace_flat = self._cols * r + self._rows  # entry (c, r) of a trace matrix
        self._n_rest = sum(n_theta(p) for _, p in self._rest_sizes)
        self._closed_form = self.p0 <= 2
        if self._closed_form:  # the first term's levels in closed form (single_term)
            # E_l = det(I + D_l Sigma_0) = c @ Dk, and the packed adj D_l for Q_l
            self._Dk, self._adj_d = det_rows(self.diag0.transpose(1, 2, 0))
            # Lambda_r's diagonal for scalar other terms, then ones for [X y]: theta's entries
            # go to its first q_rest places
            self._scale = np.ones(r)
            self._scale_theta = self.m0 + self._tidx
            self.many = self._many  # the checks' points in one batch (LmmProblem.batches)

    def _factor(self, theta: np.ndarray):
        theta = np.asarray(theta, dtype=float)
        T0 = split_theta(theta[:self.m0], [self.p0])[0]
        L0, L0inv = batched_cholesky(scaled_blocks(self.diag0, T0))
        p = self.p0
        ld0 = 2.0 * float(np.sum(np.log(L0.reshape(-1, p * p)[:, ::p + 1])))
        W = blockdiag_right(self.C, lambda_times_inv_t(T0, L0inv))
        G = self.R - W @ W.T
        lam = self._lam
        lam.reshape(-1)[self._lam_flat] = theta[self.m0:][self._tidx]
        S = lam.T @ G @ lam
        S.reshape(-1)[self._diag_flat] += 1.0
        L = cholesky_lower(S)
        ld = ld0 + 2.0 * float(np.sum(np.log(np.diag(L)[:self.q_rest])))
        return ld, L, L0inv, W, lam

    def _closed(self, theta: np.ndarray):
        """The first term (``p_0 <= 2``) in closed form: ``Q_l = Sigma_0 (I + D_l Sigma_0)^{-1}``
        per level (:mod:`~multilevel.core.single_term`), ``C_eff = R - C Q C'``, then the
        dense factor of ``Lambda_r' C_eff Lambda_r + I_z``. Returns ``(log|L_Z|^2, L, parts)``
        with ``parts = (s, E, Q, Lambda_r' C_eff)`` for the gradient."""
        c = sigma_coefficients(self.p0, theta)
        E = c @ self._Dk                                 # det(I + D_l Sigma_0) per level
        ld0 = float(np.log(E).sum())                     # E >= 1: finite unless theta is not
        if not abs(ld0) < math.inf:
            raise NotPositiveDefinite("no finite level determinant")
        inv_e = 1.0 / E
        C = self.C
        if self.p0 == 1:  # Q_l = s / E_l; C diag(Q) C' (OpenBLAS's gemm beats its syrk here)
            s, Q = c[1:], c[1] * inv_e[None]
            G = self.R - (C * Q[0]) @ C.T
        else:  # C_l Q_l for the two columns of every level
            s, _, Q = packed_q(2, c, inv_e, self._adj_d)
            C0, C1 = C[:, 0::2], C[:, 1::2]
            CQ = np.empty_like(C)
            CQ[:, 0::2] = C0 * Q[0] + C1 * Q[1]
            CQ[:, 1::2] = C0 * Q[1] + C1 * Q[2]
            G = self.R - CQ @ C.T
        if self._scalar_rest:  # Lambda_r diagonal: its products are row and column scalings
            scale = self._scale
            scale[:self.q_rest] = theta[self._scale_theta]
            LG = G * scale[:, None]
            S = LG * scale
        else:
            lam = self._lam
            lam.reshape(-1)[self._lam_flat] = theta[self.m0:][self._tidx]
            LG = lam.T @ G
            S = LG @ lam
        S.reshape(-1)[self._diag_flat] += 1.0  # + I_z through a strided view
        L = cholesky_lower(S)
        ld = ld0 + 2.0 * float(np.log(L.reshape(-1)[self._diag_flat]).sum())
        return ld, L, (s, E, Q, LG)

    def _many(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX)`` for every row of ``thetas`` (the finite-difference points of
        the convergence checks), :meth:`_closed`'s steps with the rows stacked: one product
        for all their ``E``, one stacked ``C Q C'``, one batched Cholesky factor. Rows in
        chunks that keep the stacked ``C Q`` within ``SCHUR_ENTRIES``. Raises
        :class:`~multilevel.core.cholesky.NotPositiveDefinite` if any row fails
        (:meth:`multilevel.core.lmm.LmmProblem.objectives` then takes them one at a time).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.integers(0, 30, 300), rng.integers(0, 6, 300)
        >>> A = form_crossproducts([TermData(a, np.ones((300, 1)), 30),
        ...                         TermData(b, np.ones((300, 1)), 6)], np.ones((300, 1)),
        ...                        rng.normal(size=300))
        >>> obj = SchurObjective(A)
        >>> ts = np.array([[0.7, 1.3], [0.2, 0.9]])
        >>> lds, LXXs = obj.many(ts)
        >>> bool(np.allclose(lds, [obj(t)[0] for t in ts]))
        True
        >>> bool(np.allclose(LXXs[1], obj(ts[1])[1]))
        True
        """
        thetas = np.asarray(thetas, dtype=float)
        C, q, r = self.C, self.q_rest, self.R.shape[0]
        step = max(1, SCHUR_ENTRIES // C.size)
        if thetas.shape[0] > step:
            parts = [self._many(thetas[i:i + step]) for i in range(0, thetas.shape[0], step)]
            return (np.concatenate([ld for ld, _ in parts]),
                    np.concatenate([LXX for _, LXX in parts]))
        n = thetas.shape[0]
        c = np.array([sigma_coefficients(self.p0, t[:self.m0]) for t in thetas])
        E = c @ self._Dk                                          # (n, l0)
        ld0 = np.log(E).sum(axis=1)
        if not (np.abs(ld0) < math.inf).all():
            raise NotPositiveDefinite("no finite level determinant")
        inv_e = 1.0 / E
        if self.p0 == 1:                                          # C_l Q_l, Q_l = s / E_l
            CQ = C * (c[:, 1:2] * inv_e)[:, None, :]
        else:
            Q = (c[:, 1:4, None] + c[:, 4, None, None] * self._adj_d) * inv_e[:, None, :]
            C0, C1 = C[:, 0::2], C[:, 1::2]
            CQ = np.empty((n,) + C.shape)
            CQ[:, :, 0::2] = C0 * Q[:, None, 0] + C1 * Q[:, None, 1]
            CQ[:, :, 1::2] = C0 * Q[:, None, 1] + C1 * Q[:, None, 2]
        G = self.R - CQ @ C.T                                     # (n, r, r)
        if self._scalar_rest:
            scale = np.ones((n, r))
            scale[:, :q] = thetas[:, self._scale_theta]
            S = G * scale[:, :, None] * scale[:, None, :]
        else:
            lam = np.broadcast_to(np.eye(r), (n, r, r)).copy()
            lam.reshape(n, -1)[:, self._lam_flat] = thetas[:, self._scale_theta]
            S = np.swapaxes(lam, 1, 2) @ G @ lam
        S.reshape(n, -1)[:, self._diag_flat] += 1.0
        L = cholesky_lower(S)
        ld = ld0 + 2.0 * np.log(L.reshape(n, -1)[:, self._diag_flat]).sum(axis=1)
        return ld, L[:, q:, q:]

    def _closed_gradient(self, theta: np.ndarray):
        """:meth:`gradient_parts` with the first term in closed form: for each part ``f``,
        ``Psi_M = df/dM`` of the dense system ``M = Lambda_r' C_eff Lambda_r + I_z``
        (``M_zz^{-1}`` for ``log|L_Z|^2``; ``Phi J Phi'`` with ``Phi`` the ``[X y]`` columns of
        ``L^{-T}`` for the others) gives the other terms' ``2 tr(Psi_M Lambda_r' C_eff E_t)``
        and, through ``Psi = Lambda_r Psi_M Lambda_r'``, the first term's
        ``df/dQ_l = -C_l' Psi C_l`` (:func:`~multilevel.core.single_term.theta_gradient`)."""
        ld, L, (s, E, Q, LG) = self._closed(theta)
        q, r = self.q_rest, L.shape[0]
        m, p = r - q, r - q - 1
        LXX = L[q:, q:]
        Linv = np.linalg.inv(L)
        Phi = Linv[q:].T                                  # (r, m)
        Lzi = Linv[:q, :q]
        Psi_M = np.zeros((3, r, r))
        Psi_M[0, :q, :q] = Lzi.T @ Lzi
        if p:
            Psi_M[1] = Phi[:, :p] @ Phi[:, :p].T
        Psi_M[2] = (float(LXX[-1, -1]) ** 2) * np.outer(Phi[:, p], Phi[:, p])
        # the other terms: 2 tr(Psi_M Lambda' C_eff E_t), entry (r, c) of E_t meets (c, r)
        T = (Psi_M @ LG).reshape(3, -1)[:, self._trace_flat]
        t = self._tidx
        g_rest = 2.0 * np.stack([np.bincount(t, T[h], self._n_rest) for h in range(3)])
        # the first term: -C_l' Psi C_l per level, packed (an off-diagonal entry twice)
        lam = self._lam
        if self._scalar_rest:  # _closed scaled by Lambda_r's diagonal without filling it
            lam.reshape(-1)[self._lam_flat] = theta[self.m0:][self._tidx]
        PsiC = (lam @ Psi_M @ lam.T) @ self.C             # (3, r, q0)
        C, l0 = self.C, E.size
        if self.p0 == 1:
            bar_q = -np.einsum("il,hil->hl", C, PsiC)[:, None]
        else:
            C3, P4 = C.reshape(r, l0, 2), PsiC.reshape(3, r, l0, 2)
            bar_q = -np.stack([np.einsum("il,hil->hl", C3[:, :, 0], P4[:, :, :, 0]),
                               2.0 * np.einsum("il,hil->hl", C3[:, :, 0], P4[:, :, :, 1]),
                               np.einsum("il,hil->hl", C3[:, :, 1], P4[:, :, :, 1])], axis=1)
        g0 = theta_gradient(self.p0, theta[:self.m0], s, 1.0 / E, Q, bar_q, self._Dk,
                            self._adj_d)
        g = np.concatenate([g0, g_rest], axis=1)
        return ld, LXX, g[0], g[1], g[2]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``.

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` when the system is not
        positive definite.
        """
        q = self.q_rest
        if self._closed_form:
            ld, L, _ = self._closed(np.asarray(theta, dtype=float))
            return ld, L[q:, q:]
        ld, L, *_ = self._factor(theta)
        return ld, L[q:, q:]

    def gradient_parts(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX, d log|L_Z|^2, d log|R_X|^2, d r^2)``: ``__call__``'s values
        and their derivatives by theta.

        With ``A = Lambda'Z'Z Lambda + I`` and ``E_t`` the 0/1 pattern of ``theta_t`` in
        ``Lambda``, ``d log|L_Z|^2 = 2 tr(A^{-1} Lambda'Z'Z E_t)`` needs the first term's
        diagonal level blocks of ``A^{-1} Lambda'Z'Z`` and its dense block for the other
        terms. From the factor ``[[L_0, 0], [V_z, L_zz]]`` of ``A``:

        .. math::

            \\Sigma_{rr} = L_{zz}^{-T} L_{zz}^{-1}, \\quad
            \\Sigma_{r0} = -\\Sigma_{rr} V_z L_0^{-1}, \\quad
            \\Sigma_{00,l} = L_{0,l}^{-T} L_{0,l}^{-1} - \\Sigma_{r0,l}' V_{z,l} L_{0,l}^{-1}

        (only the first term's level blocks of ``Sigma_00``). The ``[X y]`` part is that of
        :func:`multilevel.core.nested.nested_gradient`: with ``V = L_Z^{-T} L_XZ' L_XX^{-T}``
        and ``G = Z'Z Lambda V``, ``2 tr(V (G' - L_XX^{-1} [X y]'Z) E_t)`` over the first
        ``p`` columns is ``d log|R_X|^2``, over the last ``d log r^2``.

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` as ``__call__``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.integers(0, 30, 300), rng.integers(0, 6, 300)
        >>> A = form_crossproducts([TermData(a, np.ones((300, 1)), 30),
        ...                         TermData(b, np.ones((300, 1)), 6)], np.ones((300, 1)),
        ...                        rng.normal(size=300))
        >>> obj, h = SchurObjective(A), 1e-6
        >>> ldx = lambda t: 2 * np.log(obj(t)[1][0, 0])
        >>> g_x = obj.gradient_parts(np.array([0.7, 1.3]))[3]
        >>> fd = (ldx(np.array([0.7, 1.3 + h])) - ldx(np.array([0.7, 1.3 - h]))) / (2 * h)
        >>> bool(np.isclose(g_x[1], fd))
        True
        """
        theta = np.asarray(theta, dtype=float)
        if self._closed_form:
            return self._closed_gradient(theta)
        ld, L, L0inv, W, lam = self._factor(theta)
        T0 = split_theta(theta[:self.m0], [self.p0])[0]
        q, p0, l0 = self.q_rest, self.p0, L0inv.shape[0]
        mx = L.shape[0] - q            # p + 1 columns of [X y]
        # matrices with q0 columns are level-major (p0 per level), as C and W
        V = lam.T @ W                  # rows of L below the first term
        Linv = np.linalg.inv(L)        # its diagonal blocks are L_zz^{-1} and L_XX^{-1}
        Lzi, LXX, LXX_inv = Linv[:q, :q], L[q:, q:], Linv[q:, q:]
        Cz, D0, R_zz, lam_z = self.C[:q], self.diag0, self.R[:q, :q], lam[:q, :q]
        # selected blocks of A^{-1}: Sigma_rr dense, Sigma_r0 dense, Sigma_00 per level
        S_rr = Lzi.T @ Lzi
        VzL = blockdiag_right(V[:q], L0inv)                   # V_z L_0^{-1}
        S_r0 = -(S_rr @ VzL)
        S_00 = (np.swapaxes(L0inv, 1, 2) @ L0inv
                - _level_blocks(S_r0, VzL, l0, p0))
        # d log|L_Z|^2: the first term's level blocks of A^{-1} Lambda'Z'Z, summed over
        # levels (sum_l S_00,l T0' D0_l and the rows of Sigma_r0' Lambda_r'Z_r'Z_0) ...
        LC = lam_z.T @ Cz
        N0 = (np.tensordot(S_00 @ T0.T, D0, axes=([0, 2], [0, 1]))
              + S_r0.reshape(-1, p0).T @ LC.reshape(-1, p0))
        # ... and the other terms' dense block
        N_rr = S_r0 @ lambda_right(Cz, T0, l0).T + S_rr @ (lam_z.T @ R_zz)
        # the [X y] part: V = L_Z^{-T} L_XZ' L_XX^{-T}; its rows for the other terms are
        # -(L^{-1})[X, z]', those of the first term L_0^{-T} ((L^{-1})[X, :] V)' per level
        Vr = -Linv[q:, :q].T                                   # (q, p + 1)
        V0 = blockdiag_right(Linv[q:] @ V, L0inv).T           # (q0, p + 1)
        x0, xr = lambda_right(V0.T, T0.T, l0).T, lam_z @ Vr   # Lambda V
        # G - (L_XX^{-1} [X y]'Z)': the derivative of the [X y] factor's log det
        G0 = (blockdiag_right(x0.T, D0).T + Cz.T @ xr - (LXX_inv @ self.C[q:]).T)
        Gr = Cz @ x0 + R_zz @ xr - (LXX_inv @ self.R[q:, :q]).T
        Q0 = np.einsum("lbc,lac->cba", V0.reshape(l0, p0, mx),
                       G0.reshape(l0, p0, mx))                  # (p + 1, p0, p0)
        Hr = Vr[self._cols] * Gr[self._rows]
        # per theta: entry (r, c) of Lambda meets entry (c, r) of the trace matrices
        rows0, cols0 = lower_tri_indices(p0)
        n_rest, t = self._n_rest, self._tidx
        p = mx - 1
        r2 = float(LXX[-1, -1]) ** 2
        g_z = np.concatenate([2.0 * N0[cols0, rows0],
                              2.0 * np.bincount(t, N_rr[self._cols, self._rows], n_rest)])
        g_x = np.concatenate([2.0 * Q0[:p].sum(axis=0)[cols0, rows0],
                              2.0 * np.bincount(t, Hr[:, :p].sum(axis=1), n_rest)])
        g_r2 = 2.0 * r2 * np.concatenate([Q0[p][cols0, rows0], np.bincount(t, Hr[:, p], n_rest)])
        return ld, LXX, g_z, g_x, g_r2

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
