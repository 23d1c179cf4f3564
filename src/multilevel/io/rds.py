"""Read R's ``.rds`` / ``.RData`` data frames, keeping what labelled data carry.

pyreadr (librdata) drops attributes, so the labels of haven/sjlabelled data (how the lesson's
data arrive) would be lost. This module reads R's serialization format itself (XDR binary,
versions 2 and 3, gzip/bzip2/xz or uncompressed; R Internals, "Serialization Formats") for
what data frames hold: vectors, lists, attributes, factors, ``haven_labelled`` vectors,
dates, compact row names and the ALTREP forms R 3.5+ writes. Anything else raises
:class:`UnsupportedRData`, and the caller falls back to pyreadr.

Untrusted files: every length the file declares is checked against what is left of the input
and against a memory budget before anything is allocated, compressed files are inflated in
chunks up to that budget, and nesting is limited (:data:`MAX_DEPTH`): a corrupt or hostile
file raises :class:`CorruptRData` or :class:`RDataTooLarge`, never a MemoryError or a
RecursionError.

Conversion: factors -> categoricals (R's level order, ``ordered`` kept); labelled vectors ->
categoricals of their value labels (values without a label keep their value as the category,
as ``haven::as_factor``); the ``label`` attribute of a column -> ``frame.attrs["labels"]``.
"""
from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["read_rds_frame", "read_rdata_frames", "UnsupportedRData", "CorruptRData",
           "RDataTooLarge", "MAX_DEPTH"]

NA_INTEGER = -(2 ** 31)
#: Deepest nesting of R objects read (data frames need a handful of levels).
MAX_DEPTH = 200
_DEFAULT_BUDGET = 2 ** 31

# SEXP types
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
SPECIALSXP, BUILTINSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP = 7, 8, 9, 10, 13, 14, 15
STRSXP, DOTSXP, VECSXP, EXPRSXP, BCODESXP, EXTPTRSXP, WEAKREFSXP = 16, 17, 19, 20, 21, 22, 23
RAWSXP, S4SXP = 24, 25
ALTREP_SXP, ATTRLISTSXP, ATTRLANGSXP = 238, 239, 240
BASEENV_SXP, EMPTYENV_SXP, BCREPREF, BCREPDEF, GENERICREFSXP = 241, 242, 243, 244, 245
CLASSREFSXP, PERSISTSXP, PACKAGESXP, NAMESPACESXP, BASENAMESPACE_SXP = 246, 247, 248, 249, 250
MISSINGARG_SXP, UNBOUNDVALUE_SXP, GLOBALENV_SXP, NILVALUE_SXP, REFSXP = 251, 252, 253, 254, 255


class UnsupportedRData(ValueError):
    """The file uses a part of R's format this reader does not handle (use pyreadr)."""


class CorruptRData(UnsupportedRData):
    """The bytes are not a valid R serialization (truncated, garbage, impossible lengths)."""


class RDataTooLarge(UnsupportedRData):
    """The file declares (or inflates to) more data than the memory budget allows."""


@dataclass
class RObject:
    """An R value: ``value`` (ndarray, list, str, ...) and its attributes."""

    value: Any
    attrs: dict[str, Any] = field(default_factory=dict)
    rtype: int = NILSXP

    def classes(self) -> list[str]:
        cls = self.attrs.get("class")
        return list(cls.value) if isinstance(cls, RObject) else []


@dataclass(frozen=True)
class _Symbol:
    name: str


class _Env:
    pass


