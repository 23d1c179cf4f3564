"""The profiled objective of one grouping factor with one or two random effects, in closed form.

With a single term ``(1 | g)`` or ``(x | g)`` every level is eliminated on its own. In the
data's own coordinates, with ``Sigma = T T'`` and ``D_l``, ``F_l`` the level's ``Z'Z`` and
``[X y]'Z``:

.. math::

    Q_l = T (T' D_l T + I)^{-1} T' = \\Sigma (I + D_l \\Sigma)^{-1}, \\qquad
    \\log|L_Z|^2 = \\sum_l \\log \\det(I + D_l \\Sigma), \\qquad
    L_{XX} L_{XX}' = [X y]'[X y] - \\sum_l F_l Q_l F_l'

For ``p = 2``, ``det(I + D Sigma) = 1 + tr(D Sigma) + det D det Sigma`` and
``Q = (Sigma + det(Sigma) adj(D)) / det(I + D Sigma)``: no per-level factorisation. Both are
linear in the few numbers ``c = (1, s_00, s_01, s_11, det Sigma)`` (``(1, s)`` for ``p = 1``)
once divided by ``E_l = det(I + D_l Sigma)``, so with tables fixed per model
(:func:`level_tables`) an evaluation is a handful of numpy calls whatever the number of levels:

.. math::

    E = c' \\mathcal{D}, \\qquad
    \\sum_l F_l Q_l F_l' = \\big(\\mathcal{P} E^{-1}\\big) c_{1:}

with ``D`` the rows ``(1, d_00, 2 d_01, d_11, det D)`` per level and ``P`` the level products
``F_l (.) F_l'`` by the packed entries of ``Q`` plus their sum weighted by ``adj D_l``.

The derivatives run the same steps backwards. For a part ``f`` of the criterion (``log|L_Z|^2``,
``log|R_X|^2`` or ``r^2``), ``df/dQ_l = -F_l' (df/dXX) F_l`` with ``df/dXX = S^{-1}`` on the
``X`` block (``S = R_X R_X'``) for ``log|R_X|^2`` and ``v v'`` with ``v = [-beta; 1]`` for
``r^2``; then the chain rule through ``Q_l`` and ``det(I + D_l Sigma)`` to ``Sigma`` and ``T``.
The same factor as :func:`~multilevel.core.nested.nested_factor` (to rounding).
"""
from __future__ import annotations

import math

import numpy as np

from .batched import NotPositiveDefinite, cholesky_lower

MAX_ENTRIES = 4_000_000  # largest table of level products F_l (.) F_l' kept (m^2 p(p+1)/2 l)


class SingleTermObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` and :meth:`gradient_parts` for one term, ``p <= 2``.

    Built from the level blocks of a :class:`~multilevel.core.nested.NestedSystem` with one
    term; see the module docstring.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.nested import NestedSystem, nested_factor
    >>> from multilevel.core.nested_objective import NestedObjective
    >>> rng = np.random.default_rng(0)
    >>> g, x = np.repeat(np.arange(6), 4), rng.normal(size=24)
    >>> A = form_crossproducts([TermData(g, np.column_stack([np.ones(24), x]), 6)],
    ...                        np.ones((24, 1)), rng.normal(size=24))
    >>> S = NestedSystem.from_crossproducts(A, {})
    >>> ld, LXX = SingleTermObjective(S)(np.array([0.8, 0.2, 0.5]))
    >>> F = nested_factor(S, [np.array([[0.8, 0.0], [0.2, 0.5]])])
    >>> bool(np.isclose(ld, F.logdet)), bool(np.allclose(LXX, F.LXX))
    (True, True)
    """

    @staticmethod
    def applies(S) -> bool:
        """One term with one or two columns and a table of level products of bounded size."""
        if len(S.diag) != 1:
            return False
        p, _, l = S.diag[0].shape
        m = S.xy.shape[0]
        return p <= 2 and m * m * (p * (p + 1) // 2) * l <= MAX_ENTRIES

    def __init__(self, S):
        D, F = S.diag[0], S.fixed[0]  # (p, p, l), (m, p, l)
        self.p, self.m = D.shape[0], F.shape[0]
        self.xy = np.asarray(S.xy, dtype=float)
        self.d, self.det_d, self.adj_d = packed_levels(D)
        # E = c @ Dk and sum_l F_l Q_l F_l' = ((P @ 1/E) by packed entry) @ c[1:]
        self.Dk, self.P = level_tables(self.d, self.det_d, self.adj_d, packed_products(F))
        self.n_coef = self.P.shape[0] // (self.m * self.m)  # columns of c after its leading 1

    def _factor(self, theta: np.ndarray):
        """``(log|L_Z|^2, L_XX, c, E, 1/E)``: nine numpy calls whatever the levels."""
        c = sigma_coefficients(self.p, theta)
        E = c @ self.Dk                                   # det(I + D_l Sigma) per level
        # E_l = det(I + D_l Sigma) >= 1 for the positive semi-definite D_l and Sigma: only a
        # NaN or infinite theta makes log|L_Z|^2 non-finite
        ld = float(np.log(E).sum())
        if not abs(ld) < math.inf:
            raise NotPositiveDefinite("no finite level determinant")
        inv_e = 1.0 / E
        # [X y]'[X y] - sum_l F_l Q_l F_l': the level sums of the tables, then c
        FQF = (self.P @ inv_e).reshape(-1, self.n_coef) @ c[1:]
        LXX = cholesky_lower(self.xy - FQF.reshape(self.m, self.m))
        return ld, LXX, c, E, inv_e

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``."""
        ld, LXX, *_ = self._factor(theta)
        return ld, LXX

    def many(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX)`` for every row of ``thetas`` (the finite-difference points
        of the convergence checks): :meth:`__call__`'s steps with the rows stacked, one
        product for all their ``E``, one with the tables, one batched Cholesky factor.
        Raises :class:`~multilevel.core.batched.NotPositiveDefinite` if any row fails
        (:meth:`multilevel.core.lmm.LmmProblem.objectives` then takes the rows one at a time).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> from multilevel.core.nested import NestedSystem
        >>> rng = np.random.default_rng(0)
        >>> g, x = np.repeat(np.arange(6), 4), rng.normal(size=24)
        >>> A = form_crossproducts([TermData(g, np.column_stack([np.ones(24), x]), 6)],
        ...                        np.ones((24, 1)), rng.normal(size=24))
        >>> obj = SingleTermObjective(NestedSystem.from_crossproducts(A, {}))
        >>> ts = np.array([[0.8, 0.2, 0.5], [1.1, -0.3, 0.4]])
        >>> lds, LXXs = obj.many(ts)
        >>> bool(np.allclose(lds, [obj(t)[0] for t in ts]))
        True
        >>> bool(np.allclose(LXXs[1], obj(ts[1])[1]))
        True
        """
        thetas = np.asarray(thetas, dtype=float)
        n, m, k = thetas.shape[0], self.m, self.n_coef
        c = np.array([sigma_coefficients(self.p, t) for t in thetas])   # (n, 1 + k)
        E = c @ self.Dk                                                  # (n, l)
        ld = np.log(E).sum(axis=1)
        if not (np.abs(ld) < math.inf).all():
            raise NotPositiveDefinite("no finite level determinant")
        # the tables' level sums for every row, then each row's c
        sums = (self.P @ (1.0 / E).T).reshape(m * m, k, n)
        FQF = np.einsum("rkn,nk->nr", sums, c[:, 1:])
        return ld, cholesky_lower(self.xy - FQF.reshape(n, m, m))

    def gradient_parts(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX, d log|L_Z|^2, d log|R_X|^2, d r^2)`` by theta.

        Three channels at once (``log|L_Z|^2``, ``log|R_X|^2``, ``r^2``): the derivatives by
        the packed ``Q_l`` (``-F_l' (df/dXX) F_l``, one product with the table of level
        products), then by the packed ``Sigma`` through ``Q_l = N_l / E_l`` with
        ``N_l = s + det(Sigma) adj(D_l)`` and ``E_l = det(I + D_l Sigma)``:

        .. math::

            \\frac{\\partial f}{\\partial s_j} = \\sum_l \\frac{1}{E_l}\\Big(\\bar q_{l,j}
            + \\frac{\\partial \\det\\Sigma}{\\partial s_j} \\bar q_l \\cdot adj(D_l)
            + \\frac{\\partial E_l}{\\partial s_j} (\\bar\\ell - \\bar q_l \\cdot Q_l)\\Big)

        (``bar l`` is 1 for ``log|L_Z|^2``, 0 otherwise), and ``Sigma = T T'`` to theta.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> from multilevel.core.nested import NestedSystem
        >>> g = np.repeat(np.arange(5), 3)
        >>> A = form_crossproducts([TermData(g, np.ones((15, 1)), 5)], np.ones((15, 1)),
        ...                        np.arange(15.0) % 4)
        >>> obj, h = SingleTermObjective(NestedSystem.from_crossproducts(A, {})), 1e-6
        >>> ld = lambda t: obj(np.array([t]))[0]
        >>> g_z = obj.gradient_parts(np.array([0.7]))[2]
        >>> bool(np.isclose(g_z[0], (ld(0.7 + h) - ld(0.7 - h)) / (2 * h)))
        True
        """
        theta = np.asarray(theta, dtype=float)
        ld, LXX, c, E, inv_e = self._factor(theta)
        s, det_s, Q = packed_q(self.p, c, inv_e, self.adj_d)
        m, k, l = self.m, Q.shape[0], E.size
        bar = xy_seeds(LXX)
        # the level products by the packed Q: the first k of P's entries per table row
        O = self.P.reshape(m * m, self.n_coef, l)[:, :k]
        bar_q = np.zeros((3, k, l))                   # channels: log|L_Z|^2, log|R_X|^2, r^2
        bar_q[1:] = -np.tensordot(bar.reshape(2, m * m), O, axes=1)
        g = theta_gradient(self.p, theta, s, inv_e, Q, bar_q, self.Dk, self.adj_d)
        return ld, LXX, g[0], g[1], g[2]


def packed_levels(D: np.ndarray):
    """``(d, det D, adj D)`` of a ``(p, p, l)`` stack of symmetric level blocks (``p <= 2``) as
    :func:`level_tables` takes them: ``d`` is ``(l,)`` for ``p = 1`` (no determinant or adjugate),
    the packed ``(3, l)`` entries ``(d00, d01, d11)`` for ``p = 2``.

    Examples
    --------
    >>> d, det_d, adj_d = packed_levels(np.array([[[4.0], [1.0]], [[1.0], [1.0]]]))
    >>> d.ravel().tolist(), det_d.tolist(), adj_d.ravel().tolist()
    ([4.0, 1.0, 1.0], [3.0], [1.0, -1.0, 4.0])
    """
    if D.shape[0] == 1:
        return D[0, 0].copy(), None, None
    d00, d01, d11 = D[0, 0], D[1, 0], D[1, 1]
    return np.stack([d00, d01, d11]), d00 * d11 - d01 * d01, np.stack([d11, -d01, d00])


def packed_products(G: np.ndarray, H: np.ndarray | None = None) -> np.ndarray:
    """``(a, b, k, l)``: the level products ``G_l (.) H_l'`` of ``G`` ``(a, p, l)`` and ``H``
    ``(b, p, l)`` (``G`` itself by default; ``p <= 2``) by the packed entries of a symmetric
    ``p x p`` matrix (``k = 1`` or ``3``; an off-diagonal entry counted in both places), so
    ``G_l Q_l H_l' = table . packed Q_l``. Written in place, one product per packed entry.

    Examples
    --------
    >>> G = np.arange(4.0).reshape(2, 2, 1)
    >>> packed_products(G)[1, 0, :, 0].tolist()  # G_1 = (2, 3), G_0 = (0, 1)
    [0.0, 2.0, 3.0]
    """
    H = G if H is None else H
    if G.shape[1] == 1:
        return (G[:, None, 0] * H[None, :, 0])[:, :, None]
    g0, g1, h0, h1 = G[:, None, 0], G[:, None, 1], H[None, :, 0], H[None, :, 1]
    out = np.empty((G.shape[0], H.shape[0], 3, G.shape[2]))
    np.multiply(g0, h0, out=out[:, :, 0])
    np.multiply(g0, h1, out=out[:, :, 1])
    out[:, :, 1] += g1 * h0
    np.multiply(g1, h1, out=out[:, :, 2])
    return out


def level_tables(d: np.ndarray, det_d, adj_d, O: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Dk, P)``: the per-model tables of a term's levels (packed as :func:`packed_levels`)
    and their level products ``O`` ``(a, b, k, l)`` (:func:`packed_products`) with which, for
    ``c`` from :func:`sigma_coefficients`,

    * ``E = c @ Dk`` is ``det(I + D_l Sigma)`` per level (``Dk``: rows ``1, d`` for
      ``p = 1``; ``1, d_00, 2 d_01, d_11, det D`` for ``p = 2``), and
    * ``((P @ (1 / E)).reshape(-1, kc) @ c[1:]).reshape(a, b)`` is ``sum_l O_l . Q_l``
      (``P``: rows ``(a, b, j)`` of ``O``'s packed entries and, for ``p = 2``, their sum
      weighted by ``adj D_l``, since ``Q_l E_l = s + det(Sigma) adj D_l``).

    Examples
    --------
    >>> D = np.array([[[4.0, 1.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 3.0]]])  # (2, 2, l=2)
    >>> d, det_d, adj_d = packed_levels(D)
    >>> G = np.array([[[1.0, 2.0], [0.5, 1.0]]])                             # (1, 2, 2)
    >>> Dk, P = level_tables(d, det_d, adj_d, packed_products(G))
    >>> c = sigma_coefficients(2, np.array([0.8, 0.3, 0.6]))
    >>> s, det_s, Q = packed_q(2, c, 1.0 / (c @ Dk), adj_d)
    >>> direct = sum(G[0, :, l] @ np.array([[Q[0, l], Q[1, l]], [Q[1, l], Q[2, l]]])
    ...              @ G[0, :, l] for l in range(2))
    >>> bool(np.isclose((P @ (1.0 / (c @ Dk))) @ c[1:], direct))
    True
    """
    a, b, _, l = O.shape
    if det_d is None:  # p = 1: E = 1 + s d, Q = s / E
        return np.stack([np.ones(l), d]), np.ascontiguousarray(O.reshape(a * b, l))
    d00, d01, d11 = d
    Dk = np.stack([np.ones(l), d00, 2.0 * d01, d11, det_d])
    P = np.concatenate([O, np.einsum("abkl,kl->abl", O, adj_d)[:, :, None]], axis=2)
    return Dk, np.ascontiguousarray(P.reshape(a * b * 4, l))


def sigma_coefficients(p: int, theta: np.ndarray) -> np.ndarray:
    """``c = (1, s)`` for ``p = 1``, ``(1, s_00, s_01, s_11, det Sigma)`` for ``p = 2``: the
    numbers that :func:`level_tables`' products take, from ``Sigma = T T'`` with ``T`` the
    term's factor filled from ``theta`` (its first ``p (p + 1) / 2`` entries).

    Examples
    --------
    >>> sigma_coefficients(2, [2.0, 1.0, 3.0]).tolist()
    [1.0, 4.0, 2.0, 10.0, 36.0]
    """
    if p == 1:
        t = float(theta[0])
        return np.array([1.0, t * t])
    t0, t1, t2 = np.asarray(theta[:3], dtype=float).tolist()  # theta may be a list
    return np.array([1.0, t0 * t0, t0 * t1, t1 * t1 + t2 * t2, (t0 * t2) ** 2])


def packed_q(p: int, c: np.ndarray, inv_e: np.ndarray, adj_d):
    """``(s, det Sigma, Q)``: packed ``Sigma``, its determinant and the packed
    ``Q_l = Sigma (I + D_l Sigma)^{-1}`` from :func:`sigma_coefficients`' ``c`` and ``1 / E``.

    Examples
    --------
    >>> s, det_s, Q = packed_q(1, np.array([1.0, 4.0]), np.array([0.2, 0.5]), None)
    >>> Q.tolist()
    [[0.8, 2.0]]
    """
    if p == 1:
        return c[1:], 0.0, c[1] * inv_e[None]
    s, det_s = c[1:4], float(c[4])
    return s, det_s, (s[:, None] + det_s * adj_d) * inv_e


def xy_seeds(LXX: np.ndarray) -> np.ndarray:
    """``(2, m, m)``: the derivatives of ``log|R_X|^2`` (``S^{-1}`` on the ``X`` block,
    ``S = R_X R_X'``) and of ``r^2`` (``v v'``, ``v = [-beta; 1]``) by ``[X y]``'s Schur
    complement ``L_XX L_XX'``.

    Examples
    --------
    >>> xy_seeds(np.array([[2.0, 0.0], [1.0, 3.0]]))[1].tolist()  # beta = 1 / 2
    [[0.25, -0.5], [-0.5, 1.0]]
    """
    m = LXX.shape[0]
    p = m - 1
    bar = np.zeros((2, m, m))
    if p:
        R_inv = np.linalg.inv(LXX[:p, :p])
        bar[0, :p, :p] = R_inv.T @ R_inv
        v = np.append(-(R_inv.T @ LXX[p, :p]), 1.0)  # beta = R_X^{-T} c
    else:
        v = np.ones(1)
    bar[1] = np.outer(v, v)
    return bar


def det_rows(D: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(Dk, adj D)`` of a ``(p, p, l)`` stack of symmetric level blocks (``p <= 2``): the
    rows of :func:`level_tables`' ``Dk`` (``E = c @ Dk``) and the packed adjugates, for blocks
    that change with theta (the coarser term of two nested ones).

    Examples
    --------
    >>> Dk, adj = det_rows(np.array([[[4.0], [1.0]], [[1.0], [1.0]]]))
    >>> Dk[:, 0].tolist(), adj[:, 0].tolist()
    ([1.0, 4.0, 2.0, 1.0, 3.0], [1.0, -1.0, 4.0])
    """
    p, _, l = D.shape
    Dk = np.empty((2 if p == 1 else 5, l))
    Dk[0] = 1.0
    if p == 1:
        Dk[1] = D[0, 0]
        return Dk, None
    d00, d01, d11 = D[0, 0], D[1, 0], D[1, 1]
    Dk[1], Dk[3] = d00, d11
    np.multiply(d01, 2.0, out=Dk[2])
    np.multiply(d00, d11, out=Dk[4])
    Dk[4] -= d01 * d01
    adj = np.empty((3, l))
    adj[0], adj[2] = d11, d00
    np.negative(d01, out=adj[1])
    return Dk, adj


def level_q(p: int, theta: np.ndarray, Dk: np.ndarray, adj_d):
    """``(c, E, s, Q)`` for one term's levels: :func:`sigma_coefficients`' ``c``,
    ``E_l = det(I + D_l Sigma) = c @ Dk``, packed ``Sigma = T T'`` and packed
    ``Q_l = Sigma (I + D_l Sigma)^{-1} = (s + det(Sigma) adj D_l) / E_l``. Raises
    :class:`~multilevel.core.batched.NotPositiveDefinite` when some ``E_l`` is not positive.

    Examples
    --------
    >>> c, E, s, Q = level_q(1, np.array([2.0]), np.array([[1.0, 1.0], [1.0, 3.0]]), None)
    >>> E.tolist(), Q.tolist()
    ([5.0, 13.0], [[0.8, 0.3076923076923077]])
    """
    c = sigma_coefficients(p, theta)
    E = c @ Dk
    if not E.min() > 0:  # also false for NaN
        raise NotPositiveDefinite("non-positive level determinant")
    if p == 1:
        return c, E, c[1:], (c[1] / E)[None]
    s = c[1:4]
    return c, E, s, (s[:, None] + c[4] * adj_d) / E


def theta_gradient(p: int, theta: np.ndarray, s, inv_e, Q, bar_q, Dk, adj_d) -> np.ndarray:
    """Derivatives by the term's theta, per channel, of ``sum_l (bar_l log E_l + bar_q_l . Q_l)``
    (``bar_l`` 1, 0, 0 for the three channels; ``bar_q`` ``(3, k, l)`` by the packed ``Q``,
    an off-diagonal entry counted once): the chain rule of :func:`level_q`. Returns
    ``(3, n_theta)``.

    With ``Q_l = N_l / E_l``, ``N_l = s + det(Sigma) adj D_l`` and ``dE_l / ds_j`` the rows of
    ``Dk`` after the first (``d_00, 2 d_01, d_11`` and ``det D_l`` times ``d det(Sigma)/ds_j``):

    .. math::

        \\frac{\\partial f}{\\partial s_j} = \\sum_l \\frac{\\bar q_{l,j}}{E_l}
        + \\frac{\\partial \\det\\Sigma}{\\partial s_j}
          \\sum_l \\frac{\\bar q_l \\cdot adj D_l}{E_l}
        + \\sum_l \\beta_l \\frac{\\partial E_l}{\\partial s_j}, \\qquad
        \\beta_l = \\frac{\\bar\\ell - \\bar q_l \\cdot Q_l}{E_l}

    three products over the levels, then ``s`` to theta by the Jacobian of ``Sigma = T T'``.

    Examples
    --------
    >>> Dk = np.array([[1.0, 1.0], [1.0, 3.0]])
    >>> f = lambda t: np.log(level_q(1, np.array([t]), Dk, None)[1]).sum()
    >>> c, E, s, Q = level_q(1, np.array([0.5]), Dk, None)
    >>> g = theta_gradient(1, np.array([0.5]), s, 1.0 / E, Q, np.zeros((3, 1, 2)), Dk, None)
    >>> bool(np.isclose(g[0, 0], (f(0.5 + 1e-6) - f(0.5 - 1e-6)) / 2e-6))
    True
    """
    h, k, l = bar_q.shape
    # beta_l = (bar_l - bar_q_l . Q_l) / E_l, bar_l = (1, 0, 0) by channel
    beta = np.einsum("hkl,kl->hl", bar_q, Q)
    np.negative(beta, out=beta)
    beta[0] += 1.0
    beta *= inv_e
    g_s = (bar_q.reshape(h * k, l) @ inv_e).reshape(h, k)  # sum_l bar_q / E
    dE = beta @ Dk[1:].T                                    # sum_l beta dE/d(s, det Sigma)
    if p == 1:
        return 2.0 * float(theta[0]) * (g_s + dE)
    s0, s1, s2 = s.tolist()
    d_det = np.array([s2, -2.0 * s1, s0])                   # d det(Sigma) / d s_j
    alpha = bar_q.reshape(h, k * l) @ (adj_d * inv_e).ravel()  # sum_l bar_q . adj D / E
    g_s += dE[:, :3]
    g_s += (alpha + dE[:, 3])[:, None] * d_det
    # s = (t0^2, t0 t1, t1^2 + t2^2): ds_j / dtheta_i
    t0, t1, t2 = theta[:3].tolist()
    jac = np.array([[2.0 * t0, 0.0, 0.0], [t1, t0, 0.0], [0.0, 2.0 * t1, 2.0 * t2]])
    return g_s @ jac
