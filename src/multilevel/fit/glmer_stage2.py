"""glmer's stage 2: the deviance over ``(phi, beta)`` from the stage-1 point, its derivatives
at the optimum and a final Newton step (see :mod:`multilevel.fit.glmer`).

Coordinates. Stage 2 starts at the stage-1 estimates ``(phi_1, beta_1)`` and works in
*whitened* coordinates ``x = (x_phi, z)``:

.. math::

    \\phi = \\phi_1 + s_\\theta \\odot x_\\phi, \\qquad \\beta = \\beta_1 + R_X^{-1} z ,

with ``s_theta`` rough standard errors of ``phi`` (the stage-1 curvature) and ``R_X`` the
fixed-effects block of the stage-1 penalised least-squares factor, so that
``R_X^{-1} R_X^{-T}`` approximates ``vcov(beta)``. In these coordinates the deviance is
close to ``|x - x*|^2`` plus a constant: every direction has the same scale and the fixed
effects are uncorrelated, which BOBYQA's quadratic model needs fewest evaluations to learn
(scaling each ``beta_k`` by its standard error alone leaves the correlations, e.g. of
treatment contrasts with the intercept).

Stopping. BOBYQA stops at ``ftol_abs = 1e-7`` on the deviance, which in these units is
within a few ``1e-4`` standard errors of the optimum. The Hessian needed for the standard
errors is then computed there by central differences (:func:`fd_derivatives`), and one
Newton step ``-H^{-1} g`` with it moves the estimates onto the optimum (Newton's method
converges quadratically: the error left is far below ``1e-6`` SE). When that step is longer
than :data:`NEWTON_TRUST` standard errors (BOBYQA stopped early) the derivatives are
recomputed after it, up to :data:`NEWTON_ROUNDS` times. The Hessian used for the standard
errors is thus taken within ``NEWTON_TRUST`` standard errors of the estimates. How close
matters: the Hessian changes with the third derivatives of the deviance, and for small
groups (lme4's AGQ test of 100 pairs) a Hessian ``1e-3`` SE away moves the standard errors
by ``1e-4``, ten times lme4's own tolerance there; at ``ftol_abs = 1e-7`` the step is a few
``1e-5`` SE.
"""
from __future__ import annotations

import copy

import numpy as np

from ..core.glmm import BAD_OBJECTIVE, GlmmProblem, PirlsError, PirlsState
from ..core.optimize import OptSummary, bobyqa
from .glmer_derivs import laplace_derivatives

STAGE2_FTOL = 1e-7      # BOBYQA's ftol_abs in whitened units (about 3e-4 SE from the optimum)
FD_STEP = 1e-3          # finite-difference steps, in standard errors
NEWTON_TRUST = 1e-3     # longest final Newton step (SE) that keeps the Hessian where it was
NEWTON_ROUNDS = 4
EXACT_TRUST = 1e-5      # the same with exact derivatives (each round costs one PIRLS run)
EXACT_ROUNDS = 8
START_ROUNDS = 15       # Newton steps allowed from lme4's start (exact derivatives)
# PIRLS tolerances (on the largest step of eta or u) while optimising, for canonical links:
# Newton's method converges quadratically, so a run that stops after a step below tol has
# modes within about tol^2 of the exact ones; the Laplace deviance is stationary in u except
# for log|L|^2, whose error is at most about q_eff tol^2 (q_eff = sum of the leverages of the
# random effects) -- far below stage 1's ftol (1e-2), and in practice below stage 2's (1e-7):
# BOBYQA takes the same path as with 1e-7. The estimates and the derivatives use the
# problem's own tolerance (1e-7: modes exact to rounding).
STAGE1_PIRLS_TOL = 1e-4
STAGE2_PIRLS_TOL = 1e-5


