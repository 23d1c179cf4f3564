"""R's self-starting models: values and analytic gradients against R (selfstart_reference.json,
made by make_nlmer_reference.R with R's deriv() gradients) and against finite differences."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multilevel.errors import MultilevelError
from multilevel.selfstart import MODELS, get_initial, get_model, sorted_xy

REF = json.loads((Path(__file__).resolve().parent / "selfstart_reference.json").read_text())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_value_and_gradient_match_r(name):
    r = REF[name]
    m = MODELS[name]
    assert list(r["pars"]) == list(m.params)
    pars = list(r["pars"].values())
    x = np.array(REF["x"])
    np.testing.assert_allclose(m.value(x, *pars), r["value"], rtol=1e-13)
    np.testing.assert_allclose(m.gradient(x, *pars), np.array(r["gradient"]), rtol=1e-12,
                               atol=1e-14)


_POINTS = {
    "SSlogis": [(10, 3, 1.5), (200, 725, 350)],
    "SSasymp": [(10, 2, -0.5), (100, -8, -3.2)],
    "SSmicmen": [(3, 2), (200, 0.06)],
    "SSfpl": [(1, 10, 3, 1.5), (0, 2.4, 1.5, 1.06)],
    "SSgompertz": [(10, 2, 0.7), (4.6, 2.3, 0.72)],
    "SSbiexp": [(3, 0.5, 1, -1), (2.0, 0.58, 0.19, -1.8)],
    "SSasympOrig": [(10, -0.5), (94, -3)],
    "SSasympOff": [(10, -0.5, 0.2), (32, -4.6, 43)],
    "SSweibull": [(10, 8, -1.5, 1.7), (900, 870, -8, 2.3)],
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), which=st.integers(0, 1),
       rel=st.floats(0.8, 1.25), x=st.floats(0.05, 12.0))
def test_gradient_matches_finite_differences(name, which, rel, x):
    m = MODELS[name]
    pars = np.array(_POINTS[name][which], dtype=float) * rel
    xs = np.array([x])
    g = m.gradient(xs, *pars)[0]
    for j in range(len(pars)):
        h = 1e-6 * max(1.0, abs(pars[j]))
        up, dn = pars.copy(), pars.copy()
        up[j] += h
        dn[j] -= h
        fd = (m.value(xs, *up)[0] - m.value(xs, *dn)[0]) / (2 * h)
        assert fd == pytest.approx(g[j], rel=1e-5, abs=1e-7 * (1 + abs(m.value(xs, *pars)[0])))


def test_parameters_per_observation_broadcast():
    m = MODELS["SSlogis"]
    x = np.array([1.0, 2.0])
    v = m.value(x, np.array([10.0, 20.0]), 3.0, 1.5)
    assert v[1] == pytest.approx(m.value(np.array([2.0]), 20.0, 3.0, 1.5)[0])
    assert m.gradient(x, np.array([10.0, 20.0]), 3.0, 1.5).shape == (2, 3)


def test_no_overflow_far_from_the_midpoint():
    m = MODELS["SSlogis"]
    g = m.gradient(np.array([-1e6, 1e6]), 10.0, 0.0, 1.0)
    assert np.all(np.isfinite(g))


def test_sorted_xy_averages_replicates():
    x, y = sorted_xy([3, 1, 3, 2], [1.0, 5.0, 3.0, 4.0])
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [5.0, 4.0, 2.0]


@pytest.mark.parametrize("name, truth", [
    ("SSlogis", (10, 3, 1.5)), ("SSasymp", (10, 2, -0.5)), ("SSmicmen", (3, 2)),
    ("SSfpl", (1, 10, 3, 1.5)), ("SSgompertz", (10, 2, 0.7)), ("SSbiexp", (3, 0.5, 1, -1)),
    ("SSasympOrig", (10, -0.5)), ("SSasympOff", (10, -0.5, 0.2)),
    ("SSweibull", (10, 8, -1.5, 1.7)),
])
def test_initial_recovers_exact_data(name, truth):
    x = np.linspace(0.25, 10, 12)
    y = MODELS[name].value(x, *truth)
    got = get_initial(name, x, y)
    np.testing.assert_allclose(list(got.values()), truth, rtol=1e-6, atol=1e-8)


def test_initial_needs_enough_distinct_inputs():
    with pytest.raises(MultilevelError, match="distinct input values"):
        get_initial("SSfpl", [1, 2, 3], [1.0, 2.0, 3.0])


def test_unknown_model():
    with pytest.raises(MultilevelError, match="SSlogis"):
        get_model("SSweird")
