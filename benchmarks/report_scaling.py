"""Time ``ml.report`` on one synthetic model family with many groups (issue: 20,000 groups in
under 30 s). Prints seconds per report for each group count; never run by pytest.

    .venv/bin/python benchmarks/report_scaling.py                # 2,000 and 20,000 groups
    .venv/bin/python benchmarks/report_scaling.py --groups 500 5000
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import multilevel as ml

FORMULAS = ["y ~ x", "y ~ x + (1 | school_id)", "y ~ x + (x | school_id)"]


def data(n_groups: int, per: int = 5, seed: int = 1) -> pd.DataFrame:
    """Pupils in schools: y = 1 + 0.5x + u0 + u1 x + e, with ID-like school labels."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    u0, u1 = rng.normal(size=n_groups), 0.3 * rng.normal(size=n_groups)
    y = 1 + 0.5 * x + u0[g] + u1[g] * x + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "school_id": g + 40000})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, nargs="+", default=[2_000, 20_000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.groups:
            d = data(n)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                html = ml.report(FORMULAS, data=d, path=Path(tmp) / f"r{n}.html")
            print(f"{n:>7,} groups: {time.perf_counter() - t0:6.1f} s  ({len(html) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
