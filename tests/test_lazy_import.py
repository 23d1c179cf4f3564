"""``import multilevel`` stays light: heavy libraries load only when used."""
from __future__ import annotations

import subprocess
import sys

import multilevel


def test_import_loads_no_heavy_library():
    code = ("import sys, multilevel; heavy = [m for m in ('pandas', 'scipy', 'matplotlib', "
            "'duckdb', 'pyspark', 'pyarrow') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_public_name_resolves():
    for name in multilevel.__all__:
        assert getattr(multilevel, name) is not None, name
    assert set(multilevel.__all__) <= set(dir(multilevel))
