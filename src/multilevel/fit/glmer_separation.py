"""Separation of a binomial response by the fixed effects (glmer's ``check_separation``).

The response is *quasi-completely separated* when some direction ``beta`` has
``s_i x_i' beta >= 0`` for every row and outcome (``s_i = +1`` for a success, ``-1`` for a
failure), with at least one strict inequality; *completely separated* when all are strict.
Either way the maximum likelihood estimates are infinite.

By Stiemke's lemma, no such direction exists exactly when strictly positive multipliers
``lambda_i > 0`` with ``sum_i lambda_i s_i x_i = 0`` exist. A logistic regression of the
response on ``X`` (no random effects) supplies them when its maximum likelihood estimate
exists: its score equation ``X'(y - mu) = 0`` is that sum with ``lambda = y (1 - mu)`` for
the successes and ``mu (1 - y)`` for the failures. :func:`no_separation_certificate` runs
that Newton iteration for a handful of steps and checks the multipliers with a rigorous
bound; only when it cannot prove the absence of separation do the linear programs of
:func:`_separation_lp` run (which also name the separating columns).
"""
from __future__ import annotations

import numpy as np

SEPARATION_SUBSAMPLE = 2_000
SLACK_TOL = 1e-7  # the linear programs' threshold on the slack of a separating direction
CERT_MAXIT = 25


def check_separation(X: np.ndarray, y: np.ndarray, names: list[str]) -> tuple[bool, list[str]]:
    """Test for separation of a binomial response by the fixed effects.

    Returns ``(complete, columns)``: ``complete`` is True when some ``beta`` gives
    ``x_i' beta > 0`` for every success and ``< 0`` for every failure (the MLE is infinite
    whatever the random effects do); ``columns`` names the coefficients that can grow
    without bound (quasi-complete separation) -- empty when the MLE is finite.

    A cheap certificate (:func:`no_separation_certificate`) settles the common case of no
    separation; the linear programs run only when it cannot.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]])
    >>> check_separation(X, np.array([0, 1, 0, 1, 1, 1.0]), ["(Intercept)", "x"])
    (False, ['x'])
    >>> check_separation(X, np.array([0, 1, 0, 1, 0, 1.0]), ["(Intercept)", "x"])
    (False, [])
    """
    p = X.shape[1]
    if p == 0:
        return False, []
    n = X.shape[0]
    idx = None
    if n > SEPARATION_SUBSAMPLE:
        # no separation of a subset with full column rank rules it out for all rows: a
        # direction with S beta >= 0 over all rows has S_sub beta >= 0, hence beta = 0
        idx = np.random.default_rng(0).choice(n, SEPARATION_SUBSAMPLE, replace=False)
        if np.linalg.matrix_rank(X[idx]) < p:
            idx = None
        elif no_separation_certificate(X[idx], y[idx]):
            return False, []
    if no_separation_certificate(X, y):
        return False, []
    if idx is not None:
        complete, cols = _separation_lp(X[idx], y[idx], names)
        if not complete and not cols:
            return False, []
    return _separation_lp(X, y, names)


def no_separation_certificate(X: np.ndarray, y: np.ndarray, tol: float = 1e-2 * SLACK_TOL
                              ) -> bool:
    """True when positive multipliers prove that ``y`` (in ``[0, 1]``) is not even
    quasi-completely separated by the columns of ``X``; False when this test cannot tell.

    Newton's method on the logistic log-likelihood gives ``mu``; with ``lambda`` as in the
    module docstring and ``rho = X'(y - mu)``, every direction with ``|beta_k| <= 1`` and
    ``s_i x_i' beta >= 0`` has total slack ``sum_i s_i x_i' beta <= |rho|_1 / min(lambda)``
    (multiply by ``lambda`` and sum). The certificate holds when that bound is below
    ``tol``, a hundredth of the threshold at which the linear programs report separation.
    ``X`` must have full column rank (a rank-deficient ``X`` returns False).

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]])
    >>> no_separation_certificate(X, np.array([0, 1, 0, 1, 0, 1.0]))
    True
    >>> no_separation_certificate(X, np.array([0, 1, 0, 1, 1, 1.0]))   # x = 1: all successes
    False
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    success, failure = y > 0, y < 1
    beta = np.zeros(X.shape[1])
    eta = np.zeros(X.shape[0])
    loglik = -np.inf
    for _ in range(CERT_MAXIT):
        mu = 0.5 * (1.0 + np.tanh(0.5 * eta))  # expit, without overflow
        lam_pos, lam_neg = y * (1.0 - mu), (1.0 - y) * mu
        lam_min = min(np.min(lam_pos[success], initial=np.inf),
                      np.min(lam_neg[failure], initial=np.inf))
        if not lam_min > 0:  # some fitted probability rounds to 0 or 1
            return False
        w = mu * (1.0 - mu)
        try:  # (a rank-deficient X fails here: the subsample argument needs full rank)
            chol = np.linalg.cholesky((X * w[:, None]).T @ X)
        except np.linalg.LinAlgError:
            return False
        rho = X.T @ (y - mu)
        if np.sum(np.abs(rho)) < tol * lam_min:
            return True
        # Newton step on the log-likelihood, halved while it does not increase
        step = np.linalg.solve(chol.T, np.linalg.solve(chol, rho))
        if not np.all(np.isfinite(step)):
            return False
        for _halving in range(10):
            eta_new = X @ (beta + step)
            ll = float(np.sum(y * eta_new - np.logaddexp(0.0, eta_new)))
            if ll >= loglik:
                break
            step = 0.5 * step
        else:
            return False
        beta, eta, loglik = beta + step, eta_new, ll
    return False


def _separation_lp(X: np.ndarray, y: np.ndarray, names: list[str]) -> tuple[bool, list[str]]:
    """The linear programs: complete separation (a direction with slack ``> 0`` on every
    row) and quasi-complete separation (the coefficients of a direction of maximal total
    slack)."""
    from scipy.optimize import linprog

    p = X.shape[1]
    # each row gives a constraint s x' beta >= 0 for every outcome it has
    pos, neg = X[y > 0], X[y < 1]
    S = np.unique(np.vstack([pos, -neg]), axis=0)
    # complete separation: maximise t subject to S beta >= t, |beta| <= 1, t <= 1
    c = np.zeros(p + 1)
    c[-1] = -1.0
    A = np.hstack([-S, np.ones((S.shape[0], 1))])
    res = linprog(c, A_ub=A, b_ub=np.zeros(S.shape[0]),
                  bounds=[(-1, 1)] * p + [(None, 1)], method="highs")
    complete = bool(res.status == 0 and -res.fun > SLACK_TOL)
    # quasi-complete: a direction with S beta >= 0 and some S beta > 0; find all of them
    # by maximising the total slack, then report the coefficients that move
    res2 = linprog(-S.sum(axis=0), A_ub=-S, b_ub=np.zeros(S.shape[0]),
                   bounds=[(-1, 1)] * p, method="highs")
    cols: list[str] = []
    if res2.status == 0 and -res2.fun > SLACK_TOL:
        beta = res2.x
        cols = [nm for nm, b in zip(names, beta) if abs(b) > 1e-7]
    return complete, cols
