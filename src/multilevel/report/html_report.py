"""``ml.report``: the lesson as one self-contained HTML page.

The page has a data overview, the group-means table, the data figure, one section per model
(two plain sentences on what it assumes, R's summary, its figures), the side-by-side
comparison with the coefficient plot and, when :func:`multilevel.anova` is available, the
likelihood-ratio table of the mixed models. CSS and figures (base64 PNG or SVG) are inline,
the page loads nothing from the network (a Content-Security-Policy says so to the browser),
and every string that comes from the data or the formulas is HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["report"]

_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'")
_MAX_OVERVIEW_COLUMNS = 40
_MAX_GROUP_ROWS = 50  # group-means table: the first and last 50 groups beyond 100


# ----- small helpers ---------------------------------------------------------------------------
def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _rich(text: str) -> str:
    """Escape, then turn `name` into <code>name</code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _esc(text))


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("multilevel")
    except Exception:  # noqa: BLE001 - not installed: no version to show
        return ""


def _is_mixed(model) -> bool:
    from .broom import is_mixed

    return is_mixed(model)


class _Figures:
    """Renders figures to inline images (matplotlib's object API: no pyplot state)."""

    def __init__(self, fmt: str = "png", dpi: int = 120):
        if fmt not in ("png", "svg"):
            from ..errors import DataError

            raise DataError(f"image_format must be 'png' or 'svg', not {fmt!r}")
        self.fmt = fmt
        self.dpi = dpi
        self.count = 0

    def render(self, draw: Callable, size: tuple[float, float], alt: str, caption: str,
               fig_id: str) -> str:
        import matplotlib as mpl
        from matplotlib.figure import Figure

        from ..plots._style import RC

        with mpl.rc_context(RC):
            fig = Figure(figsize=size, layout="constrained")
            draw(fig)
            buf = io.BytesIO()
            fig.savefig(buf, format=self.fmt, dpi=self.dpi, facecolor="white")
        mime = "image/png" if self.fmt == "png" else "image/svg+xml"
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        self.count += 1
        width = int(round(size[0] * 96))
        return (f'<figure id="{_esc(fig_id)}"><img class="ml-fig" alt="{_esc(alt)}" '
                f'width="{width}" src="data:{mime};base64,{data}">'
                f"<figcaption>{_rich(caption)}</figcaption></figure>")


