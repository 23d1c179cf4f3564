"""The lesson's figures on a GLMM (cbpp's binomial glmer): the caterpillar plot, the
coefficient plot and the diagnostics draw it; ``group_lines`` draws response-scale curves;
the profile plot draws a glmer profile."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection

import multilevel as ml


@pytest.fixture(scope="module")
def gm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        ml.datasets.load("cbpp"), family="binomial")


def _points(ax) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_ranef_caterpillar_of_a_glmer(gm):
    (ax,) = ml.plot.ranef(gm)
    assert ax.get_title(loc="left") == "herd: (Intercept)"
    re = gm.ranef().sort_values("condval", kind="stable")
    assert [t.get_text() for t in ax.get_yticklabels()] == list(re["grp"])
    assert np.allclose(_points(ax)[0].get_offsets()[:, 0], re["condval"])
    segs = [c for c in ax.collections if isinstance(c, LineCollection)][0].get_segments()
    widths = np.array([s[1, 0] - s[0, 0] for s in segs])
    assert np.allclose(widths, 2 * 1.959964 * re["condsd"].to_numpy(), rtol=1e-5)


def test_coefficients_of_a_glmer_are_its_wald_intervals(gm):
    ax = ml.plot.coefficients(gm)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["period2", "period3", "period4"]
    seg = [s for c in ax.collections if isinstance(c, LineCollection) for s in c.get_segments()]
    wald = gm.confint().loc[["period2", "period3", "period4"]].to_numpy()
    for lo, hi in wald:
        assert any(np.allclose(s[:, 0], [lo, hi]) for s in seg)


def test_diagnostics_of_a_glmer(gm):
    axes = ml.plot.diagnostics(gm)
    assert len(axes) == 3
    assert [a.get_title(loc="left") for a in axes[:2]] == ["Residuals vs fitted",
                                                          "Normal QQ: residuals"]
    xy = _points(axes[0])[0].get_offsets()
    assert np.allclose(xy[:, 0], gm.fitted) and np.allclose(xy[:, 1], gm.residuals())
    assert len(_points(axes[2])[0].get_offsets()) == 15    # one point per herd


def test_group_lines_of_a_glmer_are_response_scale_curves():
    exam = ml.datasets.load("Exam")
    exam = exam.assign(passed=(exam["normexam"] > 0).astype(float))
    gm = ml.glmer("passed ~ standLRT + (1 | school)", exam, family="binomial")
    ax = ml.plot.group_lines(gm, "standLRT", max_groups=100)
    assert len(ax.lines) == 65 + 1                          # one curve per school + population
    for line in ax.lines:
        y = np.asarray(line.get_ydata())
        assert np.all((y > 0) & (y < 1))                    # probabilities, not logits
        assert np.all(np.diff(y) > 0)                       # increasing in standLRT
    pts = np.vstack([c.get_offsets() for c in ax.collections])
    assert set(np.unique(pts[:, 1])) == {0.0, 1.0}          # the 0/1 responses under the curves


def test_group_lines_needs_a_numeric_predictor(gm):
    with pytest.raises(ValueError, match="no numeric predictor"):  # cbpp: period is a factor
        ml.plot.group_lines(gm)


def test_profile_plot_of_a_glmer(gm):
    from multilevel.plots.profile import profile as profile_plot

    pr = ml.profile(gm, which=["period2"])
    (ax,) = profile_plot(pr)
    assert ax.get_title() == "period2"
    x, zeta = ax.lines[0].get_data()
    assert np.all(np.diff(x) > 0) and np.all(np.diff(zeta) > 0)
