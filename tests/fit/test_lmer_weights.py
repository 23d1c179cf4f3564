"""lmer with prior weights against lme4 (values made by make_weighted_reference.R)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml

REF = json.loads((Path(__file__).parent / "lme4_weighted.json").read_text())


@pytest.mark.parametrize("fit", ["reml", "ml"])
def test_weighted_fit_matches_lme4(fit):
    ref = REF[fit]
    sleep = ml.datasets.load("sleepstudy")
    w = 1 + (sleep["Days"] % 3) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(ref["formula"], sleep, reml=ref["REML"], weights=w.to_numpy())
    assert m.loglik == pytest.approx(ref["logLik"], abs=1e-4)
    for name, b in ref["fixef"].items():
        assert m.fixef[name] == pytest.approx(b, abs=2e-3 * ref["fixef_se"][name])
        assert np.sqrt(m.vcov.loc[name, name]) == pytest.approx(ref["fixef_se"][name], rel=2e-3)
    assert m.sigma == pytest.approx(ref["sigma"], rel=2e-3)
    q = np.quantile(m.residuals(scaled=True), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(q, list(ref["scaled_resid_quantiles"].values()), rtol=5e-3,
                               atol=5e-3)
    np.testing.assert_allclose(m.residuals("pearson").to_numpy()[:5], ref["pearson_head"],
                               rtol=5e-3, atol=0.05)


def test_weights_by_column_name_and_errors():
    sleep = ml.datasets.load("sleepstudy").assign(w=lambda d: 1 + (d["Days"] % 3) / 2)
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, weights="w")
    assert m.loglik == pytest.approx(REF["reml"]["logLik"], abs=1e-4)
    with pytest.raises(ml.DataError, match="positive"):
        ml.lmer("Reaction ~ Days + (1 | Subject)", sleep.assign(w=0.0), weights="w")
    with pytest.raises(ml.DataError, match="not found"):
        ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights="nope")