def _num(v) -> str:
    """A number for people: whole numbers (ID-like columns: 41234) as integers, others with 3
    significant digits, never in scientific notation below 1e15.

    Examples
    --------
    >>> _num(41234.0), _num(0.123456), _num(123456.7), _num(-2.5e-7)
    ('41234', '0.123', '123457', '-2.5e-07')
    """
    import math

    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    if 1e3 <= abs(v) < 1e15:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _frame_table(frame, *, digits: int = 3, stub: str | None = None, index: bool = True):
    """A DataFrame as a :class:`~multilevel.report.table.Table` (numbers rounded)."""
    import numpy as np
    import pandas as pd

    from .table import Row, Section, Table

    def cell(v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return f"{v}"
        if isinstance(v, (float, np.floating)):
            return f"{v:.{digits}f}"
        return str(v)

    rows = []
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    for r, key in enumerate(frame.index):
        label = str(key) if index else ""
        rows.append(Row(label, tuple(cell(col[r]) for col in columns)))
    stub = stub if stub is not None else (str(frame.index.name or "") if index else "")
    del pd
    return Table(stub=stub, columns=tuple(str(c) for c in frame.columns),
                 sections=(Section(None, tuple(rows)),))


# ----- model handling ----------------------------------------------------------------------------
def _normalise(models, names, data, reml: bool, data_name: str | None = None):
    """(name, model or None, formula, error, warnings) for each model or formula given."""
    from ..errors import MultilevelError

    if isinstance(models, dict):
        names = list(models) if names is None else names
        items = list(models.values())
    elif isinstance(models, (str, bytes)) or hasattr(models, "fixef"):
        items = [models]
    else:
        items = list(models)
    if not items:
        from ..errors import DataError

        raise DataError("report() needs at least one model or formula")
    names = [f"Model {i + 1}" for i in range(len(items))] if names is None else list(names)
    if len(names) != len(items):
        from ..errors import DataError

        raise DataError(f"{len(names)} names for {len(items)} models")
    out = []
    for name, item in zip(names, items):
        if isinstance(item, str):
            if data is None:
                from ..errors import DataError

                raise DataError("formulas need data=: report(['y ~ x'], data=frame)")
            from ..fit.lm import lm
            from ..fit.lmer import lmer

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if "|" in item:
                        model = lmer(item, data, reml=reml, data_name=data_name)
                    else:
                        model = lm(item, data, data_name=data_name)
                    error = None
                except MultilevelError as exc:
                    model, error = None, " ".join(str(exc).split())
            msgs = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
            out.append((name, model, item, error, msgs))
        else:
            out.append((name, item, item.formula, None, list(getattr(item, "messages", []) or [])))
    return out


def _model_data_name(models) -> str | None:
    items = models.values() if isinstance(models, dict) else (
        [models] if hasattr(models, "fixef") or isinstance(models, str) else models)
    for m in items:
        name = getattr(m, "data_name", None)
        if name:
            return str(name)
    return None


def _roles(fitted, data, group, x):
    """The response, the x variable and the grouping column of the lesson's figures."""
    from ..plots.scatter import _default_x
    from .explain import grouping_of

    models = [m for _, m, *_ in fitted if m is not None]
    y = models[0].design.response_name if models else None
    if x is None and models:
        for m in models:
            try:
                x = _default_x(m, set())
                if not x.startswith(("as.factor(", "factor(")):
                    break
            except ValueError:
                continue
    if group is None:
        for m in models:
            for t in getattr(m.design, "re_terms", None) or []:
                if data is None or t.group in data.columns:
                    group = t.group
                    break
            if group is not None:
                break
        if group is None:
            for m in models:
                g, _ = grouping_of(m)
                if g is not None and (data is None or g in data.columns):
                    group = g
                    break
    return y, x, group


# ----- sections --------------------------------------------------------------------------------
def _overview(data, group) -> str:
    import pandas as pd

    from .table import Row, Section, Table

    n, p = data.shape
    cards = [(f"{n:,}", "rows"), (f"{p:,}", "columns")]
    if group is not None and group in data.columns:
        cards.append((f"{data[group].nunique(dropna=True):,}", f"groups ({group})"))
    n_missing = int(data.isna().any(axis=1).sum())
    cards.append((f"{n_missing:,}", "rows with missing values"))
    parts = ['<div class="ml-grid">']
    for value, label in cards:
        parts.append(f'<div class="ml-card"><b>{_esc(value)}</b><span>{_esc(label)}</span></div>')
    parts.append("</div>")
    labels = data.attrs.get("labels") or {}
    rows = []
    for col in list(data.columns)[:_MAX_OVERVIEW_COLUMNS]:
        s = data[col]
        nonmiss = int(s.notna().sum())
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
            levels = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                      else list(pd.unique(s.dropna())))
            shown = ", ".join(str(v) for v in levels[:5]) + (", \u2026" if len(levels) > 5 else "")
            kind = "category" if isinstance(s.dtype, pd.CategoricalDtype) else "text"
            summary = f"{len(levels)} levels: {shown}"
        else:
            kind = "number" if not pd.api.types.is_bool_dtype(s) else "logical"
            summary = (f"mean {_num(s.mean())}, sd {_num(s.std())}, range {_num(s.min())} to "
                       f"{_num(s.max())}" if nonmiss else "all missing")
        rows.append(Row(str(col), (str(labels.get(col, "") or ""), kind, f"{nonmiss:,}", summary)))
    table = Table(stub="Variable", columns=("Label", "Type", "Non-missing", "Summary"),
                  sections=(Section(None, tuple(rows)),), align=("l", "l", "r", "l"))
    parts.append('<div class="ml-scroll">' + table.to_html(table_class="ml-table ml-overview")
                 + "</div>")
    if p > _MAX_OVERVIEW_COLUMNS:
        parts.append(f"<p>\u2026 and {p - _MAX_OVERVIEW_COLUMNS} more columns.</p>")
    return "\n".join(parts)


