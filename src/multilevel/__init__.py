"""multilevel: multilevel (mixed-effects) models with lme4's results, in Python.

Examples
--------
>>> import multilevel as ml
>>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
>>> round(m.sigma, 4)
25.5918
"""
from __future__ import annotations

from . import datasets
from .errors import (ConvergenceWarning, DataError, FormulaError, MultilevelError,
                     SingularFitWarning)
from .fit.lm import lm
from .fit.lmer import LmerControl, lmer

__version__ = "0.1.0"

__all__ = [
    "lm", "lmer", "LmerControl", "datasets",
    "MultilevelError", "FormulaError", "DataError", "ConvergenceWarning", "SingularFitWarning",
]
