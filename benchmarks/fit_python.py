"""Benchmark worker: fit one case with `multilevel` or statsmodels in this process.

Run by ``run.py`` in a child process (one per engine and case), so that peak memory is the
fitting process's own:

    python fit_python.py ENGINE CASE_JSON OUT_JSON

CASE_JSON holds ``csv``, ``levels_dir``, ``formula``, ``reml``, ``repeats`` and, for
statsmodels, ``sm`` (``fixed``, ``groups``, ``re_formula``). OUT_JSON receives ``times``
(seconds of each fit), ``peak_mb``, ``loglik``, ``fixef_names``, ``fixef``, ``warnings``.
Only the fits are timed; reading the data is not.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


def read_data(csv: str, levels_dir: str):
    """The case's CSV with its factor columns as Categoricals (levels from ``<col>.txt``)."""
    import pandas as pd

    levels = {p.stem: p.read_text().splitlines() for p in sorted(Path(levels_dir).glob("*.txt"))}
    frame = pd.read_csv(csv, dtype={col: str for col in levels})
    for col, lev in levels.items():
        frame[col] = pd.Categorical(frame[col], categories=lev)
    return frame


def reset_peak() -> bool:
    """Reset the process's peak RSS (Linux ``clear_refs``); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float | None:
    """Peak resident memory (VmHWM) in MiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_multilevel(case: dict, data):
    import multilevel as ml

    model = ml.lmer(case["formula"], data, reml=case["reml"])
    return float(model.loglik), [str(n) for n in model.fixef.index], [float(v) for v in model.fixef]


def fit_statsmodels(case: dict, data):
    import statsmodels.formula.api as smf

    sm = case["sm"]
    model = smf.mixedlm(sm["fixed"], data, groups=data[sm["groups"]], re_formula=sm["re_formula"])
    result = model.fit(reml=case["reml"])
    params = result.fe_params
    return float(result.llf), [str(n) for n in params.index], [float(v) for v in params]


def main(engine: str, case_path: str, out_path: str) -> None:
    case = json.loads(Path(case_path).read_text())
    fit = {"multilevel": fit_multilevel, "statsmodels": fit_statsmodels}[engine]
    data = read_data(case["csv"], case["levels_dir"])
    clean_peak = reset_peak()
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(case["repeats"]):
            start = time.perf_counter()
            loglik, names, fixef = fit(case, data)
            times.append(time.perf_counter() - start)
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    Path(out_path).write_text(json.dumps({
        "times": times, "peak_mb": peak_mb(), "peak_includes_loading": not clean_peak,
        "loglik": loglik, "fixef_names": names, "fixef": fixef, "warnings": messages,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
