"""Style sheets inlined into HTML output (no network: the report is one self-contained file)."""
from __future__ import annotations

__all__ = ["TABLE_CSS", "REPORT_CSS"]

#: Tables of :mod:`multilevel.report.table` (also used in Jupyter by ``_repr_html_``).
TABLE_CSS = """
table.ml-table { border-collapse: collapse; font-variant-numeric: tabular-nums;
  font-size: 0.92rem; margin: 0.6rem 0 1.2rem; border-top: 2px solid #333;
  border-bottom: 2px solid #333; }
table.ml-table caption { caption-side: top; text-align: left; font-weight: 600;
  padding-bottom: 0.4rem; }
table.ml-table th, table.ml-table td { padding: 0.28rem 0.7rem; text-align: right;
  white-space: nowrap; }
table.ml-table thead th { border-bottom: 1px solid #333; font-weight: 600; }
table.ml-table thead th.ml-group { text-align: center; border-bottom: 1px solid #999; }
table.ml-table th.ml-stub, table.ml-table th.ml-label { text-align: left; font-weight: 500; }
table.ml-table td.ml-span { text-align: center; }
table.ml-table .ml-left { text-align: left; }
table.ml-table tr.ml-section th { text-align: left; font-style: italic; font-weight: 600;
  background: #f4f6f8; border-top: 1px solid #bbb; }
table.ml-table tbody + tbody tr:first-child th, table.ml-table tbody + tbody tr:first-child td {
  border-top: 1px solid #bbb; }
table.ml-table td.ml-notes { text-align: left; font-size: 0.8rem; color: #555;
  white-space: normal; padding-top: 0.5rem; }
table.ml-table tbody tr:hover { background: #fafbfc; }
"""

#: The page of :func:`multilevel.report`.
REPORT_CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --accent: #2c7fb8;
  --soft: #f6f8fa; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.55;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", "DejaVu Sans",
  Helvetica, Arial, sans-serif; font-size: 16px; }
main { max-width: 1060px; margin: 0 auto; padding: 2rem 1.6rem 4rem; }
header.ml-head { border-bottom: 3px solid var(--accent); margin-bottom: 1.6rem;
  padding-bottom: 0.8rem; }
header.ml-head h1 { margin: 0 0 0.3rem; font-size: 2rem; letter-spacing: -0.01em; }
header.ml-head p { margin: 0.2rem 0; color: var(--muted); }
nav.ml-toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 0.8rem 1.2rem; margin: 1rem 0 2rem; }
nav.ml-toc ol { margin: 0.3rem 0 0; padding-left: 1.3rem; columns: 2; column-gap: 2rem; }
nav.ml-toc a { color: var(--accent); text-decoration: none; }
nav.ml-toc a:hover { text-decoration: underline; }
h2 { font-size: 1.45rem; margin: 2.6rem 0 0.8rem; padding-bottom: 0.3rem;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 1.12rem; margin: 1.6rem 0 0.5rem; }
p.ml-intro { background: #eef6fc; border-left: 4px solid var(--accent); padding: 0.7rem 1rem;
  border-radius: 0 6px 6px 0; margin: 0.8rem 0 1rem; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; }
code { background: var(--soft); padding: 0.05rem 0.3rem; border-radius: 4px;
  font-size: 0.9em; }
pre.ml-summary { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.9rem 1rem; overflow-x: auto; font-size: 0.82rem; line-height: 1.4; }
details { margin: 0.6rem 0 1rem; }
details > summary { cursor: pointer; color: var(--accent); font-weight: 600; }
figure { margin: 1rem 0 1.8rem; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line);
  border-radius: 6px; background: #fff; }
figcaption { color: var(--muted); font-size: 0.9rem; margin-top: 0.4rem; text-align: left; }
.ml-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 0.8rem; margin: 0.8rem 0 1.2rem; }
.ml-card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 0.6rem 0.9rem; }
.ml-card b { display: block; font-size: 1.35rem; }
.ml-card span { color: var(--muted); font-size: 0.85rem; }
.ml-scroll { overflow-x: auto; max-width: 100%; }
ul.ml-key { margin: 0.4rem 0 0.8rem; padding-left: 1.2rem; font-size: 0.92rem; }
.ml-warn { background: #fff8e6; border-left: 4px solid #d4a017; padding: 0.5rem 0.9rem;
  border-radius: 0 6px 6px 0; }
.ml-error { background: #fdecea; border-left: 4px solid #c62828; padding: 0.5rem 0.9rem;
  border-radius: 0 6px 6px 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: 0.85rem;
  border-top: 1px solid var(--line); padding-top: 0.8rem; }
@media print { nav.ml-toc { display: none; } h2 { page-break-before: auto; }
  figure, table { page-break-inside: avoid; } }
"""
