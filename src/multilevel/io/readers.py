"""``ml.read``: one call for the data files social scientists get, local or from the web.

Formats (chosen from the file name, or from the file's first bytes when the name says nothing):

========  =====================================  ===========================================
format    suffixes                               reader (optional package)
========  =====================================  ===========================================
csv       ``.csv`` (``.gz .bz2 .xz .zip`` too)   pandas
tsv       ``.tsv .tab`` (compressed too)         pandas
text      ``.txt .dat`` (delimiter sniffed)      pandas
parquet   ``.parquet .pq``                       pyarrow
feather   ``.feather .arrow``                    pyarrow
excel     ``.xlsx .xlsm .xls``                   openpyxl (``.xls``: xlrd)
rds       ``.rds``                               built in (pyreadr for the rest)
rdata     ``.rdata .rda``                        built in (pyreadr for the rest)
stata     ``.dta``                               pandas
spss      ``.sav .zsav``                         pyreadstat
========  =====================================  ===========================================

Labelled data (Stata, SPSS, R factors) keep their meaning: value labels become pandas
categories (in label order) and variable labels are kept in ``frame.attrs["labels"]``
(``{column: label}``), where the plots find them for axis titles.

URLs (``http://`` and ``https://`` only) are downloaded with a timeout and a size cap into a
cache folder (``$MULTILEVEL_CACHE``, else ``$XDG_CACHE_HOME/multilevel``, else
``~/.cache/multilevel``); cache file names are a hash of the URL plus a sanitised base name, so
nothing in a URL can make a file outside that folder.
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import os
import re
import stat
import struct
import tempfile
import time
import zlib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._validate import check_int, check_number, memory_budget, printable, redact, size_text
from ..errors import DataError, two_line

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read", "MissingDependencyError", "FORMATS"]

#: format name -> file suffixes (lower case, without compression suffix)
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "tsv": (".tsv", ".tab"),
    "text": (".txt", ".dat"),
    "parquet": (".parquet", ".pq"),
    "feather": (".feather", ".arrow", ".ipc"),
    "excel": (".xlsx", ".xlsm", ".xls"),
    "rds": (".rds",),
    "rdata": (".rdata", ".rda"),
    "stata": (".dta",),
    "spss": (".sav", ".zsav"),
}
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_TEXT_FORMATS = ("csv", "tsv", "text")
_PIP_EXTRA = "pip install 'multilevel[io]'"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 500 * 2**20  # 500 MiB


class MissingDependencyError(DataError, ImportError):
    """An optional package needed to read a format is not installed (``multilevel[io]``)."""


def read(source: str | os.PathLike, *, format: str | None = None, sheet: int | str = 0,
         object: str | None = None, cache_dir: str | os.PathLike | None = None,
         timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES,
         refresh: bool = False, encoding: str | None = None,
         max_memory: int | None = None) -> pd.DataFrame:
    """Read a data file (or an http(s) URL) into a DataFrame, keeping labels.

    Parameters
    ----------
    source : str or path-like
        A local file, or an ``http://`` / ``https://`` URL (downloaded once into a cache).
    format : str, optional
        One of ``csv, tsv, text, parquet, feather, excel, rds, rdata, stata, spss``; by default
        from the file name, else from the file's first bytes.
    sheet : int or str
        Excel sheet (position or name).
    object : str, optional
        For ``.RData`` files holding several data frames: which one.
    cache_dir : path-like, optional
        Where downloads are kept (see the module notes for the default).
    timeout : float
        Seconds the whole download may take (not each read: a server sending a byte a
        second is cut off too).
    max_bytes : int
        Largest download accepted (default 500 MiB).
    refresh : bool
        Download again even when the URL is in the cache.
    encoding : str, optional
        Text encoding of CSV/TSV/text files (``"latin-1"``, ``"cp1252"``, ...); by default
        UTF-8, or UTF-16 when the file starts with its byte-order mark.
    max_memory : int, optional
        Most bytes a file may expand to when read (decompressed data, R's declared vector
        lengths); default ``$MULTILEVEL_MAX_BYTES``, else a quarter of the available memory.

    Returns
    -------
    DataFrame
        Value-labelled columns as categories; ``attrs["labels"]`` maps columns to their
        variable labels (empty when the format has none); ``attrs["source"]`` is `source` and
        ``attrs["name"]`` the file's stem (used as the data's name in summaries).

    Raises
    ------
    DataError
        File missing, unsupported scheme or format, corrupt file, download too big or failed;
        the message names the file and the format tried.
    MissingDependencyError
        The optional package for the format is missing (install ``multilevel[io]``).

    Examples
    --------
    >>> import multilevel as ml, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "schools.csv"
    >>> _ = path.write_text("school,math\\nA,48\\nB,52\\n")
    >>> frame = ml.read(path)
    >>> frame.shape, frame.attrs["name"]
    ((2, 2), 'schools')
    """
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(two_line(
            f"source must be a file name or URL, not the {type(source).__name__}"[:200],
            "pass a str or pathlib.Path"))
    text = os.fspath(source)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    for arg, value, kinds in (("format", format, (str,)), ("object", object, (str,)),
                              ("sheet", sheet, (int, str)), ("encoding", encoding, (str,))):
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            raise DataError(two_line(
                f"{arg}= must be {' or '.join(k.__name__ for k in kinds)}, not "
                f"{printable(repr(value), 80)}", f"see help(ml.read) for {arg}="))
    from .._validate import check_bool

    refresh = check_bool(refresh, "refresh")
    timeout = check_number(timeout, "timeout", minimum=0, strict_min=True)
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1)
    budget = memory_budget(max_memory, "max_memory")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except (LookupError, TypeError):
            raise DataError(two_line(f"unknown text encoding {encoding!r}",
                                     "use e.g. 'utf-8', 'latin-1', 'cp1252' or 'utf-16'")
                            ) from None
    shown = printable(redact(text))
    if _is_url(text):
        path = _download(text, cache_dir=cache_dir, timeout=timeout, max_bytes=max_bytes,
                         refresh=refresh)
        name_part = urllib.parse.unquote(urllib.parse.urlsplit(text).path.rsplit("/", 1)[-1])
    else:
        scheme_check(text)
        path = Path(text).expanduser()
        name_part = path.name
        _check_regular(path, shown)
    fmt, compression = _detect(name_part, path, format)
    frame = _read_format(fmt, path, compression, shown, sheet=sheet, obj=object,
                         encoding=encoding, budget=budget)
    frame.attrs.setdefault("labels", {})
    frame.attrs["source"] = shown
    frame.attrs["name"] = printable(_stem(name_part)) or "data"
    return frame


# ----- format detection ---------------------------------------------------------------------
def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def scheme_check(text: str) -> None:
    """Refuse a source with a scheme other than http(s) (``s3://``, ``ftp://``, ``file://``):
    the one rule for every reader, in memory or out of core.

    Examples
    --------
    >>> scheme_check("data/a.csv")
    >>> scheme_check("s3://bucket/a.parquet")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: cannot read 's3://bucket/a.parquet': the s3:// scheme is ...
      How to fix: give a local file or an http:// or https:// URL
    """
    if "://" in text and not _is_url(text):
        scheme = text.split("://", 1)[0]
        raise DataError(two_line(f"cannot read {printable(redact(text))!r}: the "
                                 f"{printable(scheme)}:// scheme is not supported",
                                 "give a local file or an http:// or https:// URL"))


def _check_regular(path: Path, shown: str) -> None:
    """A local data file must exist and be a regular file (not a folder, pipe or device),
    checked without opening it (opening a named pipe would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(two_line(f"no data file {shown!r}", "check the path and the spelling")
                        ) from None
    except OSError as exc:
        raise DataError(two_line(f"cannot read {shown!r}: {exc.strerror or exc}",
                                 "check the path and its permissions")) from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(two_line(f"{shown!r} is a folder, not a data file",
                                 "give the path of a data file"))
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe" if stat.S_ISFIFO(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "a device")
        raise DataError(two_line(f"{shown!r} is {kind}, not a regular file",
                                 "save the data to a file first and read that"))


def _split_compression(name: str) -> tuple[str, str | None]:
    low = name.lower()
    for suffix, kind in _COMPRESSION.items():
        if low.endswith(suffix):
            return name[: -len(suffix)], kind
    return name, None


def _stem(name: str) -> str:
    base, _ = _split_compression(name)
    return Path(base).stem if Path(base).suffix else base


def _format_of_suffix(name: str) -> str | None:
    suffix = Path(name.lower()).suffix
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    return None


def _detect(name: str, path: Path, format: str | None) -> tuple[str, str | None]:
    base, compression = _split_compression(name)
    if format is not None:
        fmt = format.lower()
        aliases = {"dta": "stata", "sav": "spss", "xlsx": "excel", "rda": "rdata",
                   "txt": "text", "arrow": "feather"}
        fmt = aliases.get(fmt, fmt)
        if fmt not in FORMATS:
            raise DataError(two_line(f"unknown format {format!r} for {name!r}",
                                     "use one of " + ", ".join(FORMATS)))
    else:
        fmt = _format_of_suffix(base) or _sniff(path)
    if compression is not None and fmt not in _TEXT_FORMATS:
        if not (compression == "gzip" and fmt in ("rds", "rdata")):
            raise DataError(two_line(
                f"cannot read {name!r}: a compressed {fmt} file",
                "decompress it first, or save the data as .csv.gz"))
        compression = None  # R's readers undo gzip themselves
    return fmt, compression


def _sniff(path: Path) -> str:
    """The format from a file's first bytes (text formats: csv with a sniffed delimiter)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    inner = head
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                inner = fh.read(8)
        except OSError:
            inner = b""
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:6] == b"ARROW1":
        return "feather"
    if head[:4] in (b"$FL2", b"$FL3"):
        return "spss"
    if head.startswith(b"<stata_") or (len(head) > 1 and 0x69 <= head[0] <= 0x75
                                       and head[1] in (1, 2)):
        return "stata"
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as zf:
                if any(n.startswith("xl/") for n in zf.namelist()):
                    return "excel"
        except (zipfile.BadZipFile, OSError, EOFError):
            return "text"  # a text file whose header starts with "PK"
        return "csv"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "excel"
    if inner[:5] in (b"RDX2\n", b"RDX3\n", b"RDA2\n", b"RDA3\n"):
        return "rdata"
    if inner[:2] in (b"X\n", b"A\n", b"B\n"):
        return "rds"
    return "text"


# ----- readers --------------------------------------------------------------------------------
def _need(module: str, fmt: str, shown: str, package: str | None = None):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = package or module
        raise MissingDependencyError(two_line(
            f"reading {shown!r} as {fmt} needs the package {pkg!r}, which is not installed",
            f"{_PIP_EXTRA} (or pip install {pkg})")) from None


def _read_format(fmt: str, path: Path, compression: str | None, shown: str, *, sheet, obj,
                 encoding=None, budget: int | None = None) -> pd.DataFrame:
    import pandas as pd

    readers = {"csv": _read_text, "tsv": _read_text, "text": _read_text,
               "parquet": _read_parquet, "feather": _read_feather, "excel": _read_excel,
               "rds": _read_r, "rdata": _read_r, "stata": _read_stata, "spss": _read_spss}
    _check_declared_size(fmt, path, compression, shown, budget or memory_budget())
    try:
        frame = readers[fmt](path, fmt=fmt, compression=compression, shown=shown,
                             sheet=sheet, obj=obj, encoding=encoding,
                             budget=budget or memory_budget())
    except (DataError, KeyboardInterrupt):
        raise
    except MemoryError:
        raise DataError(two_line(f"reading {shown!r} as {fmt} ran out of memory",
                                 "read a smaller file, or fit it out of core "
                                 "(ml.lmer(formula, 'file.parquet'))")) from None
    except pd.errors.EmptyDataError:
        raise DataError(two_line(f"{shown!r} is empty (read as {fmt})",
                                 "give a file with a header row and data")) from None
    except Exception as exc:  # noqa: BLE001 - every reader's own failure, one message
        reason = printable(redact(" ".join(str(exc).split())), 300) or type(exc).__name__
        raise DataError(two_line(
            f"cannot read {shown!r} as {fmt}: {reason}",
            f"check that the file is a valid {fmt} file, or pass format= to choose another "
            f"reader ({', '.join(FORMATS)})")) from None
    if frame.shape[1] == 0:
        raise DataError(two_line(f"{shown!r} has no columns (read as {fmt})",
                                 "give a file with a header row and data"))
    return frame


def _declared_size(fmt: str, path: Path, compression: str | None) -> int | None:
    """What a file says it expands to: the uncompressed sizes of a zip's members (Excel,
    ``.csv.zip``), a Parquet file's row groups; None when it says nothing."""
    if compression == "zip" or (fmt == "excel" and Path(path).suffix.lower() != ".xls"):
        try:
            with zipfile.ZipFile(path) as zf:
                return sum(max(zi.file_size, 0) for zi in zf.infolist())
        except (zipfile.BadZipFile, OSError, EOFError):
            return None  # the reader says what is wrong
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            meta = pq.read_metadata(path)
            stored = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            return max(stored, 8 * meta.num_rows * meta.num_columns)  # >= 8 bytes a value
        except Exception:  # noqa: BLE001 - unreadable metadata: the reader says what is wrong
            return None
    return None


def _check_declared_size(fmt: str, path: Path, compression: str | None, shown: str,
                         budget: int) -> None:
    """Refuse, before reading, a file bigger than the memory budget or one that declares
    more data than it (a zip bomb in an .xlsx, a Parquet file of huge row groups)."""
    sizes = [os.path.getsize(path)]
    declared = _declared_size(fmt, path, compression)
    if declared is not None:
        sizes.append(declared)
    if max(sizes) > budget:
        raise DataError(two_line(
            f"{shown!r} holds {size_text(max(sizes))} of data, more than the memory budget of "
            f"{size_text(budget)}",
            "pass a larger max_memory= (or set $MULTILEVEL_MAX_BYTES), or fit the file out of "
            "core (ml.lmer(formula, 'file.parquet'))"))


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def _read_text(path, *, fmt, compression, shown, encoding=None, budget=None, **_):
    import pandas as pd

    budget = budget or memory_budget()
    options: dict[str, Any] = {}
    if fmt == "csv":
        options["sep"] = ","
    elif fmt == "tsv":
        options["sep"] = "\t"
    else:
        options.update(sep=None, engine="python")
    if compression in ("gzip", "bz2", "xz"):
        source: Any = io.BytesIO(decompress_capped(path, compression, budget, shown))
        head = source.getvalue()[:4096]
    else:
        size = os.path.getsize(path)
        if size > budget:
            raise DataError(two_line(
                f"{shown!r} is {size_text(size)}, more than the memory budget of "
                f"{size_text(budget)}",
                "fit it out of core (ml.lmer(formula, 'file.csv')), or pass a larger "
                "max_memory= (or set $MULTILEVEL_MAX_BYTES)"))
        source = path
        options["compression"] = compression
        with open(path, "rb") as fh:
            head = fh.read(4096)
    _check_table_size(source, head, shown, budget)
    if encoding is None:
        encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), None)
    if (encoding is None or not encoding.startswith("utf-16") and not
            encoding.startswith("utf-32")) and b"\x00" in head:
        raise DataError(two_line(f"cannot read {shown!r} as text: it is a binary file",
                                 "pass format= to say which format it is "
                                 f"({', '.join(FORMATS)})"))
    if encoding is not None:
        options["encoding"] = encoding
    try:
        return pd.read_csv(source, **options)
    except UnicodeDecodeError as exc:
        used = encoding or "utf-8"
        raise DataError(two_line(
            f"cannot read {shown!r} as {used} text: byte {exc.object[exc.start:exc.start + 1]!r}"
            f" at position {exc.start} is not {used}",
            "pass the file's encoding, e.g. encoding='latin-1' or encoding='cp1252' "
            "(Excel on Windows)")) from None


