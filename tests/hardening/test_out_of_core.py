"""Out-of-core sources follow ml.read's scheme rules; DuckDB loads no extension by itself;
a writer killed mid-write leaves no partial output."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import MultilevelError

duckdb = pytest.importorskip("duckdb")
pytestmark = pytest.mark.backend
F = "Reaction ~ Days + (1 | Subject)"


@pytest.mark.parametrize("src", ["s3://bucket/data.parquet", "gs://b/x.parquet",
                                 "file:///etc/passwd.csv", "ftp://ann:pw123@h/x.parquet",
                                 "hf://datasets/x/y.parquet", "azure://c/x.parquet"])
def test_source_schemes_follow_ml_read(src):
    with pytest.raises(MultilevelError) as e_read:
        ml.read(src)
    with pytest.raises(MultilevelError) as e_fit:
        ml.lmer(F, src)
    assert "scheme is not supported" in str(e_fit.value)
    assert str(e_fit.value) == str(e_read.value)
    assert "pw123" not in str(e_fit.value)


def test_duckdb_connections_load_no_extension_by_themselves():
    from multilevel.backends.duckdb import DuckDBTable

    t = DuckDBTable.from_source(ml.datasets.load("sleepstudy"))
    got = t._con.sql("SELECT current_setting('autoinstall_known_extensions'), "
                     "current_setting('autoload_known_extensions')").fetchall()
    assert got == [(False, False)]


def test_http_source_is_downloaded_like_ml_read(tmp_path, monkeypatch):
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    ml.datasets.load("sleepstudy").to_parquet(root / "sleep.parquet")

    def handler(*a, **k):
        return http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, *a):
            pass

    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    httpd = Quiet(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("MULTILEVEL_CACHE", str(tmp_path / "cache"))
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/sleep.parquet"
        m = ml.lmer(F, url)
        ref = ml.lmer(F, ml.datasets.load("sleepstudy"))
        assert m.loglik == pytest.approx(ref.loglik, abs=1e-6)
    finally:
        httpd.shutdown()
        httpd.server_close()


_WRITER = textwrap.dedent("""
    import sys, numpy as np, pandas as pd, multilevel as ml
    src, out = sys.argv[1], sys.argv[2]
    m = ml.lmer("y ~ x + (1 | g)", src)
    print("fitted", flush=True)
    m.augment(to=out)
    print("done", flush=True)
""")


@pytest.fixture(scope="module")
def big_source(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    rng = np.random.default_rng(0)
    n = 3_000_000
    g = rng.integers(0, 500, n)
    x = rng.normal(size=n)
    frame = pd.DataFrame({"y": 1 + 0.5 * x + rng.normal(size=500)[g] + rng.normal(size=n),
                          "x": x, "g": g.astype(str), "pad": rng.normal(size=n)})
    path = d / "big.parquet"
    frame.to_parquet(path, row_group_size=100_000)
    return path


@pytest.mark.parametrize("sig, name", [
    (signal.SIGKILL, "fitted.csv"),
    pytest.param(signal.SIGKILL, "fitted.parquet", marks=pytest.mark.slow),
    pytest.param(signal.SIGTERM, "fitted.csv", marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, "fitted.csv", marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, "fitted.parquet", marks=pytest.mark.slow)])
def test_killed_mid_write_leaves_no_partial_output(big_source, tmp_path, sig, name):
    out = tmp_path / name
    env = dict(os.environ, PYTHONPATH=str(Path(ml.__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(big_source), str(out)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "fitted"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the write has begun
        if any(p.name.startswith(f".{name}.tmp-") for p in tmp_path.iterdir()):
            break
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    if proc.returncode == 0:  # pragma: no cover - the write won the race: it is complete
        assert len(pd.read_csv(out) if name.endswith(".csv") else pd.read_parquet(out)) \
            == 3_000_000
        return
    assert not out.exists()
    if sig == signal.SIGINT:  # an interrupt: the writer cleaned up after itself
        assert list(tmp_path.iterdir()) == []
    # the next write removes what a killed writer left, and completes
    m = ml.lmer("y ~ x + (1 | g)", str(big_source))
    m.augment(to=str(out), columns=["g"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_stray_text_in_a_csv_source_is_refused(tmp_path):
    d = ml.datasets.load("sleepstudy").copy()
    d["Days"] = d["Days"].astype(object)
    d.loc[5, "Days"] = "n/a"
    p = tmp_path / "s.csv"
    d.to_csv(p, index=False)
    with pytest.raises(MultilevelError, match="'Days' holds numbers and 1 text value"):
        ml.lmer(F, str(p))
    assert len(ml.lmer("Reaction ~ factor(Days) + (1 | Subject)", str(p)).fixef) == 11
