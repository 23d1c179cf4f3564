"""Nonlinear mixed models: lme4's ``nlmer`` (penalised nonlinear least squares + Laplace).

The model: ``y_i = f(x_i, phi_i) + e_i`` with per-observation parameters
``phi_i[j] = beta_j + sum_k b_k[g_k(i), a]`` over the random-effects terms that name
parameter ``j`` in column ``a``; ``b_k = (I (x) T_k) u_k``, ``u ~ N(0, sigma^2 I)`` (lme4's
``Lambda_theta`` with the blocks of :mod:`multilevel.core.theta`).

For given ``theta`` the conditional modes solve the penalised nonlinear least-squares problem
``min ||y - f(u, beta)||^2 + ||u||^2`` (PNLS) by Gauss-Newton on the augmented system with
step halving, as lme4's ``prssUpdate``: each iteration solves

    [ (U Lambda)'(U Lambda) + I   (U Lambda)'V ] [du]   [ (U Lambda)' r - u ]
    [ V'(U Lambda)                V'V          ] [db] = [ V' r              ]

(``U = d f / d b``, ``V = d f / d beta``) and stops when the Gauss-Newton decrement relative to
the penalised residual sum of squares falls below ``tol``. The Laplace deviance is lme4's
``nlsResp::Laplace``: ``log|L|^2 + n (1 + log(2 pi pwrss / n))``.

lme4 optimises in two stages: theta alone with beta updated inside PNLS (``uOnly = FALSE``), then
``(theta, beta)`` jointly with only ``u`` inside PNLS (nAGQ = 1); both are done here with BOBYQA.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from ..errors import ConvergenceError, two_line
from .theta import split_theta, theta_lower, theta_start

_BAD = 1e300  # returned to the optimiser where the model cannot be evaluated


@dataclass(frozen=True)
class NlTerm:
    """One random-effects term of a nonlinear model.

    Attributes
    ----------
    codes : int array (n,)  -- level of each observation
    n_levels : int
    cols : tuple of int     -- which fixed-effect parameters (indices into beta) it varies
    """

    codes: np.ndarray
    n_levels: int
    cols: tuple

    @property
    def p(self) -> int:
        return len(self.cols)


@dataclass
class PnlsState:
    """The PNLS solution at one ``(theta, beta)``.

    Attributes: ``u`` (spherical random effects), ``beta``, ``mu`` (fitted values), ``phi``
    (per-observation parameters, ``(n, p)``), ``wrss``, ``pwrss``, ``ldL2`` (log-determinant of
    ``L L'``), ``RX`` (lower Cholesky factor of the Schur complement for beta), ``iterations``.
    """

    u: np.ndarray
    beta: np.ndarray
    mu: np.ndarray
    phi: np.ndarray
    wrss: float
    pwrss: float
    ldL2: float
    RX: np.ndarray
    iterations: int


class NlmmCore:
    """Deviance evaluations of one nonlinear mixed model (no pandas, no formulas).

    Parameters
    ----------
    y : (n,) response
    model_fn : callable ``(phi) -> (mu, grad)`` with ``phi`` the ``(n, p)`` per-observation
        parameters in beta's order, ``mu`` shape ``(n,)`` and ``grad`` shape ``(n, p)``
    terms : list of :class:`NlTerm`, in lme4's order
    p : number of fixed-effect parameters

    Examples
    --------
    >>> import numpy as np
    >>> x = np.tile(np.arange(1.0, 6.0), 3); g = np.repeat(np.arange(3), 5)
    >>> y = (2.0 + np.array([-0.2, 0.0, 0.2])[g]) * x + np.sin(7 * x) * 0.05
    >>> core = NlmmCore(y, lambda phi: (phi[:, 0] * x, np.column_stack([x])), [NlTerm(g, 3, (0,))], 1)
    >>> st = core.pnls(np.array([1.0]), np.array([1.0]), np.zeros(3), u_only=False)
    >>> round(float(st.beta[0]), 3)
    2.0
    """

    def __init__(self, y, model_fn, terms: list[NlTerm], p: int):
        self.y = np.asarray(y, dtype=float)
        self.n = self.y.size
        self.model_fn = model_fn
        self.terms = list(terms)
        self.p = int(p)
        self.ps = [t.p for t in self.terms]
        self.offsets = np.cumsum([0] + [t.n_levels * t.p for t in self.terms])
        self.q = int(self.offsets[-1])
        self.lower = theta_lower(self.ps)
        self.theta0 = theta_start(self.ps)

    # ----- pieces ------------------------------------------------------------------------
    def b_blocks(self, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """Random effects ``b = Lambda u`` per term, as ``(levels, p_k)`` arrays."""
        out = []
        for k, (t, T) in enumerate(zip(self.terms, split_theta(theta, self.ps))):
            uk = u[self.offsets[k]:self.offsets[k + 1]].reshape(t.n_levels, t.p)
            out.append(uk @ T.T)
        return out

    def phi(self, theta: np.ndarray, beta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Per-observation parameters ``beta + Z b``, shape ``(n, p)``."""
        ph = np.tile(np.asarray(beta, dtype=float), (self.n, 1))
        for t, b in zip(self.terms, self.b_blocks(theta, u)):
            ph[:, list(t.cols)] += b[t.codes]
        return ph

    def _eval(self, theta, beta, u):
        ph = self.phi(theta, beta, u)
        with np.errstate(all="ignore"):
            mu, grad = self.model_fn(ph)
        return ph, np.asarray(mu, dtype=float), np.asarray(grad, dtype=float)

    def _u_lambda(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """``d mu / d u = U Lambda``, dense ``(n, q)``."""
        M = np.zeros((self.n, self.q))
        rows = np.arange(self.n)
        for k, (t, T) in enumerate(zip(self.terms, split_theta(theta, self.ps))):
            gk = grad[:, list(t.cols)] @ T
            base = self.offsets[k] + t.codes * t.p
            for a in range(t.p):
                M[rows, base + a] = gk[:, a]
        return M

    def _system(self, theta, grad, resid, u, u_only):
        """Cholesky factor, forward-solved right side of the Gauss-Newton system."""
        UL = self._u_lambda(theta, grad)
        A = UL if u_only else np.hstack([UL, grad])
        H = A.T @ A
        H[np.arange(self.q), np.arange(self.q)] += 1.0
        rhs = A.T @ resid
        rhs[:self.q] -= u
        L = np.linalg.cholesky(H)
        c = solve_triangular(L, rhs, lower=True, check_finite=False)
        return L, c

    # ----- PNLS and the Laplace deviance ---------------------------------------------------
    def pnls(self, theta, beta0, u0, *, u_only: bool, tol: float = 1e-10,
             maxit: int = 300) -> PnlsState:
        """Conditional modes (and, unless ``u_only``, beta) at ``theta`` from ``(u0, beta0)``."""
        theta = np.asarray(theta, dtype=float)
        beta = np.array(beta0, dtype=float)
        u = np.array(u0, dtype=float)
        ph, mu, grad = self._eval(theta, beta, u)
        it = 0
        for it in range(1, maxit + 1):
            resid = self.y - mu
            prss0 = float(resid @ resid + u @ u)
            if not np.isfinite(prss0) or not np.all(np.isfinite(grad)):
                raise FloatingPointError("model not finite")
            L, c = self._system(theta, grad, resid, u, u_only)
            if float(c @ c) / prss0 < tol:
                break
            delta = solve_triangular(L.T, c, lower=False, check_finite=False)
            du, db = delta[:self.q], delta[self.q:]
            fac, moved = 1.0, False
            while fac > 1e-3:
                u1 = u + fac * du
                b1 = beta if u_only else beta + fac * db
                ph1, mu1, grad1 = self._eval(theta, b1, u1)
                r1 = self.y - mu1
                prss1 = float(r1 @ r1 + u1 @ u1)
                if np.isfinite(prss1) and prss1 < prss0:
                    u, beta, ph, mu, grad, moved = u1, b1, ph1, mu1, grad1, True
                    break
                fac /= 2.0
            if not moved:  # no decrease possible: at the optimum to rounding
                break
        else:
            raise ConvergenceError(two_line(
                f"penalised nonlinear least squares did not converge in {maxit} iterations",
                "check the starting values (start=) and the model"))
        resid = self.y - mu
        wrss = float(resid @ resid)
        L, _ = self._system(theta, grad, resid, u, False)
        ldL2 = 2.0 * float(np.sum(np.log(np.diag(L)[:self.q])))
        return PnlsState(u=u, beta=beta, mu=mu, phi=ph, wrss=wrss, pwrss=wrss + float(u @ u),
                         ldL2=ldL2, RX=L[self.q:, self.q:].copy(), iterations=it)

    def laplace(self, st: PnlsState) -> float:
        """lme4's ``nlsResp::Laplace``: ``ldL2 + n (1 + log(2 pi pwrss / n))``."""
        return st.ldL2 + self.n * (1.0 + np.log(2.0 * np.pi * st.pwrss / self.n))

    # ----- lme4's two optimisation stages ------------------------------------------------------
    def fit(self, beta_start, *, tol: float = 1e-10, xtol_abs: float = 1e-10,
            ftol_abs: float = 1e-10, maxeval: int = 100_000):
        """Stage 1 (theta; beta inside PNLS), then stage 2 (theta and beta jointly).

        Returns ``(theta, beta, state, opt_summary)``.
        """
        from .optimize import bobyqa

        first = self.pnls(self.theta0, beta_start, np.zeros(self.q), u_only=False, tol=1e-3)
        u0, b0 = first.u, first.beta

        def dev1(theta):
            try:
                return self.laplace(self.pnls(theta, b0, u0, u_only=False, tol=tol))
            except (FloatingPointError, np.linalg.LinAlgError, ConvergenceError):
                return _BAD

        nth = self.theta0.size
        step1 = np.maximum(0.75 * np.abs(self.theta0), 0.1)
        opt1 = bobyqa(dev1, self.theta0, self.lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs,
                      maxeval=maxeval, initial_step=step1)
        st1 = self.pnls(opt1.theta, b0, u0, u_only=False, tol=tol)
        u1 = st1.u

        def dev2(par):
            try:
                st = self.pnls(par[:nth], par[nth:], u1, u_only=True, tol=tol)
                return self.laplace(st)
            except (FloatingPointError, np.linalg.LinAlgError, ConvergenceError):
                return _BAD

        sigma2 = st1.pwrss / self.n
        se = np.sqrt(sigma2 * np.diag(_unscaled(st1.RX)))
        step2 = np.concatenate([np.full(nth, 0.1), 0.2 * np.where(np.isfinite(se) & (se > 0), se,
                                                                  0.1 * np.abs(st1.beta) + 0.1)])
        par0 = np.concatenate([opt1.theta, st1.beta])
        lower2 = np.concatenate([self.lower, np.full(self.p, -np.inf)])
        opt2 = bobyqa(dev2, par0, lower2, xtol_abs=xtol_abs, ftol_abs=ftol_abs,
                      maxeval=maxeval, initial_step=step2)
        opt2.feval += opt1.feval
        theta, beta = opt2.theta[:nth], opt2.theta[nth:]
        st = self.pnls(theta, beta, u1, u_only=True, tol=tol)
        return theta, beta, st, opt2


def _unscaled(RX: np.ndarray) -> np.ndarray:
    """``(RX RX')^{-1}`` from the lower factor ``RX`` (lme4's ``unsc()``)."""
    inv = solve_triangular(RX, np.eye(RX.shape[0]), lower=True, check_finite=False)
    return inv.T @ inv


def unscaled_vcov(RX: np.ndarray) -> np.ndarray:
    """Public wrapper of ``(RX RX')^{-1}``: the fixed-effects covariance over ``sigma^2``.

    Examples
    --------
    >>> unscaled_vcov(np.array([[2.0]])).tolist()
    [[0.25]]
    """
    return _unscaled(RX)
