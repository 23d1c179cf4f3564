"""A small table model with four renderers: plain text, HTML, Markdown and LaTeX.

Cells are strings, already formatted; every renderer escapes them for its format, so labels
that come from data (column names, factor levels) can never inject markup. Columns may be
grouped under a spanning header (one group per model in :func:`multilevel.compare`), and a
row may be *spanned*: one value per column group instead of one per column (model
statistics such as AIC).
"""
from __future__ import annotations

import html as _html
from dataclasses import dataclass, field

__all__ = ["Row", "Section", "Table", "escape_latex", "escape_markdown"]


@dataclass(frozen=True)
class Row:
    """One body row: a label and its cells.

    Attributes
    ----------
    label : str                 -- plain-text label
    cells : tuple of str        -- one per column, or one per column group when `span`
    span : bool
    label_html : str or None    -- trusted HTML for the label (e.g. ``τ<sub>00</sub>``);
                                   plain `label` (escaped) when None
    label_latex : str or None   -- trusted LaTeX for the label
    """

    label: str
    cells: tuple[str, ...]
    span: bool = False
    label_html: str | None = None
    label_latex: str | None = None


@dataclass(frozen=True)
class Section:
    """Rows under an optional section heading."""

    title: str | None
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Table:
    """A table: header, optional column groups, sections of rows, notes.

    Attributes
    ----------
    stub : str                          -- header of the label column
    columns : tuple of str              -- headers of the value columns
    groups : tuple of (str, int)        -- spanning headers over consecutive columns; empty
                                           for none (then a spanned row needs one group)
    sections : tuple of Section
    title : str or None
    notes : tuple of str
    """

    stub: str
    columns: tuple[str, ...]
    sections: tuple[Section, ...]
    groups: tuple[tuple[str, int], ...] = ()
    title: str | None = None
    notes: tuple[str, ...] = field(default=())
    align: tuple[str, ...] = ()  # per value column: "l" or "r" (default all "r")

    def _align(self, j: int) -> str:
        return self.align[j] if j < len(self.align) else "r"

    # ----- helpers -----------------------------------------------------------------------
    def _groups(self) -> list[tuple[str, int]]:
        return list(self.groups) or [("", len(self.columns))]

    def _expand(self, row: Row) -> list[str]:
        """A spanned row as one cell per column (value in the group's first column)."""
        if not row.span:
            return list(row.cells)
        out: list[str] = []
        for value, (_, width) in zip(row.cells, self._groups()):
            out.extend([value] + [""] * (width - 1))
        return out

    # ----- text ----------------------------------------------------------------------------
    def to_text(self) -> str:
        """Fixed-width text (what ``str()`` and ``print()`` show)."""
        gap = 2
        groups = self._groups()
        all_rows = [r for s in self.sections for r in s.rows]
        lw = max([len(self.stub)] + [len(r.label) for r in all_rows]
                 + [len(s.title or "") for s in self.sections])
        widths = [len(c) for c in self.columns]
        for r in all_rows:
            if not r.span:
                for j, c in enumerate(r.cells):
                    widths[j] = max(widths[j], len(c))
        # group headers and spanned cells must fit their columns
        start = 0
        bounds = []
        for gi, (name, w) in enumerate(groups):
            need = max([len(name)] + [len(r.cells[gi]) for r in all_rows if r.span])
            have = sum(widths[start:start + w]) + gap * (w - 1)
            if need > have:
                widths[start + w - 1] += need - have
            bounds.append((start, w))
            start += w
        gw = [sum(widths[s:s + w]) + gap * (w - 1) for s, w in bounds]
        total = lw + sum(g + 3 for g in gw)
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append("=" * total)
        if self.groups:
            lines.append(" " * lw + "".join("   " + name.center(g) for (name, _), g
                                            in zip(groups, gw)).rstrip())
            lines.append(" " * lw + "".join("   " + "-" * g for g in gw))
        head = self.stub.ljust(lw)
        for s, w in bounds:
            head += "   " + (" " * gap).join(self._just(self.columns[j], widths[j], j)
                                             for j in range(s, s + w))
        lines.append(head.rstrip())
        lines.append("-" * total)
        for si, sec in enumerate(self.sections):
            if si:
                lines.append("-" * total)
            if sec.title:
                lines.append(sec.title)
            for r in sec.rows:
                line = r.label.ljust(lw)
                for gi, ((s, w), g) in enumerate(zip(bounds, gw)):
                    if r.span:
                        line += "   " + r.cells[gi].center(g)
                    else:
                        line += "   " + (" " * gap).join(self._just(r.cells[j], widths[j], j)
                                                         for j in range(s, s + w))
                lines.append(line.rstrip())
        lines.append("=" * total)
        lines.extend(self.notes)
        return "\n".join(lines) + "\n"

    def _just(self, text: str, width: int, j: int) -> str:
        return text.ljust(width) if self._align(j) == "l" else text.rjust(width)

    def __str__(self) -> str:
        return self.to_text()

    # ----- HTML ----------------------------------------------------------------------------
    def to_html(self, *, table_class: str = "ml-table") -> str:
        """An HTML ``<table>`` (every data-derived string escaped)."""
        esc = _html.escape
        groups = self._groups()
        ncols = 1 + len(self.columns)
        out = [f'<table class="{esc(table_class)}">']
        if self.title:
            out.append(f"<caption>{esc(self.title)}</caption>")
        out.append("<thead>")
        if self.groups:
            cells = "".join(f'<th colspan="{w}" class="ml-group">{esc(name)}</th>'
                            for name, w in groups)
            out.append(f"<tr><th></th>{cells}</tr>")
        cells = "".join(f'<th class="ml-col{self._cls(j)}">{esc(c)}</th>'
                        for j, c in enumerate(self.columns))
        out.append(f'<tr><th class="ml-stub">{esc(self.stub)}</th>{cells}</tr>')
        out.append("</thead>")
        for sec in self.sections:
            out.append("<tbody>")
            if sec.title:
                out.append(f'<tr class="ml-section"><th colspan="{ncols}">{esc(sec.title)}'
                           "</th></tr>")
            for r in sec.rows:
                label = r.label_html if r.label_html is not None else esc(r.label)
                if r.span:
                    cells = "".join(f'<td colspan="{w}" class="ml-span">{esc(v)}</td>'
                                    for v, (_, w) in zip(r.cells, groups))
                else:
                    cells = "".join(f"<td{self._cls(j, attr=True)}>{esc(v)}</td>"
                                    for j, v in enumerate(r.cells))
                out.append(f'<tr><th class="ml-label">{label}</th>{cells}</tr>')
            out.append("</tbody>")
        if self.notes:
            notes = "<br>".join(esc(n) for n in self.notes)
            out.append(f'<tfoot><tr><td colspan="{ncols}" class="ml-notes">{notes}</td></tr>'
                       "</tfoot>")
        out.append("</table>")
        return "\n".join(out)

    def _cls(self, j: int, attr: bool = False) -> str:
        if self._align(j) != "l":
            return ""
        return ' class="ml-left"' if attr else " ml-left"

    def _repr_html_(self) -> str:
        from .assets import TABLE_CSS

        # a wide table (many models side by side) scrolls inside its box, never the page
        return (f"<style>{TABLE_CSS}</style>\n"
                f'<div style="overflow-x: auto; max-width: 100%">{self.to_html()}</div>')

    # ----- Markdown --------------------------------------------------------------------------
    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table (column groups folded into the headers)."""
        groups = self._groups()
        headers = []
        j = 0
        for name, w in groups:
            for _ in range(w):
                col = self.columns[j]
                headers.append(f"{name} {col}".strip() if self.groups else col)
                j += 1
        em = escape_markdown
        lines = []
        if self.title:
            lines += [f"**{em(self.title)}**", ""]
        lines.append("| " + " | ".join([em(self.stub)] + [em(h) for h in headers]) + " |")
        lines.append("|:--|" + "|".join(":--" if self._align(j) == "l" else "--:"
                                          for j in range(len(headers))) + "|")
        for sec in self.sections:
            if sec.title:
                lines.append(f"| **{em(sec.title)}** " + "| " * len(headers) + "|")
            for r in sec.rows:
                lines.append("| " + " | ".join([em(r.label)] + [em(c) for c in self._expand(r)])
                             + " |")
        if self.notes:
            lines.append("")
            lines.extend(em(n) + "  " for n in self.notes)
        return "\n".join(lines) + "\n"

    # ----- LaTeX -----------------------------------------------------------------------------
    def to_latex(self) -> str:
        """A LaTeX ``tabular`` using booktabs rules (``\\usepackage{booktabs}``)."""
        el = escape_latex
        groups = self._groups()
        n = len(self.columns)
        spec = "".join(self._align(j) for j in range(n))
        lines = [r"\begin{tabular}{l" + spec + "}", r"\toprule"]
        if self.title:
            lines.insert(0, f"% {self.title}")
        if self.groups:
            cells = [f"\\multicolumn{{{w}}}{{c}}{{{el(name)}}}" for name, w in groups]
            lines.append(" & " + " & ".join(cells) + r" \\")
            s = 2
            rules = []
            for _, w in groups:
                rules.append(f"\\cmidrule(lr){{{s}-{s + w - 1}}}")
                s += w
            lines.append(" ".join(rules))
        lines.append(" & ".join([el(self.stub)] + [el(c) for c in self.columns]) + r" \\")
        lines.append(r"\midrule")
        for si, sec in enumerate(self.sections):
            if si:
                lines.append(r"\midrule")
            if sec.title:
                lines.append(f"\\multicolumn{{{n + 1}}}{{l}}{{\\textit{{{el(sec.title)}}}}} \\\\")
            for r in sec.rows:
                label = r.label_latex if r.label_latex is not None else el(r.label)
                if r.span:
                    cells = [f"\\multicolumn{{{w}}}{{c}}{{{el(v)}}}" if w > 1 else el(v)
                             for v, (_, w) in zip(r.cells, groups)]
                else:
                    cells = [el(c) for c in r.cells]
                lines.append(" & ".join([label] + cells) + r" \\")
        lines.append(r"\bottomrule")
        lines.append(r"\end{tabular}")
        for note in self.notes:
            lines.append(f"% {note}")
        return "\n".join(lines) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
          "–": "--", "σ": r"$\sigma$", "τ": r"$\tau$", "ρ": r"$\rho$", "²": r"$^2$"}


def escape_latex(text: str) -> str:
    """Escape LaTeX's special characters.

    Examples
    --------
    >>> escape_latex("as.factor(schnum)2 & 50% _x_")
    'as.factor(schnum)2 \\\\& 50\\\\% \\\\_x\\\\_'
    """
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def escape_markdown(text: str) -> str:
    """Escape what would break a Markdown table cell or turn into markup.

    Examples
    --------
    >>> escape_markdown("a|b <script>")
    'a\\\\|b &lt;script&gt;'
    """
    text = str(text).replace("\\", "\\\\").replace("|", "\\|")
    for ch in "*_`[]":
        text = text.replace(ch, "\\" + ch)
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
