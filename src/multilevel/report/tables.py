"""Tables of the lesson: per-group summaries of the data (``ml.group_summary``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import DataError, two_line

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["group_summary", "compare", "ComparisonTable"]

_STATS = {
    "n": "count",        # non-missing values
    "mean": "mean",
    "sd": "std",
    "median": "median",
    "min": "min",
    "max": "max",
}


def group_summary(data: pd.DataFrame, by: str | Sequence[str], vars: Sequence[str] | None = None,
                  *, stats: Sequence[str] = ("n", "mean")) -> pd.DataFrame:
    """Count and mean of variables in each group: dplyr's
    ``group_by(by) %>% summarise_at(vars(...), funs(n(), mean(., na.rm = TRUE)))``.

    Parameters
    ----------
    data : DataFrame
    by : str or list of str
        Grouping column(s); groups come out in R's order (categories, else sorted), with a
        group for missing keys if there are any.
    vars : list of str, optional
        Columns to summarise; by default every numeric column except `by`.
    stats : sequence of str
        Any of ``n, mean, sd, median, min, max``, in the order wanted.

    Returns
    -------
    DataFrame
        One row per group (indexed by `by`), columns ``{var}_{stat}`` grouped by statistic as
        dplyr names them: ``math_n, homework_n, math_mean, homework_mean``. ``n`` counts the
        non-missing values of each variable (R's ``n()`` counts rows: the same without NA) and
        the other statistics skip missing values (``na.rm = TRUE``).

    Raises
    ------
    DataError
        A column that is not in `data`, a non-numeric variable, or an unknown statistic.

    Examples
    --------
    >>> import pandas as pd, multilevel as ml
    >>> df = pd.DataFrame({"school": [1, 1, 2], "math": [40.0, 50.0, None]})
    >>> ml.group_summary(df, by="school", vars=["math"])  # doctest: +NORMALIZE_WHITESPACE
            math_n  math_mean
    school
    1            2       45.0
    2            0        NaN
    """
    import pandas as pd

    from .._data_input import to_pandas

    data = to_pandas(data)  # polars and pyarrow too
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in keys + list(vars or []) if c not in data.columns]
    if missing:
        raise DataError(two_line("no column " + ", ".join(map(repr, missing)) + " in the data",
                                 "available columns: " + ", ".join(map(str, data.columns))))
    if vars is None:
        vars = [c for c in data.columns
                if c not in keys and pd.api.types.is_numeric_dtype(data[c])
                and not pd.api.types.is_bool_dtype(data[c])]
    vars = list(vars)
    bad_stats = [s for s in stats if s not in _STATS]
    if bad_stats:
        raise DataError(two_line(f"unknown statistic {bad_stats[0]!r}",
                                 "use any of " + ", ".join(_STATS)))
    for v in vars:
        if not pd.api.types.is_numeric_dtype(data[v]) and any(s != "n" for s in stats):
            raise DataError(two_line(f"column {v!r} is not numeric, so it has no mean",
                                     "leave it out of vars=, or convert it to numbers"))
    grouped = data.groupby(keys, dropna=False, observed=True, sort=True)[vars]
    columns = {}
    for stat in stats:
        agg = grouped.agg(_STATS[stat])
        for v in vars:
            columns[f"{v}_{stat}"] = agg[v].astype("int64") if stat == "n" else agg[v]
    out = pd.DataFrame(columns)
    if len(keys) == 1:
        out.index.name = keys[0]
    return out


# ----- model comparison (sjPlot's tab_model) -------------------------------------------------
class ComparisonTable:
    """Models side by side, as sjPlot's ``tab_model``; made by :func:`compare`.

    ``str()`` gives text; ``to_html()``, ``to_markdown()``, ``to_latex()`` the other formats;
    Jupyter shows the HTML. ``frame`` holds the numbers (long form, one row per model and
    quantity) and ``table`` the formatted :class:`~multilevel.report.table.Table`.

    Attributes
    ----------
    frame : DataFrame  -- columns ``model, section, term, estimate, std_error, conf_low,
                          conf_high, p_value``
    table : Table
    names : list of str
    """

    def __init__(self, table, frame, names):
        self.table = table
        self.frame = frame
        self.names = list(names)

    def __str__(self) -> str:
        return self.table.to_text()

    __repr__ = __str__

    def to_text(self) -> str:
        return self.table.to_text()

    def to_html(self) -> str:
        return self.table.to_html()

    def to_markdown(self) -> str:
        return self.table.to_markdown()

    def to_latex(self) -> str:
        return self.table.to_latex()

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


def _fmt(x, digits: int) -> str:
    if x is None or x != x:
        return ""
    return f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if p != p:
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _method(model) -> str:
    from .broom import is_mixed

    if not is_mixed(model):
        return "OLS"
    if getattr(model, "kind", "") == "glmer":
        return f"ML ({getattr(model, 'family', 'GLMM')})"
    return "REML" if getattr(model, "reml", False) else "ML"


def compare(*models, names: Sequence[str] | None = None, show: str = "ci",
            p_values: bool = True, digits: int = 2, conf_level: float = 0.95,
            intercept: bool = True, omit: str | Sequence[str] | None = None
            ) -> ComparisonTable:
    r"""Several models side by side: estimates with CIs (or SEs), random-effect variances,
    ICC, groups, observations and fit statistics (sjPlot's ``tab_model``).

    Parameters
    ----------
    *models : LmResult or LmerResult
        One or more fitted models (a list or a dict ``{name: model}`` works too).
    names : list of str, optional
        Column-group headers; ``Model 1``, ``Model 2``, ... by default (dict keys for a dict).
    show : {"ci", "se"}
        Second column per model: the confidence interval or the standard error.
    p_values : bool
        Add a ``p`` column per model (``lm``: t test; mixed models: Wald z, as sjPlot).
    digits : int
        Decimals of estimates, intervals and variances.
    conf_level : float
    intercept : bool
        Show the ``(Intercept)`` row.
    omit : str or list of str, optional
        Fixed-effect rows to leave out: a regular expression (``r"^as\.factor"``) or a list
        of terms. A note under the table says how many were left out.

    Returns
    -------
    ComparisonTable

    Examples
    --------
    >>> import multilevel as ml
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> m1 = ml.lm("Reaction ~ Days", sleep)
    >>> m2 = ml.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    >>> t = ml.compare(m1, m2)
    >>> "ICC" in str(t) and "<table" in t.to_html()
    True
    """
    import pandas as pd

    from .broom import fixed_table, is_mixed, random_variance, residual_variance
    from .table import Row, Section, Table

    if len(models) == 1 and isinstance(models[0], dict):
        names = list(models[0]) if names is None else names
        models = tuple(models[0].values())
    elif len(models) == 1 and isinstance(models[0], (list, tuple)):
        models = tuple(models[0])
    if not models:
        raise ValueError("compare() needs at least one fitted model")
    if show not in ("ci", "se"):
        raise ValueError(f"show must be 'ci' or 'se', not {show!r}")
    names = [f"Model {i + 1}" for i in range(len(models))] if names is None else list(names)
    if len(names) != len(models):
        raise ValueError(f"{len(names)} names for {len(models)} models")
    pct = f"{100 * conf_level:g}%"
    sub = ["Estimate", f"{pct} CI" if show == "ci" else "SE"] + (["p"] if p_values else [])
    width = len(sub)

    records = []
    fixed = [fixed_table(m, conf_level) for m in models]
    terms: list[str] = []
    import re

    def omitted(term: str) -> bool:
        if omit is None:
            return False
        if isinstance(omit, str):
            return re.search(omit, term) is not None
        return term in set(omit)

    n_omitted = 0
    for f in fixed:
        for t in f.index:
            if t in terms:
                continue
            if omitted(t):
                n_omitted += 1
                continue
            if intercept or t != "(Intercept)":
                terms.append(t)
    fixed_rows = []
    for t in terms:
        cells: list[str] = []
        for name, f in zip(names, fixed):
            if t not in f.index:
                cells.extend([""] * width)
                continue
            r = f.loc[t]
            cells.append(_fmt(r.estimate, digits))
            cells.append(f"{_fmt(r.conf_low, digits)} \u2013 {_fmt(r.conf_high, digits)}"
                         if show == "ci" else _fmt(r.std_error, digits))
            if p_values:
                cells.append(_fmt_p(r.p_value))
            records.append({"model": name, "section": "fixed", "term": t, **r.to_dict()})
        fixed_rows.append(Row(t, tuple(cells)))

    # random part, sjPlot's labels: sigma^2, tau00 group, tau11 group.term, rho01 group
    rand: dict[tuple[str, str], dict[int, float]] = {}
    order: list[tuple[str, str]] = []

    def put(kind: str, label: str, i: int, value: float) -> None:
        key = (kind, label)
        if key not in rand:
            rand[key] = {}
            order.append(key)
        rand[key][i] = value
        records.append({"model": names[i], "section": "random", "term": f"{kind} {label}".strip(),
                        "estimate": value})

    for i, m in enumerate(models):
        if not is_mixed(m):
            continue
        ve = residual_variance(m)
        if ve is not None:
            put("sigma2", "", i, ve)
        vc = m.varcorr
        for r in vc.itertuples(index=False):
            if r.grp == "Residual":
                continue
            v2 = r.var2
            if v2 is None or (isinstance(v2, float) and v2 != v2):
                kind = "tau00" if r.var1 == "(Intercept)" else "tau11"
                label = r.grp if r.var1 == "(Intercept)" else f"{r.grp}.{r.var1}"
                put(kind, label, i, float(r.vcov))
            else:
                n_cor = int(((vc["grp"] == r.grp) & vc["var2"].notna()).sum())
                label = r.grp if n_cor == 1 else f"{r.grp}.{r.var1}.{r.var2}"
                put("rho01", label, i, float(r.sdcor))
        vr = random_variance(m)
        if ve is not None:
            put("icc", "", i, vr / (vr + ve))
        for g, k in m.ngrps.items():
            put("n", str(g), i, float(k))
    kind_order = {"sigma2": 0, "tau00": 1, "tau11": 2, "rho01": 3, "icc": 4, "n": 5}
    order.sort(key=lambda kl: kind_order[kl[0]])
    random_rows = []
    for kind, label in order:
        vals = rand[(kind, label)]
        if kind == "n":
            cells = tuple(f"{int(vals[i])}" if i in vals else "" for i in range(len(models)))
        else:
            cells = tuple(_fmt(vals[i], digits) if i in vals else "" for i in range(len(models)))
        text, html_label, tex = _random_label(kind, label)
        random_rows.append(Row(text, cells, span=True, label_html=html_label, label_latex=tex))

    fit_rows = []
    stats = [
        ("Observations", lambda m: f"{m.nobs}"),
        ("R\u00b2 / R\u00b2 adjusted",
         lambda m: None if is_mixed(m) else f"{m.r_squared:.3f} / {m.adj_r_squared:.3f}"),
        ("Estimation", _method),
        ("AIC", lambda m: f"{m.aic:.1f}"),
        ("BIC", lambda m: f"{m.bic:.1f}"),
        ("log-Likelihood", lambda m: f"{m.loglik:.1f}"),
    ]
    for label, fn in stats:
        values = [fn(m) for m in models]
        if all(v is None for v in values):
            continue
        fit_rows.append(Row(label, tuple(v or "" for v in values), span=True))
        for name, v in zip(names, values):
            if v is not None:
                records.append({"model": name, "section": "fit", "term": label, "estimate": v})

    sections = [Section(None, tuple(fixed_rows))]
    if random_rows:
        sections.append(Section("Random effects", tuple(random_rows)))
    sections.append(Section(None, tuple(fit_rows)))
    notes = []
    if n_omitted:
        notes.append(f"{n_omitted} coefficient{'s' if n_omitted != 1 else ''} left out "
                     "(see the models' summaries).")
    if p_values and any(is_mixed(m) for m in models):
        notes.append("p-values of mixed models: Wald z (normal approximation), as sjPlot.")
    if any(is_mixed(m) for m in models):
        notes.append("ICC: random-effect variance / (random-effect + residual variance), "
                     "averaged over the data for random slopes"
                     + ("; for binomial models the residual variance is π²/3 "
                        "(logit) or 1 (probit)." if any(getattr(m, "kind", "") == "glmer"
                                                        for m in models) else "."))
    table = Table(stub="Predictors", columns=tuple(sub * len(models)),
                  groups=tuple((n, width) for n in names), sections=tuple(sections),
                  notes=tuple(notes))
    frame = pd.DataFrame.from_records(records).reindex(
        columns=["model", "section", "term", "estimate", "std_error", "conf_low", "conf_high",
                 "p_value"])
    return ComparisonTable(table, frame, names)


def _random_label(kind: str, label: str) -> tuple[str, str, str]:
    """Plain text, HTML and LaTeX labels of a random-part row (sjPlot's notation)."""
    import html

    esc = html.escape
    from .table import escape_latex as el

    if kind == "sigma2":
        return "\u03c3\u00b2", "\u03c3<sup>2</sup>", r"$\sigma^2$"
    if kind == "icc":
        return "ICC", "ICC", "ICC"
    if kind == "n":
        return f"N {label}", f"N <sub>{esc(label)}</sub>", f"N$_{{\\mathrm{{{el(label)}}}}}$"
    sym = {"tau00": ("\u03c4\u2080\u2080", "&tau;<sub>00</sub>", r"$\tau_{00}$"),
           "tau11": ("\u03c4\u2081\u2081", "&tau;<sub>11</sub>", r"$\tau_{11}$"),
           "rho01": ("\u03c1\u2080\u2081", "&rho;<sub>01</sub>", r"$\rho_{01}$")}[kind]
    return (f"{sym[0]} {label}", f"{sym[1]} <sub>{esc(label)}</sub>",
            f"{sym[2]} {el(label)}")
