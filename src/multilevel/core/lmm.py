"""The profiled deviance of a linear mixed model and the solutions at the optimum.

With ``L`` from :func:`~multilevel.core.cholesky.update_L`, ``r^2`` (the penalised residual sum
of squares) is the square of the last diagonal element of ``L``, and

.. math::

    d_{ML}(\\theta) = \\log|L_\\theta|^2 + n \\left(1 + \\log \\frac{2 \\pi r^2}{n}\\right)

    d_{REML}(\\theta) = \\log|L_\\theta|^2 + \\log|R_X|^2
                       + (n - p)\\left(1 + \\log \\frac{2 \\pi r^2}{n - p}\\right)

(Bates et al. 2015, *Fitting Linear Mixed-Effects Models Using lme4*, eqs. 34 and 41). The
fixed effects and the spherical random effects ``u`` are then one back-substitution away;
``b = Lambda u``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cholesky import (BlockDiag, Factor, NotPositiveDefinite, Plan, logdet_re, make_plan,
                       update_L)
from .crossprod import CrossProducts
from .dense_small import DENSE_OBJECTIVE_MAX, DenseObjective
from .native import block_criterion
from .nested import nested_structure
from .nested_objective import NestedObjective
from .schur_small import SchurObjective, schur_applies
from .theta import n_theta, split_theta

LOG2PI = float(np.log(2.0 * np.pi))
BAD_OBJECTIVE = 1e300
BLOCK_COMPILED_MAX_P = 16  # a first term with up to this many effects: compiled by levels...
BLOCK_COMPILED_MAX_REST = 32  # ...when the other terms and [X y] have at most this order
BLOCK_COMPILED_MAX_LEVELS = 2000  # ...and levels: beyond, numpy's vectorised closed forms are
                                  # faster (one (x | g), 3,000 levels: 28 vs 24 us, 10,000: 87
                                  # vs 54; 1,000: 9 vs 15)
SINGLE_TERM_DENSE_MAX = 32  # order q + p + 1 up to which one (x | g) or (1 | g) term takes the
                            # dense objective (us per evaluation, one thread, dense vs closed
                            # form: order 23 8.3 vs 11.4, 31 9.9 vs 11.6, 35 12.7 vs 11.6,
                            # 43 15.7 vs 11.7)


@dataclass(frozen=True)
class LmmSolution:
    """Everything the result object needs at one theta.

    Attributes
    ----------
    theta : (m,) array
    beta : (p,) array                 -- fixed effects
    b : list of (l_k, p_k) arrays     -- random effects per term and level
    u : list of (l_k, p_k) arrays     -- spherical random effects
    pwrss : float                     -- penalised residual sum of squares
    sigma : float                     -- residual standard deviation (ML or REML scale)
    RX_inv : (p, p) array             -- ``R_X^{-1} = L_XX^{-T}``; ``vcov = sigma^2 RX_inv RX_inv'``
    logdet_re, logdet_x : float
    objective : float                 -- the deviance (ML) or REML criterion
    """

    theta: np.ndarray
    beta: np.ndarray
    b: list
    u: list
    pwrss: float
    sigma: float
    RX_inv: np.ndarray
    logdet_re: float
    logdet_x: float
    objective: float

    @property
    def vcov_beta(self) -> np.ndarray:
        """The fixed effects' covariance ``sigma^2 R_X^{-1} R_X^{-T}`` (lme4's ``vcov``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> np.round(np.sqrt(np.diag(m.problem.solve(m.opt_summary.theta).vcov_beta)), 3)
        array([6.825, 1.546])
        """
        return self.sigma ** 2 * (self.RX_inv @ self.RX_inv.T)


class LmmProblem:
    """A linear mixed model reduced to its cross-products: ``objective(theta)`` and friends.

    Parameters
    ----------
    A : CrossProducts
        Formed with the prior weights, if any (rows scaled by ``sqrt(w)``).
    reml : bool
    log_det_w : float
        ``sum(log w)`` of the prior weights (0 without weights): the deviance is
        lme4's ``ldL2 - ldW + ...``.
    plan : Plan, optional
        From :func:`~multilevel.core.cholesky.make_plan`; a plan of another ``A`` with the
        same pattern (``structure_only=True``) may be reused, as PIRLS does.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(5), 4)
    >>> y = rng.normal(size=5)[g] + rng.normal(size=20)
    >>> A = form_crossproducts([TermData(g, np.ones((20, 1)), 5)], np.ones((20, 1)), y)
    >>> prob = LmmProblem(A, reml=True)
    >>> bool(np.isfinite(prob.objective(np.array([0.5]))))
    True
    """

    def __init__(self, A: CrossProducts, reml: bool = True, log_det_w: float = 0.0,
                 plan: Plan | None = None):
        self.A = A
        self.log_det_w = float(log_det_w)
        self._plan = plan  # made on the first blocked update (small fits never need it)
        self.reml = bool(reml)
        self.n = A.nobs
        self.p = A.p_x
        self._fast_objective = None  # made on the first objective() call (PIRLS never calls it)
        self._dense = None  # a small model's dense factor for its solutions, made on first use
        self._compiled_criterion = None  # the compiled criterion (False: none), see _compiled

    @property
    def plan(self) -> Plan:
        """The blocked update's plan (:func:`~multilevel.core.cholesky.make_plan`), made on
        first use: the dense, nested and Schur objectives and the dense solution never need
        it, and making it costs scipy.sparse patterns for crossed terms.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> prob = LmmProblem(A)
        >>> prob._plan is None, prob.plan is prob.plan
        (True, True)
        """
        if self._plan is None:
            self._plan = make_plan(self.A)
        return self._plan

    def _fast(self):
        """The objective without the blocked update, when one applies: one dense factor for
        small models, batched level blocks for one or nested grouping factors, a dense Schur
        complement when all but the first term are small; else None."""
        if self._fast_objective is None:
            A, order = self.A, self._order()
            # one grouping factor with one or two effects has a closed form (level blocks
            # of 1 x 1 or 2 x 2) that costs less than the dense factor from this order on
            dense = order <= (SINGLE_TERM_DENSE_MAX if len(A.ps) == 1 and A.ps[0] <= 2
                              else DENSE_OBJECTIVE_MAX)
            parents = None if dense else nested_structure(A)
            self._fast_objective = (DenseObjective(A) if dense
                                    else NestedObjective(A, parents) if parents is not None
                                    else SchurObjective(A) if schur_applies(A)
                                    else False)
        return self._fast_objective or None

    def factor(self, theta: np.ndarray) -> Factor:
        """The blocked Cholesky factor at ``theta`` (:func:`~multilevel.core.cholesky.update_L`).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> F = LmmProblem(A).factor(np.array([0.8]))
        >>> F.LXX.shape
        (2, 2)
        """
        return update_L(self.A, np.asarray(theta, dtype=float), self.plan)

    def objective_from_factor(self, F: Factor) -> float:
        """The criterion (ML deviance or REML) from a blocked factor ``F``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob, th = LmmProblem(A), np.array([0.8])
        >>> bool(np.isclose(prob.objective_from_factor(prob.factor(th)), prob.objective(th)))
        True
        """
        return self._criterion(logdet_re(F), F.LXX)

    def _criterion(self, logdet_z: float, LXX: np.ndarray) -> float:
        r2 = float(LXX[-1, -1]) ** 2  # Python floats: this runs once per evaluation
        ld = logdet_z - self.log_det_w
        log = math.log if 0.0 < r2 < math.inf else np.log  # numpy's -inf/nan otherwise
        if self.reml:
            dof = self.n - self.p
            pivots = LXX.diagonal().tolist()[:-1]  # p Python floats: no numpy call per log
            try:
                ldx = 2.0 * sum(map(math.log, pivots))
            except ValueError:  # a zero or negative pivot: numpy's -inf/nan
                ldx = 2.0 * float(np.sum(np.log(np.asarray(pivots))))
            return float(ld + ldx + dof * (1.0 + LOG2PI + log(r2 / dof)))
        return float(ld + self.n * (1.0 + LOG2PI + log(r2 / self.n)))

    def objective(self, theta: np.ndarray) -> float:
        """The profiled deviance (ML) or REML criterion at ``theta``; ``BAD_OBJECTIVE`` where
        the system is not positive definite.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob = LmmProblem(A, reml=False)
        >>> bool(prob.objective(np.array([0.5])) < prob.objective(np.array([0.0])))
        True
        >>> with np.errstate(invalid="ignore"):
        ...     prob.objective(np.array([np.nan])) == BAD_OBJECTIVE
        True
        """
        try:
            fast = self._fast()
            if fast is not None:  # small or nested model: no blocked update
                return self._criterion(*fast(theta))
            return self.objective_from_factor(self.factor(theta))
        except NotPositiveDefinite:
            return BAD_OBJECTIVE

    def objective_function(self):
        """``theta -> objective(theta)``, the same values with the least work per call: the
        compiled criterion of one grouping factor or of a small model (:meth:`_compiled`,
        equal to rounding), or without the extension the dense objective's
        :meth:`~multilevel.core.dense_small.DenseObjective.criterion_function`, the other
        fast objectives looked up once, else :meth:`objective` itself (the optimiser's inner
        loop).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob = LmmProblem(A)
        >>> f = prob.objective_function()
        >>> bool(np.isclose(f(np.array([0.8])), prob.objective(np.array([0.8])), rtol=1e-13))
        True
        """
        compiled = self._compiled()  # where the extension is built
        if compiled is not None:
            return compiled
        fast = self._fast()
        if isinstance(fast, DenseObjective):
            return fast.criterion_function(self._criterion, BAD_OBJECTIVE)
        if fast is None:
            return self.objective
        criterion = self._criterion

        def f(theta):  # objective() with the fast objective looked up once
            try:
                return criterion(*fast(theta))
            except NotPositiveDefinite:
                return BAD_OBJECTIVE
        return f

    def objectives(self, thetas: np.ndarray) -> np.ndarray:
        """:meth:`objective` at each row of ``thetas`` (the finite-difference points of the
        convergence checks): in one batch where there is one (a ``many`` method, ``thetas ->
        (log|L_Z|^2 per row, L_XX per row)``: the fast objective's, or for a small model the
        dense factor's, equal to :meth:`objective` to rounding), else one at a time.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob = LmmProblem(A)
        >>> fs = prob.objectives(np.array([[0.5], [1.0]]))
        >>> bool(np.allclose(fs, [prob.objective(np.array([t])) for t in (0.5, 1.0)]))
        True
        """
        thetas = np.asarray(thetas, dtype=float)
        compiled = self._compiled()
        if compiled is not None:  # a few microseconds a point: no batch needed
            return np.array([compiled(t) for t in np.ascontiguousarray(thetas)], dtype=float)
        many = self._many()
        if many is not None:
            try:
                logdets, LXXs = many(thetas)
            except NotPositiveDefinite:  # some row: each row on its own, as objective() does
                pass
            else:
                return np.array([self._criterion(float(ld), LXX)
                                 for ld, LXX in zip(logdets, LXXs)])
        return np.array([self.objective(t) for t in thetas], dtype=float)

    @property
    def batches(self) -> bool:
        """Whether :meth:`objectives` evaluates its points in one batch (the fast objective,
        or a small model's dense factor, has a ``many`` method) rather than one at a time by
        :meth:`objective`.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> LmmProblem(A).batches  # the dense objective: one batched Cholesky
        True
        """
        return self._compiled() is not None or self._many() is not None

    def _compiled(self):
        """The compiled criterion (made once), or None: one grouping factor's
        (:func:`~multilevel.core.native.block_criterion`, every level on its own), else a
        small model's dense one
        (:meth:`~multilevel.core.dense_small.DenseObjective.compiled_criterion`)."""
        if self._compiled_criterion is None:
            A, crit = self.A, None
            kw = dict(n_obs=self.n, reml=self.reml, log_det_w=self.log_det_w, bad=BAD_OBJECTIVE)
            rest_order = self._order() - A.n_levels[0] * A.ps[0]
            if (A.ps[0] <= BLOCK_COMPILED_MAX_P and rest_order <= BLOCK_COMPILED_MAX_REST
                    and A.n_levels[0] <= BLOCK_COMPILED_MAX_LEVELS):
                D, F, C, rest = _first_term_blocks(A)
                crit = block_criterion(D, F, C, **rest, **kw)
            elif len(A.ps) > 1 and self._order() <= DENSE_OBJECTIVE_MAX:
                fast = self._fast()
                if isinstance(fast, DenseObjective):
                    crit = fast.compiled_criterion(p=self.p, **kw)
            self._compiled_criterion = crit or False
        return self._compiled_criterion or None

    def _many(self):
        """The batched evaluation for :meth:`objectives`, or None."""
        many = getattr(self._fast(), "many", None)
        if many is None:
            many = getattr(self._dense_factor(), "many", None)
        return many

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`objective_and_gradient` has an analytic gradient for this model
        (its fast objective has ``gradient_parts``: dense, nested and Schur paths).

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.arange(6.0))
        >>> LmmProblem(A).has_gradient
        True
        """
        return hasattr(self._fast(), "gradient_parts")

    def objective_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray | None]:
        """The objective and its analytic gradient by theta (``grad`` None when the model's
        fast objective has no ``gradient_parts``; ``f`` is then :meth:`objective`).

        With ``d`` the derivatives of ``log|L_Z|^2``, ``log|R_X|^2`` and ``r^2`` from the
        fast objective's ``gradient_parts`` (the prior weights' ``log|W|`` is constant):

        .. math::

            \\nabla d_{ML} = \\nabla \\log|L_Z|^2 + n \\nabla r^2 / r^2, \\qquad
            \\nabla d_{REML} = \\nabla \\log|L_Z|^2 + \\nabla \\log|R_X|^2
                              + (n - p) \\nabla r^2 / r^2

        Where the system is not positive definite (or the values are not finite) the
        objective is ``BAD_OBJECTIVE`` and the gradient None.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> rng = np.random.default_rng(1)
        >>> g = np.repeat(np.arange(5), 4)
        >>> y = rng.normal(size=5)[g] + rng.normal(size=20)
        >>> A = form_crossproducts([TermData(g, np.ones((20, 1)), 5)], np.ones((20, 1)), y)
        >>> prob, h = LmmProblem(A, reml=False), 1e-6
        >>> f, grad = prob.objective_and_gradient(np.array([0.5]))
        >>> fd = (prob.objective(np.array([0.5 + h])) - prob.objective(np.array([0.5 - h])))
        >>> bool(np.isclose(f, prob.objective(np.array([0.5])))), bool(np.isclose(grad[0],
        ...                                                                       fd / (2 * h)))
        (True, True)
        """
        fast = self._fast()
        parts = getattr(fast, "gradient_parts", None)
        if parts is None:
            return self.objective(theta), None
        try:
            logdet_z, LXX, g_z, g_x, g_r2 = parts(theta)
        except NotPositiveDefinite:
            return BAD_OBJECTIVE, None
        f = self._criterion(logdet_z, LXX)
        r2 = float(LXX[-1, -1]) ** 2
        if self.reml:
            grad = g_z + g_x + ((self.n - self.p) / r2) * g_r2
        else:
            grad = g_z + (self.n / r2) * g_r2
        if not (math.isfinite(f) and np.isfinite(grad).all()):
            return (f if math.isfinite(f) else BAD_OBJECTIVE), None
        return f, grad

    def deviance_ml(self, theta: np.ndarray) -> float:
        """The ML deviance at ``theta`` with beta and sigma profiled (``deviance(m, REML=FALSE)``).

        From the fast objective's ``(log|L_Z|^2, L_XX)`` where there is one (the same factor
        as the blocked update's, to rounding), else from :meth:`factor`.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> th = np.array([0.8])
        >>> bool(np.isclose(LmmProblem(A, reml=True).deviance_ml(th),
        ...                 LmmProblem(A, reml=False).objective(th)))
        True
        """
        theta = np.asarray(theta, dtype=float)
        fast = self._fast()
        if fast is not None:
            ld, LXX = fast(theta)
        else:
            F = self.factor(theta)
            ld, LXX = logdet_re(F), F.LXX
        r2 = LXX[-1, -1] ** 2
        # with beta at its GLS value the ML profiled deviance is the same formula
        return float(ld - self.log_det_w + self.n * (1.0 + LOG2PI + np.log(r2 / self.n)))

    def _dense_factor(self) -> DenseObjective | None:
        """The dense factor's maker for a small model's solutions (order ``q + p + 1`` up to
        ``DENSE_OBJECTIVE_MAX``), whichever objective the optimiser used: its own dense one,
        or one made here (one term takes its closed form from order 33 on; its solution
        still comes from the dense factor, without the blocked plan or scipy). None for
        larger models and where no fast objective is wanted (``_fast_objective`` False)."""
        fast = self._fast_objective
        if isinstance(fast, DenseObjective):
            return fast
        if fast is False:
            return None
        if self._dense is None:
            self._dense = (DenseObjective(self.A) if self._order() <= DENSE_OBJECTIVE_MAX
                           else False)
        return self._dense or None

    def _order(self) -> int:
        """The order ``q + p + 1`` of the whole system ``[Z X y]``."""
        A = self.A
        return sum(l * p for l, p in zip(A.n_levels, A.ps)) + A.p_x + 1

    def solve(self, theta: np.ndarray) -> LmmSolution:
        """Fixed effects, random effects and scale at ``theta``.

        For a small model (see :meth:`_dense_factor`) the solution comes from the dense
        factor (:meth:`_solve_dense`), the same ``L`` as the blocked one to rounding;
        otherwise from :func:`~multilevel.core.cholesky.update_L`.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob, blocked_prob = LmmProblem(A, reml=False), LmmProblem(A, reml=False)
        >>> blocked_prob._fast_objective = False  # the blocked update
        >>> blocked = blocked_prob.solve(np.array([1.0]))
        >>> f = prob.objective(np.array([1.0]))
        >>> dense = prob.solve(np.array([1.0]))  # small: from the dense factor
        >>> np.round(dense.beta, 6).tolist(), round(dense.sigma, 6)
        ([4.333333], 1.688743)
        >>> bool(np.allclose(dense.b[0], blocked.b[0])), bool(np.isclose(dense.objective, f))
        (True, True)
        """
        theta = np.asarray(theta, dtype=float)
        dense = self._dense_factor()
        if dense is not None:
            return self._solve_dense(dense, theta)
        if (self._fast_objective is not False and schur_applies(self.A)
                and nested_structure(self.A) is None):
            # crossed with a small rest: one dense factor after the first term's levels,
            # without the blocked plan (crossed two intercepts: 1.0 -> 0.3 ms; nested terms
            # keep the blocked update, whose levels are cheaper than a dense rest)
            fast = self._fast()
            schur = fast if isinstance(fast, SchurObjective) else SchurObjective(self.A)
            return self._solution(theta, *schur.solve(theta))
        F = self.factor(theta)
        A, K, p = self.A, F.K, self.p
        LXX = F.LXX
        Lxx, c_beta = LXX[:p, :p], LXX[p, :p]
        # numpy's solve for the small p x p systems: small fits never import scipy.linalg
        beta = np.linalg.solve(Lxx.T, c_beta) if p else np.zeros(0)
        u: list = [None] * K
        for j in range(K - 1, -1, -1):
            LKj = F.blocks[(K, j)]
            rhs = LKj[p, :] - LKj[:p, :].T @ beta
            for i in range(j + 1, K):
                rhs = rhs - np.asarray(F.blocks[(i, j)].T @ u[i]).ravel()
            D = F.blocks[(j, j)]
            if isinstance(D, BlockDiag):
                u[j] = D.solve_t(rhs)
            else:
                import scipy.linalg as sla

                u[j] = sla.solve_triangular(D, rhs, trans="T", lower=True)
        us = [u[k].reshape(A.n_levels[k], A.ps[k]) for k in range(K)]
        bs = [uk @ F.T[k].T for k, uk in enumerate(us)]
        r2 = float(LXX[-1, -1] ** 2)
        dof = self.n - p if self.reml else self.n
        sigma = float(np.sqrt(r2 / dof))
        RX_inv = np.linalg.solve(Lxx.T, np.eye(p)) if p else np.zeros((0, 0))
        ld = logdet_re(F)
        ldx = float(2.0 * np.sum(np.log(np.diag(Lxx)))) if p else 0.0
        return LmmSolution(theta=theta, beta=beta, b=bs, u=us, pwrss=r2, sigma=sigma,
                           RX_inv=RX_inv, logdet_re=ld, logdet_x=ldx,
                           objective=self.objective_from_factor(F))


    def cond_var(self, theta: np.ndarray, sigma: float) -> list:
        """Conditional covariances of the random effects per term and level at ``theta``
        (:func:`cond_var`; lme4's ``condVar``), ``(l_k, p_k, p_k)`` arrays.

        For a small model (:meth:`_dense_factor`) they come from the dense factor:
        ``(Lambda'Z'Z Lambda + I)^{-1} = L_ZZ^{-T} L_ZZ^{-1}`` with ``L_ZZ`` its first ``q``
        rows and columns, whose level blocks give ``sigma^2 T_k (.) T_k'``; otherwise from
        the blocked factor.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(3), 2)
        >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
        ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
        >>> prob, blocked_prob, th = LmmProblem(A), LmmProblem(A), np.array([0.8])
        >>> blocked_prob._fast_objective = False  # the blocked update
        >>> blocked = blocked_prob.cond_var(th, 1.5)
        >>> bool(np.allclose(prob.cond_var(th, 1.5)[0], blocked[0]))  # small: dense factor
        True
        """
        theta = np.asarray(theta, dtype=float)
        dense = self._dense_factor()
        if dense is None:
            return cond_var(self.A, self.factor(theta), sigma)
        A = self.A
        qs = [l * p for l, p in zip(A.n_levels, A.ps)]
        q = sum(qs)
        # L_ZZ^{-1}: numpy's LU of a triangular matrix does not pivot (an exact inverse)
        Linv = np.linalg.inv(dense._factor(theta)[1][:q, :q])
        G = Linv.T @ Linv
        out, off = [], 0
        for l, p, qk, T in zip(A.n_levels, A.ps, qs, split_theta(theta, A.ps)):
            levels = np.arange(l)
            blocks = G[off:off + qk, off:off + qk].reshape(l, p, l, p)[levels, :, levels, :]
            out.append(sigma ** 2 * (T @ blocks @ T.T))
            off += qk
        return out

    def _solution(self, theta: np.ndarray, logdet_z: float, LXX: np.ndarray, beta: np.ndarray,
                  us: list) -> LmmSolution:
        """The :class:`LmmSolution` from a solve outside the blocked factor: ``log|L_Z|^2``,
        the ``[X y]`` block of ``L``, ``beta`` and ``u`` per term (``(l_k, p_k)`` arrays)."""
        p = self.p
        Lxx = LXX[:p, :p]
        r2 = float(LXX[p, p]) ** 2
        RX_inv = np.linalg.solve(Lxx.T, np.eye(p)) if p else np.zeros((0, 0))
        ldx = 2.0 * float(np.log(np.diagonal(Lxx)).sum()) if p else 0.0
        Ts = split_theta(theta, self.A.ps)
        return LmmSolution(theta=theta, beta=np.asarray(beta, dtype=float),
                           b=[uk @ T.T for uk, T in zip(us, Ts)], u=list(us), pwrss=r2,
                           sigma=math.sqrt(r2 / (self.n - p if self.reml else self.n)),
                           RX_inv=RX_inv, logdet_re=float(logdet_z), logdet_x=ldx,
                           objective=self._criterion(float(logdet_z), LXX))

    def _solve_dense(self, dense: DenseObjective, theta: np.ndarray) -> LmmSolution:
        """:meth:`solve` from the dense lower factor ``L`` of order ``q + p + 1`` (terms in
        order, levels major within a term, then ``[X y]``).

        With ``k = q + p``, ``L[:k, :k]' [u; beta] = L[k, :k]`` (the penalised least-squares
        solution) splits into ``L_XX' beta = l_X`` and ``L_ZZ' u = l_Z - L_XZ' beta``, the
        blocked path's back-substitutions; ``R_X = L_XX'``, ``r^2 = L[k, k]^2``. numpy's LU
        solve of a triangular matrix never pivots (the entries below its diagonal are zero),
        so it is an exact triangular solve, and no scipy is needed.
        """
        L = dense._factor(theta)[1]
        A, p = self.A, self.p
        qs = [l * pk for l, pk in zip(A.n_levels, A.ps)]
        q = sum(qs)
        k = q + p
        # beta and R_X^{-1} = L_XX^{-T} from one solve with p + 1 right-hand sides
        rhs = np.empty((p, p + 1))
        rhs[:, 0] = L[k, q:k]
        rhs[:, 1:] = np.eye(p)
        sol = np.linalg.solve(L[q:k, q:k].T, rhs) if p else rhs
        beta, RX_inv = sol[:, 0], sol[:, 1:]
        u = np.linalg.solve(L[:q, :q].T, L[k, :q] - L[q:k, :q].T @ beta)
        Ts = split_theta(theta, A.ps)
        us, off = [], 0
        for l, pk, qk in zip(A.n_levels, A.ps, qs):
            us.append(u[off:off + qk].reshape(l, pk))
            off += qk
        bs = [uk @ T.T for uk, T in zip(us, Ts)]
        r2 = float(L[k, k]) ** 2
        sigma = math.sqrt(r2 / (self.n - p if self.reml else self.n))
        log_diag = np.log(np.diagonal(L)[:k])
        ld = 2.0 * float(log_diag[:q].sum())
        ldx = 2.0 * float(log_diag[q:].sum()) if p else 0.0
        return LmmSolution(theta=theta, beta=beta, b=bs, u=us, pwrss=r2, sigma=sigma,
                           RX_inv=RX_inv, logdet_re=ld, logdet_x=ldx,
                           objective=self._criterion(ld, L[q:, q:]))


def cond_var(A: CrossProducts, F: Factor, sigma: float, chunk_entries: int = 4_000_000) -> list:
    """Conditional covariance of the random effects per term and level.

    ``Var(b | y) = sigma^2 Lambda (Lambda'Z'Z Lambda + I)^{-1} Lambda'`` (lme4's ``condVar``,
    which treats beta as known). Only the ``p_k x p_k`` diagonal blocks are formed, from the
    columns of ``L^{-1}`` (block ``i >= j`` of column block ``j`` is
    ``M_ij = -L_ii^{-1} sum_{j<=k<i} L_ik M_kj``), in chunks of levels that bound memory.

    Returns
    -------
    list of (l_k, p_k, p_k) arrays

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> g = np.repeat(np.arange(3), 2)
    >>> A = form_crossproducts([TermData(g, np.ones((6, 1)), 3)], np.ones((6, 1)),
    ...                        np.array([1.0, 2.0, 4.0, 4.0, 6.0, 9.0]))
    >>> V = cond_var(A, LmmProblem(A).factor(np.array([1.0])), 1.5)
    >>> V[0].shape, bool(np.isclose(V[0][0, 0, 0], 1.5 ** 2 / 3))  # sigma^2 / (n_l + 1)
    ((3, 1, 1), True)
    """
    import scipy.linalg as sla

    K = F.K
    out = []
    for j in range(K):
        pj, lj = A.ps[j], A.n_levels[j]
        Dj = F.blocks[(j, j)]
        rest = sum(A.ps[i] * A.n_levels[i] for i in range(j + 1, K))
        per_level = pj * (rest + (pj if isinstance(Dj, BlockDiag) else pj * lj))
        step = max(1, chunk_entries // max(per_level, 1))
        G = np.empty((lj, pj, pj))
        for l0 in range(0, lj, step):
            l1 = min(lj, l0 + step)
            m = (l1 - l0) * pj
            cols = slice(l0 * pj, l1 * pj)
            Ms = {}
            if isinstance(Dj, BlockDiag):
                blk = Dj.Linv[l0:l1]  # the chunk's diagonal blocks of L_jj^{-1}
                acc = np.einsum("lra,lrb->lab", blk, blk)
                first = None
            else:
                E = np.zeros((pj * lj, m))
                E[np.arange(l0 * pj, l1 * pj), np.arange(m)] = 1.0
                Ms[j] = sla.solve_triangular(Dj, E, lower=True)
                acc = np.zeros((l1 - l0, pj, pj))
                first = j
            for i in range(j + 1, K):
                if first is None:  # L_ij M_jj with M_jj block diagonal on the chunk
                    S = np.asarray(_dense_cols(F.blocks[(i, j)], cols))
                    S = S.reshape(S.shape[0], l1 - l0, pj)
                    S = np.einsum("rlp,lpq->rlq", S, blk).reshape(S.shape[0], m)
                    ks = range(j + 1, i)
                else:
                    S = np.zeros((A.ps[i] * A.n_levels[i], m))
                    ks = range(j, i)
                for k in ks:
                    S = S + np.asarray(F.blocks[(i, k)] @ Ms[k])
                Di = F.blocks[(i, i)]
                Ms[i] = -(Di.solve(S) if isinstance(Di, BlockDiag)
                          else sla.solve_triangular(Di, S, lower=True))
            for M in Ms.values():
                Mr = M.reshape(M.shape[0], l1 - l0, pj)
                acc = acc + np.einsum("rla,rlb->lab", Mr, Mr)
            G[l0:l1] = acc
        T = F.T[j]
        out.append(sigma ** 2 * (T @ G @ T.T))
    return out


def _dense_cols(M, cols: slice) -> np.ndarray:
    sub = M[:, cols]
    return sub.toarray() if hasattr(sub, "toarray") else sub


def _first_term_blocks(A: CrossProducts) -> tuple:
    """``(D, F, C_rr)`` and ``rest=`` of :func:`~multilevel.core.native.block_criterion`:
    the first term's level blocks ``Z_l'Z_l`` and ``Z_l'[Z_rest X y]``, the cross-products
    of the rest ``[Z_rest X y]`` (dense) and where the other terms' thetas sit in their
    factor.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> a, b = np.repeat(np.arange(3), 2), np.tile(np.arange(2), 3)
    >>> A = form_crossproducts([TermData(a, np.ones((6, 1)), 3), TermData(b, np.ones((6, 1)), 2)],
    ...                        np.ones((6, 1)), np.arange(6.0))
    >>> D, F, C, rest = _first_term_blocks(A)
    >>> D.shape, F.shape, C.shape, rest["rest"][3]
    ((3, 1, 1), (3, 1, 4), (4, 4), 2)
    """
    from .dense_layout import lambda_index
    from .dense_small import dense_crossproducts

    l, p = A.n_levels[0], A.ps[0]
    D = np.asarray(A.diag[0]).reshape(l, p, p)
    if len(A.ps) == 1:
        F = np.asarray(A.fixed[0]).reshape(-1, l, p).transpose(1, 2, 0)
        return D, F, A.xy, {}
    k = len(A.ps)
    rest = CrossProducts(diag=A.diag[1:], fixed=A.fixed[1:], xy=A.xy, ps=A.ps[1:],
                         n_levels=A.n_levels[1:], nobs=A.nobs,
                         cross={(i - 1, j - 1): A.cross[(i, j)]
                                for i in range(2, k) for j in range(1, i)})
    C = dense_crossproducts(rest)
    blocks = [A.cross[(i, 0)] for i in range(1, k)]  # Z_i'Z_1, (q_i, q_1)
    Zr = np.vstack([B.toarray() if hasattr(B, "toarray") else np.asarray(B) for B in blocks])
    F = np.vstack([Zr, np.asarray(A.fixed[0])]).reshape(-1, l, p).transpose(1, 2, 0)
    rows, cols, tidx = lambda_index(list(A.n_levels[1:]), list(A.ps[1:]))
    q_rest = C.shape[0] - A.xy.shape[0]
    return D, F, C, {"rest": (rows, cols, tidx + n_theta(p), q_rest)}
