"""ml.read on untrusted files: budgets, streaming decompression, clear errors, no hangs."""
from __future__ import annotations

import bz2
import gzip
import http.server
import lzma
import os
import struct
import threading
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel.errors import DataError
from multilevel.io import rds

MiB = 2 ** 20


# ----- hand-made R serializations ---------------------------------------------------------------
def _int(v):
    return struct.pack(">i", v)


def _header():
    return b"X\n" + _int(3) + _int(0x040200) + _int(0x030500) + _int(5) + b"UTF-8"


def _sym(name: bytes):
    return _int(1) + _int(9 | (1 << 18)) + _int(len(name)) + name  # SYMSXP, CHARSXP


def _compact_intseq(n: int) -> bytes:
    """An ALTREP compact integer sequence 1..n (R's 1:n), as R 3.5+ writes it."""
    info = (_int(2) + _sym(b"compact_intseq") + _int(2) + _sym(b"base") + _int(2)
            + _int(13) + _int(1) + _int(13) + _int(254))  # pairlist(class, pkg, type)
    state = _int(14) + _int(3) + struct.pack(">ddd", float(n), 1.0, 1.0)
    return _int(238) + info + state + _int(254)


def _intvec(n: int, body: bytes = b"") -> bytes:
    return _int(13) + _int(n) + body


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_rds_declaring_a_huge_sequence_is_refused_before_allocating(tmp_path):
    for n in (300_000_000, 2_000_000_000):
        p = _write(tmp_path, "seq.rds", _header() + _compact_intseq(n))
        assert p.stat().st_size < 300
        with pytest.raises(DataError, match="memory budget"):
            ml.read(p, max_memory=64 * MiB)


def test_rds_declared_lengths_beyond_the_file_are_corrupt(tmp_path):
    for body in (_intvec(2_000_000_000), _int(16) + _int(2_000_000_000),
                 _int(19) + _int(-1) + _int(1) + _int(0)):
        p = _write(tmp_path, "big.rds", _header() + body)
        with pytest.raises(DataError) as e:
            ml.read(p, max_memory=64 * MiB)
        assert "pyreadr" not in str(e.value)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_rds_bomb_is_stopped_at_the_budget(tmp_path, compress):
    payload = _header() + _intvec(8 * MiB, b"\0" * (32 * MiB))
    p = _write(tmp_path, "bomb.rds", compress(payload))
    assert p.stat().st_size < 2 * MiB
    t = time.monotonic()
    with pytest.raises(DataError, match="memory budget"):
        ml.read(p, max_memory=4 * MiB)
    assert time.monotonic() - t < 10


def test_env_variable_sets_the_budget(tmp_path, monkeypatch):
    p = _write(tmp_path, "seq.rds", _header() + _compact_intseq(50_000_000))
    monkeypatch.setenv("MULTILEVEL_MAX_BYTES", str(16 * MiB))
    with pytest.raises(DataError, match="memory budget"):
        ml.read(p)


def test_deep_nesting_is_refused(tmp_path):
    body = (_int(19) + _int(1)) * 5000 + _int(254)
    p = _write(tmp_path, "deep.rds", _header() + body)
    with pytest.raises(DataError, match="nested"):
        ml.read(p)


def test_corrupt_rds_does_not_ask_for_pyreadr(tmp_path):
    for data in (b"X\n" + os.urandom(64), gzip.compress(b"X\n" + b"\xff" * 40),
                 gzip.compress(_header() + _intvec(100))[:-12], b"\x1f\x8b" + os.urandom(50),
                 b"garbage that is not R"):
        p = _write(tmp_path, "bad.rds", data)
        with pytest.raises(DataError) as e:
            ml.read(p)
        assert "pyreadr" not in str(e.value), data[:20]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(["raw", "gzip", "header"]))
def test_fuzzed_rds_raises_only_library_errors(tmp_path_factory, body, how):
    data = {"raw": body, "gzip": gzip.compress(body), "header": _header() + body}[how]
    p = tmp_path_factory.mktemp("fuzz") / "f.rds"
    p.write_bytes(data)
    try:
        ml.read(p, max_memory=8 * MiB)
    except DataError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=8))
