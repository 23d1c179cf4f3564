"""Time `multilevel`'s glmer against R's lme4 ``glmer`` on a binomial GLMM, same data, same run.

    .venv/bin/python benchmarks/glmer_bench.py                 # 100,000 rows, 1,000 groups
    .venv/bin/python benchmarks/glmer_bench.py --rows 20000 --groups 200 --repeats 3
    .venv/bin/python benchmarks/glmer_bench.py --fast          # also multilevel's fast=True

The model is ``y ~ x1 + x2 + (1 | g)`` with ``family = binomial`` (logit), Laplace
approximation, lme4's defaults (two stages: bobyqa, then Nelder-Mead over theta and beta).
The data are generated with a fixed seed (``--seed``): ``x1, x2 ~ N(0, 1)``, group intercepts
``~ N(0, 0.8^2)``, ``logit p = -0.5 + 0.8 x1 - 0.4 x2 + b_g``, written once to a temporary CSV
that both engines read. Each engine fits in its own child process; only the fits are timed
(``time.perf_counter`` / ``system.time(...)["elapsed"]``), ``--repeats`` times, and the table
shows the median. ``x lme4`` is lme4's median over multilevel's: above 1, multilevel is faster.
``|dlogLik|`` and ``max|dfixef|`` compare the answers (multilevel converges to the Laplace
optimum; lme4's default stopping leaves it short by up to ~1e-4 in logLik).

lme4 runs when ``Rscript`` and the lme4 package are installed, otherwise it is reported as
skipped. BLAS threads are left at each library's default; quote the machine (cores, BLAS,
load) with the numbers. Never collected by pytest (``testpaths = ["tests"]``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FORMULA = "y ~ x1 + x2 + (1 | g)"

R_WORKER = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d$g <- factor(d$g)
reps <- as.integer(args[2]); times <- numeric(reps); msgs <- character(0)
for (i in seq_len(reps)) {
  times[i] <- system.time(fit <- withCallingHandlers(
    glmer(y ~ x1 + x2 + (1 | g), data = d, family = binomial),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") }
  ))[["elapsed"]]
}
num <- function(x) paste(sprintf("%.17g", x), collapse = ", ")
cat(sprintf(paste0('{"times": [%s], "loglik": %s, "fixef": [%s], "theta": [%s], ',
                   '"warnings": %d, "version": "%s"}\n'),
            num(times), num(as.numeric(logLik(fit))), num(fixef(fit)), num(getME(fit, "theta")),
            length(msgs), as.character(packageVersion("lme4"))),
    file = args[3])
"""


def make_data(rows: int, groups: int, seed: int, path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    b = rng.normal(scale=0.8, size=groups)
    eta = -0.5 + 0.8 * x1 - 0.4 * x2 + b[g]
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": g}).to_csv(path, index=False)


def python_worker(csv: str, repeats: int, fast: bool, out: str) -> None:
    """Child process: read the CSV, fit ``repeats`` times, write times and estimates."""
    import time
    import warnings

    import pandas as pd

    sys.path.insert(0, str(REPO / "src"))
    import multilevel as ml

    d = pd.read_csv(csv)
    d["g"] = pd.Categorical(d["g"])
    times, nwarn = [], 0
    for _ in range(repeats):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            m = ml.glmer(FORMULA, d, family="binomial", fast=fast)
            times.append(time.perf_counter() - t0)
        nwarn += len(w)
    Path(out).write_text(json.dumps({
        "times": times, "loglik": m.loglik, "fixef": m.fixef.tolist(),
        "theta": m.theta.tolist(), "warnings": nwarn, "version": ml.__version__}))


def _run(cmd: list[str], timeout: float) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if r.returncode != 0:
        text = (r.stderr or r.stdout).strip()
        return text.splitlines()[-1] if text else "failed"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fast", action="store_true", help="also time multilevel's fast=True")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--worker", nargs=4, metavar=("CSV", "REPEATS", "FAST", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        csv, reps, fast, out = args.worker
        python_worker(csv, int(reps), fast == "1", out)
        return 0

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "data.csv"
        make_data(args.rows, args.groups, args.seed, csv)
        engines = [("multilevel", False)] + ([("multilevel fast", True)] if args.fast else [])
        for name, fast in engines:
            out = tmp / f"{name.replace(' ', '_')}.json"
            err = _run([sys.executable, __file__, "--worker", str(csv), str(args.repeats),
                        "1" if fast else "0", str(out)], args.timeout)
            results[name] = json.loads(out.read_text()) if err is None else {"error": err}
        rscript = shutil.which("Rscript")
        if rscript is None:
            results["lme4"] = {"error": "skipped: Rscript not found"}
        else:
            script = tmp / "worker.R"
            script.write_text(R_WORKER)
            out = tmp / "lme4.json"
            err = _run([rscript, str(script), str(csv), str(args.repeats), str(out)],
                       args.timeout)
            results["lme4"] = json.loads(out.read_text()) if err is None else {"error": err}

    ref = results.get("lme4", {})
    print(f"glmer {FORMULA}, binomial: {args.rows:,} rows, {args.groups:,} groups, "
          f"median of {args.repeats} fits")
    print(f"{'engine':16} {'median s':>9} {'x lme4':>7} {'|dlogLik|':>10} "
          f"{'max|dfixef|':>12}  note")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:16} {'-':>9} {'-':>7} {'-':>10} {'-':>12}  {r['error']}")
            continue
        med = statistics.median(r["times"])
        r["median"] = med
        ratio = dll = dfe = "-"
        if "times" in ref and name != "lme4":
            ratio = f"{statistics.median(ref['times']) / med:7.1f}"
            dll = f"{abs(r['loglik'] - ref['loglik']):10.2e}"
            dfe = f"{max(abs(a - b) for a, b in zip(r['fixef'], ref['fixef'])):12.2e}"
        note = f"{r['warnings']} warnings" if r.get("warnings") else ""
        print(f"{name:16} {med:9.3f} {ratio:>7} {dll:>10} {dfe:>12}  {note}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": args.rows, "groups": args.groups,
                                         "seed": args.seed, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