class Deviance:
    """The deviance at ``pars`` with its PIRLS state, each PIRLS run started from a given
    state (``u``, and ``beta`` when ``joint``, are all PIRLS takes from it).

    ``joint=False`` (stage 2): ``pars = [phi, beta]``, PIRLS for ``u`` given ``beta``, the
    Laplace (``n_agq = 1``) or AGQ deviance. ``joint=True`` (stage 1, lme4's ``nAGQ = 0``):
    ``pars = phi``, PIRLS for ``beta`` and ``u`` together, the Laplace deviance.

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> prob = _demo_problem()
    >>> dev = Deviance(prob, None, 1)
    >>> f, st = dev(np.array([0.8, 0.1]), None)
    >>> bool(np.isclose(f, prob.objective(np.array([0.8, 0.1]))))
    True
    >>> f1, st1 = Deviance(prob, None, 1, joint=True)(np.array([0.8]), None)
    >>> bool(np.isclose(f1, prob.objective_theta(np.array([0.8]))))
    True
    """

    def __init__(self, problem: GlmmProblem, tm, n_agq: int, *, joint: bool = False):
        self.problem, self.tm, self.n_agq, self.joint = problem, tm, n_agq, joint
        self.count = 0

    def __call__(self, pars: np.ndarray, start: PirlsState | None
                 ) -> tuple[float, PirlsState | None]:
        prob = self.problem
        m = pars.size if self.joint else pars.size - prob.data.p
        theta = pars[:m] if self.tm is None else self.tm.theta(pars[:m])
        beta = None if self.joint else pars[m:]
        self.count += 1
        try:
            st = prob.pirls_or_cold(theta, beta, start)
        except PirlsError:
            return BAD_OBJECTIVE, None
        f = prob.laplace(st) if self.joint or self.n_agq <= 1 else prob.agq(st, self.n_agq)
        return float(f), st


class PredictedObjective:
    """``f(x) = dev(to_pars(x))`` for an optimiser, with each PIRLS run started from the
    modes (``beta`` and ``u``) that :class:`ModePredictor` predicts at ``x``; keeps the
    state of the best point.

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> prob = _demo_problem()
    >>> f = PredictedObjective(Deviance(prob, None, 1, joint=True), lambda x: x, 1)
    >>> bool(np.isclose(f(np.array([0.8])), prob.objective_theta(np.array([0.8]))))
    True
    >>> f.state_at(np.array([0.8])).theta.tolist()
    [0.8]
    """

    def __init__(self, dev: Deviance, to_pars, n: int, template: PirlsState | None = None):
        self.dev, self.to_pars = dev, to_pars
        self.modes = ModePredictor(n)
        self.template = template
        self.best: tuple[float, np.ndarray, PirlsState] | None = None

    def start_at(self, x: np.ndarray) -> PirlsState | None:
        v = self.modes.predict(x)
        if v is None or self.template is None:
            return self.template
        p = self.template.beta.size
        start = copy.copy(self.template)  # PIRLS reads only beta and u of a start
        start.beta, start.u = v[:p], v[p:]
        return start

    def __call__(self, x: np.ndarray) -> float:
        x = np.array(x, dtype=float)
        f, st = self.dev(self.to_pars(x), self.start_at(x))
        if st is not None:
            if self.template is None:
                self.template = st
            self.modes.add(x, np.concatenate([st.beta, st.u]))
            if self.best is None or f <= self.best[0]:
                self.best = (f, x, st)
        return f

    def state_at(self, x: np.ndarray) -> PirlsState | None:
        """The PIRLS state at ``x``: the best point's when ``x`` is it, else a new run."""
        if self.best is not None and np.array_equal(self.best[1], x):
            return self.best[2]
        return self.dev(self.to_pars(np.asarray(x, dtype=float)), self.start_at(x))[1]


def pirls_tolerance(problem: GlmmProblem, loosen: bool):
    """A setter of ``problem``'s PIRLS tolerance: ``set(tol)`` uses ``max(tol, own)``, and
    ``set(None)`` restores its own. Does nothing unless ``loosen`` and the link is canonical
    (Fisher scoring for other links converges linearly: its error is the tolerance itself).

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> prob = _demo_problem()
    >>> set_tol = pirls_tolerance(prob, True)
    >>> set_tol(1e-4); prob.tol
    0.0001
    >>> set_tol(None); prob.tol
    1e-07
    """
    own = problem.tol
    active = loosen and problem.data.family.canonical

    def set_tol(tol: float | None) -> None:
        if active:
            problem.tol = own if tol is None else max(own, tol)
    return set_tol