def _decompress(raw: bytes, cap: int = _DEFAULT_BUDGET) -> bytes:
    """Inflate gzip/bzip2/xz data in chunks, stopping as soon as it passes ``cap`` bytes.

    Examples
    --------
    >>> import gzip
    >>> len(_decompress(gzip.compress(b"X" * 5000), cap=10_000))
    5000
    >>> _decompress(gzip.compress(b"X" * 5000), cap=1000)
    Traceback (most recent call last):
    ...
    multilevel.io.rds.RDataTooLarge: it inflates to more than 1,000 bytes (the memory budget)
    """
    if raw[:2] == b"\x1f\x8b":
        dec: Any = zlib.decompressobj(wbits=31)
    elif raw[:3] == b"BZh":
        dec = bz2.BZ2Decompressor()
    elif raw[:6] == b"\xfd7zXZ\x00":
        dec = lzma.LZMADecompressor()
    else:
        return raw
    out: list[bytes] = []
    total = 0
    data = raw
    try:
        while not dec.eof:
            chunk = dec.decompress(data, 1 << 20)
            total += len(chunk)
            if total > cap:
                raise RDataTooLarge(f"it inflates to more than {cap:,} bytes (the memory budget)")
            out.append(chunk)
            data = getattr(dec, "unconsumed_tail", b"")
            stuck = not data if hasattr(dec, "unconsumed_tail") else dec.needs_input
            if not chunk and stuck and not dec.eof:
                raise CorruptRData("the compressed data end early (truncated file)")
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
        raise CorruptRData(f"the compressed data are corrupt ({exc})") from None
    return b"".join(out)


_KNOWN_TYPES = frozenset(range(0, 26)) | frozenset(range(238, 256))


