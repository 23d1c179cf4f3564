"""ml.report: one self-contained page with every section, figures inline, data escaped."""
from __future__ import annotations

import base64
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

FORMULAS = ["Reaction ~ Days", "Reaction ~ Days + as.factor(Subject)",
            "Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days | Subject)"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sleep = ml.datasets.load("sleepstudy")
    path = tmp_path_factory.mktemp("report") / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = ml.report(FORMULAS, data=sleep, path=path)
    return html, path


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in
            re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_page_is_written_and_self_contained(page):
    html, path = page
    assert path.read_text(encoding="utf-8") == html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r'(?:src|href)="(?!data:|#)', html)      # nothing fetched
    assert "<script" not in html and "<link" not in html
    assert re.search(r"<style>.*table\.ml-table", html, re.S)


def test_every_section_and_figure(page):
    html, _ = page
    for anchor in ("data", "model-1", "model-2", "model-3", "model-4", "comparison"):
        assert f'id="{anchor}"' in html and f'href="#{anchor}"' in html
    images = _images(html)
    # data 1; OLS: diagnostics; dummies: lines + diagnostics; RI and RS: lines, ranef,
    # effect, pooling, diag; comparison: coefficients
    assert len(images) == 1 + 1 + 2 + 5 + 5 + 1
    for fig_id in ("fig-effect-3", "fig-pooling-3", "fig-effect-4", "fig-pooling-4"):
        assert f'id="{fig_id}"' in html
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") and len(img) > 5000 for img in images)
    for fig_id in ("fig-data", "fig-lines-2", "fig-lines-3", "fig-lines-4", "fig-diag-1",
                   "fig-coefs"):
        assert f'id="{fig_id}"' in html
    assert len(re.findall(r'id="fig-ranef-[34]-\d+"', html)) == 2
    assert html.count('<p class="ml-intro">') == 4
    assert "random-intercept model" in html
    assert "dummy variable for each <code>Subject</code>" in html
    assert html.count('<pre class="ml-summary">') == 4
    assert "Linear mixed model fit by maximum likelihood" in html   # ML by default (the lesson)
    assert "Group means by <code>Subject</code>" in html
    assert "Reaction_n" in html and "Days_mean" in html
    assert "ICC" in html and "Model 4" in html


def test_group_means_table_matches_group_summary(page):
    html, _ = page
    sleep = ml.datasets.load("sleepstudy")
    s = ml.group_summary(sleep, by="Subject", vars=["Reaction", "Days"])
    first = s.iloc[0]
    row = re.search(rf'<th class="ml-label">{s.index[0]}</th>(.*?)</tr>', html).group(1)
    assert f"{first['Reaction_mean']:.2f}" in row and f">{int(first['Reaction_n'])}<" in row


def test_data_derived_text_is_escaped(tmp_path):
    rng = np.random.default_rng(3)
    n = 60
    g = np.repeat(["<script>alert(1)</script>", "<b>bold</b>", "a&b", "plain"], n // 4)
    x = rng.normal(size=n)
    df = pd.DataFrame({"y": 2 + x + rng.normal(size=n) + (g == "plain"), "x": x, "g": g,
                       "<img src=x onerror=alert(2)>": rng.normal(size=n)})
    df.attrs["labels"] = {"y": "Score <script>alert(3)</script>"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = ml.report(["y ~ x + (1 | g)"], data=df, title="<script>alert(4)</script>",
                         names=["<i>m</i>"])
    assert "<script" not in html and "<img src=x" not in html and "<i>m</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "Score &lt;script&gt;" in html and "<title>&lt;script&gt;alert(4)" in html


def test_failed_model_is_reported_and_others_kept(tmp_path):
    sleep = ml.datasets.load("sleepstudy")
    html = ml.report(["Reaction ~ Days", "Reaction ~ nope + (1 | Subject)"], data=sleep)
    assert html.count('class="ml-error"') == 1 and "nope" in html
    assert 'id="comparison"' in html


def test_fitted_models_without_data_and_svg():
    sleep = ml.datasets.load("sleepstudy")
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    html = ml.report({"Sleep": m}, image_format="svg")
    assert 'id="data"' not in html and "REML" in html
    # lines, ranef, effect, pooling, diagnostics, coefs
    assert html.count("data:image/svg+xml;base64,") == 6
    with pytest.raises(ValueError, match="formulas need data"):
        ml.report("Reaction ~ Days")


def test_lrt_section_only_when_anova_exists(monkeypatch):
    sleep = ml.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = [ml.lmer(f, sleep, reml=False) for f in FORMULAS[2:]]
    from multilevel.report import html_report

    monkeypatch.setattr(html_report, "_anova_function", lambda: None)
    assert 'id="lrt"' not in ml.report(ms)
    calls = []

    def fake_anova(*models, model_names=None):
        calls.append(models)
        return pd.DataFrame({"npar": [4, 6], "Chisq": [np.nan, 42.0]}, index=["m1", "m2"])

    monkeypatch.setattr(html_report, "_anova_function", lambda: fake_anova)
    html = ml.report(ms)
    assert calls and len(calls[0]) == 2
    assert 'id="lrt"' in html and "Chisq" in html and "42.00" in html


def test_lrt_with_the_real_anova():
    if not hasattr(ml, "anova"):
        pytest.skip("ml.anova is not there yet")
    sleep = ml.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = {"OLS": ml.lm("Reaction ~ Days", sleep),
              "Dummies": ml.lm("Reaction ~ Days + as.factor(Subject)", sleep),
              "RI": ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False),
              "RS": ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False)}
        html = ml.report(ms, image_format="svg")
    section = re.search(r'<section id="lrt">(.*?)</section>', html, re.S).group(1)
    # the dummies model is not nested in the others: the table has the other three
    assert [re.sub("<.*?>", "", h) for h in re.findall(r'class="ml-label">(.*?)</th>', section)] \
        == ["OLS", "RI", "RS"]
    assert "Pr(&gt;Chisq)" in section and "&lt;0.001" in section
