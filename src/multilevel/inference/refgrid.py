"""emmeans' reference grid: the predictors of a fit, their values on the grid, the grid's
model matrix, estimability, and the weights that average grid rows into marginal means.

Factors enter at all their levels (``factor(x)`` counts as the factor ``x``); numeric
covariates at their mean over the rows used in the fit (read from ``X``, from what
``poly()``/``scale()`` remembered, or from ``data=``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .._data_input import to_pandas
from ..errors import DataError, MultilevelError, two_line


def _grid_variables(design, data, at) -> list[tuple[str, str, list]]:
    """(name, "factor" | "covariate", values) for every predictor, in formula order."""
    from ..formula.check import FACTOR_FUNCTIONS
    from ..formula.nodes import Call, Name
    from ..design.variables import names_in

    spec = design.spec
    if spec is None or not hasattr(spec, "fixed"):
        raise DataError(two_line("this fit keeps no formula information for emmeans",
                                 "fit the model in memory with ml.lmer / ml.lm / ml.glmer"))
    at = dict(at or {})
    out: dict = {}
    for key, node in spec.fixed.variables.items():
        st = spec.state.get(key)
        if st is not None and st[0] == "factor":
            if isinstance(node, Name):
                name = node.id
            elif (isinstance(node, Call) and node.func in FACTOR_FUNCTIONS and node.args
                  and isinstance(node.args[0].value, Name)):
                name = node.args[0].value.id
            else:
                raise DataError(two_line(f"emmeans cannot build a grid for the factor {key!r}",
                                         "make the factor a column of the data and refit"))
            if name in out:
                continue
            levels = [str(v) for v in st[1]]
            if name in at:
                want = [str(v) for v in np.atleast_1d(at[name])]
                bad = [w for w in want if w not in levels]
                if bad:
                    raise DataError(two_line(f"at[{name!r}] has unknown levels {bad}",
                                             f"use levels of the fit: {levels}"))
                levels = want
            out[name] = (name, "factor", levels, key)
        else:
            for nm in names_in(node):
                if nm not in out:
                    out[nm] = (nm, "covariate", None, key)
    for o in spec.offsets:
        for nm in names_in(o):
            out.setdefault(nm, (nm, "covariate", None, None))
    res = []
    for name, kind, vals, key in out.values():
        if kind == "covariate":
            if name in at:
                vals = [float(v) for v in np.atleast_1d(at[name])]
            else:
                vals = [_covariate_mean(design, data, name)]
        res.append((name, kind, vals))
    return res


def _covariate_mean(design, data, name: str) -> float:
    if data is not None:
        col = pd.to_numeric(to_pandas(data)[name].iloc[np.asarray(design.rows)],
                            errors="coerce").to_numpy(dtype=float)
        return math.fsum(col) / len(col)
    if name in design.xnames:
        col = design.X[:, design.xnames.index(name)]
        return math.fsum(col) / len(col)
    remembered = _remembered_mean(design.spec, name)
    if remembered is not None:
        return remembered
    raise DataError(two_line(
        f"emmeans needs the mean of the covariate {name!r}, which is not a column of X",
        f"pass the data of the fit, ml.emmeans(m, ..., data=df), or at={{'{name}': value}}"))


def _remembered_mean(spec, name: str) -> float | None:
    """The mean of ``name`` kept by a stateful transform of the fit: ``poly(name, d)``
    (its first recurrence coefficient) or ``scale(name)`` / ``center(name)``."""
    from ..formula.nodes import Call, Name, deparse

    stack = list(spec.fixed.variables.values())
    while stack:
        node = stack.pop()
        if isinstance(node, Call):
            first = node.args[0].value if node.args else None
            st = spec.state.get(deparse(node))
            if isinstance(first, Name) and first.id == name and st is not None:
                raw = any(a.name == "raw" and getattr(a.value, "id", "") in ("TRUE", "T")
                          for a in node.args)
                if node.func == "poly" and st[0] == "poly" and not raw:
                    return float(st[1][0])
                if node.func in ("scale", "center") and st[0] in ("scale", "center") \
                        and np.isfinite(st[1]) and len(node.args) == 1:
                    return float(st[1])
            stack.extend(a.value for a in node.args)
        else:
            stack.extend(v for v in vars(node).values() if hasattr(v, "__dataclass_fields__"))
    return None


def _full_matrix(design, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """All fixed-effect columns (before the rank check) and the offset, for new rows."""
    from ..design.model_frame import _model_matrix
    from ..design.variables import eval_numeric, eval_variable

    spec = design.spec
    vars_ = {k: eval_variable(node, df, spec.state, False) for k, node in spec.fixed.variables.items()}
    contr = getattr(spec, "contrasts", None)  # contrasts= and ordered factors (contr.poly)
    X_all, _ = _model_matrix(spec.fixed, spec.coding, vars_, len(df), contr)
    off = None
    if spec.offsets:
        off = np.sum([eval_numeric(o, df, spec.state, False) for o in spec.offsets], axis=0)
    return np.asarray(X_all, dtype=float), off


def _null_basis(design, data) -> np.ndarray:
    """A basis of the null space of the fit's full model matrix (estimability)."""
    spec = design.spec
    p_all = len(spec.all_xnames)
    kept = np.asarray(spec.kept, dtype=bool)
    dropped = [n for n in design.dropped_columns]
    if not dropped:
        return np.zeros((p_all, 0))
    if kept.all():  # lm keeps aliased columns in X
        X = design.X
    elif data is not None:
        X, _ = _full_matrix(design, to_pandas(data).iloc[np.asarray(design.rows)])
    else:
        raise DataError(two_line("the fit dropped collinear columns; emmeans needs the data "
                                 "to tell which means are estimable",
                                 "pass data=, the data of the fit"))
    _, s, vt = np.linalg.svd(X, full_matrices=True)
    tol = max(X.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0) * 1e3
    r = int(np.sum(s > tol))
    return vt[r:].T


