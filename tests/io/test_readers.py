"""ml.read: every format, labels kept, clear errors, and safe downloads from a local server."""
from __future__ import annotations

import gzip
import http.server
import os
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError
from multilevel.io.readers import MissingDependencyError, cache_name


@pytest.fixture
def frame():
    return pd.DataFrame({"school": [1, 1, 2, 2, 3], "math": [48.0, 52.5, 61.0, np.nan, 44.0],
                         "sex": ["f", "m", "f", "m", "f"]})


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert np.allclose(a["math"].to_numpy(float), b["math"].to_numpy(float), equal_nan=True)
    assert a["school"].astype(int).tolist() == b["school"].astype(int).tolist()
    assert a["sex"].astype(str).tolist() == b["sex"].astype(str).tolist()


# ----- text formats --------------------------------------------------------------------------
def test_csv_tsv_gzip_and_sniffed_text(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv.gz", index=False, sep="\t", compression="gzip")
    frame.to_csv(tmp_path / "d.txt", index=False, sep=";")
    frame.to_csv(tmp_path / "noext", index=False)
    for name in ("d.csv", "d.tsv.gz", "d.txt", "noext"):
        got = ml.read(tmp_path / name)
        _same(got, frame)
        assert got.attrs["labels"] == {}
    got = ml.read(str(tmp_path / "d.tsv.gz"))
    assert got.attrs["name"] == "d" and got.attrs["source"].endswith("d.tsv.gz")


def test_binary_file_is_not_read_as_text(tmp_path):
    (tmp_path / "x.csv").write_bytes(b"\x00\x01\x02garbage\x00")
    with pytest.raises(DataError, match="binary"):
        ml.read(tmp_path / "x.csv")


def test_missing_file_folder_scheme_and_format_errors(tmp_path):
    with pytest.raises(DataError, match="no data file"):
        ml.read(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="folder"):
        ml.read(tmp_path)
    with pytest.raises(DataError, match="ftp:// scheme"):
        ml.read("ftp://example.org/data.csv")
    (tmp_path / "d.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="unknown format"):
        ml.read(tmp_path / "d.csv", format="sas")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        ml.read(tmp_path / "e.csv")


# ----- binary formats ------------------------------------------------------------------------
def test_parquet_and_feather_and_sniffing(tmp_path, frame):
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_feather(tmp_path / "d.feather")
    _same(ml.read(tmp_path / "d.parquet"), frame)
    _same(ml.read(tmp_path / "d.feather"), frame)
    os.rename(tmp_path / "d.parquet", tmp_path / "download")   # no suffix: magic bytes
    _same(ml.read(tmp_path / "download"), frame)


def test_corrupt_file_names_file_and_format(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"cannot read '.*bad\.parquet' as parquet"):
        ml.read(tmp_path / "bad.parquet")
    (tmp_path / "d.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(DataError, match="compressed parquet"):
        ml.read(tmp_path / "d.parquet.gz")


def test_missing_optional_dependency_names_the_extra(tmp_path, frame, monkeypatch):
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)   # import pyarrow -> ImportError
    with pytest.raises(MissingDependencyError, match=r"multilevel\[io\]") as info:
        ml.read(tmp_path / "d.parquet")
    assert isinstance(info.value, ImportError) and isinstance(info.value, DataError)


def test_excel(tmp_path, frame):
    pytest.importorskip("openpyxl")
    with pd.ExcelWriter(tmp_path / "d.xlsx") as xw:
        frame.to_excel(xw, index=False, sheet_name="first")
        frame.head(2).to_excel(xw, index=False, sheet_name="second")
    _same(ml.read(tmp_path / "d.xlsx"), frame)
    assert len(ml.read(tmp_path / "d.xlsx", sheet="second")) == 2


def test_rds_and_rdata_factors_become_categories(tmp_path, frame):
    pyreadr = pytest.importorskip("pyreadr")
    df = frame.assign(sex=pd.Categorical(frame["sex"], categories=["m", "f"]))
    pyreadr.write_rds(tmp_path / "d.rds", df)
    got = ml.read(tmp_path / "d.rds")
    _same(got, frame)
    assert isinstance(got["sex"].dtype, pd.CategoricalDtype)
    assert list(got["sex"].cat.categories) == ["m", "f"]   # R's level order
    pyreadr.write_rdata(tmp_path / "d.RData", df, df_name="imm")
    assert ml.read(tmp_path / "d.RData").shape == (5, 3)


# R's serialization, written here as R writes it (no R needed): a labelled tibble as
# haven/sjlabelled give it, the form the lesson's data arrive in.
def _i(v: int) -> bytes:
    return struct.pack(">i", v)


def _flags(t: int, *, attr: bool = False, tag: bool = False, gp: int = 0) -> bytes:
    return _i(t | (attr << 9) | (tag << 10) | (gp << 12))


def _char(s):
    if s is None:
        return _flags(9) + _i(-1)
    b = s.encode("utf-8")
    return _flags(9, gp=(1 << 3)) + _i(len(b)) + b


def _sym(name):
    return _flags(1) + _char(name)


def _attrs(pairs):
    out = b""
    for name, value in pairs:
        out += _flags(2, tag=True) + _sym(name) + value
    return out + _flags(254)


def _vec(t, body, n, attrs=None):
    return _flags(t, attr=bool(attrs)) + _i(n) + body + (_attrs(attrs) if attrs else b"")


def _str(values, attrs=None):
    return _vec(16, b"".join(_char(v) for v in values), len(values), attrs)


def _real(values, attrs=None):
    return _vec(14, struct.pack(f">{len(values)}d", *values), len(values), attrs)


def _int(values, attrs=None):
    return _vec(13, struct.pack(f">{len(values)}i", *values), len(values), attrs)


def _list(items, attrs=None):
    return _vec(19, b"".join(items), len(items), attrs)


def _altrep_intseq(n, start):
    info = (_flags(2) + _sym("compact_intseq") + _flags(2) + _sym("base") + _flags(2)
            + _int([13]) + _flags(254))
    return _flags(238) + info + _real([float(n), float(start), 1.0]) + _flags(254)


def _labelled_tibble_rds() -> bytes:
    na_int = -(2 ** 31)
    sex = _real([1.0, 2.0, 1.0, 9.0, float("nan")], attrs=[
        ("label", _str(["Sex of student"])),
        ("labels", _real([1.0, 2.0], attrs=[("names", _str(["boy", "girl"]))])),
        ("class", _str(["haven_labelled", "vctrs_vctr", "double"]))])
    math = _real([48.0, 52.5, 61.0, 44.0, 50.0], attrs=[("label", _str(["Math score"]))])
    school = _int([2, 1, 2, na_int, 1], attrs=[("levels", _str(["low", "high"])),
                                                 ("class", _str(["ordered", "factor"]))])
    name = _str(["a", None, "c", "d", "\u00e9"])
    stuid = _altrep_intseq(5, 101)
    frame = _list([sex, math, school, name, stuid], attrs=[
        ("names", _str(["sex", "math", "school", "name", "stuid"])),
        ("row.names", _int([na_int, -5])),
        ("class", _str(["tbl_df", "tbl", "data.frame"]))])
    header = b"X\n" + _i(3) + _i(0x040301) + _i(0x030500) + _i(5) + b"UTF-8"
    return gzip.compress(header + frame)


def test_labelled_rds_keeps_value_and_variable_labels(tmp_path):
    (tmp_path / "imm.rds").write_bytes(_labelled_tibble_rds())
    got = ml.read(tmp_path / "imm.rds")
    assert got.columns.tolist() == ["sex", "math", "school", "name", "stuid"]
    assert got.attrs["labels"] == {"sex": "Sex of student", "math": "Math score"}
    assert isinstance(got["sex"].dtype, pd.CategoricalDtype)
    assert list(got["sex"].cat.categories) == ["boy", "girl", "9"]   # unlabelled value kept
    assert got["sex"].tolist()[:4] == ["boy", "girl", "boy", "9"] and pd.isna(got["sex"][4])
    assert got["school"].cat.ordered and list(got["school"].cat.categories) == ["low", "high"]
    assert got["school"].tolist()[:3] == ["high", "low", "high"] and pd.isna(got["school"][3])
    assert got["name"].tolist()[4] == "\u00e9" and pd.isna(got["name"][1])
    assert got["stuid"].tolist() == [101, 102, 103, 104, 105]
    assert got["math"].tolist() == [48.0, 52.5, 61.0, 44.0, 50.0]
    # and the labels reach the figures' axis titles
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = ml.plot.scatter_fit(got, "stuid", "math", ax=Figure().add_subplot())
    assert ax.get_ylabel() == "Math score (math)"


def test_rdata_written_the_same_way(tmp_path):
    raw = gzip.decompress(_labelled_tibble_rds())
    body = raw[raw.index(b"UTF-8") + 5:]
    header = b"X\n" + _i(2) + _i(0x040301) + _i(0x020300)               # version 2
    top = _flags(2, tag=True) + _sym("imm10") + body + _flags(254)
    (tmp_path / "d.RData").write_bytes(gzip.compress(b"RDX2\n" + header + top))
    got = ml.read(tmp_path / "d.RData")
    assert got.shape == (5, 5) and got.attrs["labels"]["math"] == "Math score"


def test_truncated_rds_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "bad.rds").write_bytes(_labelled_tibble_rds()[:40])
    monkeypatch.setitem(sys.modules, "pyreadr", None)
    with pytest.raises(DataError, match=r"bad\.rds"):
        ml.read(tmp_path / "bad.rds")


def test_rdata_with_several_frames_needs_object(tmp_path, frame, monkeypatch):
    pyreadr = pytest.importorskip("pyreadr")
    import collections

    two = collections.OrderedDict(a=frame, b=frame.head(2))
    monkeypatch.setattr(pyreadr, "read_r", lambda path: two)
    (tmp_path / "d.rda").write_bytes(b"RDX3\n")
    with pytest.raises(DataError, match="several data frames"):
        ml.read(tmp_path / "d.rda")
    assert len(ml.read(tmp_path / "d.rda", object="b")) == 2
    with pytest.raises(DataError, match="no data frame 'c'"):
        ml.read(tmp_path / "d.rda", object="c")


def test_stata_value_labels_and_variable_labels(tmp_path):
    df = pd.DataFrame({"school": [1, 2, 3, 1], "female": pd.Categorical(["yes", "no", "yes", "no"]),
                       "math": [40.0, 50.0, 60.0, 55.0]})
    df.to_stata(tmp_path / "d.dta", write_index=False,
                variable_labels={"math": "Math score (0-100)", "female": "Is female"})
    got = ml.read(tmp_path / "d.dta")
    assert isinstance(got["female"].dtype, pd.CategoricalDtype)
    assert got["female"].astype(str).tolist() == ["yes", "no", "yes", "no"]
    assert got.attrs["labels"] == {"math": "Math score (0-100)", "female": "Is female"}


def test_spss_value_labels_and_variable_labels(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    df = pd.DataFrame({"school": [1.0, 2, 3, 1], "sex": [1.0, 2, 1, 2], "math": [40.0, 50, 60, 55]})
    pyreadstat.write_sav(df, tmp_path / "d.sav",
                         column_labels={"sex": "Sex of student", "math": "Math <b>score</b>"},
                         variable_value_labels={"sex": {1.0: "girl", 2.0: "boy"}})
    got = ml.read(tmp_path / "d.sav")
    assert isinstance(got["sex"].dtype, pd.CategoricalDtype)
    assert got["sex"].astype(str).tolist() == ["girl", "boy", "girl", "boy"]
    assert got.attrs["labels"] == {"sex": "Sex of student", "math": "Math <b>score</b>"}


# ----- downloads -------------------------------------------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/slow"):
            time.sleep(2.0)
        if self.path.startswith("/to-ftp"):
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/data.csv")
            self.end_headers()
            return
        if self.path.startswith("/nolength"):
            body = b"a,b\n" + b"1,2\n" * 5000
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # clients that gave up: quiet
            pass

    httpd = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    httpd.shutdown()
    httpd.server_close()


def test_download_is_cached_inside_the_cache_folder(server, tmp_path, frame):
    root, base, httpd = server
    frame.to_csv(root / "imm.csv", index=False)
    cache = tmp_path / "cache"
    got = ml.read(f"{base}/imm.csv", cache_dir=cache)
    _same(got, frame)
    assert got.attrs["name"] == "imm" and got.attrs["source"] == f"{base}/imm.csv"
    files = list(cache.iterdir())
    assert [f.name for f in files] == [cache_name(f"{base}/imm.csv")]
    (root / "imm.csv").unlink()                      # served no more: the cache answers
    _same(ml.read(f"{base}/imm.csv", cache_dir=cache), frame)
    with pytest.raises(DataError, match="HTTP 404"):
        ml.read(f"{base}/imm.csv", cache_dir=cache, refresh=True)


def test_cache_names_cannot_escape(server, tmp_path, frame):
    root, base, _ = server
    frame.to_csv(root / "x.csv", index=False)
    cache = tmp_path / "cache"
    for url in (f"{base}/../../x.csv", f"{base}/%2E%2E%2F%2E%2E%2Fx.csv",
                f"{base}/x.csv?name=../../evil", f"{base}/..%5C..%5Cx.csv"):
        name = cache_name(url)
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert (cache / name).resolve().parent == cache.resolve()
    assert not (tmp_path / "x.csv").exists()


def test_download_limits_and_failures(server, tmp_path, frame):
    root, base, _ = server
    frame.to_csv(root / "imm.csv", index=False)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="limit"):              # Content-Length too big
        ml.read(f"{base}/imm.csv", cache_dir=cache, max_bytes=10)
    with pytest.raises(DataError, match="limit"):              # no length: counted while read
        ml.read(f"{base}/nolength.csv", cache_dir=cache, max_bytes=1000)
    assert not [p for p in cache.iterdir()]                    # nothing half-written left
    with pytest.raises(DataError, match="redirects"):
        ml.read(f"{base}/to-ftp.csv", cache_dir=cache)
    with pytest.raises(DataError, match="cannot download"):
        ml.read(f"{base}/slow.csv", cache_dir=cache, timeout=0.3)
    with pytest.raises(DataError, match="cannot download"):
        ml.read("http://127.0.0.1:9/x.csv", cache_dir=cache, timeout=2)


def test_cache_folder_from_environment(server, tmp_path, frame, monkeypatch):
    root, base, _ = server
    frame.to_csv(root / "d.csv", index=False)
    monkeypatch.setenv("MULTILEVEL_CACHE", str(tmp_path / "envcache"))
    ml.read(f"{base}/d.csv")
    assert len(list((tmp_path / "envcache").iterdir())) == 1
    assert Path(tmp_path / "envcache").is_dir()


def _r_with_haven() -> bool:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    proc = subprocess.run(["Rscript", "-e", "cat(requireNamespace('haven', quietly=TRUE))"],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout.strip().endswith("TRUE")


@pytest.mark.skipif(not _r_with_haven(), reason="needs Rscript with the haven package")
def test_files_written_by_r_itself(tmp_path):
    import subprocess

    script = f"""
    library(haven)
    d <- data.frame(school = c(1, 1, 2, 2), math = c(48, 52.5, 61, NA), stuid = 1:4)
    d$sex <- labelled(c(1, 2, 2, 1), c(male = 1, female = 2), label = "Sex of student")
    attr(d$math, "label") <- "Math score"
    d$region <- factor(c("b", "a", "b", NA), levels = c("b", "a"))
    saveRDS(tibble::as_tibble(d), "{tmp_path}/lab.rds")
    saveRDS(d, "{tmp_path}/xz.rds", compress = "xz", version = 2)
    imm <- d; other <- 1:3
    save(imm, other, file = "{tmp_path}/d.RData")
    write_sav(d, "{tmp_path}/d.sav"); write_dta(d, "{tmp_path}/d.dta")
    """
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True, timeout=120)
    for name in ("lab.rds", "xz.rds", "d.RData", "d.sav", "d.dta"):
        got = ml.read(tmp_path / name)
        assert got.shape == (4, 5), name
        assert got.attrs["labels"]["sex"] == "Sex of student", name
        assert got.attrs["labels"]["math"] == "Math score", name
        assert got["sex"].astype(str).tolist() == ["male", "female", "female", "male"], name
        assert np.isnan(got["math"].iloc[3]), name
    got = ml.read(tmp_path / "lab.rds")
    assert list(got["region"].cat.categories) == ["b", "a"]
    assert got["stuid"].tolist() == [1, 2, 3, 4]
