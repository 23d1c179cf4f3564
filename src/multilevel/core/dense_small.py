"""The profiled objective of a small model as one dense Cholesky factorisation.

For the lesson's models (10 schools, 2 random effects each: ``q = 20``) the whole system
``[[Lambda' Z'Z Lambda + I, Lambda' Z'[X y]], [., [X y]'[X y]]]`` has order ``q + p + 1 = 23``:
one LAPACK call on it costs less than the dozen small numpy operations of the blocked update
(:func:`multilevel.core.cholesky.update_L`), whose per-call overhead then dominates. The
factor is the same ``L`` (same blocks, same order), so the objective is the same to rounding;
a small model's solutions and conditional variances come from this factor too
(:meth:`multilevel.core.lmm.LmmProblem.solve`, :meth:`~multilevel.core.lmm.LmmProblem.cond_var`).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from .batched import _CHOLESKY_LO, NotPositiveDefinite, cholesky_lower, lower_inverse
from .crossprod import CrossProducts
from .dense_layout import dense_layout, lambda_index

BLOCK_INVERSE_MIN = 24  # first-term rows from which L's inverse is taken by blocks
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
    m = sum(l * p for l, p in zip(A.n_levels, A.ps)) + A.xy.shape[0]
    lay = dense_layout(tuple(A.n_levels), tuple(A.ps), m)
    off, q = lay.offsets, lay.q
    out = np.zeros((m, m))
    flat = out.reshape(-1)
    for k in range(len(A.n_levels)):
        flat[lay.diag_flat[k]] = A.diag[k]  # the level blocks Z_l'Z_l
        out[q:, off[k]:off[k + 1]] = A.fixed[k]
        for j in range(k):
            C = A.cross[(k, j)]
            out[off[k]:off[k + 1], off[j]:off[j + 1]] = C.toarray() if hasattr(C, "toarray") \
                else np.asarray(C)
    out[q:, q:] = A.xy
    iu, ju = lay.upper
    out[iu, ju] = out[ju, iu]  # the lower triangle, mirrored
    return out


class DenseObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` by one dense factorisation; see the module docstring.

    With ``C`` the cross-products of ``[Z X y]``, ``Lt = blockdiag(Lambda, I)`` and
    ``S = Lt' C Lt + blockdiag(I_q, 0) = L L'``, :meth:`gradient_parts` also returns the
    derivatives of the three pieces of the profiled criterion (``k = q + p``, ``M = S[:k, :k]``,
    ``E_t`` the 0/1 pattern of ``theta_t`` in ``Lambda``):

    .. math::

        \\partial_t \\log|L_Z|^2 = 2 \\operatorname{tr}(S_{ZZ}^{-1} \\Lambda' C_{ZZ} E_t),
        \\qquad
        \\partial_t (\\log|L_Z|^2 + \\log|R_X|^2) = 2 \\operatorname{tr}(M^{-1} (Lt'C)_{:k, Z} E_t)

        \\partial_t r^2 = -2\\, w' E_t u, \\quad w = Z'y - Z'X\\beta - Z'Z \\Lambda u

    (the last by the envelope theorem at the penalised least-squares solution ``(u, beta)``,
    which is ``L[:k, :k]^{-T} L[k, :k]``).

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
    >>> obj, h = DenseObjective(A), 1e-6
    >>> d = (obj(np.array([0.7 + h]))[0] - obj(np.array([0.7 - h]))[0]) / (2 * h)
    >>> bool(np.isclose(obj.gradient_parts(np.array([0.7]))[2][0], d))
    True
    """

    def __init__(self, A: CrossProducts):
        self.full = full = dense_crossproducts(A)
        m = full.shape[0]
        self._layout = lay = dense_layout(tuple(A.n_levels), tuple(A.ps), m)
        self.q = q = lay.q
        self._tidx, self._rows, self._cols = lay.tidx, lay.rows, lay.cols
        self._n_theta = lay.n_theta
        self._diag_z = slice(0, q * (m + 1), m + 1)  # flat indices of diag[:q]
        self._first_term = (A.n_levels[0], A.ps[0])
        self._lam = None  # Lambda, made on first use (the expansion does without it)
        self._expansion = self._quadratic_expansion()

    def _quadratic_expansion(self):
        """``(K, coef, ia, ib)`` with ``S(theta) = (coef @ K).reshape(m, m)``, or None.

        ``Lambda = sum_a theta_a E_a`` is linear in theta, so with ``Lt = P + Lambda`` (``P``
        the identity on ``[X y]``) the system is a quadratic form in theta with constant
        matrices: ``S = (P C P + I_Z) + sum_a theta_a (E_a' C P + P C E_a)
        + sum_{a <= b} theta_a theta_b (E_a' C E_b + E_b' C E_a) / (1 + [a = b])``. One
        matrix-vector product with the stacked matrices then replaces filling ``Lambda`` and
        two matrix products (imm10, order 23: about 8 us less an evaluation). Only while the
        stack is small (it grows with the square of theta's length). Each stacked matrix
        is entries of ``C`` (:func:`~multilevel.core.dense_layout.dense_layout`): two
        gathers make the stack, the values the products with the 0/1 ``E_a`` give.
        """
        lay = self._layout
        if lay.gather is None:
            return None
        first, second = lay.gather
        m = lay.m
        flat = np.empty(m * m + 1)
        flat[:-1] = self.full.reshape(-1)
        flat[-1] = 0.0
        K = flat[first]
        K += flat[second]
        K[0, self._diag_z] += 1.0  # + I_Z
        return K, np.empty(K.shape[0]), lay.ia, lay.ib

    @cached_property
    def _lam_flat(self) -> np.ndarray:
        """Where ``theta[tidx]`` goes in the flat ``m x m`` Lambda."""
        return self._rows * self.full.shape[0] + self._cols

    @cached_property
    def _trace_flat(self) -> np.ndarray:
        """Entry ``(r, c)`` of Lambda meets entry ``(c, r)`` of a ``q x q`` trace matrix."""
        return self._cols * self.q + self._rows

    @property
    def _q1(self) -> int:
        l1, p1 = self._first_term
        return l1 * p1

    @cached_property
    def _block_flat(self) -> np.ndarray:
        """The first term's block of ``L`` is block diagonal (its levels do not touch): flat
        indices, in a ``k x k`` array, of its ``l1`` blocks of ``p1 x p1`` (level, row,
        column)."""
        (l1, p1), k = self._first_term, self.full.shape[0] - 1
        base = (np.arange(l1) * p1)[:, None, None]
        return ((base + np.arange(p1)[None, :, None]) * k + base + np.arange(p1)[None, None, :])

    def _factor(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Lt'C, L)``; raises NotPositiveDefinite."""
        if self._lam is None:
            self._lam = np.eye(self.full.shape[0])  # Lambda on the Z block, I on [X y]
        lam = self._lam
        lam.reshape(-1)[self._lam_flat] = np.asarray(theta, dtype=float)[self._tidx]
        LtC = lam.T @ self.full
        S = LtC @ lam
        S.reshape(-1)[self._diag_z] += 1.0  # + I on the Z block, through a strided view
        return LtC, cholesky_lower(S)  # lower triangle, zeros above

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``.

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` when the system is not
        positive definite.
        """
        if self._expansion is None:
            L = self._factor(theta)[1]
        else:  # S from the quadratic expansion, factored by numpy's Cholesky kernel
            K, coef, ia, ib = self._expansion
            theta = np.asarray(theta, dtype=float)
            n = theta.size
            coef[0] = 1.0
            coef[1:1 + n] = theta
            np.multiply(theta[ia], theta[ib], out=coef[1 + n:])
            m = self.full.shape[0]
            L = cholesky_lower((coef @ K).reshape(m, m))
        q = self.q
        return 2.0 * float(np.add.reduce(np.log(L.reshape(-1)[self._diag_z]))), L[q:, q:]

    def criterion_function(self, criterion, bad: float):
        """``theta -> criterion(log|L_Z|^2, L_XX)`` (``bad`` where ``S`` is not positive
        definite) with the least work per call: the optimiser's inner loop (imm10: 77
        BOBYQA evaluations). The same arithmetic as :meth:`__call__`, so the same values to
        the last bit; :meth:`__call__` itself without the quadratic expansion. Where ``S`` is
        not positive definite numpy's Cholesky kernel sets its "invalid" flag: call it under
        ``np.errstate(invalid="ignore")``, as :func:`~multilevel.core.optimize.bobyqa`
        does, to keep that quiet (a ``with`` block per call costs more than the rest of a
        small model's evaluation).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> obj = DenseObjective(A)
        >>> f = obj.criterion_function(lambda ld, LXX: ld + float(LXX[-1, -1]), 1e300)
        >>> ld, LXX = obj(np.array([0.5]))
        >>> f(np.array([0.5])) == ld + float(LXX[-1, -1])
        True
        >>> with np.errstate(invalid="ignore"):
        ...     f(np.array([np.nan]))
        1e+300
        """
        if self._expansion is None:
            def slow(theta):
                try:
                    return criterion(*self(theta))
                except NotPositiveDefinite:
                    return bad
            return slow
        K, coef, ia, ib = self._expansion
        n, m, q = self._n_theta, self.full.shape[0], self.q
        linear, quadratic = coef[1:1 + n], coef[1 + n:]
        diag_z, multiply, log, total = self._diag_z, np.multiply, np.log, np.add.reduce
        factor = _CHOLESKY_LO or cholesky_lower  # numpy's kernel: NaN where a pivot fails

        def f(theta):
            coef[0] = 1.0
            linear[:] = theta
            multiply(theta[ia], theta[ib], out=quadratic)
            try:
                L = factor((coef @ K).reshape(m, m))
            except NotPositiveDefinite:
                return bad
            if L[-1, -1] != L[-1, -1]:
                return bad
            return criterion(2.0 * float(total(log(L.reshape(-1)[diag_z]))), L[q:, q:])
        return f

    def compiled_criterion(self, *, n_obs: float, p: int, reml: bool, log_det_w: float,
                           bad: float):
        """The criterion of :meth:`criterion_function` (ML deviance or REML, as
        :meth:`multilevel.core.lmm.LmmProblem._criterion` computes it from this factor)
        compiled: :func:`multilevel.core.native.dense_criterion`, whose NLopt runs stay in C.
        None without the quadratic expansion or the extension. The same values to rounding
        (its own Cholesky and sums, not LAPACK's).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> obj = DenseObjective(A)
        >>> f = obj.compiled_criterion(n_obs=6, p=1, reml=False, log_det_w=0.0, bad=1e300)
        >>> ld, LXX = obj(np.array([0.5]))
        >>> dev = ld + 6 * (1 + np.log(2 * np.pi * float(LXX[-1, -1]) ** 2 / 6))
        >>> f is None or bool(np.isclose(f(np.array([0.5])), dev, rtol=1e-13))
        True
        """
        if self._expansion is None:
            return None
        from .native import dense_criterion

        K, _, ia, ib = self._expansion
        return dense_criterion(K, ia, ib, m=self.full.shape[0], q=self.q, p=int(p),
                               n_obs=float(n_obs), reml=reml, log_det_w=log_det_w, bad=bad)

    def many(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX)`` for every row of ``thetas`` (the finite-difference points
        of the convergence checks): ``S`` of all rows by one matrix product with the
        quadratic expansion and one batched Cholesky, the same arithmetic as
        :meth:`__call__` row by row. Raises NotPositiveDefinite if any row's ``S`` is not
        positive definite (:meth:`multilevel.core.lmm.LmmProblem.objectives` then takes
        the rows one at a time).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> obj = DenseObjective(A)
        >>> lds, LXXs = obj.many(np.array([[0.5], [1.0]]))
        >>> bool(np.allclose(lds, [obj(np.array([t]))[0] for t in (0.5, 1.0)]))
        True
        """
        thetas = np.asarray(thetas, dtype=float)
        q, m = self.q, self.full.shape[0]
        if self._expansion is None:
            parts = [self(t) for t in thetas]
            return (np.array([ld for ld, _ in parts]),
                    np.array([LXX for _, LXX in parts]).reshape(len(parts), m - q, m - q))
        K, _, ia, ib = self._expansion
        N, n = thetas.shape
        coef = np.empty((N, K.shape[0]))
        coef[:, 0] = 1.0
        coef[:, 1:1 + n] = thetas
        np.multiply(thetas[:, ia], thetas[:, ib], out=coef[:, 1 + n:])
        L = cholesky_lower((coef @ K).reshape(N, m, m))
        logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)[:, :q]).sum(axis=1)
        return logdet, L[:, q:, q:]

    def _inverse(self, L11: np.ndarray) -> np.ndarray:
        """``L11^{-1}`` by blocks: with ``L11 = [[D, 0], [B, E]]`` and ``D`` the first term's
        block diagonal, ``L11^{-1} = [[D^{-1}, 0], [-E^{-1} B D^{-1}, E^{-1}]]``; ``D^{-1}``
        level by level (:func:`~multilevel.core.batched.lower_inverse`), ``E`` (the other terms and
        ``X``) small. numpy's LU inverse of all of ``L11`` took half the gradient's time
        (sleepstudy, order 38: 58 us; by blocks 32 us), but the dozen small operations of the
        blocks cost more for a small first term (imm10, 20 rows: 12 vs 28 us)."""
        q1, k = self._q1, L11.shape[0]
        if q1 < BLOCK_INVERSE_MIN:
            return np.linalg.inv(L11)
        flat = L11.reshape(-1)
        blocks = flat[self._block_flat]  # (l1, p1, p1) lower-triangular level blocks
        out = np.zeros((k, k))
        out.reshape(-1)[self._block_flat] = lower_inverse(blocks)
        if q1 < k:
            E_inv = np.linalg.inv(L11[q1:, q1:])
            out[q1:, q1:] = E_inv
            out[q1:, :q1] = -E_inv @ (L11[q1:, :q1] @ out[:q1, :q1])
        return out

    def gradient_parts(self, theta: np.ndarray):
        """``(log|L_Z|^2, L_XX, d log|L_Z|^2, d log|R_X|^2, d r^2)``, derivatives by theta.

        See the class docstring for the formulas. Raises NotPositiveDefinite as ``__call__``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> [np.shape(x) for x in DenseObjective(A).gradient_parts(np.array([0.5]))]
        [(), (2, 2), (1,), (1,), (1,)]
        """
        LtC, L = self._factor(theta)
        q, k = self.q, L.shape[0] - 1
        Linv = self._inverse(L[:k, :k])
        x = L[k, :k] @ Linv  # [u; beta] = L11^{-T} l: one product with the inverse
        # traces: W = L11^{-1} (Lt'C)[:k, :q]; M^{-1} (.) = L11^{-T} W splits into the Z rows
        # of L11^{-1} (the S_ZZ^{-1} part) and its X rows (what R_X adds)
        W = Linv @ LtC[:k, :q]
        G_z = Linv[:q, :q].T @ W[:q]
        G_x = Linv[q:, :q].T @ W[q:]
        # penalised-residual cross-product w = C_Z. @ [-Lambda u; -beta; 1]
        u = x[:q]
        v = np.empty(k + 1)
        v[:q] = self._lam[:q, :q] @ u
        v[q:k] = x[q:]
        v[:k] *= -1.0
        v[k] = 1.0
        w = self.full[:q] @ v
        n, t = self._n_theta, self._tidx
        g_z = 2.0 * np.bincount(t, G_z.reshape(-1)[self._trace_flat], n)
        g_x = 2.0 * np.bincount(t, G_x.reshape(-1)[self._trace_flat], n)
        g_r2 = -2.0 * np.bincount(t, w[self._rows] * u[self._cols], n)
        logdet = 2.0 * float(np.log(L.reshape(-1)[self._diag_z]).sum())
        return logdet, L[q:, q:], g_z, g_x, g_r2


DENSE_PLS_MAX_ORDER = 64       # q + p + 1 up to which a GLMM's PLS step is one dense factor
DENSE_PLS_MAX_WORK = 200_000   # and nobs * order^2 (the cross-product M'WM) up to this; one
# thread, one binomial intercept term, p = 3 (dense vs nested level blocks, us per step):
# order 19: nobs 56 59 vs 100, 300 83 vs 112, 600 112 vs 127; order 34: nobs 150 98 vs 107,
# 300 82 vs 55; order 44: nobs 400 117 vs 62, 1200 449 vs 131


class DensePls:
    """Penalised weighted least squares of a small GLMM by one dense factorisation.

    For a few random effects (cbpp: 15 herds) a PIRLS step is a handful of numpy calls on
    the dense ``Z`` (``nobs x q``), ``Lambda`` and ``[X z]``: the factor of
    ``[[Lambda'Z'WZ Lambda + I, .], [[X z]'WZ Lambda, [X z]'W[X z]]]`` is the blocked path's
    ``L`` (same order), so solutions agree to rounding.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData
    >>> g = np.repeat(np.arange(3), 4)
    >>> dp = DensePls([TermData(g, np.ones((12, 1)), 3)])
    >>> beta, u, LXX, ld = dp.solve(np.array([1.0]), np.ones((12, 1)), np.arange(12.0),
    ...                             np.ones(12))
    >>> np.round(beta, 6).tolist(), (np.round(u, 4) + 0.0).tolist()
    ([5.5], [-3.2, 0.0, 3.2])
    """

    @staticmethod
    def applies(terms, p: int) -> bool:
        """Whether the dense step is the cheaper one for these terms and ``p`` fixed effects.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData
        >>> DensePls.applies([TermData(np.repeat(np.arange(3), 4), np.ones((12, 1)), 3)], 1)
        True
        """
        order = sum(t.q for t in terms) + p + 1
        return (order <= DENSE_PLS_MAX_ORDER
                and terms[0].codes.size * order ** 2 <= DENSE_PLS_MAX_WORK)

    def __init__(self, terms):
        n = terms[0].codes.size
        self.q = q = sum(t.q for t in terms)
        self.Z = np.zeros((n, q))
        off = 0
        for t in terms:  # one scatter per term: Z[i, off + level_i * p + j] = Z_t[i, j]
            cols = off + t.codes[:, None] * t.p + np.arange(t.p)[None, :]
            self.Z[np.arange(n)[:, None], cols] = t.Z
            off += t.q
        self._index = lambda_index([t.n_levels for t in terms], [t.p for t in terms])
        self._lam = np.zeros((q, q))
        self._theta = None

    def lam(self, theta: np.ndarray) -> np.ndarray:
        """``Lambda(theta)`` as a dense ``q x q`` array (kept for the last theta).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData
        >>> dp = DensePls([TermData(np.repeat(np.arange(3), 4), np.ones((12, 1)), 3)])
        >>> np.diag(dp.lam(np.array([0.5]))).tolist()
        [0.5, 0.5, 0.5]
        """
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        if key != self._theta:
            rows, cols, tidx = self._index
            self._lam[rows, cols] = theta[tidx]
            self._theta = key
        return self._lam

    def zb(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``Z Lambda u``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData
        >>> dp = DensePls([TermData(np.repeat(np.arange(3), 4), np.ones((12, 1)), 3)])
        >>> dp.zb(np.array([2.0]), np.array([1.0, 0.0, -1.0]))[[0, 4, 8]].tolist()
        [2.0, 0.0, -2.0]
        """
        return self.Z @ (self.lam(theta) @ u)

    def _factor(self, theta, M: np.ndarray, w: np.ndarray) -> np.ndarray:
        ZL = self.Z @ self.lam(theta)
        A = np.concatenate([ZL, M], axis=1)
        C = A.T @ (A * w[:, None])
        m = C.shape[0]
        C.reshape(-1)[:self.q * (m + 1):m + 1] += 1.0  # + I on the u block
        return cholesky_lower(C)

    def logdet(self, theta: np.ndarray, w: np.ndarray) -> float:
        """``log det(Lambda'Z'WZ Lambda + I)``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData
        >>> dp = DensePls([TermData(np.repeat(np.arange(3), 4), np.ones((12, 1)), 3)])
        >>> bool(np.isclose(dp.logdet(np.array([1.0]), np.ones(12)), 3 * np.log(5.0)))
        True
        """
        L = self._factor(theta, np.zeros((self.Z.shape[0], 0)), w)
        return 2.0 * float(np.log(np.diagonal(L)).sum())

    def solve(self, theta, X: np.ndarray, z: np.ndarray, w: np.ndarray):
        """``(beta, u, L_XX, log det(Lambda'Z'WZ Lambda + I))`` for working response ``z``.

        ``L_XX`` is the ``[X z]`` block of the factor, as in the blocked path.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData
        >>> dp = DensePls([TermData(np.repeat(np.arange(3), 4), np.ones((12, 1)), 3)])
        >>> beta, u, LXX, ld = dp.solve(np.array([1.0]), np.ones((12, 1)), np.arange(12.0),
        ...                             np.ones(12))
        >>> np.round(beta, 6).tolist(), LXX.shape
        ([5.5], (2, 2))
        """
        L = self._factor(theta, np.column_stack([X, z]), w)
        q, k = self.q, L.shape[0] - 1
        # [u; beta] solves L11' x = l, with l the last row of L (left of its diagonal)
        x = np.linalg.solve(L[:k, :k].T, L[k, :k]) if k else np.zeros(0)
        logdet = 2.0 * float(np.log(np.diagonal(L)[:q]).sum())
        return x[q:], x[:q], L[q:, q:], logdet
