"""Penalised weighted least squares for GLMMs with a block structure, by an elimination plan
made once per model.

A PIRLS step solves, for working weights ``w`` and working response ``z``,

.. math::

    \\begin{bmatrix} \\Lambda' Z' W Z \\Lambda + I & \\Lambda' Z' W X \\\\
                    X' W Z \\Lambda & X' W X \\end{bmatrix}
    \\begin{bmatrix} u \\\\ \\beta \\end{bmatrix} =
    \\begin{bmatrix} \\Lambda' Z' W z \\\\ X' W z \\end{bmatrix}.

When every random-effects block of one level is small, the Cholesky factor of the augmented
system ``[Z Lambda, X, z]`` can be formed with per-level sums (one ``np.bincount`` over
precomputed flat indices per term, no Python loop over levels) and small dense algebra:

* :class:`OneTermPls` -- one scalar term (``(1 | g)``): ``L_Z`` is diagonal;
* :class:`VectorTermPls` -- one ``(x | g)`` term of up to four columns: batched ``k x k``
  blocks per level;
* :class:`NestedPls` -- scalar terms each nested in the next (``(1 | a/b)``, an
  observation-level term): eliminating the finest term leaves no fill outside the
  ancestors' blocks, so every term is eliminated level-wise and only ``[X z]`` is dense;
* :class:`~multilevel.core.glmm_solvers.CrossedPls` -- crossed designs with a small rest:
  one term is eliminated level-wise, the other terms with ``[X z]`` form one dense Schur
  complement.

All return the same ``beta``, ``u``, ``L_XX`` (the factor of the ``[X z]`` block) and
``log |L_Z|^2`` as the blocked path of :mod:`multilevel.core.cholesky` (the determinant and
the Schur complement of ``[X z]`` do not depend on the elimination order). The solvers work
in three modes: ``"joint"`` (columns ``X`` and ``z``: PIRLS for ``beta`` and ``u``), ``"u"``
(``z`` only: ``beta`` fixed in the offset), ``"ld"`` (no columns: the log-determinant only).
:func:`~multilevel.core.glmm_solvers.block_pls` picks one, or none (the general path) for
other designs and for plans larger than ``PLAN_MAX_ENTRIES``.

Only numpy and scipy's LAPACK wrappers (their per-call cost is far below ``np.linalg``'s on
matrices of order ten).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from .batched import batched_cholesky
from .cholesky import NotPositiveDefinite
from .theta import lower_tri_indices

VECTOR_MAX_COLUMNS = 4         # columns of a single (x | g) term solved in batched blocks
SPREAD_MIN_ROWS = 1000         # rows from which the per-level sums read a spread order
PLAN_MAX_ENTRIES = 4_000_000   # rows x (row contributions) of a plan: its index, fixed values
                               # and buffer are three arrays this long (96 MB at the bound);
                               # larger problems keep the general blocked path


_EMPTY = np.zeros(0)
_EMPTY.flags.writeable = False


def _chol(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a small symmetric matrix (LAPACK ``dpotrf``)."""
    if S.shape[0] == 0:
        return S
    L, info = lapack.dpotrf(S, lower=1, clean=1)
    if info != 0:
        raise NotPositiveDefinite("the penalised least-squares system is not positive definite")
    return L


def _last_row_solve(L: np.ndarray) -> np.ndarray:
    """``x`` with ``L[:k, :k]' x = L[k, :k]`` (``k`` = order - 1): the back-substitution of an
    augmented factor whose last column is the response."""
    k = L.shape[0] - 1
    if k <= 0:
        return np.zeros(0)
    x, info = lapack.dtrtrs(L[:k, :k], L[k, :k], lower=1, trans=1)
    if info != 0:
        raise NotPositiveDefinite("singular factor in the penalised least-squares solve")
    return x


