"""simulate(), icc() and r2() (performance's values for sleepstudy)."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml


@pytest.fixture(scope="module")
def m(sleep):
    return ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)


def test_simulate_is_reproducible(m):
    a, b = m.simulate(4, seed=11), m.simulate(4, seed=11)
    assert a.shape == (180, 4) and list(a.columns) == ["sim_1", "sim_2", "sim_3", "sim_4"]
    assert a.equals(b)
    assert not a.equals(m.simulate(4, seed=12))
    assert a["sim_1"].equals(m.simulate(1, seed=11)["sim_1"])  # replicate i does not depend on nsim


def test_simulated_moments(m):
    sims = m.simulate(2000, seed=1).to_numpy()
    fixed = m.predict(re_form=None).to_numpy()
    assert np.abs(sims.mean(axis=1) - fixed).max() < 4 * 50 / np.sqrt(2000)
    # within-subject day-0 variance: intercept variance plus residual variance
    var0 = sims[m.design.X[:, 1] == 0].var(axis=1).mean()
    want = m.varcorr["vcov"].iloc[0] + m.sigma ** 2
    assert var0 == pytest.approx(want, rel=0.1)


def test_use_u_keeps_the_conditional_modes(m):
    sims = m.simulate(500, seed=3, use_u=True).to_numpy()
    np.testing.assert_allclose(sims.mean(axis=1), m.fitted.to_numpy(), atol=4 * m.sigma / 20)


def test_icc_and_r2_match_performance(m):
    # performance::icc(m): Adjusted ICC 0.722, Unadjusted ICC 0.521;
    # performance::r2_nakagawa(m): Conditional R2 0.799, Marginal R2 0.279
    assert m.icc().round(3).to_dict() == {"ICC_adjusted": 0.722, "ICC_unadjusted": 0.521}
    assert m.r2().round(3).to_dict() == {"R2_conditional": 0.799, "R2_marginal": 0.279}


def test_random_intercept_icc_is_the_variance_ratio():
    dye = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    v = dye.varcorr["vcov"].to_numpy()
    assert dye.icc()["ICC_adjusted"] == pytest.approx(v[0] / v.sum())
    assert dye.icc()["ICC_conditional"] == pytest.approx(v[0] / v.sum())  # no fixed variance
    assert dye.r2()["R2_marginal"] == pytest.approx(0.0, abs=1e-12)