def _group_means(data, group, variables) -> str:
    import numpy as np

    from .tables import group_summary

    summary = group_summary(data, by=group, vars=variables)
    n = len(summary)
    note = ""
    if n > 2 * _MAX_GROUP_ROWS:  # many groups: the first and last ones, and a note
        summary = summary.iloc[np.r_[:_MAX_GROUP_ROWS, n - _MAX_GROUP_ROWS:n]]
        note = (f"<p>The first and last {_MAX_GROUP_ROWS} of the {n:,} groups; "
                "<code>ml.group_summary(data, by=...)</code> gives them all.</p>")
    table = _frame_table(summary, digits=2)
    tall = len(summary) > 15
    style = ' style="max-height: 26rem"' if tall else ""
    return f'<div class="ml-scroll"{style}>{table.to_html()}</div>{note}'


def _lrt(named) -> str | None:
    """The likelihood-ratio table from ``ml.anova`` (another module), when it exists.

    Tries all models, then the mixed models with the plain ``lm`` fits (no group dummies),
    then the mixed models alone: the first set ``ml.anova`` accepts as nested is shown.
    """
    anova = _anova_function()
    mixed = [(n, m) for n, m in named if _is_mixed(m)]
    if anova is None or not mixed:
        return None
    plain = [(n, m) for n, m in named if not _is_mixed(m) and not _has_dummies(m)]
    tried = []
    for subset in (list(named), mixed + plain, mixed):
        keys = [n for n, _ in subset]
        if len(subset) < 2 or keys in tried or len({m.nobs for _, m in subset}) != 1:
            continue
        tried.append(keys)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = anova(*[m for _, m in subset], model_names=keys)
        except Exception:  # noqa: BLE001 - not nested or not comparable: try fewer
            continue
        return _anova_html(result)
    return None


def _anova_function():
    """``ml.anova`` when the installed multilevel has it, else None."""
    try:
        from ..inference import anova
    except ImportError:  # pragma: no cover - a partial installation
        return None
    return anova


def _has_dummies(model) -> bool:
    from .explain import grouping_of

    return grouping_of(model)[0] is not None