def _xz_cross(XT: np.ndarray, w: np.ndarray, z: np.ndarray, wz: np.ndarray) -> np.ndarray:
    """``[X z]' W [X z]`` from ``X`` as rows (``XT``, ``(p, n)``; ``p = 0``: ``z' W z``) and
    ``wz = w z``."""
    p = XT.shape[0]
    XX = np.empty((p + 1, p + 1))
    if p:
        WXT = XT * w                      # (p, n): w along contiguous rows
        XX[:p, :p] = WXT @ XT.T
        XX[p, :p] = XX[:p, p] = WXT @ z
    XX[p, p] = wz @ z
    return XX


def _pair_layout(k: int) -> tuple[list, np.ndarray]:
    """The lower-triangle pairs ``(a, b)``, ``a >= b``, of a ``k x k`` block (the rows of its
    per-level sums) and, for each entry of the block row-major, the row holding it.

    Examples
    --------
    >>> pairs, sym = _pair_layout(2)
    >>> pairs, sym.tolist()
    ([(0, 0), (1, 0), (1, 1)], [0, 1, 1, 2])
    """
    pairs = [(a, b) for a in range(k) for b in range(a + 1)]
    pos = {ab: r for r, ab in enumerate(pairs)}
    return pairs, np.array([pos[(max(a, b), min(a, b))] for a in range(k) for b in range(k)])


def _lower(k: int, tri, theta: np.ndarray) -> np.ndarray:
    """The ``k x k`` lower-triangular ``T`` of a term from its ``theta`` (``tri``: the
    indices of :func:`~multilevel.core.theta.lower_tri_indices`)."""
    T = np.zeros((k, k))
    T[tri] = theta
    return T


def _vector_zb(T: np.ndarray, u: np.ndarray, ZT: np.ndarray, code: np.ndarray) -> np.ndarray:
    """``Z Lambda u`` of one vector-valued term: per row ``z_i' T u_{j(i)}`` (``u``
    level-major, ``ZT`` the term's columns as rows)."""
    Bt = T @ u.reshape(-1, T.shape[0]).T        # b_j = T u_j as columns (k, levels)
    out = ZT[0] * Bt[0][code]
    for a in range(1, T.shape[0]):
        out += ZT[a] * Bt[a][code]
    return out


def _spread_order(n: int) -> np.ndarray:
    """A permutation of ``range(n)`` that puts neighbouring rows far apart: ``i -> i s mod
    n`` with ``s`` near ``0.618 n`` and coprime to ``n``.

    Examples
    --------
    >>> _spread_order(5).tolist()
    [0, 3, 1, 4, 2]
    """
    from math import gcd

    s = max(1, int(round(0.618 * n)))
    while gcd(s, n) != 1:
        s += 1
    return (np.arange(n, dtype=np.int64) * s) % max(n, 1)


def scalar_terms(terms) -> bool:
    """Whether every random-effects term has one column (``(1 | g)``, ``(0 + x | g)``).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> scalar_terms([TermData(np.array([0, 1]), np.ones((2, 1)), 2)])
    True
    """
    return len(terms) > 0 and all(t.p == 1 for t in terms)


def nested_order(terms) -> list[int] | None:
    """Term indices from the finest grouping to the coarsest when each term's levels lie
    within single levels of the next term's (a chain of nested factors), else None.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> a = np.array([0, 0, 1, 1]); ab = np.array([0, 1, 2, 3])
    >>> nested_order([TermData(a, np.ones((4, 1)), 2), TermData(ab, np.ones((4, 1)), 4)])
    [1, 0]
    >>> nested_order([TermData(a, np.ones((4, 1)), 2),
    ...               TermData(np.array([0, 1, 0, 1]), np.ones((4, 1)), 2)]) is None
    True
    """
    order = sorted(range(len(terms)), key=lambda k: -terms[k].n_levels)
    for a, b in zip(order, order[1:]):
        parent = np.zeros(terms[a].n_levels, dtype=np.int64)
        parent[terms[a].codes] = terms[b].codes
        if not np.array_equal(parent[terms[a].codes], terms[b].codes):
            return None
    return order


