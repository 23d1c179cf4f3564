"""Generalized linear mixed models: PIRLS inside a Laplace (or adaptive Gauss-Hermite)
approximation, built on the blocked core of :mod:`multilevel.core.lmm`.

For a GLMM with linear predictor ``eta = offset + X beta + Z Lambda_theta u`` and spherical
random effects ``u ~ N(0, I)``, the conditional mode ``u~`` minimises the *penalised
deviance*

.. math::

    \\tilde{d}(u) = \\sum_i d_i(y_i, \\mu_i) + \\lVert u \\rVert^2 .

PIRLS finds it by repeated penalised weighted least squares: with working weights ``w`` and
working response ``z`` (see :mod:`multilevel.core.families`), each step solves the LMM
normal equations for ``[Z X z]`` weighted by ``w`` -- exactly the blocked cross-products
and Cholesky factor of :func:`~multilevel.core.crossprod.form_crossproducts` and
:func:`~multilevel.core.cholesky.update_L`, so a step costs one pass over the rows plus a
factorisation whose size does not depend on ``nobs``. For one term, nested scalar terms and
crossed scalar terms with a small rest, the solvers of :mod:`multilevel.core.glmm_blocks`
form that factor from per-level sums with an index plan made once per model, and the
family's :meth:`~multilevel.core.families.Family.pirls_kernel` gives the weights, working
residuals and deviance of a step in one pass. Steps that increase the penalised deviance
are halved (lme4's ``pwrssUpdate``).

At the mode, with ``L L' = Lambda' Z' W Z Lambda + I``, the Laplace approximation to the
deviance is (lme4's ``glmResp::Laplace``)

.. math::

    d_L(\\theta, \\beta) = -2 \\log p(y \\mid \\tilde{u}) + \\lVert \\tilde{u} \\rVert^2
                          + \\log |L|^2 ,

where ``-2 log p(y | u)`` is the family's ``aic`` term (it keeps the normalising constants,
so ``-d_L / 2`` is lme4's ``logLik``). lme4 optimises it in two stages: first over theta
alone with beta found by PIRLS together with ``u`` (``nAGQ = 0``, :meth:`GlmmProblem.
objective_theta`), then over ``(theta, beta)`` with PIRLS for ``u`` only
(:meth:`GlmmProblem.objective`).

For a single scalar random-effects term the integral factors over groups and adaptive
Gauss-Hermite quadrature with ``K`` nodes ``z_k`` and weights ``w_k`` (normal-density rule)
replaces the Laplace step (lme4's ``glmerAGQ``):

.. math::

    d_{AGQ} = \\sum_j \\tilde{d}_j + \\log|L|^2
              - 2 \\sum_j \\log \\sum_k w_k \\exp\\left(\\frac{z_k^2}{2}
              - \\frac{\\tilde{d}_j(\\tilde{u}_j + z_k s_j) - \\tilde{d}_j}{2}\\right),

with ``s_j = 1 / L_jj`` and ``d~_j`` the group's share of the penalised deviance. As in lme4
it is built from deviance residuals, so it omits the normalising constants of the ``aic``.

Only numpy/scipy here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite

import numpy as np

from .cholesky import NotPositiveDefinite, logdet_re, make_plan
from .dense_small import DensePls
from .crossprod import RowPlan, TermData, form_crossproducts
from .families import Family
from .glmm_solvers import block_pls
from .lmm import LOG2PI, LmmProblem, LmmSolution, cond_var
from .nested import NestedSystem, _GroupSum, nested_factor, nested_solve, nested_structure
from .schur_small import SchurObjective, schur_applies
from .theta import split_theta

BAD_OBJECTIVE = 1e300


@dataclass(frozen=True)
class GlmmData:
    """Fixed inputs of a GLMM (never mutated).

    Attributes
    ----------
    terms : list of TermData       -- random-effects terms in lme4's order
    X : (n, p) array               -- fixed-effects model matrix
    y : (n,) array                 -- response (binomial: proportion of successes)
    weights : (n,) array           -- prior weights (binomial ``cbind``: number of trials)
    n_trials : (n,) array          -- lme4's ``resp$n`` (binomial trials; ones otherwise)
    offset : (n,) array
    family : Family
    """

    terms: list
    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    n_trials: np.ndarray
    offset: np.ndarray
    family: Family

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def ps(self) -> list:
        return [t.p for t in self.terms]

    @property
    def q(self) -> int:
        return int(sum(t.q for t in self.terms))


@dataclass
class PirlsState:
    """The result of one PIRLS run (a workspace; the next run may start from it).

    Attributes
    ----------
    theta : (m,) array ; beta : (p,) array ; u : (q,) array -- level-major per term
    eta, mu, w : (n,) arrays   -- linear predictor, means and working weights at the modes
    pdev : float               -- penalised deviance ``sum(d_i) + |u|^2``
    ldL2 : float               -- ``log |L|^2``
    sol : LmmSolution          -- the last penalised least-squares solution (``RX_inv``),
                                  built when first asked for
    iterations : int ; converged : bool
    """

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    w: np.ndarray
    pdev: float
    ldL2: float
    _sol: object = field(default=None, repr=False)  # an LmmSolution or a function making it
    iterations: int = 0
    converged: bool = True

    @property
    def sol(self) -> LmmSolution | None:
        if callable(self._sol):
            self._sol = self._sol()
        return self._sol


class PirlsError(ArithmeticError):
    """PIRLS could not reduce the penalised deviance (lme4's ``PIRLS step-halving failed``)."""


def gh_rule(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for the standard normal density (lme4's ``GHrule``).

    Examples
    --------
    >>> z, w = gh_rule(3)
    >>> round(float(z ** 2 @ w), 12)   # the variance of N(0, 1)
    1.0
    """
    z, w = np.polynomial.hermite_e.hermegauss(int(k))
    return z, w / w.sum()


class GlmmProblem:
    """A GLMM's deviance as a function of ``theta`` (stage 1) or ``(theta, beta)`` (stage 2).

    Successive evaluations start PIRLS from the previous conditional modes (a warm start);
    the mode does not depend on the start, only the number of iterations does.

    Parameters
    ----------
    data : GlmmData
    tol : float, optional
        PIRLS stops when no element of ``eta`` or ``u`` moves by more than ``tol``; the
        factor is then recomputed at the final modes. Default ``1e-7`` for canonical links
        (PIRLS is Newton's method, so the modes are then exact to about ``1e-14``) and
        ``1e-10`` for other links (Fisher scoring converges linearly).
    maxit : int

    Examples
    --------
    >>> from multilevel.core.families import Family
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(20), 10)
    >>> y = (rng.random(200) < 1 / (1 + np.exp(-rng.normal(size=20)[g]))).astype(float)
    >>> data = GlmmData([TermData(g, np.ones((200, 1)), 20)], np.ones((200, 1)), y,
    ...                 np.ones(200), np.ones(200), np.zeros(200), Family.make("binomial"))
    >>> prob = GlmmProblem(data)
    >>> bool(prob.objective(np.array([0.8, 0.1])) > 0)
    True
    """

    def __init__(self, data: GlmmData, *, tol: float | None = None, maxit: int = 100):
        self.data = data
        if tol is None:  # Newton (canonical link) converges quadratically; Fisher scoring not
            tol = 1e-7 if data.family.canonical else 1e-10
        self.tol = float(tol)
        self.maxit = int(maxit)
        fam, y, wt = data.family, data.y, data.weights
        self._dev_sum = fam.dev_sum_function(y, wt)
        # rounding noise of the deviance: each term y log(y / mu) is good to about eps * y,
        # which for large counts (1e9) is far above a relative 1e-12 of the deviance
        self._dev_noise = 8 * np.finfo(float).eps * float(np.sum(np.abs(wt * y)))
        mu0 = fam.mustart(y, wt)
        self._aic = _aic_function(fam, y, data.n_trials, wt, self._dev_sum, mu0)
        self._kernel = fam.pirls_kernel(y, wt)
        self._eta_start = fam.link.linkfun(mu0)
        self._X0 = data.X[:, :0]
        self._warm: dict[str, PirlsState | None] = {"joint": None, "u": None}
        self.n_pirls = 0

    # ----- pieces ------------------------------------------------------------------------
    def split_u(self, u: np.ndarray) -> list[np.ndarray]:
        """Flat ``u`` -> per-term ``(l_k, p_k)`` arrays."""
        out, start = [], 0
        for t in self.data.terms:
            out.append(u[start:start + t.q].reshape(t.n_levels, t.p))
            start += t.q
        return out

    def b_from_u(self, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """Random effects ``b = Lambda u`` per term, ``(l_k, p_k)`` arrays.

        Examples
        --------
        >>> prob = _demo_problem()
        >>> prob.b_from_u(np.array([2.0]), np.ones(prob.data.q))[0][:2, 0].tolist()
        [2.0, 2.0]
        """
        return [uk @ T.T for uk, T in zip(self.split_u(u), self._factors(theta))]

    def zb(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``Z Lambda u`` for the rows of the fit."""
        blocks = self._blocks()
        if blocks:
            return blocks.zb(theta, u)
        dense = self._dense()
        if dense:
            return dense.zb(theta, u)
        out = np.zeros(self.data.nobs)
        for t, b in zip(self.data.terms, self.b_from_u(theta, u)):
            if t.p == 1:
                out += t.Z[:, 0] * b[t.codes, 0]
            else:
                out += np.einsum("np,np->n", t.Z, b[t.codes])
        return out

    def eta(self, theta, beta, u) -> np.ndarray:
        d = self.data
        return d.offset + d.X @ beta + self.zb(theta, u)

    def penalised_deviance(self, mu: np.ndarray, u: np.ndarray) -> float:
        return self._dev_sum(mu) + float(u @ u)

    def laplace(self, st: PirlsState) -> float:
        """``-2 log p(y | u) + |u|^2 + log|L|^2`` at a PIRLS state (lme4's ``Laplace``).

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls(np.array([0.8]), np.array([0.1]))
        >>> bool(np.isclose(prob.laplace(st), prob.objective(np.array([0.8, 0.1]))))
        True
        """
        dev = st.pdev - float(st.u @ st.u)
        return float(self._aic(st.mu, dev) + st.u @ st.u + st.ldL2)

    # ----- PIRLS -------------------------------------------------------------------------
    def pirls(self, theta: np.ndarray, beta: np.ndarray | None = None, *,
              start: PirlsState | None = None) -> PirlsState:
        """Conditional modes at ``theta``: of ``u`` given ``beta``, or of ``(beta, u)``
        jointly when ``beta`` is None (lme4's ``nAGQ = 0`` step).

        Raises
        ------
        PirlsError
            When step halving cannot reduce the penalised deviance.

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls(np.array([0.8]))          # beta and u jointly
        >>> st.converged, st.beta.shape, st.u.shape
        (True, (1,), (20,))
        """
        d = self.data
        theta = np.asarray(theta, dtype=float)
        joint = beta is None
        X = d.X if joint else self._X0
        respond = self._kernel  # eta -> (mu, w, r, deviance)
        b = np.asarray(beta, dtype=float) if not joint else (
            np.zeros(d.p) if start is None else start.beta.copy())
        base = d.offset if joint else d.offset + d.X @ b  # eta = base (+ X beta) + Z Lambda u
        if start is None:
            u = np.zeros(d.q)
            eta = self._eta_start.copy()
            mu, w, r, dev = respond(eta)
            pdev_old = np.inf
        else:
            u = start.u.copy()
            eta = self.zb(theta, u)
            eta += d.offset + d.X @ b if joint else base
            mu, w, r, dev = respond(eta)
            pdev_old = dev + float(u @ u)
        zb, step_of = self.zb, self._step
        dev_tells = getattr(respond, "finite_with_dev", False)  # w, r finite iff dev is
        converged = False
        with np.errstate(divide="ignore", invalid="ignore"):
            for it in range(1, self.maxit + 1):
                if not (isfinite(dev) if dev_tells else isfinite(w.sum() + r.sum())):
                    raise PirlsError("non-finite working weights or residuals in PIRLS")
                # the penalised least-squares step for working response z = eta - base + r
                z = eta - base
                z += r
                try:
                    b_step, u_new, solution = step_of(theta, X, z, w)
                except NotPositiveDefinite as exc:
                    raise PirlsError(str(exc)) from exc
                b_new = b_step if joint else b
                eta_new = zb(theta, u_new)
                eta_new += d.offset + d.X @ b_new if joint else base
                mu, w, r, dev = respond(eta_new)
                pdev = dev + float(u_new @ u_new)
                halvings = 0
                # halve only on a real increase: near the mode rounding moves pdev both ways
                slack = (max(1e-12 * abs(pdev_old), self._dev_noise) if isfinite(pdev_old)
                         else 0.0)
                while not pdev <= pdev_old + slack and isfinite(pdev_old) and halvings < 10:
                    halvings += 1
                    u_new = 0.5 * (u + u_new)
                    b_new = 0.5 * (b + b_new) if joint else b
                    eta_new = 0.5 * (eta + eta_new)
                    mu, w, r, dev = respond(eta_new)
                    pdev = dev + float(u_new @ u_new)
                if not isfinite(pdev) or (pdev > pdev_old + max(1e-10 * abs(pdev_old),
                                                                 self._dev_noise)):
                    raise PirlsError("PIRLS step-halving failed to reduce the deviance")
                # the largest change of eta or u (u is never empty: q >= 1)
                eta -= eta_new
                u -= u_new
                step = max(float(np.abs(eta).max()), float(np.abs(u).max()))
                u, b, eta = u_new, b_new, eta_new
                pdev_old = pdev
                if step < self.tol:
                    converged = True
                    break
        self.n_pirls += it
        # log|L|^2 at the weights of the converged modes (the last solve used the weights of
        # the iterate before, which would leave an error proportional to the last step)
        return PirlsState(theta=theta, beta=np.asarray(b, dtype=float), u=u, eta=eta, mu=mu,
                          w=w, pdev=float(pdev_old), ldL2=self.logdet(theta, w),
                          _sol=solution,
                          iterations=it, converged=converged)

    def _step(self, theta, X, z, w):
        """One penalised weighted least-squares solve: ``(beta, u, solution)`` with ``u`` flat
        and ``solution()`` making its :class:`LmmSolution` (called only if asked for)."""
        blocks = self._blocks()
        if blocks:  # the modes now; the factor's other parts only if the solution is asked for
            mode = "joint" if X.shape[1] else "u"
            beta, u = blocks.modes(theta, w, z, mode)

            def solution() -> LmmSolution:  # solve again for the whole factor
                beta_s, u_s, LXX, logdet = blocks.solve(theta, w, z, mode)
                return self._solution(theta, beta_s, self.split_u(u_s), LXX, logdet)
            return beta, u, solution
        parts = self._pls_parts(theta, X, z, w)
        sol_beta, sol_u = _beta_u(parts)
        u = np.concatenate([x.ravel() for x in sol_u]) if sol_u else np.zeros(0)
        return sol_beta, u, lambda: self._to_solution(theta, parts)

    def _blocks(self):
        """The block solver of :mod:`multilevel.core.glmm_blocks` for scalar terms (made
        once), else False."""
        if getattr(self, "_block_pls", None) is None:
            self._block_pls = block_pls(self.data.terms, self.data.X) or False
        return self._block_pls

    def _pls_parts(self, theta, X, z, w):
        """One penalised weighted least-squares solve for working response ``z``, without
        building the solution object where a fast path applies: ``(beta, us, L_XX,
        log|L_Z|^2)`` (PIRLS needs only beta and u until it converges; see
        :meth:`_to_solution`), else the :class:`LmmSolution` itself."""
        dense = self._dense()
        if dense:
            beta, u, LXX, logdet = dense.solve(theta, X, z, w)
            return beta, self.split_u(u), LXX, logdet
        nested = self._nested()
        if nested:
            parents, sums, cache = nested
            S = NestedSystem.from_rows(self.data.terms, parents, np.column_stack([X, z]), w,
                                       sums, cache)
            F = nested_factor(S, self._factors(theta))
            beta, us = nested_solve(F, S)
            return beta, us, F.LXX, F.logdet
        A = self._crossproducts(X, z, w)
        if schur_applies(A):  # crossed, all but the first term small: one dense factor
            ld, LXX, beta, us = SchurObjective(A).solve(theta)
            return beta, us, LXX, ld
        return LmmProblem(A, reml=False, plan=self._structure(A)).solve(theta)

    def _to_solution(self, theta, parts) -> LmmSolution:
        if isinstance(parts, LmmSolution):
            return parts
        beta, us, LXX, logdet = parts
        return self._solution(theta, beta, us, LXX, logdet)

    def _factors(self, theta) -> list[np.ndarray]:
        """``split_theta(theta)``, kept for the last theta (PIRLS asks for it every step)."""
        theta = np.asarray(theta, dtype=float)
        key = theta.tobytes()
        last = getattr(self, "_last_factors", None)
        if last is None or last[0] != key:
            self._last_factors = last = (key, split_theta(theta, self.data.ps))
        return last[1]

    def _crossproducts(self, X: np.ndarray, z: np.ndarray, w: np.ndarray):
        """``form_crossproducts(terms, X, z, weights=w)``, by a :class:`RowPlan` made once
        when every cross block is small."""
        if getattr(self, "_row_plan", None) is None:
            terms = self.data.terms
            self._row_plan = RowPlan(terms) if RowPlan.applies(terms) else False
        if self._row_plan:
            return self._row_plan.crossproducts(X, z, w)
        return form_crossproducts(self.data.terms, X, z, weights=w)

    def _solution(self, theta, beta, us, LXX, logdet) -> LmmSolution:
        """The :class:`LmmSolution` (ML scale) of a PLS solve done outside ``LmmProblem``."""
        Ts = self._factors(theta)
        p = LXX.shape[0] - 1
        Lxx = LXX[:p, :p]
        r2 = float(LXX[p, p] ** 2)
        n = self.data.nobs
        RX_inv = np.linalg.solve(Lxx.T, np.eye(p)) if p else np.zeros((0, 0))
        ldx = float(2.0 * np.sum(np.log(np.diag(Lxx)))) if p else 0.0
        return LmmSolution(theta=theta, beta=beta, b=[uk @ T.T for uk, T in zip(us, Ts)],
                           u=us, pwrss=r2, sigma=float(np.sqrt(r2 / n)), RX_inv=RX_inv,
                           logdet_re=logdet, logdet_x=ldx,
                           objective=float(logdet + n * (1.0 + LOG2PI + np.log(r2 / n))))

    def _dense(self):
        """A :class:`DensePls` when the model is small enough for one dense factor per step
        (made once); else False."""
        if getattr(self, "_dense_pls", None) is None:
            terms = self.data.terms
            self._dense_pls = DensePls(terms) if DensePls.applies(terms, self.data.p) else False
        return self._dense_pls

    def _nested(self):
        """``(parents, level sums)`` when the terms are nested (one grouping factor
        included), so that PIRLS solves with batched level blocks; else False."""
        if getattr(self, "_nested_plan", None) is None:
            d = self.data
            A = form_crossproducts(d.terms, self._X0, np.ones(d.nobs))
            parents = nested_structure(A)
            ok = parents is not None and all(  # the rows agree with the level pattern
                np.array_equal(d.terms[j].codes, par[d.terms[k].codes])
                for (j, k), par in parents.items())
            self._nested_plan = (parents, {(j, k): _GroupSum(par, d.terms[j].n_levels)
                                           for (j, k), par in parents.items()}, {}) if ok else False
        return self._nested_plan

    def _structure(self, A):
        """The pattern-only plan of the cross-products, made once (PIRLS re-forms ``A`` with
        new weights, never a new pattern)."""
        if getattr(self, "_plan", None) is None:
            d = self.data  # unit weights: a zero working weight must not hide a nonzero
            ones = np.ones(d.nobs)
            self._plan = make_plan(form_crossproducts(d.terms, self._X0, ones),
                                   structure_only=True)
        return self._plan

    def factor(self, theta: np.ndarray, w: np.ndarray):
        """The blocked factor ``L`` of ``Lambda' Z' W Z Lambda + I`` for working weights ``w``."""
        d = self.data
        A = form_crossproducts(d.terms, self._X0, np.ones(d.nobs), weights=w)
        return LmmProblem(A, reml=False, plan=self._structure(A)).factor(theta), A

    def logdet(self, theta: np.ndarray, w: np.ndarray) -> float:
        """``log |L|^2`` for working weights ``w``."""
        terms = self.data.terms
        blocks = self._blocks()
        if blocks:
            try:
                return blocks.logdet(theta, w)
            except NotPositiveDefinite as exc:
                raise PirlsError(str(exc)) from exc
        if len(terms) == 1 and terms[0].p == 1:  # L is diagonal: one sum per level
            t = terms[0]
            zz = np.bincount(t.codes, weights=w * t.Z[:, 0] ** 2, minlength=t.n_levels)
            return float(np.sum(np.log1p(float(theta[0]) ** 2 * zz)))
        dense = self._dense()
        if dense:
            try:
                return dense.logdet(theta, w)
            except NotPositiveDefinite as exc:
                raise PirlsError(str(exc)) from exc
        nested = self._nested()
        if nested:
            S = NestedSystem.from_rows(terms, nested[0], self._X0, w, nested[1], nested[2])
            try:
                return nested_factor(S, self._factors(theta)).logdet
            except NotPositiveDefinite as exc:
                raise PirlsError(str(exc)) from exc
        try:
            A = self._crossproducts(self._X0, np.ones(self.data.nobs), w)
            if schur_applies(A):
                return SchurObjective(A)(theta)[0]
            return logdet_re(LmmProblem(A, reml=False, plan=self._structure(A)).factor(theta))
        except NotPositiveDefinite as exc:
            raise PirlsError(str(exc)) from exc

    def pirls_or_cold(self, theta: np.ndarray, beta: np.ndarray | None,
                      start: PirlsState | None) -> PirlsState:
        """:meth:`pirls` from ``start``, and again from lme4's cold start if that fails.

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls_or_cold(np.array([0.8]), None, None)
        >>> bool(prob.pirls_or_cold(np.array([0.81]), None, st).converged)
        True
        """
        try:
            return self.pirls(theta, beta, start=start)
        except PirlsError:
            if start is None:
                raise
            return self.pirls(theta, beta, start=None)

    def _pirls_warm(self, key: str, theta, beta=None) -> PirlsState:
        st = self.pirls_or_cold(theta, beta, self._warm[key])
        self._warm[key] = st
        return st

    # ----- objectives --------------------------------------------------------------------
    def objective_theta(self, theta: np.ndarray) -> float:
        """Stage 1 (lme4's ``nAGQ = 0``): the Laplace deviance with beta and u jointly at
        their PIRLS modes.

        Examples
        --------
        >>> prob = _demo_problem()
        >>> f0 = prob.objective_theta(np.array([0.8]))
        >>> st = prob.pirls(np.array([0.8]))
        >>> bool(prob.objective(np.concatenate([[0.8], st.beta])) <= f0 + 1e-9)
        True
        """
        try:
            return self.laplace(self._pirls_warm("joint", theta))
        except PirlsError:
            return BAD_OBJECTIVE

    def objective(self, pars: np.ndarray, n_agq: int = 1) -> float:
        """Stage 2: the Laplace (``n_agq = 1``) or AGQ deviance at ``pars = [theta, beta]``."""
        m = len(pars) - self.data.p
        theta, beta = np.asarray(pars[:m], dtype=float), np.asarray(pars[m:], dtype=float)
        try:
            st = self._pirls_warm("u", theta, beta)
        except PirlsError:
            return BAD_OBJECTIVE
        return self.laplace(st) if n_agq <= 1 else self.agq(st, n_agq)

    def seed(self, st: PirlsState, joint: bool = False) -> None:
        """Use ``st`` as the warm start of the next stage-2 (or stage-1) evaluation."""
        self._warm["joint" if joint else "u"] = st

    def agq(self, st: PirlsState, n_agq: int) -> float:
        """The adaptive Gauss-Hermite deviance at a converged u-only PIRLS state.

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls(np.array([0.8]), np.array([0.1]))
        >>> bool(abs(prob.agq(st, 9) - prob.laplace(st)) < 1.0)   # 0/1 data: same constants
        True
        """
        d = self.data
        if len(d.terms) != 1 or d.terms[0].p != 1:
            raise ValueError("nAGQ > 1 is only available for models with a single, scalar "
                             "random-effects term")
        t = d.terms[0]
        th = float(st.theta[0])
        fam = d.family
        z1 = t.Z[:, 0]
        l = t.n_levels
        Ljj2 = 1.0 + th ** 2 * np.bincount(t.codes, weights=st.w * z1 ** 2, minlength=l)
        sd = 1.0 / np.sqrt(Ljj2)
        dev0 = fam.dev_resid(d.y, st.mu, d.weights)
        devc0 = st.u ** 2 + np.bincount(t.codes, weights=dev0, minlength=l)
        nodes, wts = gh_rule(n_agq)
        mult = np.zeros(l)
        shift_row = th * z1
        for zk, wk in zip(nodes, wts):
            if zk == 0.0:
                mult += wk
                continue
            uk = st.u + zk * sd
            mu_k = fam.link.linkinv(st.eta + shift_row * (zk * sd)[t.codes])
            devc = uk ** 2 + np.bincount(t.codes, weights=fam.dev_resid(d.y, mu_k, d.weights),
                                         minlength=l)
            mult += wk * np.exp(0.5 * zk ** 2 - 0.5 * (devc - devc0))
        return float(devc0.sum() + np.sum(np.log(Ljj2)) - 2.0 * np.sum(np.log(mult)))

    # ----- quantities at the optimum ----------------------------------------------------
    def cond_var(self, st: PirlsState, sigma: float = 1.0) -> list[np.ndarray]:
        """Conditional covariances of ``b`` per term and level at a PIRLS state
        (``sigma^2 Lambda (L L')^{-1} Lambda'``, L from the state's working weights).

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls(np.array([0.8]), np.array([0.1]))
        >>> prob.cond_var(st)[0].shape
        (20, 1, 1)
        """
        F, A = self.factor(st.theta, st.w)
        return cond_var(A, F, sigma)

    def vcov_rx(self, theta: np.ndarray, beta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(R_X' R_X)^{-1}`` of the joint penalised system at given modes (lme4's
        ``vcov(use.hessian = FALSE)`` for families without a scale).

        Examples
        --------
        >>> prob = _demo_problem()
        >>> st = prob.pirls(np.array([0.8]))
        >>> prob.vcov_rx(st.theta, st.beta, st.u).shape
        (1, 1)
        """
        d = self.data
        eta = self.eta(theta, beta, u)
        mu, w, r = d.family.working(d.y, d.weights, eta)
        A = form_crossproducts(d.terms, d.X, eta - d.offset + r, weights=w)
        with np.errstate(divide="ignore", invalid="ignore"):
            sol = LmmProblem(A, reml=False, plan=self._structure(A)).solve(theta)
        return sol.RX_inv @ sol.RX_inv.T


def _aic_function(fam: Family, y: np.ndarray, n: np.ndarray, wt: np.ndarray, dev_sum,
                  mu0: np.ndarray):
    """``mu, dev -> family$aic(y, n, mu, wt, dev)`` with the terms free of ``mu`` computed
    once (the binomial coefficients and ``lgamma(y + 1)``).

    For binomial responses with whole numbers of successes and for integer counts,
    ``aic(mu) - sum(dev_resid(mu))`` does not depend on ``mu``; the ``aic`` is then the
    deviance (already computed by PIRLS) plus that constant.
    """
    full = _aic_full(fam, y, n, wt)
    if fam.name == "binomial":
        m = n if np.any(n > 1) else wt
        exact = np.all(np.rint(m) == m) and np.all(np.rint(m * y) == m * y)
    else:
        exact = fam.name == "poisson" and np.all(np.rint(y) == y)
    if not exact:
        return full
    const = full(mu0, dev_sum(mu0)) - dev_sum(mu0)

    def aic(mu, dev):
        return dev + const
    return aic


def _aic_full(fam: Family, y: np.ndarray, n: np.ndarray, wt: np.ndarray):
    from scipy import special

    if fam.name == "binomial":
        m = n if np.any(n > 1) else wt
        k = np.rint(m * y)
        m = np.rint(m)
        f = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
        const = float(np.sum(f * (special.gammaln(m + 1) - special.gammaln(k + 1)
                                  - special.gammaln(m - k + 1))))
        fk, fmk = f * k, f * (m - k)

        def aic(mu, dev):
            return -2.0 * (const + float(np.sum(special.xlogy(fk, mu)
                                                + special.xlog1py(fmk, -mu))))
        return aic
    if fam.name == "poisson":
        const = float(np.sum(wt * special.gammaln(y + 1)))
        wy = wt * y

        def aic(mu, dev):
            return -2.0 * (float(np.sum(special.xlogy(wy, mu) - wt * mu)) - const)
        return aic

    def aic(mu, dev):
        return fam.aic(y, n, mu, wt, dev)
    return aic


def fd_hessian(fn, x: np.ndarray, steps: np.ndarray, fx: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Central finite-difference gradient and Hessian of ``fn`` at ``x`` with per-coordinate
    ``steps`` (lme4's ``deriv12`` with scaled steps).

    Examples
    --------
    >>> g, H = fd_hessian(lambda v: float(v[0] ** 2 + 3 * v[0] * v[1]), np.array([1.0, 2.0]),
    ...                   np.array([1e-3, 1e-3]))
    >>> np.round(g, 6).tolist(), np.round(H, 4).tolist()
    ([8.0, 3.0], [[2.0, 3.0], [3.0, 0.0]])
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = fn(x) if fx is None else fx
    grad, hess = np.zeros(n), np.zeros((n, n))
    fp, fm = np.zeros(n), np.zeros(n)
    E = np.diag(steps)
    for i in range(n):
        fp[i], fm[i] = fn(x + E[i]), fn(x - E[i])
        grad[i] = (fp[i] - fm[i]) / (2 * steps[i])
        hess[i, i] = (fp[i] - 2 * f0 + fm[i]) / steps[i] ** 2
    for i in range(n):
        for j in range(i):
            fpp, fmm = fn(x + E[i] + E[j]), fn(x - E[i] - E[j])
            hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + 2 * f0 - fm[i] - fm[j] + fmm) / (
                2 * steps[i] * steps[j])
    return grad, hess


def _demo_problem() -> GlmmProblem:
    """A small binary random-intercept problem for the examples (20 groups of 10)."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 10)
    y = (rng.random(200) < 1 / (1 + np.exp(-rng.normal(size=20)[g]))).astype(float)
    data = GlmmData([TermData(g, np.ones((200, 1)), 20)], np.ones((200, 1)), y,
                    np.ones(200), np.ones(200), np.zeros(200), Family.make("binomial"))
    return GlmmProblem(data)


def _beta_u(parts) -> tuple[np.ndarray, list]:
    """``(beta, us)`` of a :meth:`GlmmProblem._pls_parts` result."""
    return (parts.beta, parts.u) if isinstance(parts, LmmSolution) else (parts[0], parts[1])
