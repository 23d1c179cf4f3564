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
import shutil
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
    import numpy as np

    if isinstance(value, np.bool_):
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def temp_name(folder: str, base: str) -> str:
    """A hidden temporary name beside ``base`` that carries this process's id; temporary
    files left by writers that were killed (their process is gone) are removed first.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> _ = open(os.path.join(d, ".a.csv.tmp-999999999-x"), "w").write("half")
    >>> os.path.basename(temp_name(d, "a.csv")).startswith(f".a.csv.tmp-{os.getpid()}-")
    True
    >>> os.listdir(d)
    []
    """
    prefix = f".{base}.tmp-"
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        names = []
    for n in names:
        pid = n[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale = os.path.join(folder, n)
            with contextlib.suppress(OSError):
                if os.path.isdir(stale) and not os.path.islink(stale):
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    os.remove(stale)
    return os.path.join(folder, f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:12]}")


@contextlib.contextmanager
def atomic_path(path, *, folder_ok: bool = False) -> Iterator[str]:
    """Yield a temporary name beside ``path``; rename it to ``path`` (``os.replace``) when the
    block ends normally, remove it on any error or interrupt: nothing is ever half-written.
    With ``folder_ok`` the block may write a folder (Spark's output), and a file or folder
    already at ``path`` is replaced.

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
    tmp = temp_name(folder, os.path.basename(path))
    try:
        yield tmp
        if folder_ok:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.isdir(tmp) and os.path.exists(path):
                os.remove(path)
            os.replace(tmp, path)
        elif os.path.exists(tmp):
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            if os.path.isdir(tmp) and not os.path.islink(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            elif os.path.lexists(tmp):
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


def check_control(control, expected: type, name: str = "control"):
    """``control`` when it is an ``expected`` (None: the defaults), else a DataError.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     maxeval: int = 5
    >>> check_control(None, C).maxeval
    5
    """
    if control is None:
        return _default_settings(expected)
    if not isinstance(control, expected):
        raise DataError(two_line(
            f"{name} must be a {expected.__name__}, not the {type(control).__name__} "
            f"{control!r}"[:300], f"pass {name}={expected.__name__}(...)"))
    return control


_DEFAULT_SETTINGS: dict = {}
_IMMUTABLE = (bool, int, float, str, bytes, tuple, frozenset, type(None))


def _default_settings(cls):
    """``cls()``, made once and shared when ``cls`` is a frozen dataclass whose defaults are
    plain immutable values (nothing a caller could change); building and checking a settings
    object field by field costs ~20 us, each fit asked for one."""
    made = _DEFAULT_SETTINGS.get(cls)
    if made is not None:
        return made
    import dataclasses

    made = cls()
    params = getattr(cls, "__dataclass_params__", None)
    if params is not None and params.frozen and all(
            isinstance(getattr(made, f.name), _IMMUTABLE) for f in dataclasses.fields(cls)):
        _DEFAULT_SETTINGS[cls] = made
    return made


def check_fields(obj) -> None:
    """Check a settings dataclass field by field from its defaults' types: bools must be bools,
    counts whole numbers >= 1, tolerances finite numbers >= 0 (fields defaulting to None may
    be None, else a finite number > 0). Called from ``__post_init__``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     maxeval: int = 5
    ...     def __post_init__(self):
    ...         check_fields(self)
    >>> C(maxeval=-1)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: C(maxeval=...) must be at least 1, got -1
      How to fix: pass a whole number >= 1
    """
    import dataclasses

    cls = type(obj).__name__
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        default = f.default
        label = f"{cls}({f.name}=...)"
        if value is None and "None" in str(f.type):
            continue  # an optional setting left out
        if isinstance(default, bool):
            check_bool(value, label)
        elif isinstance(default, int):
            check_int(value, label, minimum=1)
        elif isinstance(default, float):
            check_number(value, label, minimum=0, strict_min=f.name.endswith("fraction"))
        elif isinstance(default, str):
            if not isinstance(value, str):  # which words are allowed: the setting's own check
                raise DataError(two_line(f"{label} must be text, not {value!r}"[:200],
                                         f"pass e.g. {f.name}={default!r}"))
        elif default is None and value is not None:
            check_number(value, label, minimum=0, strict_min=True)


def check_data_name(value) -> str | None:
    """A data name for summaries: None or text, shown on one line (see :func:`printable`).

    Examples
    --------
    >>> check_data_name("sleep\\r\\nREML criterion at convergence: 0")
    'sleep\\\\r\\\\nREML criterion at convergence: 0'
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(two_line(
            f"data_name must be text, not the {type(value).__name__} {value!r}"[:300],
            "pass data_name='my_data'"))
    return printable(value)


