"""Example datasets shipped with `multilevel`: the data of lme4's and mlmRev's examples.

Each dataset is a gzip-compressed CSV in ``io/data/`` (the file as lme4's reference results
were fitted to, compressed with ``gzip -9n``).  The column types cannot live in a CSV, so they
live in :data:`_TABLE` below: which columns are factors and in which level order R keeps their
levels (the first level is the reference level of treatment contrasts).  The level orders are
those of the ``dataset.columns`` entries of the lme4 reference JSON; ``tests/io`` checks the two
agree.

A level order is written as one of

* ``"numeric"``: the distinct values in increasing numeric order (R's ``factor()`` of an
  integer column),
* ``"sorted"``: the distinct labels in alphabetical (code point) order (R's ``factor()`` of a
  character column in the C locale),
* a tuple of labels, for orders set by the source package.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError, two_line

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["describe", "load", "names", "remote_names"]

_DATA_DIR = Path(__file__).resolve().parent / "data"

_LME4 = "R package lme4, dataset {}"
_MLMREV = "R package mlmRev, dataset {}"

# Column types: "numeric" (float64), "integer" (int64), or ("factor", level order).
_NUM, _INT = "numeric", "integer"


def _factor(order: str | tuple[str, ...]) -> tuple[str, str | tuple[str, ...]]:
    return ("factor", order)


_HSB82_SCHOOLS = (
    "8367 8854 4458 5762 6990 5815 7172 4868 7341 1358 4383 2305 8800 3088 8775 7890 6144 "
    "6443 5192 6808 2818 9340 4523 6816 2277 8009 5783 3013 7101 4530 9021 4511 2639 3377 "
    "6578 9347 3705 3533 1296 4350 9397 4253 2655 7342 9292 3499 7364 8983 5650 2658 8188 "
    "4410 9508 8707 1499 8477 1288 6291 1224 4292 8857 3967 6415 1317 2629 4223 1462 9550 "
    "6464 4931 5937 7919 3716 1909 2651 2467 1374 6600 5667 5720 3498 3881 2995 5838 3688 "
    "9158 8946 7232 2917 6170 8165 9104 2030 8150 4042 8357 8531 6074 4420 1906 3992 3999 "
    "4173 4325 5761 6484 6897 7635 7734 8175 8874 9225 2458 3610 5640 3838 9359 2208 6089 "
    "1477 2768 3039 5819 6397 1308 1433 1436 1461 1637 1942 1946 2336 2526 2626 2755 2771 "
    "2990 3020 3152 3332 3351 3427 3657 4642 5404 5619 6366 6469 7011 7276 7332 7345 7688 "
    "7697 8193 8202 8627 8628 9198 9586"
).split()


@dataclass(frozen=True)
class _Dataset:
    """One bundled dataset: its file, shape, description and column types (internal)."""

    name: str
    nrow: int
    description: str
    source: str
    columns: dict[str, object]

    @property
    def ncol(self) -> int:
        return len(self.columns)


_TABLE: dict[str, _Dataset] = {
    d.name: d
    for d in [
        _Dataset(
            "Dyestuff", 30,
            "Yield of dyestuff from 5 preparations of each of 6 batches of an intermediate "
            "product (one-way random effects)",
            _LME4.format("Dyestuff"),
            {"Batch": _factor("sorted"), "Yield": _NUM},
        ),
        _Dataset(
            "Dyestuff2", 30,
            "Simulated yields laid out like Dyestuff whose batch variance is estimated as zero "
            "(a singular fit)",
            _LME4.format("Dyestuff2"),
            {"Batch": _factor("sorted"), "Yield": _NUM},
        ),
        _Dataset(
            "Exam", 4059,
            "Exam scores at age 16 of 4,059 students in 65 inner-London schools, with intake "
            "scores and school characteristics",
            _MLMREV.format("Exam"),
            {
                "school": _factor("numeric"),
                "normexam": _NUM,
                "schgend": _factor(("mixed", "boys", "girls")),
                "schavg": _NUM,
                "vr": _factor("sorted"),
                "intake": _factor("sorted"),
                "standLRT": _NUM,
                "sex": _factor("sorted"),
                "type": _factor("sorted"),
                "student": _factor("numeric"),
            },
        ),
        _Dataset(
            "Hsb82", 7185,
            "Mathematics achievement of 7,185 US students in 160 high schools (High School and "
            "Beyond, 1982)",
            _MLMREV.format("Hsb82"),
            {
                "school": _factor(tuple(_HSB82_SCHOOLS)),
                "minrty": _factor("sorted"),
                "sx": _factor(("Male", "Female")),
                "ses": _NUM,
                "mAch": _NUM,
                "meanses": _NUM,
                "sector": _factor(("Public", "Catholic")),
                "cses": _NUM,
            },
        ),
        _Dataset(
            "InstEval", 73421,
            "73,421 ratings (1-5) of lecturers (d) by students (s) at ETH Zurich, with "
            "department and service-course indicators",
            _LME4.format("InstEval"),
            {
                "s": _factor("numeric"),
                "d": _factor("numeric"),
                "studage": _factor("numeric"),
                "lectage": _factor("numeric"),
                "service": _factor("numeric"),
                "dept": _factor(
                    ("15", "5", "10", "12", "6", "7", "4", "8", "9", "14", "1", "3", "11", "2")
                ),
                "y": _INT,
            },
        ),
        _Dataset(
            "Pastes", 60,
            "Strength of a chemical paste: 2 assays of each of 3 casks from each of 10 "
            "delivery batches (casks nested in batches)",
            _LME4.format("Pastes"),
            {
                "strength": _NUM,
                "batch": _factor("sorted"),
                "cask": _factor("sorted"),
                "sample": _factor("sorted"),
            },
        ),
        _Dataset(
            "Penicillin", 144,
            "Diameter of the growth-inhibition zone of 6 penicillin samples on each of 24 "
            "plates (crossed random effects)",
            _LME4.format("Penicillin"),
            {"diameter": _NUM, "plate": _factor("sorted"), "sample": _factor("sorted")},
        ),
        _Dataset(
            "cake", 270,
            "Breaking angle of chocolate cakes made with 3 recipes and baked at 6 temperatures, "
            "15 replicates",
            _LME4.format("cake"),
            {
                "replicate": _factor("numeric"),
                "recipe": _factor("sorted"),
                "temperature": _factor("numeric"),
                "angle": _INT,
                "temp": _NUM,
            },
        ),
        _Dataset(
            "cbpp", 56,
            "New cases of contagious bovine pleuropneumonia per herd and period in 15 "
            "Ethiopian zebu herds",
            _LME4.format("cbpp"),
            {
                "herd": _factor("numeric"),
                "incidence": _NUM,
                "size": _NUM,
                "period": _factor("numeric"),
            },
        ),
        _Dataset(
            "grouseticks", 403,
            "Number of ticks on 403 red grouse chicks by brood, year, location and altitude",
            _LME4.format("grouseticks"),
            {
                "INDEX": _factor("numeric"),
                "TICKS": _NUM,
                "BROOD": _factor("numeric"),
                "HEIGHT": _NUM,
                "YEAR": _factor("numeric"),
                "LOCATION": _factor("numeric"),
                "cHEIGHT": _NUM,
            },
        ),
        _Dataset(
            "sleepstudy", 180,
            "Average reaction time of 18 subjects on each of 10 days of sleep deprivation",
            _LME4.format("sleepstudy"),
            {"Reaction": _NUM, "Days": _NUM, "Subject": _factor("numeric")},
        ),
    ]
}


def names() -> list[str]:
    """Names of the bundled datasets, in case-insensitive alphabetical order.

    Returns
    -------
    list of str
        Dataset names as lme4 spells them (``"Dyestuff"``, ``"sleepstudy"``, ...).

    Examples
    --------
    >>> from multilevel.io.datasets import names
    >>> "sleepstudy" in names()
    True
    """
    return sorted(_TABLE, key=str.lower)


def remote_names() -> list[str]:
    """Names of the registered remote datasets (downloaded on first use, then cached; see
    :mod:`multilevel.io.remote`).

    Examples
    --------
    >>> from multilevel.io.datasets import remote_names
    >>> remote_names()
    ['imm10']
    """
    from .remote import REGISTRY

    return sorted(REGISTRY, key=str.lower)


def _remote_key(name: str) -> str | None:
    from .remote import REGISTRY

    key = str(name).strip().lower()
    return next((k for k in REGISTRY if k.lower() == key), None)


def _lookup(name: str) -> _Dataset:
    """Find a dataset by case-insensitive name, or raise `DataError` naming the closest."""
    by_lower = {key.lower(): ds.name for key, ds in _TABLE.items()}
    by_lower.update({key.lower(): key for key in remote_names()})
    key = str(name).strip().lower()
    if key in by_lower and key in {k.lower() for k in _TABLE}:
        return next(ds for k, ds in _TABLE.items() if k.lower() == key)
    close = difflib.get_close_matches(key, list(by_lower), n=1, cutoff=0.5)
    if close:
        fix = f"did you mean {by_lower[close[0]]!r}?"
    else:
        fix = "choose one of " + ", ".join(names() + remote_names())
    raise DataError(two_line(f"no dataset called {name!r}", fix))


def describe(name: str) -> str:
    """One-line description of a bundled dataset, with its size and source.

    Parameters
    ----------
    name : str
        Dataset name, case-insensitive.

    Returns
    -------
    str
        ``"<name>: <description> (<rows> rows, <columns> columns; source: <source>)"``.

    Raises
    ------
    DataError
        If there is no dataset of that name.

    Examples
    --------
    >>> from multilevel.io.datasets import describe
    >>> describe("DYESTUFF")  # doctest: +ELLIPSIS
    'Dyestuff: Yield of dyestuff ... (30 rows, 2 columns; source: R package lme4, dataset Dyestuff)'
    """
    remote = _remote_key(name)
    if remote is not None:
        from .remote import REGISTRY

        ds = REGISTRY[remote]
        return (f"{ds.name}: {ds.description} ({ds.nrow} rows, {ds.ncol} columns; source: "
                f"{ds.source}; downloaded on first use from {ds.url})")
    ds = _lookup(name)
    return f"{ds.name}: {ds.description} ({ds.nrow} rows, {ds.ncol} columns; source: {ds.source})"


def load(name: str, *, path=None) -> pd.DataFrame:
    """Load an example dataset as a pandas DataFrame: a bundled one, with R's column types,
    or a registered remote one (``"imm10"``, the lesson's data: downloaded on first use,
    checked against its SHA-256 and cached; see :mod:`multilevel.io.remote`).

    Factor columns are unordered pandas Categoricals of string labels whose categories are in
    R's level order (the first is the reference level), numeric columns are float64 and
    integer columns int64, as in the R data the lme4 reference results were fitted to.

    Parameters
    ----------
    name : str
        Dataset name, case-insensitive; see :func:`names` and :func:`remote_names`.
    path : str or path, optional
        Remote datasets only: read this local copy instead of downloading (its checksum is
        checked). ``$MULTILEVEL_DATA`` names a folder searched for such copies.

    Returns
    -------
    pandas.DataFrame
        A new frame on every call; changing it does not change later loads.

    Raises
    ------
    DataError
        If there is no dataset of that name (the message suggests the closest name); for a
        remote dataset, if it cannot be downloaded (offline) or its checksum does not match.

    Examples
    --------
    >>> from multilevel.io.datasets import load
    >>> sleep = load("sleepstudy")
    >>> sleep.shape
    (180, 3)
    >>> list(sleep["Subject"].cat.categories[:3])
    ['308', '309', '310']
    """
    remote = _remote_key(name)
    if remote is not None:
        from .remote import load_remote

        return load_remote(remote, path=path)
    if path is not None:
        raise DataError(two_line(f"{name!r} is bundled: it has no path= to read",
                                 f"call load({name!r}) without path="))
    return _read(_lookup(name).name).copy()


@functools.cache
def _read(name: str) -> pd.DataFrame:
    """Parse one bundled CSV with its column types (cached; callers copy)."""
    import pandas as pd

    ds = _TABLE[name]
    dtypes = {
        col: (str if isinstance(kind, tuple) else {"numeric": "float64", "integer": "int64"}[kind])
        for col, kind in ds.columns.items()
    }
    frame = pd.read_csv(_DATA_DIR / f"{name}.csv.gz", dtype=dtypes, keep_default_na=False,
                        na_values=["NA"])
    for col, kind in ds.columns.items():
        if isinstance(kind, tuple):
            frame[col] = pd.Categorical(frame[col], categories=_levels(frame[col], kind[1]))
    return frame


def _levels(labels: pd.Series, order: str | tuple[str, ...]) -> list[str]:
    """The level order of a factor column given as ``"numeric"``, ``"sorted"`` or a tuple."""
    if isinstance(order, tuple):
        return list(order)
    distinct = labels.dropna().unique().tolist()
    if order == "numeric":
        return sorted(distinct, key=float)
    return sorted(distinct)
