"""The compiled inner loop (multilevel.core._criteria); everything else is in pyproject.toml.

The extension is optional: where it cannot be built (no C compiler, no dlopen) the package
installs without it and runs the same models through numpy (multilevel.core.native).
"""
import sys

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "multilevel.core._criteria",
    sources=["src/multilevel/core/_criteria.c"],
    libraries=["dl"] if sys.platform.startswith("linux") else [],
    optional=True,
)])
