"""More lme4 comparisons (tests/glmm/lme4_extra.json, made by make_lme4_extra.R): adaptive
Gauss-Hermite quadrature, nAGQ = 0, probit and cloglog links, a Poisson offset, correlated
random slopes, a Gamma family; plus residuals and the RX-based covariance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

from .conftest import SHARED, TOL

FAMILIES = {"binomial": ml.family.Binomial, "poisson": ml.family.Poisson,
            "Gamma": ml.family.Gamma}


def _data(name: str) -> pd.DataFrame:
    """The data as make_lme4_extra.R reads it (cake's temperature numeric, as in the CSV)."""
    if name == "cbpp":
        return ml.datasets.load(name)
    path = SHARED / "data" / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    df = pd.read_csv(path)
    if name == "Exam":
        df["school"] = pd.Categorical(df["school"])
        df["pass"] = (df["normexam"] > 0).astype(float)
    if name == "cake":
        df["replicate"] = pd.Categorical(df["replicate"])
    return df


@pytest.fixture(scope="module", params=["cbpp_agq5", "cbpp_agq0", "cbpp_probit", "cbpp_cloglog",
                                        "cbpp_poisson_offset", "exam_pass_slope",
                                        "cake_gamma_log"])
def case(request, extra, fits):
    c = extra[request.param]
    fam = FAMILIES[c["family"]](link=c["link"])
    m = fits.get(("extra", request.param), lambda: ml.glmer(
        c["formula"], _data(c["data"]), family=fam, n_agq=c["nAGQ"]))
    return c, m


def test_estimates(case):
    c, m = case
    se_ref = np.array(list(c["fixef_se"].values()))
    beta_ref = np.array(list(c["fixef"].values()))
    assert np.all(np.abs(m.fixef.to_numpy() - beta_ref) <= TOL["beta_se"] * se_ref)
    assert m.theta.to_numpy() == pytest.approx(list(c["theta"].values()), rel=1e-3, abs=1e-4)
    assert m.sigma == pytest.approx(c["sigma"], rel=1e-4)
    # lme4's nAGQ = 0 fit is a default (not tight) fit: its logLik is the stage-1 optimum
    assert m.loglik == pytest.approx(c["logLik"], abs=TOL["loglik"])
    assert m.cond_deviance == pytest.approx(c["deviance"], rel=1e-4)


def test_standard_errors(case):
    c, m = case
    se = np.sqrt(np.diag(m.vcov.to_numpy()))
    want = np.array(list(c["fixef_se"].values()))
    assert se == pytest.approx(want, rel=TOL["se_rel"])
    se_rx = np.sqrt(np.diag(m.vcov_rx.to_numpy()))
    assert se_rx == pytest.approx(list(c["fixef_se_rx"].values()), rel=1e-3)


def test_residuals_and_fitted(case):
    c, m = case
    assert m.fitted.to_numpy()[:10] == pytest.approx(c["fitted_head"], abs=1e-4)
    for kind, want in c["resid_head"].items():
        got = m.residuals(kind).to_numpy()[:10]
        assert got == pytest.approx(want, rel=2e-3, abs=2e-4), kind


def test_summary_title(case):
    c, m = case
    want = c["summary_text"].splitlines()
    got = str(m.summary()).splitlines()
    assert got[:3] == want[:3]
    assert ("t value" in c["summary_text"]) == ("t value" in str(m.summary()))
