"""``multilevel demo``: the lesson's six models, from OLS to three levels, each explained.

The demo is split into data and presentation so that other outputs can reuse it:

* :func:`plan` turns the column roles (:class:`Roles`) into the six :class:`Step` s (title,
  one-sentence assumption, formula) without touching data;
* :func:`fit_steps` fits them and returns :class:`FittedStep` s (result or error, warnings);
* :func:`render_text` prints them.

Hook for the HTML report (a later issue): add a renderer that takes the list of
:class:`FittedStep` from :func:`fit_steps` (e.g. in ``multilevel.report``) and a
``--report FILE`` option in :func:`add_parser`; :func:`run` then calls it after
:func:`fit_steps`, next to :func:`render_text`.

Default data: mlmRev's ``Exam`` (bundled): ``normexam ~ standLRT``, students in 65 schools,
level-1 predictor ``sex``, level-2 predictor ``schavg`` (the school's average intake score).
Exam has no region column, so the third level is ``schgend`` (the school's gender intake:
mixed, boys or girls): every school has exactly one, so schools are nested in it, which gives
``(1 | schgend/school)``. Three level-3 units estimate that variance poorly; the model is there
to show how a third level is written and read, not to make a claim about school types.
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

from ..errors import MultilevelError
from ._common import (
    capture_warnings,
    data_help,
    digits_arg,
    fit_model,
    one_line,
    print_warnings,
    read_data,
    require_columns,
)

EPILOG = """\
examples:
  multilevel demo                      (Exam: normexam ~ standLRT, students in schools)
  multilevel demo --data imm10.csv --y math --x homework --group schnum \\
                  --level1 ses --level2 meanses
  multilevel demo --data imm10.csv --y math --x homework --group schnum \\
                  --level1 ses --level2 meanses --level3 region

The six models:
  1  OLS                        y ~ x
  2  OLS with group dummies     y ~ x + as.factor(group)
  3  random intercept           y ~ x + (1 | group)
  4  random slope               y ~ x + (x | group)
  5  level-1 and level-2 terms  y ~ x + level1 + level2 + (x | group)
  6  a third level              y ~ x + level1 + level2 + (1 | level3/group)