class _Unserializer:
    def __init__(self, data: bytes, budget: int = _DEFAULT_BUDGET):
        self.b = data
        self.pos = 0
        self.refs: list[Any] = []
        self.budget = budget
        self.allocated = 0
        self.depth = 0

    # ----- primitives ------------------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.b):
            raise CorruptRData("the file ends early (truncated or corrupt)")
        out = self.b[self.pos:self.pos + n]
        self.pos += n
        return out

    def _alloc(self, n: int, size: int, what: str) -> None:
        """Account for ``n`` items of ``size`` bytes before they are allocated."""
        need = n * size
        if self.allocated + need > self.budget:
            raise RDataTooLarge(f"it declares {what} of {n:,} elements ({need:,} bytes), more "
                                f"than the memory budget of {self.budget:,} bytes")
        self.allocated += need

    def _items_fit(self, n: int, what: str) -> None:
        """Each of ``n`` items needs at least 4 more bytes of input: a length beyond the
        rest of the file is corrupt (caught before a list of ``n`` items is made)."""
        if 4 * n > len(self.b) - self.pos:
            raise CorruptRData(f"{what} of {n:,} elements is longer than the rest of the file")
        self._alloc(n, 8, what)

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        if n < 0:
            raise CorruptRData("negative length")
        return n

    def header(self) -> None:
        head = self._take(2)
        if head in (b"A\n", b"B\n"):
            raise UnsupportedRData("R's ASCII or native serialization")
        if head != b"X\n":
            raise CorruptRData("not an R serialization (no 'X' header)")
        version = self.int()
        writer = self.int()  # writer's R version, e.g. 0x040200 for 4.2.0
        oldest = self.int()  # oldest R version that can read it
        if version not in (2, 3) or not (0x010000 <= writer < 0x100000) or not (
                0x010000 <= oldest <= writer):
            raise CorruptRData(f"not an R serialization (version {version}, written by "
                               f"{writer:#x})")
        if version == 3:
            n = self.int()
            encoding = self._take(n) if 0 < n <= 64 else b"\xff"
            if not encoding.isascii():
                raise CorruptRData("not an R serialization (no native encoding)")

    # ----- items -----------------------------------------------------------------------------
    def item(self) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CorruptRData(f"objects nested more than {MAX_DEPTH} levels deep")
        try:
            return self._item()
        finally:
            self.depth -= 1

    def _item(self) -> Any:
        flags = self.int()
        t = flags & 0xFF
        if t not in _KNOWN_TYPES:
            raise CorruptRData(f"no R object has type {t}")
        has_attr = bool(flags & (1 << 9))
        has_tag = bool(flags & (1 << 10))
        gp = flags >> 12
        if t in (NILVALUE_SXP, MISSINGARG_SXP, UNBOUNDVALUE_SXP):
            return None
        if t in (EMPTYENV_SXP, BASEENV_SXP, GLOBALENV_SXP, BASENAMESPACE_SXP):
            return _Env()
        if t == REFSXP:
            idx = flags >> 8
            if idx == 0:
                idx = self.int()
            if not 1 <= idx <= len(self.refs):
                raise CorruptRData(f"a reference to object {idx} of {len(self.refs)}")
            return self.refs[idx - 1]
        if t == SYMSXP:
            name = self.item()
            sym = _Symbol(name if isinstance(name, str) else "")
            self.refs.append(sym)
            return sym
        if t in (PACKAGESXP, NAMESPACESXP, PERSISTSXP):
            if self.int() != 0:
                raise UnsupportedRData("persistent string vector")
            n = self.int()
            self._items_fit(max(n, 0), "a name list")
            values = [self.item() for _ in range(n)]
            env = _Env()
            env.names = values
            self.refs.append(env)
            return env
        if t == ENVSXP:
            env = _Env()
            self.refs.append(env)
            self.int()  # locked
            self.item()  # enclosure
            self.item()  # frame
            self.item()  # hash table
            self.item()  # attributes
            return env
        if t in (LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLISTSXP, ATTRLANGSXP):
            return self._pairlist(t, has_attr, has_tag)
        if t == CHARSXP:
            n = self.int()
            if n == -1:
                return None
            raw = self._take(n)
            latin1 = bool(gp & (1 << 2))
            return raw.decode("latin-1" if latin1 else "utf-8", errors="replace")
        if t == ALTREP_SXP:
            info = self.item()
            state = self.item()
            attr = self.item()
            obj = self._altrep(info, state)
            if attr is not None:
                obj.attrs.update(_attr_dict(attr))
            return obj
        if t in (LGLSXP, INTSXP):
            n = self.length()
            self._alloc(n, 16, "an integer vector")
            value = np.frombuffer(self._take(4 * n), dtype=">i4").astype(np.int64)
        elif t == REALSXP:
            n = self.length()
            self._alloc(n, 16, "a numeric vector")
            value = np.frombuffer(self._take(8 * n), dtype=">f8").astype(np.float64)
        elif t == CPLXSXP:
            n = self.length()
            self._alloc(n, 32, "a complex vector")
            parts = np.frombuffer(self._take(16 * n), dtype=">f8").astype(np.float64)
            value = parts[0::2] + 1j * parts[1::2]
        elif t == STRSXP:
            n = self.length()
            self._items_fit(n, "a character vector")
            value = [self.item() for _ in range(n)]
        elif t in (VECSXP, EXPRSXP):
            n = self.length()
            self._items_fit(n, "a list")
            value = [self.item() for _ in range(n)]
        elif t == RAWSXP:
            value = self._take(self.length())
        elif t in (SPECIALSXP, BUILTINSXP):
            value = self._take(self.int()).decode("latin-1")
        elif t == S4SXP:
            value = None
        else:
            raise UnsupportedRData(f"R object type {t}")
        obj = RObject(value, rtype=t)
        if has_attr:
            obj.attrs = _attr_dict(self.item())
        return obj

    def _pairlist(self, t: int, has_attr: bool, has_tag: bool) -> RObject:
        items: list[tuple[str | None, Any]] = []
        attrs = None
        while True:
            attr = self.item() if has_attr else None
            if attrs is None and attr is not None:
                attrs = attr
            tag = self.item() if has_tag else None
            car = self.item()
            items.append((tag.name if isinstance(tag, _Symbol) else None, car))
            # the cdr: another cell of the same list (read iteratively), or its end
            flags = self.int()
            nt = flags & 0xFF
            if nt in (LISTSXP, LANGSXP, ATTRLISTSXP, ATTRLANGSXP, DOTSXP) and t != CLOSXP:
                has_attr = bool(flags & (1 << 9))
                has_tag = bool(flags & (1 << 10))
                continue
            self.pos -= 4
            self.item()  # the terminating cdr (usually NULL)
            break
        obj = RObject(items, rtype=t)
        if attrs is not None:
            obj.attrs = _attr_dict(attrs)
        return obj

    def _altrep(self, info, state) -> RObject:
        cls = ""
        if isinstance(info, RObject) and info.value and isinstance(info.value[0][1], _Symbol):
            cls = info.value[0][1].name
        if cls in ("compact_intseq", "compact_realseq"):
            try:
                n, start, step = (float(v) for v in state.value[:3])
            except (AttributeError, TypeError, ValueError):
                raise CorruptRData(f"a {cls} without its length, start and step") from None
            if not (np.isfinite(n) and np.isfinite(start) and np.isfinite(step)) or n < 0:
                raise CorruptRData(f"a {cls} of length {n:g}")
            self._alloc(int(n), 24, "a compact sequence")  # before allocating it (and copies)
            rtype = INTSXP if cls == "compact_intseq" else REALSXP
            return RObject(start + step * np.arange(int(n), dtype=np.float64), rtype=rtype)
        if cls.startswith("wrap_"):
            inner = state.value[0] if isinstance(state, RObject) else state
            return RObject(inner.value, dict(inner.attrs), inner.rtype)
        if cls == "deferred_string":
            inner = state.value[0][1] if isinstance(state, RObject) else state
            values = getattr(inner, "value", None)
            if isinstance(values, np.ndarray):
                self._alloc(values.size, 64, "a deferred string vector")
                na = values == NA_INTEGER if inner.rtype in (INTSXP, LGLSXP) else np.isnan(values)
                fmt = (lambda v: str(int(v))) if inner.rtype == INTSXP else (lambda v: f"{v:.15g}")
                out = [None if m else fmt(v) for v, m in zip(values, na)]
                return RObject(out, rtype=STRSXP)
        raise UnsupportedRData(f"ALTREP class {cls or '?'}")


