"""build_design against every lme4 reference case: names, order, levels, nobs, values."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multilevel.design.model_frame import build_design, new_design
from multilevel.fit.lmer import order_terms
from multilevel.formula import deparse_lme4

SHARED = Path(__file__).parents[2].parent / "shared"
REF = SHARED / "reference"
CASES = sorted(p.stem for p in REF.glob("*.json")) if REF.is_dir() else []
pytestmark = pytest.mark.skipif(not CASES, reason=f"lme4 reference files not found in {REF}")


def load(case_id: str):
    """Read a case and its data typed as ../shared/tools/parity.py's load_data does."""
    case = json.loads((REF / f"{case_id}.json").read_text())
    df = pd.read_csv(SHARED / "data" / Path(case["dataset"]["file"]).name)
    for col in case["dataset"]["columns"]:
        if col.get("type") in ("factor", "ordered") and col["name"] in df:
            levels = [str(v) for v in col["levels"]]
            df[col["name"]] = pd.Categorical(df[col["name"]].astype("string").astype(object),
                                             categories=levels)
    return case, df


@pytest.fixture(scope="module", params=CASES)
def built(request):
    case, df = load(request.param)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reference case drops rows or columns
        d = build_design(case["formula"], df, kind=case["kind"])
    return case, df, d


def test_coefficient_names_in_r_order(built):
    case, _, d = built
    want = case["coefficients"] if case["kind"] == "lm" else case["fixef"]
    assert d.xnames == list(want)
    assert d.X.shape == (case["nobs"], len(want))


def test_nobs_rows_and_drops(built):
    case, df, d = built
    assert d.nobs == case["nobs"] and d.n_dropped == case["n_rows_dropped"]
    assert d.rows.tolist() == list(range(len(df)))
    assert d.dropped_columns == (case.get("dropped_fixef") or [])


def test_grouping_factors_levels_and_columns(built):
    case, _, d = built
    if case["kind"] == "lm":
        assert d.re_terms == []
        return
    assert {t.group: t.n_levels for t in d.re_terms} == case["ngrps"]
    ordered = [t.group for t in order_terms(d.re_terms)]
    assert list(dict.fromkeys(ordered)) == list(case["ngrps"])
    for group, r in case["ranef"].items():
        terms = [t for t in d.re_terms if t.group == group]
        assert terms[0].levels == r["levels"]
        assert sum((t.cnames for t in terms), []) == r["columns"]
        for t in terms:
            assert t.codes.min() == 0 and t.codes.max() == t.n_levels - 1
            assert t.Z.shape == (d.nobs, len(t.cnames))


def test_fixed_part_reproduces_r_predictions(built):
    """X @ fixef(R) equals R's predict(re.form = NA) (lm: fitted values)."""
    case, _, d = built
    if case["kind"] == "lm":
        beta = np.array([case["coefficients"][k] for k in d.xnames])
        block = case["fitted"]
    else:
        beta = np.array([case["fixef"][k] for k in d.xnames])
        block = case["predict_fixed"]
    rows = np.asarray(block["rows"])
    want = np.asarray(block["values"], dtype=float)
    eta = d.X @ beta + (d.offset if d.offset is not None else 0.0)
    pos = np.searchsorted(d.rows, rows)
    np.testing.assert_allclose(eta[pos], want, rtol=1e-10, atol=1e-10)


def test_random_part_reproduces_r_fitted(built):
    """X beta + sum_k Z_k b_k[codes] equals R's fitted() for lmer cases."""
    case, _, d = built
    if case["kind"] != "lmer":
        pytest.skip("lm has no random part; glmer fitted values are on the response scale")
    eta = d.X @ np.array([case["fixef"][k] for k in d.xnames])
    for t in d.re_terms:
        r = case["ranef"][t.group]
        b = np.column_stack([r["values"][c] for c in t.cnames])
        eta = eta + (t.Z * b[t.codes]).sum(axis=1)
    rows = np.asarray(case["fitted"]["rows"])
    want = np.asarray(case["fitted"]["values"], dtype=float)
    np.testing.assert_allclose(eta[np.searchsorted(d.rows, rows)], want, rtol=1e-9, atol=1e-9)


def test_formula_line_matches_lme4_summary(built):
    case, _, _ = built
    if case["kind"] == "lm":
        pytest.skip("lm summaries print a Call: line")
    line = next(x for x in case["summary_text_default"].splitlines() if x.startswith("Formula:"))
    assert line == "Formula: " + deparse_lme4(case["formula"])
    assert deparse_lme4(case["formula"]) == case["formula_expanded"]


def test_new_design_on_fitting_data_reproduces_design(built):
    case, df, d = built
    nd = new_design(d, df)
    np.testing.assert_array_equal(nd.X, d.X)
    for a, b in zip(nd.re_terms, d.re_terms):
        np.testing.assert_array_equal(a.codes, b.codes)
        np.testing.assert_array_equal(a.Z, b.Z)
