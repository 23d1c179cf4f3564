"""Numerical failures become the library's errors before any expensive work; large Poisson
counts fit as lme4 fits them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError

HERE = Path(__file__).parent / "data"
F = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


def test_more_coefficients_than_rows():
    rng = np.random.default_rng(1)
    d = pd.DataFrame(rng.normal(size=(8, 10)), columns=[f"x{i}" for i in range(10)])
    d["y"], d["g"] = rng.normal(size=8), list("aabbccdd")
    for k in (7, 10):
        f = "y ~ " + " + ".join(f"x{i}" for i in range(k)) + " + (1 | g)"
        with pytest.raises(DataError, match="no residual degrees of freedom"):
            ml.lmer(f, d)
    with pytest.raises(DataError, match="no residual degrees of freedom"):
        ml.lm("y ~ " + " + ".join(f"x{i}" for i in range(10)), d)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_glmer_more_coefficients_than_rows(family):
    rng = np.random.default_rng(2)
    d = pd.DataFrame(rng.normal(size=(8, 10)), columns=[f"x{i}" for i in range(10)])
    d["y"] = [0, 1, 2, 0, 1, 3, 1, 0] if family == "poisson" else [0, 1, 1, 0, 1, 0, 1, 0]
    d["g"] = list("aabbccdd")
    f = "y ~ " + " + ".join(f"x{i}" for i in range(10)) + " + (1 | g)"
    with pytest.warns(ml.errors.RankDeficiencyWarning), \
            pytest.raises(DataError, match="8 observations for 8 fixed-effect coefficients"):
        ml.glmer(f, d, family=family)


@pytest.mark.parametrize("factor, word", [(1e300, "overflow"), (1e-300, "underflow"),
                                          (1e160, "overflow"), (1e-160, "underflow")])
@pytest.mark.parametrize("column", ["Reaction", "Days"])
def test_extreme_magnitudes(sleep, factor, word, column):
    d = sleep.copy()
    d[column] = d[column] * factor
    with pytest.raises(DataError, match=word):
        ml.lmer(F, d)
    with pytest.raises(DataError, match=word):
        ml.lm("Reaction ~ Days", d)


@pytest.mark.parametrize("factor", [1e40, 1e120, 1e-120])
def test_large_rescaling_still_fits_as_lme4(sleep, factor):
    """lme4 fits the response scaled by 1e120 (fixef 2.514051e+122, 1.046729e+121)."""
    d = sleep.copy()
    d["Reaction"] = d["Reaction"] * factor
    m = ml.lmer(F, d)
    ref = ml.lmer(F, sleep)
    np.testing.assert_allclose(m.fixef.to_numpy() / factor, ref.fixef.to_numpy(), rtol=1e-6)


def test_constant_response_is_a_clear_error(sleep):
    d = sleep.copy()
    d["Reaction"] = 5.0
    with pytest.raises(DataError, match="constant"):
        ml.lmer(F, d)


@pytest.mark.parametrize("nsim", [-5, 0, 2.5, "10", None])
def test_bootstrap_and_simulate_check_nsim(sleep, nsim):
    m = ml.lmer(F, sleep)
    with pytest.raises(DataError, match="nsim"):
        ml.bootstrap(m, nsim=nsim, progress=False)
    with pytest.raises(DataError, match="nsim"):
        m.simulate(nsim)


@pytest.mark.parametrize("seed", [-1, 1.5, "abc", 2 ** 70])
def test_seeds_are_checked(sleep, seed):
    m = ml.lmer(F, sleep)
    with pytest.raises(DataError, match="seed"):
        m.simulate(2, seed=seed)


@pytest.mark.parametrize("level", [95, 0, 1, -0.5, float("nan"), "0.95"])
def test_confidence_levels_are_checked(sleep, level):
    m = ml.lmer(F, sleep)
    with pytest.raises(DataError, match="level"):
        m.confint(level=level, method="wald")


def test_huge_simulations_are_refused_before_allocating(sleep, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_MAX_BYTES", str(2 ** 30))
    m = ml.lmer(F, sleep)
    with pytest.raises(DataError, match="budget"):
        m.simulate(10 ** 9)
    with pytest.raises(DataError, match="budget"):
        ml.bootstrap(m, nsim=10 ** 9, progress=False)


def test_a_twenty_way_interaction_is_refused_with_its_size(sleep):
    d = sleep.copy()
    for i in range(19):
        d[f"x{i}"] = np.random.default_rng(i).normal(size=len(d))
    f = "Reaction ~ Days*" + "*".join(f"x{i}" for i in range(19))
    with pytest.raises(FormulaError, match=r"expands to 1,048,57\d terms"):
        ml.lm(f, d)
    with pytest.raises(FormulaError, match=r"expands to 1,048,57\d terms"):
        ml.lmer(f + " + (1 | Subject)", d)


def test_model_matrix_beyond_the_budget_is_refused(sleep, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_MAX_BYTES", "1000")
    with pytest.raises(DataError, match="model matrix"):
        ml.lmer(F, sleep)


def test_poisson_counts_near_1e9_fit_like_lme4():
    ref = json.loads((HERE / "pois1e9.json").read_text())
    d = pd.read_csv(HERE / "pois1e9.csv")
    with pytest.warns(Warning):  # lme4 warns too: nearly unidentifiable
        m = ml.glmer("y ~ x + (1 | g)", d, family="poisson")
    se = np.asarray(ref["se"])
    assert np.all(np.abs(m.fixef.to_numpy() - ref["fixef"]) < 2e-3 * se)
    assert m.theta.iloc[0] == pytest.approx(ref["theta"][0], abs=2e-3)
    assert m.loglik >= ref["loglik"][0] - 1e-6  # the same optimum (or a hair better)
