"""Time `multilevel`'s lmer against lme4 (R) and the Python peers on the same data.

    python benchmarks/run.py                  # all workloads, 3 fits per engine (median)
    python benchmarks/run.py --quick          # synthetic workloads ~10x smaller, 1 fit each
    python benchmarks/run.py --only insteval --only nested --engines multilevel,lme4

Each workload's data is generated (fixed seed) or loaded once and written to a temporary CSV
(plus its factor levels); every engine then fits it in a child process of its own
(``fit_python.py``, ``fit_lme4.R``) that times only the fit and is killed after ``--timeout``
seconds per fit. Engines: multilevel, lme4 (``Rscript`` with lme4), mixedlm and lme-python
(from ``benchmarks/.venv-peers``) and statsmodels; any of them but multilevel may be missing.
Prints one table and writes everything as JSON. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENGINES = ("multilevel", "lme4", "mixedlm", "lme-python", "statsmodels")
PEERS_PYTHON = HERE / ".venv-peers" / "bin" / "python"
MODULE = {"multilevel": "multilevel", "mixedlm": "mixedlm", "lme-python": "lme_python",
          "statsmodels": "statsmodels.formula.api"}
SAME_OPTIMUM = 1e-4          # |dlogLik| at or under this: the same optimum
MULTILEVEL_SRC = REPO / "src"    # put first on multilevel's path (--multilevel-rev: a snapshot)


# --------------------------------------------------------------------------- workloads

def factor(values, labels=None):
    """A pandas Categorical whose levels are the sorted values (numerically when numeric)."""
    import numpy as np
    import pandas as pd

    uniq = np.unique(np.asarray(values))
    cats = [str(v) for v in uniq] if labels is None else labels
    codes = np.searchsorted(uniq, values)
    return pd.Categorical.from_codes(codes, categories=cats)


def _cover(rng, levels: int, n: int):
    """n codes in 0..levels-1, every level used at least once, in random order."""
    import numpy as np

    codes = np.concatenate([np.arange(levels), rng.integers(0, levels, n - levels)])
    rng.shuffle(codes)
    return codes


def _labels(prefix: str, k: int) -> list[str]:
    width = len(str(k))
    return [f"{prefix}{i:0{width}d}" for i in range(k)]


def nested(n_groups: int, per_group: int, seed: int = 20240521):
    """y = 2 + 0.5 x + u0[g] + u1[g] x + e; sd(u0) 1, sd(u1) 0.5, cor 0.3, sd(e) 1."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.3 * 1.0 * 0.5], [0.3 * 1.0 * 0.5, 0.25]])
    u = rng.multivariate_normal([0.0, 0.0], cov, size=n_groups)
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.standard_normal(g.size)
    y = 2.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.standard_normal(g.size)
    return pd.DataFrame({"y": y, "x": x,
                         "g": pd.Categorical.from_codes(g, categories=_labels("g", n_groups))})


def crossed(n: int, n_u: int, n_i: int, seed: int = 20240522):
    """Users x items: y = 3 + 0.4 x + a[u] + b[i] + e; sd(a) 0.6, sd(b) 0.4, sd(e) 1.

    Each row's user and item are drawn uniformly (every level used at least once), so the
    two factors are fully crossed, about n/n_u rows per user and n/n_i per item.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    u = _cover(rng, n_u, n)
    i = _cover(rng, n_i, n)
    x = rng.standard_normal(n)
    a = rng.normal(0.0, 0.6, n_u)
    b = rng.normal(0.0, 0.4, n_i)
    y = 3.0 + 0.4 * x + a[u] + b[i] + rng.standard_normal(n)
    return pd.DataFrame({"y": y, "x": x,
                         "u": pd.Categorical.from_codes(u, categories=_labels("u", n_u)),
                         "i": pd.Categorical.from_codes(i, categories=_labels("i", n_i))})


def three_level(n: int, n_regions: int, schools_per_region: int, seed: int = 20240523):
    """Pupils in schools in regions, school labels reused across regions (hence region:school).

    y = 1 + 0.5 x + r[region] + s0[school] + s1[school] x + e; sd(r) 0.5, sd(s0) 0.8,
    sd(s1) 0.3, cor(s0, s1) -0.2, sd(e) 1; pupils are spread unevenly over the schools.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_schools = n_regions * schools_per_region
    school = _cover(rng, n_schools, n)
    region = school // schools_per_region
    x = rng.standard_normal(n)
    r = rng.normal(0.0, 0.5, n_regions)
    cov = np.array([[0.64, -0.2 * 0.8 * 0.3], [-0.2 * 0.8 * 0.3, 0.09]])
    s = rng.multivariate_normal([0.0, 0.0], cov, size=n_schools)
    y = 1.0 + 0.5 * x + r[region] + s[school, 0] + s[school, 1] * x + rng.standard_normal(n)
    return pd.DataFrame({
        "y": y, "x": x,
        "region": pd.Categorical.from_codes(region, categories=_labels("r", n_regions)),
        "school": pd.Categorical.from_codes(school % schools_per_region,
                                            categories=_labels("s", schools_per_region)),
    })


