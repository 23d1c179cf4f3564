"""Out-of-core lmer on DuckDB equals the in-memory fit on the same data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import MissingDataWarning, RankDeficiencyWarning
from multilevel.results.lmm_source import LmerSourceResult

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
pytestmark = pytest.mark.backend

LOGLIK_RTOL = 1e-8  # the bar: logLik identical to the in-memory fit to 1e-8 relative


def fit_quietly(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.lmer(formula, data, **kw)


def assert_same_fit(m0, m1, *, ranef_atol=1e-5):
    """Same model: logLik to 1e-8 relative, and every labelled output close."""
    assert isinstance(m1, LmerSourceResult)
    assert m1.loglik == pytest.approx(m0.loglik, rel=LOGLIK_RTOL)
    assert m1.nobs == m0.nobs
    assert list(m1.fixef.index) == list(m0.fixef.index)
    np.testing.assert_allclose(m1.fixef, m0.fixef, rtol=1e-6, atol=1e-6)
    # beyond logLik the two optimiser runs agree to their tolerances (theta ~1e-6)
    V0 = m0.vcov.to_numpy()
    np.testing.assert_allclose(m1.vcov, V0, rtol=1e-4, atol=1e-4 * np.abs(V0).max())
    pd.testing.assert_frame_equal(m1.varcorr[["grp", "var1", "var2"]],
                                  m0.varcorr[["grp", "var1", "var2"]])
    np.testing.assert_allclose(m1.varcorr["sdcor"], m0.varcorr["sdcor"], rtol=1e-5,
                               atol=1e-5)
    r0, r1 = m0.ranef(), m1.ranef()
    pd.testing.assert_frame_equal(r1[["grpvar", "term", "grp"]], r0[["grpvar", "term", "grp"]])
    np.testing.assert_allclose(r1["condval"], r0["condval"], atol=ranef_atol)
    np.testing.assert_allclose(r1["condsd"], r0["condsd"], atol=ranef_atol)
    assert m1.aic == pytest.approx(m0.aic, rel=1e-8)
    # the criterion a fit did not optimise (deviance() of a REML fit, reml_crit of an ML fit)
    # is not stationary at the estimates: it moves linearly with the two optimiser runs'
    # theta differences (~1e-6); the optimised one agrees to 1e-8
    assert m1.deviance == pytest.approx(m0.deviance, rel=1e-8 if not m0.reml else 1e-7)
    assert m1.reml_crit == pytest.approx(m0.reml_crit, rel=1e-8 if m0.reml else 1e-7)


DATASET_CASES = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    ("sleepstudy", "Reaction ~ Days + (Days || Subject)"),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
    ("Pastes", "strength ~ 1 + (1 | batch/cask)"),
    ("Exam", "normexam ~ standLRT * sex + schgend + (standLRT | school)"),
    ("cake", "angle ~ recipe * temperature + (1 | recipe:replicate)"),
    ("sleepstudy", "log(Reaction) ~ I(Days^2) + scale(Days) + (1 | Subject)"),
]


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("dataset,formula", DATASET_CASES)
def test_reference_datasets_match_in_memory(dataset, formula, reml):
    df = ml.datasets.load(dataset)
    m0 = fit_quietly(formula, df, reml=reml)
    m1 = fit_quietly(formula, df, reml=reml, engine="duckdb")
    # Pastes' criterion is flat along batch's theta (its noise, ~4e-10 from the cancellation
    # in y'y - ..., is near ftol_abs = 1e-8): two runs from cross-products that differ in the
    # last bits stop up to ~2e-5 apart in theta at criteria equal to 2e-10, and the
    # conditional modes move with theta by up to ~3e-5
    assert_same_fit(m0, m1, ranef_atol=1e-4 if dataset == "Pastes" else 1e-5)


def test_summary_text_is_the_in_memory_summary():
    sleep = ml.datasets.load("sleepstudy")
    m0 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    m1 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep, engine="duckdb")
    assert str(m1.summary()) == str(m0.summary())
    # the residual quantiles are exact order statistics of the engine's residuals
    r1 = m1.augment(columns=[]).df()[".resid"].to_numpy()
    np.testing.assert_allclose(m1.resid_quantiles(),
                               np.quantile(r1, [0, 0.25, 0.5, 0.75, 1]), rtol=1e-13)
    np.testing.assert_allclose(r1, m0.residuals(), rtol=1e-6)


def test_parquet_glob_crossed_factors_and_interactions(parquet_glob, data_small):
    f = "y ~ x + f * z + (1 + x | g) + (1 | item)"
    m0 = fit_quietly(f, data_small, reml=False)
    m1 = fit_quietly(f, parquet_glob, reml=False)
    assert_same_fit(m0, m1)
    assert m1.engine == "duckdb"
    assert list(m1.fixef.index) == ["(Intercept)", "x", "flo", "fmid", "z", "flo:z", "fmid:z"]


def test_na_rows_are_omitted_with_the_same_warning(tmp_path, data_na):
    path = tmp_path / "na.parquet"
    data_na.to_parquet(path, index=False)
    f = "y ~ f + x + (1 | g)"
    with pytest.warns(MissingDataWarning) as w0:
        m0 = ml.lmer(f, data_na)
    with pytest.warns(MissingDataWarning) as w1:
        m1 = ml.lmer(f, str(path))
    assert m1.design.n_dropped == m0.design.n_dropped > 0
    assert str(w1[0].message) == str(w0[0].message)
    assert_same_fit(m0, m1)
    assert str(m1.summary()) .splitlines()[-1] == str(m0.summary()).splitlines()[-1]


def test_rank_deficient_columns_are_dropped_like_in_memory(data_small):
    df = data_small.assign(x2=data_small["x"] * 2.0 + 1.0)
    with pytest.warns(RankDeficiencyWarning, match="dropping 1 column"):
        m1 = ml.lmer("y ~ x + x2 + (1 | g)", df, engine="duckdb")
    assert m1.design.dropped_columns == ["x2"]
    m0 = fit_quietly("y ~ x + x2 + (1 | g)", df)
    assert_same_fit(m0, m1)


def test_offset_and_transforms(data_small):
    f = "y ~ log(z) + sqrt(z) + exp(x / 4) + abs(x) + log1p(z) + log(z, 2) + offset(0.3 * x)" \
        " + (1 | g)"
    m0 = fit_quietly(f, data_small)
    m1 = fit_quietly(f, data_small, engine="duckdb")
    assert_same_fit(m0, m1)


def test_csv_relation_and_connection_table(tmp_path, data_small):
    import duckdb

    f = "y ~ x + (1 | g)"
    m0 = fit_quietly(f, data_small)
    csv = tmp_path / "d.csv"
    data_small.to_csv(csv, index=False)
    assert_same_fit(m0, fit_quietly(f, str(csv)))
    con = duckdb.connect()
    con.register("frame", data_small)
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    assert_same_fit(m0, fit_quietly(f, (con, "t")))
    assert_same_fit(m0, fit_quietly(f, con.table("t")))


def test_million_rows_from_four_files(tmp_path, make, write_parts):
    df = make(1_000_000, n_groups=500, n_items=40, seed=3)
    glob_ = write_parts(df, tmp_path / "big", 4)
    f = "y ~ x + z + (1 + x | g)"
    m0 = fit_quietly(f, df)
    m1 = fit_quietly(f, glob_)
    assert_same_fit(m0, m1)


def test_prior_weights_from_a_column(data_small, tmp_path):
    df = data_small.assign(w=np.random.default_rng(2).uniform(0.5, 2.0, len(data_small)))
    df.to_parquet(tmp_path / "w.parquet", index=False)
    f = "y ~ x + f + (1 + x | g)"
    m0 = fit_quietly(f, df, weights="w")
    m1 = fit_quietly(f, str(tmp_path / "w.parquet"), weights="w")
    assert_same_fit(m0, m1)
    s0, s1 = str(m0.summary()).splitlines(), str(m1.summary()).splitlines()
    assert s1[5:] == s0[5:]  # from "Scaled residuals" on (Data: differs)
    bad = df.assign(w=np.where(df.index == 3, -1.0, df["w"]))
    with pytest.raises(ml.DataError, match="finite and non-negative"):
        ml.lmer(f, bad, weights="w", engine="duckdb")
    with pytest.raises(ml.MultilevelError, match="must name a column"):
        ml.lmer(f, df, weights=df["w"].to_numpy(), engine="duckdb")
