"""glmer with the gaussian family and a non-identity link (lme4: PIRLS + Laplace), against
lme4's values from make_glmer_gaussian.R."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

REF = json.loads((Path(__file__).parent / "glmer_gaussian.json").read_text())


def data():
    d = pd.DataFrame(REF["data"])
    d["g"] = pd.Categorical(d["g"].astype(str), [str(i) for i in range(1, 21)])
    return d


@pytest.mark.parametrize("ref", REF["fits"], ids=lambda r: r["link"])
def test_matches_lme4(ref):
    m = ml.glmer("y ~ x + (1 | g)", data(), family=ml.family.gaussian(link=ref["link"]))
    se = np.asarray(ref["se"])
    np.testing.assert_array_less(np.abs(m.fixef.to_numpy() - list(ref["fixef"].values())),
                                 2e-3 * se)
    np.testing.assert_allclose(np.sqrt(np.diag(m.vcov)), se, rtol=2e-3)
    assert abs(m.loglik - ref["logLik"]) < 5e-4
    assert m.sigma == pytest.approx(ref["sigma"], rel=1e-3)
    assert float(m.theta.iloc[0]) == pytest.approx(ref["theta"], rel=2e-3)
    np.testing.assert_allclose(np.asarray(m.fitted)[:5], ref["fitted"], rtol=1e-4)
    assert "Family: gaussian  ( " + ref["link"] + " )" in str(m.summary())


def test_identity_link_points_to_lmer():
    with pytest.raises(ValueError, match="lmer"):
        ml.glmer("y ~ x + (1 | g)", data(), family=ml.family.gaussian())


def test_log_link_needs_positive_response():
    d = data()
    d.loc[0, "y"] = -1.0
    with pytest.raises(DataError, match="valid starting values"):
        ml.glmer("y ~ x + (1 | g)", d, family=ml.family.Gaussian(link="log"))


def test_glmer_offset_column_name_equals_formula_offset():
    c = ml.datasets.load("cbpp").copy()
    c["lo"] = np.log(c["size"])
    a = ml.glmer("incidence ~ period + (1 | herd)", c, family="poisson", offset="lo")
    b = ml.glmer("incidence ~ period + offset(log(size)) + (1 | herd)", c, family="poisson")
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)
    np.testing.assert_allclose(a.fixef.to_numpy(), b.fixef.to_numpy(), rtol=1e-9)