# ----- the model's columns ----------------------------------------------------------------------
def _factor_wrapped(node, out: set, inside: bool = False) -> None:
    from .formula.check import FACTOR_FUNCTIONS
    from .formula.nodes import BinOp, Call, Name, Paren, Unary

    stack = [(node, inside)]
    while stack:
        n, ins = stack.pop()
        if isinstance(n, Name):
            if ins:
                out.add(n.id)
        elif isinstance(n, Call):
            for a in n.args:
                stack.append((a.value, ins or n.func in FACTOR_FUNCTIONS))
        elif isinstance(n, Paren):
            stack.append((n.expr, ins))
        elif isinstance(n, Unary):
            stack.append((n.operand, ins))
        elif isinstance(n, BinOp):
            stack.extend([(n.left, ins), (n.right, ins)])


def _stray_text(s, coded=None, index=None) -> tuple[list, list, int] | None:
    """For a text column that mostly holds numbers: (offending values, their rows).

    `coded` is :func:`multilevel.design.variables.hash_text` of the column's values when
    known (the design codes the same column as a factor; then `index` is the frame's row
    index and `s` may be None): its distinct values are tested as numbers, and each row's
    verdict is its value's."""
    import numpy as np
    import pandas as pd

    from .design.variables import _stored_values, hash_text

    na, inv, uniq = coded if coded is not None else hash_text(_stored_values(s))
    if len(inv) == 0:  # every value is NA
        return None
    if len(uniq) < 2:
        return None
    if isinstance(uniq, list):  # Arrow's distinct strings
        uniq = np.array(uniq, dtype=object)
    as_text = np.empty(len(uniq), dtype=object)  # one by one: a tuple stays one value
    for i, v in enumerate(uniq):
        as_text[i] = v.strip() if isinstance(v, str) else v
    bad_mask = pd.isna(pd.to_numeric(as_text, errors="coerce"))  # as on a Series
    if not bad_mask.any() or bad_mask.all():
        return None
    row_bad = bad_mask[inv]  # over the rows with a value
    if row_bad.mean() > 0.5:  # mostly text: a real text column
        return None
    first = np.flatnonzero(row_bad)[:5]
    if na is not None:  # positions among the rows with a value -> in the column
        first = np.flatnonzero(~na)[first]
    rows = (s.index if index is None else index)[first].tolist()
    return list(uniq[bad_mask][:5]), rows, int(row_bad.sum())


def model_names(tree, bars) -> tuple[list, list, list, set]:
    """The columns a formula uses: (response, fixed and random-effect variables, grouping
    factors, names inside ``factor()``-like calls); see :func:`check_model_data`.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> from multilevel.formula.expand import findbars
    >>> t = parse_tree("y ~ x + factor(k) + (x | g)")
    >>> model_names(t, findbars(t.rhs))
    (['y'], ['x', 'k', 'x'], ['g'], {'k'})
    """
    from .design.variables import names_in
    from .formula.expand import nobars

    lhs_names = names_in(tree.lhs)
    fixed_names = names_in(nobars(tree.rhs)) + [n for b in bars for n in names_in(b.left)]
    group_names = [n for b in bars for n in names_in(b.right)]
    wrapped: set = set()
    _factor_wrapped(tree.rhs, wrapped)
    return lhs_names, fixed_names, group_names, wrapped


