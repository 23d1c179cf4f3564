"""Kenward-Roger: the q x q formulation against pbkrtest's n x n algebra, repeated densely."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.core.theta import lower_tri_indices
from multilevel.errors import DataError
from multilevel.inference.kenward_roger import kr_ddf, kr_ftest, vcov_adjusted


def pbkrtest_dense(m):
    """pbkrtest's vcovAdj16_internal, line by line, with n x n matrices."""
    X = m.design.X
    n = X.shape[0]
    G, gam = [], []
    for t, T in zip(m.terms, m.problem.factor(m.theta.to_numpy()).T):
        S = m.sigma ** 2 * T @ T.T
        Z = np.zeros((n, t.n_levels * t.p))
        for a in range(t.p):
            Z[np.arange(n), t.codes * t.p + a] = t.Z[:, a]
        for i, j in zip(*lower_tri_indices(t.p)):
            E = np.zeros((t.p, t.p))
            E[i, j] = E[j, i] = 1
            G.append(Z @ np.kron(np.eye(t.n_levels), E) @ Z.T)
            gam.append(S[i, j])
    G.append(np.eye(n))
    gam.append(m.sigma ** 2)
    Sinv = np.linalg.inv(sum(g * Gi for g, Gi in zip(gam, G)))
    SinvX, SinvG = Sinv @ X, [Sinv @ Gi for Gi in G]
    k, Phi = len(G), m.vcov.to_numpy()
    OO = [Gi @ SinvX for Gi in G]
    P = [-O.T @ SinvX for O in OO]
    Q = {(r, s): OO[r].T @ SinvG[s] @ SinvX for r in range(k) for s in range(r, k)}
    K = np.array([[np.sum(SinvG[r].T * SinvG[s]) for s in range(k)] for r in range(k)])
    IE2 = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            IE2[i, j] = IE2[j, i] = (K[i, j] - 2 * np.sum(Phi * Q[i, j])
                                     + np.sum((Phi @ P[i]) * (P[j] @ Phi)))
    W = 2 * np.linalg.inv(IE2)
    U = sum(W[i, j] * (Q[i, j] - P[i] @ Phi @ P[j]) for i in range(k) for j in range(i + 1, k))
    U = U + U.T + sum(W[i, i] * (Q[i, i] - P[i] @ Phi @ P[i]) for i in range(k))
    return Phi + 2 * Phi @ U @ Phi, W


@pytest.mark.parametrize("formula, data", [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes"),
])
def test_adjusted_vcov_equals_dense_pbkrtest(formula, data):
    m = ml.lmer(formula, ml.datasets.load(data))
    want, W = pbkrtest_dense(m)
    adj = vcov_adjusted(m)
    np.testing.assert_allclose(adj.vcov_adj, want, rtol=1e-9)
    np.testing.assert_allclose(adj.W, W, rtol=1e-8, atol=1e-12 * np.abs(W).max())


def test_balanced_designs_give_the_classical_df(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    tab = m.coef_table(ddf="kenward-roger")
    np.testing.assert_allclose(tab["df"], [17.0, 17.0], rtol=1e-9)  # pbkrtest: 17, 17
    dye = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    assert dye.coef_table(ddf="kr").loc["(Intercept)", "df"] == pytest.approx(5.0, rel=1e-9)


def test_f_test_scaling_and_summary(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    r = kr_ftest(m, np.array([[0.0, 1.0]]))
    t = m.coef_table(ddf="kr").loc["Days", "statistic"]
    assert r["F_unscaled"] == pytest.approx(t ** 2, rel=1e-10)
    assert r["ddf"] == pytest.approx(kr_ddf(vcov_adjusted(m), [[0.0, 1.0]])["ddf"])
    assert "Kenward-Roger's method" in str(m.summary(ddf="kenward-roger"))
    tab = m.anova(ddf="kenward-roger")
    assert tab.loc["Days", "F value"] == pytest.approx(r["F"], rel=1e-12)


def test_ml_fits_are_refused(sleep):
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)
    with pytest.raises(DataError, match="only available for REML"):
        m.coef_table(ddf="kenward-roger")