class ModePredictor:
    """Starts for PIRLS in both stages: the modes (stage 1: ``beta`` and ``u``; stage 2:
    ``u``) predicted linearly from the evaluations already made.

    BOBYQA's first ``2n + 1`` points are its start and a step of ``+-rho`` along each
    coordinate, which give the Jacobian ``J = du/dx`` by least squares (central differences).
    From then on the start at ``x`` is ``u(x_k) + J (x - x_k)`` for the nearest evaluated
    ``x_k``, whose error is second order in ``|x - x_k|`` (instead of first order for a start
    at the previous point): about one PIRLS iteration fewer per evaluation.

    Examples
    --------
    >>> pred = ModePredictor(2)
    >>> for x in ([0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]):
    ...     pred.add(np.array(x, float), np.array([2.0 * x[0] + x[1], 1.0]))
    >>> np.round(pred.predict(np.array([0.5, 0.5])), 12).tolist()
    [1.5, 1.0]
    """

    def __init__(self, n: int):
        self.n = n
        # the last `cap` evaluated points and their modes (a ring: memory stays
        # cap * q however many evaluations a fit makes; the first 2n + 1 are all kept)
        self.cap = max(64, 2 * n + 9)
        self._x = np.empty((self.cap, n))  # rows [:len(us)]
        self.us: list[np.ndarray] = []
        self._added = 0
        self.J: np.ndarray | None = None

    def add(self, x: np.ndarray, u: np.ndarray) -> None:
        k = self._added
        self._added += 1
        slot = k % self.cap
        self._x[slot] = x
        if slot == len(self.us):
            self.us.append(u)
        else:
            self.us[slot] = u
        if self.J is None and k + 1 == 2 * self.n + 1:
            dX = self._x[1:k + 1] - self._x[0]
            dU = np.array(self.us[1:]) - self.us[0]
            J, _, rank, _ = np.linalg.lstsq(dX, dU, rcond=None)
            if rank == self.n:
                self.J = J.T

    def predict(self, x: np.ndarray) -> np.ndarray | None:
        """The predicted modes at ``x`` (None before the first evaluation)."""
        if not self.us:
            return None
        d = self._x[:len(self.us)] - x
        k = int(np.argmin(np.einsum("ij,ij->i", d, d)))
        if self.J is None:
            return self.us[k]
        return self.us[k] - self.J @ d[k]