class _ScalarTerms:
    """What both solvers share: per-term codes, columns and the ``u`` layout (data order)."""

    def __init__(self, terms, X: np.ndarray, order: list[int]):
        self.order = order
        self.K = len(terms)
        self.n = n = int(terms[0].codes.size)
        self.X = np.asarray(X, dtype=float)
        self.p = int(self.X.shape[1])
        self.codes = [np.asarray(t.codes, dtype=np.int64) for t in terms]
        self.z = [np.ascontiguousarray(t.Z[:, 0], dtype=float) for t in terms]
        self.unit = [bool(np.all(z == 1.0)) for z in self.z]
        self.levels = [int(t.n_levels) for t in terms]
        self.offsets = np.concatenate([[0], np.cumsum(self.levels)]).astype(int)
        self.q = int(self.offsets[-1])
        self.n_cols = {"joint": self.p + 1, "u": 1, "ld": 0}  # columns after the terms
        # From SPREAD_MIN_ROWS rows the per-level sums read the rows in a spread order:
        # rows of one level are often adjacent, and bincount adding into one bin again and
        # again waits on each addition (measured 2-3x slower than spread writes: 60,000
        # additions into 10,000 bins, 20,000 into 300). Row arrays of the plans are stored
        # in this order; the weights are gathered into it once per solve.
        self.perm = _spread_order(n) if n >= SPREAD_MIN_ROWS else None
        keep = slice(None) if self.perm is None else self.perm
        self.pcodes = [c[keep] for c in self.codes]
        self.pz = [z[keep] for z in self.z]
        self.XT = np.ascontiguousarray(self.X[keep].T)
        self._plans: dict = {}

    def modes(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u)`` of :meth:`solve` alone (what a PIRLS step needs)."""
        return self.solve(theta, w, z, mode)[:2]

    def zb(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``Z Lambda u`` (``u`` flat, terms in data order)."""
        out = None
        for k in range(self.K):
            bk = u[self.offsets[k]:self.offsets[k + 1]] * float(theta[k])  # b = Lambda u
            v = bk[self.codes[k]] if self.unit[k] else bk[self.codes[k]] * self.z[k]
            if out is None:
                out = v
            else:
                out += v
        return out if out is not None else np.zeros(self.n)

    def _xx(self, w: np.ndarray, z: np.ndarray, wz: np.ndarray, mode: str) -> np.ndarray:
        """``[X z]' W [X z]`` (``z' W z`` alone in mode ``"u"``)."""
        return _xz_cross(self.XT if mode == "joint" else self.XT[:0], w, z, wz)

    def _weighted(self, fixed: np.ndarray, k: int, w: np.ndarray, wz: np.ndarray | None,
                  out: np.ndarray) -> np.ndarray:
        """Row weights ``w z_k [fixed columns]`` and ``z_k w z`` last (when ``wz`` is given)
        into ``out``, flattened for one ``bincount``.

        Columns are stored as rows (``fixed`` is ``(c, n)``): numpy broadcasts ``w`` along
        contiguous rows several times faster than along short ``(n, c)`` rows.
        """
        v = w if self.unit[k] else w * self.pz[k]
        c = fixed.shape[0]
        np.multiply(fixed, v, out=out[:c])
        if wz is not None:
            if self.unit[k]:
                out[c] = wz
            else:
                np.multiply(wz, self.pz[k], out=out[c])
        return out.reshape(-1)


