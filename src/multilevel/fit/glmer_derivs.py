"""Exact gradient and Hessian of the Laplace deviance for one scalar random-effects term
(``(1 | g)`` or ``(0 + x | g)``) and a canonical link with an exact likelihood constant
(binomial logit with whole numbers of successes, Poisson log with counts).

With ``eta_i = o_i + x_i' beta + theta z_i u_j`` (row ``i`` in group ``j``), ``d_i`` the
deviance contributions, ``W_i = wt_i mu'(eta_i)`` the working weights and their
derivatives ``W' = wt mu''``, ``W'' = wt mu'''``, the Laplace deviance is (up to a constant)

.. math::

    F(\\theta, \\beta) = \\sum_i d_i(\\tilde\\eta_i) + \\sum_j \\tilde u_j^2
                         + \\sum_j \\log K_j, \\qquad K_j = 1 + \\theta^2 A_j,\\;
                         A_j = \\sum_{i \\in j} W_i z_i^2 ,

at the modes ``u~_j`` of ``g_j = theta sum_i z_i d_i' + 2 u_j = 0`` (``d' = -2 wt (y - mu)``,
``d'' = 2W``). Every group is a scalar equation, so implicit differentiation gives the
derivatives of the modes group by group: with ``a_ip = d eta_i / d p`` at fixed ``u``
(``z_i u_j`` for theta, ``x_i`` for beta) and ``g_jp`` its partial derivatives,

- ``u_p = -g_p / 2K``, ``e_ip = a_ip + theta z_i u_jp`` (the total derivative of eta);
- ``u_pq = -[delta_p C_q + delta_q C_p + theta sum_i z_i W'_i e_ip e_iq] / K`` with
  ``C_p = sum_i z_i W_i e_ip + theta A u_p`` and ``delta_p = [p is theta]``;

and ``F``'s gradient and Hessian follow by the chain rule (envelope theorem for the first
two terms):

- ``dF/dp = sum_i d'_i a_ip + sum_j K_p / K``, ``K_p = 2 theta delta_p A + theta^2 A_p``,
  ``A_p = sum_i W'_i z_i^2 e_ip``;
- ``d2F/dpdq = 2 a' W a - sum_j g_p g_q / 2K + sum_j (K_pq / K - K_p K_q / K^2)`` with
  ``K_pq = 2 delta_p delta_q A + 2 theta (delta_p A_q + delta_q A_p) + theta^2 A_pq`` and
  ``A_pq = sum_i W''_i z_i^2 e_ip e_iq + B (delta_p u_q + delta_q u_p + theta u_pq)``,
  ``B = sum_i W'_i z_i^3``.

One PIRLS run then gives what central differences needed ``n^2 + n`` runs for (``n`` the
number of parameters), exactly rather than to ``O(h^2)``.
"""
from __future__ import annotations

import numpy as np

from ..core.glmm import GlmmProblem, PirlsState


def exact_applies(problem: GlmmProblem, n_agq: int) -> bool:
    """Whether :func:`laplace_derivatives` applies: one scalar term, the Laplace deviance,
    a canonical logit-binomial or log-Poisson model whose likelihood constant does not
    depend on ``mu``.

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> exact_applies(_demo_problem(), 1), exact_applies(_demo_problem(), 5)
    (True, False)
    """
    d = problem.data
    fam = d.family
    if n_agq > 1 or len(d.terms) != 1 or d.terms[0].p != 1:
        return False
    if (fam.name, fam.link.name) == ("binomial", "logit"):
        m = d.n_trials if np.any(d.n_trials > 1) else d.weights
        return bool(np.all(np.rint(m) == m) and np.all(np.rint(m * d.y) == m * d.y))
    if (fam.name, fam.link.name) == ("poisson", "log"):
        return bool(np.all(np.rint(d.y) == d.y))
    return False


def _mean_derivatives(name: str, eta: np.ndarray, mu: np.ndarray):
    """``mu'``, ``mu''``, ``mu'''`` of the inverse link at ``eta``."""
    if name == "poisson":
        return mu, mu, mu
    m1 = mu * (1.0 - mu)
    return m1, m1 * (1.0 - 2.0 * mu), m1 * (1.0 - 6.0 * m1)


