"""Checks at the API boundary: arguments, output paths, atomic writes, names shown to people.

Every public function that takes a flag, a count, a tolerance or an output path checks it here
first, before any expensive work, and raises the library's errors
(:class:`~multilevel.errors.DataError`) with what is wrong and what to do.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import uuid
from collections.abc import Iterable, Iterator

from .errors import DataError, two_line

__all__ = ["check_bool", "check_int", "check_number", "check_level", "check_seed",
           "output_path", "input_paths", "atomic_path", "atomic_write_text", "printable",
           "redact"]


# ----- scalar arguments -----------------------------------------------------------------------
def check_bool(value, name: str) -> bool:
    """``value`` if it is a real bool (``True``/``False``, numpy's too), else a DataError.

    Strings such as ``"False"`` are refused: in Python they are true.

    Examples
    --------
    >>> check_bool(False, "reml")
    False
    >>> check_bool("False", "reml")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: reml must be True or False, not the str 'False'
      How to fix: pass reml=False (no quotes)
    """
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    shown = value if not isinstance(value, str) else value.strip().capitalize()
    raise DataError(two_line(
        f"{name} must be True or False, not the {type(value).__name__} {value!r}",
        f"pass {name}={shown if shown in ('True', 'False') else 'True'} (no quotes)"))


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None
              ) -> int:
    """``value`` as an int when it is a whole number in ``[minimum, maximum]``.

    Examples
    --------
    >>> check_int(5, "nsim", minimum=1)
    5
    >>> check_int(-5, "nsim", minimum=1)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: nsim must be at least 1, got -5
      How to fix: pass a whole number >= 1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) \
                and math.isfinite(float(value)) and float(value) == int(value):
            value = int(value)
        else:
            raise DataError(two_line(
                f"{name} must be a whole number, not the {type(value).__name__} {value!r}",
                f"pass {name} as an int"))
    value = int(value)
    if minimum is not None and value < minimum:
        raise DataError(two_line(f"{name} must be at least {minimum}, got {value}",
                                 f"pass a whole number >= {minimum}"))
    if maximum is not None and value > maximum:
        raise DataError(two_line(f"{name} must be at most {maximum:,}, got {value:,}",
                                 f"pass a whole number <= {maximum:,}"))
    return value


def check_number(value, name: str, *, minimum: float | None = None,
                 maximum: float | None = None, strict_min: bool = False) -> float:
    """``value`` as a finite float in range (``strict_min``: strictly above ``minimum``).

    Examples
    --------
    >>> check_number(1e-8, "xtol_abs", minimum=0)
    1e-08
    >>> check_number(float("nan"), "xtol_abs", minimum=0)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: xtol_abs must be a finite number, got nan
      How to fix: pass a number such as 1e-08
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(two_line(
            f"{name} must be a number, not the {type(value).__name__} {value!r}",
            f"pass {name} as a float"))
    value = float(value)
    if not math.isfinite(value):
        raise DataError(two_line(f"{name} must be a finite number, got {value!r}",
                                 "pass a number such as 1e-08"))
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        rel = ">" if strict_min else ">="
        raise DataError(two_line(f"{name} must be {rel} {minimum:g}, got {value:g}",
                                 f"pass a number {rel} {minimum:g}"))
    if maximum is not None and value > maximum:
        raise DataError(two_line(f"{name} must be <= {maximum:g}, got {value:g}",
                                 f"pass a number <= {maximum:g}"))
    return value


def check_level(value, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1.

    Examples
    --------
    >>> check_level(0.95)
    0.95
    >>> check_level(95)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: level must be strictly between 0 and 1, got 95
      How to fix: pass e.g. level=0.95 (not 95)
    """
    v = check_number(value, name)
    if not 0 < v < 1:
        raise DataError(two_line(f"{name} must be strictly between 0 and 1, got {v:g}",
                                 f"pass e.g. {name}=0.95 (not 95)"))
    return v


def check_seed(value, name: str = "seed"):
    """None, a non-negative whole number (below 2**63), or a numpy Generator.

    Examples
    --------
    >>> check_seed(42), check_seed(None)
    (42, None)
    """
    if value is None or type(value).__name__ in ("Generator", "RandomState", "SeedSequence"):
        return value
    return check_int(value, name, minimum=0, maximum=2 ** 63 - 1)


# ----- what is shown to people ------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text, limit: int = 200) -> str:
    """``text`` on one line: control characters (newlines, escapes) shown as ``\\n``, ``\\x1b``
    and so on, cut to ``limit`` characters, so a name cannot forge lines of a summary.

    Examples
    --------
    >>> printable("sleep\\nFixed effects: forged")
    'sleep\\\\nFixed effects: forged'
    """
    text = str(text)
    out = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def redact(text: str) -> str:
    """``text`` with the password (and user) of any URL in it replaced by ``***``.

    Examples
    --------
    >>> redact("cannot download 'https://ann:s3cret@example.org/x.csv'")
    "cannot download 'https://***@example.org/x.csv'"
    """
    text = re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]*@", r"\1***@", str(text))
    return re.sub(r"(?i)([?&](?:password|passwd|pwd|token|access_token|api_key|apikey|key|"
                  r"secret|sig|signature)=)[^&\s'\"]*", r"\1***", text)