class OneTermPls(_ScalarTerms):
    """PLS for a single scalar term: ``L_Z`` is diagonal,
    ``d_j = 1 + theta^2 sum_{i in j} w_i z_i^2``, and eliminating it leaves

    .. math::

        L_{XX} L_{XX}' = [X z]' W [X z] - C' D^{-1} C, \\qquad
        C_j = \\theta \\sum_{i \\in j} w_i z_i [x_i, z_i],

    then ``u = D^{-1/2} (c - l_X beta)`` level by level. The same numbers as
    :class:`NestedPls` with one term, in a third of the numpy calls.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> g = np.repeat(np.arange(3), 4)
    >>> pls = OneTermPls([TermData(g, np.ones((12, 1)), 3)], np.ones((12, 1)))
    >>> beta, u, LXX, ld = pls.solve(np.array([1.0]), np.ones(12), np.arange(12.0), "joint")
    >>> np.round(beta, 6).tolist(), (np.round(u, 4) + 0.0).tolist()
    ([5.5], [-3.2, 0.0, 3.2])
    """

    def __init__(self, terms, X: np.ndarray):
        super().__init__(terms, X, [0])
        self.code, self.l = self.pcodes[0], self.levels[0]     # rows in the plan's order
        zz = self.pz[0]
        self.zrow = None if self.unit[0] else zz
        self.z2 = None if self.unit[0] else zz * zz
        # the flat index of (X column c, level) for one bincount of w z [X]
        self.xidx = (self.code[None, :] + self.l * np.arange(self.p)[:, None]).reshape(-1)
        self.xbuf = np.empty((self.p, self.n))

    def _diag(self, theta, w):
        """``(theta, d)``: the term's theta and ``diag(L_Z)^2``."""
        th = float(theta[0])
        d = np.bincount(self.code, w if self.z2 is None else w * self.z2, minlength=self.l)
        d *= th * th
        d += 1.0
        return th, d

    def _sums(self, theta, w, z):
        """``(w, z, wz, theta, d, c)``: the rows in the plan's order, ``w z``, the term's
        theta, ``diag(L_Z)^2`` and ``c = Z' W z`` per level."""
        if self.perm is not None:
            w, z = w[self.perm], z[self.perm]
        th, d = self._diag(theta, w)
        wz = w * z
        c = np.bincount(self.code, wz if self.zrow is None else wz * self.zrow,
                        minlength=self.l)
        return w, z, wz, th, d, c

    def solve(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u, L_XX, log|L_Z|^2)``; see :meth:`NestedPls.solve`."""
        w, z, wz, th, d, c = self._sums(theta, w, z)
        sd = np.sqrt(d)
        logdet = 2.0 * float(np.log(sd).sum())
        s = th / sd
        if mode != "joint" or self.p == 0:
            lz = c * s                                 # the z column of L below L_Z
            zz = float(wz @ z) - float(lz @ lz)
            if not zz > 0.0:
                raise NotPositiveDefinite("the penalised least-squares system is not "
                                          "positive definite")
            return np.zeros(0), lz / sd, np.array([[np.sqrt(zz)]]), logdet
        v = w if self.zrow is None else w * self.zrow
        np.multiply(self.XT, v, out=self.xbuf)
        CX = np.bincount(self.xidx, self.xbuf.reshape(-1),
                         minlength=self.p * self.l).reshape(self.p, self.l)  # (p, levels)
        ell = np.empty((self.p + 1, self.l))           # rows of L below L_Z, transposed
        np.multiply(CX, s, out=ell[:-1])
        np.multiply(c, s, out=ell[-1])
        XX = self._xx(w, z, wz, "joint")
        XX -= ell @ ell.T
        LXX = _chol(XX)
        beta = _last_row_solve(LXX)
        u = (ell[-1] - beta @ ell[:-1]) / sd
        return beta, u, LXX, logdet

    def modes(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u)`` without the factor's other parts; with ``beta`` fixed (mode
        ``"u"``) every level is on its own: ``u_j = theta c_j / d_j``."""
        if mode == "joint" and self.p:
            return self.solve(theta, w, z, mode)[:2]
        th, d, c = self._sums(theta, w, z)[3:]
        c *= th
        c /= d
        return _EMPTY, c

    def logdet(self, theta, w: np.ndarray) -> float:
        """``log det(Lambda' Z' W Z Lambda + I) = sum_j log d_j``."""
        if self.perm is not None:
            w = w[self.perm]
        return float(np.log(self._diag(theta, w)[1]).sum())