Model 5 needs --level1 or --level2, model 6 needs --level3; without them they are skipped.
Without --data the demo runs on the lesson's own data, imm10 (downloaded once and cached, see
'multilevel datasets list'; or a copy of imm10.csv in $MULTILEVEL_DATA), with the lesson's
roles (math, homework, schnum, ses, meanses, region). Offline, it uses the bundled Exam data,
with level 3 = schgend (schools' gender intake), since Exam has no region: a small
illustration of the syntax (only 3 level-3 units).
"""

EXAM = {"y": "normexam", "x": "standLRT", "group": "school", "level1": "sex",
        "level2": "schavg", "level3": "schgend"}
LESSON = {"y": "math", "x": "homework", "group": "schnum", "level1": "ses",
          "level2": "meanses", "level3": "region"}
"""The lesson's roles in its own data, imm10 (``ml.datasets.load("imm10")``)."""


def lesson_data(timeout: float = 5.0):
    """The lesson's imm10 data when it can be had (cached, a copy in ``$MULTILEVEL_DATA``, or
    a quick download), else None: the demo then runs on the bundled Exam data.

    Examples
    --------
    >>> frame = lesson_data(timeout=0.5)
    >>> frame is None or frame.shape == (260, 19)
    True
    """
    import pandas as pd

    from ..io.remote import fetch

    try:
        return pd.read_csv(fetch("imm10", timeout=timeout))
    except MultilevelError:
        return None


@dataclass(frozen=True)
class Roles:
    """Which column plays which part in the lesson's models."""

    y: str
    x: str
    group: str
    level1: str | None = None
    level2: str | None = None
    level3: str | None = None

    def columns(self) -> list[str]:
        return [c for c in (self.y, self.x, self.group, self.level1, self.level2, self.level3) if c]


@dataclass(frozen=True)
class Step:
    """One model of the lesson: what it is, what it assumes, its formula (None: skipped)."""

    number: int
    title: str
    assumes: str
    formula: str | None
    skipped: str | None = None


@dataclass(frozen=True)
class FittedStep:
    """A :class:`Step` with its fitted model (or the error that stopped it)."""

    step: Step
    model: Any = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def plan(roles: Roles) -> list[Step]:
    """The lesson's six models for the given column roles.

    Examples
    --------
    >>> steps = plan(Roles(y="math", x="homework", group="schnum"))
    >>> [s.formula for s in steps][:4]
    ['math ~ homework', 'math ~ homework + as.factor(schnum)', 'math ~ homework + (1 | schnum)', 'math ~ homework + (homework | schnum)']
    >>> steps[5].skipped
    'no --level3 column given'
    """
    y, x, g = roles.y, roles.x, roles.group
    extra = "".join(f" + {c}" for c in (roles.level1, roles.level2) if c)
    steps = [
        Step(1, "Ordinary least squares",
             f"Every row is an independent case: one intercept and one slope of {y} on {x} "
             f"for everybody, whatever their {g}.",
             f"{y} ~ {x}"),
        Step(2, f"Ordinary least squares with a dummy variable for each {g}",
             f"Each {g} has its own fixed intercept, unrelated to the others, and all share "
             f"one slope of {x}.",
             f"{y} ~ {x} + as.factor({g})"),
        Step(3, "Random intercept",
             f"The {g} intercepts are drawn from one normal distribution whose variance is "
             f"estimated, and all share one slope of {x}.",
             f"{y} ~ {x} + (1 | {g})"),
        Step(4, "Random intercept and random slope",
             f"Both the intercept and the slope of {x} vary between {g}s, as correlated draws "
             f"from a normal distribution.",
             f"{y} ~ {x} + ({x} | {g})"),
    ]
    level_terms = []
    if roles.level1:
        level_terms.append(f"{roles.level1}, measured on each row (level 1)")
    if roles.level2:
        level_terms.append(f"{roles.level2}, measured on each {g} (level 2)")
    if level_terms:
        steps.append(Step(
            5, "Level-1 and level-2 predictors with a random slope",
            f"As model 4, with {' and '.join(level_terms)} added as fixed effects.",
            f"{y} ~ {x}{extra} + ({x} | {g})"))
    else:
        steps.append(Step(5, "Level-1 and level-2 predictors with a random slope", "", None,
                          skipped="no --level1 or --level2 column given"))
    if roles.level3:
        l3 = roles.level3
        steps.append(Step(
            6, f"A third level: {g} within {l3}",
            f"Each {g} belongs to one {l3}: intercepts vary between {l3}s and between {g}s "
            f"within a {l3}, both as normal draws.",
            f"{y} ~ {x}{extra} + (1 | {l3}/{g})"))
    else:
        steps.append(Step(6, "A third level", "", None, skipped="no --level3 column given"))
    return steps


def fit_steps(steps: list[Step], frame: Any, name: str, *, reml: bool) -> list[FittedStep]:
    """Fit every step that is not skipped; a failing model records its error and the rest go on."""
    fitted = []
    for step in steps:
        if step.formula is None:
            fitted.append(FittedStep(step))
            continue
        try:
            model, messages = capture_warnings(
                lambda f=step.formula: fit_model(f, frame, name, reml=reml)
            )
        except MultilevelError as exc:
            fitted.append(FittedStep(step, error=one_line(str(exc))))
            continue
        fitted.append(FittedStep(step, model=model, warnings=messages))
    return fitted


def render_text(fitted: list[FittedStep], *, digits: int, intro: str) -> str:
    """The demo as plain text: an introduction, then each model under a heading."""
    rule = "=" * 78
    parts = ["\n".join(textwrap.fill(line, width=len(rule)) for line in intro.splitlines())]
    for item in fitted:
        step = item.step
        head = f"Model {step.number}. {step.title}"
        if step.formula is None:
            parts.append(f"{rule}\n{head}: skipped ({step.skipped})")
            continue
        assumes = textwrap.fill(step.assumes, width=len(rule), initial_indent="  Assumes: ",
                                subsequent_indent=" " * 11)
        parts.append(f"{rule}\n{head}\n  {step.formula}\n{assumes}\n{rule}")
        if item.error is not None:
            parts.append(f"(not fitted: {item.error})")
        else:
            parts.append(str(item.model.summary(digits=digits)).rstrip("\n"))
    return "\n\n".join(parts) + "\n"


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``demo`` subcommand."""
    sub = subparsers.add_parser(
        "demo",
        parents=parents,
        help="the lesson's six models, from OLS to three levels, explained",
        description="Fit the multilevel lesson's models one after another and print each\n"
                    "summary under a heading that says what the model assumes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--data", metavar="FILE",
                     help=data_help("(default: the lesson's imm10 when available, else the "
                                    "bundled Exam data)"))
    roles = sub.add_argument_group("column roles (required with --data; Exam's by default)")
    roles.add_argument("--y", metavar="COL", help="response (Exam: normexam)")
    roles.add_argument("--x", metavar="COL", help="level-1 predictor with a random slope "
                                                   "(Exam: standLRT)")
    roles.add_argument("--group", metavar="COL", help="level-2 grouping, e.g. school (Exam: school)")
    roles.add_argument("--level1", metavar="COL", help="another level-1 predictor (Exam: sex)")
    roles.add_argument("--level2", metavar="COL", help="a level-2 predictor (Exam: schavg)")
    roles.add_argument("--level3", metavar="COL",
                       help="grouping the groups are nested in, for model 6 (Exam: schgend)")
    method = sub.add_mutually_exclusive_group()
    method.add_argument("--ml", dest="reml", action="store_false", default=False,
                        help="fit mixed models by maximum likelihood (default, as the lesson)")
    method.add_argument("--reml", dest="reml", action="store_true",
                        help="fit mixed models by REML instead")
    sub.add_argument("--digits", type=digits_arg, default=3, metavar="N",
                     help="significant digits in the summaries (default 3, as the lesson)")
    sub.add_argument("--report", metavar="FILE", default="multilevel-demo.html",
                     help="also write the lesson's HTML report with its figures here "
                          "(default: multilevel-demo.html)")
    sub.add_argument("--no-report", dest="report", action="store_const", const=None,
                     help="do not write the HTML report")
    sub.set_defaults(func=run, _parser=sub)


def _roles(args: argparse.Namespace, defaults: dict | None = None) -> Roles:
    given = {k: getattr(args, k) for k in EXAM}
    if args.data is None:
        defaults = defaults or EXAM
        return Roles(**{k: v if v is not None else defaults[k] for k, v in given.items()})
    missing = [f"--{k}" for k in ("y", "x", "group") if given[k] is None]
    if missing:
        args._parser.error(f"--data needs {', '.join(missing)} to say which columns to use")
    return Roles(**given)


def run(args: argparse.Namespace) -> int:
    """Fit and print the six models; exit status 1 if any of them failed."""
    lesson = None
    if args.data is None and all(getattr(args, k) is None for k in EXAM):
        lesson = lesson_data()
        if lesson is None:
            print("note: the lesson's imm10 data is not available (offline, not cached; see "
                  "ml.help('datasets')): the demo runs on the bundled Exam data",
                  file=sys.stderr)
    roles = _roles(args, LESSON if lesson is not None else None)
    if lesson is not None:
        frame, name = lesson, "imm10"
    else:
        frame, name = read_data(args.data if args.data is not None else "Exam")
    require_columns(frame, roles.columns(), repr(args.data) if args.data else name)
    method = "REML" if args.reml else "maximum likelihood"
    if lesson is not None:
        intro = ("The multilevel lesson on its own data, imm10 (Kreft and de Leeuw's subset of "
                 "NELS-88): maths scores (math) against weekly hours of homework of 260 "
                 "students in 10 US schools (schnum).\nLevel 3 is region; mixed models are "
                 f"fitted by {method}.")
    elif args.data is None:
        intro = ("The multilevel lesson on the Exam data (mlmRev): exam scores at 16 (normexam) "
                 "against intake scores (standLRT) of 4,059 students in 65 London schools.\n"
                 "Level 3 is schgend (mixed, boys' or girls' school), as Exam has no region; "
                 f"mixed models are fitted by {method}.")
    else:
        intro = (f"The multilevel lesson on {name}: {roles.y} against {roles.x}, rows grouped by "
                 f"{roles.group}; mixed models are fitted by {method}.")
    fitted = fit_steps(plan(roles), frame, name, reml=args.reml)
    sys.stdout.write(render_text(fitted, digits=args.digits, intro=intro))
    failed = [item for item in fitted if item.error is not None]
    for item in failed:
        print(f"error: model {item.step.number} ({item.step.formula}): {item.error}",
              file=sys.stderr)
    for item in fitted:
        print_warnings(item.warnings, prefix=f"model {item.step.number}: ")
    if args.report:
        from .report_cmd import demo_report

        where = demo_report(fitted, frame, args.report, title=f"The multilevel lesson on {name}",
                            reml=args.reml, digits=args.digits)
        print(f"\nThe report with the lesson's tables and figures: {where}\n"
              "(open it in a web browser)")
    return 1 if failed else 0
