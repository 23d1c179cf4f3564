"""Example datasets: ``ml.datasets.load("sleepstudy")``, ``ml.datasets.names()``; the lesson's
``ml.datasets.load("imm10")`` is downloaded on first use (``ml.datasets.remote_names()``).

A re-export of :mod:`multilevel.io.datasets` (column types) and :mod:`multilevel.io.remote`
(download, checksum, cache).

Examples
--------
>>> import multilevel.datasets as datasets
>>> datasets.load("Dyestuff").shape
(30, 2)
"""
from __future__ import annotations

from .io.datasets import describe, load, names, remote_names

__all__ = ["describe", "load", "names", "remote_names"]
