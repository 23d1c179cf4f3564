"""pytest collection: docstring examples of modules whose optional dependency is missing are
not collected (they would fail to import), rather than erroring the run."""
from __future__ import annotations

import importlib.util

OPTIONAL = {"src/multilevel/backends/spark.py": "pyspark"}

collect_ignore = [path for path, module in OPTIONAL.items()
                  if importlib.util.find_spec(module) is None]