def _check_table_size(source, head: bytes, shown: str, budget: int) -> None:
    """Refuse text whose table would not fit: rows (line ends) x columns (fields of the
    first line) x 8 bytes, counted before pandas parses anything (a small ``.csv.gz`` of
    millions of short lines makes a frame many times its size)."""
    first = head.split(b"\n", 1)[0]
    cols = max(first.count(b","), first.count(b"\t"), first.count(b";")) + 1
    if isinstance(source, io.BytesIO):
        rows = source.getbuffer().tobytes().count(b"\n")
    else:
        size = os.path.getsize(source)
        if size * 8 <= budget:  # cannot be too big: no need to count
            return
        rows = 0
        with open(source, "rb") as fh:
            while chunk := fh.read(1 << 24):
                rows += chunk.count(b"\n")
    need = 8 * rows * cols
    if need > budget:
        raise DataError(two_line(
            f"{shown!r} holds about {rows:,} rows of {cols:,} columns, a table of "
            f"{size_text(need)}, more than the memory budget of {size_text(budget)}",
            "fit it out of core (ml.lmer(formula, 'file.csv')), or pass a larger max_memory= "
            "(or set $MULTILEVEL_MAX_BYTES)"))


def decompress_capped(path, compression: str, cap: int, shown: str) -> bytes:
    """Decompress a gzip/bz2/xz file in chunks, counting bytes: a DataError as soon as it
    grows past ``cap`` (a small file that inflates to gigabytes is stopped early).

    Examples
    --------
    >>> import gzip, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.gz")
    >>> _ = open(p, "wb").write(gzip.compress(b"x" * 10_000))
    >>> len(decompress_capped(p, "gzip", 20_000, "a.gz"))
    10000
    >>> decompress_capped(p, "gzip", 1000, "a.gz")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: 'a.gz' decompresses to more than 1000 bytes, the memory budget
      How to fix: pass a larger max_memory= (or set $MULTILEVEL_MAX_BYTES), or fit ...
    """
    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
    out = io.BytesIO()
    total = 0
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if total > cap:
                    raise DataError(two_line(
                        f"{shown!r} decompresses to more than {size_text(cap)}, the memory "
                        "budget", "pass a larger max_memory= (or set $MULTILEVEL_MAX_BYTES), "
                        "or fit the data out of core"))
                out.write(chunk)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise DataError(two_line(
            f"cannot read {shown!r} as {compression}-compressed data: "
            f"{printable(exc, 200)}", "check that the file is complete and not corrupt")
        ) from None
    return out.getvalue()


