"""multilevel: multilevel (mixed-effects) models with lme4's results, in Python.

Everything is imported on first use (PEP 562), so ``import multilevel`` is quick; plotting,
file readers and data engines load only when called.

Examples
--------
>>> import multilevel as ml
>>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
>>> round(m.sigma, 4)
25.5918
"""
from __future__ import annotations

import importlib

from .errors import (ConvergenceWarning, DataError, FormulaError, MultilevelError,
                     SingularFitWarning)

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY = {
    "lm": (".fit.lm", "lm"),
    "lmer": (".fit.lmer", "lmer"),
    "LmerControl": (".fit.lmer", "LmerControl"),
    "glmer": (".fit.glmer", "glmer"),
    "glmer_nb": (".fit.glmer", "glmer_nb"),
    "nlmer": (".fit.nlmer", "nlmer"),
    "family": (".family", None),
    "datasets": (".datasets", None),
    "anova": (".inference", "anova"),
    "profile": (".inference", "profile"),
    "bootstrap": (".inference", "bootstrap"),
    "plot": (".plots", None),
    "read": (".io.readers", "read"),
    "compare": (".report.tables", "compare"),
    "group_summary": (".report.tables", "group_summary"),
    "emmeans": (".inference.emmeans", "emmeans"),
    "vif": (".inference.vif", "vif"),
    "ranova": (".inference.ranova", "ranova"),
    "model_table": (".inference.model_table", "model_table"),
    "all_fit": (".inference.all_fit", "all_fit"),
    "cross_validate": (".inference.cross_validate", "cross_validate"),
    "power": (".inference.power", "power"),
}

__all__ = [
    "lm", "lmer", "LmerControl", "glmer", "glmer_nb", "nlmer", "family", "datasets",
    "anova", "profile", "bootstrap", "emmeans", "vif", "ranova",
    "model_table", "all_fit", "cross_validate", "power",
    "group_summary", "compare", "report", "read", "plot", "options", "help",
    "MultilevelError", "FormulaError", "DataError", "ConvergenceWarning", "SingularFitWarning",
]


# The subpackage ``multilevel.report`` shares its name with the function ``ml.report``:
# load the (empty) package first so that importing its modules later never rebinds the name.
from . import report as _report_package  # noqa: E402,F401

# Same for ``multilevel.options`` and ``ml.options`` (a tiny module without dependencies).
from .options import options  # noqa: E402
from .help import help  # noqa: E402,A004 - ml.help("isSingular"), the pages warnings name

# Result methods (m.confint(), m.anova(), ...) delegate to inference/, and inference's refits to
# fit/, layers above results/; the package root names the modules that register those
# implementations (docs/architecture.md).
from .results.operations import provided_by as _provided_by  # noqa: E402

_provided_by(".inference.methods", __name__)
_provided_by(".fit.design_fit", __name__)


def report(*args, **kwargs):
    """Write the self-contained HTML report; see :func:`multilevel.report.html_report.report`.

    Examples
    --------
    >>> import multilevel as ml
    >>> callable(ml.report)
    True
    """
    from .report.html_report import report as _report

    return _report(*args, **kwargs)


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'multilevel' has no attribute {name!r}") from None
    mod = importlib.import_module(module, __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