def _csv(name: str, columns: list[str], factors: list[str]):
    def load(shared: Path, quick: bool):
        import pandas as pd

        frame = pd.read_csv(shared / "data" / f"{name}.csv")[columns]
        for col in factors:
            frame[col] = factor(frame[col].to_numpy())
        return frame
    return load


@dataclass(frozen=True)
class Workload:
    """One benchmark: a model, how to get its data, and how statsmodels writes it."""

    name: str
    formula: str
    description: str
    load: Callable
    reml: bool = True
    sm: dict | None = None           # statsmodels MixedLM arguments; None: not expressible
    sm_skip: str = ""                # why statsmodels is not run
    tiny: bool = False               # a warm-up fit first, and more repeats
    quick_description: str = ""
    notes: dict = field(default_factory=dict)
    family: str | None = None        # a GLMM (glmer) with this family; None: lmer
    warmup: bool = False             # an untimed warm-up fit first (tiny workloads always)
    fast: bool = False               # well under a second in every engine: timed as many
                                     # times as tiny ones (a median of 3 fits of 3-300 ms,
                                     # lme4's timed to the millisecond, moves from run to run)


SM_CROSSED = "crossed/nested terms: MixedLM has one grouping factor (dense variance components)"
SM_THREE = ("MixedLM cannot correlate a school intercept and slope inside region groups "
            "(variance components are independent)")

WORKLOADS = {w.name: w for w in [
    Workload("imm10", "math ~ homework + (homework | schnum)",
             "imm10, 260 pupils in 10 schools (ML)",
             _csv("imm10", ["math", "homework", "schnum"], ["schnum"]), reml=False,
             sm={"fixed": "math ~ homework", "groups": "schnum", "re_formula": "~homework"},
             tiny=True),
    Workload("sleepstudy", "Reaction ~ Days + (Days | Subject)",
             "sleepstudy, 180 rows, 18 subjects",
             _csv("sleepstudy", ["Reaction", "Days", "Subject"], ["Subject"]),
             sm={"fixed": "Reaction ~ Days", "groups": "Subject", "re_formula": "~Days"},
             tiny=True),
    Workload("insteval", "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)",
             "InstEval, 73,421 rows; s 2,972, d 1,128, dept:service 28 levels",
             _csv("InstEval", ["y", "service", "s", "d", "dept"], ["service", "s", "d", "dept"]),
             sm_skip=SM_CROSSED),
    Workload("insteval_slopes",
             "y ~ 1 + service + (1 | d) + (1 | s) + (1 | dept) + (0 + service | dept)",
             "InstEval, 73,421 rows; d, s, dept (14) + service slopes by dept",
             _csv("InstEval", ["y", "service", "s", "d", "dept"], ["service", "s", "d", "dept"]),
             sm_skip=SM_CROSSED),
    Workload("nested", "y ~ 1 + x + (1 + x | g)",
             "synthetic, 1,000,000 rows, 20,000 groups of 50",
             lambda shared, quick: nested(2_000, 50) if quick else nested(20_000, 50),
             sm={"fixed": "y ~ x", "groups": "g", "re_formula": "~x"},
             quick_description="synthetic, 100,000 rows, 2,000 groups of 50"),
    Workload("crossed", "y ~ 1 + x + (1 | u) + (1 | i)",
             "synthetic, 2,000,000 rows, 50,000 users x 10,000 items",
             lambda shared, quick: (crossed(200_000, 5_000, 1_000) if quick
                                    else crossed(2_000_000, 50_000, 10_000)),
             sm_skip=SM_CROSSED,
             quick_description="synthetic, 200,000 rows, 5,000 users x 1,000 items"),
    Workload("three_level", "y ~ 1 + x + (1 | region) + (1 + x | region:school)",
             "synthetic, 500,000 rows, 50 regions, 5,000 schools",
             lambda shared, quick: (three_level(50_000, 50, 10) if quick
                                    else three_level(500_000, 50, 100)),
             sm_skip=SM_THREE,
             quick_description="synthetic, 50,000 rows, 50 regions, 500 schools"),
]}