def _read_parquet(path, *, shown, **_):
    import pandas as pd

    _need("pyarrow", "parquet", shown)
    return pd.read_parquet(path)


def _read_feather(path, *, shown, **_):
    import pandas as pd

    _need("pyarrow", "feather", shown)
    return pd.read_feather(path)


def _read_excel(path, *, shown, sheet, **_):
    import pandas as pd

    if Path(path).suffix.lower() == ".xls":
        _need("xlrd", "excel (.xls)", shown)
    else:
        _need("openpyxl", "excel", shown)
    return pd.read_excel(path, sheet_name=sheet)


def _read_r(path, *, fmt, shown, obj, budget=None, **_):
    """R's files: our own reader first (it keeps labels), pyreadr for what it cannot read
    (only for valid files that use a part of the format ours does not handle)."""
    import pandas as pd

    from . import rds

    budget = budget or memory_budget()
    size = os.path.getsize(path)
    if size > budget:
        raise DataError(two_line(f"{shown!r} is {size_text(size)}, more than the memory "
                                 f"budget of {size_text(budget)}",
                                 "pass a larger max_memory= (or set $MULTILEVEL_MAX_BYTES)"))
    raw = Path(path).read_bytes()
    try:
        if fmt == "rds":
            frame = rds.read_rds_frame(raw, budget=budget)
            frames = {} if frame is None else {None: frame}
        else:
            frames = rds.read_rdata_frames(raw, budget=budget)
    except rds.RDataTooLarge as exc:
        raise DataError(two_line(f"cannot read {shown!r}: {exc}",
                                 "pass a larger max_memory= (or set $MULTILEVEL_MAX_BYTES) "
                                 "if the file is trusted")) from None
    except rds.UnsupportedRData as exc:
        if isinstance(exc, rds.CorruptRData):
            raise DataError(two_line(f"cannot read {shown!r} as {fmt}: {exc}",
                                     "check that the file is complete and was written by R's "
                                     "saveRDS() or save()")) from None
        frames = _read_r_pyreadr(path, fmt, shown, reason=str(exc))
    except (struct.error, OSError, EOFError, lzma.LZMAError, UnicodeDecodeError, IndexError,
            ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise DataError(two_line(
            f"cannot read {shown!r} as {fmt}: the file is corrupt ({type(exc).__name__}: "
            f"{printable(exc, 120)})",
            "check that the file is complete and was written by R's saveRDS() or save()")
        ) from None
    if not frames:
        raise DataError(two_line(f"{shown!r} holds no data frame (read as {fmt})",
                                 "save a data.frame with saveRDS() or save()"))
    if obj is not None:
        if obj not in frames:
            raise DataError(two_line(f"no data frame {obj!r} in {shown!r}",
                                     "choose one of " + ", ".join(map(repr, frames))))
        return frames[obj]
    if len(frames) > 1:
        raise DataError(two_line(f"{shown!r} holds several data frames: "
                                 + ", ".join(map(repr, frames)),
                                 "choose one with object=NAME (or --object on the command line)"))
    del pd
    return next(iter(frames.values()))


def _read_r_pyreadr(path, fmt: str, shown: str, *, reason: str) -> dict:
    import pandas as pd

    try:
        import pyreadr
    except ImportError:
        raise MissingDependencyError(two_line(
            f"cannot read {shown!r} as {fmt} ({reason}); the package 'pyreadr' reads more of "
            "R's formats but is not installed", f"{_PIP_EXTRA} (or pip install pyreadr)")
        ) from None
    try:
        result = pyreadr.read_r(os.fspath(path))
    except pyreadr.custom_errors.PyreadrError as exc:
        raise DataError(two_line(f"cannot read {shown!r} as {fmt}: {exc}",
                                 "check that it was saved by R's saveRDS()/save() and is a "
                                 "data frame")) from None
    return {k: v for k, v in result.items() if isinstance(v, pd.DataFrame)}


def _read_stata(path, *, shown, **_):
    import pandas as pd

    with pd.io.stata.StataReader(path) as reader:
        labels = reader.variable_labels()
    try:
        frame = pd.read_stata(path, convert_categoricals=True)
    except ValueError:  # value labels that are not unique: keep the codes
        frame = pd.read_stata(path, convert_categoricals=False)
    frame.attrs["labels"] = {k: v for k, v in labels.items() if v}
    return frame


def _read_spss(path, *, shown, **_):
    pyreadstat = _need("pyreadstat", "spss", shown)
    frame, meta = pyreadstat.read_sav(os.fspath(path), apply_value_formats=True,
                                      formats_as_category=True)
    labels = dict(zip(meta.column_names, meta.column_labels or []))
    frame.attrs["labels"] = {k: v for k, v in labels.items() if v}
    return frame


# ----- downloads ------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """The folder downloads are cached in (``$MULTILEVEL_CACHE`` or the user cache)."""
    if os.environ.get("MULTILEVEL_CACHE"):
        return Path(os.environ["MULTILEVEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "multilevel"


def cache_name(url: str) -> str:
    """The cache file name of a URL: a hash, then a sanitised base name (no path parts).

    Examples
    --------
    >>> cache_name("https://example.org/data/../../etc/passwd")[16:]
    '-passwd'
    >>> cache_name("http://h/a%2F..%2F..%2Fx.csv?v=1")[16:]
    '-x.csv'
    >>> cache_name("http://h/..")[16:], len(cache_name("http://h/"))
    ('', 16)
    """
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    last = urllib.parse.unquote(urllib.parse.urlsplit(url).path).replace("\\", "/")
    last = last.rstrip("/").rsplit("/", 1)[-1]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", last).lstrip(".")[-80:].lstrip(".")
    return f"{digest}-{safe}" if safe else digest


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise DataError(two_line(f"{printable(redact(req.full_url))!r} redirects to "
                                     f"{printable(redact(newurl))!r}",
                                     "only http:// and https:// downloads are allowed"))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download(url: str, *, cache_dir, timeout: float, max_bytes: int, refresh: bool) -> Path:
    shown = printable(redact(url))
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / cache_name(url)
    if target.parent.resolve() != folder.resolve():  # pragma: no cover - cache_name forbids it
        raise DataError(two_line(f"unsafe cache name for {shown!r}", "report this as a bug"))
    if target.exists() and not refresh:
        return target
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(_HttpOnlyRedirects, _DeadlineHTTP(deadline),
                                         _DeadlineHTTPS(deadline))
    request = urllib.request.Request(url, headers={"User-Agent": "multilevel (python)"})
    try:
        with opener.open(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise DataError(two_line(
                    f"{shown!r} is {int(length):,} bytes, more than the limit of {max_bytes:,}",
                    "download it yourself, or pass a larger max_bytes="))
            kind = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
            try:
                total = 0
                head = b""
                with os.fdopen(fd, "wb") as out:
                    while True:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError(f"the download took longer than {timeout:g} s")
                        _set_socket_timeout(resp, left)
                        chunk = resp.read1(1 << 16) if hasattr(resp, "read1") else resp.read(
                            1 << 16)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > max_bytes:
                            raise DataError(two_line(
                                f"{shown!r} is larger than the limit of {max_bytes:,} bytes",
                                "download it yourself, or pass a larger max_bytes="))
                        if len(head) < 1024:
                            head += chunk[:1024 - len(head)]
                        out.write(chunk)
                _refuse_html(shown, kind, head)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except DataError:
        raise
    except urllib.error.HTTPError as exc:
        raise DataError(two_line(f"cannot download {shown!r}: HTTP {exc.code} "
                                 f"{printable(exc.reason, 100)}",
                                 "check the address in a browser")) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = printable(redact(str(getattr(exc, "reason", exc))), 200)
        raise DataError(two_line(f"cannot download {shown!r}: {reason}",
                                 f"check the address and the network (timeout {timeout:g} s "
                                 "for the whole download)")
                        ) from None
    return target


class _DeadlineSocket:
    """A connected socket whose every send and receive is bounded by what is left of one
    deadline: a server trickling its headers or body a byte at a time is cut off when the
    download's time is up, not after each byte."""

    def __init__(self, sock, deadline: float):
        self._sock = sock
        self._deadline = deadline

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the download took longer than its timeout")
        self._sock.settimeout(left)

    def recv_into(self, buffer, nbytes=0, flags=0):
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        self._arm()
        return self._sock.recv(bufsize, flags)

    def sendall(self, data, flags=0):
        self._arm()
        return self._sock.sendall(data, flags)

    def makefile(self, mode="r", buffering=None, **_):
        import socket

        raw = socket.SocketIO(self, "rb" if "r" in mode else "wb")
        self._sock._io_refs += 1  # as socket.makefile: close() waits for this file
        return io.BufferedReader(raw) if "r" in mode else io.BufferedWriter(raw)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()


def _deadline_connection(base):
    class Connection(base):
        def __init__(self, *args, deadline: float, **kwargs):
            self._deadline = deadline
            super().__init__(*args, **kwargs)

        def connect(self):
            super().connect()
            self.sock = _DeadlineSocket(self.sock, self._deadline)
    return Connection


class _DeadlineHTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        import http.client

        return self.do_open(_deadline_connection(http.client.HTTPConnection), req,
                            deadline=self.deadline)


class _DeadlineHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        import http.client

        return self.do_open(_deadline_connection(http.client.HTTPSConnection), req,
                            context=self._context, deadline=self.deadline)


def _set_socket_timeout(resp, seconds: float) -> None:
    """Bound the next read by what is left of the download's deadline."""
    fp = getattr(resp, "fp", None)
    raw = getattr(fp, "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(seconds, 0.01))
        except OSError:  # pragma: no cover - a closed socket: the read says so
            pass


def _refuse_html(shown: str, content_type: str, head: bytes) -> None:
    """A data URL that answers with a web page (a login or error page) is not data: refuse
    it, so that it is neither read as one odd column nor cached."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    html = text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))
    if html or content_type in ("text/html", "application/xhtml+xml"):
        raise DataError(two_line(
            f"{shown!r} sent a web page (HTML), not a data file",
            "the address may need a login or may be a page about the data: open it in a "
            "browser and use the link of the file itself"))
