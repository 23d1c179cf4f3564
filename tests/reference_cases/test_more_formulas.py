"""More lme4 formulas than ../shared covers: transformations, offsets, ``||``, nested and
crossed factors, three-column random effects (values made by more/make_lme4_more.R)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

import multilevel as ml

from .cases import SHARED
from .tolerances import LMER

HERE = Path(__file__).parent / "more"
CASES = json.loads((HERE / "lme4_more.json").read_text())
FACTORS = ["Subject", "school", "plate", "sample", "batch", "replicate", "recipe", "schgend",
           "vr", "sex", "minrty", "sx"]


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="../shared/data is absent")
@pytest.mark.parametrize("case", CASES, ids=[c["formula"] for c in CASES])
def test_formula_matches_lme4(case):
    d = pd.read_csv(SHARED / "data" / f"{case['data']}.csv")
    for v in FACTORS:
        if v in d:
            d[v] = d[v].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer(case["formula"], d, reml=case["reml"])
    assert list(m.fixef.index) == list(case["fixef"])
    assert m.loglik == pytest.approx(case["logLik"], abs=LMER["loglik"])
    for name, b in case["fixef"].items():
        assert m.fixef[name] == pytest.approx(b, abs=LMER["beta_se"] * case["se"][name])
    assert m.sigma == pytest.approx(case["sigma"], rel=LMER["sigma_rel"])
