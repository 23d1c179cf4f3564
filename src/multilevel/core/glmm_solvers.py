"""Which block solver a GLMM's PIRLS uses, and the one for crossed designs.

:class:`CrossedPls` eliminates one term level-wise (the largest scalar term, or the only
``(x | g)`` term, in batched ``k x k`` blocks) and solves the other terms with ``[X z]`` as one
dense Schur complement; :func:`block_pls` picks among it and the solvers of
:mod:`multilevel.core.glmm_blocks` (see there for the system and the modes).
"""
from __future__ import annotations

import numpy as np

from .batched import batched_cholesky
from .glmm_blocks import (PLAN_MAX_ENTRIES, VECTOR_MAX_COLUMNS, NestedPls, OneTermPls,
                          VectorTermPls, _chol, _last_row_solve, _lower, _pair_layout,
                          _ScalarTerms, _vector_zb, nested_order, scalar_terms)
from .theta import lower_tri_indices

CROSSED_MAX_ORDER = 400        # largest dense rest (other terms + p + 1) of CrossedPls
CROSSED_MAX_ENTRIES = 2_000_000  # largest (eliminated term's columns) x (rest) block per step


class CrossedPls(_ScalarTerms):
    """PLS for terms that are not nested: one term is eliminated level-wise (the largest, or
    the only vector-valued one, ``(x | g)`` with up to ``VECTOR_MAX_COLUMNS`` columns), the
    other (scalar) terms and ``[X z]`` form one dense Schur complement of order
    ``r = q_rest + p + 1``; see the module docstring.

    With ``k`` columns in the eliminated term, level ``j`` has the block
    ``L_j L_j' = T' A_j T + I`` and the rows ``W_j = L_j^{-1} T' C_j`` below it (``C_j``: its
    cross-products with the rest, scaled by the rest's theta); then
    ``L_r L_r' = Lambda_r' R Lambda_r + I - sum_j W_j' W_j``.

    With two crossed intercept terms (subjects x items) the sums that build both terms' rows
    come from one ``bincount`` per cell (level pair) of ``w``, ``w z`` and the columns of
    ``X`` that vary within levels; see :meth:`_cell_sums`.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> rng = np.random.default_rng(1)
    >>> a, b = np.arange(40) % 8, np.arange(40) % 5
    >>> terms = [TermData(a, np.ones((40, 1)), 8), TermData(b, np.ones((40, 1)), 5)]
    >>> pls = CrossedPls(terms, np.ones((40, 1)))
    >>> w, z = np.full(40, 0.25), rng.normal(size=40)
    >>> beta, u, LXX, ld = pls.solve(np.array([1.0, 0.5]), w, z, "joint")
    >>> bool(np.isclose(ld, pls.logdet(np.array([1.0, 0.5]), w)))
    True
    """

    @staticmethod
    def _first(terms) -> int | None:
        """The term to eliminate: the only vector-valued one, else the one with most levels
        (None with two vector-valued terms or one too wide)."""
        vector = [k for k, t in enumerate(terms) if t.p > 1]
        if len(vector) > 1 or (vector and terms[vector[0]].p > VECTOR_MAX_COLUMNS):
            return None
        return vector[0] if vector else max(range(len(terms)), key=lambda k: terms[k].n_levels)

    @staticmethod
    def applies(terms, p: int) -> bool:
        """Whether the dense rest is small enough (order and size of the first block)."""
        k0 = CrossedPls._first(terms)
        if k0 is None or len(terms) < 2:
            return False
        r = sum(t.n_levels for j, t in enumerate(terms) if j != k0) + p + 1
        return r <= CROSSED_MAX_ORDER and r * terms[k0].q <= CROSSED_MAX_ENTRIES

    def __init__(self, terms, X: np.ndarray):
        k0 = self._first(terms)
        super().__init__(terms, X, [k0] + [k for k in range(len(terms)) if k != k0])
        self.rest = self.order[1:]
        self.rest_off = np.concatenate([[0], np.cumsum([self.levels[k] for k in self.rest])]
                                       ).astype(int)
        self.q_rest = int(self.rest_off[-1])
        self.toff = np.concatenate([[0], np.cumsum([t.p * (t.p + 1) // 2 for t in terms])]
                                   ).astype(int)           # theta of term k from toff[k]
        self.k0 = k = int(terms[k0].p)
        keep = slice(None) if self.perm is None else self.perm
        self.Z0T = np.ascontiguousarray(np.asarray(terms[k0].Z, dtype=float).T)   # (k, n)
        self.pZ0T = np.ascontiguousarray(self.Z0T[:, keep])
        self.pairs, self.sym = _pair_layout(k)
        self.tri = lower_tri_indices(k)
        # two crossed intercept terms: the cell (level pair) of each row, for sums per cell
        self._cells = (self.pcodes[k0] * self.levels[self.rest[0]] + self.pcodes[self.rest[0]]
                       if len(terms) == 2 and k == 1 and all(self.unit) else None)
        self._cell_plans: dict = {}
        # The cell sums read the rows in data order (no gather of w and z per solve) when
        # few neighbouring rows share a cell: bincount waits only on a bin written just
        # before. Else they read the plans' spread order.
        self._cells_data = False
        if self._cells is not None and self.perm is not None:
            cd = self.codes[k0] * self.levels[self.rest[0]] + self.codes[self.rest[0]]
            if np.count_nonzero(cd[1:] == cd[:-1]) <= 0.01 * self.n:
                self._cells, self._cells_data = cd, True
        if k > 1:  # the offsets of u: level-major k columns for the first term
            self.offsets = np.concatenate([[0], np.cumsum([t.q for t in terms])]).astype(int)
            self.q = int(self.offsets[-1])

    def _T0(self, theta) -> np.ndarray:
        k0 = self.order[0]
        return _lower(self.k0, self.tri, theta[self.toff[k0]:self.toff[k0 + 1]])

    def _plan(self, mode: str):
        """Flat ``bincount`` indices of the first term's row ``[z_a z_b, z_a (rest, X z)]``
        and of the rest terms' rows ``[rest, X z]``, with their fixed row values (columns as
        rows; the first term's already times its own columns)."""
        if mode not in self._plans:
            nc = self.n_cols[mode]
            r = self.q_rest + nc
            n, k = self.n, self.k0
            npair = len(self.pairs)
            width = npair + k * r                   # per level of the first term
            # position of each row's nonzero in the rest: its level of every rest term, X, z
            pos = [self.rest_off[j] + self.pcodes[kk] for j, kk in enumerate(self.rest)]
            pos += [np.full(n, self.q_rest + c, dtype=np.int64) for c in range(nc)]
            zrest = [self.pz[kk][None, :] for kk in self.rest]
            xfix = [self.XT] if mode == "joint" else []
            Z0 = self.pZ0T
            rest_fixed = np.concatenate(zrest + xfix) if zrest or xfix else np.zeros((0, n))
            fixed0 = np.concatenate([(Z0[a] * Z0[b])[None, :] for a, b in self.pairs]
                                    + [Z0[a] * rest_fixed for a in range(k)])
            npos = len(pos) - (1 if nc else 0)      # rest and X columns (z comes last)
            cols0 = [np.full(n, i, dtype=np.int64) for i in range(npair)]
            cols0 += [npair + a * r + pos[i] for a in range(k) for i in range(npos)]
            if nc:                                  # the rows z_a w z, after the fixed ones
                cols0 += [npair + a * r + pos[-1] for a in range(k)]
            idx0 = (self.pcodes[self.order[0]][None, :] * width + np.stack(cols0)).reshape(-1)
            first = (np.ascontiguousarray(fixed0), idx0, np.empty((len(cols0), n)), width)
            per_rest = []
            fixed = np.ascontiguousarray(np.concatenate(zrest + xfix))
            posr = np.stack(pos)
            for j, kk in enumerate(self.rest):
                idx = (self.pcodes[kk][None, :] * r + posr).reshape(-1)
                per_rest.append((fixed, idx, np.empty((posr.shape[0], n))))
            self._plans[mode] = (r, first, per_rest)
        return self._plans[mode]

    def _level_columns(self):
        """The columns of ``X`` constant within the levels of one of two crossed terms (a
        subject's or an item's covariate, the intercept): ``(K0, A, K1, B, free)`` with
        ``X[:, K0] = A[level of the first term]``, ``X[:, K1] = B[level of the second]``
        and the other columns' indices ``free``."""
        l0, l1 = self.levels[self.order[0]], self.levels[self.rest[0]]
        c0, c1 = self.pcodes[self.order[0]], self.pcodes[self.rest[0]]
        K0, A, K1, B, free = [], [], [], [], []
        for c, x in enumerate(self.XT):
            for codes, l, K, V in ((c0, l0, K0, A), (c1, l1, K1, B)):
                v = np.zeros(l)
                v[codes] = x                         # one value per level, if constant
                if np.array_equal(v[codes], x):
                    K.append(c)
                    V.append(v)
                    break
            else:
                free.append(c)
        A = np.column_stack(A) if A else np.zeros((l0, 0))
        B = np.column_stack(B) if B else np.zeros((l1, 0))
        return (np.array(K0, dtype=np.int64), A, np.array(K1, dtype=np.int64), B,
                np.array(free, dtype=np.int64))

    def _cell_plan(self, mode: str):
        """For two crossed intercept terms: what :meth:`_cell_sums` needs in ``mode``, or None
        for other designs and when the sums would have more than ``PLAN_MAX_ENTRIES``
        entries.

        The row values ``w``, ``w x`` for the columns of ``X`` not constant within either
        term's levels (only in mode ``"joint"``) and ``w z`` (not in ``"ld"``) go into one
        buffer, columns as rows, with a flat ``bincount`` index, column-major: column
        ``c``'s sums fill the contiguous ``(l0, l1)`` block ``c``.
        """
        if self._cells is None:
            return None
        if mode not in self._cell_plans:
            l0, l1 = self.levels[self.order[0]], self.levels[self.rest[0]]
            none = np.zeros(0, dtype=np.int64)
            K0, A, K1, B, free = (self._level_columns() if mode == "joint" else
                                  (none, np.zeros((l0, 0)), none, np.zeros((l1, 0)), none))
            m = 1 + free.size + (1 if self.n_cols[mode] else 0)
            plan = None
            if l0 * l1 * m <= PLAN_MAX_ENTRIES:
                idx = (np.arange(m)[:, None] * (l0 * l1) + self._cells[None, :]).reshape(-1)
                p = self.p if mode == "joint" else 0
                XZ = np.empty((p + 1, self.n))       # [X z], columns as rows (z per call)
                XT = np.ascontiguousarray(self.X.T) if self._cells_data else self.XT
                XZ[:p] = XT[:p]
                blocks = (np.ix_(K0, K0), np.ix_(K1, K1), np.ix_(K0, K1), np.ix_(K1, K0))
                plan = (idx, np.empty((m, self.n)), np.ascontiguousarray(XT[free]), XZ,
                        (K0, A, K1, B, free), blocks, np.ones(l0), np.ones(l1))
            self._cell_plans[mode] = plan
        return self._cell_plans[mode]

    def _cell_sums(self, plan, w, z, wz, mode):
        """Both terms' rows of the system from sums per cell, for two crossed intercept
        terms: ``(S0, G_rest, XX)``.

        With ``C_jk = sum w_i`` and ``V_jk = sum w_i [x_i, z_i]`` over the rows of cell
        ``(j, k)``: the first term's level ``j`` has the diagonal ``sum_k C_jk``, the cross
        block ``C_j.`` and the columns ``sum_k V_jk``; the second term's level ``k`` the
        diagonal ``sum_j C_jk`` and the columns ``sum_j V_jk``. One ``bincount`` over the
        cells replaces one per term.

        A column constant within the first term's levels (``x_i = a_j``) needs no sums of its
        own: ``sum_k V_jk = a_j sum_k C_jk`` and ``sum_j V_jk = sum_j C_jk a_j``; likewise for
        the second term. When every column of ``X`` is such, ``X' W X`` and ``X' W z`` follow
        from the same sums (``A' diag(C 1) A``, ``A' C B``, ``B' diag(C' 1) B``, ``A' (Z_0' W
        z)``, ...); else ``[X z]' W [X z]`` is one product of ``w [X z]`` with ``[X z]``.
        """
        idx, buf, XTf, XZ, (K0, A, K1, B, free), blocks, one0, one1 = plan
        l0, l1 = self.levels[self.order[0]], self.levels[self.rest[0]]
        m, nf = buf.shape[0], free.size
        p = self.p if mode == "joint" else 0
        buf[0] = w
        if nf:
            np.multiply(XTf, w, out=buf[1:1 + nf])
        if wz is not None:
            buf[m - 1] = wz
        S = np.bincount(idx, buf.reshape(-1), minlength=m * l0 * l1).reshape(m, l0, l1)
        # the margins as matrix-vector products (numpy's reductions over a strided axis of
        # these small blocks cost several times more)
        M0 = (S.reshape(m * l0, l1) @ one1).reshape(m, l0)     # sums over the second term
        M1 = one0 @ S                                           # (m, l1): over the first
        C, m0, m1 = S[0], M0[0], M1[0]
        nc = self.n_cols[mode]
        S0 = np.empty((l0, 1 + l1 + nc))
        S0[:, 0] = m0
        S0[:, 1:1 + l1] = C
        Grest = np.zeros((l1, l1 + nc))
        Grest.reshape(-1)[:l1 * (l1 + nc + 1):l1 + nc + 1] = m1   # its diagonal
        if not nc:
            return S0, Grest, None
        V0, V1 = S0[:, 1 + l1:], Grest[:, l1:]       # the [X z] columns of both terms
        V0[:, p], V1[:, p] = M0[-1], M1[-1]
        if nf:
            V0[:, free], V1[:, free] = M0[1:1 + nf].T, M1[1:1 + nf].T
        if K0.size:
            V0[:, K0], V1[:, K0] = A * m0[:, None], C.T @ A
        if K1.size:
            V0[:, K1], V1[:, K1] = C @ B, B * m1[:, None]
        if not p:
            return S0, Grest, np.array([[wz @ z]])
        if nf:                                       # [X z]' W [X z] from the rows
            XZ[p] = z
            XX = (XZ * w) @ XZ.T
        else:                                        # from the sums per level
            XX = np.empty((p + 1, p + 1))
            b00, b11, b01, b10 = blocks
            XX[b00] = A.T @ (A * m0[:, None])
            XX[b11] = B.T @ (B * m1[:, None])
            AB = A.T @ C @ B
            XX[b01] = AB
            XX[b10] = AB.T
            XX[K0, p] = A.T @ M0[-1]
            XX[K1, p] = B.T @ M1[-1]
            XX[p, p] = wz @ z
        XX[p, :p] = XX[:p, p]                        # symmetric: sum (w x) z both sides
        return S0, Grest, XX

    def _factor(self, theta, w, z, mode):
        nc = self.n_cols[mode]
        cells = self._cell_plan(mode)  # two intercept terms: sums per cell, no row plans
        r = self.q_rest + nc
        if cells is None:
            r, (fixed0, idx0, buf0, width), per_rest = self._plan(mode)
        if self.perm is not None and not (cells is not None and self._cells_data):
            w = w[self.perm]                    # rows in the plans' order
            z = z[self.perm] if nc else None
        wz = w * z if nc else None
        th = np.asarray(theta, dtype=float)
        k0, k, l0 = self.order[0], self.k0, self.levels[self.order[0]]
        npair = len(self.pairs)
        # scale of the rest columns: theta of their term, 1 for X and z
        s = np.ones(r)
        for j, kk in enumerate(self.rest):
            s[self.rest_off[j]:self.rest_off[j + 1]] = th[self.toff[kk]]
        if cells is not None:
            # two intercept terms: sums per cell give both terms' rows (their margins)
            S0, Grest, XX = self._cell_sums(cells, w, z, wz, mode)
        else:
            nf = fixed0.shape[0]
            np.multiply(fixed0, w, out=buf0[:nf])
            if nc:
                np.multiply(self.pZ0T, wz, out=buf0[nf:])
            S0 = np.bincount(idx0, buf0.reshape(-1), minlength=l0 * width).reshape(l0, width)
        if k == 1:                               # diagonal block: d_j = 1 + theta^2 A_j
            th0 = float(th[self.toff[k0]])
            L0 = np.sqrt(th0 * th0 * S0[:, 0] + 1.0)
            # the rows of L below it, th0 C_j s / L0_j, without the rest's scale s (applied
            # to G and to the solution instead: one pass over these rows fewer)
            Wt = S0[:, 1:] * (th0 / L0)[:, None]
            ld0 = float(np.log(L0).sum())
        else:                                    # k x k blocks per level, as one batch
            T = self._T0(th)
            M = T.T @ S0[:, self.sym].reshape(l0, k, k) @ T
            M += np.eye(k)
            # the blocks' factors and inverses (closed form for k = 2; np.linalg.solve on
            # a stack of tiny blocks costs several times more)
            Lb, L0 = batched_cholesky(M)         # L0: the inverses L_j^{-1} for k > 1
            C = S0[:, npair:].reshape(l0, k, r) * s
            Wt = L0 @ (T.T @ C)                  # (l0, k, r): L_j^{-1} T' C_j
            ld0 = float(np.log(np.diagonal(Lb, axis1=1, axis2=2)).sum())
        G = np.empty((r, r))
        q = self.q_rest
        if cells is not None:  # the other term's rows: its diagonal, its X and z columns
            G[:q] = Grest
        else:
            for j, kk in enumerate(self.rest):
                fixed, idx, buf = per_rest[j]
                lj = self.levels[kk]
                G[self.rest_off[j]:self.rest_off[j + 1]] = np.bincount(
                    idx, self._weighted(fixed, kk, w, wz, buf), minlength=lj * r).reshape(lj, r)
        if nc:
            G[q:, q:] = self._xx(w, z, wz, mode) if cells is None else XX
            G[q:, :q] = G[:q, q:].T
        W2 = Wt.reshape(-1, r)
        if k == 1:                               # Wt without s: subtract, then scale
            G -= W2.T @ W2
            G *= s[:, None] * s[None, :]
        else:
            G *= s[:, None] * s[None, :]
            G -= W2.T @ W2
        G.reshape(-1)[:q * (r + 1):r + 1] += 1.0    # + I on the rest terms' diagonal
        L = _chol(G)
        logdet = 2.0 * (ld0 + float(np.log(np.diagonal(L)[:q]).sum()))
        return L, L0, Wt, logdet, s

    def solve(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u, L_XX, log|L_Z|^2)`` for weights ``w`` and working response ``z``
        (``u`` flat in data order; ``mode`` ``"joint"`` or ``"u"``)."""
        L, L0, Wt, logdet, s = self._factor(theta, w, z, mode)
        x = _last_row_solve(L)                      # [u of the rest; beta]
        if self.k0 == 1:  # L_00' u_0 = rhs - L_r0' x (Wt without the scale s; s = 1 for z)
            u0 = (Wt[:, -1] - Wt[:, :-1] @ (s[:-1] * x)) / L0
        else:
            v = Wt[:, :, -1] - Wt[:, :, :-1] @ x
            u0 = np.einsum("lji,lj->li", L0, v).reshape(-1)   # L_j^{-T} v_j
        q = self.q_rest
        u = np.empty(self.q)
        k0 = self.order[0]
        u[self.offsets[k0]:self.offsets[k0 + 1]] = u0
        for j, kk in enumerate(self.rest):
            u[self.offsets[kk]:self.offsets[kk + 1]] = x[self.rest_off[j]:self.rest_off[j + 1]]
        return x[q:], u, L[q:, q:], logdet

    def logdet(self, theta, w: np.ndarray) -> float:
        """``log det(Lambda' Z' W Z Lambda + I)``."""
        return self._factor(theta, w, None, "ld")[3]

    def zb(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``Z Lambda u`` (``u`` flat, terms in data order)."""
        th = np.asarray(theta, dtype=float)
        k0 = self.order[0]
        if self.k0 == 1:
            out = (u[self.offsets[k0]:self.offsets[k0 + 1]] * th[self.toff[k0]])[self.codes[k0]]
            if not self.unit[k0]:
                out *= self.z[k0]
        else:
            out = _vector_zb(self._T0(th), u[self.offsets[k0]:self.offsets[k0 + 1]],
                             self.Z0T, self.codes[k0])
        for kk in self.rest:
            bk = u[self.offsets[kk]:self.offsets[kk + 1]] * th[self.toff[kk]]
            out += bk[self.codes[kk]] if self.unit[kk] else bk[self.codes[kk]] * self.z[kk]
        return out


def block_pls(terms, X: np.ndarray):
    """The block solver for these terms, or None when none applies (vector-valued terms;
    crossed designs with a large rest; plans above ``PLAN_MAX_ENTRIES``).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> g = np.repeat(np.arange(3), 4)
    >>> type(block_pls([TermData(g, np.ones((12, 1)), 3)], np.ones((12, 1)))).__name__
    'OneTermPls'
    """
    K, p, n = len(terms), X.shape[1], terms[0].codes.size
    if VectorTermPls.applies(terms):
        k = terms[0].p
        return VectorTermPls(terms, X) if n * (k + 1) * (k + p + 1) <= PLAN_MAX_ENTRIES \
            else None
    if not scalar_terms(terms):  # one (x | g) term crossed with scalar ones
        k = max(t.p for t in terms)
        per_row = k * (k + 1) // 2 + k * (K + p) + (K - 1) * (K + p)
        return CrossedPls(terms, X) if CrossedPls.applies(terms, p) and \
            n * per_row <= PLAN_MAX_ENTRIES else None
    if len(terms) == 1:
        return OneTermPls(terms, X) if n * p <= PLAN_MAX_ENTRIES else None
    order = nested_order(terms)
    if order is not None:  # per term: diagonal, ancestors, X and z
        per_row = sum(K - i + p + 1 for i in range(K))
        return NestedPls(terms, X, order) if n * per_row <= PLAN_MAX_ENTRIES else None
    per_row = (K + p + 1) + (K - 1) * (K + p)  # the first term's row, the others'
    if CrossedPls.applies(terms, p) and n * per_row <= PLAN_MAX_ENTRIES:
        return CrossedPls(terms, X)
    return None