def check_model_data(df, tree, bars, names=None):
    """Check the columns a formula uses before the design is built; returns the frame
    (column labels made text, as R's names always are).

    Refused with a DataError naming the column: a duplicated column name, complex numbers, and
    a column of numbers holding a few text values (``"n/a"``, ``"12,5"``) used as a number
    (pandas keeps such a column as text, which would make a factor of every distinct value).
    Write ``factor(x)`` when the column is really a category.

    `df` is a DataFrame or a :class:`~multilevel.design.variables.Columns` view of one (then
    a Columns is returned, and the columns read here are read once for the whole design);
    `names` is :func:`model_names` of the formula when already known.

    Examples
    --------
    >>> import pandas as pd
    >>> from multilevel.formula.parser import parse_tree
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [1, 2, "n/a", 4]})
    >>> check_model_data(df, parse_tree("y ~ x"), [])
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: column 'x' holds numbers and 1 text value(s) ('n/a' in row 2)
      How to fix: make them numbers or missing, e.g. df['x'] = pd.to_numeric(...)...
    """
    import numpy as np
    import pandas as pd

    from .design.variables import text_codes

    view, frame, labels = _text_labels(df)
    lhs_names, fixed_names, group_names, wrapped = names or model_names(tree, bars)
    used = list(dict.fromkeys(lhs_names + fixed_names + group_names))
    if labels is None:
        columns = frame.columns
    else:
        columns = set(labels)
        dup = [n for n in used if labels.count(n) > 1] if len(columns) < len(labels) else []
        if dup:
            raise DataError(two_line(
                f"the data has {labels.count(dup[0])} columns named {dup[0]!r}",
                "give every column a distinct name (df.columns = [...]) before fitting"))
    get = view.__getitem__ if view is not None else frame.__getitem__
    for name in used:
        if name not in columns:
            continue  # the design names the missing column
        # the stored values' dtype first: no Series for numbers, factors and text (a view's
        # values); the Series only where a value is looked at one by one
        values = view.values(name) if view is not None else get(name)
        dt = values.dtype
        if (isinstance(dt, np.dtype) and dt.kind in "biuf") or isinstance(dt, pd.CategoricalDtype):
            continue  # plain numbers or a factor: nothing below applies
        # an object column of strings only, none missing (infer_dtype stops at the first
        # other value; complex NaN counts as missing there, hence the hashed NA rows) has no
        # complex numbers and no lists or records: the value-by-value tests are skipped
        strings_only = (view is not None and dt == object
                        and pd.api.types.infer_dtype(values, skipna=True) == "string"
                        and text_codes(view, name)[0] is None)
        s = get(name) if not strings_only and (view is None or dt == object) else None
        _refuse_complex_or_nested(name, dt, s)
        if name in group_names and name not in lhs_names + fixed_names:
            continue  # group ids may be any text
        if name in wrapped and name not in lhs_names:
            continue
        if dt == object or (pd.api.types.is_string_dtype(dt)
                            and not isinstance(dt, pd.CategoricalDtype)):
            found = (_stray_text(s) if view is None
                     else _stray_text(None, text_codes(view, name), frame.index))
            if found:
                _refuse_stray_text(name, *found)
    return view if view is not None else frame


def _text_labels(df) -> tuple:
    """``(view, frame, labels)`` of a DataFrame or a Columns view `df` for
    :func:`check_model_data`, its column labels made text (R's names always are; the data
    are not copied). `labels` lists them, or is None for a text Index (pandas' str dtype)
    already known to be unique and without NaN: it caches both, so a frame fitted again
    costs no pass over its labels."""
    import pandas as pd

    from .design.variables import Columns

    view = df if isinstance(df, Columns) else None
    frame = view.frame if view is not None else df
    index = frame.columns
    if isinstance(index.dtype, pd.StringDtype) and not index.hasnans and index.is_unique:
        return view, frame, None
    # plain Python labels: iterating a pandas Index of Arrow-backed strings costs ~0.1 ms
    # (tolist ~8 us), and its hash engine is built on the first lookup (~1-2 ms per frame)
    labels = index.tolist()
    if any(not isinstance(c, str) for c in labels):
        labels = [str(c) for c in labels]
        # no copy of the data: pandas >= 3 copies lazily (and deprecates copy=)
        frame = (frame.set_axis(labels, axis=1) if int(pd.__version__.split(".")[0]) >= 3
                 else frame.set_axis(labels, axis=1, copy=False))
        view = Columns(frame) if view is not None else None
    return view, frame, labels


