"""The documentation site: its configuration, its pages, CI builds it strictly, and the hook
that executes the examples works (the full build runs in .ci/run)."""
from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

import multilevel.plots as plots

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _nav_pages() -> list[str]:
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M)


def test_every_nav_page_exists_and_the_required_ones_are_there():
    pages = _nav_pages()
    for page in pages:
        assert (DOCS / page).is_file(), page
    for needed in ("tutorial/lesson.md", "coming-from-r.md", "gallery.md", "guide/formulas.md",
                   "guide/glmms.md", "guide/inference.md", "out_of_core.md", "guide/reports.md",
                   "guide/cli.md", "reference/fitting.md"):
        assert needed in pages, needed
    assert "strict: true" in (REPO / "mkdocs.yml").read_text()


def test_gallery_shows_every_figure():
    gallery = (DOCS / "gallery.md").read_text()
    for name in plots.__all__:
        assert f"ml.plot.{name}(" in gallery, name


def test_docs_extra_and_ci_build_before_the_tests():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("mkdocs") for d in extras["docs"])
    lines = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    build = [i for i, ln in enumerate(lines) if "mkdocs build --strict" in ln]
    assert build and build[0] < len(lines) - 1
    assert "mkdocs build --strict" in (DOCS / "README.md").read_text()


def _hook():
    spec = importlib.util.spec_from_file_location("docs_execute", DOCS / "hooks" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hook_runs_examples_and_embeds_figures():
    hook = _hook()
    page = SimpleNamespace(file=SimpleNamespace(src_uri="guide/example.md"))
    md = ('```python\nimport multilevel as ml\nprint(ml.datasets.load("Dyestuff").shape)\n'
          'ml.plot.ranef(ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff")))\n```\n')
    out = hook.on_page_markdown(md, page, {}, None)
    assert "```text\n(30, 2)\n```" in out and "data:image/png;base64," in out
    with pytest.raises(RuntimeError, match="an example failed"):
        hook.on_page_markdown("```python\n1 / 0\n```\n", page, {}, None)
    coming = hook.on_page_markdown("<!-- README-TABLE -->", SimpleNamespace(
        file=SimpleNamespace(src_uri="coming-from-r.md")), {}, None)
    assert "| `lmer(f, data, REML = FALSE)` |" in coming
