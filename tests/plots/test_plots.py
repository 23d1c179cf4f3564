"""The five figures of the lesson: what each one draws (lines, points, panels, limits, labels)."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure

import multilevel as ml
from multilevel.plots._style import hue_palette, safe_text


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def models(sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "ols": ml.lm("Reaction ~ Days", sleep),
            "dummies": ml.lm("Reaction ~ Days + as.factor(Subject)", sleep),
            "ri": ml.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False),
            "rs": ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, reml=False),
        }


def _points(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_import_does_not_load_matplotlib():
    code = "import sys, multilevel as ml; ml.plot.scatter_fit; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_palette_is_ggplot2s():
    assert hue_palette(3) == ["#F8766D", "#00BA38", "#619CFF"]
    assert len(set(hue_palette(18))) == 18


def test_scatter_fit_points_line_band_and_legend(sleep):
    ax = ml.plot.scatter_fit(sleep, "Days", "Reaction", group="Subject")
    pts = _points(ax)
    assert len(pts) == 18                                   # one colour per subject
    assert sum(len(p.get_offsets()) for p in pts) == len(sleep)
    assert len({tuple(p.get_facecolor()[0][:3]) for p in pts}) == 18
    assert len(ax.lines) == 1                               # the OLS line
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    line = ax.lines[0]
    x, y = line.get_data()
    assert x.min() == 0 and x.max() == 9
    b = np.polyfit(sleep["Days"], sleep["Reaction"], 1)
    assert np.allclose(y, np.polyval(b, x))
    # the band contains the line
    verts = bands[0].get_paths()[0].vertices
    assert verts[:, 1].min() < y.min() and verts[:, 1].max() > y.max()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Days", "Reaction")
    # more than 12 groups: colours, no legend
    assert ax.get_legend() is None


def test_scatter_fit_legend_labels_and_variable_labels():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [1.0, 3, 2, 5, 4, 6],
                       "g": ["a", "b", "a", "b", "a", "b"]})
    df.attrs["labels"] = {"y": "Score ($)"}
    ax = ml.plot.scatter_fit(df, "x", "y", group="g", level=0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert ax.get_legend().get_title().get_text() == "g"
    assert ax.get_ylabel() == safe_text("Score ($) (y)")
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # level=0: no band


def test_scatter_fit_draws_into_given_axes_and_drops_missing():
    df = pd.DataFrame({"x": [1.0, 2, None, 4], "y": [1.0, 2, 3, None]})
    fig = Figure()
    ax = fig.add_subplot()
    assert ml.plot.scatter_fit(df, "x", "y", ax=ax) is ax
    assert len(_points(ax)[0].get_offsets()) == 2


def test_group_lines_lmer_one_line_per_group_plus_fixed(models):
    m = models["rs"]
    ax = ml.plot.group_lines(m)
    assert len(ax.lines) == 18 + 1
    bold = ax.lines[-1]
    assert bold.get_linewidth() > max(line.get_linewidth() for line in ax.lines[:-1])
    x, y = bold.get_data()
    assert np.allclose(y, m.fixef["(Intercept)"] + m.fixef["Days"] * x)
    coef = m.coef()["Subject"]
    first = str(coef.index[0])
    line = next(line for line in ax.lines if line.get_label() == first)
    x, y = line.get_data()
    assert np.allclose(y, coef.iloc[0]["(Intercept)"] + coef.iloc[0]["Days"] * x)
    assert sum(len(p.get_offsets()) for p in _points(ax)) == 180
    assert ax.get_xlabel() == "Days" and ax.get_ylabel() == "Reaction"


def test_group_lines_lm_with_dummies_parallel_lines(models):
    m = models["dummies"]
    ax = ml.plot.group_lines(m, "Days")
    group_lines = ax.lines[:-1]
    assert len(group_lines) == 18
    slopes = []
    for line in group_lines:
        x, y = line.get_data()
        slopes.append((y[-1] - y[0]) / (x[-1] - x[0]))
    assert np.allclose(slopes, m.fixef["Days"])  # fixed coefficients: one slope
    assert ax.lines[-1].get_label().endswith("(reference)")


def test_group_lines_errors(models):
    with pytest.raises(ValueError, match="no group dummies"):
        ml.plot.group_lines(models["ols"])
    with pytest.raises(ValueError, match="not a numeric predictor"):
        ml.plot.group_lines(models["rs"], "nope")


def test_coefficients_one_and_several_models(models):
    ax = ml.plot.coefficients(models["rs"], intercept=True)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["(Intercept)", "Days"]
    whiskers = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(whiskers) == 2
    tidy = models["rs"].tidy()
    lo, hi = tidy.loc[1, ["conf_low", "conf_high"]]
    seg = [s for w in whiskers for s in w.get_segments()]
    assert any(np.allclose(s[:, 0], [lo, hi]) for s in seg)
    assert any(np.allclose(line.get_xdata(), 0) for line in ax.lines)   # the zero line
    ax = ml.plot.coefficients({"OLS": models["ols"], "RI": models["ri"], "RS": models["rs"]})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Days"]      # no intercept
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["OLS", "RI", "RS"]
    assert len(_points(ax)) == 3
    ys = sorted(p.get_offsets()[0][1] for p in _points(ax))
    assert ys[0] < ys[1] < ys[2]                                         # dodged


def test_ranef_caterpillar_panels_sorted_with_intervals(models):
    m = models["rs"]
    axes = ml.plot.ranef(m)
    assert [a.get_title(loc="left") for a in axes] == ["Subject: (Intercept)", "Subject: Days"]
    re = m.ranef()
    first = re[re["term"] == "(Intercept)"].sort_values("condval")
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert labels == list(first["grp"])                          # sorted by the first term
    pts = _points(axes[0])[0].get_offsets()
    assert np.all(np.diff(pts[:, 0]) >= 0)
    segs = [c for c in axes[0].collections if isinstance(c, LineCollection)][0].get_segments()
    widths = np.array([s[1, 0] - s[0, 0] for s in segs])
    assert np.allclose(widths, 2 * 1.959964 * first["condsd"].to_numpy(), rtol=1e-5)
    # the second panel keeps the first panel's level order and hides its labels
    pts2 = _points(axes[1])[0].get_offsets()
    days = re[re["term"] == "Days"].set_index("grp").loc[first["grp"], "condval"]
    assert np.allclose(pts2[:, 0], days.to_numpy())
    assert not axes[1].yaxis.get_tick_params()["labelleft"]
    with pytest.raises(ValueError):
        ml.plot.ranef(models["ols"])


def test_ranef_into_one_axes_splits_it(models):
    fig = Figure()
    axes = ml.plot.ranef(models["rs"], ax=fig.add_subplot())
    assert len(axes) == 2 and len(fig.axes) == 2


def test_diagnostics_panels(models):
    axes = ml.plot.diagnostics(models["ols"])
    assert len(axes) == 2
    assert sum(len(p.get_offsets()) for p in _points(axes[0])) == 180
    axes = ml.plot.diagnostics(models["rs"])
    assert len(axes) == 4
    titles = [a.get_title(loc="left") for a in axes[:2]]
    assert titles == ["Residuals vs fitted", "Normal QQ: residuals"]
    qq = _points(axes[1])[0].get_offsets()
    assert np.all(np.diff(qq[:, 0]) > 0) and np.all(np.diff(qq[:, 1]) >= 0)
    assert len(_points(axes[2])[0].get_offsets()) == 18    # one point per subject


def test_labels_from_data_cannot_start_mathtext():
    df = pd.DataFrame({"$x$": [1.0, 2, 3, 4], "y": [1.0, 2, 2, 3], "g": ["$a", "_b", "$a", "_b"]})
    fig = Figure()
    ax = ml.plot.scatter_fit(df, "$x$", "y", group="g", ax=fig.add_subplot())
    fig.canvas.draw()  # mathtext would fail or eat the dollars here
    assert ax.get_xlabel() == r"\$x\$"
    assert len(ax.get_legend().get_texts()) == 2
