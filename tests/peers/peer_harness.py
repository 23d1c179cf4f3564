"""Run the peer-suite cases of ``peer_cases.json`` with multilevel's public API.

Each case is a model that MixedModels.jl, lme4 or lmerTest fit in their own test
suites, written the way a new user of multilevel would write it, plus the numbers
those suites hard-code (with the peer's own tolerance). ``collect`` reruns every
case and records pass/fail; the test module checks the numbers recorded as passing.

Run ``python tests/peers/peer_harness.py`` from the repository root to refresh the
statuses in ``peer_cases.json`` and print the score.
"""

from __future__ import annotations

import json
import os
import math
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CASES = HERE / "peer_cases.json"
SHARED_DATA = HERE.parents[1].parent / "shared" / "data"


def load_data(spec: str) -> pd.DataFrame:
    """A case's data: ``ml:<name>`` (ml.datasets), ``peer:<name>`` (tests/peers/data),
    ``shared:<name>`` (../shared/data) or ``py:<expression>`` (inline data)."""
    import multilevel as ml

    kind, _, name = spec.partition(":")
    if kind == "ml":
        return ml.datasets.load(name)
    if kind == "peer":
        return pd.read_csv(HERE / "data" / f"{name}.csv")
    if kind == "shared":
        return pd.read_csv(SHARED_DATA / f"{name}.csv")
    if kind == "py":
        return eval(name, {"np": np, "pd": pd, "ml": ml, "load": load_data})
    raise ValueError(f"unknown data spec {spec!r}")


def needs_shared(case: dict) -> bool:
    """Whether the case reads ../shared/data (directly or inside a ``py:`` spec)."""
    return "shared:" in case["data"]


def fit_case(case: dict):
    """Fit the case's model(s); returns the namespace the number expressions see."""
    import multilevel as ml

    ns = {"ml": ml, "np": np, "pd": pd, "d": load_data(case["data"])}
    exec(case["code"], ns)
    return ns


def _as_array(v) -> np.ndarray:
    if isinstance(v, (pd.Series, pd.DataFrame)):
        v = v.to_numpy()
    return np.atleast_1d(np.asarray(v, dtype=float)).ravel()


def compare(got, expected, tol: dict) -> tuple[bool, float]:
    """Compare as the peer does: ``atol``/``rtol`` (Julia isapprox, elementwise
    norm form), ``all_equal`` (R all.equal: mean relative difference), or
    ``round`` (R round(x, k) == expected)."""
    g = _as_array(got)
    e = _as_array(expected)
    if g.shape != e.shape:
        return False, math.inf
    gn, en = np.isnan(g), np.isnan(e)  # R's NA (JSON null) must sit where the peer's does
    if (gn != en).any():
        return False, math.inf
    g, e = g[~en], e[~en]
    if "all_equal" in tol:
        den = np.mean(np.abs(e))
        diff = np.mean(np.abs(g - e))
        err = diff / den if den > 0 and np.isfinite(den) else diff
        return bool(err <= tol["all_equal"]), float(err)
    if "maxabs" in tol:
        err = float(np.max(np.abs(g - e)))
        return bool(err <= tol["maxabs"]), err
    if "round" in tol:
        err = float(np.max(np.abs(np.round(g, tol["round"]) - e)))
        return bool(err < 10.0 ** -(tol["round"] + 3)), err
    # Julia isapprox on arrays: norm(x - y) <= max(atol, rtol * max(norm(x), norm(y)))
    atol = tol.get("atol", 0.0)
    rtol = tol.get("rtol", math.sqrt(np.finfo(float).eps) if atol == 0 else 0.0)
    diff = float(np.linalg.norm(g - e))
    bound = max(atol, rtol * max(np.linalg.norm(g), np.linalg.norm(e)))
    return bool(diff <= bound), diff


def run_case(case: dict) -> dict:
    """Fit one case and evaluate its numbers; returns per-number results."""
    out = {"fitted": False, "error": None, "numbers": []}
    try:
        ns = fit_case(case)
        out["fitted"] = True
    except Exception as exc:  # noqa: BLE001 - recorded, not hidden
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        ns = None
    for num in case["numbers"]:
        rec = {"name": num["name"], "passed": False, "got": None, "err": None}
        if ns is not None:
            try:
                got = eval(num["expr"], ns)
                ok, err = compare(got, num["expected"], num["tol"])
                rec.update(passed=ok, got=_as_array(got).tolist(), err=err)
            except Exception as exc:  # noqa: BLE001
                rec["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        out["numbers"].append(rec)
    return out


def _recorded(case: dict) -> dict:
    """The statuses already recorded for a case (used to skip refitting slow ones)."""
    return {"fitted": bool(case.get("fits")), "error": case.get("fit_error"),
            "numbers": [{"passed": num.get("status") == "pass", "got": num.get("got"),
                         "error": num.get("why")} for num in case["numbers"]]}


def collect(write: bool = True, skip_slow: bool = False) -> tuple[int, int, int, int]:
    """Rerun every case, record statuses in peer_cases.json, return the score."""
    spec = json.loads(CASES.read_text())
    npass = ntot = mfit = mtot = 0
    for case in spec["cases"]:
        t0 = time.time()
        if skip_slow and case.get("slow"):
            print(f"{case['id']:40s} (slow, kept as recorded)")
        res = _recorded(case) if skip_slow and case.get("slow") else run_case(case)
        case["fits"] = res["fitted"]
        case["fit_error"] = res["error"]
        mtot += case.get("counts_as_model", True)
        mfit += res["fitted"] and case.get("counts_as_model", True)
        for num, rec in zip(case["numbers"], res["numbers"]):
            num["status"] = "pass" if rec["passed"] else "fail"
            num["got"] = rec["got"]
            if not rec["passed"]:
                num["why"] = (num.get("why") or rec.get("error") or res["error"]
                              or case.get("note") or "differs beyond the peer's tolerance")
            else:
                num.pop("why", None)
            ntot += 1
            npass += rec["passed"]
        bad = [n["name"] for n in case["numbers"] if n["status"] == "fail"]
        print(f"{case['id']:40s} fit={res['fitted']!s:5s} "
              f"{len(case['numbers']) - len(bad)}/{len(case['numbers'])} "
              f"{time.time() - t0:5.1f}s {res['error'] or ''} {bad if bad else ''}")
    spec["score"] = {"numbers_passed": npass, "numbers": ntot,
                     "models_fitted": mfit, "models": mtot}
    if write:
        CASES.write_text(json.dumps(spec, indent=1) + "\n")
    print(f"numbers {npass}/{ntot}, models fitted {mfit}/{mtot}")
    return npass, ntot, mfit, mtot


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1:
        spec = json.loads(CASES.read_text())
        for case in spec["cases"]:
            if case["id"] in sys.argv[1:]:
                res = run_case(case)
                print(case["id"], res["error"])
                for num, rec in zip(case["numbers"], res["numbers"]):
                    print("  ", num["name"], rec["passed"], rec.get("got"),
                          num["expected"], rec.get("err"), rec.get("error", ""))
    else:
        collect(skip_slow=os.environ.get("PEER_SKIP_SLOW") == "1")
