"""Figures are drawn off-screen; every test starts and ends with no open figure."""
from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    plt.close("all")
