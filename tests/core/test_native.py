"""The compiled inner loop (multilevel.core._criteria) against the numpy path it replaces.

The C criterion must equal the numpy criterion to rounding on every structure the dense
objective takes, say "bad" where numpy's Cholesky fails, and its NLopt runs in C must land
where NLopt's Python interface lands. Skipped, saying why, where the extension was not built.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import multilevel as ml
from multilevel.core import native
from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.dense_small import DenseObjective
from multilevel.core.lmm import BAD_OBJECTIVE, LmmProblem
from multilevel.core.optimize import bobyqa
from multilevel.core.theta import n_theta, theta_lower

needs_kernel = pytest.mark.skipif(
    not native.available(),
    reason="the C extension multilevel.core._criteria is not built here (no compiler at "
           "install time, or MULTILEVEL_NATIVE=0): the numpy path runs instead")


def _crossproducts(rng, ps, n, nested=False):
    """Terms with ``ps[k]`` effects and 2-6 levels each (crossed, or each nested in the
    previous one), two fixed effects."""
    terms, parent = [], None
    for p in ps:
        if nested and parent is not None:
            codes = parent * 2 + rng.integers(0, 2, n)
            l = int(codes.max()) + 1
        else:
            l = int(rng.integers(2, 7))
            codes = np.concatenate([np.arange(l), rng.integers(0, l, n - l)])
        codes = np.unique(codes, return_inverse=True)[1]
        l = int(codes.max()) + 1
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(codes, Z, l))
        parent = codes
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    return form_crossproducts(terms, X, rng.normal(size=n) + rng.normal(size=l)[codes])


def _numpy_problem(A, reml, log_det_w=0.0):
    prob = LmmProblem(A, reml=reml, log_det_w=log_det_w)
    prob._compiled_criterion = False  # the numpy criterion
    return prob


def _assert_block_criterion_is_numpys(A, ps, reml, rng):
    """The per-level compiled criterion equals numpy's objective at small, middling and
    large thetas, some on the boundary."""
    compiled = LmmProblem(A, reml=reml)._compiled()
    assert type(compiled).__name__ == "BlockCriterion"
    reference = _numpy_problem(A, reml)
    lower = theta_lower(ps)
    for scale in (1e-3, 0.7, 5.0):
        theta = np.where(np.isfinite(lower), rng.uniform(0.0, scale, lower.size),
                         rng.normal(0, scale, lower.size))
        theta[rng.uniform(size=lower.size) < 0.2] = 0.0
        np.testing.assert_allclose(compiled(theta), reference.objective(theta), rtol=1e-10)


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       reml=st.booleans(), nested=st.booleans(), log_det_w=st.sampled_from([0.0, -3.5]))
def test_compiled_criterion_equals_numpy(seed, ps, reml, nested, log_det_w):
    rng = np.random.default_rng(seed)
    A = _crossproducts(rng, ps, 60, nested)
    prob = LmmProblem(A, reml=reml, log_det_w=log_det_w)
    compiled = prob._compiled()
    if compiled is None:  # too large for the dense objective, or no quadratic expansion
        assert not isinstance(prob._fast(), DenseObjective) or prob._fast()._expansion is None
        return
    reference = _numpy_problem(A, reml, log_det_w)
    lower = theta_lower(ps)
    m = sum(n_theta(p) for p in ps)
    for scale in (1e-3, 0.5, 2.0, 30.0):
        theta = np.where(np.isfinite(lower), rng.uniform(0.0, scale, m), rng.normal(0, scale, m))
        theta[rng.uniform(size=m) < 0.2] = 0.0  # some on the boundary
        np.testing.assert_allclose(compiled(theta), reference.objective(theta), rtol=1e-11)
        # a list works as well as an array; the batch of the checks gives the same values
        assert compiled(theta.tolist()) == compiled(theta)
        np.testing.assert_allclose(prob.objectives(theta[None, :])[0], compiled(theta),
                                   rtol=0, atol=0)


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(1, 4), levels=st.integers(2, 80),
       n_fixed=st.integers(1, 6), reml=st.booleans())
def test_one_grouping_factor_of_any_size_equals_numpy(seed, p, levels, n_fixed, reml):
    """The compiled per-level elimination (BlockCriterion) against numpy's closed form or
    nested factor, from tiny terms to the sizes where numpy takes the closed form."""
    rng = np.random.default_rng(seed)
    n = levels * 6
    codes = np.concatenate([np.arange(levels), rng.integers(0, levels, n - levels)])
    Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(n_fixed - 1)])
    y = X @ rng.normal(size=n_fixed) + rng.normal(size=levels)[codes] + rng.normal(size=n)
    A = form_crossproducts([TermData(codes, Z, levels)], X, y)
    _assert_block_criterion_is_numpys(A, [p], reml, rng)


@needs_kernel
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p1=st.integers(1, 2), p2=st.integers(1, 2),
       levels=st.integers(20, 70), small=st.integers(2, 8), nested=st.booleans(),
       reml=st.booleans())
def test_a_large_first_term_with_small_others_equals_numpy(seed, p1, p2, levels, small,
                                                           nested, reml):
    """Crossed (subjects x a few items) or nested (pupils in a few schools): the first term
    eliminated by levels, the rest factored densely, against numpy's Schur, nested or dense
    objective."""
    rng = np.random.default_rng(seed)
    n = levels * 5
    first = np.concatenate([np.arange(levels), rng.integers(0, levels, n - levels)])
    if nested:
        top = np.arange(levels) % small
        second = top[first]
    else:
        second = np.concatenate([np.arange(small), rng.integers(0, small, n - small)])
    terms = []
    for codes, p, l in ((first, p1, levels), (second, p2, small)):
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
        terms.append(TermData(codes, Z, l))
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(size=levels)[first] + rng.normal(size=small)[second] \
        + rng.normal(size=n)
    A = form_crossproducts(terms, X, y)
    _assert_block_criterion_is_numpys(A, [p1, p2], reml, rng)


@needs_kernel
def test_many_levels_stay_with_numpys_closed_form():
    """Beyond BLOCK_COMPILED_MAX_LEVELS numpy's vectorised closed form costs less per
    evaluation than the compiled loop over levels."""
    from multilevel.core.lmm import BLOCK_COMPILED_MAX_LEVELS

    rng = np.random.default_rng(1)
    for levels, compiled in ((BLOCK_COMPILED_MAX_LEVELS, True),
                             (BLOCK_COMPILED_MAX_LEVELS + 1, False)):
        codes = np.repeat(np.arange(levels), 2)
        A = form_crossproducts([TermData(codes, np.ones((codes.size, 1)), levels)],
                               np.ones((codes.size, 1)), rng.normal(size=codes.size))
        assert (LmmProblem(A)._compiled() is not None) is compiled


@needs_kernel
def test_bad_value_where_the_system_is_not_positive_definite():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(4), 5)
    X = np.ones((20, 1))
    # y fitted exactly by the fixed effects: the residual pivot is zero, numpy's Cholesky fails
    A = form_crossproducts([TermData(g, np.ones((20, 1)), 4)], X, np.full(20, 2.0))
    prob = LmmProblem(A, reml=False)
    compiled = prob._compiled()
    assert compiled(np.array([0.5])) == BAD_OBJECTIVE == _numpy_problem(A, False).objective(
        np.array([0.5]))
    A = form_crossproducts([TermData(g, np.ones((20, 1)), 4)], X, rng.normal(size=20))
    compiled = LmmProblem(A)._compiled()
    assert compiled(np.array([np.nan])) == BAD_OBJECTIVE
    slopes = np.column_stack([np.ones(20), rng.normal(size=20)])
    A = form_crossproducts([TermData(g, slopes, 4)], X, rng.normal(size=20))
    assert LmmProblem(A)._compiled()(np.array([np.nan, 0.0, 1.0])) == BAD_OBJECTIVE
    with pytest.raises(ValueError, match="theta has 2 values, expected 1"):
        compiled(np.array([0.5, 0.5]))
    with pytest.raises(TypeError):
        compiled("a")


@needs_kernel
@pytest.mark.parametrize("formula, reml", [
    ("Reaction ~ Days + (Days | Subject)", True),   # one factor: by levels
    ("Reaction ~ Days + (Days | Subject)", False),
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", True),  # the dense system
])
def test_compiled_bobyqa_lands_where_the_python_interface_lands(formula, reml):
    m = ml.lmer(formula, ml.datasets.load("sleepstudy"), reml=reml)
    compiled = m.problem._compiled()
    assert compiled is not None and hasattr(compiled, "minimize")
    reference = _numpy_problem(m.problem.A, reml)
    start, lower = m.opt_summary.theta0, m.opt_summary.lower
    a = bobyqa(compiled, start, lower)
    b = bobyqa(reference.objective_function(), start, lower)
    assert a.return_code == b.return_code
    np.testing.assert_allclose(a.theta, b.theta, atol=2e-5)
    np.testing.assert_allclose(a.fmin, b.fmin, rtol=1e-10)
    # and the fit itself used the compiled run: its optimum is this one
    np.testing.assert_allclose(m.opt_summary.fmin, a.fmin, rtol=1e-12)


@needs_kernel
def test_compiled_run_answers_a_roundoff_stop_with_the_best_point():
    """A criterion flat to the last bits near its optimum stops NLopt on roundoff: the run
    returns the best point it evaluated, as NLopt's C interface does (and lme4 with it)."""
    rng = np.random.default_rng(0)
    A = _crossproducts(rng, [1], 40)
    compiled = LmmProblem(A, reml=False)._compiled()
    opt = bobyqa(compiled, np.array([1.0]), np.array([0.0]), xtol_abs=0.0, ftol_abs=0.0)
    reference = bobyqa(_numpy_problem(A, False).objective_function(), np.array([1.0]),
                       np.array([0.0]), xtol_abs=0.0, ftol_abs=0.0)
    assert opt.return_code == reference.return_code == "ROUNDOFF_LIMITED"
    assert "NLopt stopped: roundoff limited" in opt.messages
    np.testing.assert_allclose(opt.fmin, reference.fmin, rtol=1e-12)
    assert opt.fmin < compiled(np.array([1.0]))