def fd_derivatives(dev: Deviance, x0: np.ndarray, st0: PirlsState, f0: float,
                   steps: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian over the ``free`` coordinates by finite differences.

    With ``f_{+i} = f(x + h_i e_i)`` and ``f_{-i}`` likewise:

    - gradient and diagonal by central differences, ``g_i = (f_{+i} - f_{-i}) / 2h_i`` and
      ``H_ii = (f_{+i} - 2 f_0 + f_{-i}) / h_i^2`` (errors ``O(h^2)``);
    - off-diagonal entries by ``H_ij = (f_{++} - f_{+i} - f_{+j} + 2 f_0 - f_{-i} - f_{-j}
      + f_{--}) / 2 h_i h_j`` with ``f_{++} = f(x + h_i e_i + h_j e_j)`` and ``f_{--}`` its
      mirror image (``n^2 + n`` evaluations in all; the one-sided formula with ``f_{++}``
      alone has an error ``(h/2)(f_iij + f_ijj)`` that moved standard errors by ``1e-4``).

    Each PIRLS run starts from modes ``u`` predicted to second order from the runs already
    made (``u(x - h e_i) ~ 2 u_0 - u(x + h e_i)``, ``u(x +- (h e_i + h e_j)) ~ u_0 +-
    (u(x + h e_i) + u(x + h e_j) - 2 u_0)``), which saves one PIRLS iteration of about three.

    Coordinates outside ``free`` get a zero gradient and an identity row and column.

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> prob = _demo_problem()
    >>> dev = Deviance(prob, None, 1)
    >>> x0 = np.array([0.8, 0.1])
    >>> f0, st0 = dev(x0, None)
    >>> g, H = fd_derivatives(dev, x0, st0, f0, np.array([1e-3, 1e-3]), np.array([True, True]))
    >>> bool(np.isclose(H[0, 1], H[1, 0])), bool(np.all(np.linalg.eigvalsh(H) > 0))
    (True, True)
    """
    n = x0.size
    idx = np.flatnonzero(free)
    grad, hess = np.zeros(n), np.eye(n)
    fp, fm, up = {}, {}, {}

    def at(delta: dict, u: np.ndarray | None) -> tuple[float, PirlsState | None]:
        x = x0.copy()
        for i, h in delta.items():
            x[i] += h
        if u is None:
            return dev(x, st0)
        start = copy.copy(st0)  # PIRLS reads only u of a start (beta is given)
        start.u = u
        return dev(x, start)

    with np.errstate(all="ignore"):
        for i in idx:
            h = steps[i]
            fp[i], st_p = at({i: h}, None)
            up[i] = st_p.u if st_p is not None else st0.u
            fm[i], _ = at({i: -h}, 2.0 * st0.u - up[i])
            grad[i] = (fp[i] - fm[i]) / (2.0 * h)
            hess[i, i] = (fp[i] - 2.0 * f0 + fm[i]) / h ** 2
        for a, i in enumerate(idx):
            for j in idx[:a]:
                hi, hj = steps[i], steps[j]
                du = up[i] + up[j] - 2.0 * st0.u
                f_pp, _ = at({i: hi, j: hj}, st0.u + du)
                f_mm, _ = at({i: -hi, j: -hj}, st0.u - du)
                hess[i, j] = hess[j, i] = (f_pp - fp[i] - fp[j] + 2.0 * f0 - fm[i] - fm[j]
                                           + f_mm) / (2.0 * hi * hj)
    return grad, hess


def held_fixed(phi: np.ndarray, lower: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Parameters within two finite-difference steps of their bound: their derivatives are
    not taken (the standard errors of beta are then conditional on them, as for a boundary
    fit in lme4)."""
    return np.isfinite(lower) & (phi - lower < 2 * steps[:phi.size])


def newton_polish(dev: Deviance, phi: np.ndarray, beta: np.ndarray, st: PirlsState,
                  fmin: float, lower: np.ndarray, scale: np.ndarray, derivs: bool,
                  exact: bool = False):
    """Derivatives at ``(phi, beta)`` and Newton steps onto the optimum (module docstring).

    ``exact``: the derivatives come from :func:`~multilevel.fit.glmer_derivs.
    laplace_derivatives` (one PIRLS run each, no finite differences), so they are
    recomputed after every step until a step is shorter than ``EXACT_TRUST`` standard
    errors: the Hessian is then that of the estimates themselves.

    Returns ``(phi, beta, state, fmin, grad, hess, log)``: ``hess`` is the Hessian of the
    last point where derivatives were computed, ``x_d``, and ``grad`` the gradient carried
    from there to the estimates by it, ``g(x_d) + H (x - x_d)`` (the gradient at the
    estimates up to third-order terms, since the last step is at most ``NEWTON_TRUST``
    standard errors); both ``None`` when ``derivs`` is False, in which case nothing is done.
    """
    if not derivs:
        return phi, beta, st, fmin, None, None, []
    return newton_steps(dev, phi, beta, st, fmin, lower, scale, exact)[:7]


def newton_steps(dev: Deviance, phi: np.ndarray, beta: np.ndarray, st: PirlsState,
                 fmin: float, lower: np.ndarray, scale: np.ndarray, exact: bool,
                 rounds: int | None = None):
    """:func:`newton_polish`'s iteration; returns its values and ``converged``: the last
    step was shorter than the trust length (taken or not) with a positive definite
    Hessian and no parameter held on its bound."""
    log: list[str] = []
    m = phi.size
    steps = FD_STEP * scale
    x = np.concatenate([phi, beta])
    grad = hess = None
    trust = EXACT_TRUST if exact else NEWTON_TRUST
    converged = False
    if rounds is None:
        rounds = EXACT_ROUNDS if exact else NEWTON_ROUNDS
    for _round in range(rounds):
        free = np.ones(x.size, dtype=bool)
        free[:m] = ~held_fixed(x[:m], lower, steps)
        x_d = x
        if exact:
            grad, hess = laplace_derivatives(dev.problem, st)
            grad[~free] = 0.0
            hess[~free, :] = 0.0
            hess[:, ~free] = 0.0
            hess[~free, ~free] = 1.0
        else:
            grad, hess = fd_derivatives(dev, x, st, fmin, steps, free)
        idx = np.flatnonzero(free)
        try:
            chol = np.linalg.cholesky(hess[np.ix_(idx, idx)])
        except np.linalg.LinAlgError:
            log.append("Newton step skipped: the Hessian is not positive definite")
            break
        dx = np.zeros(x.size)
        dx[idx] = -np.linalg.solve(chol.T, np.linalg.solve(chol, grad[idx]))
        size = float(np.max(np.abs(dx / scale), initial=0.0))
        improved = False
        for _halving in range(8):  # the step, halved while the deviance does not decrease
            x_new = x + dx
            x_new[:m] = np.maximum(x_new[:m], lower)
            f_new, st_new = dev(x_new, st)
            if st_new is not None and f_new <= fmin:
                x, st, fmin, improved = x_new, st_new, f_new, True
                break
            dx = 0.5 * dx
        log.append(f"Newton step of {size:.2g} standard errors"
                   + ("" if improved else " (no decrease: not taken)"))
        if size <= trust:
            converged = bool(np.all(free))
            break
        if not improved:
            break
    grad = grad + hess @ (x - x_d) if grad is not None else None
    return x[:m], x[m:], st, fmin, grad, hess, log, converged


def newton_from_start(dev: Deviance, theta0: np.ndarray, lower: np.ndarray):
    """Newton's method over ``(theta, beta)`` with exact derivatives straight from
    ``theta0`` (lme4's start) and the fixed effects of the joint PIRLS modes there: the
    optimum and its derivatives as :func:`newton_steps` returns them, or None when PIRLS
    fails, the Hessian at the start is not positive definite, or Newton's method does not
    converge off the bounds within :data:`START_ROUNDS` steps (then lme4's two stages run).

    Examples
    --------
    >>> from multilevel.core.glmm import _demo_problem
    >>> prob = _demo_problem()
    >>> out = newton_from_start(Deviance(prob, None, 1), np.array([1.0]), np.array([0.0]))
    >>> bool(np.isclose(out[3], prob.objective(np.concatenate([out[0], out[1]]))))
    True
    >>> out[-1][-1].startswith("Newton step")
    True
    """
    prob = dev.problem
    try:
        joint = prob.pirls(theta0)
    except PirlsError:
        return None
    f0, st0 = dev(np.concatenate([theta0, joint.beta]), joint)
    if st0 is None:
        return None
    _, H = laplace_derivatives(prob, st0)
    try:
        Hinv = np.linalg.inv(np.linalg.cholesky(H))
    except np.linalg.LinAlgError:
        return None
    scale = np.sqrt(2.0 * np.sum(Hinv ** 2, axis=0))  # standard errors at the start
    if not np.all(np.isfinite(scale) & (scale > 0)):
        return None
    out = newton_steps(dev, theta0, joint.beta, st0, f0, lower, scale, exact=True,
                       rounds=START_ROUNDS)
    return out[:7] if out[-1] else None


def bobyqa_unit_steps(fn, lower: np.ndarray, *, xtol_abs: float, ftol_abs: float,
                      maxeval: int) -> OptSummary:
    """BOBYQA from 0 with initial steps of 1 in every (standard-error scaled) coordinate.

    (NLopt's default step near a finite bound is a fraction of the distance to it, which in
    these units would be tens of standard errors.) Coordinates ending within ``1e-5`` of
    their bound are set onto it when that is no worse (lme4's ``check.boundary``).

    Examples
    --------
    >>> opt = bobyqa_unit_steps(lambda x: float((x[0] - 0.3) ** 2 + (x[1] + 0.2) ** 2),
    ...                         np.array([0.0, -np.inf]), xtol_abs=1e-8, ftol_abs=1e-12,
    ...                         maxeval=1000)
    >>> np.round(opt.theta, 4).tolist()
    [0.3, -0.2]
    """
    lower = np.asarray(lower, dtype=float)
    step = np.minimum(1.0, np.where(np.isfinite(lower), -lower, 1.0)).clip(1e-3)
    return bobyqa(fn, np.zeros(lower.size), lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs,
                  maxeval=maxeval, initial_step=step, restart_edge=False, keep_best=True)


def whitening(st1: PirlsState, se_beta: np.ndarray) -> np.ndarray:
    """``T`` with ``beta = beta_1 + T z``: ``R_X^{-1}`` of the stage-1 factor, or the
    diagonal of standard errors when that is not finite."""
    T = st1.sol.RX_inv
    if T.shape == (se_beta.size, se_beta.size) and np.all(np.isfinite(T)):
        return T
    return np.diag(se_beta)
