"""``multilevel datasets list|show NAME|export NAME -o FILE``: the bundled example data."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import DataError, two_line

EPILOG = """\
examples:
  multilevel datasets list
  multilevel datasets show sleepstudy
  multilevel datasets export Exam -o exam.csv        (.tsv for tabs, .gz to compress)
"""


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``datasets`` subcommand and its actions."""
    sub = subparsers.add_parser(
        "datasets",
        parents=parents,
        help="list, describe or export the bundled example datasets",
        description="The example datasets bundled with multilevel (from lme4 and mlmRev).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.set_defaults(_parser=sub)
    actions = sub.add_subparsers(title="actions", dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=parents, help="one line per dataset",
                                 description="List the bundled datasets, one line each.")
    listing.set_defaults(func=run_list)
    show = actions.add_parser("show", parents=parents, help="columns, types and first rows",
                              description="Describe one dataset: its columns, their types "
                                          "(factor levels in R's order) and the first rows.")
    show.add_argument("name", metavar="NAME", help="dataset name (case-insensitive)")
    show.set_defaults(func=run_show)
    export = actions.add_parser(
        "export", parents=parents, help="write a dataset to a CSV/TSV file",
        description="Write a dataset as CSV (TSV if FILE ends in .tsv; compressed if it ends "
                    "in .gz, .bz2 or .xz).")
    export.add_argument("name", metavar="NAME", help="dataset name (case-insensitive)")
    export.add_argument("-o", "--output", metavar="FILE", default="-",
                        help="file to write; '-' (default) writes CSV to standard output")
    export.set_defaults(func=run_export)


def run_list(args: argparse.Namespace) -> int:
    """Print ``NAME  description`` for every dataset."""
    import multilevel.datasets as datasets

    names = datasets.names() + datasets.remote_names()  # remote ones: downloaded on first use
    width = max(len(n) for n in names)
    for name in names:
        text = datasets.describe(name).removeprefix(f"{name}: ")
        print(f"{name:<{width}}  {text}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the description, the column types and the first rows of one dataset."""
    import pandas as pd

    import multilevel.datasets as datasets

    frame = datasets.load(args.name)
    print(datasets.describe(args.name))
    print()
    width = max(len(str(c)) for c in frame.columns)
    for col in frame.columns:
        series = frame[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            levels = [str(v) for v in series.cat.categories]
            shown = ", ".join(levels[:6]) + (", ..." if len(levels) > 6 else "")
            kind = f"factor with {len(levels)} levels: {shown}"
        elif series.dtype.kind in "iu":
            kind = "integer"
        else:
            kind = "numeric"
        print(f"  {col:<{width}}  {kind}")
    print()
    print(frame.head(6).to_string())
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the dataset as CSV/TSV to a file or standard output."""
    import multilevel.datasets as datasets

    frame = datasets.load(args.name)
    if args.output == "-":
        frame.to_csv(sys.stdout, index=False)
        return 0
    path = Path(args.output).expanduser()
    plain = path.name.lower()
    for suffix in (".gz", ".bz2", ".xz"):
        plain = plain.removesuffix(suffix)
    sep = "\t" if plain.endswith((".tsv", ".tab")) else ","
    from .._validate import atomic_path, output_path

    path = Path(output_path(path, what="export"))
    try:
        with atomic_path(path) as tmp:
            compression = {"gz": "gzip", "bz2": "bz2", "xz": "xz"}.get(
                path.name.lower().rsplit(".", 1)[-1])
            frame.to_csv(tmp, index=False, sep=sep, compression=compression)
    except OSError as exc:
        raise DataError(two_line(f"cannot write {str(path)!r}: {exc.strerror or exc}",
                                 "check that the folder exists and is writable")) from None
    print(f"wrote {len(frame)} rows of {args.name} to {path}", file=sys.stderr)
    return 0
