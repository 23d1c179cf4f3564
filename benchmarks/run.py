"""Time `multilevel`'s lmer against lme4 (R) and statsmodels' MixedLM on the same data.

    python benchmarks/run.py                 # all cases, 3 fits each
    python benchmarks/run.py --quick         # 1 fit each, 100,000-row synthetic case
    python benchmarks/run.py --only sleepstudy --only insteval

Each case's data is written once to a temporary CSV (plus its factor levels) and every engine
fits it in its own child process (``fit_python.py``, ``fit_lme4.R``), timing only the fit.
lme4 runs when ``Rscript`` and the lme4 package are installed, statsmodels when it is
importable; either may be missing. Prints one table and writes the numbers as JSON.
See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENGINES = ("multilevel", "lme4", "statsmodels")


@dataclass
class Case:
    """One benchmark: a model, how to get its data, and how statsmodels writes it."""

    name: str
    formula: str
    description: str
    sm: dict | None                  # statsmodels MixedLM arguments, None: not expressible
    sm_skip: str = ""                # why statsmodels is not run


def _imm10(shared: Path, quick: bool):
    import pandas as pd

    return pd.read_csv(shared / "data" / "imm10.csv")


def _bundled(name: str):
    def load(shared: Path, quick: bool):
        if str(REPO / "src") not in sys.path:
            sys.path.insert(0, str(REPO / "src"))
        import multilevel.datasets as datasets

        return datasets.load(name)
    return load


def synthetic(n_groups: int, per_group: int, seed: int = 20240521):
    """Random-slope data: y = 2 + 0.5 x + u0[g] + u1[g] x + e, (u0, u1) correlated normal."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.3 * 1.0 * 0.5], [0.3 * 1.0 * 0.5, 0.25]])
    u = rng.multivariate_normal([0.0, 0.0], cov, size=n_groups)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.standard_normal(g.size)
    y = 2.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.standard_normal(g.size)
    width = len(str(n_groups))
    labels = [f"g{i:0{width}d}" for i in range(n_groups)]
    return pd.DataFrame({"y": y, "x": x,
                         "g": pd.Categorical.from_codes(g, categories=labels)})


def _synthetic(shared: Path, quick: bool):
    return synthetic(2_000, 50) if quick else synthetic(20_000, 50)


CASES = {
    "imm10": (Case("imm10", "math ~ homework + (homework | schnum)",
                   "lesson's random slope, 260 rows, 10 schools",
                   {"fixed": "math ~ homework", "groups": "schnum", "re_formula": "~homework"}),
              _imm10),
    "sleepstudy": (Case("sleepstudy", "Reaction ~ Days + (Days | Subject)",
                        "180 rows, 18 subjects",
                        {"fixed": "Reaction ~ Days", "groups": "Subject", "re_formula": "~Days"}),
                   _bundled("sleepstudy")),
    "insteval": (Case("insteval", "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)",
                      "73,421 rows, 3 crossed factors (2972, 1128, 28 levels)", None,
                      sm_skip="crossed effects: MixedLM needs one dense 73,421 x 4,128 block"),
                 _bundled("InstEval")),
    "synthetic": (Case("synthetic", "y ~ 1 + x + (1 + x | g)",
                       "1,000,000 rows, 20,000 groups, seeded (--quick: 100,000 rows, 2,000)",
                       {"fixed": "y ~ x", "groups": "g", "re_formula": "~x"}),
                  _synthetic),
}


def write_case_data(frame, folder: Path) -> tuple[Path, Path]:
    """The frame as CSV, and one ``<column>.txt`` of levels per categorical column."""
    import pandas as pd

    csv = folder / "data.csv"
    frame.to_csv(csv, index=False)
    levels = folder / "levels"
    levels.mkdir()
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            (levels / f"{col}.txt").write_text(
                "\n".join(str(v) for v in frame[col].cat.categories) + "\n")
    return csv, levels


def available_engines() -> dict[str, str]:
    """Engine -> '' if it can run, else why not."""
    status = {"multilevel": ""}
    rscript = shutil.which("Rscript")
    if rscript is None:
        status["lme4"] = "Rscript not installed"
    else:
        ok = subprocess.run([rscript, "-e", "quit(status = !requireNamespace('lme4', quietly = TRUE))"],
                            capture_output=True, check=False).returncode == 0
        status["lme4"] = "" if ok else "R package lme4 not installed"
    status["statsmodels"] = "" if importlib.util.find_spec("statsmodels") else "not installed"
    return status


