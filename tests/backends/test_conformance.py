"""Backend conformance: the engine's blocks of A equal the core's dense/in-memory ones."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.design.model_frame import build_design
from multilevel.fit.lmer import lmer_problem, order_terms

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
pytestmark = pytest.mark.backend


def _dense(M):
    return M.toarray() if hasattr(M, "toarray") else np.asarray(M)


@pytest.mark.parametrize("formula", [
    "y ~ x + f + (1 + x | g) + (1 | item)",
    "y ~ z + (1 | g) + (0 + x | g) + (1 | f:item)",
    "y ~ x * f + (1 | item/g)",
])
def test_engine_blocks_equal_in_memory_blocks(formula, data_small):
    from multilevel.backends import open_source
    from multilevel.backends.accumulate import accumulate, rank_mask_gram
    from multilevel.backends.sql_frame import frame_sql
    from multilevel.fit.lmer_source import _order, source_crossproducts

    design = build_design(formula, data_small)
    A0 = lmer_problem(design, order_terms(design.re_terms)).A
    t = open_source(data_small, engine="duckdb")
    sd = frame_sql(formula, t)
    sums = accumulate(t, sd)
    p = len(sd.x)
    keep = rank_mask_gram(sums.xy[:p, :p], sums.nobs)
    A1 = source_crossproducts(sd, sums, keep, _order([len(s.levels) for s in sums.terms]))
    assert A1.ps == A0.ps and A1.n_levels == A0.n_levels and A1.nobs == A0.nobs
    np.testing.assert_allclose(A1.xy, A0.xy, rtol=1e-12, atol=1e-9)
    for d1, d0 in zip(A1.diag, A0.diag):
        np.testing.assert_allclose(d1, d0, rtol=1e-12, atol=1e-9)
    for f1, f0 in zip(A1.fixed, A0.fixed):
        np.testing.assert_allclose(f1, f0, rtol=1e-12, atol=1e-9)
    assert A1.cross.keys() == A0.cross.keys()
    for key in A0.cross:
        np.testing.assert_allclose(_dense(A1.cross[key]), _dense(A0.cross[key]), atol=1e-9)


def test_rank_rule_from_the_gram_matrix_agrees_with_r_rule():
    from multilevel.backends.accumulate import rank_mask_gram
    from multilevel.design.rank import rank_mask

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    X = np.column_stack([np.ones(500), X, X[:, 0] - 2 * X[:, 1], (X[:, 2] > 0) * 1.0,
                         (X[:, 2] <= 0) * 1.0])
    assert rank_mask_gram(X.T @ X, 500).tolist() == rank_mask(X).tolist()


def test_dyestuff_through_a_dict_source_name():
    m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"), engine="duckdb")
    assert m.ngrps.to_dict() == {"Batch": 6}
