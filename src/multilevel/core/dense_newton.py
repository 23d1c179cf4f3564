"""The profiled criterion of a small model with its exact gradient and Hessian: lme4's
convergence checks after the gradient method (:func:`multilevel.fit.checks.analytic_derivs`)
take this Hessian in one call instead of ``p + 1`` gradients.

On the dense path (:class:`~multilevel.core.dense_small.DenseObjective`) the whole system
``S(theta) = Lt' C Lt + blockdiag(I_q, 0)`` is a quadratic in theta with constant matrices,
``S = K_0 + sum_a theta_a K_a + sum_{a <= b} theta_a theta_b K_ab``, and the criterion is a
combination of log-determinants of its leading blocks. With ``S_B`` the leading ``B x B``
block (``q``: the random effects; ``k = q + p``: with ``X``; ``m = k + 1``: all) and
``log r^2 = log det S_m - log det S_k``:

.. math::

    d_{ML} = \\log\\det S_q + n \\log r^2 + c, \\qquad
    d_{REML} = \\log\\det S_k + (n - p) \\log r^2 + c

so with ``b`` the block that enters (``q`` for ML, ``k`` for REML), ``c_r`` its weight of
``log r^2``, ``A_a = dS/dtheta_a`` and ``w'`` the last row of ``L^{-1}`` (``S = L L'``;
``S_m^{-1} - S_k^{-1} = w w'``, the ``k x k`` inverse padded with zeros):

.. math::

    \\partial_a d = \\operatorname{tr}(S_b^{-1} A_a) + c_r\\, w' A_a w

    \\partial_{ab} d = \\operatorname{tr}(G\\, \\partial_{ab} S)
        - \\operatorname{tr}(S_b^{-1} A_a S_b^{-1} A_b)
        - c_r \\left(2 (A_a w)' S_k^{-1} (A_b w) + (w' A_a w)(w' A_b w)\\right)

with ``G = S_b^{-1} + c_r w w'`` (padded). Every term is a product with one triangular
inverse, with no difference of large numbers: the ``n log r^2`` part of the ML deviance
comes from ``w`` alone rather than from ``n (S_m^{-1} - S_k^{-1})``.
"""
from __future__ import annotations

import math

import numpy as np

from .batched import NotPositiveDefinite, cholesky_lower