def _fit_factors(design, data, names: list[str]) -> pd.DataFrame:
    """The level (label) of each grid factor on each row used in the fit."""
    from ..design.variables import r_label
    from ..formula.check import FACTOR_FUNCTIONS
    from ..formula.nodes import Call, Name
    from .contrasts import _read_variables, _variables

    if data is not None:
        d = to_pandas(data).iloc[np.asarray(design.rows)]
        return pd.DataFrame({n: [r_label(v) for v in d[n].tolist()] for n in names})
    spec = design.spec
    info = _variables(spec)
    try:
        vals = _read_variables(design, spec, info)
    except DataError:
        raise DataError(two_line("weights other than 'equal' need the factors of the fit",
                                 "pass data=, the data the model was fitted to")) from None
    out = {}
    for key, node in spec.fixed.variables.items():
        if info.get(key, ("",))[0] != "factor":
            continue
        name = node.id if isinstance(node, Name) else (
            node.args[0].value.id if isinstance(node, Call) and node.func in FACTOR_FUNCTIONS
            else key)
        if name in names:
            levels = info[key][1]
            out[name] = [levels[i] for i in np.asarray(vals[key], dtype=int)]
    return pd.DataFrame(out)


def _weights(kind: str, grid: pd.DataFrame, sel: np.ndarray, wanted: list[str],
             others: list[str], counts: pd.DataFrame | None) -> np.ndarray:
    """emmeans' ``weights``: how the grid rows of one mean are averaged."""
    k = int(sel.sum())
    if kind not in ("equal", "proportional", "outer", "cells", "flat"):
        raise MultilevelError(two_line(f"unknown weights {kind!r}",
                                       'use "equal", "proportional", "outer", "cells" or "flat"'))
    if kind == "equal" or not others:
        return np.full(k, 1.0 / k)
    rows = grid.loc[sel]
    if kind == "proportional":
        n = counts.groupby(others, observed=True).size()
        w = np.array([n.get(tuple(r) if len(others) > 1 else r[0], 0)
                      for r in rows[others].astype(str).itertuples(index=False)], float)
    elif kind == "outer":
        w = np.ones(k)
        for f in others:
            n = counts[f].value_counts()
            w *= np.array([n.get(v, 0) for v in rows[f].astype(str)], float)
    elif kind in ("cells", "flat"):
        cols = wanted + others
        n = counts.groupby(cols, observed=True).size()
        w = np.array([n.get(tuple(r) if len(cols) > 1 else r[0], 0)
                      for r in rows[cols].astype(str).itertuples(index=False)], float)
        if kind == "flat":
            w = (w > 0).astype(float)
    tot = w.sum()
    return w / tot if tot > 0 else np.full(k, np.nan)
