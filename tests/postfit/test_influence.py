"""Leverage, Cook's distance, group-deletion influence and VIF against lme4 1.1-31 and car
(tests/postfit/influence_ref.json, made by make_influence.R).

Tolerances: hat values and the closed-form Cook's distance 1e-8 absolute (closed form given
the fit); deletion refits land at lme4's optimum (REML criterion never worse by more than
1e-6), so their fixed effects agree to 1e-5 relative, Cook's distances to 1e-4 of the largest
and variance components to 5e-3 of their scale (the likelihood is flat in them); VIFs 1e-6
relative (functions of vcov). glmer refits are compared with lme4 refits under tight
controls (lme4's own influence() refits with its loose defaults): fixed effects within
2e-3 standard errors (the house bar for glmer fits), Cook's distances 1e-3 of the largest.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, MultilevelError
from multilevel.inference.influence import _units, refit_without

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "influence_ref.json").read_text())
_FITS: dict = {}


def data_of(name):
    return None if name is None else ml.datasets.load(name)


def _fit(key):
    case = REF[key]
    if key not in _FITS:
        d = ml.datasets.load(case["data"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ml.lm if key.endswith("_lm") else ml.lmer
            _FITS[key] = fit(case["formula"], d)
    return _FITS[key]


@pytest.mark.parametrize("key", ["sleep", "cake", "cake_lm"])
def test_hatvalues_and_closed_cooks(key):
    m = _fit(key)
    np.testing.assert_allclose(m.hatvalues().to_numpy(), REF[key]["hatvalues"], atol=1e-8)
    np.testing.assert_allclose(m.cooks_distance(method="closed").to_numpy(),
                               REF[key]["cooks_closed"], atol=1e-8)


@pytest.mark.parametrize("key", ["pastes", "penicillin"])
def test_case_deletion_cooks_nested_and_crossed(key):
    m = _fit(key)
    np.testing.assert_allclose(m.hatvalues().to_numpy(), REF[key]["hatvalues"], atol=1e-7)
    closed = np.asarray(REF[key]["cooks_closed"])  # 1/(1-h)^2 magnifies theta's last digits
    np.testing.assert_allclose(m.cooks_distance(method="closed").to_numpy(), closed,
                               atol=1e-5 * closed.max())
    cd = np.asarray(REF[key]["cooks_cases"])
    np.testing.assert_allclose(m.cooks_distance().to_numpy(), cd, atol=1e-4 * cd.max())


@pytest.mark.parametrize("key, data", [("sleep", None), ("cake", "cake")])
def test_group_deletion_matches_lme4_influence(key, data):
    want = REF[key]["group"]
    m = _fit(key)
    inf = m.influence(group=want["groups"], data=None if data is None else
                      ml.datasets.load(data))
    assert [str(u) for u in inf.fixef.index] == want["units"]
    np.testing.assert_allclose(inf.fixef.to_numpy(), np.asarray(want["fixef"]), rtol=1e-5)
    assert inf.var_cov_comps.columns.tolist() == want["var_cov_names"]
    # the refits land at lme4's optimum: REML criterion never worse by more than 1e-6 ...
    crit = [refit_without(m, _units(m, want["groups"], data_of(data))[1] == k).reml_crit
            for k in range(len(want["units"]))]
    assert np.all(np.asarray(crit) <= np.asarray(want["reml_crit"]) + 1e-6)
    # ... where the likelihood is flat in the variance components (sleepstudy's slope-
    # intercept covariance moves by 0.3% within 1e-7 of the criterion): 5e-3 of each
    # component's scale, sqrt(v_i v_j) for a covariance
    got, ref = inf.var_cov_comps.to_numpy(), np.asarray(want["var_cov_comps"])
    scale = np.abs(ref)
    names = want["var_cov_names"]
    for j, nm in enumerate(names):
        if nm.split(":")[-1].startswith("C["):
            a, b = nm[nm.index("C[") + 2:-1].split(",")
            pre = nm[:nm.index("C[")]
            scale[:, j] = np.sqrt(ref[:, names.index(f"{pre}v[{a}]")]
                                  * ref[:, names.index(f"{pre}v[{b}]")])
    assert np.all(np.abs(got - ref) <= 5e-3 * scale)
    cd = np.asarray(want["cooks_distance"])
    np.testing.assert_allclose(inf.cooks_distance.to_numpy(), cd, atol=1e-4 * cd.max())
    assert inf.converged.all()
    assert "Largest Cook's distances" in repr(inf)
    n, p = inf.fixef.shape
    np.testing.assert_allclose(inf.cooks_distance_me, inf.cooks_distance * n / (n - p))


def test_glmer_group_deletion_matches_tight_lme4_refits():
    want = REF["cbpp_glmer"]["group"]
    d = ml.datasets.load("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ml.glmer(REF["cbpp_glmer"]["formula"], d, family="binomial")
        inf = g.influence(group="herd", data=d)
    assert inf.fixef.index.tolist() == want["units"]
    se = np.sqrt(np.diag(np.asarray(g.vcov)))
    np.testing.assert_allclose(inf.fixef.to_numpy(), np.asarray(want["fixef"]), rtol=0,
                               atol=float(2e-3 * se.min()))
    cd = np.asarray(want["cooks_distance"])
    np.testing.assert_allclose(inf.cooks_distance.to_numpy(), cd, atol=1e-3 * cd.max())
    assert (inf.var_cov_comps["sigma^2"] == 1.0).all()


def test_case_deletion_is_the_default_and_refits_are_exact():
    """Deleting a case and refitting from scratch gives the same fixed effects."""
    d = ml.datasets.load("Dyestuff")
    m = ml.lmer("Yield ~ 1 + (1 | Batch)", d)
    inf = m.influence()
    assert len(inf.fixef) == m.nobs
    m3 = ml.lmer("Yield ~ 1 + (1 | Batch)", d.drop(index=d.index[3]))
    assert inf.fixef.iloc[3, 0] == pytest.approx(float(m3.fixef.iloc[0]), rel=1e-6)
    cd = m.cooks_distance()
    assert cd.shape == (m.nobs,) and np.all(cd >= 0)


@pytest.mark.parametrize("key", ["cake", "cake_lm", "exam", "exam_1df"])
def test_vif_matches_car(key):
    want = REF[key]["vif"]
    got = ml.vif(_fit(key) if key != "exam" and key != "exam_1df" else
                 ml.lmer(REF[key]["formula"], ml.datasets.load("Exam")))
    if "df" in want:
        assert got.index.tolist() == want["terms"]
        np.testing.assert_allclose(got["GVIF"], want["gvif"], rtol=1e-6)
        assert got["Df"].tolist() == want["df"]
        np.testing.assert_allclose(got["GVIF^(1/(2*Df))"], want["gvif_adj"], rtol=1e-6)
    else:
        assert isinstance(got, pd.Series) and got.index.tolist() == want["terms"]
        np.testing.assert_allclose(got, want["gvif"], rtol=1e-6)


def test_errors_for_people():
    m = _fit("sleep")
    with pytest.raises(DataError, match="not a grouping factor"):
        m.influence(group="nope")
    with pytest.raises(MultilevelError, match="unknown method"):
        m.cooks_distance(method="bogus")
    with pytest.raises(MultilevelError, match="fewer than 2 terms"):
        ml.vif(m)
    g = ml.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 ml.datasets.load("cbpp"), family="binomial")
    with pytest.raises(MultilevelError, match="hatvalues"):
        g.hatvalues()
    with pytest.raises(DataError, match="data="):
        g.influence(group="herd")


def test_influence_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    m = _fit("sleep")
    ax = ml.plot.influence(m.influence(group="Subject"), label=2)
    assert ax.get_ylabel() == "Cook's distance"
    assert len(ax.texts) == 2
    ax2 = ml.plot.influence(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")),
                            group="Batch", cutoff=None)
    assert ax2.get_title(loc="left") == "Influence of each Batch"
