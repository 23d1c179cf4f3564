"""``nlmer``: nonlinear mixed models with lme4's three-part formula.

``response ~ SSmodel(input, p1, p2, ...) ~ random part``: the middle part is one of R's
self-starting models (:mod:`multilevel.selfstart`) whose parameter arguments become the fixed
effects; the random part names the parameters that vary by group, lme4's way:
``Asym | Tree``, ``(Asym | Tree)``, ``(Asym + xmid | Tree)``, ``(Asym | Tree) + (xmid | Tree)``
or ``(Asym + xmid || Tree)``. The numerical work is in :mod:`multilevel.core.nlmm`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design.expressions import eval_column
from ..errors import DataError, FormulaError, MultilevelError, two_line
from ..selfstart import MODELS, get_model

_IDENT = re.compile(r"^[A-Za-z.][A-Za-z0-9._]*$")
# the input argument's name where it is not ``input``
_FORMALS = {"SSgompertz": "x", "SSweibull": "x"}


@dataclass(frozen=True)
class NlFormula:
    """The parts of an nlmer formula.

    Attributes
    ----------
    response : str ; model : str (R's name) ; input : str (an expression of data columns) ;
    args : tuple of str (the model's parameter arguments, in the model's order) ;
    fixed : tuple of str (parameters named outside bars) ;
    bars : tuple of (tuple of parameter names, group expression)
    """

    text: str
    response: str
    model: str
    input: str
    args: tuple
    fixed: tuple
    bars: tuple


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses."""
    out, depth, cur, i = [], 0, [], 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth == 0 and text.startswith(sep, i) and not (
                sep == "|" and (text.startswith("||", i) or (i > 0 and text[i - 1] == "|"))):
            out.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [s.strip() for s in out]


def _strip_parens(s: str) -> str:
    s = s.strip()
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    return s


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _bar(text: str, formula: str) -> list[tuple]:
    """``lhs | g`` or ``lhs || g`` -> [(params, group)] (``||``: one term per parameter)."""
    double = "||" in text and len(_split_top(text, "||")) == 2
    lhs, grp = _split_top(text, "||") if double else _split_top(text, "|")
    params = [p.strip() for p in _split_top(_strip_parens(lhs), "+") if p.strip()]
    params = [p for p in params if p != "0"]
    if not params or "1" in params:
        raise FormulaError(two_line(
            f"the random term ({text}) in {formula!r} must name model parameters",
            "write e.g. (Asym | Tree): in nlmer the left side of | lists parameters, "
            "and an intercept (1) has no meaning"))
    grp = _strip_parens(grp)
    if double:
        return [((p,), grp) for p in params]
    return [(tuple(params), grp)]


def parse_nlformula(formula: str) -> NlFormula:
    """Split ``y ~ SSmodel(x, p1, ...) ~ random`` into its parts.

    Examples
    --------
    >>> f = parse_nlformula("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree")
    >>> f.model, f.input, f.args, f.bars
    ('SSlogis', 'age', ('Asym', 'xmid', 'scal'), ((('Asym',), 'Tree'),))
    >>> parse_nlformula("y ~ SSmicmen(x, Vm, K) ~ (Vm | g) + (K | g)").bars
    ((('Vm',), 'g'), (('K',), 'g'))
    """
    if not isinstance(formula, str):
        raise FormulaError(two_line(f"formula must be a string, got {type(formula).__name__}",
                                    "write e.g. 'y ~ SSlogis(x, Asym, xmid, scal) ~ Asym | g'"))
    parts = _split_top(formula, "~")
    if len(parts) != 3 or not all(parts):
        raise FormulaError(two_line(
            f"an nlmer formula has three parts 'response ~ model ~ random', got {formula!r}",
            "write e.g. 'circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree'"))
    response, model, rand = parts
    m = re.fullmatch(r"\s*([A-Za-z.][A-Za-z0-9._]*)\s*\((.*)\)\s*", model, flags=re.S)
    if not m:
        raise FormulaError(two_line(
            f"the middle part {model!r} of {formula!r} is not a call of a model function",
            f"use one of R's self-starting models: {', '.join(MODELS)}"))
    ss = get_model(m.group(1))
    raw = [a for a in _split_top(m.group(2), ",")]
    formals = [_FORMALS.get(ss.name, "input"), *ss.params]
    named, positional = {}, []
    for a in raw:
        kv = _split_top(a, "=")
        if len(kv) == 2 and _IDENT.match(kv[0]) and not a.strip().startswith("=="):
            if kv[0] not in formals:
                raise FormulaError(two_line(
                    f"{ss.name} has no argument {kv[0]!r}",
                    f"its arguments are {', '.join(formals)}"))
            named[kv[0]] = kv[1]
        else:
            positional.append(a)
    free = [f for f in formals if f not in named]
    if len(positional) != len(free):
        raise FormulaError(two_line(
            f"{ss.name} takes {len(formals)} arguments ({', '.join(formals)}), "
            f"got {len(raw)} in {model!r}",
            f"write {ss.name}({', '.join(formals)}) with a data column first"))
    named.update(zip(free, positional))
    args = tuple(named[p] for p in ss.params)
    for a in args:
        if not _IDENT.match(a):
            raise FormulaError(two_line(
                f"the parameter argument {a!r} of {ss.name} is not a name",
                "give each parameter a plain name, e.g. SSlogis(age, Asym, xmid, scal)"))
    rand = _strip_parens(rand)
    bars, fixed = [], []
    if len(_split_top(rand, "|")) > 1 or len(_split_top(rand, "||")) > 1:
        bars += _bar(rand, formula)
    else:
        for piece in _split_top(rand, "+"):
            inner = _strip_parens(piece)
            if len(_split_top(inner, "|")) > 1 or len(_split_top(inner, "||")) > 1:
                bars += _bar(inner, formula)
            elif inner not in ("0", ""):
                fixed.append(inner)
    return NlFormula(formula, response.strip(), ss.name, named[formals[0]].strip(), args,
                     tuple(fixed), tuple(bars))




def _level_key(v):
    """Numbers in numeric order before text in text order (R's factor levels)."""
    return (0, v, "") if isinstance(v, (int, float, np.number)) else (1, 0, str(v))


def group_codes(df: pd.DataFrame, expr: str) -> tuple[np.ndarray, list[str]]:
    """Codes and lme4-ordered labels of a grouping factor (``g`` or ``a:b``), -1 for NA.

    Examples
    --------
    >>> c, lev = group_codes(pd.DataFrame({"g": ["b", "a", "b"]}), "g")
    >>> c.tolist(), lev
    ([1, 0, 1], ['a', 'b'])
    """
    parts = [p.strip() for p in expr.split(":")]
    if any(not _IDENT.match(p) for p in parts):
        raise FormulaError(two_line(f"grouping factor {expr!r} is not supported in nlmer",
                                    "use a column name or an interaction a:b of columns"))
    labels = None
    na = np.zeros(len(df), dtype=bool)
    for p in parts:
        if p not in df.columns:
            raise DataError(two_line(f"grouping factor {p!r} not in the data",
                                     f"the data have columns {', '.join(map(str, df.columns))}"))
        s = df[p]
        na |= s.isna().to_numpy()
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = list(s.cat.categories)
            key = s.cat.codes.to_numpy()
            lab = [str(c) for c in cats]
        else:
            vals = s.to_numpy(dtype=object)
            uniq = sorted(set(v for v, bad in zip(vals, na) if not bad), key=_level_key)
            pos = {v: i for i, v in enumerate(uniq)}
            key = np.array([pos.get(v, -1) if not b else -1 for v, b in zip(vals, na)])
            lab = [str(int(v)) if isinstance(v, (float, np.floating)) and float(v).is_integer()
                   else str(v) for v in uniq]
        pair = (key, lab)
        if labels is None:
            comb, labels = pair[0].astype(np.int64), [[x] for x in pair[1]]
            sizes = [len(pair[1])]
        else:
            comb = comb * len(pair[1]) + pair[0]
            sizes.append(len(pair[1]))
            labels = [a + [b] for a in labels for b in pair[1]]
    comb = np.where(na, -1, comb)
    used = np.unique(comb[comb >= 0])
    remap = np.full(int(np.prod(sizes)), -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    codes = np.where(comb >= 0, remap[np.maximum(comb, 0)], -1)
    return codes, [":".join(labels[u]) for u in used]


def _starts(f: NlFormula, start, x: np.ndarray, y: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Fixed-effect names (lme4's order) and their starting values."""
    if start is not None and isinstance(start, dict) and "nlpars" in start:
        start = start["nlpars"]
    if start is None:
        init = get_model(f.model).initial(x, y)
        vals = dict(zip(f.args, init.values()))
        names = list(f.args)
    else:
        if isinstance(start, pd.Series):
            start = start.to_dict()
        if not isinstance(start, dict):
            raise MultilevelError(two_line(
                f"start must be a dict of parameter values, got {type(start).__name__}",
                f"write start={{{', '.join(repr(a) + ': ...' for a in f.args)}}}"))
        missing = [a for a in f.args if a not in start]
        extra = [k for k in start if k not in f.args]
        if missing:
            raise MultilevelError(two_line(
                f"start has no value for the model parameter(s) {', '.join(map(repr, missing))}",
                f"give every parameter of {f.model}: start={{"
                f"{', '.join(repr(a) + ': ...' for a in f.args)}}}, or omit start to use "
                "the self-starting values"))
        if extra:
            raise MultilevelError(two_line(
                f"start names {', '.join(map(repr, extra))}, not a parameter of {f.model}"
                f"({f.input}, {', '.join(f.args)})",
                "use the parameter names of the model call"))
        try:
            vals = {k: float(v) for k, v in start.items()}
        except (TypeError, ValueError):
            raise MultilevelError(two_line("start values must be numbers",
                                           "write e.g. start={'Asym': 200, ...}")) from None
        names = list(start)
    # lme4: fixed formula ~ 0 + <fixed part> + <parameters in start's order>
    for p in f.fixed:
        if p not in f.args:
            raise FormulaError(two_line(
                f"the fixed term {p!r} in {f.text!r} is not a parameter of the model",
                "nlmer's third part names parameters; covariates in fixed effects are not "
                "supported"))
    order = list(dict.fromkeys([*f.fixed, *names]))
    return order, np.array([vals[n] for n in order], dtype=float)


def nlmer(formula: str, data, start=None, *, optimizer: str = "Nelder_Mead", n_agq: int = 1,
          data_name: str | None = None):
    """Fit a nonlinear mixed model by maximum likelihood (Laplace), as lme4's ``nlmer``.

    Parameters
    ----------
    formula : str
        ``"response ~ SSmodel(input, p1, ...) ~ random"`` with a self-starting model of
        :mod:`multilevel.selfstart` (``SSlogis``, ``SSasymp``, ``SSmicmen``, ``SSfpl``,
        ``SSgompertz``, ``SSbiexp``) and a random part over its parameters:
        ``Asym | Tree``, ``(Asym + xmid | Tree)``, ``(Asym | Tree) + (xmid | Tree)``.
    data : DataFrame
    start : dict, optional
        Starting values of the fixed effects (lme4's ``start = c(Asym = 200, ...)``; also
        ``{"nlpars": {...}}``). Omitted: R's ``getInitial`` values of the self-starting model
        (least squares on the response averaged over distinct inputs).
    optimizer : "Nelder_Mead" (default) or "bobyqa"
        ``"Nelder_Mead"`` is lme4's default optimiser, reproduced step for step, so the fit
        stops where lme4's does (lme4 stops early on flat likelihoods); ``"bobyqa"`` minimises
        the exact Laplace deviance to tight tolerances (at least as high a likelihood).
    n_agq : 1 (default) or 0
        lme4's ``nAGQ``: 1 optimises theta and the fixed effects jointly in a second stage;
        0 stops after the first (theta, with the fixed effects from the PNLS step).
    data_name : str, optional
        Name shown after ``Data:`` in the summary.

    Returns
    -------
    NlmerResult

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.results.nlmm import orange
    >>> m = ml.nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", orange(),
    ...              start={"Asym": 200, "xmid": 725, "scal": 350})
    >>> m.fixef.round(1).to_dict()
    {'Asym': 192.1, 'xmid': 727.9, 'scal': 348.1}
    """
    from ..core.nlmm import NlmmCore, NlTerm
    from ..design.model_frame import as_dataframe
    from ..results.nlmm import NlmerResult, NlTermInfo
    from .._callsite import caller_data_name

    if n_agq not in (0, 1):
        raise MultilevelError(two_line(f"n_agq={n_agq!r} is not available for nlmer",
                                       "use n_agq=1 (Laplace) or 0, as lme4 allows"))
    if data_name is None:
        data_name = caller_data_name(data)
    f = parse_nlformula(formula)
    df = as_dataframe(data)
    if f.response not in df.columns:
        raise DataError(two_line(f"response {f.response!r} not in the data",
                                 f"the data have columns {', '.join(map(str, df.columns))}"))
    y_all = eval_column(f.response, df, "response")
    x_all = eval_column(f.input, df, f"input of {f.model}")
    ok = np.isfinite(y_all) & np.isfinite(x_all)
    groups = {}
    for params, grp in f.bars:
        if grp not in groups:
            groups[grp] = group_codes(df, grp)
        ok &= groups[grp][0] >= 0
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        raise DataError(two_line("no complete rows for the model",
                                 "check the response, input and grouping columns for NA"))
    y, x = y_all[rows], x_all[rows]
    names, beta0 = _starts(f, start, x, y)
    model = get_model(f.model)
    arg_cols = [names.index(a) for a in f.args]
    col_of = {a: names.index(a) for a in f.args}

    infos = []
    for params, grp in f.bars:
        for p in params:
            if p not in col_of:
                raise FormulaError(two_line(
                    f"the random term ({' + '.join(params)} | {grp}) names {p!r}, which is not a "
                    f"parameter of {f.model}({f.input}, {', '.join(f.args)})",
                    f"use the model's parameters: {', '.join(f.args)}"))
        codes_all, levels = groups[grp]
        codes = codes_all[rows]
        used = np.unique(codes)
        remap = np.full(len(levels), -1)
        remap[used] = np.arange(used.size)
        infos.append(NlTermInfo(group=grp, cnames=list(params), levels=[levels[i] for i in used],
                                codes=remap[codes], cols=tuple(col_of[p] for p in params)))
    # lme4's mkReTrms: terms in decreasing order of their number of levels (stable)
    infos = sorted(infos, key=lambda t: -t.n_levels)

    def model_fn(phi):
        pars = [phi[:, c] for c in arg_cols]
        mu = model.value(x, *pars)
        ga = model.gradient(x, *pars)
        grad = np.zeros((x.size, len(names)))
        for j, c in enumerate(arg_cols):
            grad[:, c] += ga[:, j]
        return mu, grad

    core = NlmmCore(y, model_fn, [NlTerm(t.codes, t.n_levels, t.cols) for t in infos],
                    len(names))
    try:
        theta, beta, state, opt = core.fit(beta0, optimizer=optimizer, n_agq=n_agq)
    except (FloatingPointError, np.linalg.LinAlgError) as e:
        raise MultilevelError(two_line(
            f"the model cannot be evaluated at the starting values ({e})",
            "give other starting values with start={...}")) from None
    return NlmerResult(formula=formula, parsed=f, xnames=names, terms=infos, core=core,
                       theta=theta, beta=beta, state=state, opt=opt, data_name=data_name,
                       rows=rows, n_dropped=int(len(df) - rows.size), y=y, x=x, model=model,
                       arg_cols=arg_cols, groups={g: v[1] for g, v in groups.items()})


def _example():
    """The Orange model of lme4's examples, fitted (for docstring examples).

    Examples
    --------
    >>> round(_example().sigma, 3)
    7.843
    """
    from ..results.nlmm import orange

    return nlmer("circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree", orange(),
                 start={"Asym": 200, "xmid": 725, "scal": 350}, data_name="Orange")