SHOWCASE = list(WORKLOADS)


def _corpus() -> list[str]:
    """Add the corpus workloads (benchmarks/corpus.py) to WORKLOADS; their names in order."""
    sys.path.insert(0, str(HERE))
    import corpus

    names = []
    for w in corpus.workloads(Workload, _csv):
        WORKLOADS.setdefault(w.name, w)   # imm10 and sleepstudy: the same models
        names.append(w.name)
    return names


GROUPS = {"showcase": SHOWCASE, "corpus": _corpus()}


def fixed_factors(formula: str, frame) -> list[str]:
    """Factor columns of the fixed part (lme-python takes levels only for those)."""
    import pandas as pd

    rhs = formula.split("~", 1)[1]
    while True:                      # drop (... | ...) terms, innermost first
        stripped = re.sub(r"\([^()]*\|[^()]*\)", "", rhs)
        if stripped == rhs:
            break
        rhs = stripped
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", rhs))
    return [c for c in frame.columns
            if c in names and isinstance(frame[c].dtype, pd.CategoricalDtype)]


def write_data(frame, folder: Path) -> tuple[Path, Path]:
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


# --------------------------------------------------------------------------- engines

def _python_with(module: str) -> str | None:
    """This interpreter if it imports ``module``, else the peers' venv if that does."""
    for py in (sys.executable, str(PEERS_PYTHON)):
        if Path(py).exists() and subprocess.run(
                [py, "-c", f"import {module}"], capture_output=True, env=_env(py),
                check=False).returncode == 0:
            return py
    return None


