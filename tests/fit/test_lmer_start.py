"""Where lmer starts the optimiser: lme4's variance-ratio heuristic for scalar intercepts.

The expected starts were printed by R 4.2.2 / lme4 1.1-31 (a ``lmerControl(optimizer=)`` wrapper
that prints ``par`` with ``%.15g`` before calling ``nloptwrap``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

import multilevel as ml
from multilevel.design.model_frame import build_design
from multilevel.fit.lmer import lmer_problem, order_terms
from multilevel.fit.start import crossproduct_start, lmer_start

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

CASES = [  # (dataset, formula, lme4's start)
    ("Dyestuff", "Yield ~ 1 + (1 | Batch)", [0.97876050342587]),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)",
     [1.74491502214429, 3.59401348179836]),
    # nested: the group-mean variances exceed var(y), so lme4 keeps the identity start
    ("Pastes", "strength ~ 1 + (1 | cask:batch) + (1 | batch)", [1.0, 1.0]),
    # not all intercepts: identity start
    ("sleepstudy", "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", [1.0, 1.0]),
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", [1.0, 0.0, 1.0]),
]


def _start(dataset, formula):
    d = build_design(formula, ml.datasets.load(dataset))
    terms = order_terms(d.re_terms)
    return d, terms, lmer_start(terms, d.y)


@pytest.mark.parametrize("dataset, formula, want", CASES)
def test_start_is_lme4s(dataset, formula, want):
    _, _, got = _start(dataset, formula)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("dataset, formula, want", CASES)
def test_start_from_crossproducts_agrees(dataset, formula, want):
    d, terms, got = _start(dataset, formula)
    A = lmer_problem(d, terms).A
    np.testing.assert_allclose(crossproduct_start(A, terms), got, rtol=1e-10)


def test_fit_starts_there_and_weights_do_not_change_the_start():
    pen = ml.datasets.load("Penicillin")
    f = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    m = ml.lmer(f, pen)
    np.testing.assert_allclose(m.opt_summary.theta0, CASES[1][2], rtol=1e-12)
    w = np.linspace(0.5, 2.0, len(pen))
    mw = ml.lmer(f, pen, weights=w)
    np.testing.assert_allclose(mw.opt_summary.theta0, CASES[1][2], rtol=1e-12)


def test_same_factor_twice_keeps_identity_start():
    # lme4 needs one grouping factor per term (length(flist) == length(theta))
    d = build_design("Yield ~ 1 + (1 | Batch) + (1 | Batch)", ml.datasets.load("Dyestuff"))
    assert lmer_start(d.re_terms, d.y).tolist() == [1.0, 1.0]


def test_constant_response_keeps_identity_start():
    df = pd.DataFrame({"y": np.ones(12), "g": np.repeat(list("abcd"), 3)})
    d = build_design("y ~ 1 + (1 | g)", df)
    assert lmer_start(d.re_terms, d.y).tolist() == [1.0]


def test_insteval_start_is_lme4s():
    path = SHARED / "data" / "InstEval.csv"
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is absent)")
    df = pd.read_csv(path)
    for c in ["s", "d", "dept", "service"]:
        df[c] = df[c].astype(str)
    d = build_design("y ~ 1 + service + (1|s) + (1|d) + (1|dept:service)", df)
    got = lmer_start(order_terms(d.re_terms), d.y)
    np.testing.assert_allclose(got, [0.364143899231701, 0.490018915295868, 0.139938424261326],
                               rtol=1e-12)


def test_out_of_core_fit_starts_where_in_memory_does():
    pytest.importorskip("duckdb", reason="duckdb is not installed")
    pen = ml.datasets.load("Penicillin")
    m = ml.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", pen, engine="duckdb")
    np.testing.assert_allclose(m.opt_summary.theta0, CASES[1][2], rtol=1e-10)


@pytest.mark.parametrize("dataset, formula", [(c[0], c[1]) for c in CASES[:2]])
def test_narrow_trust_region_reaches_lme4s_path_optimum(dataset, formula):
    from multilevel.fit.lmer import LmerControl

    df = ml.datasets.load(dataset)
    lme4_path = ml.lmer(formula, df, control=LmerControl(step_fraction=None))
    narrow = ml.lmer(formula, df)
    assert narrow.opt_summary.theta0.tolist() == lme4_path.opt_summary.theta0.tolist()
    assert narrow.reml_crit == pytest.approx(lme4_path.reml_crit, abs=1e-7)
    np.testing.assert_allclose(narrow.theta, lme4_path.theta, rtol=1e-4)


def test_lme4_path_takes_lme4s_evaluations():
    # R: lmer(Yield ~ 1 + (1|Batch), Dyestuff)@optinfo$feval == 17
    from multilevel.fit.lmer import LmerControl

    m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"),
                control=LmerControl(step_fraction=None))
    assert m.opt_summary.feval == 17


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), formula=st.sampled_from(
    ["y ~ x + (1|a) + (1|b)", "y ~ 1 + (1|a)", "y ~ x + (1|a) + (1|a:b)"]),
    reml=st.booleans())
@example(seed=735, formula="y ~ x + (1|a) + (1|a:b)", reml=True)
@example(seed=107, formula="y ~ 1 + (1|a)", reml=False)  # NLopt's roundoff stop at theta = 0
def test_narrow_trust_region_never_stops_worse(seed, formula, reml):
    """On random data (singular fits included) the 10% first trust region reaches the
    optimum that lme4's path reaches: the criterion is never worse by more than rounding."""
    from multilevel.fit.lmer import LmerControl

    rng = np.random.default_rng(seed)
    n, la, lb = int(rng.integers(40, 300)), int(rng.integers(3, 25)), int(rng.integers(2, 10))
    a, b = rng.integers(0, la, n), rng.integers(0, lb, n)
    sa, sb = rng.choice([0.0, 0.05, 0.5, 2.0]), rng.choice([0.0, 0.1, 1.0])
    y = rng.normal(size=n) + sa * rng.normal(size=la)[a] + sb * rng.normal(size=lb)[b]
    df = pd.DataFrame({"y": y * 10 ** rng.uniform(-2, 3), "x": rng.normal(size=n),
                       "a": a.astype(str), "b": b.astype(str)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lme4_path = ml.lmer(formula, df, reml=reml, control=LmerControl(step_fraction=None))
        narrow = ml.lmer(formula, df, reml=reml)
    # BOBYQA stops on changes below ftol_abs = 1e-8: along a flat valley two stopping points
    # can differ by more (seed 735: 1.07e-6 on 777.0, both at theta_1 ~ 0.070)
    f = lme4_path.opt_summary.fmin
    assert narrow.opt_summary.fmin <= f + 1e-8 * max(1.0, abs(f))
