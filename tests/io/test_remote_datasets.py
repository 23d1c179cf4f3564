"""Remote datasets (ml.datasets.load("imm10")): download on first use from a local HTTP
server, checksum verified, cached; mismatches refused; offline errors say what to do."""
from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

import multilevel as ml
from multilevel.errors import DataError
from multilevel.io import remote

SHARED_IMM10 = Path(__file__).resolve().parents[3] / "shared" / "data" / "imm10.csv"


@pytest.fixture
def imm10_file():
    if not SHARED_IMM10.is_file():
        pytest.skip("../shared/data/imm10.csv not present")
    return SHARED_IMM10


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTILEVEL_DATA", str(folder))
    monkeypatch.delenv("MULTILEVEL_OFFLINE", raising=False)
    return folder


def _point_at(monkeypatch, url):
    entry = dataclasses.replace(remote.REGISTRY["imm10"], url=url)
    monkeypatch.setitem(remote.REGISTRY, "imm10", entry)


def test_registry_pins_the_lessons_file():
    ds = remote.REGISTRY["imm10"]
    assert ds.sha256 == "6c7d58af919f820f867eaafc14b36b839546f6a31bea662c1355db7b09b8ddb2"
    assert ds.url.startswith("https://") and ds.url.endswith("/imm10.csv")
    assert ml.datasets.remote_names() == ["imm10"]
    assert "downloaded on first use" in ml.datasets.describe("IMM10")


def test_download_verify_cache(imm10_file, server, cache, monkeypatch):
    www, base = server
    shutil.copy(imm10_file, www / "imm10.csv")
    _point_at(monkeypatch, f"{base}/imm10.csv")
    imm10 = ml.datasets.load("imm10")
    assert imm10.shape == (260, 19) and imm10.attrs["name"] == "imm10"
    assert (cache / "imm10.csv").is_file() and not list(cache.glob(".imm10*"))
    (www / "imm10.csv").unlink()                       # the server has it no more: cached
    assert ml.datasets.load("imm10").equals(imm10)
    m4 = ml.lmer("math ~ homework + (homework | schnum)", imm10, reml=False)
    assert round(m4.loglik, 1) == -884.7


def test_checksum_mismatch_is_refused(imm10_file, server, cache, monkeypatch):
    www, base = server
    (www / "imm10.csv").write_bytes(imm10_file.read_bytes().replace(b"48", b"49", 1))
    _point_at(monkeypatch, f"{base}/imm10.csv")
    with pytest.raises(DataError, match="checksum mismatch"):
        ml.datasets.load("imm10")
    assert not cache.exists() or not any(cache.iterdir())   # nothing kept


def test_offline_error_says_what_to_do(cache, monkeypatch):
    _point_at(monkeypatch, "http://127.0.0.1:9/imm10.csv")   # nothing listens on port 9
    with pytest.raises(DataError, match=r"offline\?.*\n.*path="):
        ml.datasets.load("imm10")
    monkeypatch.setenv("MULTILEVEL_OFFLINE", "1")
    with pytest.raises(DataError, match="MULTILEVEL_OFFLINE"):
        ml.datasets.load("imm10")


def test_local_copy_by_path_and_by_folder(imm10_file, tmp_path, cache, monkeypatch):
    monkeypatch.setenv("MULTILEVEL_OFFLINE", "1")
    assert ml.datasets.load("imm10", path=imm10_file).shape == (260, 19)
    bad = tmp_path / "bad.csv"
    bad.write_text("schid,math\n1,2\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        ml.datasets.load("imm10", path=bad)
    cache.mkdir()
    shutil.copy(imm10_file, cache / "imm10.csv")           # a copy put in $MULTILEVEL_DATA
    assert ml.datasets.load("imm10").shape == (260, 19)


def test_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("MULTILEVEL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert remote.cache_dir() == tmp_path / "multilevel" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert remote.cache_dir().name == "datasets"


def test_bundled_names_unchanged_and_errors():
    assert "imm10" not in ml.datasets.names()
    with pytest.raises(DataError, match="did you mean 'imm10'"):
        ml.datasets.load("imm01")
    with pytest.raises(DataError, match="bundled"):
        ml.datasets.load("sleepstudy", path="x.csv")
