"""MkDocs hook: run every ```python block of a page, in order, in one namespace per page.

The printed output follows each block (as a text block) and every matplotlib figure the block
drew is embedded (PNG) after it, so the tutorial and the gallery are
executed examples. An exception stops the build (with ``mkdocs build --strict`` any warning
does too): the documentation cannot show code that does not run.

A block whose info string is ```python norun is shown, not run. The lesson's data: when
``../shared/data/imm10.csv`` is beside the repository, the build points ``MULTILEVEL_DATA`` at
a folder holding a copy of it, so ``ml.datasets.load("imm10")`` runs offline (CI has no
network); otherwise the first call downloads it (see ``ml.help("datasets")``).
"""
from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

_BLOCK = re.compile(r"^```python[ \t]*(?P<info>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)
_REPO = Path(__file__).resolve().parents[2]
# pages whose examples are run (the others, e.g. out_of_core.md with its Parquet folders and
# Spark clusters, show sketches that need data of your own)
_EXECUTED = ("index.md", "coming-from-r.md", "gallery.md", "tutorial/", "guide/")


def on_config(config, **kwargs):
    import matplotlib

    matplotlib.use("Agg")
    shared = _REPO.parent / "shared" / "data" / "imm10.csv"
    if shared.is_file() and "MULTILEVEL_DATA" not in os.environ:
        folder = Path(tempfile.mkdtemp(prefix="multilevel-docs-"))
        shutil.copy(shared, folder / "imm10.csv")
        os.environ["MULTILEVEL_DATA"] = str(folder)
    return config


def _readme_table() -> str:
    """README's "From lme4 to multilevel" table (one source: the docs grow it, not copy it)."""
    text = (_REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## From lme4 to multilevel", 1)[1].split("\n## ", 1)[0]
    table = [ln for ln in section.splitlines() if ln.startswith("|")]
    return "\n".join(table).replace("](docs/", "](")


def on_page_markdown(markdown: str, page, config, files, **kwargs):
    markdown = markdown.replace("<!-- README-TABLE -->", _readme_table())
    if "```python" not in markdown or not page.file.src_uri.startswith(_EXECUTED):
        return markdown
    import warnings

    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__docs__"}
    count = 0

    def run(match: re.Match) -> str:
        nonlocal count
        code, info = match.group("code"), match.group("info").strip()
        block = match.group(0)
        if "norun" in info:
            return block.replace("```python norun", "```python", 1)
        out = io.StringIO()
        plt.close("all")
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{page.file.src_uri} (block)", "exec"), namespace)
            except Exception as exc:  # the build fails, saying where
                raise RuntimeError(f"{page.file.src_uri}: an example failed: "
                                   f"{type(exc).__name__}: {exc}\n{code}") from exc
        parts = [block]
        text = out.getvalue().rstrip()
        if text:
            parts.append("```text\n" + text + "\n```")
        for num in plt.get_fignums():
            count += 1
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png", dpi=90, bbox_inches="tight")
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            parts.append(f"![figure {count}](data:image/png;base64,{data})")
        plt.close("all")
        return "\n\n".join(parts)

    return _BLOCK.sub(run, markdown)

