"""R's printouts of anova tables, VarCorr and summaries under ml.options(digits=, scipen=),
against R 4.2 / lme4 (tests/newcomer/make_rprint.R wrote rprint.json)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import multilevel as ml
from multilevel.report.rformat import format_pval, format_r

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "rprint.json").read_text())
IMM10 = HERE.parents[2] / "shared" / "data" / "imm10.csv"


def _vec(x):
    return x if isinstance(x, list) else [x]


@pytest.mark.parametrize("case", REF["format"], ids=lambda c: f"{c['x']}-d{c['digits']}-s{c['scipen']}")
def test_format_follows_digits_and_scipen(case):
    with ml.options(digits=case["digits"], scipen=case["scipen"]):
        assert format_r(_vec(case["x"]), digits=case["digits"]) == _vec(case["out"])


@pytest.mark.parametrize("case", REF["format_pval"], ids=lambda c: f"d{c['digits']}-s{c['scipen']}")
def test_format_pval_follows_scipen(case):
    with ml.options(scipen=case["scipen"]):
        assert format_pval(case["x"], digits=max(1, case["digits"] - 3)) == case["out"]


@pytest.fixture(scope="module")
def models():
    if not IMM10.is_file():
        pytest.skip("../shared/data/imm10.csv not present")
    imm10 = pd.read_csv(IMM10)
    m3 = ml.lmer("math ~ homework + (1 | schnum)", imm10, reml=False)
    m4 = ml.lmer("math ~ homework + (homework | schnum)", imm10, reml=False)
    sleep = ml.datasets.load("sleepstudy")
    l1 = ml.lm("Reaction ~ 1", sleep, data_name="sleep")
    l2 = ml.lm("Reaction ~ Days", sleep, data_name="sleep")
    return m3, m4, l1, l2


@pytest.mark.parametrize("case", REF["prints"], ids=lambda c: f"d{c['digits']}-s{c['scipen']}")
def test_printouts_match_r(models, case):
    m3, m4, l1, l2 = models
    with ml.options(digits=case["digits"], scipen=case["scipen"]):
        assert str(ml.anova(m3, m4)) == case["anova_m3_m4"]
        assert repr(ml.anova(l1, l2)) == case["anova_lm"]
        assert str(l2.anova()) == case["anova_lm1"]
        assert str(m4.varcorr) == case["varcorr_m4"]
        assert str(m3.varcorr) == case["varcorr_m3"]
        assert str(m4.summary()) == case["summary_m4"]


def test_tables_stay_dataframes(models):
    m3, m4, *_ = models
    tab = ml.anova(m3, m4)
    assert isinstance(tab, pd.DataFrame) and type(tab.frame) is pd.DataFrame
    assert tab.frame.attrs["heading"].startswith("Data: ")
    assert tab["Chisq"].iloc[1] == pytest.approx(73.2718, abs=1e-3)
    assert type(tab.head(1)) is pd.DataFrame      # operations give plain DataFrames
    vc = m4.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert type(vc.frame) is pd.DataFrame
    both = vc.to_text(comp=("Variance", "Std.Dev."))
    assert both.splitlines()[0].split() == ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]


def test_tidy_prints_whole_with_a_header(models):
    m4 = models[1]
    t = m4.tidy(effects=("fixed", "ran_pars", "ran_vals"))
    with ml.options(width=200):
        text = str(t)
    assert text.splitlines()[0] == f"# A tibble: {len(t)} \u00d7 {t.shape[1]}"
    assert "..." not in text and len(text.splitlines()) == len(t) + 2
    assert len(str(t).splitlines()) == 1 + 2 * (len(t) + 1)    # R wraps columns at width 80
    assert type(t.frame) is pd.DataFrame and "<pre" in t._repr_html_()


def test_options_context_manager_and_validation():
    before = ml.options()
    with ml.options(digits=3, width=60) as old:
        assert old == {"digits": before["digits"], "width": before["width"]}
        assert ml.options()["digits"] == 3
    assert ml.options() == before
    op = ml.options(scipen=8)
    try:
        assert ml.options()["scipen"] == 8
    finally:
        ml.options(**op)
    assert ml.options()["scipen"] == before["scipen"]
    with pytest.raises(ValueError, match="unknown option"):
        ml.options(digts=3)
    with pytest.raises(ValueError, match="integer from 1 to 22"):
        ml.options(digits=0)


def test_summary_digits_argument_still_wins():
    m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    with ml.options(digits=3):
        assert str(m.summary(digits=7)) == str(m.summary(digits=7))
        narrow = str(m.summary())
    assert narrow == str(m.summary(digits=3)) != str(m.summary())
