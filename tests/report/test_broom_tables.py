"""broom's verbs, group_summary and compare (sjPlot's tab_model) in all four formats."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import DataError

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def models(sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"ols": ml.lm("Reaction ~ Days", sleep),
                "ri": ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False),
                "rs": ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)}


# ----- tidy / glance / augment -----------------------------------------------------------------
def test_tidy_lm_is_brooms(models):
    m = models["ols"]
    t = m.tidy()
    assert t.columns.tolist() == ["term", "estimate", "std_error", "statistic", "p_value",
                                  "conf_low", "conf_high"]
    ct = m.coef_table()
    assert np.allclose(t["estimate"], ct["estimate"]) and np.allclose(t["p_value"], ct["p_value"])
    q = stats.t.ppf(0.975, m.df_resid)
    assert np.allclose(t["conf_high"], t["estimate"] + q * t["std_error"])
    assert "conf_low" not in m.tidy(conf_int=False)


def test_tidy_lmer_is_broom_mixeds(models):
    m = models["rs"]
    t = m.tidy()
    assert t.columns.tolist() == ["effect", "group", "term", "estimate", "std_error",
                                  "statistic", "conf_low", "conf_high"]
    assert t["term"].tolist() == ["(Intercept)", "Days", "sd__(Intercept)",
                                  "cor__(Intercept).Days", "sd__Days", "sd__Observation"]
    assert t["group"].tolist()[:3] == [None, None, "Subject"]
    vc = m.varcorr
    assert np.isclose(t.loc[5, "estimate"], m.sigma)
    assert np.isclose(t.loc[2, "estimate"], vc.loc[0, "sdcor"])
    fx = t[t["effect"] == "fixed"]
    assert np.allclose(fx["conf_low"], fx["estimate"] - 1.959964 * fx["std_error"], rtol=1e-6)
    vals = m.tidy(effects="ran_vals")
    assert len(vals) == 36 and "level" in vals
    with pytest.raises(ValueError, match="unknown effects"):
        m.tidy(effects="random")


def test_glance(models):
    g = models["ols"].glance()
    assert g.shape[0] == 1
    assert np.isclose(g.loc[0, "r_squared"], models["ols"].r_squared)
    assert g.loc[0, "nobs"] == 180
    g = models["ri"].glance()
    m = models["ri"]
    assert np.isclose(g.loc[0, "loglik"], m.loglik) and np.isclose(g.loc[0, "aic"], m.aic)
    tau = m.varcorr.loc[0, "vcov"]
    assert np.isclose(g.loc[0, "icc"], tau / (tau + m.sigma ** 2))   # random intercept ICC


def test_augment_keeps_the_used_rows(sleep, models):
    data = sleep.copy()
    data.loc[3, "Reaction"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ml.lmer("Reaction ~ Days + (1 | Subject)", data)
    a = m.augment(data)
    assert len(a) == 179 and 3 not in a.index
    assert a.columns.tolist()[-3:] == [".fitted", ".resid", ".fixed"]
    assert np.allclose(a["Reaction"] - a[".fitted"], a[".resid"])
    assert np.allclose(a[".fixed"], m.fixef["(Intercept)"] + m.fixef["Days"] * a["Days"])
    a = models["ols"].augment()
    assert a.columns.tolist() == ["Reaction", "Days", ".fitted", ".resid", ".hat", ".std_resid"]
    assert np.isclose(a[".hat"].sum(), 2.0)


# ----- group_summary ---------------------------------------------------------------------------
def test_group_summary_shape_order_and_na():
    df = pd.DataFrame({"g": pd.Categorical(["b", "a", "b", "a", "b"], categories=["b", "a"]),
                       "x": [1.0, 2.0, np.nan, 4.0, 5.0], "y": [1, 2, 3, 4, 5]})
    s = ml.group_summary(df, by="g", vars=["x", "y"])
    assert s.columns.tolist() == ["x_n", "y_n", "x_mean", "y_mean"]
    assert s.index.tolist() == ["b", "a"]                       # R's level order
    assert s.loc["b"].tolist() == [2, 3, 3.0, 3.0]               # NA skipped and not counted
    assert ml.group_summary(df, by="g").columns.tolist() == ["x_n", "y_n", "x_mean", "y_mean"]
    s = ml.group_summary(df, by="g", vars=["x"], stats=("mean", "sd", "n"))
    assert s.columns.tolist() == ["x_mean", "x_sd", "x_n"]
    with pytest.raises(DataError, match="no column 'z'"):
        ml.group_summary(df, by="g", vars=["z"])
    with pytest.raises(DataError, match="unknown statistic"):
        ml.group_summary(df, by="g", stats=("mode",))


@pytest.mark.skipif(not (SHARED / "data" / "imm10.csv").is_file(), reason="no ../shared data")
def test_group_summary_reproduces_the_lessons_table():
    imm10 = pd.read_csv(SHARED / "data" / "imm10.csv")
    s = ml.group_summary(imm10, by="schid", vars=["math", "homework"])
    assert s.loc[7472].round(3).tolist() == [23, 23, 45.739, 1.391]
    assert s.loc[62821, "math_n"] == 67 and round(s.loc[62821, "math_mean"], 1) == 62.8
    assert round(s.loc[25456, "homework_mean"], 3) == 0.864


# ----- compare ----------------------------------------------------------------------------------
def test_compare_content(models):
    t = ml.compare(models["ols"], models["ri"], models["rs"])
    text = str(t)
    for piece in ("Model 1", "Model 2", "Model 3", "(Intercept)", "Days", "ICC", "N Subject",
                  "Observations", "AIC", "log-Likelihood", "Random effects", "95% CI"):
        assert piece in text, piece
    f = t.frame
    est = f[(f["model"] == "Model 3") & (f["term"] == "Days")]["estimate"].item()
    assert np.isclose(est, models["rs"].fixef["Days"])
    days_row = next(line for line in text.splitlines() if line.startswith("Days"))
    assert f"{models['rs'].fixef['Days']:.2f}" in days_row
    assert "R\u00b2 / R\u00b2 adjusted" in text and "0.286 / 0.282" in text
    tau = models["ri"].varcorr.loc[0, "vcov"]
    icc = tau / (tau + models["ri"].sigma ** 2)
    assert f"{icc:.2f}" in next(line for line in text.splitlines() if line.startswith("ICC"))


def test_compare_options_and_formats(models):
    t = ml.compare({"OLS": models["ols"], "Mixed": models["rs"]}, show="se", p_values=False,
                   digits=3, intercept=False)
    assert t.names == ["OLS", "Mixed"]
    assert t.table.columns == ("Estimate", "SE") * 2
    assert "(Intercept)" not in str(t)
    html = t.to_html()
    assert html.startswith('<table class="ml-table">') and html.count("<tr>") > 5
    assert 'colspan="2"' in html and "&tau;<sub>00</sub>" in html
    assert "<style>" in t._repr_html_()
    md = t.to_markdown()
    header = md.splitlines()[0]
    assert header.count("|") == 6 and "OLS Estimate" in header
    assert all(line.count("|") - line.count("\\|") == 6 for line in md.splitlines()
               if line.startswith("|"))
    tex = t.to_latex()
    assert tex.startswith(r"\begin{tabular}{lrrrr}") and r"\multicolumn{2}{c}{OLS}" in tex
    assert r"$\tau_{00}$" in tex and r"\end{tabular}" in tex
    with pytest.raises(ValueError):
        ml.compare()
    with pytest.raises(ValueError):
        ml.compare(models["ols"], show="t")


def test_compare_omit_and_escaping(sleep):
    df = sleep.rename(columns={"Days": "days_<b>&"})
    df["days_<b>&"] = df["days_<b>&"].astype(float)
    m = ml.lm("Reaction ~ Days + as.factor(Subject)", sleep)
    t = ml.compare(m, omit=r"^as\.factor")
    assert "as.factor" not in str(t) and "17 coefficients left out" in str(t)
    from multilevel.report.table import Row, Section, Table, escape_latex, escape_markdown

    table = Table(stub="<i>x</i>", columns=("a_b", "<script>"),
                  sections=(Section("<b>s</b>", (Row("x & y|z", ("1", "50%")),)),))
    html = table.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>s</b>" not in html
    assert "a\\_b" in table.to_latex() and r"50\%" in table.to_latex()
    assert "x & y\\|z" in table.to_markdown() and escape_markdown("<a>") == "&lt;a&gt;"
    assert escape_latex("#$") == r"\#\$"


def test_glmer_tables_use_the_latent_residual_variance():
    cbpp = ml.datasets.load("cbpp")
    m = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    tau = m.varcorr.loc[0, "vcov"]
    icc = tau / (tau + np.pi ** 2 / 3)
    assert np.isclose(m.glance().loc[0, "icc"], icc)
    text = str(ml.compare(m))
    assert "3.29" in text and f"{icc:.2f}" in text and "ML (binomial)" in text
    a = m.augment(cbpp)
    assert a[".fitted"].between(0, 1).all() and a[".fixed"].between(0, 1).all()
    html = ml.report([m], data=cbpp, image_format="svg")
    assert "A binomial (logit) random-intercept model" in html
    assert html.count("<figure ") == 3            # ranef, diagnostics, coefficients