def _env(python: str | None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if python == sys.executable:             # this checkout's (or a snapshot's) multilevel first
        env["PYTHONPATH"] = str(MULTILEVEL_SRC)
    return env


def available_engines() -> dict[str, dict]:
    """Engine -> {"cmd": interpreter} when it can run, else {"skipped": why}."""
    status: dict[str, dict] = {"multilevel": {"cmd": sys.executable}}
    rscript = shutil.which("Rscript")
    if rscript is None:
        status["lme4"] = {"skipped": "Rscript not installed"}
    elif subprocess.run([rscript, "-e", "quit(status = !requireNamespace('lme4', quietly = TRUE))"],
                        capture_output=True, check=False).returncode != 0:
        status["lme4"] = {"skipped": "R package lme4 not installed"}
    else:
        status["lme4"] = {"cmd": rscript}
    for engine in ("mixedlm", "lme-python", "statsmodels"):
        py = _python_with(MODULE[engine].split(".")[0])
        status[engine] = {"cmd": py} if py else {
            "skipped": f"not installed (see README: {PEERS_PYTHON.parent.parent.name})"}
    return status


def import_time(engine: str, cmd: str, repeats: int = 5) -> dict:
    """Wall time of a fresh process that only imports the engine (median of ``repeats``)."""
    if engine == "lme4":
        argv = [cmd, "-e", "suppressMessages(library(lme4))"]
        bare = [cmd, "-e", "invisible(0)"]
    else:
        argv = [cmd, "-c", f"import {MODULE[engine]}"]
        bare = [cmd, "-c", "pass"]

    def wall(args):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(args, capture_output=True, env=_env(cmd), check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return {"command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv)),
            "import_s": wall(argv), "bare_interpreter_s": wall(bare)}


def _vm_hwm(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_engine(engine: str, cmd: str, workload: Workload, spec: dict, folder: Path,
               timeout: float, load_timeout: float) -> dict:
    """Fit in a child process, each fit capped at ``timeout`` s; the worker's JSON or an error.

    The worker announces the data loaded (``OUT.loaded``) and rewrites OUT after each fit, so
    a fit that runs past ``timeout`` is killed and the fits before it are kept.
    """
    out = folder / f"{engine}.json"
    loaded = Path(str(out) + ".loaded")
    if engine == "lme4":
        argv = [cmd, str(HERE / "fit_lme4.R"), spec["csv"], spec["levels_dir"], spec["formula"],
                "TRUE" if spec["reml"] else "FALSE", str(spec["repeats"]),
                str(spec["repeat_cap_s"]), "TRUE" if spec["warmup"] else "FALSE", str(out),
                spec.get("family") or "gaussian"]
    else:
        spec_path = folder / f"{engine}-spec.json"
        spec_path.write_text(json.dumps({**spec, "sm": workload.sm}))
        argv = [cmd, str(HERE / "fit_python.py"), engine, str(spec_path), str(out)]
    log = folder / f"{engine}.log"
    load_avg = os.getloadavg()
    with open(log, "w") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=_env(cmd),
                                start_new_session=True)
    start = time.monotonic()
    deadline = start + load_timeout
    stage, fits, peak_seen, reason = "loading", 0, None, None
    while proc.poll() is None:
        time.sleep(0.02 if time.monotonic() - start < 2 else 0.25)
        now = time.monotonic()
        if stage == "loading" and loaded.exists():
            stage, deadline = "fitting", now + timeout
        if stage == "fitting":
            done = len((_read_json(out) or {}).get("times", []))
            if done != fits:                 # a fit finished: the next one gets a fresh cap
                fits, deadline = done, now + timeout
        peak_seen = _vm_hwm(proc.pid) or peak_seen
        if now > deadline:
            reason = (f"did not finish in {timeout:.0f} s" if stage == "fitting"
                      else f"data not loaded in {load_timeout:.0f} s")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
    result = _read_json(out) or {}
    result["load_avg_at_start"] = [round(v, 2) for v in load_avg]
    if not result.get("times") and result.get("first_s") is not None:
        result["times"] = [result["first_s"]]
    if reason and not result.get("times"):
        return {**result, "error": reason, "timeout_s": timeout,
                "peak_mb_at_kill": peak_seen}
    if reason:
        result["note"] = f"a later repeat {reason}"
    if not result.get("times"):
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        return {**result, "error": f"exit {proc.returncode}: "
                f"{(tail or ['no output'])[0][:200]}"}
    result["median_s"] = statistics.median(result["times"])
    return result


# --------------------------------------------------------------------------- comparison

def compare(results: dict[str, dict]) -> str | None:
    """Ratios and differences, in place; returns the reference engine's name.

    The reference is lme4 when it finished, else the finished engine with the highest logLik.
    """
    ok = {e: r for e, r in results.items() if "median_s" in r}
    if not ok:
        return None
    ref_name = "lme4" if "lme4" in ok else max(ok, key=lambda e: ok[e]["loglik"])
    ref = ok[ref_name]
    best = max(r["loglik"] for r in ok.values())
    lme4_cap = (results.get("lme4") or {}).get("timeout_s")   # lme4 did not finish in this
    for engine, r in ok.items():
        others = {e: o["median_s"] for e, o in ok.items() if e != engine}
        r["ratio_lme4"] = r["median_s"] / ok["lme4"]["median_s"] if "lme4" in ok else None
        if r["ratio_lme4"] is None and lme4_cap:
            r["ratio_lme4_below"] = r["median_s"] / lme4_cap
        if others:
            fastest = min(others, key=others.get)
            r["fastest_peer"] = fastest
            r["ratio_fastest_peer"] = r["median_s"] / others[fastest]
        same = {e: t for e, t in others.items() if ok[e]["loglik"] >= best - SAME_OPTIMUM}
        if same:
            r["ratio_fastest_peer_at_optimum"] = r["median_s"] / min(same.values())
        r["loglik_below_best"] = best - r["loglik"]
        if engine != ref_name:
            r["diff_loglik"] = r["loglik"] - ref["loglik"]
            r["abs_diff_loglik"] = abs(r["diff_loglik"])
            # the same formula gives the same column order: compare by position
            if len(r["fixef"]) == len(ref["fixef"]):
                r["max_abs_diff_fixef"] = max(abs(a - b) for a, b in zip(r["fixef"], ref["fixef"]))
    return ref_name


# --------------------------------------------------------------------------- table

def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if digits == 0:
        return f"{value:.0f}"
    if abs(value) >= 10 ** digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def _sci(value) -> str:
    return "-" if value is None else f"{value:.1e}"


COLUMNS = ("workload", "engine", "fit s", "runs", "peak MB", "x lme4", "x fastest peer",
           "|dlogLik|", "max|dfixef|", "note")


def table_rows(report: dict) -> list[tuple]:
    rows = []
    for case in report["workloads"]:
        if case.get("skipped"):
            rows.append((case["name"], "-", "", "", "", "", "", "", "", case["skipped"]))
            continue
        for engine, r in case["engines"].items():
            if "median_s" not in r:
                why = r.get("error") or r.get("skipped") or ""
                if r.get("peak_mb_at_kill"):
                    why += f" (peak >= {r['peak_mb_at_kill']:.0f} MB)"
                rows.append((case["name"], engine, "", "", "", "", "", "", "", why))
                continue
            notes = []
            if engine == case.get("reference"):
                notes.append("reference")
            if r.get("import"):
                notes.append(f"import {r['import']['import_s']:.2f} s "
                             f"(bare {r['import']['bare_interpreter_s']:.2f})")
            if case.get("warmup") and r.get("first_s") is not None:
                notes.append(f"first fit {_num(r['first_s'], 2)} s")
            below = r.get("loglik_below_best", 0.0)
            if below > SAME_OPTIMUM:
                notes.append(f"lower optimum (-{below:.2g})")
            if r.get("note"):
                notes.append(r["note"])
            notes.extend(w[:70] for w in r.get("warnings", [])[:2])
            peer = r.get("fastest_peer")
            ratio = r.get("ratio_fastest_peer")
            rows.append((
                case["name"], engine, _num(r["median_s"]), str(len(r["times"])),
                _num(r.get("peak_mb"), 0),
                ("<" + _num(r["ratio_lme4_below"])) if r.get("ratio_lme4_below") is not None
                else _num(r.get("ratio_lme4")),
                f"{_num(ratio)} ({peer})" if ratio is not None else "-",
                _sci(r.get("abs_diff_loglik")), _sci(r.get("max_abs_diff_fixef")),
                "; ".join(notes)))
    return rows


def format_text(rows: list[tuple]) -> str:
    widths = [max(len(COLUMNS[i]), *(len(str(r[i])) for r in rows)) for i in range(len(COLUMNS) - 1)]
    right = {2, 3, 4, 5, 7, 8}
    def line(cells):
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w)
                 for i, (c, w) in enumerate(zip(cells[:-1], widths))]
        return "  ".join(parts) + "  " + str(cells[-1])
    out = [line(COLUMNS), "-" * (sum(widths) + 2 * len(widths) + 4)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def format_markdown(rows: list[tuple]) -> str:
    out = ["| " + " | ".join(c.replace("|", "\\|") for c in COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def speedup_summary(report: dict) -> tuple[tuple, list[tuple]] | None:
    """One row per workload: rows, multilevel's time, lme4 / multilevel and
    lme-python / multilevel (above 1: multilevel is faster), |dlogLik| against lme4; then
    the cold-start times when measured."""
    cols = ("workload", "rows", "multilevel s", "lme4 s", "lme4 / multilevel",
            "lme-python s", "lme-python / multilevel", "|dlogLik| vs lme4")
    rows = []
    for case in report["workloads"]:
        eng = case.get("engines", {})
        ml_ = eng.get("multilevel", {})
        if "median_s" not in ml_:
            continue
        t = ml_["median_s"]
        lme4 = eng.get("lme4", {}).get("median_s")
        lp = eng.get("lme-python", {}).get("median_s")
        rows.append((case["name"], str(case.get("nobs", "")), _num(t), _num(lme4),
                     _num(lme4 / t) if lme4 else "-", _num(lp), _num(lp / t) if lp else "-",
                     _sci(ml_.get("abs_diff_loglik"))))
    if not rows:
        return None
    cold = report.get("cold_start")
    if cold:
        for key, label in (("lmer_over_pandas_s", "cold: import + lmer(imm10) - import pandas"),
                           ("cli_fit_s", "cold: multilevel fit imm10 (CLI)")):
            rows.append((label, "", _num(cold.get(key)), "", "", "", "", ""))
    return cols, rows


def format_text_generic(cols: tuple, rows: list[tuple]) -> str:
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(cols), "-" * (sum(widths) + 2 * len(widths))]
                     + [line(r) for r in rows])


def format_markdown_generic(cols: tuple, rows: list[tuple]) -> str:
    out = ["| " + " | ".join(c.replace("|", "\\|") for c in cols) + " |",
           "|" + "---|" * len(cols)]
    return "\n".join(out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |"
                            for r in rows])


