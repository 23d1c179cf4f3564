"""Contrast matrices of lmerTest's type III and type I F tests.

Type III (lmerTest's ``extract_contrasts_type3``, SAS's definition): with the rank-deficient
design ``rdX`` (every term coded with all its factor levels, R's ``~ 0 + term``),
``L = zapsmall(t(ginv(X) rdX))``; the columns of a term contained in other terms (same
continuous variables, fewer factors) are replaced by their residuals on the columns of the
terms containing it, higher-order terms first; the rows of ``L`` for the columns of ``X``
then give each term's contrast. Type I contrasts are the rows of the unit upper-triangular
factor of the Doolittle decomposition of ``X'X`` (lmerTest's ``get_contrasts_type1``).

The model frame is not kept by the fit, so the variables are read back from ``X``: a factor
from its main-effect dummies, a covariate from its own column (or from the sum of its
columns in an interaction with fully coded factors).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import DataError, two_line


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest entry.

    Examples
    --------
    >>> zapsmall(np.array([1.0, 1e-12, 0.333333333])).tolist()
    [1.0, 0.0, 0.3333333]
    """
    x = np.asarray(x, dtype=float)
    mx = np.nanmax(np.abs(x)) if x.size else 0.0
    d = max(0, digits - int(np.ceil(np.log10(mx)))) if mx > 0 else digits
    return np.round(x, d)


