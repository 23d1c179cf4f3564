"""The blocked core against dense linear algebra on small random problems."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from multilevel.core.cholesky import BlockDiag, block_diagonal_terms, make_plan, update_L
from multilevel.core.crossprod import TermData, form_crossproducts
from multilevel.core.lmm import LmmProblem, cond_var
from multilevel.core.theta import split_theta

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def make_problem(seed: int, shapes: list[tuple], n: int = 60, p: int = 2):
    """Random terms; a shape ``(levels, q, "same")`` reuses the first term's grouping and
    ``(levels, q, "nested")`` groups the first term's levels (a coarser factor)."""
    rng = np.random.default_rng(seed)
    terms = []
    for levels, q, *link in shapes:
        if link == ["same"]:
            codes = terms[0].codes
        elif link == ["nested"]:
            codes = terms[0].codes % levels
        else:
            codes = rng.integers(0, levels, size=n)
            codes[:levels] = np.arange(levels)  # every level used
        Z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(q - 1)])
        terms.append(TermData(codes, Z, levels))
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n) * 2 + X @ np.arange(1, p + 1)
    theta = []
    for _, q, *_ in shapes:
        T = np.tril(rng.uniform(0.2, 1.5, size=(q, q)))
        theta.extend(T[i, j] for j in range(q) for i in range(j, q))  # column-major
    return terms, X, y, np.array(theta)


def dense_parts(terms, X, y, theta):
    ps = [t.p for t in terms]
    Zs, lams = [], []
    for t, T in zip(terms, split_theta(theta, ps)):
        Z = np.zeros((len(y), t.q))
        for a in range(t.p):
            Z[np.arange(len(y)), t.codes * t.p + a] = t.Z[:, a]
        Zs.append(Z)
        lams.append(np.kron(np.eye(t.n_levels), T))
    Z = np.hstack(Zs)
    Lam = sp.block_diag(lams).toarray()
    return Z, Lam


def dense_deviance(terms, X, y, theta, reml):
    Z, Lam = dense_parts(terms, X, y, theta)
    n, p = X.shape
    V = Z @ Lam @ Lam.T @ Z.T + np.eye(n)  # marginal covariance / sigma^2
    Vi = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    r = y - X @ beta
    q = float(r @ Vi @ r)
    ld = np.linalg.slogdet(V)[1]
    if reml:
        return ld + np.linalg.slogdet(X.T @ Vi @ X)[1] + (n - p) * (1 + np.log(2 * np.pi * q / (n - p))), beta
    return ld + n * (1 + np.log(2 * np.pi * q / n)), beta


SHAPES = [[(6, 1)], [(5, 2)], [(7, 1), (4, 1)], [(6, 2), (3, 1)], [(8, 1), (5, 2), (3, 1)],
          [(6, 1), (6, 1, "same")], [(6, 2), (6, 1, "same"), (4, 1)],
          [(8, 2), (4, 1, "nested")], [(8, 1), (5, 1), (8, 1, "same")]]


def test_structure_detects_terms_without_fill():
    terms, X, y, _ = make_problem(1, [(6, 1), (6, 1, "same"), (3, 1, "nested"), (4, 1)])
    assert block_diagonal_terms(form_crossproducts(terms, X, y)) == {1, 2}


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("reml", [True, False])
def test_objective_and_beta_match_dense(shapes, reml):
    terms, X, y, theta = make_problem(3, shapes)
    prob = LmmProblem(form_crossproducts(terms, X, y), reml=reml)
    want, beta = dense_deviance(terms, X, y, theta, reml)
    assert prob.objective(theta) == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(prob.solve(theta).beta, beta, rtol=1e-8)


@pytest.mark.parametrize("shapes", SHAPES)
def test_factor_reproduces_penalised_system(shapes):
    terms, X, y, theta = make_problem(5, shapes)
    A = form_crossproducts(terms, X, y)
    F = update_L(A, theta, make_plan(A))
    Z, Lam = dense_parts(terms, X, y, theta)
    W = np.hstack([Z @ Lam, X, y[:, None]])
    M = W.T @ W
    q = Z.shape[1]
    M[:q, :q] += np.eye(q)
    # assemble the dense L from its blocks
    sizes = [t.q for t in terms] + [X.shape[1] + 1]
    off = np.concatenate([[0], np.cumsum(sizes)])
    L = np.zeros_like(M)
    l0, p0 = terms[0].n_levels, terms[0].p
    for lev in range(l0):
        L[lev * p0:(lev + 1) * p0, lev * p0:(lev + 1) * p0] = F.L0[lev]
    for (i, j), B in F.blocks.items():
        B = B.dense() if isinstance(B, BlockDiag) else B
        L[off[i]:off[i + 1], off[j]:off[j + 1]] = B.toarray() if sp.issparse(B) else B
    np.testing.assert_allclose(L @ L.T, M, rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("shapes", SHAPES)
def test_cond_var_matches_dense_inverse(shapes):
    terms, X, y, theta = make_problem(7, shapes)
    A = form_crossproducts(terms, X, y)
    F = update_L(A, theta, make_plan(A))
    Z, Lam = dense_parts(terms, X, y, theta)
    q = Z.shape[1]
    full = Lam @ np.linalg.inv(Lam.T @ Z.T @ Z @ Lam + np.eye(q)) @ Lam.T * 4.0
    got = cond_var(A, F, sigma=2.0, chunk_entries=50)  # small chunks exercise the chunking
    off = 0
    for t, blocks in zip(terms, got):
        for lev in range(t.n_levels):
            s = off + lev * t.p
            np.testing.assert_allclose(blocks[lev], full[s:s + t.p, s:s + t.p], rtol=1e-8,
                                       atol=1e-12)
        off += t.q


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_objective_invariant_to_row_order_and_level_labels(seed, perm_seed):
    terms, X, y, theta = make_problem(seed, [(5, 2), (3, 1)], n=40)
    rng = np.random.default_rng(perm_seed)
    perm = rng.permutation(len(y))
    relabel = [rng.permutation(t.n_levels) for t in terms]
    terms2 = [TermData(r[t.codes[perm]], t.Z[perm], t.n_levels) for t, r in zip(terms, relabel)]
    a = LmmProblem(form_crossproducts(terms, X, y), reml=True).objective(theta)
    b = LmmProblem(form_crossproducts(terms2, X[perm], y[perm]), reml=True).objective(theta)
    assert a == pytest.approx(b, rel=1e-10)


def test_chunked_accumulation_equals_one_pass():
    terms, X, y, _ = make_problem(11, [(6, 2), (4, 1)], n=80)
    whole = form_crossproducts(terms, X, y)
    halves = [form_crossproducts([TermData(t.codes[s], t.Z[s], t.n_levels) for t in terms],
                                 X[s], y[s]) for s in (slice(0, 37), slice(37, 80))]
    np.testing.assert_allclose(whole.xy, halves[0].xy + halves[1].xy)
    for k in range(2):
        np.testing.assert_allclose(whole.diag[k], halves[0].diag[k] + halves[1].diag[k])
        np.testing.assert_allclose(whole.fixed[k], halves[0].fixed[k] + halves[1].fixed[k])