def _refuse_complex_or_nested(name: str, dt, s) -> None:
    """A DataError for a column of complex numbers, or of lists or records; `s` is the
    column as a Series where its values must be looked at one by one (None: they need not)."""
    import pandas as pd

    if pd.api.types.is_complex_dtype(dt) or (
            s is not None and s.head(1000).map(lambda v: isinstance(v, complex)).any()):
        raise DataError(two_line(
            f"column {name!r} holds complex numbers",
            f"use real numbers, e.g. df[{name!r}].real or abs(df[{name!r}])"))
    if s is not None and dt == object:
        nested = s.dropna().head(1000).map(
            lambda v: isinstance(v, (list, tuple, dict, set)) or hasattr(v, "__array__"))
        if nested.any():
            row = nested.index[nested.to_numpy().argmax()]
            raise DataError(two_line(
                f"column {name!r} holds lists or records (e.g. row {row}: "
                f"{printable(repr(s[row]), 60)}), not single values",
                f"a Parquet list/struct column cannot be a model variable: unnest it "
                f"first, e.g. df.explode({name!r}) or one column per field"))


def _refuse_stray_text(name: str, stray: list, rows: list, n_bad: int) -> None:
    """The DataError for :func:`_stray_text`'s finding in the column `name`."""
    shown = ", ".join(f"{v!r}" for v in stray)
    where = ", ".join(map(str, rows)) + (", ..." if n_bad > len(rows) else "")
    raise DataError(two_line(
        f"column {name!r} holds numbers and {n_bad} text value(s) ({shown} in row"
        f"{'s' if len(rows) > 1 else ''} {where})",
        f"make them numbers or missing, e.g. df[{name!r}] = "
        f"pd.to_numeric(df[{name!r}], errors='coerce'); write factor({name}) if "
        "the column is a category"))


# ----- formula size ------------------------------------------------------------------------------
from .formula.limits import (MAX_FORMULA_LENGTH, MAX_FORMULA_NESTING,  # noqa: E402,F401
                             MAX_FORMULA_OPERATORS, guard_formula)


# ----- memory -------------------------------------------------------------------------------------
#: Share of the available memory one allocation may take by default.
MEMORY_FRACTION = 0.25
_ENV_BUDGET = "MULTILEVEL_MAX_BYTES"


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else sysconf).

    Examples
    --------
    >>> available_memory() > 0
    True
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2 ** 30


def memory_budget(max_bytes=None, name: str = "max_bytes") -> int:
    """The largest allocation allowed: ``max_bytes`` when given, else ``$MULTILEVEL_MAX_BYTES``,
    else a quarter of the available memory (what is read is copied once or twice more on its
    way to a data frame).

    Examples
    --------
    >>> memory_budget(1000)
    1000
    >>> memory_budget(-1)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: max_bytes must be at least 1, got -1
      How to fix: pass a whole number >= 1
    """
    if max_bytes is not None:
        return check_int(max_bytes, name, minimum=1)
    env = os.environ.get(_ENV_BUDGET, "").strip()
    if env:
        try:
            return max(1, int(float(env)))
        except ValueError:
            raise DataError(two_line(f"${_ENV_BUDGET}={env!r} is not a number of bytes",
                                     f"set {_ENV_BUDGET} to e.g. 4000000000")) from None
    return max(1, int(available_memory() * MEMORY_FRACTION))


def size_text(nbytes: float) -> str:
    """Bytes for people.

    Examples
    --------
    >>> size_text(3 * 2 ** 30), size_text(512)
    ('3.0 GiB', '512 bytes')
    """
    for unit, k in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 2 ** k:
            return f"{nbytes / 2 ** k:.1f} {unit}"
    return f"{int(nbytes)} bytes"