class DenseNewton:
    """``theta -> (f, gradient, Hessian)`` of ``problem``'s criterion on the dense path.

    ``problem`` is a :class:`~multilevel.core.lmm.LmmProblem` whose fast objective is a
    :class:`~multilevel.core.dense_small.DenseObjective` with its quadratic expansion
    (see :meth:`applies`); ``f`` is ``problem``'s own criterion, to the last bit.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> dn = DenseNewton(m.problem)
    >>> f, g, H = dn(m.opt_summary.theta)
    >>> bool(np.isclose(f, m.problem.objective(m.opt_summary.theta))), g.shape, H.shape
    (True, (1,), (1, 1))
    """

    @staticmethod
    def applies(problem) -> bool:
        """Whether ``problem``'s objective is the dense one with its quadratic expansion.

        Examples
        --------
        >>> import multilevel as ml
        >>> sleep = ml.datasets.load("sleepstudy")
        >>> DenseNewton.applies(ml.lmer("Reaction ~ Days + (1 | Subject)", sleep).problem)
        True
        """
        fast = problem._fast()
        return getattr(fast, "_expansion", None) is not None

    def __init__(self, problem):
        dense = problem._fast()
        K, _, ia, ib = dense._expansion
        self.problem = problem
        self.K = K                          # (1 + n + n(n+1)/2, m*m)
        self.n = n = dense._n_theta
        self.m = m = dense.full.shape[0]
        self.q = q = dense.q
        self.k = m - 1
        self.ia, self.ib = ia, ib
        self.b = self.k if problem.reml else q  # the leading block whose log det enters
        self.c_r = float(problem.n - problem.p if problem.reml else problem.n)
        rows = np.arange(n)[:, None]
        self._u1 = (ia[None, :] == rows).astype(float)  # d(theta_a theta_b)/d theta_c:
        self._u2 = (ib[None, :] == rows).astype(float)  # [a = c] theta_b + [b = c] theta_a
        self._coef = np.empty(K.shape[0])
        self._dcoef = np.zeros((n, K.shape[0]))
        self._dcoef[:, 1:1 + n] = np.eye(n)
        # d2 S / d theta_c d theta_d = K_{cd} (c != d), 2 K_cc: the quadratic row of each pair
        pair = np.empty((n, n), dtype=int)
        pair[ia, ib] = pair[ib, ia] = np.arange(ia.size)
        self._pair = pair
        self._pair_factor = 1.0 + np.eye(n)
        self._diag_q = slice(0, q * (m + 1), m + 1)  # flat indices of diag(L)[:q]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """``(f, gradient, Hessian)``; ``(BAD_OBJECTIVE, None, None)`` where ``S`` is not
        positive definite or ``f`` is not finite, ``(f, None, None)`` where only the
        derivatives are not."""
        from .lmm import BAD_OBJECTIVE

        theta = np.asarray(theta, dtype=float)
        n, m, k, b, c_r = self.n, self.m, self.k, self.b, self.c_r
        coef, dcoef = self._coef, self._dcoef
        ta, tb = theta[self.ia], theta[self.ib]
        coef[0] = 1.0
        coef[1:1 + n] = theta
        np.multiply(ta, tb, out=coef[1 + n:])
        try:
            L = cholesky_lower((coef @ self.K).reshape(m, m))
        except NotPositiveDefinite:
            return BAD_OBJECTIVE, None, None
        logdet_z = 2.0 * float(np.log(L.reshape(-1)[self._diag_q]).sum())
        f = self.problem._criterion(logdet_z, L[self.q:, self.q:])
        if not math.isfinite(f):
            return BAD_OBJECTIVE, None, None
        Linv = np.linalg.inv(L)  # lower triangular
        # A_c = dS/dtheta_c for every c: (n, m, m)
        dcoef[:, 1 + n:] = self._u1 * tb + self._u2 * ta
        A = (dcoef @ self.K).reshape(n, m, m)
        # the log det S_b part: M_c = Lb A_c Lb' (symmetric), tr(S_b^-1 A_c) = tr(M_c),
        # tr(S_b^-1 A_c S_b^-1 A_d) = sum(M_c * M_d)
        Lb = Linv[:b, :b]
        M = (Lb @ A[:, :b, :b] @ Lb.T).reshape(n, b * b)
        grad = M[:, ::b + 1].sum(axis=1)
        hess = -(M @ M.T)
        # the log r^2 part through w, the last row of L^-1
        w = Linv[k]
        Aw = A @ w                        # (n, m): A_c w
        wAw = Aw @ w                      # w' A_c w = d log r^2 / d theta_c
        z = Aw[:, :k] @ Linv[:k, :k].T    # S_k^-1 = Lk' Lk: (A_c w)' S_k^-1 (A_d w) = z_c . z_d
        grad += c_r * wAw
        hess -= c_r * (2.0 * (z @ z.T) + np.outer(wAw, wAw))
        # the second derivatives of S: tr(G K_r) for every quadratic row r
        G = c_r * np.outer(w, w)
        G[:b, :b] += Lb.T @ Lb
        t = self.K[1 + n:] @ G.reshape(-1)
        hess += t[self._pair] * self._pair_factor
        if not (np.isfinite(grad).all() and np.isfinite(hess).all()):
            return f, None, None
        return f, grad, hess

    def objective_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray | None]:
        """``(f, gradient)``, as :meth:`multilevel.core.lmm.LmmProblem.objective_and_gradient`.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
        >>> f, g = DenseNewton(m.problem).objective_and_gradient(m.opt_summary.theta)
        >>> bool(abs(g).max() < 1e-2)
        True
        """
        f, g, _ = self(theta)
        return f, g
