"""ml.all_fit and ml.cross_validate: every optimiser lands at the fit's optimum; folds are
seeded; a fold's refit on the subset design equals a fresh fit to those groups' rows."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError
from multilevel.inference.all_fit import available_optimizers
from multilevel.inference.cross_validate import fold_assignment

_FITS: dict = {}


def sleep_fit():
    if "s" not in _FITS:
        _FITS["s"] = ml.lmer("Reaction ~ Days + (Days | Subject)",
                             ml.datasets.load("sleepstudy"))
    return _FITS["s"]


def test_all_fit_every_optimizer_reaches_the_optimum():
    m = sleep_fit()
    af = ml.all_fit(m)
    assert list(af.fits) == available_optimizers() and not af.errors
    assert len(af.fits) >= 6
    s = af.summary()
    assert s.which_ok.all()
    assert s.llik.max() - s.llik.min() < 1e-5
    np.testing.assert_allclose(s.fixef.to_numpy(), np.tile(m.fixef.to_numpy(), (len(s.fixef), 1)),
                               rtol=1e-5)
    assert s.llik["bobyqa"] == pytest.approx(m.loglik, abs=1e-10)
    assert list(s.sdcor.columns) == [".sig01", ".sig02", ".sig03", ".sigma"]
    assert (s.times > 0).all() and (s.feval > 0).all()
    tab = af.table()
    assert tab["delta_loglik"].max() < 1e-5
    assert "$llik" in str(s) and "bobyqa" in str(af)


def test_all_fit_reports_unknown_optimizer_and_refuses_lm():
    with pytest.raises(ValueError, match="unknown optimizer"):
        ml.all_fit(sleep_fit(), optimizers=["bogus"])
    with pytest.raises(DataError, match="mixed models"):
        ml.all_fit(ml.lm("Reaction ~ Days", ml.datasets.load("sleepstudy")))


def test_cross_validate_is_seeded_and_balanced():
    m = sleep_fit()
    a = ml.cross_validate(m, by="Subject", k=4, seed=7)
    b = ml.cross_validate(m, by="Subject", k=4, seed=7)
    pd.testing.assert_frame_equal(a.folds, b.folds)
    assert a.folds["n_groups"].tolist() == [5, 5, 4, 4]
    assert a.folds["n_obs"].sum() == m.nobs
    c = ml.cross_validate(m, by="Subject", k=4, seed=8)
    assert not a.assignment.equals(c.assignment)
    rmse = np.sqrt(np.sum(a.folds["n_obs"] * a.folds["rmse"] ** 2) / m.nobs)
    assert a.mean["rmse"] == pytest.approx(rmse)


def test_cross_validate_fold_equals_fresh_fit_on_training_groups():
    sleep = ml.datasets.load("sleepstudy")
    m = sleep_fit()
    cv = ml.cross_validate(m, by="Subject", k=3, seed=1)
    f = 2
    held = cv.assignment.index[cv.assignment == f].astype(str)
    subj = sleep["Subject"].astype(str)
    train = sleep[~subj.isin(held)]
    test = sleep[subj.isin(held)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = ml.lmer("Reaction ~ Days + (Days | Subject)", train)
    pred = fresh.predict(test, re_form=None).to_numpy()
    r = test["Reaction"].to_numpy() - pred
    assert cv.folds.loc[f, "rmse"] == pytest.approx(np.sqrt(np.mean(r ** 2)), rel=1e-6)
    assert cv.folds.loc[f, "mae"] == pytest.approx(np.mean(np.abs(r)), rel=1e-6)


def test_cross_validate_glmer_scores():
    g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 ml.datasets.load("cbpp"), family="binomial")
    cv = ml.cross_validate(g, k=5, seed=2)
    assert cv.by == "herd"
    assert {"log_score", "deviance", "brier"} <= set(cv.folds.columns)
    assert (cv.folds["log_score"] < 0).all() and (cv.folds["brier"] > 0).all()
    with pytest.raises(DataError, match="folds"):
        ml.cross_validate(g, k=100)
    with pytest.raises(DataError, match="no grouping factor"):
        ml.cross_validate(g, by="farm")


def test_fold_assignment_deals_round_robin():
    f = fold_assignment(range(10), 3, seed=0)
    assert sorted(np.bincount(f).tolist()) == [3, 3, 4]
    assert np.array_equal(f, fold_assignment(range(10), 3, seed=0))


def test_all_fit_glmer_every_optimizer_agrees():
    g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 ml.datasets.load("cbpp"), family="binomial")
    af = ml.all_fit(g, optimizers=["bobyqa", "nloptwrap.NLOPT_LN_NELDERMEAD", "L-BFGS-B",
                                   "nloptwrap.NLOPT_LN_NEWUOA"])
    assert set(af.fits) == {"bobyqa", "nloptwrap.NLOPT_LN_NELDERMEAD", "L-BFGS-B"}
    assert "two or more parameters" in af.errors["nloptwrap.NLOPT_LN_NEWUOA"]
    s = af.summary()
    assert s.llik.max() - s.llik.min() < 1e-6
    assert s.llik["bobyqa"] == pytest.approx(g.loglik, abs=1e-10)
    np.testing.assert_allclose(s.fixef.to_numpy(), np.tile(g.fixef.to_numpy(), (3, 1)),
                               atol=1e-4)
    assert list(s.sdcor.columns) == [".sig01"]
    assert not s.which_ok["nloptwrap.NLOPT_LN_NEWUOA"]