#: Allocations up to this many bytes are never refused on the available memory alone (the
#: default budget is a quarter of it; a machine with under 4 MiB free cannot run Python).
ALWAYS_AFFORDABLE = 2 ** 20


def check_allocation(nbytes: float, what: str, fix: str, max_bytes=None) -> None:
    """A DataError, before allocating, when ``nbytes`` exceeds the memory budget.

    With no explicit budget (``max_bytes`` or ``$MULTILEVEL_MAX_BYTES``), allocations of at
    most :data:`ALWAYS_AFFORDABLE` bytes pass without reading the available memory.

    Examples
    --------
    >>> check_allocation(10 ** 15, "the simulated responses", "simulate fewer", 2 ** 30)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: the simulated responses would need 909.5 TiB of memory, ...
      How to fix: simulate fewer (or raise the budget: $MULTILEVEL_MAX_BYTES)
    """
    if nbytes <= ALWAYS_AFFORDABLE and max_bytes is None and not os.environ.get(_ENV_BUDGET):
        return  # too small to refuse: reading /proc/meminfo would cost more than this
    budget = memory_budget(max_bytes)
    if nbytes > budget:
        raise DataError(two_line(
            f"{what} would need {size_text(nbytes)} of memory, more than the budget of "
            f"{size_text(budget)}", f"{fix} (or raise the budget: ${_ENV_BUDGET})"))


#: Most fixed-effect terms a formula may expand to.
MAX_TERMS = 50_000


def count_terms(node) -> int:
    """An upper bound on the number of terms R's expansion of ``node`` gives (iteratively).

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> count_terms(parse_tree("y ~ a*b*c").rhs), count_terms(parse_tree("~(a+b+c)^2").rhs)
    (7, 6)
    """
    from math import comb

    from .formula.nodes import BinOp, Num, Paren, Unary

    memo: dict[int, int] = {}
    stack = [(node, False)]
    while stack:
        n, done = stack.pop()
        kids = ([n.left, n.right] if isinstance(n, BinOp) else
                [n.expr] if isinstance(n, Paren) else [n.operand] if isinstance(n, Unary)
                else [])
        if not done and kids:
            stack.append((n, True))
            stack.extend((k, False) for k in kids)
            continue
        if isinstance(n, (Paren, Unary)):
            v = memo[id(kids[0])]
        elif isinstance(n, BinOp):
            a, b = memo[id(n.left)], memo[id(n.right)]
            if n.op in ("+", "-", "|", "||"):
                v = a + b
            elif n.op == "*":
                v = a + b + a * b
            elif n.op == "/":
                v = a + b * a
            elif n.op == "^" and isinstance(n.right, Num):
                try:
                    k = int(float(n.right.text))
                except ValueError:
                    k = a
                v = sum(comb(a, i) for i in range(1, min(max(k, 1), a) + 1))
            else:
                v = a * b
        else:
            v = 1
        memo[id(n)] = min(v, 10 ** 12)
    return memo[id(node)]


def guard_terms(rhs) -> None:
    """A FormulaError when the formula expands to more than :data:`MAX_TERMS` terms
    (a 20-way interaction has over a million), before anything is expanded.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> guard_terms(parse_tree("y ~ " + "*".join(f"x{i}" for i in range(20))).rhs)
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: the formula expands to 1,048,575 terms; the limit is 50,000
      How to fix: use fewer interactions, e.g. (x1 + x2 + x3)^2 for the two-way ones only
    """
    from .errors import FormulaError

    n = count_terms(rhs)
    if n > MAX_TERMS:
        raise FormulaError(two_line(
            f"the formula expands to {n:,} terms; the limit is {MAX_TERMS:,}",
            "use fewer interactions, e.g. (x1 + x2 + x3)^2 for the two-way ones only"))


# ----- the design's numbers (design/magnitudes.py) ------------------------------------------------
from .design.magnitudes import (MAX_SUM_SQUARES, MIN_MAGNITUDE,  # noqa: E402,F401
                                check_design_numbers, check_magnitudes)
