"""The glmer reference cases of ../shared/reference against lme4's tight refit, at the
scoreboard's tolerances (fixed effects, standard errors, log-likelihood, variance components,
conditional modes and sds, fitted values)."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml

from .conftest import TOL, load_case_data, load_reference

CASES = ["cbpp_binomial", "grouseticks_poisson"]


@pytest.fixture(scope="module", params=CASES)
def case_fit(request, fits):
    case = load_reference(request.param)
    data = load_case_data(case)
    m = fits.get(("ref", request.param),
                 lambda: ml.glmer(case["formula"], data, family=case["family"],
                                  data_name=case["dataset"]["name"]))
    return case, m


def test_fixef_and_standard_errors(case_fit):
    case, m = case_fit
    tight = case["refit_tight"]
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    for i, (name, want) in enumerate(tight["fixef"].items()):
        want_se = tight["fixef_se"][name]
        assert abs(m.fixef[name] - want) <= TOL["beta_se"] * want_se, name
        assert abs(se[i] - want_se) <= TOL["se_rel"] * want_se, name


def test_loglik_at_the_laplace_optimum(case_fit):
    case, m = case_fit
    assert m.loglik == pytest.approx(case["refit_tight"]["logLik"], abs=TOL["loglik"])
    # the AIC table of the summary: deviance = -2 logLik, df as lme4
    assert m.n_params == case["logLik_df"]
    assert m.df_resid == case["df_residual"]
    assert m.deviance == pytest.approx(-2 * m.loglik)


def test_varcorr(case_fit):
    case, m = case_fit
    got = {(r.grp, r.var1): r.sdcor for r in m.varcorr.itertuples()}
    for row in case["refit_tight"]["varcorr"]:
        want = row["sdcor"]
        assert got[(row["grp"], row["var1"])] == pytest.approx(want, rel=TOL["sd_rel"])
    assert list(m.theta.index) == list(case["theta"])


def test_ranef_and_conditional_sds(case_fit):
    case, m = case_fit
    re = m.ranef().set_index(["grpvar", "term", "grp"])
    for grpvar, blk in case["ranef"].items():
        for term in blk["columns"]:
            vals, sds = blk["values"][term], blk["condsd"][term]
            got = re.loc[grpvar].loc[term].loc[[str(v) for v in blk["levels"]]]
            assert np.all(np.abs(got["condval"].to_numpy() - vals)
                          <= TOL["condval_sd"] * np.asarray(sds) + 1e-8)
            assert np.all(np.abs(got["condsd"].to_numpy() - sds)
                          <= TOL["condsd_rel"] * np.asarray(sds))


def test_fitted_and_predictions(case_fit):
    case, m = case_fit
    assert np.max(np.abs(m.fitted.to_numpy() - case["fitted"]["values"])) <= TOL["fitted"]
    link = m.predict(type="link").to_numpy()
    assert np.max(np.abs(link - case["predict_link"]["values"])) < 5e-3
    fixed = m.predict(re_form=None, type="response").to_numpy()
    assert np.max(np.abs(fixed - case["predict_fixed_response"]["values"])) < 5e-3


def test_summary_layout_matches_lme4(case_fit):
    """Line for line except the digits: lme4's text is from its default (less converged)
    fit, ours from the optimum. Titles, headers and labels must agree exactly."""
    case, m = case_fit
    got = str(m.summary()).rstrip("\n").splitlines()
    want = case["summary_text_default"].rstrip("\n").splitlines()
    assert len(got) == len(want)
    assert got[:5] == want[:5]  # title, family, formula, data
    for g, w in zip(got, want):
        if not any(ch.isdigit() for ch in w):
            assert g == w
