"""Blocked Cholesky factor of the penalised system (MixedModels.jl's ``updateL!``).

For a given theta, with ``Lambda = blockdiag(Lambda_1, ..., Lambda_K)`` and block ``K`` the
``[X y]`` block (whose Lambda is the identity and which gets no ``+ I``), ``L`` is the lower
block-triangular factor of

.. math::

    \\begin{bmatrix} \\Lambda' Z' Z \\Lambda + I & \\Lambda' Z' [X y] \\\\
                    [X y]' Z \\Lambda & [X y]' [X y] \\end{bmatrix} = L L'.

The first term's diagonal block is block diagonal (one ``p x p`` block per level), factored by
a batched Cholesky; its off-diagonal blocks keep the sparsity of ``A``; all later blocks are
dense. The cost of one update depends only on the sizes of ``A``'s blocks, never on ``nobs``.

``L_{K,K}`` is ``[[R_X', 0], [r_Xy', r]]``, where ``r^2`` is the penalised residual sum of
squares and ``R_X`` the fixed-effects factor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .batched import NotPositiveDefinite, _chol, batched_cholesky  # noqa: F401 (re-exported)
from .batched import lower_inverse
from .crossprod import CrossProducts
from .theta import split_theta

# scipy (sparse, BLAS/LAPACK wrappers) is imported where it is used: importing it costs a
# tenth of a second, and small or nested models fit without it


@dataclass(frozen=True)
class BlockDiag:
    """A block-diagonal lower-triangular factor: one ``p x p`` block per level.

    Terms whose diagonal block gets no fill from earlier terms (the first term; a second
    term on the same grouping factor, as ``(x || g)``; a coarser factor with finer ones
    nested in it) keep this form: factoring, solving and the log-determinant are batched
    ``p x p`` operations instead of a dense ``q x q`` Cholesky.

    Attributes
    ----------
    L, Linv : (l, p, p) arrays
    """

    L: np.ndarray
    Linv: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        q = self.L.shape[0] * self.L.shape[1]
        return (q, q)

    def logdet(self) -> float:
        p = self.L.shape[1]
        return 2.0 * float(np.sum(np.log(self.L.reshape(-1, p * p)[:, ::p + 1])))

    def solve(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B`` for a dense ``B`` with ``q`` rows."""
        l, p, _ = self.L.shape
        B3 = np.asarray(B).reshape(l, p, -1)
        return np.einsum("lab,lbm->lam", self.Linv, B3).reshape(l * p, -1)

    def solve_t(self, rhs: np.ndarray) -> np.ndarray:
        """``L^{-T} rhs`` for a vector."""
        l, p, _ = self.L.shape
        return np.einsum("lba,lb->la", self.Linv, rhs.reshape(l, p)).ravel()

    def dense(self) -> np.ndarray:
        return _blockdiag_dense(self.L)


def diag_logdet(D) -> float:
    """``log det(L L')`` of a diagonal block, dense or :class:`BlockDiag`."""
    if isinstance(D, BlockDiag):
        return D.logdet()
    return 2.0 * float(np.sum(np.log(np.diag(D))))