def cold_start(shared: Path, repeats: int = 9) -> dict:
    """Fresh-process wall times (median of ``repeats``, the three commands interleaved so
    that load drifts hit them alike): ``import pandas``; ``import multilevel`` + read imm10 +
    ``ml.lmer`` (ML); ``multilevel fit`` on imm10 (the CLI)."""
    csv = shared / "data" / "imm10.csv"
    formula = "math ~ homework + (homework | schnum)"
    py = sys.executable
    script = (f"import pandas as pd; import multilevel as ml; d = pd.read_csv({str(csv)!r}); "
              f"ml.lmer({formula!r}, d, reml=False)")
    cli = [py, "-c", "import sys; from multilevel.cli.main import main; sys.exit(main())",
           "fit", formula, "--data", str(csv), "--ml"]

    commands = {"import_pandas_s": [py, "-c", "import pandas"],
                "import_and_lmer_s": [py, "-c", script], "cli_fit_s": cli}
    times: dict = {k: [] for k in commands}
    try:
        for _ in range(repeats):
            for key, argv in commands.items():
                start = time.perf_counter()
                subprocess.run(argv, capture_output=True, env=_env(py), check=True)
                times[key].append(time.perf_counter() - start)
    except subprocess.CalledProcessError as exc:
        return {"error": str(exc)}
    out = {k: statistics.median(v) for k, v in times.items()}
    out["lmer_over_pandas_s"] = out["import_and_lmer_s"] - out["import_pandas_s"]
    out["load_avg"] = [round(v, 2) for v in os.getloadavg()]
    return out


