"""The lesson's figures on a GLMM (cbpp's binomial glmer): the caterpillar plot, the
coefficient plot and the diagnostics draw it; ``group_lines`` (straight lines of linear
models) refuses it with a pointer; the profile plot draws a glmer profile."""
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


def test_group_lines_refuses_a_glmer_with_a_pointer(gm):
    with pytest.raises(ValueError, match=r"linear models.*ml\.plot\.ranef"):
        ml.plot.group_lines(gm)


def test_profile_plot_of_a_glmer(gm):
    from multilevel.plots.profile import profile as profile_plot

    pr = ml.profile(gm, which=["period2"])
    (ax,) = profile_plot(pr)
    assert ax.get_title() == "period2"
    x, zeta = ax.lines[0].get_data()
    assert np.all(np.diff(x) > 0) and np.all(np.diff(zeta) > 0)
