"""Summary texts against R's printed output in ../shared/reference.

Each reference JSON holds R's ``print(summary(fit))`` under
``options(digits = 3)`` and ``options(digits = 7)`` (and lmerTest's layout
for lmer fits). The data classes are filled from the JSON's own
full-precision numbers and the rendered text must match R's line for line.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from multilevel.report.summary_data import (
    AicTab,
    CoefTable,
    LmerSummaryData,
    LmSummaryData,
    VarCorrBlock,
)
from multilevel.report.summary_text import render_lm_summary, render_lmer_summary

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REFDIR = SHARED / "reference"
CASES = sorted(p.stem for p in REFDIR.glob("*.json")) if REFDIR.is_dir() else []

pytestmark = pytest.mark.skipif(not CASES, reason=f"reference JSON not found in {REFDIR}")


@cache
def load(case: str) -> dict:
    return json.loads((REFDIR / f"{case}.json").read_text(encoding="utf-8"))


def _data_name(r_call: str) -> str | None:
    m = re.search(r"\bdata = ([^,)]+)", r_call)
    return m.group(1) if m else None


def _matrix(block: dict, names: list[str]) -> np.ndarray:
    idx = [block["names"].index(n) for n in names]
    m = np.asarray(block["matrix"], dtype=float)
    return m[np.ix_(idx, idx)]


def _varcorr_blocks(rows: list[dict]) -> tuple[tuple[VarCorrBlock, ...], float | None]:
    order: list[str] = []
    terms: dict[str, list[str]] = {}
    sds: dict[str, list[float]] = {}
    cors: dict[str, list[tuple[str, str, float]]] = {}
    resid = None
    for r in rows:
        g = r["grp"]
        if g == "Residual":
            resid = r["sdcor"]
            continue
        if g not in terms:
            order.append(g)
            terms[g], sds[g], cors[g] = [], [], []
        if r["var2"] is None:
            terms[g].append(r["var1"])
            sds[g].append(r["sdcor"])
        else:
            cors[g].append((r["var1"], r["var2"], r["sdcor"]))
    blocks = []
    for g in order:
        k = len(terms[g])
        corr = None
        if k > 1:
            corr = np.eye(k)
            for a, b, v in cors[g]:
                i, j = terms[g].index(a), terms[g].index(b)
                corr[i, j] = corr[j, i] = v
        blocks.append(VarCorrBlock(g, tuple(terms[g]), tuple(sds[g]), corr))
    return tuple(blocks), resid


def lmer_data(d: dict, *, satterthwaite: bool = False) -> LmerSummaryData:
    """Fill :class:`LmerSummaryData` from a reference JSON."""
    names = list(d["fixef"])
    glmm = d["kind"] == "glmer"
    if satterthwaite:
        s = d["satterthwaite"]
        coefs = CoefTable(
            tuple(names),
            [s["estimate"][n] for n in names],
            [s["se"][n] for n in names],
            [s["t_value"][n] for n in names],
            "t value",
            df=[s["df"][n] for n in names],
            p_value=[s["p_value"][n] for n in names],
        )
    else:
        coefs = CoefTable(
            tuple(names),
            [d["fixef"][n] for n in names],
            [d["fixef_se"][n] for n in names],
            [d["fixef_stat"][n] for n in names],
            d["fixef_stat_name"],
            p_value=[d["fixef_p"][n] for n in names] if d["fixef_p"] else None,
        )
    a = d["AICtab"]
    aictab = (
        AicTab.reml_criterion(a["REML"])
        if "REML" in a
        else AicTab.ml(
            aic=a["AIC"], bic=a["BIC"], loglik=a["logLik"], deviance=a["deviance"],
            df_resid=a["df.resid"],
        )
    )
    blocks, resid = _varcorr_blocks(d["varcorr"])
    opt = d["optimizer"]
    return LmerSummaryData(
        reml=bool(d["REML"]),
        # lmerTest's refit stores the formula as written
        formula=d["formula"] if satterthwaite else d["formula_expanded"],
        data_name=_data_name(d["r_call"]),
        aictab=aictab,
        scaled_resid_quantiles=tuple(d["scaled_residual_quantiles"].values()),
        varcorr=blocks,
        residual_sd=None if glmm else resid,
        nobs=d["nobs"],
        ngrps=tuple(d["ngrps"].items()),
        coefficients=coefs,
        corr_fixef=_matrix(d["corr_fixef"], names) if d["corr_fixef"] else None,
        class_name="lmerModLmerTest" if satterthwaite else ("glmerMod" if glmm else "lmerMod"),
        family=d["family"] if glmm else None,
        link=d["link"] if glmm else None,
        ddf_method="Satterthwaite" if satterthwaite else None,
        optimizer=opt["name"],
        conv_code=opt["conv_code"] or 0,
        conv_messages=tuple(opt["lme4_messages"] or ()),
        optimizer_warnings=tuple(opt["warnings"] or ()),
    )


def lm_data(d: dict) -> LmSummaryData:
    """Fill :class:`LmSummaryData` from a reference JSON."""
    names = list(d["coefficients"])
    aliased = set(d["aliased"] or ())

    def col(key: str) -> list[float]:
        return [np.nan if n in aliased else d[key][n] for n in names]

    coefs = CoefTable(
        tuple(names),
        [np.nan if d["coefficients"][n] is None else d["coefficients"][n] for n in names],
        col("coef_se"),
        col("coef_t"),
        p_value=col("coef_p"),
    )
    f = d["fstatistic"]
    return LmSummaryData(
        call=d["r_call"],
        residuals=tuple(d["residual_quantiles"].values()),
        coefficients=coefs,
        sigma=d["sigma"],
        df_residual=d["df"]["df_residual"],
        rank=d["df"]["rank"],
        r_squared=d["r_squared"],
        adj_r_squared=d["adj_r_squared"],
        fstatistic=(f["value"], f["numdf"], f["dendf"]) if f else None,
        f_p_value=d["f_p_value"],
        n_deleted=d["n_rows_dropped"] or 0,
    )


def _render(case: str, key: str) -> tuple[str, str]:
    d = load(case)
    if key == "satterthwaite":
        return render_lmer_summary(lmer_data(d, satterthwaite=True), 7), d["satterthwaite"][
            "summary_text_default"
        ]
    digits = 3 if key == "summary_text_digits3" else 7
    if d["kind"] == "lm":
        return render_lm_summary(lm_data(d), digits), d[key]
    return render_lmer_summary(lmer_data(d), digits), d[key]


PARAMS = [
    pytest.param(case, key, id=f"{case}-{key.removeprefix('summary_text_')}")
    for case in CASES
    for key in ("summary_text_digits3", "summary_text_default", "satterthwaite")
    if key != "satterthwaite" or (load(case).get("satterthwaite") or {}).get("summary_text_default")
]


@pytest.mark.parametrize(("case", "key"), PARAMS)
def test_summary_text_matches_r(case: str, key: str) -> None:
    got, want = _render(case, key)
    got_lines, want_lines = got.split("\n"), want.split("\n")
    for i, (g, w) in enumerate(zip(got_lines, want_lines)):
        assert g == w, f"line {i + 1} differs:\n got: {g!r}\nwant: {w!r}"
    assert len(got_lines) == len(want_lines)
    assert got == want


def test_every_kind_is_covered() -> None:
    kinds = {load(c)["kind"] for c in CASES}
    assert kinds == {"lm", "lmer", "glmer"}


def test_lm_aliased_and_missing_lines() -> None:
    d = lm_data(load("imm10_lm1"))
    t = d.coefficients
    coefs = CoefTable(
        t.names + ("x2",),
        np.append(t.estimate, np.nan),
        np.append(t.std_error, np.nan),
        np.append(t.statistic, np.nan),
        p_value=np.append(t.p_value, np.nan),
    )
    from dataclasses import replace

    text = render_lm_summary(replace(d, coefficients=coefs, n_deleted=3), 7)
    lines = text.split("\n")
    assert "Coefficients: (1 not defined because of singularities)" in lines
    assert "x2                NA         NA      NA       NA    " in lines
    assert "  (3 observations deleted due to missingness)" in lines
    i = lines.index("  (3 observations deleted due to missingness)")
    assert lines[i - 1].startswith("Residual standard error:")


def test_lm_few_residuals_printed_in_full() -> None:
    d = lm_data(load("imm10_lm1"))
    from dataclasses import replace

    small = replace(
        d, residuals=(0.5, -0.25, 1.125), residual_labels=("1", "2", "3"), df_residual=1
    )
    lines = render_lm_summary(small, 7).split("\n")
    i = lines.index("Residuals:")
    assert lines[i + 1 : i + 3] == ["     1      2      3 ", " 0.500 -0.250  1.125 "]


def test_lmer_title_wraps_and_messages() -> None:
    from dataclasses import replace

    d = lmer_data(load("imm10_m3_ml"))
    text = render_lmer_summary(replace(d, conv_code=1, conv_messages=("m1",)), 7)
    lines = text.split("\n")
    assert lines[-3:] == ["optimizer (nloptwrap) convergence code: 1 (failure)", "m1", ""]
