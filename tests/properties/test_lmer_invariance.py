"""Invariances of the fit (hypothesis): row order, level labels, scale of the response."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SLEEP = ml.datasets.load("sleepstudy")
FORMULA = "Reaction ~ Days + (Days | Subject)"


def fit(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.lmer(FORMULA, df)


BASE = fit(SLEEP)
settings_ = settings(max_examples=8, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(seed=st.integers(0, 2**31 - 1))
def test_row_order_does_not_matter(seed):
    perm = np.random.default_rng(seed).permutation(len(SLEEP))
    m = fit(SLEEP.iloc[perm].reset_index(drop=True))
    assert m.loglik == pytest.approx(BASE.loglik, abs=1e-6)
    np.testing.assert_allclose(m.fixef, BASE.fixef, rtol=1e-5)
    np.testing.assert_allclose(m.varcorr["sdcor"], BASE.varcorr["sdcor"], rtol=2e-3, atol=2e-3)


@settings_
@given(seed=st.integers(0, 2**31 - 1))
def test_group_labels_do_not_matter(seed):
    levels = sorted(SLEEP["Subject"].astype(str).unique())
    new = dict(zip(levels, np.random.default_rng(seed).permutation(len(levels)).astype(str)))
    df = SLEEP.assign(Subject=SLEEP["Subject"].astype(str).map(new))
    m = fit(df)
    assert m.loglik == pytest.approx(BASE.loglik, abs=1e-6)
    np.testing.assert_allclose(m.fixef, BASE.fixef, rtol=1e-5)


@settings_
@given(scale=st.floats(0.01, 100.0), shift=st.floats(-1000, 1000))
def test_affine_response_scales_estimates(scale, shift):
    m = fit(SLEEP.assign(Reaction=SLEEP["Reaction"] * scale + shift))
    assert m.sigma == pytest.approx(BASE.sigma * scale, rel=1e-4)
    assert m.fixef["Days"] == pytest.approx(BASE.fixef["Days"] * scale, rel=1e-4)
    # theta is scale free
    np.testing.assert_allclose(m.theta, BASE.theta, rtol=2e-3, atol=2e-3)
