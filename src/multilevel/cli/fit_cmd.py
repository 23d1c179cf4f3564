"""``multilevel fit FORMULA --data FILE``: fit one model and print its summary."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from ._common import (
    capture_warnings,
    data_help,
    digits_arg,
    fit_model,
    fmt,
    is_mixed,
    print_warnings,
    read_data,
)

FORMATS = ("text", "json", "markdown")

EPILOG = """\
examples:
  multilevel fit "math ~ homework + (homework | schnum)" --data imm10.csv --ml
  multilevel fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy --format json
  multilevel fit "math ~ homework" --data imm10.csv          (no bar: ordinary least squares)

A formula with a random-effects term (x | g) is fitted like lme4's lmer(); one without is
fitted like R's lm(). --data takes any file ml.read reads (CSV, TSV, text, Parquet, Feather,
Excel, RDS/RData, Stata, SPSS; compressed too), an http(s) URL, or a dataset name (see
'multilevel datasets list'). Quote the formula: unquoted, the shell splits it into words and
turns a lone ~ into your home folder.
"""


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register the ``fit`` subcommand."""
    sub = subparsers.add_parser(
        "fit",
        parents=parents,
        help="fit one model and print its summary",
        description="Fit one linear (mixed) model and print its summary as R prints it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("formula", metavar="FORMULA",
                     help="model formula in lme4 syntax, e.g. 'y ~ x + (x | g)' (quote it)")
    sub.add_argument("--data", required=True, metavar="FILE",
                     help=data_help())
    method = sub.add_mutually_exclusive_group()
    method.add_argument("--reml", dest="reml", action="store_true", default=True,
                        help="fit by restricted maximum likelihood (default, as lme4)")
    method.add_argument("--ml", dest="reml", action="store_false",
                        help="fit by maximum likelihood (lme4's REML = FALSE)")
    sub.add_argument("--format", choices=FORMATS, default="text",
                     help="output: R's printed summary (text, default), json, or markdown")
    sub.add_argument("--digits", type=digits_arg, default=7, metavar="N",
                     help="significant digits for text and markdown output (default 7, as R)")
    sub.set_defaults(func=run, _parser=sub)


def run(args: argparse.Namespace) -> int:
    """Fit the model and write the summary to stdout."""
    frame, name = read_data(args.data)
    model, messages = capture_warnings(
        lambda: fit_model(args.formula, frame, name, reml=args.reml)
    )
    if args.format == "text":
        print(str(model.summary(digits=args.digits)))
    else:
        payload = collect(model, formula=args.formula, data=name,
                          reml=args.reml if is_mixed(args.formula) else None, warnings=messages)
        print(json.dumps(payload, indent=2) if args.format == "json"
              else to_markdown(payload, args.digits))
    print_warnings(messages)
    return 0


def _number(value: Any) -> float | None:
    """A JSON-safe number: Python float, ``None`` for NaN/inf/missing."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _std_errors(model: Any) -> dict[str, float | None]:
    """Standard errors of the fixed effects: square roots of the diagonal of ``vcov``."""
    import numpy as np

    vcov = model.vcov
    return {str(n): _number(np.sqrt(v)) for n, v in zip(vcov.index, np.diag(vcov.to_numpy()),
                                                        strict=True)}


def collect(model: Any, *, formula: str, data: str, reml: bool | None,
            warnings: list[str]) -> dict[str, Any]:
    """The JSON summary of a fitted model: estimates, variance components and fit statistics.

    Parameters
    ----------
    model : LmerResult or LmResult
        A fitted model from `ml.lmer` or `ml.lm`.
    formula, data : str
        The formula and data name as given on the command line.
    reml : bool or None
        Fitting criterion (None for `lm`).
    warnings : list of str
        Warning messages raised while fitting.

    Returns
    -------
    dict
        Keys ``model, formula, data, reml, nobs, ngrps, fixef, se, varcorr, sigma, loglik, aic,
        bic, warnings``; every number is a float/int or None.
    """
    mixed = reml is not None
    varcorr = []
    ngrps: dict[str, int] = {}
    if mixed:
        for row in model.varcorr.to_dict(orient="records"):
            varcorr.append({
                "grp": row["grp"],
                "var1": _text(row["var1"]),
                "var2": _text(row["var2"]),
                "vcov": _number(row["vcov"]),
                "sdcor": _number(row["sdcor"]),
            })
        ngrps = {str(k): int(v) for k, v in dict(model.ngrps).items()}
    return {
        "model": "lmer" if mixed else "lm",
        "formula": formula,
        "data": data,
        "reml": reml,
        "nobs": int(model.nobs),
        "ngrps": ngrps,
        "fixef": {str(k): _number(v) for k, v in model.fixef.items()},
        "se": _std_errors(model),
        "varcorr": varcorr,
        "sigma": _number(model.sigma),
        "loglik": _number(model.loglik),
        "aic": _number(model.aic),
        "bic": _number(model.bic),
        "warnings": list(warnings),
    }


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def to_markdown(payload: dict[str, Any], digits: int) -> str:
    """Render :func:`collect`'s payload as a Markdown document (tables of GitHub flavour)."""
    f = lambda v: fmt(v, digits)  # noqa: E731
    if payload["model"] == "lmer":
        method = "REML" if payload["reml"] else "maximum likelihood"
        title = f"## Linear mixed model fit by {method}"
    else:
        title = "## Linear model fit by least squares"
    lines = [title, "", f"`{payload['formula']}` &nbsp; Data: `{payload['data']}` &nbsp; "
             f"Observations: {payload['nobs']}"]
    if payload["ngrps"]:
        lines[-1] += " &nbsp; Groups: " + ", ".join(f"{g} {n}" for g, n in payload["ngrps"].items())
    loglik_label = "REML logLik" if payload["reml"] else "logLik"
    lines += ["", f"| AIC | BIC | {loglik_label} | sigma |", "|---:|---:|---:|---:|",
              f"| {f(payload['aic'])} | {f(payload['bic'])} | {f(payload['loglik'])} "
              f"| {f(payload['sigma'])} |"]
    if payload["varcorr"]:
        lines += ["", "### Random effects", "", "| Groups | Name | Variance | Std.Dev. | Corr |",
                  "|---|---|---:|---:|---:|"]
        for row in payload["varcorr"]:
            if row["var2"] is None:
                lines.append(f"| {row['grp']} | {row['var1'] or ''} | {f(row['vcov'])} "
                             f"| {f(row['sdcor'])} | |")
            else:
                lines.append(f"| {row['grp']} | {row['var1']} : {row['var2']} | | "
                             f"| {f(row['sdcor'])} |")
    stat = "t value"
    lines += ["", "### Fixed effects", "", f"| | Estimate | Std. Error | {stat} |",
              "|---|---:|---:|---:|"]
    for term, est in payload["fixef"].items():
        se = payload["se"].get(term)
        t = est / se if est is not None and se else None
        lines.append(f"| `{term}` | {f(est)} | {f(se)} | {f(t)} |")
    if payload["warnings"]:
        lines += ["", "### Warnings", ""] + [f"- {w}" for w in payload["warnings"]]
    return "\n".join(lines)