def diag_blocks_of_outer(B, l: int, p: int) -> np.ndarray:
    """The ``(l, p, p)`` diagonal blocks of ``B B'`` (``B`` dense or sparse, ``l p`` rows)."""
    if _is_sparse(B):
        C = (B @ B.T).tocoo()
        keep = (C.row // p) == (C.col // p)
        out = np.zeros((l, p, p))
        np.add.at(out, (C.row[keep] // p, C.row[keep] % p, C.col[keep] % p), C.data[keep])
        return out
    B3 = np.asarray(B).reshape(l, p, -1)
    return np.einsum("lam,lbm->lab", B3, B3)


@dataclass
class Factor:
    """The blocks of ``L`` for one theta (a mutable workspace).

    Attributes
    ----------
    T : list of (p_k, p_k) arrays      -- relative covariance factors
    L0 : (l_0, p_0, p_0) array         -- batched Cholesky factors of the first diagonal block
    L0inv : (l_0, p_0, p_0) array      -- their inverses
    blocks : dict[(i, j)] -> array     -- ``L_{ij}`` for ``i > j``; ``L_{jj}`` dense or
                                          :class:`BlockDiag` (always for ``j = 0``)
    K : int                            -- number of random-effects terms
    """

    T: list
    L0: np.ndarray
    L0inv: np.ndarray
    blocks: dict = field(default_factory=dict)
    K: int = 0

    @property
    def LXX(self) -> np.ndarray:
        """The ``[X y]`` diagonal block, ``(p + 1) x (p + 1)`` lower triangular."""
        return self.blocks[(self.K, self.K)]


def _is_sparse(M) -> bool:
    return type(M).__module__.startswith("scipy.sparse")


def _scaled_csr(B, *, scalar: float = 1.0, col_scale: np.ndarray | None = None):
    """A CSR matrix with the pattern of ``B`` and values scaled (no sparse product)."""
    import scipy.sparse as sp

    B = B if isinstance(B, sp.csr_matrix) else sp.csr_matrix(B)
    data = B.data * scalar
    if col_scale is not None:
        data = data * col_scale[B.indices]
    out = sp.csr_matrix((data, B.indices, B.indptr), shape=B.shape, copy=False)
    out.has_sorted_indices = B.has_sorted_indices
    return out


def lambda_right(B, T: np.ndarray, n_levels: int):
    """``B @ Lambda_k`` for ``Lambda_k = I_l (x) T`` (level-major columns)."""
    p = T.shape[0]
    if p == 1:
        return _scaled_csr(B, scalar=T[0, 0]) if _is_sparse(B) else B * T[0, 0]
    if _is_sparse(B):
        import scipy.sparse as sp

        return (B @ sp.kron(sp.identity(n_levels, format="csr"), sp.csr_matrix(T))).tocsr()
    m = B.shape[0]
    return (B.reshape(m, n_levels, p) @ T).reshape(m, n_levels * p)


def lambda_left_t(T: np.ndarray, B, n_levels: int):
    """``Lambda_k' @ B`` for ``Lambda_k = I_l (x) T`` (level-major rows)."""
    p = T.shape[0]
    if p == 1:
        return _scaled_csr(B, scalar=T[0, 0]) if _is_sparse(B) else B * T[0, 0]
    if _is_sparse(B):
        import scipy.sparse as sp

        return (sp.kron(sp.identity(n_levels, format="csr"), sp.csr_matrix(T.T)) @ B).tocsr()
    n = B.shape[1]
    return np.einsum("qp,lqn->lpn", T, B.reshape(n_levels, p, n)).reshape(n_levels * p, n)


def blockdiag_right(B, M: np.ndarray):
    """``B @ blockdiag(M_0, ..., M_{l-1})`` for an ``(l, p, p)`` array ``M``."""
    l, p, _ = M.shape
    if p == 1:
        if _is_sparse(B):
            return _scaled_csr(B, col_scale=M[:, 0, 0])
        return B * M[:, 0, 0]
    if _is_sparse(B):
        import scipy.sparse as sp

        bd = sp.bsr_matrix((M, np.arange(l), np.arange(l + 1)), shape=(l * p, l * p))
        return (B @ bd).tocsr()
    m = B.shape[0]
    B3 = B.reshape(m, l, p)
    if p == 2:
        out = np.empty_like(B3)
        b0, b1 = B3[:, :, 0], B3[:, :, 1]
        out[:, :, 0] = b0 * M[:, 0, 0] + b1 * M[:, 1, 0]
        out[:, :, 1] = b0 * M[:, 0, 1] + b1 * M[:, 1, 1]
        return out.reshape(m, l * p)
    return np.matmul(B3[:, :, None, :], M)[:, :, 0, :].reshape(m, l * p)


def _outer(Bi, Bj) -> np.ndarray:
    """``Bi @ Bj'`` as a dense array, for dense or sparse operands."""
    if _is_sparse(Bi) or _is_sparse(Bj):
        out = Bi @ Bj.T
        return out.toarray() if _is_sparse(out) else np.asarray(out)
    return Bi @ Bj.T


def _dense(M) -> np.ndarray:
    return M.toarray() if _is_sparse(M) else np.array(M, dtype=float)


def _blockdiag_dense(D: np.ndarray) -> np.ndarray:
    """Dense matrix from an ``(l, p, p)`` array of diagonal blocks."""
    l, p, _ = D.shape
    out = np.zeros((l * p, l * p), order="F")
    idx = np.arange(l)[:, None, None] * p
    rows = idx + np.arange(p)[None, :, None]
    cols = idx + np.arange(p)[None, None, :]
    out[rows, cols] = D
    return out


def lambda_times_inv_t(T: np.ndarray, Linv: np.ndarray) -> np.ndarray:
    """``T Linv_l'`` for every level (closed form for ``p <= 2``).

    Examples
    --------
    >>> T = np.array([[1.0, 0.0], [0.5, 2.0]])
    >>> Li = np.array([[[0.5, 0.0], [-0.25, 0.5]]])
    >>> lambda_times_inv_t(T, Li)[0].tolist() == (T @ Li[0].T).tolist()
    True
    """
    p = T.shape[0]
    if p == 1:
        return Linv * T[0, 0]
    if p == 2:
        t0, t1, t2 = T[0, 0], T[1, 0], T[1, 1]
        i00, i10, i11 = Linv[:, 0, 0], Linv[:, 1, 0], Linv[:, 1, 1]
        out = np.empty_like(Linv)
        out[:, 0, 0] = t0 * i00
        out[:, 0, 1] = t0 * i10
        out[:, 1, 0] = t1 * i00
        out[:, 1, 1] = t1 * i10 + t2 * i11
        return out
    return T @ np.swapaxes(Linv, 1, 2)


def scaled_blocks(D: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``T' D_l T + I`` for every block ``D_l`` of an ``(l, p, p)`` stack (closed form for
    ``p <= 2``: numpy's batched matmul is slow on 2 x 2 blocks).

    Examples
    --------
    >>> scaled_blocks(np.array([[[2.0, 1.0], [1.0, 3.0]]]), np.array([[1.0, 0.0], [0.5, 2.0]]))[0].tolist()
    [[4.75, 5.0], [5.0, 13.0]]
    """
    p = D.shape[1]
    if p == 1:
        return D * (T[0, 0] ** 2) + 1.0
    if p == 2:
        t0, t1, t2 = T[0, 0], T[1, 0], T[1, 1]
        a00, a10, a11 = D[:, 0, 0], D[:, 1, 0], D[:, 1, 1]
        out = np.empty_like(D)
        out[:, 0, 0] = a00 * (t0 * t0) + a10 * (2.0 * t0 * t1) + a11 * (t1 * t1) + 1.0
        out[:, 1, 0] = out[:, 0, 1] = (a10 * t0 + a11 * t1) * t2
        out[:, 1, 1] = a11 * (t2 * t2) + 1.0
        return out
    return T.T @ D @ T + np.eye(p)


@dataclass(frozen=True)
class Plan:
    """What ``update_L`` can prepare once per cross-product set.

    Attributes
    ----------
    grams : dict[(i, j)] -> GramPlan
        For scalar terms ``i >= j >= 1`` whose blocks against a scalar first term are sparse:
        ``A_i0 diag(w) A_j0'`` as a fixed sparse matrix times ``w``
        (see :mod:`multilevel.core.sparse_gram`).
    block_diagonal : set of int
        Terms ``j >= 1`` whose diagonal block of ``L`` stays block diagonal (no fill).
    nested : dict or None
        For two or more nested terms (and not ``structure_only``): their level parents
        (:func:`~multilevel.core.nested.nested_structure`); ``update_L`` then factors by
        level blocks (:func:`~multilevel.core.nested.nested_factor`), no sparse product.
    """

    grams: dict = field(default_factory=dict)
    block_diagonal: frozenset = frozenset()
    nested: dict | None = None
    _last: dict = field(default_factory=dict, repr=False, compare=False)

    def gram(self, key: tuple, theta0: float, w: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``scale * grams[key].apply(w)``, reused while the first term's theta is unchanged
        (the optimiser's coordinate steps and the finite-difference checks often keep it).

        The result is the caller's to modify: a cached product is handed out as a (scaled)
        copy. Only products that cost more than twice their copy are cached (a 10,000-square
        block takes longer to copy than its product with few triples per entry takes to
        form); the others are formed with the scale folded into the weights.
        """
        g = self.grams[key]
        if g.n_triples <= 2 * g.shape[0] * g.shape[1]:
            return g.apply(w * scale)
        hit = self._last.get(key)
        if hit is None or hit[0] != theta0:
            hit = (theta0, g.apply(w))
            self._last[key] = hit
        return np.multiply(hit[1], scale, order="F")


def make_plan(A: CrossProducts, *, structure_only: bool = False) -> Plan:
    """Prepare the fixed-pattern products of ``A`` (done once per fit).

    ``structure_only`` keeps only what depends on the pattern of ``A`` (which diagonal blocks
    stay block diagonal), so that the plan serves every ``A`` with that pattern (PIRLS
    re-forms ``A`` with new weights at each iteration).

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> t = TermData(np.array([0, 0, 1, 1]), np.ones((4, 1)), 2)
    >>> make_plan(form_crossproducts([t], np.ones((4, 1)), np.arange(4.0))).grams
    {}
    """
    K = len(A.ps)
    if K > 1:
        from .nested import nested_structure

        parents = nested_structure(A)
        if parents is not None:  # nested terms: every later diagonal block has no fill
            return Plan(block_diagonal=frozenset(range(1, K)),
                        nested=None if structure_only else parents)
    bdiag = block_diagonal_terms(A)
    grams = {}
    if K > 1 and A.ps[0] == 1 and not structure_only:
        from .sparse_gram import gram_plan

        for i in range(1, K):
            for j in range(1, i + 1):
                if i in bdiag:
                    continue
                Ai, Aj = A.cross[(i, 0)], A.cross[(j, 0)]
                if A.ps[i] == 1 and A.ps[j] == 1 and _is_sparse(Ai) and _is_sparse(Aj):
                    plan = gram_plan(Ai, Aj, lower=(i == j))
                    if plan is not None:
                        grams[(i, j)] = plan
    return Plan(grams=grams, block_diagonal=frozenset(bdiag))


def _level_pattern(M, p_rows: int, p_cols: int) -> sp.csr_matrix:
    """Boolean level-by-level pattern of a term-by-term block."""
    import scipy.sparse as sp

    C = sp.coo_matrix(M)
    nz = C.data != 0
    rows, cols = C.row[nz] // p_rows, C.col[nz] // p_cols
    shape = (M.shape[0] // p_rows, M.shape[1] // p_cols)
    P = sp.csr_matrix((np.ones(rows.size, dtype=bool), (rows, cols)), shape=shape)
    P.sum_duplicates()
    return P


def block_diagonal_terms(A: CrossProducts) -> set[int]:
    """Terms ``j >= 1`` whose diagonal block of ``L`` is block diagonal for every theta.

    A symbolic factorisation at the level of grouping-factor levels: ``L_jj`` gets fill
    exactly when some level of an earlier term ``k`` touches two levels of term ``j`` in
    ``L_jk``. Blocks after a dense diagonal block fill whole rows.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> g = np.array([0, 0, 1, 1, 2, 2])
    >>> ts = [TermData(g, np.ones((6, 1)), 3), TermData(g, np.arange(6.0)[:, None], 3)]
    >>> block_diagonal_terms(form_crossproducts(ts, np.ones((6, 1)), np.arange(6.0)))
    {1}
    """
    K = len(A.ps)
    if K < 2:
        return set()
    if K == 2:  # term 1 has no fill iff no level of term 0 touches two of its levels
        from .nested import _level_parents

        parent = _level_parents(A.cross[(1, 0)], A.n_levels[0], A.ps[1], A.ps[0])
        return {1} if parent is not None else set()
    import scipy.sparse as sp

    P: dict = {}
    out: set[int] = set()
    dense_diag: set[int] = set()
    for i in range(1, K):
        for j in range(i):
            P[(i, j)] = _level_pattern(A.cross[(i, j)], A.ps[i], A.ps[j])
    for j in range(1, K):
        # fill of the earlier columns into L_jk (k < j) was settled when k was processed
        is_bd = all(int(P[(j, k)].getnnz(axis=0).max(initial=0)) <= 1 for k in range(j))
        if is_bd:
            out.add(j)
        else:
            dense_diag.add(j)
        for i in range(j + 1, K):
            Pij = P[(i, j)]
            for k in range(j):
                Pij = Pij + (P[(i, k)] @ P[(j, k)].T)
            Pij = sp.csr_matrix(Pij, dtype=bool)
            if j in dense_diag:  # B L_jj^{-T} fills each nonzero row
                rows = np.flatnonzero(Pij.getnnz(axis=1))
                full = np.zeros(Pij.shape, dtype=bool)
                full[rows] = True
                Pij = sp.csr_matrix(full)
            P[(i, j)] = Pij
    return out


SMALL_BLOCK = 64  # dense blocks up to this order use numpy (no scipy import, less overhead)


def _syrk_sub(C: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``C - B B'`` (at least its lower triangle), in place with BLAS for large blocks."""
    if C.shape[0] <= SMALL_BLOCK:
        C -= B @ B.T
        return C
    from scipy.linalg import blas

    return blas.dsyrk(-1.0, B, beta=1.0, c=C, lower=1, overwrite_c=1)


def _potrf(D: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor (reads the lower triangle only), LAPACK in place."""
    if D.shape[0] <= SMALL_BLOCK:
        return _chol(D)
    from scipy.linalg import lapack

    L, info = lapack.dpotrf(D, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise NotPositiveDefinite(f"leading minor {info} not positive definite")
    return L


def update_L(A: CrossProducts, theta: np.ndarray, plan: Plan | None = None) -> Factor:
    """Factor the penalised system for ``theta``; returns a fresh :class:`Factor`.

    ``plan`` (from :func:`make_plan`) makes repeated updates cheaper; results are the same.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> t = TermData(np.array([0, 0, 1, 1]), np.ones((4, 1)), 2)
    >>> A = form_crossproducts([t], np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 5.0]))
    >>> F = update_L(A, np.array([1.0]))
    >>> round(float(F.LXX[-1, -1] ** 2), 6)   # penalised residual sum of squares
    4.583333
    """
    if plan is not None and plan.nested is not None:
        return _update_nested(A, theta, plan)
    K = len(A.ps)
    Ts = split_theta(theta, A.ps)
    grams = plan.grams if plan is not None else {}
    blocks: dict = {}
    # the first term: batched Cholesky of T' (Z'Z)_l T + I per level
    T0 = Ts[0]
    L0, L0inv = batched_cholesky(scaled_blocks(A.diag[0], T0))
    M0 = lambda_times_inv_t(T0, L0inv)  # Lambda_0 L0^{-T}, per level
    w0 = M0[:, 0, 0] ** 2 if A.ps[0] == 1 else None  # weights of the scalar Gram products
    for i in range(1, K + 1):
        Ai0 = A.cross[(i, 0)] if i < K else A.fixed[0]
        B = blockdiag_right(Ai0, M0)
        blocks[(i, 0)] = lambda_left_t(Ts[i], B, A.n_levels[i]) if i < K else B
    bdiag = plan.block_diagonal if plan is not None else frozenset()
    for j in range(1, K + 1):
        if j in bdiag:
            _update_block_diagonal(A, Ts, blocks, j, K)
            continue
        first = 0
        if j < K and (j, j) in grams:
            # scalar term: -theta^2 A_j0 diag(w) A_j0' + diag(theta^2 a + 1), built in place
            Djj = plan.gram((j, j), float(theta[0]), w0, -(Ts[j][0, 0] ** 2))
            diag = Djj.reshape(-1, order="F")[:: Djj.shape[0] + 1]  # a view: Djj is Fortran
            diag += scaled_blocks(A.diag[j], Ts[j])[:, 0, 0]
            first = 1
        elif j < K:
            Djj = _blockdiag_dense(scaled_blocks(A.diag[j], Ts[j]))
        else:
            Djj = np.asfortranarray(A.xy, dtype=float).copy(order="F")
        for k in range(first, j):
            if _is_sparse(blocks[(j, k)]):
                Djj -= _outer(blocks[(j, k)], blocks[(j, k)])
            else:
                Djj = _syrk_sub(Djj, blocks[(j, k)])
        Ljj = _potrf(Djj)
        blocks[(j, j)] = Ljj
        for i in range(j + 1, K + 1):
            Aij = A.cross[(i, j)] if i < K else A.fixed[j]
            B = lambda_right(Aij, Ts[j], A.n_levels[j])
            if i < K:
                B = lambda_left_t(Ts[i], B, A.n_levels[i])
            B = np.array(_dense(B), order="F")
            for k in range(j):
                if k == 0 and (i, j) in grams:
                    B += plan.gram((i, j), float(theta[0]), w0, -(Ts[i][0, 0] * Ts[j][0, 0]))
                else:
                    B -= _outer(blocks[(i, k)], blocks[(j, k)])
            from scipy.linalg import blas

            blocks[(i, j)] = blas.dtrsm(1.0, Ljj, B, side=1, lower=1, trans_a=1,
                                        overwrite_b=1)
    blocks[(0, 0)] = BlockDiag(L0, L0inv)
    return Factor(T=Ts, L0=L0, L0inv=L0inv, blocks=blocks, K=K)


def _update_nested(A: CrossProducts, theta: np.ndarray, plan: Plan) -> Factor:
    """:func:`update_L` for nested terms: the level-block factor of
    :func:`~multilevel.core.nested.nested_factor` (the same ``L``) laid out as a
    :class:`Factor`: batched diagonal blocks, one ``p_i x p_k`` block per level below them
    (sparse when ``A``'s block is), dense ``[X y]`` rows, levels in ``A``'s order."""
    from .nested import NestedSystem, nested_factor

    S = plan._last.get("nested_system")
    if S is None:  # made on the first update (the plan serves this A only)
        S = NestedSystem.from_crossproducts(A, plan.nested)
        plan._last["nested_system"] = S
    Ts = split_theta(theta, A.ps)
    NF = nested_factor(S, Ts)
    K, m, perm = len(A.ps), A.xy.shape[0], S.perm
    blocks: dict = {}
    for k in range(K):
        p, l = A.ps[k], A.n_levels[k]
        Linv = np.empty((l, p, p))
        Linv[perm[k]] = np.moveaxis(NF.Linv[k], 2, 0)
        blocks[(k, k)] = BlockDiag(lower_inverse(Linv), Linv)
        cols = (perm[k] * p)[None, None, :] + np.arange(p)[None, :, None]
        for i in range(k + 1, K):
            pi = A.ps[i]
            rows = ((perm[i][S.parents[(i, k)]] * pi)[None, None, :]
                    + np.arange(pi)[:, None, None])
            r, c = np.broadcast_arrays(rows, cols)
            R = NF.rows[(i, k)]
            shape = (pi * A.n_levels[i], p * l)
            if _is_sparse(A.cross[(i, k)]):
                import scipy.sparse as sp

                blocks[(i, k)] = sp.csr_matrix((R.ravel(), (r.ravel(), c.ravel())), shape=shape)
            else:
                out = np.zeros(shape)
                out[r, c] = R
                blocks[(i, k)] = out
        XZ = np.empty((m, l, p))
        XZ[:, perm[k], :] = NF.rows[(K, k)].transpose(0, 2, 1)
        blocks[(K, k)] = XZ.reshape(m, l * p)
    blocks[(K, K)] = NF.LXX
    B0 = blocks[(0, 0)]
    return Factor(T=Ts, L0=B0.L, L0inv=B0.Linv, blocks=blocks, K=K)


def _update_block_diagonal(A: CrossProducts, Ts: list, blocks: dict, j: int, K: int) -> None:
    """Diagonal block ``j`` without fill: batched factors, sparse blocks below it kept sparse."""
    l, p = A.n_levels[j], A.ps[j]
    D = scaled_blocks(A.diag[j], Ts[j])
    for k in range(j):
        D = D - diag_blocks_of_outer(blocks[(j, k)], l, p)
    L, Linv = batched_cholesky(D)
    blocks[(j, j)] = BlockDiag(L, Linv)
    MinvT = np.swapaxes(Linv, 1, 2)
    for i in range(j + 1, K + 1):
        Aij = A.cross[(i, j)] if i < K else A.fixed[j]
        B = lambda_right(Aij, Ts[j], l)
        if i < K:
            B = lambda_left_t(Ts[i], B, A.n_levels[i])
        for k in range(j):
            C = blocks[(i, k)] @ blocks[(j, k)].T
            if _is_sparse(B) and _is_sparse(C):
                B = (B - C).tocsr()
            else:
                B = _dense(B) - (C.toarray() if _is_sparse(C) else C)
        blocks[(i, j)] = blockdiag_right(B, MinvT)


def logdet_re(F: Factor) -> float:
    """``log det(Lambda' Z' Z Lambda + I)`` from the factor's diagonal blocks.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> t = TermData(np.array([0, 1]), np.ones((2, 1)), 2)
    >>> A = form_crossproducts([t], np.ones((2, 1)), np.array([1.0, 2.0]))
    >>> round(logdet_re(update_L(A, np.array([1.0]))), 6)  # 2 log 2
    1.386294
    """
    return float(sum(diag_logdet(F.blocks[(j, j)]) for j in range(F.K)))
