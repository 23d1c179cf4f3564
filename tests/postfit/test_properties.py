"""Invariances of the post-fit tools (hypothesis-generated cases).

* emmeans: an affine change of the response ``a + b y`` maps the means to ``a + b mean``,
  their standard errors to ``|b| se``, and leaves df, t ratios of the pairs and p-values alone;
* m.test: a hypothesis written as a string equals the same row given as a matrix, and the
  parser reads back the labels it prints (round trip).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import multilevel as ml
from multilevel.inference.hypothesis import hypothesis_label, parse_hypothesis

CAKE = ml.datasets.load("cake")


@settings(max_examples=5, deadline=None)
@given(a=st.floats(-50, 50), b=st.floats(0.2, 5.0) | st.floats(-5.0, -0.2))
def test_emmeans_follow_affine_changes_of_the_response(a, b):
    d = CAKE.copy()
    d["y2"] = a + b * d["angle"]
    e1 = ml.emmeans(ml.lm("angle ~ recipe * temperature", d), "recipe", by="temperature")
    e2 = ml.emmeans(ml.lm("y2 ~ recipe * temperature", d), "recipe", by="temperature")
    f1, f2 = e1.frame, e2.frame
    np.testing.assert_allclose(f2["emmean"], a + b * f1["emmean"], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(f2["std_error"], abs(b) * f1["std_error"], rtol=1e-8)
    np.testing.assert_allclose(f2["df"], f1["df"])
    p1, p2 = e1.pairs(), e2.pairs()
    np.testing.assert_allclose(p2["statistic"], np.sign(b) * p1["statistic"], rtol=1e-7,
                               atol=1e-9)
    np.testing.assert_allclose(p2["p_value"], p1["p_value"], atol=1e-9)


NAMES = ["(Intercept)", "x1", "x10", "as.factor(g)2", "log(z)", "a:b", "vrmid 50%"]


@settings(max_examples=60, deadline=None)
@given(w=st.lists(st.integers(-4, 4), min_size=len(NAMES), max_size=len(NAMES))
       .filter(lambda v: any(v)), r=st.integers(-9, 9))
def test_hypothesis_strings_round_trip(w, r):
    """Write the row as R would, parse it back: the same L and rhs."""
    terms = []
    for c, nm in zip(w, NAMES):
        if c == 0:
            continue
        q = nm if nm in ("x1", "x10") else f"`{nm}`"
        terms.append(f"{'-' if c < 0 else '+'} {abs(c)}*{q}")
    text = " ".join(terms).lstrip("+ ") + f" = {r}"
    L, rhs = parse_hypothesis(text, NAMES)
    assert L.tolist() == [float(v) for v in w] and rhs == r
    lab = hypothesis_label(text, NAMES)
    L2, rhs2 = parse_hypothesis(lab, NAMES)
    assert L2.tolist() == L.tolist() and rhs2 == rhs


def test_string_and_matrix_forms_agree_for_mixed_models():
    m = ml.lmer("angle ~ recipe + temp + (1 | recipe:replicate)", CAKE)
    a = m.test("recipeB - 2 * recipeC = 1", "temp = 0.1", ddf="kenward-roger")
    L = np.array([[0, 1, -2, 0], [0, 0, 0, 1.0]])
    b = m.test(L=L, rhs=[1, 0.1], ddf="kenward-roger")
    for k in ("F", "ndf", "ddf", "p_value"):
        assert a.joint[k] == pytest.approx(b.joint[k], rel=1e-12)