def laplace_derivatives(problem: GlmmProblem, st: PirlsState
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of the Laplace deviance over ``(theta, beta)`` at a converged
    u-only PIRLS state (module docstring).

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem, fd_hessian
    >>> prob = _demo_problem()
    >>> x = np.array([0.8, 0.1])
    >>> g, H = laplace_derivatives(prob, prob.pirls(x[:1], x[1:]))
    >>> g_fd, H_fd = fd_hessian(prob.objective, x, np.full(2, 1e-3))
    >>> bool(np.allclose(g, g_fd, atol=1e-6)), bool(np.allclose(H, H_fd, rtol=1e-5))
    (True, True)
    """
    d = problem.data
    t = d.terms[0]
    j, z, J = t.codes, t.Z[:, 0], t.n_levels
    theta = float(st.theta[0])
    u = st.u
    X = d.X
    n = 1 + X.shape[1]
    wt = d.weights
    m1, m2, m3 = _mean_derivatives(d.family.name, st.eta, st.mu)
    W, W1, W2 = wt * m1, wt * m2, wt * m3
    d1 = -2.0 * wt * (d.y - st.mu)

    def gsum(v: np.ndarray) -> np.ndarray:  # per-group sums of rows (or row-vectors)
        if v.ndim == 1:
            return np.bincount(j, weights=v, minlength=J)
        return np.stack([np.bincount(j, weights=v[:, k], minlength=J)
                         for k in range(v.shape[1])], axis=1)

    A = gsum(W * z * z)
    K = 1.0 + theta ** 2 * A
    a = np.column_stack([z * u[j], X])  # d eta / d p at fixed u
    # partial derivatives of the mode equations g_j, and the modes' derivatives
    g = 2.0 * theta * gsum((W * z)[:, None] * a)
    g[:, 0] += gsum(z * d1)
    up = -g / (2.0 * K)[:, None]
    e = a + (theta * z)[:, None] * up[j]  # total d eta / d p
    # gradient
    Ap = gsum((W1 * z * z)[:, None] * e)
    Kp = theta ** 2 * Ap
    Kp[:, 0] += 2.0 * theta * A
    grad = d1 @ a + np.sum(Kp / K[:, None], axis=0)
    # Hessian of the penalised deviance at its modes
    H = 2.0 * (a * W[:, None]).T @ a - (g / (2.0 * K)[:, None]).T @ g
    # second derivatives of the modes: u_pq = -(delta_p C_q + delta_q C_p + theta T_pq) / K
    C = gsum((W * z)[:, None] * e) + (theta * A)[:, None] * up
    B = gsum(W1 * z ** 3)
    # sum_j theta^2 A_pq / K: the W'' part, and the part through u_pq (row sums e' c e)
    c_rows = (theta ** 2 * W2 * z * z / K[j]
              - theta ** 4 * (B / K ** 2)[j] * z * W1)
    HG = (e * c_rows[:, None]).T @ e
    dterm = np.zeros((J, n, n))  # delta_p u_q + delta_q u_p, per group
    dterm[:, 0, :] += up
    dterm[:, :, 0] += up
    cterm = np.zeros((J, n, n))  # delta_p C_q + delta_q C_p
    cterm[:, 0, :] += C
    cterm[:, :, 0] += C
    wB = theta ** 2 * B / K
    HG += np.einsum("j,jpq->pq", wB, dterm) - np.einsum("j,jpq->pq", theta * wB / K, cterm)
    # the rest of sum_j K_pq / K, and - sum_j K_p K_q / K^2
    HG[0, 0] += np.sum(2.0 * A / K)
    HG[0, :] += 2.0 * theta * np.sum(Ap / K[:, None], axis=0)
    HG[:, 0] += 2.0 * theta * np.sum(Ap / K[:, None], axis=0)
    HG -= (Kp / K[:, None]).T @ (Kp / K[:, None])
    return grad, H + HG
