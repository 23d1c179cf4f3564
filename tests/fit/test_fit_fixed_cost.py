"""The work around lmer's optimiser done once or on demand: the same numbers as doing it
every fit (lazy solution, shared identity ThetaMap, cached identity start, lme4's
finite-difference stencil built as one array, cached call sites)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import multilevel as ml
from multilevel.core.covstruct import ThetaMap
from multilevel.fit.checks import check_convergence, fd_derivs
from multilevel.fit.start import initial_step, lmer_start


def test_the_solution_is_computed_when_first_read_and_equals_the_eager_one():
    sleep = ml.datasets.load("sleepstudy")
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert "_sol" not in m.__dict__  # the fit did not solve at the optimum
    eager = m.problem.solve(m.opt_summary.theta)
    assert m.fixef.tolist() == eager.beta.tolist()
    assert m.sigma == eager.sigma
    assert all(np.array_equal(a, b) for a, b in zip(m._b, eager.b))
    assert round(m.loglik, 3) == -871.814


def test_identity_maps_are_shared_and_structured_ones_are_not():
    sleep = ml.datasets.load("sleepstudy")
    a = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    b = ml.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
    assert a.theta_map is b.theta_map and a.theta_map.identity
    assert isinstance(a.theta_map.structures, tuple)
    d = ml.lmer("Reaction ~ Days + diag(1 + Days | Subject)", sleep)
    assert not d.theta_map.identity and d.theta_map is not ThetaMap.for_terms(d.terms)
    tm = a.theta_map
    assert tm.is_singular(np.array([1e-5, 0.3, 1.0]), 1e-4)
    assert not tm.is_singular(np.array([1.0, -1e-5, 1.0]), 1e-4)  # off-diagonal: no bound


def test_a_shared_identity_map_cannot_be_changed_by_a_caller():
    tm = ThetaMap.for_terms(ml.lmer("Reaction ~ Days + (Days | Subject)",
                                    ml.datasets.load("sleepstudy")).terms)
    assert tm.sizes == (3,) and tm.n_theta == 3
    for arr in (tm._lower, tm._diagonal):
        with pytest.raises(ValueError):
            arr[0] = 5.0
    lower = tm.lower  # a copy the caller owns
    lower[0] = 5.0
    assert tm.lower.tolist() == [0.0, -np.inf, 0.0]


def test_identity_start_and_step_are_fresh_arrays():
    d = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy")).design
    s1 = lmer_start(d.re_terms, d.y)
    s1[0] = 5.0  # the caller owns it: the next start is unchanged
    assert lmer_start(d.re_terms, d.y).tolist() == [1.0, 0.0, 1.0]
    assert initial_step(np.array([1.0, 0.0, 1.0]), [2]) is None
    assert initial_step([1, 0, 1], [2]) is None
    # another size is not the identity start (np.array_equal's answer)
    assert initial_step(np.array([1.0, 0.0, 1.0, 1.0]), [2]).tolist() == [0.1, 1e-3, 0.1, 0.1]
    assert initial_step(np.array([0.5, 0.0]), [1, 1]).tolist() == [0.05, 1e-3]


def _fd_reference(fn, x, lower, delta=1e-4):
    """lme4's stencil as fd_derivs listed it point by point (c, c + h_i, c - h_i, pairs)."""
    n = x.size
    step = np.full(n, delta)
    c = np.where(x - step < lower, lower + step, x)
    E = np.diag(step)
    pairs = [(i, j) for i in range(n) for j in range(i)]
    points = [c] + [c + s * E[i] for i in range(n) for s in (1.0, -1.0)]
    points += [c + E[i] + E[j] for i, j in pairs]
    values = np.array([fn(pt) for pt in points], dtype=float)
    fc, values = float(values[0]), values[1:]
    fp, fm = values[0:2 * n:2], values[1:2 * n:2]
    grad = (fp - fm) / (2 * step)
    hess = np.diag((fp - 2 * fc + fm) / step ** 2)
    for (i, j), fpp in zip(pairs, values[2 * n:]):
        hess[i, j] = hess[j, i] = (fpp - fp[i] - fp[j] + fc) / (step[i] * step[j])
    return grad, hess, points


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), at_bound=st.booleans(),
       batched=st.booleans())
def test_fd_derivs_is_lme4s_stencil_to_the_last_bit(n, seed, at_bound, batched):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    x0 = rng.normal(size=n)
    seen = []

    def fn(t):
        seen.append(np.array(t))
        return float((t - x0) @ A @ A.T @ (t - x0) + np.sin(t).sum())

    x = x0 + rng.normal(size=n) * 10.0 ** rng.integers(-6, 1)
    lower = np.where(rng.uniform(size=n) < 0.5, 0.0, -np.inf)
    x = np.where(lower == 0, np.abs(x), x)
    if at_bound:
        x[0], lower[0] = 0.0, 0.0
    g_ref, h_ref, points = _fd_reference(fn, x, lower)
    seen.clear()
    many = (lambda P: np.array([fn(p) for p in P])) if batched else None
    g, h = fd_derivs(fn, x, lower, fn_many=many, f_x=None if batched else fn(x))
    assert np.array_equal(g, g_ref, equal_nan=True) and np.array_equal(h, h_ref, equal_nan=True)
    evaluated = seen[1:] if not batched else seen  # the centre given as f_x, then the points
    expected = points if batched or not np.array_equal(points[0], x) else points[1:]
    assert all(np.array_equal(a, b) for a, b in zip(evaluated[-len(expected):], expected))
    ref_msgs = []
    try:
        scaled = np.linalg.solve(np.linalg.cholesky(h_ref).T, g_ref)
        worst = np.minimum(np.abs(scaled), np.abs(g_ref))
    except np.linalg.LinAlgError:
        worst = np.abs(g_ref)
        ref_msgs.append("unidentifiable")
    msgs = check_convergence(fn, x, lower)
    assert ("Model failed" in " ".join(msgs)) == bool(np.max(worst) > 2e-3)
    assert ("unidentifiable" in " ".join(msgs)) == bool(ref_msgs)


def test_two_call_sites_in_one_function_keep_their_names():
    from multilevel._callsite import caller_data_name

    first, second = object(), object()

    def both():
        return caller_data_name(data=first), caller_data_name(data=second)

    assert both() == ("first", "second")
    assert both() == ("first", "second")  # read again from the cache
