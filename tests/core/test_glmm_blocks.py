"""The block-structured PLS solvers of GLMMs against the general blocked path: same
``beta``, ``u``, ``L_XX`` and ``log|L|^2`` for one term, nested chains and crossed terms,
and the same PIRLS modes and Laplace deviance."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from multilevel.core.crossprod import TermData
from multilevel.core.families import Family
from multilevel.core.glmm import GlmmData, GlmmProblem
from multilevel.core.glmm_blocks import NestedPls, OneTermPls, VectorTermPls, nested_order
from multilevel.core.glmm_solvers import CrossedPls, block_pls


def _codes(rng, n, l):
    """Every level used at least once."""
    return rng.permutation(np.concatenate([np.arange(l), rng.integers(0, l, n - l)]))


def _design(rng, kind: str, n: int):
    unit = lambda: np.ones((n, 1))  # noqa: E731
    slope = lambda: rng.normal(size=(n, 1))  # noqa: E731
    if kind == "one":
        l = int(rng.integers(2, 12))
        terms = [TermData(_codes(rng, n, l), unit() if rng.random() < 0.7 else slope(), l)]
    elif kind == "vector":
        l = int(rng.integers(3, 10))
        k = int(rng.integers(2, 4))
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        terms = [TermData(_codes(rng, n, l), Z, l)]
    elif kind == "crossed_vector":
        Z = np.column_stack([np.ones(n), rng.normal(size=n)])
        terms = [TermData(_codes(rng, n, 4), unit(), 4), TermData(_codes(rng, n, 9), Z, 9)]
    elif kind == "nested":
        fine = _codes(rng, n, 24)
        mid = fine // 3
        top = mid // 3                            # 24 -> 8 -> 3 levels, each inside the next
        terms = [TermData(mid, unit(), 8), TermData(fine, slope(), 24), TermData(top, unit(), 3)]
    else:  # crossed
        terms = [TermData(_codes(rng, n, 5), unit(), 5), TermData(_codes(rng, n, 15), unit(), 15),
                 TermData(_codes(rng, n, 3), slope(), 3)][: int(rng.integers(2, 4))]
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    return terms, X


def _theta(rng, terms) -> np.ndarray:
    """Per term the lower triangle of ``T`` (column-major): positive diagonal."""
    out = []
    for t in terms:
        T = np.tril(rng.uniform(-0.4, 0.4, (t.p, t.p)))
        T[np.diag_indices(t.p)] = rng.uniform(0.2, 1.5, t.p)
        out.append(T.T[np.triu_indices(t.p)])
    return np.concatenate(out)


def _problem(terms, X, family, rng, blocks: bool) -> GlmmProblem:
    n = X.shape[0]
    eta = X @ np.array([0.2, 0.5, -0.4]) + 0.6 * rng.normal(size=n)
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    data = GlmmData(terms, X, y, np.ones(n), np.ones(n), np.zeros(n), Family.make(family))
    prob = GlmmProblem(data)
    if not blocks:
        prob._block_pls = False  # the general path
    return prob


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["one", "nested", "crossed", "vector", "crossed_vector"]))
def test_block_solve_equals_the_general_path(seed, kind):
    rng = np.random.default_rng(seed)
    n = 90
    terms, X = _design(rng, kind, n)
    pls = block_pls(terms, X)
    assert isinstance(pls, {"one": OneTermPls, "nested": NestedPls, "crossed": CrossedPls,
                            "vector": VectorTermPls, "crossed_vector": CrossedPls}[kind])
    prob = _problem(terms, X, "binomial", rng, blocks=False)
    theta = _theta(rng, terms)
    w, z = rng.uniform(0.05, 0.3, n), rng.normal(size=n)
    for mode, Xm in (("joint", X), ("u", X[:, :0])):
        sol = prob._to_solution(theta, prob._pls_parts(theta, Xm, z, w))
        beta, u, LXX, ld = pls.solve(theta, w, z, mode)
        np.testing.assert_allclose(beta, sol.beta, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(u, np.concatenate([x.ravel() for x in sol.u]), rtol=1e-9,
                                   atol=1e-11)
        np.testing.assert_allclose(ld, sol.logdet_re, rtol=1e-11)
        beta_m, u_m = pls.modes(theta, w, z, mode)          # what a PIRLS step asks for
        np.testing.assert_allclose(u_m, u, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(beta_m, beta, rtol=1e-12, atol=1e-14)
        assert LXX[-1, -1] ** 2 == pytest.approx(sol.pwrss, rel=1e-9)
    assert pls.logdet(theta, w) == pytest.approx(prob.logdet(theta, w), rel=1e-11)
    u = rng.normal(size=sum(t.q for t in terms))
    np.testing.assert_allclose(pls.zb(theta, u), prob.zb(theta, u), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["one", "nested", "crossed", "vector", "crossed_vector"])
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_pirls_modes_and_laplace_equal_the_general_path(kind, family):
    rng = np.random.default_rng(7)
    terms, X = _design(rng, kind, 150)
    fast = _problem(terms, X, family, np.random.default_rng(1), blocks=True)
    slow = _problem(terms, X, family, np.random.default_rng(1), blocks=False)
    assert fast._blocks() and not slow._blocks()
    theta = _theta(np.random.default_rng(2), terms)
    for beta in (None, np.array([0.1, 0.4, -0.3])):
        a, b = fast.pirls(theta, beta), slow.pirls(theta, beta)
        np.testing.assert_allclose(a.u, b.u, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8, atol=1e-10)
        assert fast.laplace(a) == pytest.approx(slow.laplace(b), rel=1e-10)
        np.testing.assert_allclose(a.sol.RX_inv, b.sol.RX_inv, rtol=1e-8, atol=1e-12)


def test_one_term_equals_the_nested_elimination():
    rng = np.random.default_rng(3)
    n = 70
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    for Z in (np.ones((n, 1)), rng.normal(size=(n, 1))):
        terms = [TermData(_codes(rng, n, 9), Z, 9)]
        one, nested = OneTermPls(terms, X), NestedPls(terms, X)
        w, z = rng.uniform(0.1, 1.0, n), rng.normal(size=n)
        for mode in ("joint", "u"):
            for a, b in zip(one.solve(np.array([0.7]), w, z, mode),
                            nested.solve(np.array([0.7]), w, z, mode)):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        assert one.logdet(np.array([0.7]), w) == pytest.approx(
            nested.logdet(np.array([0.7]), w), rel=1e-13)


def test_nested_order_and_fallbacks():
    g = np.repeat(np.arange(4), 5)
    a = TermData(g, np.ones((20, 1)), 4)
    ab = TermData(2 * g + (np.arange(20) % 5 >= 3), np.ones((20, 1)), 8)  # splits each level
    assert nested_order([a, ab]) == [1, 0]
    crossed = TermData(np.arange(20) % 4, np.ones((20, 1)), 4)
    assert nested_order([a, crossed]) is None
    vector = TermData(g, np.column_stack([np.ones(20), np.arange(20.0)]), 4)
    assert isinstance(block_pls([vector], np.ones((20, 1))), VectorTermPls)
    # (x | g) with scalar terms: eliminated first in CrossedPls; two of them: the general path
    pls = block_pls([crossed, vector], np.ones((20, 1)))
    assert isinstance(pls, CrossedPls) and pls.order == [1, 0]
    assert block_pls([vector, vector], np.ones((20, 1))) is None


def test_large_plans_keep_the_general_path(monkeypatch):
    from multilevel.core import glmm_solvers

    rng = np.random.default_rng(5)
    terms, X = _design(rng, "one", 120)
    assert block_pls(terms, X) is not None
    monkeypatch.setattr(glmm_solvers, "PLAN_MAX_ENTRIES", 100)
    assert block_pls(terms, X) is None
    prob = _problem(terms, X, "binomial", rng, blocks=True)
    assert not prob._blocks()
    st = prob.pirls(np.array([0.8]))
    assert st.converged and np.isfinite(prob.laplace(st))


@pytest.mark.parametrize("formula,family", [
    ("yp ~ x + offset(off) + (1 | g1/g3)", "poisson"),
    ("yb ~ x + (x | g1) + (1 | g2)", "binomial"),
])
def test_glmer_fits_equal_the_general_path(monkeypatch, formula, family):
    """Whole fits (both stages, derivatives) land where the general path lands."""
    import pandas as pd

    import multilevel as ml
    from multilevel.core import glmm

    rng = np.random.default_rng(11)
    n = 500
    g1, g2, x = rng.integers(0, 20, n), rng.integers(0, 6, n), rng.normal(size=n)
    eta = (0.2 + 0.5 * x + rng.normal(0, 0.7, 20)[g1] + rng.normal(0, 0.4, 6)[g2]
           + rng.normal(0, 0.4, 20)[g1] * x)
    df = pd.DataFrame({"x": x, "g1": pd.Categorical(g1), "g2": pd.Categorical(g2),
                       "g3": pd.Categorical(g1 * 3 + rng.integers(0, 3, n)),
                       "off": rng.normal(0, 0.1, n), "yp": rng.poisson(np.exp(eta)),
                       "yb": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)})
    fast = ml.glmer(formula, df, family=family)
    assert fast.problem._blocks()
    monkeypatch.setattr(glmm.GlmmProblem, "_blocks", lambda self: False)
    slow = ml.glmer(formula, df, family=family)
    assert fast.loglik == pytest.approx(slow.loglik, abs=1e-8)
    np.testing.assert_allclose(fast.fixef.to_numpy(), slow.fixef.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(fast.theta.to_numpy(), slow.theta.to_numpy(), atol=1e-6)


@pytest.mark.parametrize("columns", ["rows", "levels", "mixed"])
@pytest.mark.parametrize("n,by_cell", [(90, False), (1500, False), (1500, True)])
def test_cell_sums_equal_the_row_plans(monkeypatch, n, by_cell, columns):
    """Two crossed intercept terms: the per-cell sums give the factor of the row plans, with
    columns of X that vary within levels, that are constant within either term's levels
    (the intercept, a subject's or an item's covariate: no sums of their own), or both;
    rows read in data order (few rows, or neighbours in different cells) or in the spread
    order (rows sorted by cell)."""
    from multilevel.core import glmm_solvers

    rng = np.random.default_rng(13)
    terms = [TermData(_codes(rng, n, 30), np.ones((n, 1)), 30),
             TermData(_codes(rng, n, 7), np.ones((n, 1)), 7)]
    if by_cell:
        cell = np.argsort(terms[0].codes * 7 + terms[1].codes, kind="stable")
        terms = [TermData(t.codes[cell], t.Z, t.n_levels) for t in terms]
    a, b = terms[0].codes, terms[1].codes
    X = {"rows": np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]),
         "levels": np.column_stack([rng.normal(size=7)[b], np.ones(n), rng.normal(size=30)[a],
                                    rng.integers(0, 2, 7)[b]]),
         "mixed": np.column_stack([np.ones(n), rng.normal(size=7)[b], rng.normal(size=n)])
         }[columns]
    cells = CrossedPls(terms, X)
    assert cells._cells_data == (n > 1000 and not by_cell)
    K0, _, K1, _, free = cells._level_columns()
    assert (K0.size + K1.size == 0, free.size == 0) == (columns == "rows", columns == "levels")
    rows = CrossedPls(terms, X)
    rows._cells = None                                   # the rows' bincount plans
    monkeypatch.setattr(glmm_solvers, "PLAN_MAX_ENTRIES", 30 * 7 * 2)
    bounded = CrossedPls(terms, X)                       # joint cell sums over the bound
    assert cells._cell_plan("u") is not None
    assert (bounded._cell_plan("joint") is None) == (columns != "levels")
    theta, w, z = np.array([0.8, 0.5]), rng.uniform(0.05, 0.3, n), rng.normal(size=n)
    for mode in ("joint", "u"):
        want = rows.solve(theta, w, z, mode)
        for pls in (cells, bounded):
            for got, ref in zip(pls.solve(theta, w, z, mode), want):
                np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    assert cells.logdet(theta, w) == pytest.approx(rows.logdet(theta, w), rel=1e-12)
