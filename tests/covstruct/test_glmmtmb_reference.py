"""Structured covariances against glmmTMB 1.1.5 (``make_covstruct_reference.R``).

Tolerances: the log-likelihood reaches glmmTMB's optimum (never below it by more than 1e-4,
never above by more than 1e-3); fixed effects within 2e-3 of their standard errors; standard
deviations within 0.5% (1e-3 absolute near zero), correlations within 2e-3, sigma within 0.2%.
Wald standard errors within 0.2% of lme4's ``sqrt(diag(sigma^2 (X'V^{-1}X)^{-1}))`` computed in R
at glmmTMB's estimates (glmmTMB's own, from ``sdreport``, add the covariance parameters'
uncertainty: up to 3% larger here). Likelihood-ratio tests (``ml.anova``) between structures
match glmmTMB's ``anova``. GLMMs (``glmer``, Laplace): the same optimum (log-likelihood within
1e-5) and standard errors within 0.5% (both from the Hessian of the Laplace deviance).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "glmmtmb_reference.json").read_text())
CASES = {k: v for k, v in REF.items()
         if isinstance(v, dict) and "formula" in v and "family" not in v}
GLMM_CASES = {k: v for k, v in REF.items() if isinstance(v, dict) and "family" in v}
_FITS: dict = {}


def sim_data() -> pd.DataFrame:
    d = pd.read_csv(HERE / "sim_repeated.csv")
    for c in ("id", "site"):
        d[c] = d[c].astype("category")
    d["ft"] = pd.Categorical(d["t"].astype(str), categories=[str(v) for v in sorted(d["t"].unique())])
    return d


def data_for(case) -> pd.DataFrame:
    if case["dataset"] == "sim":
        return sim_data()
    d = ml.datasets.load("sleepstudy")
    d["Subject"] = d["Subject"].astype(str).astype("category")
    return d


def lme4_formula(case) -> str:
    """glmmTMB's map-tied common sd is lme4 2.0's ``hom = TRUE``."""
    f = case["formula"]
    return f.replace("cs(0 + ft | id)", "cs(0 + ft | id, hom = TRUE)") if case["hom"] else f


def fitted(name):
    if name not in _FITS:
        case = CASES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[name] = ml.lmer(lme4_formula(case), data_for(case), reml=case["REML"])
    return _FITS[name]


def as_list(x):
    return x if isinstance(x, list) else [x]


@pytest.mark.parametrize("name", sorted(CASES))
def test_estimates_match_glmmtmb(name):
    case, m = CASES[name], fitted(name)
    assert m.nobs == case["nobs"]
    assert m.n_params == case["df"]
    assert case["logLik"] - 1e-4 <= m.loglik <= case["logLik"] + 1e-3
    for k, b in case["fixef"].items():
        se = case["fixef_se"][k]
        assert abs(m.fixef[k] - b) <= 2e-3 * se, k
        got_se, want_se = float(np.sqrt(m.vcov.loc[k, k])), case["fixef_se_lme4"][k]
        assert abs(got_se - want_se) <= 2e-3 * want_se, (k, got_se, want_se)
    assert abs(m.sigma - case["sigma"]) <= 2e-3 * case["sigma"]
    vc = m.varcorr
    for grp, want in case["varcorr"].items():
        names, sds = as_list(want["names"]), as_list(want["sd"])
        rows = vc[(vc["grp"] == grp) & vc["var2"].isna()]
        assert list(rows["var1"]) == names
        for got, s in zip(rows["sdcor"], sds):
            assert abs(got - s) <= max(5e-3 * s, 1e-3), (grp, got, s)
        corr = np.asarray(want["corr"], dtype=float)
        for i in range(len(names)):
            for j in range(i):
                r = vc[(vc["grp"] == grp) & (vc["var1"] == names[j]) & (vc["var2"] == names[i])]
                assert len(r) == 1
                if min(sds[i], sds[j]) > 1e-2:  # a correlation of a vanishing sd is undefined
                    assert abs(float(r["sdcor"].iloc[0]) - corr[i, j]) <= 2e-3, (i, j)


@pytest.mark.parametrize("lrt", REF["lrt"], ids=lambda r: f"{r['small']}-vs-{r['big']}")
def test_likelihood_ratio_tests_between_structures(lrt):
    small, big = fitted(lrt["small"]), fitted(lrt["big"])
    tab = ml.anova(small, big, check_nested=False)
    assert int(tab["Df"].iloc[1]) == lrt["Df"]
    assert abs(float(tab["Chisq"].iloc[1]) - lrt["Chisq"]) <= 2e-3 * max(1.0, lrt["Chisq"])
    assert abs(float(tab["Pr(>Chisq)"].iloc[1]) - lrt["p"]) <= 1e-4 * max(1.0, lrt["p"] * 100)


@pytest.mark.parametrize("name", [pytest.param(k, marks=pytest.mark.slow) if "poisson" in k else k
                                  for k in sorted(GLMM_CASES)])
def test_glmer_structures_match_glmmtmb(name):
    case = GLMM_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.glmer(case["formula"], sim_data(), family=case["family"])
    assert m.n_params == case["df"]
    assert abs(m.loglik - case["logLik"]) <= 1e-5
    for k, b in case["fixef"].items():
        se = case["fixef_se"][k]
        assert abs(m.fixef[k] - b) <= 2e-3 * se, k
        assert abs(float(np.sqrt(m.vcov.loc[k, k])) - se) <= 5e-3 * se, k
    vc = m.varcorr
    for grp, want in case["varcorr"].items():
        rows = vc[(vc["grp"] == grp) & vc["var2"].isna()]
        for got, sd in zip(rows["sdcor"], as_list(want["sd"])):
            assert abs(got - sd) <= max(5e-3 * sd, 1e-3)
        corr = np.asarray(want["corr"], dtype=float)
        if corr.size > 1 and "diag" not in case["formula"]:
            names = as_list(want["names"])
            r = vc[(vc["grp"] == grp) & (vc["var1"] == names[0]) & (vc["var2"] == names[1])]
            assert abs(float(r["sdcor"].iloc[0]) - corr[1, 0]) <= 2e-3
