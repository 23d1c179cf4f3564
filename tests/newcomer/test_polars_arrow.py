"""polars DataFrames and pyarrow Tables are accepted by every public function that takes data;
results stay pandas, and augment gives back the input's kind."""
from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

import multilevel as ml

matplotlib.use("Agg")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

KINDS = {"polars": pl.from_pandas, "pyarrow": lambda d: pa.Table.from_pandas(d, preserve_index=False)}
F = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    d = ml.datasets.load("sleepstudy")
    d["Subject"] = d["Subject"].astype(str)   # a string column, as a CSV read by polars has
    d["w"] = np.linspace(0.5, 1.5, len(d))
    d["day"] = d["Days"].astype("int64")      # an i64 column
    return d


@pytest.fixture(scope="module", params=list(KINDS))
def both(request, sleep):
    return request.param, KINDS[request.param](sleep)


def _same(a, b):
    pd.testing.assert_series_equal(a.fixef, b.fixef, rtol=1e-8)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)


def test_fits(both, sleep):
    kind, other = both
    _same(ml.lm("Reaction ~ Days", other), ml.lm("Reaction ~ Days", sleep))
    _same(ml.lmer(F, other), ml.lmer(F, sleep))
    _same(ml.lmer(F, other, weights="w"), ml.lmer(F, sleep, weights="w"))
    counts = sleep.assign(y=(sleep["Reaction"] > 300).astype(int))
    g_other = ml.glmer("y ~ Days + (1 | Subject)", KINDS[kind](counts), family="binomial")
    _same(g_other, ml.glmer("y ~ Days + (1 | Subject)", counts, family="binomial"))


def test_predict_newdata_and_augment(both, sleep, tmp_path):
    kind, other = both
    m = ml.lmer(F, sleep)
    pd.testing.assert_series_equal(m.predict(other), m.predict(sleep), check_index=False)
    pd.testing.assert_series_equal(m.predict(other, re_form=None),
                                   m.predict(sleep, re_form=None), check_index=False)
    lm = ml.lm("Reaction ~ Days", sleep)
    np.testing.assert_allclose(lm.predict(other).to_numpy(), lm.predict(sleep).to_numpy())
    aug = m.augment(other)
    assert ml._data_input.kind_of(aug) == kind
    back = ml._data_input.to_pandas(aug)
    np.testing.assert_allclose(back[".fitted"].to_numpy(), m.fitted.to_numpy())
    assert type(m.augment(sleep)) is pd.DataFrame
    written = m.augment(other, to=str(tmp_path / "aug.parquet"))
    assert pd.read_parquet(written)[".fitted"].to_numpy() == pytest.approx(m.fitted.to_numpy())
    for interval in ("confidence", "prediction"):
        np.testing.assert_allclose(m.predict(other, interval=interval).to_numpy(),
                                   m.predict(sleep, interval=interval).to_numpy())


def test_plots(both, sleep):
    kind, other = both
    import matplotlib.pyplot as plt

    ax = ml.plot.scatter_fit(other, "Days", "Reaction", group="Subject")
    assert ax.get_xlabel() == "Days"
    ax2 = ml.plot.group_lines(ml.lmer(F, other))
    assert len(ax2.lines) >= 18
    plt.close("all")


def test_group_summary(both, sleep):
    kind, other = both
    got = ml.group_summary(other, by="Subject", vars=["Reaction", "day"])
    want = ml.group_summary(sleep, by="Subject", vars=["Reaction", "day"])
    pd.testing.assert_frame_equal(got, want)


def test_report_compare_bootstrap(both, sleep, tmp_path):
    kind, other = both
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = ml.report(["Reaction ~ Days", F], data=other, path=tmp_path / "r.html")
    assert "<table" in html and "Reaction" in html
    m0 = ml.lmer("Reaction ~ Days + (1 | Subject)", other, reml=False)
    m1 = ml.lmer(F, other, reml=False)
    assert "Days" in str(ml.compare(m0, m1))
    assert ml.anova(m0, m1)["Chisq"].iloc[1] > 0
    b = ml.bootstrap(m0, nsim=3, seed=1)
    assert b.nsim == 3


def test_polars_lazyframe_and_bad_input(sleep):
    m = ml.lm("Reaction ~ Days", pl.from_pandas(sleep).lazy())
    assert m.nobs == 180
    with pytest.raises(ml.DataError, match="pyarrow Table"):
        ml.lm("Reaction ~ Days", [1, 2, 3])


def test_post_fit_functions_that_take_data(both, sleep):
    """emmeans(data=), influence(data=) of a GLMM, predictions(data=) and nlmer's predict and
    augment take polars and pyarrow as they take pandas."""
    kind, _ = both
    counts = sleep.assign(y=(sleep["Reaction"] > 300).astype(int))
    g = ml.glmer("y ~ Days + (1 | Subject)", counts, family="binomial")
    other = KINDS[kind](counts)
    pd.testing.assert_frame_equal(g.influence(group="Subject", data=other).fixef,
                                  g.influence(group="Subject", data=counts).fixef)
    cake = ml.datasets.load("cake")
    m = ml.lmer("angle ~ recipe + temp + (1 | replicate)", cake)
    pd.testing.assert_frame_equal(ml.emmeans(m, "recipe", data=KINDS[kind](cake)).frame,
                                  ml.emmeans(m, "recipe", data=cake).frame)
    ax = ml.plot.predictions(ml.lmer(F, sleep), "Days", data=KINDS[kind](sleep))
    assert ax.lines
    from multilevel.fit.nlmer import _example

    nl = _example()
    grid = pd.DataFrame({"age": [500.0, 1000.0]})
    np.testing.assert_allclose(nl.predict(KINDS[kind](grid), re_form=None),
                               nl.predict(grid, re_form=None))
