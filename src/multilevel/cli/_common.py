"""Shared pieces of the command line: reading data, fitting, warnings, number formatting.

Internal to :mod:`multilevel.cli`; uses only the public API of `multilevel`.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DataError, two_line

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

_COMPRESSION = (".gz", ".bz2", ".xz", ".zip", ".zst")


def data_help(default: str = "") -> str:
    """Help text of ``--data``: every format :func:`multilevel.read` reads, from its table.

    Examples
    --------
    >>> "Parquet (.parquet .pq)" in data_help() and "SPSS (.sav .zsav)" in data_help()
    True
    """
    from ..io.readers import FORMATS

    label = {"csv": "CSV", "tsv": "TSV", "text": "text", "parquet": "Parquet",
             "feather": "Feather/Arrow", "excel": "Excel", "rds": "R's RDS",
             "rdata": "R's RData", "stata": "Stata", "spss": "SPSS"}
    kinds = ", ".join(f"{label.get(fmt, fmt)} ({' '.join(sfx)})" for fmt, sfx in FORMATS.items())
    return (f"data file: {kinds}; each also compressed (.gz .bz2 .xz .zip); an http(s) URL; "
            "or a dataset name (see 'multilevel datasets list')" + (f" {default}" if default else ""))


def split_formula_hint(argv: list[str], extras: list[str]) -> str | None:
    """Why a command line has stray words, when the shell split an unquoted formula.

    ``multilevel fit math ~ homework --data x.csv`` reaches Python as ``math``, the home
    folder (the shell expands a lone ``~``) and ``homework``. Returns the message saying to
    quote the formula, or None when the stray words do not look like a split formula.

    Examples
    --------
    >>> print(split_formula_hint(["fit", "math", "~", "homework", "--data", "x.csv"],
    ...                          ["~", "homework"]))
    the shell split the formula into words (got 'math' '~' 'homework')
      How to fix: quote the formula: "math ~ homework"
    """
    import os

    if not extras or any(e.startswith("-") for e in extras):
        return None
    homes = {h for h in (os.path.expanduser("~"), os.environ.get("HOME")) if h and h != "~"}
    words = list(argv)
    try:
        first = words.index(extras[0])
    except ValueError:
        return None
    start = first - 1 if first > 0 and not words[first - 1].startswith("-") else first
    parts = []
    for w in words[start:]:
        if w.startswith("-"):
            break
        parts.append("~" if (w in homes or w == "~") else w)
    tilde = any(w in homes for w in words[start:start + len(parts)])
    if not (tilde or "~" in parts or any(c in "".join(parts) for c in "+*:|")):
        return None
    formula = " ".join(parts)
    why = ("the shell split the formula into words"
           + (" and turned its '~' into your home folder" if tilde else ""))
    return two_line(f"{why} (got {' '.join(repr(w) for w in words[start:start + len(parts)])})",
                    f'quote the formula: "{formula}"')


def data_name(path: Path) -> str:
    """The name a file gives its data in summaries (``Data:`` line): the file stem.

    Compression suffixes are dropped first, so ``exam.csv.gz`` gives ``exam``.

    Examples
    --------
    >>> data_name(Path("/tmp/imm10.csv")), data_name(Path("exam.tsv.gz"))
    ('imm10', 'exam')
    """
    name = path.name
    for suffix in _COMPRESSION:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return Path(name).stem or name


def read_data(spec: str) -> tuple[pd.DataFrame, str]:
    """Read the data named on the command line: any file or http(s) URL that
    :func:`multilevel.read` reads (CSV/TSV, compressed too, Parquet, Feather, Excel, RDS/RData,
    Stata, SPSS), or the name of a bundled dataset.

    Returns the frame and the name to show in summaries (file stem or dataset name).
    Raises `DataError` with a one-line fix for anything that cannot be read.
    """
    from multilevel.io.readers import read

    is_url = spec.lower().startswith(("http://", "https://"))
    path = Path(spec).expanduser()
    if not is_url and not path.exists():
        if not any(sep in spec for sep in "/\\") and "." not in spec:
            import multilevel.datasets as datasets

            known = datasets.names() + datasets.remote_names()  # remote: downloaded once
            if spec.lower() in {n.lower() for n in known}:
                frame = datasets.load(spec)
                return frame, next(n for n in known if n.lower() == spec.lower())
        raise DataError(two_line(
            f"no data file {spec!r}",
            "check the path, or name a bundled dataset (see 'multilevel datasets list')",
        ))
    if not is_url and path.is_dir():
        raise DataError(two_line(f"{spec!r} is a folder, not a data file",
                                 "give the path of a data file (CSV, TSV, Parquet, RDS, ...)"))
    frame = read(spec)
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DataError(two_line(f"{spec!r} has no data rows", "give a file with a header row and data"))
    return frame, data_name(Path(spec.split("?")[0].rstrip("/").rsplit("/", 1)[-1]) if is_url else path)


def require_columns(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    """Raise `DataError` if any of `columns` is not a column of `frame`."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        import difflib

        what = ", ".join(repr(c) for c in missing)
        hints = [difflib.get_close_matches(c, [str(x) for x in frame.columns], n=1) for c in missing]
        close = [h[0] for h in hints if h]
        fix = (f"did you mean {', '.join(repr(c) for c in close)}?" if close else
               "available columns: " + ", ".join(str(c) for c in frame.columns))
        raise DataError(two_line(f"no column {what} in {source}", fix))


def is_mixed(formula: str) -> bool:
    """Whether a formula has random-effects terms (a bar ``|``), i.e. needs `lmer`."""
    return "|" in formula


def fit_model(formula: str, frame: pd.DataFrame, name: str, *, reml: bool) -> Any:
    """Fit `formula` with `ml.lmer` if it has random effects, else with `ml.lm`."""
    import multilevel as ml

    if is_mixed(formula):
        return ml.lmer(formula, frame, reml=reml, data_name=name)
    return ml.lm(formula, frame, data_name=name)


def capture_warnings(func: Callable[[], T]) -> tuple[T, list[str]]:
    """Call `func`, returning its value and the distinct warning messages it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = func()
    messages: list[str] = []
    for item in caught:
        text = one_line(str(item.message))
        if text not in messages:
            messages.append(text)
    return value, messages


def one_line(message: str) -> str:
    """Fold a (possibly two-line) message into one line.

    Examples
    --------
    >>> one_line("column 'x' not found\\n  How to fix: check the spelling")
    "column 'x' not found; how to fix: check the spelling"
    """
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    parts = [parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]] if parts else [""]
    return "; ".join(parts)


def print_warnings(messages: list[str], prefix: str = "") -> None:
    """Write each warning as ``warning: ...`` on stderr."""
    for text in messages:
        print(f"warning: {prefix}{text}", file=sys.stderr)


def digits_arg(text: str) -> int:
    """Parse ``--digits``: a whole number from 1 to 22, as R's ``options(digits)``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 22:
        raise argparse.ArgumentTypeError(f"must be between 1 and 22, got {value}")
    return value


def fmt(value: Any, digits: int) -> str:
    """Format a number with `digits` significant digits (``NA`` for missing)."""
    if value is None:
        return "NA"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number:
        return "NA"
    return f"{number:.{digits}g}"
