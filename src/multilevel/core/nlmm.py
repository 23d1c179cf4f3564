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
``(theta, beta)`` jointly with only ``u`` inside PNLS (nAGQ = 1). Both stages use lme4's own
Nelder-Mead (:func:`nelder_mead`, a port of lme4's ``optimizer.cpp``) by default, so that fits
stop where lme4's stop; BOBYQA is the alternative.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dtrtrs as _trtrs

from ..errors import ConvergenceError, two_line
from .theta import split_theta, theta_lower, theta_start

_BAD = 1e300  # returned to the optimiser where the model cannot be evaluated
_SPARSE_Q = 256  # more random effects than this: U Lambda is built as a sparse matrix


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
    du: np.ndarray | None = None

    @property
    def pwrss_lme4(self) -> float:
        """lme4's ``wrss + sqrL(1)``: the residuals at ``u``, the penalty at ``u + du`` (the last
        Gauss-Newton increment, not installed). It differs from ``pwrss`` by ``O(du)``; lme4
        reports the deviance and sigma from it."""
        if self.du is None:
            return self.pwrss
        v = self.u + self.du
        return self.wrss + float(v @ v)


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
    >>> model = lambda phi: (phi[:, 0] * x, np.column_stack([x]))
    >>> core = NlmmCore(y, model, [NlTerm(g, 3, (0,))], 1)
    >>> st = core.pnls(np.array([1.0]), np.array([1.0]), np.zeros(3), u_only=False)
    >>> round(float(st.beta[0]), 2)
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
        self._diag_q = np.arange(self.q)
        self._cols = [np.asarray(t.cols, dtype=np.intp) for t in self.terms]
        self._last_theta: tuple = (None, None)

    def _factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """``split_theta`` of the last theta seen (PNLS asks for the same theta many times)."""
        key = np.asarray(theta, dtype=float).tobytes()
        if self._last_theta[0] != key:
            self._last_theta = (key, split_theta(np.asarray(theta, dtype=float), self.ps))
        return self._last_theta[1]

    # ----- pieces ------------------------------------------------------------------------
    def b_blocks(self, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """Random effects ``b = Lambda u`` per term, as ``(levels, p_k)`` arrays."""
        out = []
        for k, (t, T) in enumerate(zip(self.terms, self._factors(theta))):
            uk = u[self.offsets[k]:self.offsets[k + 1]].reshape(t.n_levels, t.p)
            out.append(uk @ T.T)
        return out

    def phi(self, theta: np.ndarray, beta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Per-observation parameters ``beta + Z b``, shape ``(n, p)``."""
        ph = np.empty((self.n, self.p))
        ph[:] = np.asarray(beta, dtype=float)
        for t, cols, b in zip(self.terms, self._cols, self.b_blocks(theta, u)):
            ph[:, cols] += b[t.codes]
        return ph

    def _eval(self, theta, beta, u):
        ph = self.phi(theta, beta, u)
        with np.errstate(all="ignore"):
            mu, grad = self.model_fn(ph)
        return ph, np.asarray(mu, dtype=float), np.asarray(grad, dtype=float)

    def _u_lambda(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """``d mu / d u = U Lambda``, dense ``(n, q)``."""
        M = np.zeros(self.n * self.q)
        for k, (cols, T) in enumerate(zip(self._cols, self._factors(theta))):
            M[self._flat[k]] = (grad[:, cols] @ T).ravel()
        return M.reshape(self.n, self.q)

    def _normal_sparse(self, theta, grad, resid):
        """The normal equations with ``U Lambda`` as a sparse matrix (many random effects)."""
        from scipy.sparse import csr_matrix

        vals = np.concatenate([(grad[:, cols] @ T).ravel() for cols, T in
                               zip(self._cols, self._factors(theta))])
        flat = np.concatenate(self._flat)
        UL = csr_matrix((vals, (flat // self.q, flat % self.q)), shape=(self.n, self.q))
        q, p = self.q, self.p
        H = np.empty((q + p, q + p))
        H[:q, :q] = (UL.T @ UL).toarray()
        H[:q, q:] = UL.T @ grad
        H[q:, :q] = H[:q, q:].T
        H[q:, q:] = grad.T @ grad
        rhs = np.concatenate([UL.T @ resid, grad.T @ resid])
        return H, rhs

    @property
    def _flat(self) -> list[np.ndarray]:
        """Per term, the flat positions in the ``(n, q)`` matrix of its ``(n, p_k)`` block."""
        if not hasattr(self, "_flat_cache"):
            rows = np.arange(self.n)[:, None] * self.q
            self._flat_cache = [
                (rows + (self.offsets[k] + t.codes * t.p)[:, None]
                 + np.arange(t.p)[None, :]).ravel()
                for k, t in enumerate(self.terms)]
        return self._flat_cache

    def _system(self, theta, grad, resid, u):
        """Lower Cholesky factor of the full Gauss-Newton system and its forward-solved right
        side; the leading ``q x q`` block is ``chol((U Lambda)'(U Lambda) + I)``."""
        if self.q > _SPARSE_Q:
            H, rhs = self._normal_sparse(theta, grad, resid)
        else:
            A = np.hstack([self._u_lambda(theta, grad), grad])
            H = A.T @ A
            rhs = A.T @ resid
        H[self._diag_q, self._diag_q] += 1.0
        rhs[:self.q] -= u
        L, info = _potrf(H, lower=1, clean=1, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError("the Gauss-Newton system is not positive definite")
        c, _ = _trtrs(L, rhs, lower=1)
        return L, c

    # ----- PNLS and the Laplace deviance ---------------------------------------------------
    def pnls(self, theta, beta0, u0, *, u_only: bool, tol: float = 1e-10,
             maxit: int = 300) -> PnlsState:
        """Conditional modes (and, unless ``u_only``, beta) at ``theta`` from ``(u0, beta0)``.

        With ``u_only`` the Gauss-Newton steps use the ``u`` block only (lme4's ``solveU``);
        its factor is the leading block of the full one, so one factorisation serves both.
        """
        theta = np.asarray(theta, dtype=float)
        beta = np.array(beta0, dtype=float)
        u = np.array(u0, dtype=float)
        q = self.q
        ph, mu, grad = self._eval(theta, beta, u)
        it = 0
        for it in range(1, maxit + 1):
            resid = self.y - mu
            prss0 = float(resid @ resid + u @ u)
            if not np.isfinite(prss0) or not np.all(np.isfinite(grad)):
                raise FloatingPointError("model not finite")
            L, c = self._system(theta, grad, resid, u)
            if u_only:
                cu = c[:q]
                du = _trtrs(L[:q, :q], cu, lower=1, trans=1)[0] if q else cu
                decrement = float(cu @ cu)
            else:
                delta = _trtrs(L, c, lower=1, trans=1)[0]
                du, db = delta[:q], delta[q:]
                decrement = float(c @ c)
            if decrement / prss0 < tol:
                break
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
        # either way out of the loop, L is the factor at the returned (u, beta)
        resid = self.y - mu
        wrss = float(resid @ resid)
        ldL2 = 2.0 * float(np.sum(np.log(np.diag(L)[:q])))
        return PnlsState(u=u, beta=beta, mu=mu, phi=ph, wrss=wrss, pwrss=wrss + float(u @ u),
                         ldL2=ldL2, RX=L[q:, q:].copy(), iterations=it, du=du)

    def laplace(self, st: PnlsState, *, lme4: bool = False) -> float:
        """lme4's ``nlsResp::Laplace``: ``ldL2 + n (1 + log(2 pi pwrss / n))``; with ``lme4``
        the penalised sum of squares as lme4 evaluates it (:attr:`PnlsState.pwrss_lme4`)."""
        pw = st.pwrss_lme4 if lme4 else st.pwrss
        return st.ldL2 + self.n * (1.0 + np.log(2.0 * np.pi * pw / self.n))

    # ----- lme4's two optimisation stages ------------------------------------------------------
    def fit(self, beta_start, *, optimizer: str = "Nelder_Mead", tol: float = 1e-10,
            maxeval: int = 10_000, n_agq: int = 1):
        """lme4's two stages: theta with beta inside PNLS, then theta and beta jointly
        (``n_agq=0``: the first stage only, lme4's ``nAGQ = 0``).

        ``optimizer="Nelder_Mead"`` follows lme4 (``nlmerControl()``) step for step: its
        Nelder-Mead simplex (steps 0.02 for theta in stage 1; 0.02 for theta and
        ``0.2 min(sd, 10)`` for beta in stage 2), its stopping rule, its deviance evaluation
        (:attr:`PnlsState.pwrss_lme4`), and its warm starts: lme4's PNLS starts each evaluation
        where the previous one ended (its ``u0`` and ``beta0`` share memory with the model
        object), including the evaluations of its finite-difference derivatives after each
        stage. The fit thus stops where lme4's does. ``"bobyqa"`` minimises the exact Laplace
        deviance with NLopt's BOBYQA from fixed starts, to tight tolerances: at least as good
        an optimum, sometimes better.

        Returns ``(theta, beta, state, opt_summary)``; ``opt_summary.fmin`` is the deviance at
        the optimum as the optimiser saw it (lme4 reports this value as ``-2 logLik``).
        """
        from .optimize import OptSummary, bobyqa

        if optimizer not in ("Nelder_Mead", "bobyqa"):
            raise ValueError(f"unknown optimizer {optimizer!r}: use 'Nelder_Mead' or 'bobyqa'")
        lme4 = optimizer == "Nelder_Mead"
        t0 = time.perf_counter()
        nth = self.theta0.size
        warm = {"u": np.zeros(self.q), "beta": np.asarray(beta_start, dtype=float).copy()}

        def solve(theta, beta, u_only):
            st = self.pnls(theta, warm["beta"] if beta is None else beta, warm["u"],
                           u_only=u_only, tol=tol)
            if lme4:  # lme4's PNLS continues from where the last evaluation ended
                warm["u"] = st.u
                if not u_only:
                    warm["beta"] = st.beta
            return st

        def dev1(theta):
            try:
                return self.laplace(solve(theta, None, False), lme4=lme4)
            except (FloatingPointError, np.linalg.LinAlgError, ConvergenceError):
                return _BAD

        def dev2(par):
            try:
                return self.laplace(solve(par[:nth], par[nth:], True), lme4=lme4)
            except (FloatingPointError, np.linalg.LinAlgError, ConvergenceError):
                return _BAD

        first = self.pnls(self.theta0, warm["beta"], warm["u"], u_only=False, tol=tol)
        warm["u"], warm["beta"] = first.u, first.beta
        fixed = dict(warm)  # bobyqa: every evaluation starts here
        lower2 = np.concatenate([self.lower, np.full(self.p, -np.inf)])
        messages: list[str] = []
        hess = None
        if lme4:
            th1, f1, nev1, code1 = nelder_mead(dev1, self.theta0, self.lower, maxfun=maxeval)
            if code1 == "MAXEVAL_REACHED":  # lme4 warns; its summary shows stage 2 only
                import warnings

                from ..errors import ConvergenceWarning

                warnings.warn(f"convergence code 4 from Nelder_Mead: failure to converge in "
                              f"{maxeval} evaluations (first stage, theta only)",
                              ConvergenceWarning, stacklevel=3)
            nev1 += _deriv12_points(dev1, th1)[2]
        else:
            o1 = bobyqa(dev1, self.theta0, self.lower, xtol_abs=1e-10, ftol_abs=1e-10,
                        initial_step=np.maximum(0.75 * np.abs(self.theta0), 0.1))
            th1, nev1 = o1.theta, o1.feval
        if not lme4:
            warm.update(fixed)
        st1 = solve(th1, None, False)
        warm["u"] = st1.u
        if n_agq == 0:
            f1 = f1 if lme4 else o1.fmin
            opt = OptSummary(optimizer=optimizer, theta0=self.theta0, lower=self.lower,
                             theta=th1, fmin=float(f1), feval=int(nev1),
                             return_code=code1 if lme4 else o1.return_code, maxeval=maxeval,
                             seconds=time.perf_counter() - t0, messages=messages)
            opt.hessian = None
            return th1, st1.beta, st1, opt
        beta_sd = np.sqrt(np.diag(_unscaled(st1.RX)))
        par0 = np.concatenate([th1, st1.beta])
        if lme4:
            xst = 0.2 * np.concatenate([np.full(nth, 0.1), np.minimum(beta_sd, 10.0)])
            par, fmin, nev2, code = nelder_mead(dev2, par0, lower2, xst=xst, maxfun=maxeval)
            if code == "MAXEVAL_REACHED":  # lme4 keeps Nelder_Mead's own warning
                messages.append(f"failure to converge in {maxeval} evaluations")
            _, hess, extra = _deriv12_points(dev2, par)
            nev2 += extra
        else:
            sigma = np.sqrt(st1.pwrss / self.n)
            step = 0.2 * np.concatenate([np.full(nth, 0.5), np.where(
                np.isfinite(beta_sd) & (beta_sd > 0), sigma * beta_sd, 0.1 * abs(st1.beta) + 0.1)])
            o2 = bobyqa(dev2, par0, lower2, xtol_abs=1e-10, ftol_abs=1e-10, initial_step=step)
            par, fmin, nev2, code = o2.theta, o2.fmin, o2.feval, o2.return_code
            messages += o2.messages
        theta, beta = par[:nth], par[nth:]
        st = solve(theta, beta, True)
        opt = OptSummary(optimizer=optimizer, theta0=par0, lower=lower2, theta=par,
                         fmin=float(fmin), feval=int(nev1 + nev2), return_code=code,
                         maxeval=maxeval, seconds=time.perf_counter() - t0, messages=messages)
        opt.hessian = hess  # lme4's finite-difference Hessian of stage 2 (Nelder_Mead only)
        return theta, beta, st, opt


def _deriv12_points(fn, x, delta: float = 1e-4):
    """lme4's ``deriv12``: central finite-difference gradient and Hessian of ``fn`` at ``x``,
    evaluated at lme4's points in lme4's order (``optwrap`` calls it after each optimisation;
    the order matters because lme4's PNLS is warm-started from the previous call). As in
    lme4, ``fn(x)`` is evaluated first (``optwrap`` passes ``opt$value``, which Nelder-Mead's
    result does not have).

    Returns ``(gradient, hessian, number_of_evaluations)``.
    """
    x = np.asarray(x, dtype=float)
    nx = x.size
    H = np.full((nx, nx), np.nan)
    g = np.zeros(nx)
    fx = float(fn(x))
    count = 1

    def at(changes):
        nonlocal count
        v = x.copy()
        for i, s in changes:
            v[i] += s
        count += 1
        return float(fn(v))

    for j in range(nx):
        fadd, fsub = at([(j, delta)]), at([(j, -delta)])
        H[j, j] = fadd / delta ** 2 - 2 * fx / delta ** 2 + fsub / delta ** 2
        g[j] = (fadd - fsub) / (2 * delta)
        for i in range(j):
            d2 = (2 * delta) ** 2
            H[i, j] = H[j, i] = (at([(i, delta), (j, delta)]) / d2
                                 - at([(i, delta), (j, -delta)]) / d2
                                 - at([(i, -delta), (j, delta)]) / d2
                                 + at([(i, -delta), (j, -delta)]) / d2)
    return g, H, count


def hessian_vcov(H: np.ndarray, n_theta: int) -> np.ndarray | None:
    """lme4's ``calc.vcov.hess``: the fixed-effects block of ``2 H^{-1}`` (deviance Hessian),
    or None where it is not positive definite (lme4 then falls back to RX).

    Examples
    --------
    >>> hessian_vcov(np.diag([4.0, 2.0]), 1).tolist()
    [[1.0]]
    """
    try:
        inv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    V = inv[n_theta:, n_theta:]
    V = V + V.T
    if not np.all(np.isfinite(V)) or np.min(np.linalg.eigvalsh(V)) <= 0:
        return None
    return V


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


# ----- lme4's Nelder-Mead (src/optimizer.cpp, after NLopt's nldrmd) ------------------------------
def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-13 * (abs(a) + abs(b))


def nelder_mead(fn, x0, lower, upper=None, *, xst=None, xt=None, maxfun: int = 10_000):
    """lme4's ``Nelder_Mead`` step for step: its simplex, bound pinning and stopping rule.

    The simplex starts at ``x0`` plus ``xst[i]`` along each axis; it stops when every
    coordinate of the simplex lies within ``xt`` of the centroid (lme4's ``xtol_abs``) or after
    ``maxfun`` evaluations. Returns ``(x_best, f_best, n_evaluations, status)`` with status
    ``"XTOL_REACHED"`` or ``"MAXEVAL_REACHED"``.

    Examples
    --------
    >>> x, f, n, status = nelder_mead(lambda v: float((v[0] - 1) ** 2 + (v[1] - 2) ** 2),
    ...                               np.array([0.0, 0.0]), np.array([-np.inf, -np.inf]))
    >>> np.round(x, 3).tolist(), status
    ([1.0, 2.0], 'XTOL_REACHED')
    """
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    lb = np.asarray(lower, dtype=float)
    ub = np.full(n, np.inf) if upper is None else np.asarray(upper, dtype=float)
    xst = np.full(n, 0.02) if xst is None else np.asarray(xst, dtype=float)
    xt = xst * 5e-4 if xt is None else np.asarray(xt, dtype=float)
    alpha, beta, gamm, delta = 1.0, 0.5, 2.0, 0.5
    pts = np.tile(x0[:, None], (1, n + 1))
    for i in range(n):
        j = i + 1
        pts[i, j] += xst[i]
        if pts[i, j] > ub[i]:
            pts[i, j] = ub[i] if ub[i] - x0[i] > abs(xst[i]) * 0.1 else x0[i] - abs(xst[i])
        if pts[i, j] < lb[i]:
            if x0[i] - lb[i] > abs(xst[i]) * 0.1:
                pts[i, j] = lb[i]
            else:
                pts[i, j] = x0[i] + abs(xst[i])
                if pts[i, j] > ub[i]:
                    pts[i, j] = 0.5 * ((ub[i] if ub[i] - x0[i] > x0[i] - lb[i] else lb[i]) + x0[i])
        if _close(pts[i, j], x0[i]):
            raise ValueError("cannot generate feasible simplex")
    vals = np.zeros(n + 1)
    st = {"c": np.zeros(n)}

    def reflect(c, scale, xold):
        xnew = np.minimum(np.maximum(c + scale * (c - xold), lb), ub)
        equalc = all(_close(xnew[i], c[i]) for i in range(n))
        equalold = all(_close(xnew[i], xold[i]) for i in range(n))
        return xnew, not (equalc or equalold)

    best_x, best_f, nev = x0.copy(), np.inf, 0
    init_pos = 0
    stage = "restart"
    xeval = x0.copy()
    xcur = np.zeros(n)
    f_old = fl = fh = 0.0
    il = ih = 0

    def restart():
        nonlocal fl, fh, il, ih, xeval, xcur, stage
        il, ih = int(np.argmin(vals)), int(np.argmax(vals))
        fl, fh = vals[il], vals[ih]
        st["c"] = (pts.sum(axis=1) - pts[:, ih]) / n
        c = st["c"]
        if np.all(np.max(np.abs(pts - c[:, None]), axis=1) < xt):
            return "XTOL_REACHED"
        xcur, ok = reflect(c, alpha, pts[:, ih])
        if not ok:
            return "XTOL_REACHED"
        xeval = xcur.copy()
        stage = "postreflect"
        return None

    while True:
        f = float(fn(xeval.copy()))
        nev += 1
        if f < best_f:
            best_f, best_x = f, xeval.copy()
        if nev >= maxfun:
            return best_x, best_f, nev, "MAXEVAL_REACHED"
        if init_pos <= n:
            vals[init_pos] = f
            init_pos += 1
            if init_pos > n:
                status = restart()
            else:
                xeval = pts[:, init_pos].copy()
                status = None
        elif stage == "postreflect":
            if f < fl:
                xeval, ok = reflect(st["c"], gamm, pts[:, ih])
                if not ok:
                    status = "XTOL_REACHED"
                else:
                    stage, f_old, status = "postexpand", f, None
            elif f < fh:
                vals[ih] = f
                pts[:, ih] = xeval
                status = restart()
            else:
                xcur, ok = reflect(st["c"], -beta if fh <= f else beta, pts[:, ih])
                if not ok:
                    status = "XTOL_REACHED"
                else:
                    f_old, xeval, stage, status = f, xcur.copy(), "postcontract", None
        elif stage == "postexpand":
            if f < vals[ih]:
                pts[:, ih] = xeval
                vals[ih] = f
            else:
                pts[:, ih] = xcur
                vals[ih] = f_old
            status = restart()
        elif stage == "postcontract":
            if f < f_old and f < fh:
                pts[:, ih] = xeval
                vals[ih] = f
                status = restart()
            else:
                status = None
                for i in range(n + 1):
                    if i != il:
                        xnew, ok = reflect(pts[:, il], -delta, pts[:, i])
                        if not ok:
                            status = "XTOL_REACHED"
                            break
                        pts[:, i] = xnew
                if status is None:
                    init_pos = 0
                    xeval = pts[:, 0].copy()
        else:  # "restart" stage after the initial simplex (not reached: init calls restart)
            status = restart()
        if status is not None:
            return best_x, best_f, nev, status