def run_engine(engine: str, case: Case, spec: dict, folder: Path, timeout: float) -> dict:
    """Fit in a child process; returns the worker's JSON, or ``{"error": ...}``."""
    out = folder / f"{engine}.json"
    if engine == "lme4":
        cmd = ["Rscript", str(HERE / "fit_lme4.R"), spec["csv"], spec["levels_dir"],
               case.formula, "TRUE" if spec["reml"] else "FALSE", str(spec["repeats"]), str(out)]
    else:
        spec_path = folder / f"{engine}-case.json"
        spec_path.write_text(json.dumps({**spec, "sm": case.sm}))
        cmd = [sys.executable, str(HERE / "fit_python.py"), engine, str(spec_path), str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    result = json.loads(out.read_text())
    result["median_s"] = statistics.median(result["times"])
    return result


def compare(results: dict[str, dict]) -> None:
    """Add ratios to lme4 and to the fastest other engine, and differences from lme4."""
    ok = {e: r for e, r in results.items() if "median_s" in r}
    ref = ok.get("lme4")
    for engine, r in ok.items():
        others = [o["median_s"] for e, o in ok.items() if e != engine]
        r["ratio_lme4"] = r["median_s"] / ref["median_s"] if ref else None
        r["ratio_fastest_other"] = r["median_s"] / min(others) if others else None
        if ref and engine != "lme4":
            r["abs_diff_loglik"] = abs(r["loglik"] - ref["loglik"])
            # same formula, same column order: compare by position (statsmodels names differ)
            r["max_abs_diff_fixef"] = max(abs(a - b) for a, b in zip(r["fixef"], ref["fixef"],
                                                                     strict=True))


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(report: dict) -> None:
    head = (f"{'case':<11} {'engine':<12} {'median s':>9} {'peak MB':>8} {'x lme4':>7} "
            f"{'x fastest':>9} {'|dlogLik|':>10} {'max|dfixef|':>11}  note")
    print(head)
    print("-" * len(head))
    for case in report["cases"]:
        for engine, r in case["engines"].items():
            if "median_s" not in r:
                print(f"{case['name']:<11} {engine:<12} {'':>9} {'':>8} {'':>7} {'':>9} {'':>10} "
                      f"{'':>11}  {r.get('error') or r.get('skipped')}")
                continue
            note = "; ".join(r.get("warnings", []))[:60]
            print(f"{case['name']:<11} {engine:<12} {r['median_s']:>9.3f} "
                  f"{_fmt(r.get('peak_mb'), '.0f'):>8} {_fmt(r.get('ratio_lme4'), '.2f'):>7} "
                  f"{_fmt(r.get('ratio_fastest_other'), '.2f'):>9} "
                  f"{_fmt(r.get('abs_diff_loglik'), '.1e'):>10} "
                  f"{_fmt(r.get('max_abs_diff_fixef'), '.1e'):>11}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one fit per engine, 100,000-row synthetic case, 120 s statsmodels cap")
    parser.add_argument("--only", action="append", choices=list(CASES), metavar="NAME",
                        help=f"run only this case (repeatable): {', '.join(CASES)}")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated engines to run (default: all available)")
    parser.add_argument("--repeats", type=int, help="fits per engine and case (default 3; quick 1)")
    parser.add_argument("--ml", action="store_true", help="fit by ML instead of REML")
    parser.add_argument("--statsmodels-timeout", type=float,
                        help="seconds before statsmodels is stopped (default 600; quick 120)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds before multilevel or lme4 is stopped (default 3600)")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                        help="the shared reference folder (default ../shared)")
    parser.add_argument("--json", type=Path, default=REPO / "out" / "benchmarks.json",
                        help="where to write the results (default out/benchmarks.json)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    sm_timeout = args.statsmodels_timeout or (120 if args.quick else 600)
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    status = available_engines()

    report = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "settings": {"quick": args.quick, "repeats": repeats, "reml": not args.ml,
                     "statsmodels_timeout_s": sm_timeout},
        "cases": [],
    }
    for name in args.only or list(CASES):
        case, load = CASES[name]
        print(f"[{name}] {case.formula}  ({case.description})", file=sys.stderr, flush=True)
        entry = {"name": name, "formula": case.formula, "description": case.description,
                 "engines": {}}
        try:
            frame = load(args.shared, args.quick)
        except FileNotFoundError as exc:
            entry["skipped"] = f"data not found: {exc.filename}"
            report["cases"].append(entry)
            print(f"  skipped: {entry['skipped']}", file=sys.stderr)
            continue
        entry["nobs"] = len(frame)
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            folder = Path(tmp)
            csv, levels = write_case_data(frame, folder)
            spec = {"csv": str(csv), "levels_dir": str(levels), "formula": case.formula,
                    "reml": not args.ml, "repeats": repeats}
            for engine in ENGINES:
                if engine not in wanted:
                    continue
                if status[engine]:
                    entry["engines"][engine] = {"skipped": status[engine]}
                    continue
                if engine == "statsmodels" and case.sm is None:
                    entry["engines"][engine] = {"skipped": case.sm_skip}
                    continue
                timeout = sm_timeout if engine == "statsmodels" else args.timeout
                print(f"  {engine} ...", file=sys.stderr, flush=True)
                entry["engines"][engine] = run_engine(engine, case, spec, folder, timeout)
        compare(entry["engines"])
        report["cases"].append(entry)

    print()
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