def _anova_html(result) -> str:
    import numpy as np

    from .table import Row, Section, Table

    if not hasattr(result, "iloc"):
        if hasattr(result, "_repr_html_"):
            return result._repr_html_()
        return f'<pre class="ml-summary">{_esc(result)}</pre>'

    def cell(col: str, v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if col.startswith("Pr("):
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if col in ("npar", "Df", "Res.Df") or isinstance(v, (int, np.integer)):
            return f"{int(v)}"
        return f"{v:.2f}" if isinstance(v, (float, np.floating)) else str(v)

    cols = [str(c) for c in result.columns]
    rows = tuple(Row(str(idx), tuple(cell(c, v) for c, v in zip(cols, rec)))
                 for idx, rec in zip(result.index, result.itertuples(index=False)))
    notes = tuple(str(m) for m in (result.attrs.get("messages") or []))
    return Table(stub="", columns=tuple(cols), sections=(Section(None, rows),),
                 notes=notes).to_html()


def _section_model(i, name, model, formula, error, msgs, figs, *, x, group_hint, digits,
                   data) -> str:
    from ..plots.caterpillar import ranef as ranef_plot
    from ..plots.diagnostics import diagnostics
    from ..plots.scatter import group_lines
    from .explain import describe_model, grouping_of

    out = [f'<section id="model-{i}">',
           f"<h2>{_esc(name)}: <code>{_esc(formula)}</code></h2>"]
    if error is not None:
        out.append(f'<p class="ml-error">This model could not be fitted: {_esc(error)}</p>')
        out.append("</section>")
        return "\n".join(out)
    out.append(f'<p class="ml-intro">{_rich(describe_model(model, group_hint=group_hint))}</p>')
    for msg in msgs:
        out.append(f'<p class="ml-warn">Warning: {_esc(msg)}</p>')
    out.append(f'<pre class="ml-summary">{_esc(model.summary(digits=digits))}</pre>')
    mixed = _is_mixed(model)
    g, _ = grouping_of(model)
    if g is not None:
        def draw_lines(fig, model=model):
            group_lines(model, x if x in model.design.xnames else None,
                        ax=fig.add_subplot(), jitter=_jitter_for(model, x))
        try:
            caption = ("Each group's fitted line over the data (a colour per group); the bold "
                       "line is " + ("the fixed effects: the average line." if mixed else
                                     "the intercept and slope of the reference group."))
            out.append(figs.render(draw_lines, (7.6, 4.6), f"{name}: fitted lines per group",
                                   caption, f"fig-lines-{i}"))
        except ValueError:
            pass
    if mixed:
        re = model.ranef(cond_var=False)
        for g, part in re.groupby("grpvar", sort=False):
            terms = list(dict.fromkeys(part["term"]))
            n_levels = int(part["grp"].nunique())
            size = (max(3.4 * len(terms), 5.0), min(0.24 * n_levels + 1.4, 16.0))

            def draw_ranef(fig, g=g, n=len(terms)):  # noqa: B008 - bound per figure
                ranef_plot(model, group=g, ax=_grid(fig, n, n))
            out.append(figs.render(
                draw_ranef, size, f"{name}: random effects of {g} with 95% intervals",
                f"Each `{g}`'s random effect (conditional mode) with a 95% interval "
                "(\u00b1 1.96 conditional SD), sorted; 0 is the average given by the fixed "
                "effects.", f"fig-ranef-{i}-{len(out)}"))
    if mixed:  # the effect plot and the pooling figure (report/effect_figures.py)
        from .effect_figures import effect_figures

        out.extend(effect_figures(i, name, model, figs, x=x, data=data))
    n_panels = 2 + (model.ranef(cond_var=False).groupby(["grpvar", "term"]).ngroups
                    if mixed else 0)
    ncols = n_panels if n_panels <= 3 else (2 if n_panels == 4 else 3)
    nrows = -(-n_panels // ncols)
    out.append(figs.render(lambda fig: diagnostics(model, ax=_grid(fig, n_panels, ncols)),
                           (min(3.6 * ncols, 10.5), 3.1 * nrows),
                           f"{name}: diagnostic plots",
                           "Checks: residuals should scatter evenly around 0 with no pattern, "
                           "and points in the QQ plots should lie near the line if the "
                           "residuals and random effects are normal.", f"fig-diag-{i}"))
    out.append("</section>")
    return "\n".join(out)


def _many_dummies(models, limit: int = 12) -> list[str]:
    """Group-dummy terms (``as.factor(g)k``) of models with more than `limit` of them: too
    many rows for the comparison table and the coefficient plot."""
    from .explain import grouping_of

    out: list[str] = []
    for m in models:
        g, k = grouping_of(m)
        if g is None or _is_mixed(m) or (k or 0) - 1 <= limit:
            continue
        out += [t for t in m.fixef.index if re.match(r"^(?:as\.factor|factor|C)\(", t)
                and t not in out]
    return out


def _grid(fig, n: int, ncols: int) -> list:
    """``n`` Axes in rows of ``ncols`` on `fig` (unused cells removed)."""
    nrows = -(-n // ncols)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for extra in axes[n:]:
        extra.remove()
    return axes[:n]


def _jitter_for(model, x) -> float:
    import numpy as np

    if x is None or x not in model.design.xnames:
        return 0.0
    col = np.asarray(model.design.X)[:, list(model.design.xnames).index(x)]
    uniq = np.unique(col)
    if len(uniq) <= 15 and np.allclose(uniq, np.round(uniq)):
        return 0.12
    return 0.0


# ----- the page -------------------------------------------------------------------------------
def report(models, data=None, *, path: str | os.PathLike | None = None,
           title: str | None = None, names: Sequence[str] | None = None,
           group: str | None = None, x: str | None = None, reml: bool = False,
           digits: int | None = None, image_format: str = "png", data_name: str | None = None,
           progress: Callable[[str], None] | None = None) -> str:
    """Write the lesson's report: one self-contained HTML page with tables and figures.

    Parameters
    ----------
    models : model, formula, list of them, or dict ``{name: model}``
        Fitted models, or formulas to fit on `data` (``lmer`` when they have a bar, else
        ``lm``).
    data : DataFrame, optional
        The data of the models: adds the data overview, the group-means table and the data
        figure. Needed for formulas.
    path : path-like, optional
        Where to write the page (UTF-8); the HTML is returned either way.
    title : str, optional
        Page title (default: "Multilevel models of <response>").
    names : list of str, optional
        Section names (``Model 1``, ... by default; dict keys for a dict).
    group, x : str, optional
        Grouping column and x variable of the figures (found from the models by default).
    reml : bool
        For formulas: fit mixed models by REML (default ML, as the lesson, which likelihood-
        ratio tests need).
    digits : int, optional
        Significant digits of the summaries; default :func:`multilevel.options`' ``digits``
        (7, R's default; the lesson sets ``ml.options(digits=3)``, the command line 3).
    image_format : {"png", "svg"}
    data_name : str, optional
        The data's name in the summaries (``Data: imm10``); default ``data.attrs["name"]``
        (set by :func:`multilevel.read`), else ``"data"``.
    progress : callable, optional
        Called with a short message before each step (the command line shows them).

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> import multilevel as ml, tempfile, os
    >>> sleep = ml.datasets.load("sleepstudy")
    >>> out = os.path.join(tempfile.mkdtemp(), "report.html")
    >>> page = ml.report(["Reaction ~ Days", "Reaction ~ Days + (Days | Subject)"],
    ...                  data=sleep, path=out)
    >>> page.startswith("<!DOCTYPE html>") and os.path.exists(out)
    True
    """
    from ..plots.scatter import scatter_fit
    from ..plots.coefs import coefficients
    from .tables import compare

    if data is not None:
        from .._data_input import to_pandas

        data = to_pandas(data)  # polars and pyarrow too; the report works on pandas
    if path is not None:  # before any fitting: a missing folder, or the data file itself
        from .._validate import output_path

        path = output_path(path, inputs=[data, models], what="report")
    say = progress or (lambda message: None)
    say("fitting models")
    if data_name is None and data is not None:
        data_name = data.attrs.get("name") or _model_data_name(models) or "data"
    fitted = _normalise(models, names, data, reml, data_name)
    ok = [(n, m) for n, m, _, err, _ in fitted if m is not None]
    y, x, group = _roles(fitted, data, group, x)
    figs = _Figures(image_format)
    data_name = data_name or next(
        (getattr(m, "data_name", None) for _, m in ok if getattr(m, "data_name", None)), None)
    page_title = title or (f"Multilevel models of {y}" if y else "Multilevel models")

    toc: list[tuple[str, str]] = []
    body: list[str] = []
    if data is not None:
        say("describing the data")
        toc.append(("data", "The data"))
        section = ['<section id="data">', "<h2>The data</h2>", _overview(data, group)]
        present = [v for v in (y, x) if v is not None and v in data.columns]
        if group is not None and group in data.columns and present:
            section.append(f"<h3>Group means by <code>{_esc(group)}</code></h3>")
            section.append(f"<p>Number of {', '.join(f'<code>{_esc(v)}</code>' for v in present)}"
                           " values and their means in each group.</p>")
            section.append(_group_means(data, group, present))
        if y in data.columns and x is not None and x in data.columns:
            import pandas as pd

            if pd.api.types.is_numeric_dtype(data[x]) and pd.api.types.is_numeric_dtype(data[y]):
                say("drawing the data")

                def draw_data(fig):
                    scatter_fit(data, x, y, group=group if group in data.columns else None,
                                ax=fig.add_subplot(), jitter=_jitter_for(ok[0][1], x)
                                if ok else 0.0)
                section.append(figs.render(
                    draw_data, (7.6, 4.6), f"{y} against {x}",
                    f"`{y}` against `{x}`"
                    + (f", a colour per `{group}`" if group in data.columns else "")
                    + ", with the ordinary least-squares line and its 95% confidence band.",
                    "fig-data"))
        section.append("</section>")
        body.append("\n".join(section))

    group_hint = group
    for i, (name, model, formula, error, msgs) in enumerate(fitted, start=1):
        say(f"{name}: summary and figures")
        toc.append((f"model-{i}", f"{name}: {formula}"))
        body.append(_section_model(i, name, model, formula, error, msgs, figs, x=x,
                                   group_hint=group_hint, digits=digits, data=data))

    if ok:
        say("comparing the models")
        toc.append(("comparison", "The models side by side"))
        wide = len(ok) > 3
        many = _many_dummies([m for _, m in ok])
        short = any(len(n) > 16 for n, _ in ok)
        labelled = {(f"Model {k}" if short else n): m for k, (n, m) in enumerate(ok, start=1)}
        cmp = compare(labelled, show="se" if wide else "ci", p_values=not wide,
                      omit=many or None)
        section = ['<section id="comparison">', "<h2>The models side by side</h2>",
                   "<p>Estimates with " + ("standard errors" if wide else
                                           "95% confidence intervals and p-values")
                   + "; below them the variances of "
                   "the random effects, the intraclass correlation (ICC), the numbers of groups "
                   "and observations, and the fit statistics (smaller AIC and BIC fit better, "
                   "compared on the same data).</p>"]
        if short:
            section.append('<ul class="ml-key">' + "".join(
                f"<li><b>Model {k}</b>: {_esc(n)}, <code>{_esc(m.formula)}</code></li>"
                for k, (n, m) in enumerate(ok, start=1)) + "</ul>")
        section.append(f'<div class="ml-scroll">{cmp.to_html()}</div>')
        kept = [t for t in dict.fromkeys(t for _, m in ok for t in m.fixef.index)
                if t != "(Intercept)" and t not in many]
        if kept:
            from ..plots.coefs import figure_size

            def draw_coefs(fig):
                coefficients(labelled, terms=kept, ax=fig.add_subplot())
            _, height = figure_size(labelled, terms=kept)
            left_out = (f"; the {len(many)} group dummies are left out too" if many else "")
            section.append(figs.render(
                draw_coefs, (7.6, min(height, 14.0)), "coefficient plot",
                "Estimates (dots) and 95% confidence intervals (lines) of each model, "
                f"intercepts left out{left_out}; the grey line marks zero.", "fig-coefs"))
        section.append("</section>")
        body.append("\n".join(section))
        lrt = _lrt(ok)
        if lrt is not None:
            toc.append(("lrt", "Likelihood-ratio tests"))
            body.append('<section id="lrt"><h2>Likelihood-ratio tests</h2>'
                        "<p>Nested models compared by their log-likelihoods (REML fits refitted by "
                        "maximum likelihood where needed): a small p-value says the larger "
                        "model fits better than chance alone would explain.</p>"
                        f'<div class="ml-scroll">{lrt}</div></section>')

    say("writing the page")
    from .assets import REPORT_CSS, TABLE_CSS

    subtitle = []
    if data_name:
        subtitle.append(f"Data: <code>{_esc(data_name)}</code>"
                        + (f" ({len(data):,} rows)" if data is not None else ""))
    n_models = len(fitted)
    line = f"{n_models} model{'s' if n_models != 1 else ''}"
    methods = {bool(getattr(m, "reml", False)) for _, m in ok if _is_mixed(m)}
    if methods:
        line += ", mixed models fitted by " + (
            "REML" if methods == {True} else "maximum likelihood" if methods == {False}
            else "REML and maximum likelihood")
    subtitle.append(_esc(line))
    nav = "".join(f'<li><a href="#{_esc(a)}">{_esc(t)}</a></li>' for a, t in toc)
    version = _version()
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="multilevel {_esc(version)}">
<title>{_esc(page_title)}</title>
<style>{REPORT_CSS}{TABLE_CSS}</style>
</head>
<body>
<main>
<header class="ml-head">
<h1>{_esc(page_title)}</h1>
{"".join(f"<p>{s}</p>" for s in subtitle)}
</header>
<nav class="ml-toc" aria-label="Contents"><b>Contents</b><ol>{nav}</ol></nav>
{chr(10).join(body)}
<footer>Made with multilevel {_esc(version)}: lme4's models in Python. {figs.count} figures,
all inline; this page loads nothing from the network.</footer>
</main>
</body>
</html>
"""
    if path is not None:
        from .._validate import atomic_write_text

        atomic_write_text(path, page)
    return page