# ----- output paths -----------------------------------------------------------------------------
def input_paths(*objects) -> list[str]:
    """Local files that objects were read from: paths themselves, ``frame.attrs["source"]``,
    engine tables' ``files``, models' ``data`` (URLs and other objects are skipped).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"a": [1]}); f.attrs["source"] = "a.csv"
    >>> input_paths(f, "b.parquet", 3)
    ['a.csv', 'b.parquet']
    """
    out: list[str] = []

    def add(obj, depth=0):
        if obj is None or depth > 3:
            return
        if isinstance(obj, (str, os.PathLike)):
            text = os.fspath(obj)
            if isinstance(text, str) and text and "://" not in text:
                out.append(text)
            elif isinstance(text, str) and text.lower().startswith("file://"):
                out.append(text[7:])
            return
        if isinstance(obj, dict):
            for v in obj.values():
                add(v, depth + 1)
            return
        if isinstance(obj, (list, tuple)):
            for v in obj:
                add(v, depth + 1)
            return
        attrs = getattr(obj, "attrs", None)
        if isinstance(attrs, dict) and isinstance(attrs.get("source"), str):
            add(attrs["source"], depth + 1)
        files = getattr(obj, "files", None)
        if isinstance(files, (list, tuple)):
            add(files, depth + 1)
        for attr in ("table", "data", "_data", "frame"):
            try:
                inner = obj.__dict__.get(attr) if hasattr(obj, "__dict__") else None
            except Exception:  # noqa: BLE001 - best effort on foreign objects
                inner = None
            if inner is not None and inner is not obj:
                add(inner, depth + 1)

    for o in objects:
        add(o)
    return list(dict.fromkeys(out))


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def output_path(path, *, inputs: Iterable = (), what: str = "output", folder_ok: bool = False
                ) -> str:
    """Check an output path before any work: its folder exists and is writable, it is not a
    folder (unless ``folder_ok``), and it is not any of ``inputs`` (never write over data).

    Returns the path as a string (``~`` expanded).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); data = os.path.join(d, "sleep.csv")
    >>> _ = open(data, "w").write("a\\n1\\n")
    >>> output_path(os.path.join(d, "r.html"), inputs=[data]).endswith("r.html")
    True
    >>> output_path(data, inputs=[data], what="report")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: the report would overwrite the input file ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(two_line(
            f"the {what} path must be a file name, not the {type(path).__name__} {path!r}",
            "pass a str or pathlib.Path"))
    text = os.path.expanduser(os.fspath(path))
    if not isinstance(text, str) or not text.strip():
        raise DataError(two_line(f"the {what} path is empty", "give a file name"))
    if "\x00" in text:
        raise DataError(two_line(f"the {what} path {printable(text)!r} holds a NUL character",
                                 "give an ordinary file name"))
    sources = input_paths(inputs) if isinstance(inputs, (str, os.PathLike)) \
        else input_paths(*inputs)
    real = os.path.realpath(text)
    for src in sources:
        inside = os.path.isdir(text) and os.path.realpath(src).startswith(real + os.sep)
        if _same_file(text, src) or inside:
            raise DataError(two_line(
                f"the {what} would overwrite the input file {printable(src)!r}",
                f"write the {what} to another file name"))
    folder = os.path.dirname(os.path.abspath(text)) or "."
    if not os.path.isdir(folder):
        raise DataError(two_line(f"the {what} folder {printable(folder)!r} does not exist",
                                 "create it first, or write somewhere else"))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(two_line(f"cannot write the {what} into {printable(folder)!r}: "
                                 "the folder is not writable",
                                 "write somewhere else"))
    if os.path.isdir(text) and not folder_ok:
        raise DataError(two_line(f"the {what} path {printable(text)!r} is a folder",
                                 "give a file name inside it"))
    if os.path.exists(text) and not os.path.isdir(text) and not os.path.isfile(text):
        raise DataError(two_line(f"the {what} path {printable(text)!r} is not a regular file "
                                 "(a pipe or a device)", "give an ordinary file name"))
    return text


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
    """Yield a temporary name beside ``path``; rename it to ``path`` (``os.replace``) when the
    block ends normally, remove it on any error or interrupt: nothing is ever half-written.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(d, "a.txt")) as tmp:
    ...     _ = open(tmp, "w").write("x")
    >>> os.listdir(d)
    ['a.txt']
    """
    path = os.path.expanduser(os.fspath(path))
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        yield tmp
        if os.path.exists(tmp):
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            if os.path.isfile(tmp):
                os.remove(tmp)


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then
    ``os.replace``).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt"); atomic_write_text(p, "hi")
    >>> open(p).read()
    'hi'
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding=encoding) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
