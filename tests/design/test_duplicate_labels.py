"""A column label used twice is refused with the project's DataError, in a fit and in the
new data of a prediction (pandas hands out a DataFrame for such a label, not a column)."""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

import multilevel as ml
from multilevel.design.model_frame import build_design
from multilevel.errors import DataError


@pytest.fixture(scope="module")
def sleep_fit():
    sleep = ml.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sleep, ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)


@pytest.mark.parametrize("twice", ["Days", "Subject"])
def test_newdata_with_a_label_used_twice_is_a_data_error(sleep_fit, twice):
    sleep, m = sleep_fit
    nd = pd.concat([sleep[["Days", "Subject"]], sleep[[twice]]], axis=1).head(5)
    with pytest.raises(DataError, match=f"2 columns named '{twice}'"):
        m.predict(nd)


@pytest.mark.parametrize("twice", ["Reaction", "Days", "Subject"])
def test_data_with_a_label_used_twice_is_a_data_error(sleep_fit, twice):
    sleep, _ = sleep_fit
    df = pd.concat([sleep, sleep[[twice]]], axis=1)
    with pytest.raises(DataError, match=f"2 columns named '{twice}'"):
        build_design("Reaction ~ Days + (Days | Subject)", df)