def test_without_the_extension_the_same_fit_runs_through_numpy():
    code = ("import multilevel as ml, numpy as np; from multilevel.core import native;"
            "m = ml.lmer('Reaction ~ Days + (Days | Subject)', ml.datasets.load('sleepstudy'));"
            "print(native.available(), m.problem._compiled(), repr(float(m.loglik)),"
            "      repr(m.theta.tolist()))")
    env = dict(os.environ, MULTILEVEL_NATIVE="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split(maxsplit=2)
    assert out[:2] == ["False", "None"]
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    loglik, theta = out[2].split(maxsplit=1)
    np.testing.assert_allclose(float(loglik), float(m.loglik), rtol=1e-10)
    np.testing.assert_allclose(ast.literal_eval(theta), m.theta.to_numpy(), atol=2e-5)


def test_the_extension_is_built_where_a_compiler_is():
    """`pip install` builds the extension optionally (no compiler: numpy runs the same fits);
    on a machine with a C compiler a missing extension means the build failed unseen."""
    if os.environ.get("MULTILEVEL_NATIVE") == "0":
        pytest.skip("MULTILEVEL_NATIVE=0 turns the compiled criteria off")
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) here: the numpy path is the installed one")
    assert native.available(), (
        "a C compiler is here, but multilevel.core._criteria is not built or cannot find "
        "NLopt's C functions: reinstall with `pip install -e .` and read its build output")
