"""ml.power: honest at effect 0 (rejection rate = the test's level within simulation error),
seeded, the refits equal full fits of the simulated data, the group extension is right, and
the Clopper-Pearson intervals are R's binom.test's."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.inference.design_fit import fit_lmer_design, replicate_groups
from multilevel.inference.power import _Lmm, clopper_pearson, power

REF = json.loads((Path(__file__).resolve().parent / "modelchoice_ref.json").read_text())
_FITS: dict = {}


def fit(key):
    if key not in _FITS:
        sleep = ml.datasets.load("sleepstudy")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[key] = {
                "ri": lambda: ml.lmer("Reaction ~ Days + (1 | Subject)", sleep),
                "rs": lambda: ml.lmer("Reaction ~ Days + (Days | Subject)", sleep),
                "cbpp": lambda: ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                         ml.datasets.load("cbpp"), family="binomial"),
            }[key]()
    return _FITS[key]


def consistent_with(successes: int, n: int, alpha: float) -> bool:
    """Two-sided exact binomial test of the rejection rate against alpha, at 0.001."""
    return stats.binomtest(successes, n, alpha).pvalue > 1e-3


@pytest.mark.parametrize("case", REF["binom"], ids=lambda c: f"{c['x']}of{c['n']}")
def test_clopper_pearson_matches_binom_test(case):
    np.testing.assert_allclose(clopper_pearson(case["x"], case["n"]), case["ci"], atol=1e-9)


def test_power_at_effect_zero_is_the_level_satterthwaite():
    ps = power(fit("ri"), "Days", effect=0, nsim=300, seed=11, progress=False)
    assert ps.method == "satterthwaite" and ps.nsim == 300 and ps.n_failed == 0
    assert consistent_with(ps.successes, ps.nsim, 0.05), ps.power
    assert ps.lower <= 0.05 <= ps.upper or consistent_with(ps.successes, ps.nsim, 0.05)


@pytest.mark.slow
def test_power_at_effect_zero_is_the_level_random_slopes_and_glmm():
    ps = power(fit("rs"), "Days", effect=0, nsim=1000, alpha=0.1, seed=3, progress=False)
    assert consistent_with(ps.successes, ps.nsim, 0.1), ps.power
    pg = power(fit("cbpp"), "period2", effect=0, nsim=200, seed=5, progress=False)
    assert pg.method == "z"
    assert consistent_with(pg.successes, pg.nsim, 0.05), pg.power


def test_power_grows_with_the_effect_and_is_seeded():
    a = power(fit("ri"), "Days", effect=2.0, nsim=40, seed=1, progress=False)
    b = power(fit("ri"), "Days", effect=2.0, nsim=40, seed=1, progress=False)
    np.testing.assert_array_equal(a.p_values, b.p_values)
    c = power(fit("ri"), "Days", effect=2.0, nsim=40, seed=2, progress=False)
    assert not np.array_equal(a.p_values, c.p_values)
    big = power(fit("ri"), "Days", effect=6.0, nsim=40, seed=1, progress=False)
    assert big.power >= a.power and big.power > 0.9
    text = str(a)
    assert "Power for predictor 'Days'" in text and "Satterthwaite" in text


def test_simulation_refit_equals_a_full_fit_of_the_simulated_data():
    m = fit("rs")
    beta = m.fixef.to_numpy().copy()
    eng = _Lmm(m, m.design, beta, "satterthwaite", [1])
    y = eng.simulate(np.random.default_rng(4))
    import dataclasses

    full = fit_lmer_design(dataclasses.replace(m.design, y=y), reml=True)
    p_full = float(full.coef_table().loc["Days", "p_value"])
    # warm (fitted theta) vs cold (lme4) start: the same optimum to ~1e-6 in theta
    assert eng.p_value(y) == pytest.approx(p_full, rel=2e-3)
    lrt = _Lmm(m, m.design, beta, "lrt", [1])
    d0 = dataclasses.replace(m.design, y=y, X=m.design.X[:, :1], xnames=["(Intercept)"])
    small = fit_lmer_design(d0, reml=False)
    big = fit_lmer_design(dataclasses.replace(m.design, y=y), reml=False)
    chisq = 2 * (big.loglik - small.loglik)
    assert lrt.p_value(y) == pytest.approx(stats.chi2.sf(chisq, 1), rel=2e-3)


def test_replicate_groups_extends_and_subsets():
    m = fit("rs")
    d, src = replicate_groups(m.design, "Subject", 40, return_rows=True)
    t = d.re_terms[0]
    assert t.n_levels == 40 and d.nobs == 400
    np.testing.assert_array_equal(d.X, m.design.X[src])
    assert len(set(t.levels)) == 40
    sub = replicate_groups(m.design, "Subject", 5)
    assert sub.re_terms[0].levels == m.terms[0].levels[:5]


def test_power_curve_table_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    pc = power(fit("ri"), "Days", effect=1.5, nsim=20, along="Subject", n=[6, 18, 36],
               seed=1, progress=False)
    tab = pc.table
    assert tab["n_groups"].tolist() == [6, 18, 36]
    assert tab["nobs"].tolist() == [60, 180, 360]
    assert (tab["lower"] <= tab["power"]).all() and (tab["power"] <= tab["upper"]).all()
    ax = pc.plot()
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, tab["n_groups"])
    np.testing.assert_allclose(y, tab["power"])
    # the full number of groups is the fitted design itself
    same = power(fit("ri"), "Days", effect=1.5, nsim=20, along="Subject", n=18, seed=1,
                 progress=False)
    assert same.nobs == 180 and same.n_groups == 18


def test_power_glmer_term_lrt_and_errors():
    from multilevel.errors import DataError

    g = fit("cbpp")
    ps = power(g, "period", nsim=3, seed=1, progress=False)
    assert ps.method == "lrt" and ps.nsim == 3
    with pytest.raises(DataError, match="no fixed effect or term"):
        power(g, "season", nsim=2)
    with pytest.raises(DataError, match="columns"):
        power(g, "period", nsim=2, method="z")
    with pytest.raises(ValueError, match="method"):
        power(fit("ri"), "Days", nsim=2, method="z")


def test_progress_bar_goes_to_stderr(capsys):
    power(fit("ri"), "Days", nsim=3, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "power [" in err and "3/3" in err


def test_power_does_not_depend_on_n_jobs(monkeypatch):
    import multilevel.inference.power as pw

    monkeypatch.setattr(pw, "POOL_MIN_SECONDS", 0.0)  # use the workers even for a short run
    one = power(fit("ri"), "Days", effect=1.0, nsim=24, seed=9, progress=False)
    two = power(fit("ri"), "Days", effect=1.0, nsim=24, seed=9, progress=False, n_jobs=2)
    np.testing.assert_array_equal(one.p_values, two.p_values)
