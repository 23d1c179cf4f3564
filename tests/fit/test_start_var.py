"""lmer_start's variance is numpy's ``var(ddof=1)`` bit for bit (the start, and so the
optimiser's path, must not move)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from multilevel.fit.start import _var


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=300),
       st.floats(-1e8, 1e8, allow_nan=False))
def test_var_is_numpys_bit_for_bit(values, shift):
    a = np.array(values) + shift
    assert _var(a) == float(np.var(a, ddof=1))


def test_var_of_long_vectors_is_numpys():  # numpy's pairwise sums: blocks of 128 and more
    rng = np.random.default_rng(5)
    for n in (129, 1000, 4097, 100_003):
        a = rng.normal(300.0, 50.0, n)
        assert _var(a) == float(np.var(a, ddof=1))
