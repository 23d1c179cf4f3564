"""ml.plot.predictions and ml.plot.pooling render (Agg) and draw the right numbers."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import multilevel as ml  # noqa: E402
from multilevel.errors import DataError  # noqa: E402

_FITS: dict = {}


def fit(key):
    if key not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[key] = {
                "rs": lambda: ml.lmer("Reaction ~ Days + (Days | Subject)",
                                      ml.datasets.load("sleepstudy")),
                "exam": lambda: ml.lmer("normexam ~ standLRT + sex + (1 | school)",
                                        ml.datasets.load("Exam")),
                "dye": lambda: ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")),
                "cbpp": lambda: ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                         ml.datasets.load("cbpp"), family="binomial"),
            }[key]()
    return _FITS[key]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_predictions_population_line_and_band():
    m = fit("rs")
    ax = ml.plot.predictions(m, "Days", n_points=10)
    ax.figure.canvas.draw()
    x, y = ax.lines[-1].get_data()
    np.testing.assert_allclose(x, np.linspace(0, 9, 10))
    beta = m.fixef.to_numpy()
    np.testing.assert_allclose(y, beta[0] + beta[1] * x, rtol=1e-10)
    fr = ax.prediction_frame
    X = np.column_stack([np.ones(10), x])
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, m.vcov.to_numpy(), X))
    np.testing.assert_allclose(fr["upper"] - fr["fit"], 1.959963984540054 * se, rtol=1e-8)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(fr["lower"].min())
    assert band[:, 1].max() == pytest.approx(fr["upper"].max())


def test_predictions_by_group_and_other_predictors_at_reference():
    m = fit("exam")
    ax = ml.plot.predictions(m, "standLRT", by="school", n_points=5, max_groups=10)
    gf = ax.group_frame
    assert gf["group"].nunique() == 10 and len(ax.lines) == 11
    fr = ax.prediction_frame
    assert (fr["sex"] == "F").all()  # the reference level
    first = gf["group"].iloc[0]
    b = m.ranef_wide()["school"].loc[first, "(Intercept)"]
    np.testing.assert_allclose(gf.loc[gf["group"] == first, "fit"].to_numpy(),
                               fr["fit"].to_numpy() + b, rtol=1e-10)
    with pytest.raises(DataError, match="not a predictor"):
        ml.plot.predictions(m, "vr")


def test_predictions_glmer_on_response_scale():
    g = fit("cbpp")
    ax = ml.plot.predictions(g, "period", by="herd")
    fr = ax.prediction_frame
    want = g.predict(pd.DataFrame({"period": ["1", "2", "3", "4"]}), re_form=None,
                     type="response")
    np.testing.assert_allclose(fr["fit"], want, rtol=1e-10)
    assert ((fr["lower"] > 0) & (fr["upper"] < 1)).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    link = ml.plot.predictions(g, "period", type="link").prediction_frame
    np.testing.assert_allclose(1 / (1 + np.exp(-link["lower"])), fr["lower"], rtol=1e-10)


def test_pooling_two_columns():
    m = fit("rs")
    ax = ml.plot.pooling(m)
    ax.figure.canvas.draw()
    est = ax.pooling_frame
    sleep = ml.datasets.load("sleepstudy")
    s = sleep[sleep["Subject"].astype(str) == est.index[0]]
    slope, icpt = np.polyfit(s["Days"], s["Reaction"], 1)
    assert est[("no", "(Intercept)")].iloc[0] == pytest.approx(icpt)
    assert est[("no", "Days")].iloc[0] == pytest.approx(slope)
    coef = m.coef()["Subject"]
    np.testing.assert_allclose(est[("partial", "Days")], coef["Days"])
    partial = ax.collections[1].get_offsets()
    np.testing.assert_allclose(partial, coef[["(Intercept)", "Days"]].to_numpy())
    star = ax.collections[2].get_offsets()[0]
    np.testing.assert_allclose(star, np.polyfit(sleep["Days"], sleep["Reaction"], 1)[::-1])
    assert len(ax.texts) == 18  # one arrow per subject


def test_pooling_one_column_shrinks_toward_the_mean():
    m = fit("dye")
    ax = ml.plot.pooling(m)
    est = ax.pooling_frame
    no, part = est[("no", "(Intercept)")], est[("partial", "(Intercept)")]
    grand = est[("complete", "(Intercept)")].iloc[0]
    assert (np.abs(part - grand) <= np.abs(no - grand) + 1e-9).all()
    assert ax.lines[0].get_xdata()[0] == pytest.approx(grand)
    with pytest.raises(DataError):
        ml.plot.pooling(fit("cbpp"))