# --------------------------------------------------------------------------- main

def machine() -> dict:
    info = {"platform": platform.platform(), "cpus": os.cpu_count(),
            "python": platform.python_version()}
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
        cpu = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
               if ln.startswith("model name")]
        info["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else None
    except OSError:
        pass
    try:
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - decoration only
        pass
    return info


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=False)
    return proc.stdout.strip()


def multilevel_source(rev: str | None, folder: Path) -> dict:
    """Where multilevel is imported from: this checkout's src/, or ``rev`` exported to folder.

    Other work may leave src/ mid-edit; ``--multilevel-rev HEAD`` times the last commit.
    """
    global MULTILEVEL_SRC
    if rev is None:
        dirty = _git("status", "--porcelain", "--", "src")
        return {"source": str(MULTILEVEL_SRC), "commit": _git("rev-parse", "HEAD"),
                "uncommitted_changes_in_src": bool(dirty),
                "compiled_extension": any(MULTILEVEL_SRC.glob("multilevel/core/*.so"))}
    commit = _git("rev-parse", "--verify", rev + "^{commit}")
    if not commit:
        raise SystemExit(f"--multilevel-rev: no commit {rev!r}")
    paths = ["src/multilevel"] + [
        f for f in ("setup.py", "pyproject.toml", "README.md")
        if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}:{f}"],
                          capture_output=True).returncode == 0]
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, *paths],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    MULTILEVEL_SRC = folder / "src"
    compiled = False
    if (folder / "setup.py").exists():  # the compiled criteria, as `pip install` builds them
        build = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                               cwd=folder, capture_output=True, text=True, check=False)
        compiled = build.returncode == 0 and any(MULTILEVEL_SRC.glob("multilevel/core/*.so"))
    return {"source": f"git archive {commit} src/multilevel", "commit": commit,
            "uncommitted_changes_in_src": False, "compiled_extension": compiled}