def doolittle(x: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's Doolittle decomposition ``x = L U`` (``L`` unit lower triangular).

    Examples
    --------
    >>> L, U = doolittle(np.array([[4.0, 2.0], [2.0, 3.0]]))
    >>> L.tolist(), U.tolist()
    ([[1.0, 0.0], [0.5, 1.0]], [[4.0, 2.0], [0.0, 2.0]])
    """
    n = x.shape[0]
    L, U = np.eye(n), np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            U[i, j] = x[i, j] - L[i, :i] @ U[:i, j]
        for j in range(i + 1, n):
            v = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else v / U[i, i]
    L[np.abs(L) < eps] = 0.0
    U[np.abs(U) < eps] = 0.0
    return L, U


def _spec(design):
    spec = design.spec
    if spec is None or not hasattr(spec, "fixed"):
        raise DataError(two_line("the model has no term information for F tests",
                                 "fit it with ml.lmer()"))
    return spec


def _numeric_suffixes(node) -> list[str]:
    from ..formula.nodes import Call, Num

    if isinstance(node, Call) and node.func == "poly":
        pos = [a for a in node.args if a.name is None]
        kw = {a.name: a.value for a in node.args if a.name}
        d = pos[1].value if len(pos) > 1 else kw.get("degree")
        return [str(i) for i in range(1, int(d.value) + 1)] if isinstance(d, Num) else ["1"]
    return [""]


def _variables(spec) -> dict:
    """Variable label -> ("factor", levels) or ("numeric", suffixes)."""
    out = {}
    for v, node in spec.fixed.variables.items():
        st = spec.state.get(v)
        if st is not None and st[0] == "factor":
            out[v] = ("factor", list(st[1]))
        else:
            out[v] = ("numeric", _numeric_suffixes(node))
    return out


def _coded(spec, v: str, levels: list[str]) -> tuple[list[str], np.ndarray]:
    """Column suffixes and contrast matrix of a factor coded by contrasts (treatment unless
    the fit chose others: ``contrasts=`` or an ordered factor's ``contr.poly``)."""
    c = (getattr(spec, "contrasts", None) or {}).get(v)
    if c is not None:
        return list(c.suffixes), np.asarray(c.matrix, dtype=float)
    return list(levels[1:]), np.eye(len(levels))[:, 1:]


def _term_names(term, codes, info, full: bool, spec=None) -> list[str]:
    parts = []
    for v, code in zip(term, codes):
        kind, vals = info[v]
        if kind == "numeric":
            parts.append([v + s for s in vals])
        elif full or code == 2:
            parts.append([v + lev for lev in vals])
        else:
            parts.append([v + s for s in _coded(spec, v, vals)[0]])
    return [":".join(c[::-1]) for c in itertools.product(*reversed(parts))]


def term_columns(design) -> dict[str, list[int]]:
    """R's ``term2colX``: term label -> positions of its columns in ``X`` (dropped excluded).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("angle ~ recipe + temperature + (1 | replicate:recipe)",
    ...             ml.datasets.load("cake"))
    >>> {k: len(v) for k, v in term_columns(m.design).items()}
    {'recipe': 2, 'temperature': 5}
    """
    spec = _spec(design)
    info = _variables(spec)
    pos = {n: i for i, n in enumerate(design.xnames)}
    names = ["(Intercept)"] if spec.fixed.intercept else []
    out = {}
    for term, codes in zip(spec.fixed.terms, spec.coding):
        cols = _term_names(term, codes, info, full=False, spec=spec)
        names.extend(cols)
        out[":".join(term)] = [pos[c] for c in cols if c in pos]
    if names != list(spec.all_xnames):
        raise DataError(two_line("cannot map the columns of X to the terms of the formula",
                                 "use ml.anova(m1, m2) to compare nested models instead"))
    return out


def _column(design, name: str) -> np.ndarray:
    try:
        return design.X[:, design.xnames.index(name)]
    except ValueError:
        raise DataError(two_line(
            f"type III contrasts need the column {name!r}, which is not in X (dropped for "
            "rank deficiency?)", "use type=1, or remove the collinear term")) from None


def _read_variables(design, spec, info) -> dict:
    """Per-row values: factor -> codes (n,), numeric -> (n, k) array."""
    terms, coding = spec.fixed.terms, spec.coding
    vals = {}
    for v, (kind, levels) in info.items():
        if kind != "factor":
            continue
        hit = [c for t, c in zip(terms, coding) if t == (v,)]
        if hit:
            full = hit[0][0] == 2
            sfx, C = (levels, np.eye(len(levels))) if full else _coded(spec, v, levels)
            D = np.column_stack([_column(design, v + s) for s in sfx])
            # each row's level: the row of the contrast matrix it equals
            dist = ((D[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
            vals[v] = dist.argmin(axis=1)
        else:
            vals[v] = _factor_from_interactions(design, terms, coding, info, v)
    for v, (kind, suffixes) in info.items():
        if kind == "factor":
            continue
        if (v,) in terms:
            vals[v] = np.column_stack([_column(design, v + s) for s in suffixes])
            continue
        for t, c in zip(terms, coding):  # a covariate in an interaction with full dummies
            others = [(w, cw) for w, cw in zip(t, c) if w != v]
            if v in t and all(info[w][0] == "factor" and cw == 2 for w, cw in others):
                names = _term_names(t, c, info, full=True)
                cols = np.column_stack([_column(design, n) for n in names])
                vals[v] = cols.sum(axis=1)[:, None]
                break
        else:
            raise DataError(two_line(f"type III contrasts need the main effect of {v!r}",
                                     f"add {v} to the fixed part, or use type=1"))
    return vals


def _factor_from_interactions(design, terms, coding, info, v: str) -> np.ndarray:
    """A factor seen only in interactions: on each row, the level whose columns are nonzero.

    Rows where every such column is zero get the first level; there every column of every
    term with the factor is zero whatever the level, so ``rdX`` does not depend on it.
    """
    levels = info[v][1]
    mag = np.zeros((design.X.shape[0], len(levels)))
    for t, c in zip(terms, coding):
        if v not in t:
            continue
        parts = []
        for w, cw in zip(t, c):
            kind, vals = info[w]
            if kind == "numeric":
                parts.append([(w + sfx, None) for sfx in vals])
            else:
                idx = range(len(vals)) if cw == 2 else range(1, len(vals))
                parts.append([(w + vals[i], i if w == v else None) for i in idx])
        for combo in itertools.product(*reversed(parts)):
            combo = combo[::-1]
            name = ":".join(n for n, _ in combo)
            lev = next(i for (n, i), w in zip(combo, t) if w == v)
            mag[:, lev] += np.abs(_column(design, name))
    return np.where(mag.max(axis=1) > 0, mag.argmax(axis=1), 0)


def _rdX(design, spec, info, vals) -> tuple[np.ndarray, list[str]]:
    n = design.X.shape[0]
    cols, names = ([np.ones(n)], ["(Intercept)"]) if spec.fixed.intercept else ([], [])
    for term in spec.fixed.terms:
        parts = []
        for v in term:
            kind, lv = info[v]
            if kind == "factor":
                parts.append([(v + lev, (vals[v] == i).astype(float)) for i, lev in enumerate(lv)])
            else:
                parts.append([(v + s, vals[v][:, i]) for i, s in enumerate(lv)])
        for combo in itertools.product(*reversed(parts)):
            combo = combo[::-1]
            names.append(":".join(c[0] for c in combo))
            col = combo[0][1]
            for c in combo[1:]:
                col = col * c[1]
            cols.append(col)
    return np.column_stack(cols), names


def _r_factors_code(spec, k: int, v: str) -> int:
    """R's ``attr(terms, "factors")`` entry: 1, or 2 when the term's margin is absent."""
    term = spec.fixed.terms[k]
    rest = tuple(w for w in term if w != v)
    if not rest:
        return 1
    earlier = any(set(rest) == set(spec.fixed.terms[j]) for j in range(k))
    return 1 if earlier else 2


def containment(design) -> dict[str, list[str]]:
    """lmerTest's ``containment``: for each term, the terms that contain it.

    ``F1`` is contained in ``F2`` when every variable of ``F1`` is in ``F2``, ``F2`` has more
    variables, and both involve the same continuous variables.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("angle ~ recipe * temperature + (1 | replicate:recipe)",
    ...             ml.datasets.load("cake"), reml=False)
    >>> containment(m.design)["recipe"]
    ['recipe:temperature']
    """
    spec = _spec(design)
    info = _variables(spec)
    labels = [":".join(t) for t in spec.fixed.terms]
    vars_ = {lab: [v for v in t if _r_factors_code(spec, k, v) == 1]
             for k, (lab, t) in enumerate(zip(labels, spec.fixed.terms))}
    nums = {lab: {v for v in vs if info[v][0] == "numeric" and len(info[v][1]) == 1
                  and info[v][1][0] == ""} for lab, vs in vars_.items()}

    def contains(f1, f2):
        return (set(vars_[f1]) <= set(vars_[f2]) and len(set(vars_[f2]) - set(vars_[f1])) > 0
                and nums[f1] == nums[f2])

    return {t: [u for u in labels if contains(t, u)] for t in labels}


def type1_contrasts(design) -> dict[str, np.ndarray]:
    """Sequential (type I) contrasts, one matrix per term (lmerTest).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> type1_contrasts(m.design)["Days"].tolist()
    [[0.0, 1.0]]
    """
    X = design.X
    p = X.shape[1]
    cols = term_columns(design)
    if p == 0:
        return {}
    L = np.ones((1, 1)) if p == 1 else doolittle(X.T @ X)[0].T
    return {t: L[c] for t, c in cols.items()}


def _treatment_design(design, spec):
    """The design recoded with treatment contrasts (lmerTest's ``get_model_matrix(type =
    "remake", contrasts = "contr.treatment")``), or None when it already is."""
    if not getattr(spec, "contrasts", None) or all(
            getattr(c, "name", "") == "contr.treatment" for c in spec.contrasts.values()):
        return None
    import dataclasses

    from ..design.model_frame import _model_matrix
    from ..design.rank import drop_collinear
    from ..design.variables import FacVar, NumVar

    info = _variables(spec)
    vals = _read_variables(design, spec, info)
    vars_ = {v: (FacVar(np.asarray(vals[v]), list(info[v][1])) if info[v][0] == "factor"
                 else NumVar(np.asarray(vals[v], dtype=float), list(info[v][1])))
             for v in info}
    X_all, names = _model_matrix(spec.fixed, spec.coding, vars_, design.X.shape[0])
    X, xnames, dropped = drop_collinear(X_all, names, 1e-7)
    kept = np.array([n not in dropped for n in names], dtype=bool)
    new_spec = dataclasses.replace(spec, contrasts={}, all_xnames=tuple(names), kept=kept)
    return dataclasses.replace(design, X=X, xnames=list(xnames), dropped_columns=list(dropped),
                               spec=new_spec)


def type3_contrasts(design) -> dict[str, np.ndarray]:
    """Type III contrasts, one matrix per term (lmerTest's ``get_contrasts_type3``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("mAch ~ meanses * cses + sector * cses + (cses | school)",
    ...             ml.datasets.load("Hsb82"))
    >>> (type3_contrasts(m.design)["cses"].round(3) + 0.0).tolist()
    [[0.0, 0.0, 1.0, 0.0, 0.0, 0.5]]
    """
    spec = _spec(design)
    cols = term_columns(design)
    X = design.X
    if X.shape[1] <= 1 or len(cols) <= 1:
        return type1_contrasts(design)
    treat = _treatment_design(design, spec)
    if treat is not None:  # lmerTest: contrasts of the treatment coding, mapped onto X's
        mapping = zapsmall(np.linalg.lstsq(treat.X, X, rcond=None)[0])
        return {t: zapsmall(L @ mapping) for t, L in type3_contrasts(treat).items()}
    info = _variables(spec)
    vals = _read_variables(design, spec, info)
    rdX, names = _rdX(design, spec, info, vals)
    coef = np.linalg.lstsq(X, rdX, rcond=None)[0]  # ginv(X) rdX
    L = zapsmall(coef.T)
    is_contained = containment(design)
    labels = list(cols)
    order = sorted(range(len(labels)), key=lambda i: -len(spec.fixed.terms[i]))
    for i in order:
        term = labels[i]
        if not is_contained[term]:
            continue
        use = [c for t in is_contained[term] for c in cols[t]]
        Y = L[:, cols[term]]
        beta = np.linalg.lstsq(L[:, use], Y, rcond=None)[0]
        L[:, cols[term]] = zapsmall(Y - L[:, use] @ beta)
    row = {n: i for i, n in enumerate(names)}
    missing = [n for n in design.xnames if n not in row]
    if missing:
        raise DataError(two_line(f"cannot build type III contrasts for {missing}",
                                 "use type=1"))
    L = L[[row[n] for n in design.xnames]]
    out = {}
    for t, c in cols.items():
        Lt = L[:, c].T
        out[t] = Lt[np.abs(Lt).sum(axis=1) > 1e-8]
    return out


def type2_contrasts(design) -> dict[str, np.ndarray]:
    """Type II contrasts, one matrix per term (lmerTest's ``get_contrasts_type2_unfolded``).

    A term contained in no other term gets its marginal contrast (the unit rows of its
    columns); any other term the sequential (type I) contrast of ``X`` with its columns and
    those of the terms containing it moved last, so that it is adjusted for every term
    except those containing it.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> type2_contrasts(m.design)["Days"].tolist()
    [[0.0, 1.0]]
    """
    cols = term_columns(design)
    X = design.X
    p = X.shape[1]
    if p <= 1 or len(cols) <= 1:
        return type1_contrasts(design)
    is_contained = containment(design)
    out = {}
    for term, c in cols.items():
        if not is_contained[term]:
            out[term] = np.eye(p)[c]
            continue
        moved = list(c) + [j for t in is_contained[term] for j in cols[t]]
        order = [j for j in range(p) if j not in moved] + moved
        Lc = doolittle(X[:, order].T @ X[:, order])[0].T  # rows in `order`, columns too
        rows = [i for i, j in enumerate(order) if j in c]
        L = np.zeros((len(rows), p))
        L[:, order] = Lc[rows]
        out[term] = L
    return out