def _attr_dict(pairlist) -> dict[str, Any]:
    """The tagged entries of an attribute pairlist; anything else (a damaged file whose
    attributes are not a pairlist of ``(tag, value)`` pairs) is refused as unsupported."""
    if not isinstance(pairlist, RObject) or not isinstance(pairlist.value, list):
        return {}
    if not all(isinstance(e, tuple) and len(e) == 2 for e in pairlist.value):
        raise UnsupportedRData("attributes that are not a pairlist")
    return {tag: value for tag, value in pairlist.value if tag is not None}


# ----- conversion to pandas --------------------------------------------------------------------
def _strings(obj) -> list:
    if isinstance(obj, RObject):
        if isinstance(obj.value, list):
            return list(obj.value)
        return [str(v) for v in np.asarray(obj.value).tolist()]
    return []


def _column(obj: RObject):
    import pandas as pd

    classes = obj.classes()
    v = obj.value
    if "factor" in classes:
        codes = np.asarray(v, dtype=np.int64)
        levels = _strings(obj.attrs.get("levels"))
        codes = np.where(codes == NA_INTEGER, -1, codes - 1)
        return pd.Categorical.from_codes(codes, categories=levels, ordered="ordered" in classes)
    if obj.rtype == STRSXP:
        return pd.array(v, dtype=object)
    if obj.rtype == LGLSXP:
        arr = np.asarray(v)
        return pd.array([None if x == NA_INTEGER else bool(x) for x in arr], dtype="boolean")
    if obj.rtype == INTSXP:
        arr = np.asarray(v)
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "i":
            na = arr == NA_INTEGER
            values = np.where(na, np.nan, arr.astype(np.float64)) if na.any() else arr
        else:
            values = arr
    elif obj.rtype == REALSXP:
        values = np.asarray(v, dtype=np.float64)
    elif obj.rtype == CPLXSXP:
        values = np.asarray(v)
    else:
        raise UnsupportedRData(f"a column of R type {obj.rtype}")
    if "Date" in classes:
        return pd.to_datetime(values, unit="D", origin="unix")
    if "POSIXct" in classes:
        return pd.to_datetime(values, unit="s", origin="unix")
    labels = obj.attrs.get("labels")
    if isinstance(labels, RObject) and ("haven_labelled" in classes or "labelled" in classes):
        return _labelled(values, labels)
    return values


