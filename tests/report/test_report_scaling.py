"""Per-group content scales: summarised figures beyond ~50 groups, a capped group table,
ID-like integers printed as integers, wide tables scroll in their box, and a 20,000-group
report stays small (its time is measured by benchmarks/report_scaling.py, never asserted here)."""
from __future__ import annotations

import re
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection

import multilevel as ml

matplotlib.use("Agg")


def _data(n_groups: int, per: int = 5, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    u0, u1 = rng.normal(size=n_groups), 0.3 * rng.normal(size=n_groups)
    y = 1 + 0.5 * x + u0[g] + u1[g] * x + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "school_id": g + 40000})


@pytest.fixture(scope="module")
def big():
    data = _data(400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ml.lmer("y ~ x + (x | school_id)", data)
    return data, model


def test_caterpillar_shows_extremes_and_a_density(big):
    import matplotlib.pyplot as plt

    _, m = big
    axes = ml.plot.ranef(m, n_extremes=10)
    for ax in axes:
        assert len(ax.get_yticks()) == 20                      # 10 lowest + 10 highest
        assert any(isinstance(c, PolyCollection) for c in ax.collections)   # the density
    assert "380 more levels" in " ".join(t.get_text() for t in axes[0].texts)
    modes = m.ranef()
    first = modes[modes["term"] == "(Intercept)"].sort_values("condval")["grp"].astype(str)
    shown = [t.get_text() for t in axes[0].get_yticklabels()]
    assert shown == list(first.iloc[:10]) + list(first.iloc[-10:])
    small = ml.plot.ranef(m, max_levels=1000)
    assert len(small[0].get_yticks()) == 400
    plt.close("all")


def test_group_lines_summarise_beyond_50_groups(big):
    import matplotlib.pyplot as plt

    _, m = big
    ax = ml.plot.group_lines(m)
    assert len(ax.lines) == 2 * 8 + 1                          # extremes + population
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2                                     # middle 90% and 50%
    assert any("400 groups" in t.get_text() for t in ax.get_legend().get_texts())
    assert len(ml.plot.group_lines(m, max_groups=500).lines) == 401
    plt.close("all")


def test_scatter_fit_many_groups_is_one_layer(big):
    import matplotlib.pyplot as plt

    data, _ = big
    ax = ml.plot.scatter_fit(data, "x", "y", group="school_id")
    pts = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(pts) == 1 and len(pts[0].get_offsets()) == len(data)
    plt.close("all")


def test_report_ids_as_integers_capped_group_table_and_scrolling(big, tmp_path):
    data, m = big
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = ml.report([ml.lm("y ~ x", data), m], data=data, path=tmp_path / "r.html")
    assert "range 40000 to 40399" in html
    assert not re.search(r"\d\.\d+e\+0\d", html.split("<style>")[0] + html.split("</style>")[-1])
    assert "The first and last 50 of the 400 groups" in html
    assert html.count("<tr") < 400
    assert re.search(r"\.ml-scroll \{[^}]*overflow-x: auto", html)
    cmp_block = html.split('id="compare"')[-1] if 'id="compare"' in html else html
    assert '<div class="ml-scroll">' in cmp_block


def test_wide_comparison_scrolls_in_notebooks():
    sleep = ml.datasets.load("sleepstudy")
    fits = [ml.lmer(f"Reaction ~ Days + (1 | Subject)", sleep) for _ in range(6)]
    page = ml.compare(*fits)._repr_html_()
    assert 'overflow-x: auto' in page and "max-width: 100%" in page


@pytest.mark.slow
def test_report_with_20000_groups_stays_summarised(tmp_path):
    data = _data(20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = ml.report(["y ~ x", "y ~ x + (1 | school_id)", "y ~ x + (x | school_id)"],
                         data=data, path=tmp_path / "r.html")
    assert "20,000" in html and len(html) < 5e6
