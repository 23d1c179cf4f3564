"""The report in a real browser: headless Chromium renders the page and its figures load.

Skipped (with the reason) only when no Chromium can be found; ``.ci/run`` installs Debian's
``chromium``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import multilevel as ml

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
              "chrome", "headless_shell")


def _chromium() -> str | None:
    env = os.environ.get("MULTILEVEL_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium found (tried " + ", ".join(CANDIDATES)
                    + "; .ci/run installs Debian's chromium)")
    return path


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


def _screenshot(browser: str, html_path, tmp_path, height: int) -> np.ndarray:
    import matplotlib.image as mpimg

    png = tmp_path / f"{html_path.stem}-{height}.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={png}", f"--window-size=1200,{height}", html_path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"no screenshot; chromium said:\n{proc.stderr[-2000:]}"
    return mpimg.imread(png)[:, :, :3]


def _colourful(img: np.ndarray) -> np.ndarray:
    """Mask of saturated pixels (group colours of points and lines)."""
    return (img.max(axis=2) - img.min(axis=2)) > 0.25


def _hue_bins(img: np.ndarray, bins: int = 18) -> int:
    from matplotlib.colors import rgb_to_hsv

    hsv = rgb_to_hsv(img[_colourful(img)])
    counts, _ = np.histogram(hsv[:, 0], bins=bins, range=(0, 1))
    return int((counts > 20).sum())


def test_report_renders_as_a_page_with_its_figures(browser, sleep, tmp_path):
    html_path = tmp_path / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml.report(["Reaction ~ Days", "Reaction ~ Days + (Days | Subject)"], data=sleep,
                  path=html_path, title="Browser check")
    img = _screenshot(browser, html_path, tmp_path, 3000)
    assert img.shape[:2] == (3000, 1200)
    white = (img.min(axis=2) > 0.97).mean()
    assert 0.5 < white < 0.99, white                   # a page, not blank, not all ink
    title = img[20:110, 60:500]
    assert (title.max(axis=2) < 0.3).mean() > 0.05     # the h1 in dark ink at the top
    rule = img[130:190].reshape(-1, 3)
    accent = np.array([0x2C, 0x7F, 0xB8]) / 255
    assert (np.abs(rule - accent).max(axis=1) < 0.08).sum() > 1000   # blue rule under it
    # the data figure loaded: its points come in many hues (a colour per subject)
    assert _hue_bins(img[1000:3000]) >= 10


def test_every_figure_loads(browser, sleep, tmp_path):
    html_path = tmp_path / "full.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = ml.report(["Reaction ~ Days + (Days | Subject)"], data=sleep, path=html_path)
    assert page.count("<figure ") == 7  # data, lines, ranef, effect, pooling, diag, coefs
    # the same page with every image broken, for comparison
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r'src="data:image/png;base64,[^"]+"',
                             'src="data:image/png;base64,AAAA"', page), encoding="utf-8")
    good = _screenshot(browser, html_path, tmp_path, 8000)
    bad = _screenshot(browser, broken, tmp_path, 8000)
    ink = lambda im: int((im.min(axis=2) < 0.6).sum())  # noqa: E731
    assert _colourful(good).sum() > _colourful(bad).sum() + 20_000
    assert ink(good) > ink(bad) + 20_000
    red = np.array([0xD7, 0x30, 0x1F]) / 255              # the QQ plots' reference lines
    assert (np.abs(good - red).max(axis=2) < 0.12).sum() > 300
    assert (np.abs(bad - red).max(axis=2) < 0.12).sum() == 0
