"""Two nested terms, the finer eliminated in closed form: ``(x | a/b)``, ``(1 | a/b)``.

The finer term (children, many levels, ``p_0 <= 2``) is eliminated level by level in the data's
own coordinates (as in :mod:`multilevel.core.single_term`): with ``G_l`` its level's
cross-products with the coarser term and ``[X y]`` and ``Q_l = Sigma_0 (I + D_l Sigma_0)^{-1}``,

.. math::

    C_{eff} = C_{rest} - \\sum_l G_l Q_l G_l', \\qquad
    \\log|L_Z|^2 = \\sum_l \\log\\det(I + D_l \\Sigma_0) + \\log|L_{Z,rest}|^2

where ``C_rest`` holds the coarser term's level blocks (each child adds to its parent's) and
``[X y]'[X y]``; the coarser term is then one nested term
(:func:`~multilevel.core.nested.nested_factor` on ``C_eff``, few levels).

Derivatives: the coarser term's theta through the small system
(:func:`~multilevel.core.nested.nested_gradient_internals`); the finer term's by the chain rule
through ``C_eff``. For each part ``f`` of the criterion, ``df/dC_eff`` is ``Psi =
Lambda A^{-1} Lambda'`` on the coarse blocks for ``log|L_Z|^2`` and ``Phi J Phi'`` with
``Phi = [Lambda V; -L_XX^{-T}]`` for the ``[X y]`` parts (``J`` selects the ``X`` columns for
``log|R_X|^2``, ``r^2 e e'`` for ``r^2``), so ``df/dQ_l = -G_l' Psi_l G_l`` needs
``K_l = G_l' Phi_l`` per child (a ``p_0 x (p + 1)`` product), then
:func:`~multilevel.core.single_term.theta_gradient`.
"""
from __future__ import annotations

import numpy as np

from .batched import cholesky_lower
from .nested import (NestedSystem, _left, _mul, _right_t, _tmul, nested_factor,
                     nested_gradient_internals)
from .single_term import (MAX_ENTRIES, det_rows, level_q, packed_products, theta_gradient,
                          xy_seeds)
from .theta import n_theta, split_theta


def _unpacked(Q: np.ndarray) -> np.ndarray:
    """The ``(p, p, l)`` symmetric blocks of packed ``Q`` (``(1, l)`` or ``(3, l)``)."""
    if Q.shape[0] == 1:
        return Q[None]
    return np.stack([Q[:2], Q[1:]])


def _packed_squares(K: np.ndarray) -> np.ndarray:
    """Packed ``K[c, a] K[c, b]`` per row ``c`` and level from ``K`` ``(c, p, l)`` (p <= 2), an
    off-diagonal entry counted twice (the derivative by a packed entry): ``(c, k, l)``."""
    if K.shape[1] == 1:
        return K * K
    k0, k1 = K[:, 0], K[:, 1]
    out = np.empty((K.shape[0], 3, K.shape[2]))
    np.multiply(k0, k0, out=out[:, 0])
    np.multiply(k0, k1, out=out[:, 1])
    out[:, 1] *= 2.0
    np.multiply(k1, k1, out=out[:, 2])
    return out


class TwoLevelObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` and :meth:`gradient_parts` for two nested terms whose
    finer one has one or two columns; see the module docstring.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.nested import NestedSystem, nested_factor, nested_structure
    >>> rng = np.random.default_rng(0)
    >>> child, school = np.repeat(np.arange(12), 3), np.repeat(np.arange(4), 9)
    >>> ts = [TermData(child, np.ones((36, 1)), 12), TermData(school, np.ones((36, 1)), 4)]
    >>> A = form_crossproducts(ts, np.ones((36, 1)), rng.normal(size=36))
    >>> S = NestedSystem.from_crossproducts(A, nested_structure(A))
    >>> ld, LXX = TwoLevelObjective(S)(np.array([0.8, 1.2]))
    >>> F = nested_factor(S, [np.eye(1) * 0.8, np.eye(1) * 1.2])
    >>> bool(np.isclose(ld, F.logdet)), bool(np.allclose(LXX, F.LXX))
    (True, True)
    """

    @staticmethod
    def applies(S: NestedSystem) -> bool:
        """Two terms, the finer with at most two columns, level tables of bounded size."""
        if len(S.diag) != 2:
            return False
        p0, _, l0 = S.diag[0].shape
        c0 = S.below[0].shape[0]
        return p0 <= 2 and c0 * c0 * (p0 * (p0 + 1) // 2) * l0 <= MAX_ENTRIES

    def __init__(self, S: NestedSystem):
        self.S = S
        D0 = S.diag[0]
        self.p0, self.p1 = D0.shape[0], S.diag[1].shape[0]
        self.m = S.xy.shape[0]
        self.Dk, self.adj_d = det_rows(D0)  # E_l = c @ Dk (single_term.level_q)
        # G_l Q_l G_l' for packed Q: the coarse-term columns (summed into each parent) and
        # the [X y] block (summed over all levels); G = [Z_1; [X y]]'Z_0, (c0, p0, l0)
        G = S.below[0]
        p1, m = self.p1, self.m
        self.O_par = packed_products(G, G[:p1])                      # (c0, p1, k, l0)
        self.O_xy = packed_products(G[p1:]).reshape(m * m, -1)       # (m m, k l0)
        # the coarse block of G_l' (.) G_l by the packed entries of a symmetric p1 x p1 matrix
        # (an off-diagonal entry counted in both places): -G' Psi G for Psi = Q1 at the parent
        Ozz = self.O_par[:p1]
        self.O_zz = (Ozz[0, 0][None] if p1 == 1 else
                     np.stack([Ozz[0, 0], Ozz[1, 0] + Ozz[0, 1], Ozz[1, 1]])
                     if p1 == 2 else None)                         # (k1, k, l0)
        self.sum = S.sums[(1, 0)]
        self.parent = S.parents[(1, 0)]
        self.m0 = n_theta(self.p0)

    def _reduce(self, theta: np.ndarray):
        """The finer term's closed forms and the coarse system ``C_eff`` left after it."""
        S = self.S
        _, E, s, Q = level_q(self.p0, theta[:self.m0], self.Dk, self.adj_d)
        U = self.sum(np.einsum("abkl,kl->abl", self.O_par, Q))     # (c0, p1, l1)
        p1, m = self.p1, self.m
        xy = S.xy - (self.O_xy @ Q.ravel()).reshape(m, m)
        return s, E, Q, S.diag[1] - U[:p1], S.fixed[1] - U[p1:], xy

    def _rest(self, theta: np.ndarray):
        """:meth:`_reduce` with the coarse system as a one-term :class:`NestedSystem` and its
        factor ``T_1`` (for a coarse term of three or more columns)."""
        s, E, Q, D1, F1, xy = self._reduce(theta)
        rest = NestedSystem(diag=[D1], cross={}, fixed=[F1], xy=xy, sums={}, parents={})
        return s, E, Q, rest, split_theta(theta[self.m0:], [self.p1])

    def _closed(self, theta: np.ndarray):
        """For a coarse term with one or two columns, its levels in closed form too:
        ``Q1_l`` from ``C_eff``'s level blocks, ``L_XX L_XX' = xy_eff - sum F_l Q1_l F_l'``."""
        s, E, Q, D1, F1, xy = self._reduce(theta)
        Dk1, adj1 = det_rows(D1)                                       # the coarse levels
        _, E1, s1, Q1 = level_q(self.p1, theta[self.m0:], Dk1, adj1)
        Q1f = _unpacked(Q1)
        FQ = _mul(F1, Q1f)                                             # F_l Q1_l, (m, p1, l1)
        XX = xy - FQ.reshape(self.m, -1) @ F1.reshape(self.m, -1).T
        LXX = cholesky_lower(XX)
        ld = float(np.log(E).sum()) + float(np.log(E1).sum())
        return ld, LXX, (s, E, Q, s1, E1, Q1, Q1f, Dk1, adj1, F1, FQ)

    def _closed_gradient(self, theta: np.ndarray):
        """:meth:`gradient_parts` with both terms in closed form: the coarse term's
        ``d f / dQ1_l = -F_l' (df/dXX) F_l``; the finer term's ``Psi`` is ``Q1`` on the coarse
        block (``log|L_Z|^2``) and ``Phi J Phi'`` with ``Lambda V = Q1 F' L_XX^{-T}``."""
        ld, LXX, (s, E, Q, s1, E1, Q1, Q1f, Dk1, adj1, F1, FQ) = self._closed(theta)
        S, m, p, p1 = self.S, self.m, self.m - 1, self.p1
        bar = xy_seeds(LXX)
        l1 = F1.shape[2]
        W = (bar.reshape(2 * m, m) @ F1.reshape(m, -1)).reshape(2, m, p1, l1)
        B = (F1[None, :, :, None] * W[:, :, None]).sum(axis=1)       # F' bar F, (2, p1, p1, l1)
        bar_q1 = np.zeros((3, Q1.shape[0], l1))
        bar_q1[1:] = -(B[:, 0] if p1 == 1 else
                       np.stack([B[:, 0, 0], 2.0 * B[:, 0, 1], B[:, 1, 1]], axis=1))
        g1 = theta_gradient(p1, theta[self.m0:], s1, 1.0 / E1, Q1, bar_q1, Dk1, adj1)
        # the finer term: K_l' = L_XX^{-1} (F Q1 at the parent . Z_1'Z_0,l - [X y]'Z_0,l)
        Li = np.linalg.inv(LXX)
        Kt = _left(Li.T, _mul(self.sum.spread(FQ), S.cross[(1, 0)]) - S.fixed[0])
        r2 = float(LXX[-1, -1]) ** 2
        bar_q = np.empty((3, Q.shape[0], Q.shape[1]))
        bar_q[0] = np.einsum("jkl,jl->kl", self.O_zz, self.sum.spread(Q1))
        KK = _packed_squares(Kt)                                       # (m, k, l0)
        if p:
            np.sum(KK[:p], axis=0, out=bar_q[1])
        else:
            bar_q[1] = 0.0
        np.multiply(KK[p], r2, out=bar_q[2])
        np.negative(bar_q, out=bar_q)                                  # -G' Psi G per channel
        g0 = theta_gradient(self.p0, theta[:self.m0], s, 1.0 / E, Q, bar_q, self.Dk, self.adj_d)
        return (ld, LXX, np.concatenate([g0[0], g1[0]]), np.concatenate([g0[1], g1[1]]),
                np.concatenate([g0[2], g1[2]]))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``."""
        theta = np.asarray(theta, dtype=float)
        if self.p1 <= 2:
            ld, LXX, _ = self._closed(theta)
            return ld, LXX
        _, E, _, rest, T1 = self._rest(theta)
        F = nested_factor(rest, T1)
        return float(np.log(E).sum()) + F.logdet, F.LXX

    def gradient_parts(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX, d log|L_Z|^2, d log|R_X|^2, d r^2)`` by theta; see the module
        docstring.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> from multilevel.core.nested import NestedSystem, nested_structure
        >>> rng = np.random.default_rng(1)
        >>> child, school = np.repeat(np.arange(12), 3), np.repeat(np.arange(4), 9)
        >>> ts = [TermData(child, np.ones((36, 1)), 12), TermData(school, np.ones((36, 1)), 4)]
        >>> A = form_crossproducts(ts, np.ones((36, 1)), rng.normal(size=36))
        >>> obj = TwoLevelObjective(NestedSystem.from_crossproducts(A, nested_structure(A)))
        >>> r2 = lambda t: obj(t)[1][-1, -1] ** 2
        >>> g_r2, h = obj.gradient_parts(np.array([0.8, 1.2]))[4], 1e-6
        >>> fd = (r2(np.array([0.8 + h, 1.2])) - r2(np.array([0.8 - h, 1.2]))) / (2 * h)
        >>> bool(np.isclose(g_r2[0], fd))
        True
        """
        theta = np.asarray(theta, dtype=float)
        if self.p1 <= 2:
            return self._closed_gradient(theta)
        S = self.S
        s, E, Q, rest, T1 = self._rest(theta)
        F = nested_factor(rest, T1)
        g_z1, g_x1, g_r1, diag, _, LVt, LXXinv = nested_gradient_internals(rest, F)
        LXX = F.LXX
        m, p, r2 = self.m, self.m - 1, float(F.LXX[-1, -1]) ** 2
        T = T1[0]
        # K_l' = (Lambda V)'_parent Z_1'Z_0,l - L_XX^{-1} [X y]'Z_0,l  (m, p0, l0)
        cross, fixed = S.cross[(1, 0)], S.fixed[0]
        Kt = _mul(self.sum.spread(LVt[0]), cross) - _left(LXXinv.T, fixed)
        # Psi for log|L_Z|^2 on the coarse blocks: T_1 Sigma_11 T_1' at each child's parent
        P = self.sum.spread(_right_t(_left(T.T, diag[0]), T))
        bar = np.stack([-_tmul(cross, _mul(P, cross)),             # -G' Psi G per channel
                        -_tmul(Kt[:p], Kt[:p]) if p else np.zeros(Kt.shape[1:2] * 2
                                                                   + Kt.shape[2:]),
                        -r2 * (Kt[p, :, None] * Kt[p, None, :])])     # (3, p0, p0, l0)
        if self.p0 == 1:
            bar_q = bar[:, 0]                                        # (3, 1, l0)
        else:  # packed: an off-diagonal entry of Q counts twice
            bar_q = np.stack([bar[:, 0, 0], 2.0 * bar[:, 1, 0], bar[:, 1, 1]], axis=1)
        g0 = theta_gradient(self.p0, theta[:self.m0], s, 1.0 / E, Q, bar_q, self.Dk, self.adj_d)
        ld = float(np.log(E).sum()) + F.logdet
        return (ld, LXX, np.concatenate([g0[0], g_z1]), np.concatenate([g0[1], g_x1]),
                np.concatenate([g0[2], g_r1]))
