"""Every lm and lmer reference case against R's lm / lme4 (values in ../shared/reference)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from .cases import fitted_case, load_case, reference_ids
from .tolerances import LM, LMER

CASES = reference_ids(("lm", "lmer"), max_nobs=10_000)
pytestmark = pytest.mark.skipif(not CASES, reason="../shared/reference is absent")


def close(got, want, tol, what):
    assert got is not None and math.isfinite(got), f"{what}: got {got}"
    assert abs(got - want) <= tol, f"{what}: got {got!r}, want {want!r} (tol {tol:.3g})"


@pytest.mark.parametrize("case_id", CASES)
def test_fixed_effects_and_standard_errors(case_id):
    case, m = load_case(case_id), fitted_case(case_id)
    tol = LM if case["kind"] == "lm" else LMER
    beta = case["coefficients"] if case["kind"] == "lm" else case["fixef"]
    se = case["coef_se"] if case["kind"] == "lm" else case["fixef_se"]
    assert [k for k, v in beta.items() if v is not None] == list(m.fixef.index)
    for name, b in beta.items():
        if b is None:
            continue
        close(float(m.fixef[name]), b, tol["beta_se"] * se[name] + 1e-10 * (1 + abs(b)), name)
        close(math.sqrt(m.vcov.loc[name, name]), se[name], tol["se_rel"] * se[name], "se " + name)


@pytest.mark.parametrize("case_id", CASES)
def test_likelihood_and_scale(case_id):
    case, m = load_case(case_id), fitted_case(case_id)
    tol = LM if case["kind"] == "lm" else LMER
    close(m.loglik, case["logLik"], tol["loglik"], "logLik")
    close(m.aic, case["AIC"], 2 * tol["loglik"], "AIC")
    close(m.bic, case["BIC"], 2 * tol["loglik"], "BIC")
    close(m.sigma, case["sigma"], tol["sigma_rel"] * case["sigma"], "sigma")
    assert m.nobs == case["nobs"]
    fitted = case["fitted"]
    got = np.asarray(m.fitted)[: fitted["n_recorded"]]
    assert np.max(np.abs(got - fitted["values"])) <= tol["fitted"] * case["sigma"]


@pytest.mark.parametrize("case_id", [c for c in CASES if not c.startswith("imm10_lm")])
def test_variance_components(case_id):
    case, m = load_case(case_id), fitted_case(case_id)
    vc = m.varcorr
    got = {(r.grp, r.var1, r.var2): r.sdcor for r in vc.itertuples()}
    assert len(got) == len(case["varcorr"])
    for row in case["varcorr"]:
        key = (row["grp"], row["var1"], row["var2"])
        assert key in got, f"varcorr row {key} missing; have {list(got)}"
        want = row["sdcor"]
        if row["var2"] is None:
            tol = max(LMER["sd_rel"] * abs(want), LMER["sd_abs_sigma"] * case["sigma"])
        else:
            tol = LMER["corr"]
        close(float(got[key]), want, tol, str(key))
    assert m.is_singular == case["is_singular"]
    assert dict(m.ngrps) == case["ngrps"]


@pytest.mark.parametrize("case_id", [c for c in CASES if not c.startswith("imm10_lm")])
def test_conditional_modes_and_variances(case_id):
    case, m = load_case(case_id), fitted_case(case_id)
    re = m.ranef().set_index(["grpvar", "term", "grp"])
    for grpvar, blk in case["ranef"].items():
        for term in blk["columns"]:
            for i, level in enumerate(blk["levels"]):
                row = re.loc[(grpvar, term, str(level))]
                sd = blk["condsd"][term][i]
                close(float(row["condval"]), blk["values"][term][i],
                      LMER["condval_sd"] * sd + 1e-8, f"ranef {grpvar} {term} {level}")
                if sd > 0:
                    close(float(row["condsd"]), sd, LMER["condsd_rel"] * sd, "condsd")
