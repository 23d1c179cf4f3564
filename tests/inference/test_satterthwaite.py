"""Satterthwaite df and p-values against lmerTest, for every reference case."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from multilevel.inference.numderiv import hessian, jacobian
from multilevel.inference.satterthwaite import (contrast_df, contrast_f, deviance_varpar,
                                                fstat_ddf, varpar_covariance)

from .conftest import TOL, at_theta, lmer_cases, load_reference

CASES = lmer_cases()


def _lme4_theta(case) -> np.ndarray:
    return np.array([0.0 if v is None else v for v in case["theta"].values()])


@pytest.mark.parametrize("case_id", CASES)
def test_coef_table_matches_lmertest(fits, case_id):
    """The bar: df within 1e-3 relative and p within 1e-4 of lmerTest, as fitted."""
    case = load_reference(case_id)
    want = case["satterthwaite"]
    tab = fits(case_id).coef_table(ddf="satterthwaite")
    assert list(tab.columns) == ["estimate", "std_error", "df", "statistic", "p_value"]
    for name, df in want["df"].items():
        assert tab.loc[name, "df"] == pytest.approx(df, rel=TOL["df_rel"])
        assert tab.loc[name, "p_value"] == pytest.approx(want["p_value"][name], abs=TOL["p_abs"])


@pytest.mark.parametrize("case_id", CASES)
def test_df_exact_at_lme4_theta(fits, case_id):
    """At lme4's theta the only difference left is arithmetic: numDeriv's steps are repeated."""
    case = load_reference(case_id)
    m = at_theta(fits(case_id), _lme4_theta(case))
    df = contrast_df(m, np.eye(len(m.fixef)))
    want = np.array([case["satterthwaite"]["df"][n] for n in m.fixef.index])
    np.testing.assert_allclose(df, want, rtol=1e-6)


def test_numderiv_matches_analytic():
    f = lambda v: np.exp(v[0]) * np.sin(v[1]) + v[0] ** 2 * v[1] ** 3  # noqa: E731
    x = np.array([0.3, 1.2])
    H = hessian(f, x)
    want = np.array([[np.exp(0.3) * np.sin(1.2) + 2 * 1.2 ** 3,
                      np.exp(0.3) * np.cos(1.2) + 6 * 0.3 * 1.2 ** 2],
                     [0, -np.exp(0.3) * np.sin(1.2) + 6 * 0.09 * 1.2]])
    want[1, 0] = want[0, 1]
    np.testing.assert_allclose(H, want, rtol=1e-7)
    J = jacobian(lambda v: np.array([v[0] * v[1], np.log(v[1])]), x)
    np.testing.assert_allclose(J, [[1.2, 0.3], [0.0, 1 / 1.2]], rtol=1e-9)


def test_deviance_varpar_is_the_objective(fits):
    m = fits("sleepstudy_corr_reml")
    f = deviance_varpar(m.problem, m.reml)
    assert f(np.r_[m.theta.to_numpy(), m.sigma]) == pytest.approx(m.opt_summary.fmin, abs=1e-8)
    vc = varpar_covariance(m)
    assert vc.jac.shape == (4, 2, 2)
    assert np.all(np.linalg.eigvalsh(vc.vcov_varpar) > 0)


def test_one_row_f_test_is_the_squared_t_test(fits):
    m = fits("sleepstudy_corr_reml")
    r = contrast_f(m, np.array([[0.0, 1.0]]))
    tab = m.coef_table()
    assert r["F"] == pytest.approx(tab.loc["Days", "statistic"] ** 2, rel=1e-12)
    assert r["ddf"] == pytest.approx(tab.loc["Days", "df"], rel=1e-12)


def test_fstat_ddf_rules():
    assert fstat_ddf(np.array([7.0])) == 7.0
    assert fstat_ddf(np.array([5.0, 5.0 + 1e-10])) == pytest.approx(5.0)
    assert fstat_ddf(np.array([1.5, 30.0])) == 2.0
    nu = np.array([10.0, 20.0])
    E = np.sum(nu / (nu - 2))
    assert fstat_ddf(nu) == pytest.approx(2 * E / (E - 2))


def test_lme4_table_has_no_p_values(fits):
    tab = fits("dyestuff_reml").coef_table(ddf=None)
    assert tab["df"].isna().all() and tab["p_value"].isna().all()
    assert np.isfinite(tab["statistic"]).all()


def test_summary_layout_says_satterthwaite(fits):
    m = fits("sleepstudy_corr_reml")
    text = str(m.summary(ddf="satterthwaite"))
    assert "t-tests use Satterthwaite's method" in text
    assert "Pr(>|t|)" in text and "lmerModLmerTest" in text
    assert "Pr(>|t|)" not in str(m.summary())


def test_bad_ddf_is_refused(fits):
    with pytest.raises(ValueError, match="ddf must be"):
        fits("dyestuff_reml").coef_table(ddf="containment")


def test_p_values_follow_the_t_distribution(fits):
    tab = fits("imm10_m4_reml").coef_table()
    p = 2 * stats.t.sf(np.abs(tab["statistic"]), tab["df"])
    np.testing.assert_allclose(tab["p_value"], p)
