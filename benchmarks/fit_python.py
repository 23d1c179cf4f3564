"""Benchmark worker: fit one workload with one Python engine in this process.

Run by ``run.py`` in a child process (one per engine and workload), so that the peak memory
is the fitting process's own, and so that a fit that runs past its time limit can be killed:

    python fit_python.py ENGINE SPEC_JSON OUT_JSON

ENGINE is ``multilevel``, ``statsmodels``, ``mixedlm`` or ``lme-python``; the peers run under
their own interpreter (``benchmarks/.venv-peers``), so nothing here imports an engine at the
top. SPEC_JSON holds ``csv``, ``levels_dir``, ``formula``, ``reml``, ``repeats``,
``repeat_cap_s``, ``warmup``, ``fixed_factors`` and, for statsmodels, ``sm`` (``fixed``,
``groups``, ``re_formula``).

Protocol with ``run.py``: ``OUT_JSON + ".loaded"`` is created once the data are in memory,
and OUT_JSON is rewritten after every fit with everything so far (``times``, ``first_s``,
``peak_mb``, ``loglik``, ``fixef_names``, ``fixef``, ``warnings``, ``version``), so the
fits that finished survive a kill. Only the fits are timed; reading the data is not.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path


SAVE_AFTER_S = 1.0  # a fit slower than this saves the record at once (see main)


def read_levels(levels_dir: str) -> dict[str, list[str]]:
    return {p.stem: p.read_text().splitlines() for p in sorted(Path(levels_dir).glob("*.txt"))}


def read_pandas(spec: dict):
    """The workload's CSV with its factor columns as Categoricals (levels from ``<col>.txt``)."""
    import pandas as pd

    levels = read_levels(spec["levels_dir"])
    frame = pd.read_csv(spec["csv"], dtype={col: str for col in levels})
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
    """Peak resident memory (VmHWM) in MiB, or ru_maxrss off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- engines: each is (load(spec) -> data, fit(spec, data) -> (loglik, names, fixef), version)

def _multilevel_fit(spec: dict, data):
    import multilevel as ml

    if spec.get("family"):
        model = ml.glmer(spec["formula"], data, family=spec["family"])
    else:
        model = ml.lmer(spec["formula"], data, reml=spec["reml"])
    return float(model.loglik), [str(n) for n in model.fixef.index], [float(v) for v in model.fixef]


def _statsmodels_fit(spec: dict, data):
    import statsmodels.formula.api as smf

    sm = spec["sm"]
    model = smf.mixedlm(sm["fixed"], data, groups=data[sm["groups"]], re_formula=sm["re_formula"])
    result = model.fit(reml=spec["reml"])
    params = result.fe_params
    return float(result.llf), [str(n) for n in params.index], [float(v) for v in params]


def _mixedlm_fit(spec: dict, data):
    import mixedlm

    if spec.get("family"):
        family = {"binomial": mixedlm.families.Binomial, "poisson": mixedlm.families.Poisson}
        result = mixedlm.glmer(spec["formula"], data, family=family[spec["family"]]())
    else:
        result = mixedlm.lmer(spec["formula"], data, REML=spec["reml"])
    fe = result.fixef()
    if not result.converged:
        warnings.warn("mixedlm: optimizer did not report convergence")
    return float(result.logLik().value), [str(n) for n in fe], [float(v) for v in fe.values()]


def _lme_python_load(spec: dict):
    """A polars frame: grouping columns as strings, fixed-effect factors as categoricals.

    lme-python takes factor levels (``FactorSpec``) only for fixed-effect columns; grouping
    columns are read as text, which it codes itself.
    """
    import polars as pl

    levels = read_levels(spec["levels_dir"])
    frame = pl.read_csv(spec["csv"], schema_overrides={col: pl.String for col in levels})
    return frame


def _lme_python_fit(spec: dict, data):
    import lme_python

    if spec.get("family"):  # glmer takes no factor levels: text columns, coded in sorted order
        fit = lme_python.glmer(spec["formula"], data, spec["family"])
    else:
        levels = read_levels(spec["levels_dir"])
        factors = {col: lme_python.FactorSpec(levels[col]) for col in spec["fixed_factors"]}
        fit = lme_python.lmer(spec["formula"], data, reml=spec["reml"], factors=factors or None)
    if not fit.converged:
        warnings.warn(f"lme-python: not converged ({(fit.diagnostics or {}).get('termination')})")
    return float(fit.log_likelihood), list(fit.fixed_names or []), [float(v) for v in fit.coefficients]


def _version(module: str) -> str:
    from importlib.metadata import version

    try:
        return f"{module} {version(module)}"
    except Exception:  # noqa: BLE001 - a version is decoration
        return module


ENGINES = {
    "multilevel": (read_pandas, _multilevel_fit, "multilevel"),
    "statsmodels": (read_pandas, _statsmodels_fit, "statsmodels"),
    "mixedlm": (read_pandas, _mixedlm_fit, "mixedlm"),
    "lme-python": (_lme_python_load, _lme_python_fit, "lme-python"),
}


def main(engine: str, spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    load, fit, dist = ENGINES[engine]
    out = Path(out_path)
    data = load(spec)
    clean_peak = reset_peak()
    Path(out_path + ".loaded").write_text(str(time.time()))

    record = {"times": [], "first_s": None, "peak_includes_loading": not clean_peak,
              "version": _version(dist), "pid": os.getpid()}
    runs = spec["repeats"] + (1 if spec["warmup"] else 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(runs):
            start = time.perf_counter()
            loglik, names, fixef = fit(spec, data)
            elapsed = time.perf_counter() - start
            if i == 0:
                record["first_s"] = elapsed
            if not (spec["warmup"] and i == 0):
                record["times"].append(elapsed)
            if engine == "multilevel":
                record["module_file"] = sys.modules["multilevel"].__file__
            last = i == runs - 1 or elapsed > spec["repeat_cap_s"]  # slow fits are timed once
            # the record is saved after the last fit and after any slow one (a later fit may
            # time out); between fast fits a file write and a /proc read would only stir the
            # caches the next timed fit starts from (fit_lme4.R does the same)
            if last or elapsed > SAVE_AFTER_S:
                record.update(peak_mb=peak_mb(), loglik=loglik, fixef_names=names, fixef=fixef,
                              warnings=sorted({str(w.message).splitlines()[0][:200]
                                               for w in caught}))
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps(record))
                tmp.replace(out)
            if last:
                break


if __name__ == "__main__":
    main(*sys.argv[1:4])