@example(mutations=[(54, 16)])  # the attribute pairlist turned into a list: refused, not a crash
def test_mutated_real_rds_never_exceeds_the_budget(mutations):
    base = _header() + _int(19 | (1 << 9)) + _int(1) + _intvec(3, _int(1) + _int(2) + _int(3))
    data = bytearray(base + _int(2 | (1 << 10)) + _sym(b"class") + _int(16) + _int(1)
                     + _int(9 | (1 << 18)) + _int(10) + b"data.frame" + _int(254))
    for pos, value in mutations:
        if pos < len(data):
            data[pos] = value
    u = rds._Unserializer(bytes(data), budget=MiB)
    try:
        u.header()
        u.item()
    except rds.UnsupportedRData:
        pass
    assert u.allocated <= MiB


# ----- text files -----------------------------------------------------------------------------
def test_csv_gz_bomb_is_stopped_at_the_budget(tmp_path):
    p = tmp_path / "bomb.csv.gz"
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(b"a,b\n")
        for _ in range(64):
            fh.write(b"1,2\n" * (MiB // 4))
    assert p.stat().st_size < 2 * MiB
    t = time.monotonic()
    with pytest.raises(DataError, match="memory budget"):
        ml.read(p, max_memory=8 * MiB)
    assert time.monotonic() - t < 15


def test_plain_file_larger_than_the_budget_is_refused(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b\n" + "1,2\n" * 10_000)
    with pytest.raises(DataError, match="memory budget"):
        ml.read(p, max_memory=1000)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_unicode_csv_with_a_byte_order_mark(tmp_path, encoding):
    text = "école,größe\nA,1.5\nB,2.5\n"
    raw = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        raw = ("\ufeff" + text).encode(encoding)
    p = tmp_path / "u.csv"
    p.write_bytes(raw)
    got = ml.read(p)
    assert list(got.columns) == ["école", "größe"] and got["größe"].tolist() == [1.5, 2.5]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_encoding_parameter(tmp_path, encoding):
    p = tmp_path / "l.csv"
    euro = "E" if encoding == "latin-1" else "€"
    p.write_bytes(f"région,prix {euro}\nÎle,1\n".encode(encoding))
    with pytest.raises(DataError, match="encoding="):
        ml.read(p)
    got = ml.read(p, encoding=encoding)
    assert got.columns[0] == "région" and got.iloc[0, 0] == "Île"
    with pytest.raises(DataError, match="unknown text encoding"):
        ml.read(p, encoding="no-such-codec")


def test_extensionless_csv_starting_with_pk(tmp_path):
    p = tmp_path / "data"
    p.write_text("PKID,score\n1,2.5\n2,3.5\n")
    got = ml.read(p)
    assert got.columns.tolist() == ["PKID", "score"] and len(got) == 2


def test_named_pipe_and_devices_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    t = time.monotonic()
    with pytest.raises(DataError, match="named pipe"):
        ml.read(fifo)
    with pytest.raises(DataError, match="device"):
        ml.read("/dev/zero", format="csv")
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("kw", [dict(max_bytes=-1), dict(max_bytes=0), dict(timeout=0),
                                dict(timeout=float("nan")), dict(max_memory=-5),
                                dict(max_bytes="100")])
def test_read_arguments_are_checked(tmp_path, kw):
    p = tmp_path / "d.csv"
    p.write_text("a\n1\n")
    with pytest.raises(DataError):
        ml.read(p, **kw)


def test_parquet_list_and_struct_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    t = pa.table({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"],
                  "l": [[1, 2], [3], [], [4]],
                  "s": [{"u": 1, "v": "x"}, {"u": 2, "v": "y"}, {"u": 3, "v": "z"},
                        {"u": 4, "v": "w"}]})
    pq.write_table(t, tmp_path / "n.parquet")
    d = ml.read(tmp_path / "n.parquet")
    for col in ("l", "s"):
        with pytest.raises(DataError, match="lists or records"):
            ml.lm(f"y ~ {col}", d)
        with pytest.raises(DataError, match="lists or records"):
            ml.lm(f"{col} ~ 1", d)
    assert ml.lm("y ~ 1", d).design.nobs == 4  # the other columns still work


# ----- downloads --------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/trickle"):
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            try:
                for _ in range(60):
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if self.path.startswith("/slowheaders"):
            try:
                for c in b"HTTP/1.0 200 OK\r\nX-Padding: " + b"a" * 100:
                    self.wfile.write(bytes([c]))
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass
            return
        if self.path.startswith("/login"):
            body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")  # lies
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path.startswith("/private"):
            self.send_response(401)
            self.end_headers()
            return
        body = b"a,b\n1,2\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass

    httpd = Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_trickling_server_times_out_within_the_timeout(server, tmp_path):
    t = time.monotonic()
    with pytest.raises(DataError, match="longer than 2 s|timed out"):
        ml.read(f"http://{server}/trickle/x.csv", timeout=2, cache_dir=tmp_path)
    assert time.monotonic() - t < 4.5
    assert [p for p in tmp_path.iterdir()] == []


def test_a_server_trickling_its_headers_times_out_too(server, tmp_path):
    t = time.monotonic()
    with pytest.raises(DataError, match="cannot download"):
        ml.read(f"http://{server}/slowheaders/x.csv", timeout=2, cache_dir=tmp_path)
    assert time.monotonic() - t < 4.5


def test_an_html_page_is_refused_and_not_cached(server, tmp_path):
    for _ in range(2):
        with pytest.raises(DataError, match="web page"):
            ml.read(f"http://{server}/login/x.csv", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_passwords_in_urls_are_redacted(server, tmp_path):
    url = f"http://ann:s3cr3tPW@{server}/private/x.csv?token=abc123"
    with pytest.raises(DataError) as e:
        ml.read(url, cache_dir=tmp_path)
    assert "s3cr3tPW" not in str(e.value) and "abc123" not in str(e.value)
    with pytest.raises(DataError) as e:
        ml.read("ftp://ann:s3cr3tPW@example.org/x.csv")
    assert "s3cr3tPW" not in str(e.value)
    with pytest.raises(DataError) as e:
        ml.read("http://ann:s3cr3tPW@127.0.0.1:9/x.csv", cache_dir=tmp_path, timeout=2)
    assert "s3cr3tPW" not in str(e.value)


def test_zip_bombs_in_excel_and_csv_zip_are_refused(tmp_path):
    import zipfile

    for name in ("bomb.xlsx", "bomb.csv.zip"):
        p = tmp_path / name
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("xl/worksheets/sheet1.xml" if name.endswith("xlsx") else "d.csv",
                        b"0" * (32 * MiB))
        assert p.stat().st_size < MiB
        with pytest.raises(DataError, match="memory budget"):
            ml.read(p, max_memory=4 * MiB)


def test_parquet_declaring_more_than_the_budget(tmp_path):
    pytest.importorskip("pyarrow")
    p = tmp_path / "d.parquet"
    pd.DataFrame({"x": np.zeros(1_000_000)}).to_parquet(p)
    with pytest.raises(DataError, match="memory budget"):
        ml.read(p, max_memory=2 * MiB)
    assert len(ml.read(p)) == 1_000_000


def test_rds_with_repeated_column_names_keeps_every_column():
    from pathlib import Path

    got = ml.read(Path(__file__).parent / "data" / "dupnames.rds")
    assert got.columns.tolist() == ["a", "b", "a.1"]
    assert got["a.1"].tolist() == [7, 8, 9]


@pytest.mark.parametrize("kw", [dict(format=3), dict(object=1), dict(sheet=1.5),
                                dict(encoding=5), dict(refresh="yes")])
def test_read_option_types(tmp_path, kw):
    p = tmp_path / "d.csv"
    p.write_text("a\n1\n")
    with pytest.raises(DataError):
        ml.read(p, **kw)


def test_small_csv_gz_of_many_short_lines_is_refused_before_parsing(tmp_path):
    p = tmp_path / "lines.csv.gz"
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(b"a,b,c,d\n")
        for _ in range(16):
            fh.write(b"1,2,3,4\n" * (MiB // 8))
    t = time.monotonic()
    with pytest.raises(DataError, match="rows of 4 columns"):
        ml.read(p, max_memory=64 * MiB)  # 16 MiB of text, a 512 MiB table
    assert time.monotonic() - t < 10
