"""Parametric bootstrap: reproducibility, intervals, and coverage with known parameters."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.inference.bootstrap import norm_inter


@pytest.fixture(scope="module")
def dye():
    return ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))


def test_same_seed_same_replicates_whatever_the_workers(dye):
    a = ml.bootstrap(dye, nsim=12, seed=7, n_jobs=1, progress=False)
    b = ml.bootstrap(dye, nsim=12, seed=7, n_jobs=2, progress=False)
    c = ml.bootstrap(dye, nsim=12, seed=8, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(a.t, b.t)
    assert not np.allclose(a.t.to_numpy(), c.t.to_numpy())
    assert list(a.t.columns) == [".sig01", ".sigma", "(Intercept)"]
    assert a.t0["(Intercept)"] == pytest.approx(dye.fixef["(Intercept)"])


def test_worker_processes_give_the_same_result(dye, monkeypatch):
    boot = importlib.import_module("multilevel.inference.bootstrap")
    monkeypatch.setattr(boot, "POOL_MIN_SECONDS", 0.0)  # force the process pool
    a = ml.bootstrap(dye, nsim=10, seed=3, n_jobs=2, progress=False)
    b = ml.bootstrap(dye, nsim=10, seed=3, n_jobs=1, progress=False)
    pd.testing.assert_frame_equal(a.t, b.t)


def test_custom_statistic_and_intervals(dye, capsys):
    b = ml.bootstrap(dye, nsim=30, seed=1, func=lambda f: f.fixef, n_jobs=1, progress=True)
    assert "bootstrap [" in capsys.readouterr().err
    perc, basic = b.confint(type="perc"), b.confint(type="basic")
    t0 = b.t0["(Intercept)"]
    assert basic.loc["(Intercept)", "lower"] == pytest.approx(
        2 * t0 - perc.loc["(Intercept)", "upper"])
    norm = b.confint(type="norm")
    assert norm.loc["(Intercept)", "lower"] < t0 < norm.loc["(Intercept)", "upper"]


def test_norm_inter_matches_boot():
    t = np.arange(1.0, 20.0)  # R = 19: (R + 1) * 0.025 = 0.5 -> extreme order statistic
    assert norm_inter(t, np.array([0.025]))[0] == 1.0
    t = np.arange(1.0, 40.0)  # (R + 1) * alpha = 1.0 and 39.0: exact order statistics
    np.testing.assert_allclose(norm_inter(t, np.array([0.025, 0.975])), [1.0, 39.0])
    t = np.linspace(0, 1, 100)
    lo = norm_inter(t, np.array([0.05]))[0]  # rk = 5.05, between t[4] and t[5]
    assert t[4] < lo < t[5]


def test_boot_confint_method(dye):
    ci = dye.confint(method="boot", nsim=20, seed=2, n_jobs=1, progress=False, readable=True)
    assert list(ci.index) == ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
    assert (ci["lower"] <= ci["upper"]).all()


def test_coverage_with_known_parameters():
    """Percentile intervals from 60 replicates cover the true values about 95% of the time."""
    rng = np.random.default_rng(2024)
    n_groups, n_per, beta, sd_u, sigma = 15, 6, np.array([10.0, 2.0]), 1.5, 1.0
    g = np.repeat(np.arange(n_groups), n_per)
    hits, n_data = np.zeros(3), 24
    for _ in range(n_data):
        x = rng.normal(size=g.size)
        y = beta[0] + beta[1] * x + rng.normal(0, sd_u, n_groups)[g] + rng.normal(0, sigma, g.size)
        df = pd.DataFrame({"y": y, "x": x, "g": [f"g{i:02d}" for i in g]})
        m = ml.lmer("y ~ x + (1 | g)", df)
        b = ml.bootstrap(m, nsim=60, seed=int(rng.integers(1 << 31)), n_jobs=1, progress=False)
        ci = b.confint(level=0.95)
        truth = {"(Intercept)": beta[0], "x": beta[1], ".sigma": sigma}
        for k, (name, v) in enumerate(truth.items()):
            hits[k] += ci.loc[name, "lower"] <= v <= ci.loc[name, "upper"]
    coverage = hits / n_data
    assert np.all(coverage >= 0.75), coverage  # 95% nominal; binomial sd ~ 4.5% at n = 24