def _header(report: dict) -> str:
    m, src = report["machine"], report.get("multilevel", {})
    dirty = " + uncommitted src/" if src.get("uncommitted_changes_in_src") else ""
    if "compiled_extension" in src:
        dirty += (", compiled criteria" if src["compiled_extension"]
                  else ", numpy only (no compiled criteria)")
    return (f"{m.get('cpus')} CPUs ({m.get('cpu')}), {m.get('memory_gib')} GiB, "
            f"{m.get('numpy_blas')}; load average {report['load_avg_at_start']} at start, "
            f"{report.get('load_avg_at_end')} at end; {report['date']}; multilevel "
            f"{src.get('commit', '?')[:10]}{dirty}")


def render(paths: list[Path], markdown: Path | None) -> int:
    """Print the table of earlier runs' JSON (ratios recomputed), one header per file."""
    headers, merged = [], {"workloads": []}
    for path in paths:
        report = json.loads(path.read_text())
        headers.append(_header(report))
        for case in report["workloads"]:
            case["reference"] = compare(case["engines"])
            merged["workloads"].append(case)
    rows = table_rows(merged)
    print("\n".join(headers))
    print(format_text(rows))
    if markdown:
        markdown.write_text("\n".join(f"- {h}" for h in headers) + "\n\n"
                            + format_markdown(rows) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="synthetic workloads ~10x smaller, 1 fit per engine, 120 s cap")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), metavar="NAME",
                        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}")
    parser.add_argument("--group", choices=list(GROUPS), default="showcase",
                        help="the workloads run without --only: showcase (large models, "
                             "default) or corpus (the everyday models of benchmarks/corpus.py, "
                             "with a speed-up summary and cold-start times)")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated engines to run (default: all available)")
    parser.add_argument("--repeats", type=int,
                        help="timed fits per engine and workload (default 3; --quick 1; "
                             "imm10 and sleepstudy: a warm-up fit and 20, --quick 5)")
    parser.add_argument("--repeat-cap", type=float, default=60.0,
                        help="a fit slower than this many seconds is not repeated (default 60)")
    parser.add_argument("--timeout", type=float,
                        help="seconds before one fit is stopped (default 600; --quick 120)")
    parser.add_argument("--ml", action="store_true", help="fit every workload by ML")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                        help="the shared reference folder (default ../shared)")
    parser.add_argument("--json", type=Path, default=REPO / "out" / "benchmarks.json",
                        help="where to write the results (default out/benchmarks.json)")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="run nothing: print (and --markdown) the table of earlier results, "
                             "several files merged in order")
    parser.add_argument("--multilevel-rev", metavar="REV",
                        help="time multilevel as committed at REV (e.g. HEAD), not src/ as it is")
    args = parser.parse_args(argv)
    if args.render:
        return render(args.render, args.markdown)
    snapshot = tempfile.TemporaryDirectory(prefix="bench-multilevel-")
    source = multilevel_source(args.multilevel_rev, Path(snapshot.name))
    repeats = args.repeats or (1 if args.quick else 3)
    tiny_repeats = args.repeats or (5 if args.quick else 20)
    timeout = args.timeout or (120.0 if args.quick else 600.0)
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    status = available_engines()

    report = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
        "settings": {"quick": args.quick, "repeats": repeats, "tiny_repeats": tiny_repeats,
                     "repeat_cap_s": args.repeat_cap, "timeout_s": timeout,
                     "same_optimum_tol": SAME_OPTIMUM},
        "multilevel": source,
        "engines": {e: s for e, s in status.items() if e in wanted},
        "workloads": [],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for name in args.only or GROUPS[args.group]:
        w = WORKLOADS[name]
        reml = w.reml and not args.ml
        desc = (w.quick_description or w.description) if args.quick else w.description
        print(f"[{name}] {w.formula}  ({desc}, {'REML' if reml else 'ML'})  "
              f"load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        entry = {"name": name, "formula": w.formula, "description": desc,
                 "method": (f"ML, {w.family}" if w.family else "REML" if reml else "ML"),
                 "engines": {}}
        try:
            frame = w.load(args.shared, args.quick)
        except FileNotFoundError as exc:
            entry["skipped"] = f"data not found: {exc.filename}"
            report["workloads"].append(entry)
            print(f"  skipped: {entry['skipped']}", file=sys.stderr)
            continue
        entry["nobs"] = len(frame)
        entry["warmup"] = w.tiny or w.warmup
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            folder = Path(tmp)
            csv, levels = write_data(frame, folder)
            spec = {"csv": str(csv), "levels_dir": str(levels), "formula": w.formula,
                    "reml": reml, "repeats": tiny_repeats if w.tiny or w.fast else repeats,
                    "repeat_cap_s": args.repeat_cap, "warmup": w.tiny or w.warmup,
                    "fixed_factors": fixed_factors(w.formula, frame), "family": w.family}
            del frame
            for engine in ENGINES:
                if engine not in wanted:
                    continue
                if "skipped" in status[engine]:
                    entry["engines"][engine] = {"skipped": status[engine]["skipped"]}
                    continue
                if engine == "statsmodels" and w.sm is None:
                    entry["engines"][engine] = {
                        "skipped": w.sm_skip or "not expressible in MixedLM (one grouping "
                        "factor, Gaussian)"}
                    continue
                print(f"  {engine} ... ", end="", file=sys.stderr, flush=True)
                res = run_engine(engine, status[engine]["cmd"], w, spec, folder, timeout,
                                 load_timeout=max(600.0, timeout))
                if name == "imm10" and "median_s" in res:
                    res["import"] = import_time(engine, status[engine]["cmd"])
                entry["engines"][engine] = res
                print(res.get("error") or f"{res['median_s']:.4g} s", file=sys.stderr, flush=True)
        entry["reference"] = compare(entry["engines"])
        entry["load_avg_at_end"] = [round(v, 2) for v in os.getloadavg()]
        report["workloads"].append(entry)
        args.json.write_text(json.dumps(report, indent=2))

    if args.group == "corpus" and not args.only and "multilevel" in wanted:
        report["cold_start"] = cold_start(args.shared)
    report["load_avg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    rows = table_rows(report)
    header = _header(report)
    print()
    print(header)
    print(format_text(rows))
    summary = speedup_summary(report)
    if summary:
        print()
        print(format_text_generic(*summary))
    print("reference: lme4, or where it did not finish the engine with the highest logLik; "
          "x fastest peer: time over the fastest other engine (named)")
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.json}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        extra = ("\n\n" + format_markdown_generic(*summary)) if summary else ""
        args.markdown.write_text(header + "\n\n" + format_markdown(rows) + extra + "\n")
        print(f"wrote {args.markdown}")
    snapshot.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
