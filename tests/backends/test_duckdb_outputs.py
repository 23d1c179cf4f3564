"""Row-level outputs of an out-of-core fit, computed and written by the engine."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import BackendError, DataError

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
pytestmark = pytest.mark.backend

F = "y ~ x + f + (1 + x | g) + (1 | item)"


@pytest.fixture(scope="module")
def fits(parquet_glob, data_small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.lmer(F, data_small), ml.lmer(F, parquet_glob)


def test_augment_writes_fitted_and_residuals(fits, data_small, tmp_path):
    m0, m1 = fits
    out = m1.augment(to=str(tmp_path / "fitted.parquet"))
    got = pd.read_parquet(out).sort_values("id")
    assert list(got.columns) == list(data_small.columns) + [".fixed", ".fitted", ".resid"]
    np.testing.assert_allclose(got[".fitted"], m0.fitted, atol=1e-6)
    np.testing.assert_allclose(got[".resid"], m0.residuals(), atol=1e-6)
    np.testing.assert_allclose(got[".fixed"], m0.predict(re_form=None), atol=1e-6)
    assert os.listdir(tmp_path) == ["fitted.parquet"]  # no temporary file left behind


def test_augment_csv_and_lazy_relation(fits, tmp_path):
    _, m1 = fits
    out = m1.augment(to=str(tmp_path / "fitted.csv"), columns=["id"])
    got = pd.read_csv(out)
    assert list(got.columns) == ["id", ".fixed", ".fitted", ".resid"]
    rel = m1.augment(columns=["id"])
    assert rel.shape[0] == len(got) == m1.nobs


def test_row_level_accessors_say_where_the_rows_are(fits):
    _, m1 = fits
    with pytest.raises(BackendError, match="augment"):
        m1.fitted
    with pytest.raises(BackendError, match="stay in the source"):
        m1.residuals()


def test_predict_other_source_and_in_memory(fits, data_small, tmp_path):
    m0, m1 = fits
    new = data_small.head(50).copy()
    path = tmp_path / "new.parquet"
    new.to_parquet(path, index=False)
    # in memory, as for any fit
    np.testing.assert_allclose(m1.predict(new), m0.predict(new), rtol=1e-6)
    # through the engine, written or lazy
    out = m1.predict(str(path), to=str(tmp_path / "pred.parquet"))
    got = pd.read_parquet(out).sort_values("id")
    np.testing.assert_allclose(got["predicted"], m0.predict(new), rtol=1e-6)
    lazy = m1.predict(str(path), re_form=None).df().sort_values("id")
    np.testing.assert_allclose(lazy["predicted"], m0.predict(new, re_form=None), rtol=1e-6)


def test_predict_new_levels(fits, data_small, tmp_path):
    m0, m1 = fits
    new = data_small.head(5).assign(g=[10_000, 10_001, 1, 2, 3])
    path = tmp_path / "levels.parquet"
    new.to_parquet(path, index=False)
    with pytest.raises(DataError, match="allow_new_levels"):
        m1.predict(str(path))
    got = m1.predict(str(path), allow_new_levels=True).df().sort_values("id")
    np.testing.assert_allclose(got["predicted"], m0.predict(new, allow_new_levels=True),
                               rtol=1e-6)
    bad = data_small.head(3).assign(f=["lo", "new", "hi"])
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(DataError, match="new level"):
        m1.predict(str(tmp_path / "bad.parquet"))


def test_in_memory_fit_writes_augment_too(fits, tmp_path):
    m0, _ = fits
    out = m0.augment(to=str(tmp_path / "mem.parquet"))
    got = pd.read_parquet(out)
    np.testing.assert_allclose(got[".fitted"], m0.fitted)


def test_exact_quantiles_with_a_sample_and_bad_brackets(monkeypatch, fits):
    from multilevel.backends import open_source
    from multilevel.results import lmm_source

    rng = np.random.default_rng(5)
    v = rng.standard_t(3, size=20_001)
    t = open_source(pd.DataFrame({"v": v}), engine="duckdb")
    want = tuple(np.quantile(v, [0, 0.25, 0.5, 0.75, 1]))
    base = f"SELECT v AS r FROM {t.name}"
    assert lmm_source.exact_quantiles(t, base) == pytest.approx(want, rel=1e-15)
    # a biased "sample" puts every bracket in the wrong place: they are widened until right
    biased = f"SELECT v AS r FROM {t.name} WHERE v > 2"
    assert lmm_source.exact_quantiles(t, base, biased, delta=0.0) == pytest.approx(want,
                                                                                  rel=1e-15)
    # the summary's path with a sampled first pass
    _, m1 = fits
    monkeypatch.setattr(lmm_source, "SAMPLE_ROWS", 300)
    m1.__dict__.pop("_resid_quantiles", None)
    r = m1.augment(columns=[]).df()[".resid"].to_numpy()
    np.testing.assert_allclose(m1.resid_quantiles(), np.quantile(r, [0, .25, .5, .75, 1]),
                               rtol=1e-13)
