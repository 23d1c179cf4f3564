"""pytest collection: docstring examples of modules whose optional dependency is missing are
not collected (they would fail to import), rather than erroring the run; and the property
tests' profile.

Property tests (hypothesis) draw the same examples on every run by default (profile "ci"), so
a run fails only through a change of the code, never through a new random draw;
``HYPOTHESIS_PROFILE=explore`` draws new examples each run and keeps any failing one in
``.hypothesis/`` (pin it then with ``@example``)."""
from __future__ import annotations

import importlib.util
import os

OPTIONAL = {"src/multilevel/backends/spark.py": "pyspark"}

collect_ignore = [path for path, module in OPTIONAL.items()
                  if importlib.util.find_spec(module) is None]

try:
    from hypothesis import settings
except ImportError:  # the docstring examples alone need no hypothesis
    pass
else:
    settings.register_profile("ci", derandomize=True, database=None)
    settings.register_profile("explore")
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
