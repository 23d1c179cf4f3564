"""The package's layers (docs/architecture.md), checked on the source with ``ast``.

core <- design/formula <- results <- inference <- fit, presentation (report/, plots/) on top.
Every import counts, also one inside a function: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import pathlib
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "multilevel"

# Subpackages a subpackage must not import (at module level or inside functions).
FORBIDDEN = {
    "core": {"formula", "design", "results", "inference", "fit", "report", "plots"},
    "formula": {"results", "inference", "fit", "report", "plots"},
    "design": {"results", "inference", "fit", "report", "plots"},
    "results": {"inference", "fit", "plots"},
    "inference": {"fit"},
}

# Import cycles that remain, each with its reason; any other cycle fails the test.
ALLOWED_CYCLES: dict[frozenset, str] = {}


def _modules() -> dict[str, tuple[str, bool]]:
    """Module name -> (source, is a package)."""
    mods = {}
    for p in SRC.rglob("*.py"):
        name = ".".join(p.relative_to(SRC.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = (p.read_text(encoding="utf-8"),
                                                p.name == "__init__.py")
    return mods


def _edges(mods: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> modules it imports. ``from pkg import sub`` depends on ``pkg.sub`` (and
    not on ``pkg``'s ``__init__``) when ``sub`` is a module."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, (source, is_package) in mods.items():
        pkg = m if is_package else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
                for t in subs if len(subs) == len(node.names) else [target, *subs]:
                    if t in mods and t != m:
                        edges[m].add(t)
            elif isinstance(node, ast.Import):
                edges[m].update(a.name for a in node.names if a.name in mods and a.name != m)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.fixture(scope="module")
def edges():
    return _edges(_modules())


def test_layers_import_only_downwards(edges):
    bad = sorted(f"{a} imports {b}" for a, targets in edges.items() for b in targets
                 if _subpackage(b) in FORBIDDEN.get(_subpackage(a), ()))
    assert not bad, "imports against the layers (docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycles_but_the_listed_ones(edges):
    found = _cycles(edges)
    new = [sorted(c) for c in found if c not in ALLOWED_CYCLES]
    assert not new, f"import cycles not in ALLOWED_CYCLES: {new}"


def test_fit_results_inference_form_no_cycle_across_subpackages(edges):
    layered = {"fit", "results", "inference"}
    crossing = [sorted(c) for c in _cycles(edges)
                if len({_subpackage(m) for m in c} & layered) > 1]
    assert not crossing


def test_allowed_cycles_still_exist(edges):
    """A cycle that has been untangled leaves the list (so the list stays the truth)."""
    found = set(_cycles(edges))
    gone = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    assert not gone, f"remove these from ALLOWED_CYCLES: {gone}"


def test_the_checker_sees_a_cycle_through_a_lazy_import():
    mods = {"multilevel.x": ("", True),
            "multilevel.x.a": ("def f():\n    from . import b\n", False),
            "multilevel.x.b": ("from .a import f\n", False),
            "multilevel.x.c": ("from . import a\nimport multilevel.x.b\n", False)}
    edges = _edges(mods)
    assert edges["multilevel.x.c"] == {"multilevel.x.a", "multilevel.x.b"}
    assert _cycles(edges) == [frozenset({"multilevel.x.a", "multilevel.x.b"})]
