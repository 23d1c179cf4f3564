"""``multilevel report``: fit models and write the lesson's HTML report (tables and figures).

Uses only the public API (:func:`multilevel.read`, :func:`multilevel.report`).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import DataError, MultilevelError, two_line
from ._common import data_help, digits_arg, one_line

EPILOG = """\
examples:
  multilevel report --data imm10.csv --formula "math ~ homework" \\
      --formula "math ~ homework + (1 | schnum)" \\
      --formula "math ~ homework + (homework | schnum)" -o report.html
  multilevel report --data sleepstudy --formula "Reaction ~ Days + (Days | Subject)"
  multilevel report --data survey.sav --formula "score ~ age + (1 | school)" --group school

--data reads CSV/TSV (also .gz), Parquet, Feather, Excel, R's .rds/.RData, Stata .dta and
SPSS .sav files, http(s) URLs, or a bundled dataset name (see 'multilevel datasets list').
Formulas with a bar (x | g) are fitted with lmer, others with lm. The report is one HTML file
with everything inline: open it in any browser, offline.
"""


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser] | None = None) -> None:
    """Register the ``report`` subcommand."""
    sub = subparsers.add_parser(
        "report",
        parents=parents or [],
        help="fit models and write an HTML report with tables and figures",
        description="Fit one or more models to a data file and write a self-contained HTML\n"
                    "report: the data, group means, each model's summary and figures, and\n"
                    "the models side by side.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--data", required=True, metavar="FILE",
                     help=data_help())
    sub.add_argument("--formula", "-f", action="append", required=True, metavar="F",
                     dest="formulas",
                     help="a model formula in lme4 syntax; repeat for several models")
    sub.add_argument("-o", "--output", default="report.html", metavar="FILE",
                     help="the HTML file to write (default: report.html)")
    sub.add_argument("--title", help="the report's title (default: 'Multilevel models of Y')")
    sub.add_argument("--group", metavar="COL",
                     help="grouping column of the figures (default: from the models)")
    sub.add_argument("--x", metavar="COL",
                     help="predictor on the figures' x axis (default: from the models)")
    sub.add_argument("--name", action="append", dest="names", metavar="NAME",
                     help="a name for each model, in order (default: Model 1, Model 2, ...)")
    method = sub.add_mutually_exclusive_group()
    method.add_argument("--ml", dest="reml", action="store_false", default=False,
                        help="fit mixed models by maximum likelihood (default, as the lesson)")
    method.add_argument("--reml", dest="reml", action="store_true",
                        help="fit mixed models by REML instead")
    sub.add_argument("--digits", type=digits_arg, default=3, metavar="N",
                     help="significant digits in the summaries (default 3)")
    sub.add_argument("--images", choices=("png", "svg"), default="png",
                     help="figure format inside the page (default png)")
    sub.add_argument("--object", metavar="NAME",
                     help="for .RData files holding several data frames: which one")
    sub.add_argument("--quiet", "-q", action="store_true", help="no progress messages")
    sub.set_defaults(func=run, _parser=sub)




def load(spec: str, *, obj: str | None = None):
    """A data file or URL through :func:`multilevel.read`, or a bundled dataset by name."""
    import multilevel as ml

    path = Path(spec).expanduser()
    if (not path.exists() and "://" not in spec and not any(sep in spec for sep in "/\\")
            and "." not in spec):
        names = {n.lower(): n for n in ml.datasets.names()}
        if spec.lower() in names:
            frame = ml.datasets.load(names[spec.lower()])
            frame.attrs["name"] = names[spec.lower()]
            return frame
        raise DataError(two_line(f"no data file or bundled dataset {spec!r}",
                                 "check the path, or see 'multilevel datasets list'"))
    return ml.read(spec, object=obj)


class _Progress:
    """One updating line on stderr (only when it is a terminal)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self.step = 0
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        self.step += 1
        line = f"[{min(self.step, self.total)}/{self.total}] {message}"
        sys.stderr.write("\r\033[K" + line[:100])
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write(f"\r\033[Kdone in {time.monotonic() - self.start:.1f} s\n")


def write(frame, formulas: list[str], output: str | Path, *, names=None, title=None,
          group=None, x=None, reml=False, digits=3, images="png", quiet=True):
    """Fit `formulas` on `frame` and write the report to `output`.

    Returns the list of ``(name, formula, error)`` of the models that failed (empty when all
    were fitted) and the number of figures.
    """
    import multilevel as ml

    for col, flag in ((group, "--group"), (x, "--x")):
        if col is not None and col not in frame.columns:
            raise DataError(two_line(f"no column {col!r} in the data ({flag})",
                                     "available columns: "
                                     + ", ".join(map(str, frame.columns))))
    if names is not None and len(names) != len(formulas):
        raise DataError(two_line(f"{len(names)} --name for {len(formulas)} --formula",
                                 "give one --name per --formula, or none"))
    names = list(names) if names else [f"Model {i + 1}" for i in range(len(formulas))]
    progress = _Progress(not quiet, total=4 + 2 * len(formulas))
    models: dict[str, Any] = {}
    failed = []
    for name, formula in zip(names, formulas):
        progress(f"fitting {name}: {formula}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the report shows the fit's messages
                if "|" in formula:
                    models[name] = ml.lmer(formula, frame, reml=reml,
                                           data_name=frame.attrs.get("name"))
                else:
                    models[name] = ml.lm(formula, frame, data_name=frame.attrs.get("name"))
        except MultilevelError as exc:
            failed.append((name, formula, one_line(str(exc))))
            models[name] = formula  # the report fits it again and shows the error
    page = ml.report(models, data=frame, path=output, title=title, group=group, x=x,
                     reml=reml, digits=digits, image_format=images, progress=progress)
    progress.done()
    return failed, page.count("<figure ")


def run(args: argparse.Namespace) -> int:
    """Read the data, fit the formulas, write the report; print where it is."""
    from .._validate import output_path

    output_path(args.output, inputs=[args.data], what="report")  # before reading or fitting
    frame = load(args.data, obj=args.object)
    failed, n_figures = write(frame, args.formulas, args.output, names=args.names,
                              title=args.title, group=args.group, x=args.x, reml=args.reml,
                              digits=args.digits, images=args.images, quiet=args.quiet)
    path = Path(args.output).resolve()
    n = len(args.formulas)
    print(f"wrote {path} ({n} model{'s' if n != 1 else ''}, {n_figures} figures)")
    for name, formula, error in failed:
        print(f"error: {name} ({formula}): {error}", file=sys.stderr)
    return 1 if failed else 0


def demo_report(fitted: list, frame, output: str | Path, *, title: str, reml: bool,
                digits: int) -> Path:
    """Write the report of ``multilevel demo``'s fitted steps; returns where it is.

    When `output` cannot be written (a read-only folder), the report goes to the temporary
    folder instead.
    """
    import tempfile

    import multilevel as ml

    models: dict[str, Any] = {}
    for item in fitted:
        step = item.step
        if step.formula is None:
            continue
        name = f"Model {step.number}. {step.title}"
        models[name] = item.model if item.model is not None else step.formula
    target = Path(output).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError:
        target = Path(tempfile.gettempdir()) / target.name
    progress = _Progress(True, total=4 + len(models))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the demo has printed the fits' warnings already
        ml.report(models, data=frame, path=target, title=title, reml=reml, digits=digits,
                  progress=progress)
    progress.done()
    return target.resolve()
