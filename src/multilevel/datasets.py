"""Bundled example datasets: ``ml.datasets.load("sleepstudy")``, ``ml.datasets.names()``.

A re-export of :mod:`multilevel.io.datasets`; see there for the column types.

Examples
--------
>>> import multilevel.datasets as datasets
>>> datasets.load("Dyestuff").shape
(30, 2)
"""
from __future__ import annotations

from .io.datasets import describe, load, names

__all__ = ["describe", "load", "names"]
