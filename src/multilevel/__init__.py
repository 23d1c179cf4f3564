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
from .inference import anova, bootstrap, profile
from . import family
from .fit.glmer import glmer, glmer_nb
from . import plots as plot  # matplotlib loads when a figure is drawn
from .io.readers import read
from .report.html_report import report
from .report.tables import compare, group_summary

__version__ = "0.1.0"

__all__ = [
    "glmer", "glmer_nb", "family",
    "lm", "lmer", "LmerControl", "datasets",
    "anova", "profile", "bootstrap",
    "group_summary", "compare", "report", "read", "plot",
    "MultilevelError", "FormulaError", "DataError", "ConvergenceWarning", "SingularFitWarning",
]