class NestedPls(_ScalarTerms):
    """PLS for a chain of nested scalar terms; see the module docstring.

    Terms are eliminated from the finest to the coarsest. Every level ("node") of every
    term has one column of height ``K + c`` in one array ``F``: its diagonal, its
    cross-products with its ancestors at distance ``1 .. K - 1`` (zero past the coarsest
    term) and with the ``c`` columns of ``[X z]``. Eliminating the nodes of term ``i``
    (``l = F[1:, node] / sqrt(d)``) subtracts ``l_t l_s`` from the column of the ancestor
    at distance ``t`` -- one ``bincount`` over a precomputed target index per term, no
    fill -- and ``l_X l_X'`` from the ``[X z]`` block. Nodes run along the rows of ``F``
    (numpy's per-element cost is lowest along long contiguous rows).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> a = np.repeat(np.arange(3), 4); ab = np.repeat(np.arange(6), 2)
    >>> terms = [TermData(a, np.ones((12, 1)), 3), TermData(ab, np.ones((12, 1)), 6)]
    >>> pls = NestedPls(terms, np.ones((12, 1)))
    >>> beta, u, LXX, ld = pls.solve(np.array([1.0, 0.5]), np.ones(12), np.arange(12.0))
    >>> round(float(beta[0]), 6), u.shape
    (5.5, (9,))
    """

    def __init__(self, terms, X: np.ndarray, order: list[int] | None = None):
        order = nested_order(terms) if order is None else order
        if order is None:
            raise ValueError("the terms are not nested")
        super().__init__(terms, X, order)
        K = self.K
        lv = [self.levels[k] for k in order]            # levels in elimination order
        self.noff = np.concatenate([[0], np.cumsum(lv)]).astype(int)
        self.Q = int(self.noff[-1])
        parent = []                                     # parent level of each level
        for i in range(K - 1):
            par = np.zeros(lv[i], dtype=np.int64)
            par[self.codes[order[i]]] = self.codes[order[i + 1]]
            parent.append(par)
        self.anc = []                                   # anc[i]: (K-1-i, l_i) ancestor nodes
        for i in range(K):
            cols, cur = [], np.arange(lv[i])
            for t in range(1, K - i):
                cur = parent[i + t - 1][cur]
                cols.append(self.noff[i + t] + cur)
            self.anc.append(np.stack(cols) if cols else np.zeros((0, lv[i]), dtype=np.int64))
        self.term_of_node = np.repeat(np.arange(K), lv)
        self.to_data = np.empty(self.q, dtype=np.int64)  # u[to_data]: data order
        for i, k in enumerate(order):
            self.to_data[self.offsets[k]:self.offsets[k + 1]] = np.arange(
                self.noff[i], self.noff[i + 1])
        self.unit_all = all(self.unit)
        self._last_scale: dict = {}                     # per mode: (theta, scale)

    def _plan(self, mode: str) -> dict:
        """Flat indices into ``F`` of every data row's contributions (one ``bincount``), the
        theta indices of ``F``'s scale, and per term the targets of its eliminations."""
        if mode in self._plans:
            return self._plans[mode]
        K, nc, n, Q = self.K, self.n_cols[mode], self.n, self.Q
        W = K + nc
        xrows = [*self.XT] if mode == "joint" else []
        idx, idx_z, fixed, rows = [], [], [], []
        for i, k in enumerate(self.order):
            node = self.noff[i] + self.pcodes[k]
            cols = list(range(K - i)) + list(range(K, K + nc - 1 if nc else K))
            idx.append(node[None, :] + Q * np.array(cols, dtype=np.int64)[:, None])
            fixed.append(np.stack([self.pz[self.order[j]] for j in range(i, K)] + xrows))
            rows.append(len(cols))
            if nc:                                      # the z column: last of the row
                idx_z.append(node + Q * (K + nc - 1))
        n_fixed = sum(rows)
        tcol = np.full((W, Q), K, dtype=np.int64)       # theta index per entry (K: 1.0)
        for t in range(K):
            ok = self.term_of_node + t < K
            tcol[t, ok] = self.term_of_node[ok] + t
        targets = []
        for i in range(K):
            m = K - 1 - i                               # ancestors of term i's nodes
            if m == 0:
                targets.append(None)
                continue
            # the outer product l[t-1] l[s] (t = 1..m; s over ancestors then X z) goes to
            # the ancestor at distance t: entry s + 1 - t (s + 1 >= t), K + x for X z
            T = np.full((m, W - 1, self.noff[i + 1] - self.noff[i]), Q * W, dtype=np.int64)
            for t in range(1, m + 1):
                tgt = self.anc[i][t - 1]
                for s in range(t - 1, m):
                    T[t - 1, s] = tgt + Q * (s + 1 - t)
                for x in range(nc):
                    T[t - 1, K - 1 + x] = tgt + Q * (K + x)
            targets.append(T.reshape(-1))
        plan = {"W": W, "idx": np.concatenate([x.reshape(-1) for x in idx + idx_z]),
                "fixed": np.ascontiguousarray(np.concatenate(fixed)), "rows": rows,
                "n_fixed": n_fixed, "buf": np.empty((n_fixed + (K if nc else 0), n)),
                "pair": (tcol * K + self.term_of_node[None, :]).reshape(-1),
                "targets": targets}
        self._plans[mode] = plan
        return plan

    def _scale(self, theta, mode: str, P: dict) -> np.ndarray:
        """``theta(node's term) * theta(entry's term)`` (1 for ``X z``) per entry of ``F``:
        one gather from the table of products, kept for the last theta of each mode (PIRLS
        solves many times at one theta, alternating the modes)."""
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        last = self._last_scale.get(mode)
        if last is None or last[0] != key:
            th = theta[self.order]
            table = np.multiply.outer(np.append(th, 1.0), th)   # (entry's, node's term)
            last = self._last_scale[mode] = (key, table.reshape(-1)[P["pair"]].reshape(
                P["W"], self.Q))
        return last[1]

    def _eliminate(self, theta, w, z, mode, need_xx: bool = True):
        """Forward elimination: ``(sqrt(d), L rows)`` for every node (elimination order)
        and the ``[X z]`` block left (None without ``need_xx``)."""
        K, nc, Q = self.K, self.n_cols[mode], self.Q
        P = self._plan(mode)
        W, buf, fixed, nf = P["W"], P["buf"], P["fixed"], P["n_fixed"]
        if self.perm is not None:               # rows in the plans' order
            w = w[self.perm]
            z = z[self.perm] if nc else None
        wz = w * z if nc else None
        # per-node sums over the rows: w z_i [z_i, z_ancestors, X] and z_i w z
        if self.unit_all:
            np.multiply(fixed, w, out=buf[:nf])
            if nc:
                buf[nf:] = wz
        else:
            start = 0
            for i, k in enumerate(self.order):
                r = P["rows"][i]
                np.multiply(fixed[start:start + r], w * self.pz[k], out=buf[start:start + r])
                if nc:
                    np.multiply(wz, self.pz[k], out=buf[nf + i])
                start += r
        F = np.bincount(P["idx"], buf.reshape(-1), minlength=Q * W + 1)
        Fm = F[:-1].reshape(W, Q)
        Fm *= self._scale(theta, mode, P)               # Lambda on both sides
        Fm[0] += 1.0
        XX = self._xx(w, z, wz, mode) if nc and need_xx else None
        Ld = np.empty(Q)
        ell = np.empty((W - 1, Q))                      # L below the nodes: ancestors, X z
        for i in range(K):  # eliminate the nodes of term i
            a, b = self.noff[i], self.noff[i + 1]
            np.sqrt(Fm[0, a:b], out=Ld[a:b])
            np.divide(Fm[1:, a:b], Ld[a:b], out=ell[:, a:b])
            T = P["targets"][i]
            if T is not None:
                m = K - 1 - i
                upd = ell[:m, None, a:b] * ell[None, :, a:b]
                F -= np.bincount(T, upd.reshape(-1), minlength=Q * W + 1)
        if XX is not None:
            lx = ell[K - 1:]
            XX -= lx @ lx.T
        return Ld, ell, XX

    def solve(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint", *,
              full: bool = True):
        """``(beta, u, L_XX, log|L_Z|^2)`` for weights ``w`` and working response ``z``
        (``u`` flat in data order; ``mode`` ``"joint"`` or ``"u"``). With ``full=False``
        ``L_XX`` (mode ``"u"``) and the log-determinant are left out (None)."""
        need_xx = full or mode == "joint"
        Ld, ell, XX = self._eliminate(theta, w, z, mode, need_xx=need_xx)
        logdet = None
        if full:
            logdet = 2.0 * float(np.log(Ld).sum())
            if not np.isfinite(logdet):
                raise NotPositiveDefinite("non-positive pivot in the nested elimination")
        LXX = _chol(XX) if need_xx else None
        beta = _last_row_solve(LXX) if mode == "joint" else _EMPTY
        K = self.K
        rhs = ell[-1] - beta @ ell[K - 1:-1] if beta.size else ell[-1].copy()
        u = np.empty(self.Q)
        for i in range(K - 1, -1, -1):  # back-substitution, coarsest term first
            a, b = self.noff[i], self.noff[i + 1]
            r = rhs[a:b]
            if i < K - 1:
                r -= (ell[:K - 1 - i, a:b] * u[self.anc[i]]).sum(axis=0)
            np.divide(r, Ld[a:b], out=u[a:b])
        return beta, u[self.to_data], LXX, logdet

    def modes(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u)`` without the log-determinant (nor ``L_XX`` with ``beta`` fixed)."""
        return self.solve(theta, w, z, mode, full=False)[:2]

    def logdet(self, theta, w: np.ndarray) -> float:
        """``log det(Lambda' Z' W Z Lambda + I)``."""
        Ld = self._eliminate(theta, w, None, "ld")[0]
        logdet = 2.0 * float(np.log(Ld).sum())
        if not np.isfinite(logdet):
            raise NotPositiveDefinite("non-positive pivot in the nested elimination")
        return logdet


class VectorTermPls:
    """PLS for one vector-valued term ``(x | g)`` with a few columns: the per-level blocks
    ``L_j L_j' = T' A_j T + I`` (``A_j = sum_{i in j} w_i z_i z_i'``) are factored as one
    batch, ``l_j = L_j^{-1} T' sum_{i in j} w_i z_i [x_i, z_i]``, and

    .. math::

        L_{XX} L_{XX}' = [X z]' W [X z] - \\sum_j l_j' l_j, \\qquad
        u_j = L_j^{-T} (l_{j,z} - l_{j,X} \\beta).

    The per-level sums are one ``bincount`` over precomputed products of the columns.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> g = np.repeat(np.arange(3), 4)
    >>> Z = np.column_stack([np.ones(12), np.tile(np.arange(4.0), 3)])
    >>> pls = VectorTermPls([TermData(g, Z, 3)], np.ones((12, 1)))
    >>> beta, u, LXX, ld = pls.solve(np.array([1.0, 0.2, 0.5]), np.ones(12), np.arange(12.0))
    >>> round(float(beta[0]), 6), u.shape
    (4.204082, (6,))
    """

    @staticmethod
    def applies(terms) -> bool:
        """One term with two to ``VECTOR_MAX_COLUMNS`` columns."""
        return len(terms) == 1 and 2 <= terms[0].p <= VECTOR_MAX_COLUMNS

    def __init__(self, terms, X: np.ndarray):
        t = terms[0]
        self.code = np.asarray(t.codes, dtype=np.int64)
        self.l, self.k = int(t.n_levels), int(t.p)
        self.n = n = int(self.code.size)
        self.q = self.l * self.k
        self.ZT = np.ascontiguousarray(np.asarray(t.Z, dtype=float).T)  # (k, n)
        self.X = np.asarray(X, dtype=float)
        self.p = int(self.X.shape[1])
        # the plans' row order (see _ScalarTerms): spread from SPREAD_MIN_ROWS rows
        self.perm = _spread_order(n) if n >= SPREAD_MIN_ROWS else None
        keep = slice(None) if self.perm is None else self.perm
        self.pcode = self.code[keep]
        self.pZT = np.ascontiguousarray(self.ZT[:, keep])
        self.XT = np.ascontiguousarray(self.X[keep].T)
        k = self.k
        self.pairs, self.sym = _pair_layout(k)   # rows of S, and S's row of A[a, b]
        self.tri = lower_tri_indices(k)
        self._plans: dict = {}

    def _T(self, theta) -> np.ndarray:
        return _lower(self.k, self.tri, theta)

    def _plan(self, mode: str):
        """Fixed products ``z_a z_b`` (a >= b) and ``z_a x_c`` as rows, the ``bincount``
        index of their level sums, and a buffer that adds the rows ``z_a w z``."""
        if mode not in self._plans:
            Z, n, l = self.pZT, self.n, self.l
            fixed = [Z[a] * Z[b] for a, b in self.pairs]
            if mode == "joint":
                fixed += [Z[a] * x for a in range(self.k) for x in self.XT]
            fixed = np.ascontiguousarray(np.stack(fixed))
            n_rows = fixed.shape[0] + (self.k if mode != "ld" else 0)
            idx = (self.pcode[None, :] + l * np.arange(n_rows)[:, None]).reshape(-1)
            self._plans[mode] = (fixed, idx, np.empty((n_rows, n)), n_rows)
        return self._plans[mode]

    def _factor(self, theta, w, z, mode):
        fixed, idx, buf, n_rows = self._plan(mode)
        k, l = self.k, self.l
        nf = fixed.shape[0]
        if self.perm is not None:               # rows in the plan's order
            w = w[self.perm]
            z = z[self.perm] if mode != "ld" else None
        np.multiply(fixed, w, out=buf[:nf])
        wz = None
        if mode != "ld":
            wz = w * z
            np.multiply(self.pZT, wz, out=buf[nf:])
        S = np.bincount(idx, buf.reshape(-1), minlength=n_rows * l).reshape(n_rows, l)
        T = self._T(theta)
        A = S[self.sym].T.reshape(l, k, k)              # per-level Z' W Z
        M = T.T @ A @ T
        M += np.eye(k)
        # the blocks' factors and inverses (closed form for k = 2; np.linalg.solve on a stack
        # of tiny blocks costs several times more)
        L, Linv = batched_cholesky(M)
        logdet = 2.0 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
        return Linv, S, T, wz, logdet

    def solve(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u, L_XX, log|L_Z|^2)``; see :meth:`NestedPls.solve`."""
        Linv, S, T, wz, logdet = self._factor(theta, w, z, mode)
        if self.perm is not None:               # as _factor read them
            w, z = w[self.perm], z[self.perm]
        k, l = self.k, self.l
        nc = self.p + 1 if mode == "joint" else 1
        npair = len(self.pairs)
        # T' sum w z_a [x, z] per level: (l, k, nc), X columns first, then z
        C = np.empty((l, k, nc))
        if nc > 1:
            C[:, :, :-1] = S[npair:npair + k * self.p].T.reshape(l, k, self.p)
        C[:, :, -1] = S[-k:].T
        ell = Linv @ (T.T @ C)                         # L_j^{-1} T' C_j
        E = ell.reshape(l * k, nc)
        p = self.p if mode == "joint" else 0
        XX = _xz_cross(self.XT[:p], w, z, wz)
        XX -= E.T @ E
        LXX = _chol(XX)
        beta = _last_row_solve(LXX) if p else np.zeros(0)
        v = ell[:, :, -1] - ell[:, :, :-1] @ beta if p else ell[:, :, -1]
        u = np.einsum("lji,lj->li", Linv, v)           # L_j^{-T} v_j
        return beta, u.reshape(-1), LXX, logdet

    def logdet(self, theta, w: np.ndarray) -> float:
        """``log det(Lambda' Z' W Z Lambda + I)``."""
        return self._factor(theta, w, None, "ld")[4]

    def modes(self, theta, w: np.ndarray, z: np.ndarray, mode: str = "joint"):
        """``(beta, u)`` of :meth:`solve` alone (what a PIRLS step needs)."""
        return self.solve(theta, w, z, mode)[:2]

    def zb(self, theta, u: np.ndarray) -> np.ndarray:
        """``Z Lambda u``: per row ``z_i' T u_{j(i)}``."""
        return _vector_zb(self._T(theta), u, self.ZT, self.code)