def _labelled(values: np.ndarray, labels: RObject):
    """haven::as_factor: value labels as categories (in the labels' order), unlabelled
    values kept as their own category after them."""
    import pandas as pd

    keys = np.asarray(labels.value).tolist() if not isinstance(labels.value, list) \
        else list(labels.value)
    names = _strings(labels.attrs.get("names"))
    if isinstance(labels.value, np.ndarray) and labels.rtype == INTSXP:
        keys = [None if k == NA_INTEGER else k for k in keys]
    mapping: dict = {}
    for k, name in zip(keys, names):
        if k is not None and name is not None and name not in mapping.values():
            mapping[float(k) if isinstance(k, (int, float)) else k] = name
    out: list = []
    extra: list = []
    for x in np.asarray(values).tolist():
        if x is None or (isinstance(x, float) and np.isnan(x)):
            out.append(None)
            continue
        key = float(x) if isinstance(x, (int, float)) else x
        if key in mapping:
            out.append(mapping[key])
        else:
            text = f"{key:g}" if isinstance(key, float) else str(key)
            out.append(text)
            if text not in extra:
                extra.append(text)
    extra = [e for e in extra if e not in mapping.values()]
    try:
        extra.sort(key=float)
    except ValueError:
        extra.sort()
    return pd.Categorical(out, categories=list(mapping.values()) + extra)


def _frame(obj) -> Any:
    import pandas as pd

    if not isinstance(obj, RObject) or obj.rtype != VECSXP or "data.frame" not in obj.classes():
        return None
    names = _strings(obj.attrs.get("names"))
    columns: dict[str, Any] = {}
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for name, col in zip(names, obj.value):
        name = "" if name is None else str(name)
        if name in seen:  # R allows repeated names; keep every column, as pandas' readers do
            seen[name] += 1
            while f"{name}.{seen[name]}" in seen:
                seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        if not isinstance(col, RObject):
            raise UnsupportedRData(f"column {name!r} is not a vector")
        if col.rtype == VECSXP:
            raise UnsupportedRData(f"column {name!r} is a list column")
        columns[name] = _column(col)
        label = col.attrs.get("label")
        if isinstance(label, RObject) and isinstance(label.value, list) and label.value:
            if label.value[0]:
                labels[name] = str(label.value[0])
    frame = pd.DataFrame(columns)
    frame.attrs["labels"] = labels
    return frame


def read_rds_frame(raw: bytes, budget: int = _DEFAULT_BUDGET):
    """The data frame in the bytes of an ``.rds`` file, or None if it holds something else.

    ``budget`` bounds the bytes inflated and the memory the declared vectors may take.
    """
    u = _Unserializer(_decompress(raw, budget), budget)
    u.header()
    return _frame(u.item())


def read_rdata_frames(raw: bytes, budget: int = _DEFAULT_BUDGET) -> dict:
    """The data frames of an ``.RData`` file, by name (other objects are skipped)."""
    data = _decompress(raw, budget)
    if data[:5] in (b"RDA2\n", b"RDA3\n", b"RDB2\n", b"RDB3\n"):
        raise UnsupportedRData("an ASCII RData file")
    if data[:5] not in (b"RDX2\n", b"RDX3\n"):
        raise CorruptRData("not an RData file (no RDX header)")
    u = _Unserializer(data[5:], budget)
    u.header()
    top = u.item()
    out = {}
    if isinstance(top, RObject) and isinstance(top.value, list):
        for tag, value in top.value:
            frame = _frame(value)
            if frame is not None and tag is not None:
                out[tag] = frame
    return out
