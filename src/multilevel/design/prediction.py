"""Which random effects a prediction includes: lme4's ``re.form``.

lme4 builds the random-effects design of ``re.form`` on its own and takes, for each of its
terms, the model's random effects of the same grouping factor and column names. So
``re.form = ~ (1 | Subject)`` keeps the intercept of a ``(Days | Subject)`` term and drops its
slope, and drops a ``(0 + Days | Subject)`` term whole; ``re.form = NA`` (or ``~0``) keeps
nothing, and then new data need no grouping columns at all.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from multilevel.errors import FormulaError, two_line

__all__ = ["re_columns", "is_population"]

_NONE_FORMS = ("~0", "~1", "NA", "0", "~-1", "nan")


def is_population(re_form) -> bool:
    """True for the ``re_form`` values meaning "no random effects" (R's ``re.form = NA``).

    Examples
    --------
    >>> [is_population(v) for v in (None, "~0", "~ 0", "NA", float("nan"), "all", "~(1|g)")]
    [True, True, True, True, True, False, False]
    """
    if re_form is None or re_form is False:
        return True
    if isinstance(re_form, float) and math.isnan(re_form):
        return True
    if re_form is pd.NA:
        return True
    return isinstance(re_form, str) and re_form.replace(" ", "") in _NONE_FORMS


def _wanted_bars(re_form: str):
    from multilevel.formula.expand import expand_terms, findbars
    from multilevel.formula.nodes import deparse
    from multilevel.formula.terms import parse_checked

    text = re_form.strip()
    tree = parse_checked(text if text.startswith("~") else "~" + text)
    bars = findbars(tree.rhs)
    if not bars:
        raise FormulaError(two_line(f"re_form {re_form!r} has no random-effects terms",
                                    "write e.g. re_form=\"~ (1 | g)\", or \"~0\" for none"))
    return [(deparse(b.right).replace(" ", ""), expand_terms(b.left)) for b in bars]


def _column_in(cname: str, labels: list[str], intercept: bool) -> bool:
    if cname == "(Intercept)":
        return intercept
    parts = cname.split(":")
    for lab in labels:
        vs = lab.split(":")
        if len(vs) == len(parts) and all(p.startswith(v) for p, v in zip(parts, vs)):
            return True
    return False


def re_columns(terms, re_form) -> dict[int, np.ndarray]:
    """Term index -> boolean mask of the columns of ``terms[k]`` that `re_form` keeps.

    Parameters
    ----------
    terms : list of ReTerm
        The model's random-effects terms (``group``, ``cnames``).
    re_form : "all", None, NaN, "NA", "~0" or a formula of random terms

    Examples
    --------
    >>> from types import SimpleNamespace as T
    >>> terms = [T(group="Subject", cnames=["(Intercept)", "Days"])]
    >>> {k: v.tolist() for k, v in re_columns(terms, "~ (1 | Subject)").items()}
    {0: [True, False]}
    >>> re_columns(terms, None)
    {}
    """
    if isinstance(re_form, str) and re_form == "all":
        return {k: np.ones(len(t.cnames), dtype=bool) for k, t in enumerate(terms)}
    if is_population(re_form):
        return {}
    if not isinstance(re_form, str):
        raise FormulaError(two_line(f"re_form must be a formula, None or 'all', got {re_form!r}",
                                    "use re_form=None (population level), \"all\", or e.g. "
                                    "\"~ (1 | g)\""))
    out: dict[int, np.ndarray] = {}
    for group, lhs in _wanted_bars(re_form):
        parts = frozenset(group.split(":"))  # replicate:recipe is recipe:replicate
        hit = [k for k, t in enumerate(terms)
               if frozenset(t.group.replace(" ", "").split(":")) == parts]
        if not hit:
            have = sorted({t.group for t in terms})
            raise FormulaError(two_line(
                f"re_form has a term for grouping factor {group!r}, which the model does not have",
                f"use the model's grouping factors: {have}"))
        for k in hit:
            mask = np.array([_column_in(c, lhs.labels, lhs.intercept) for c in terms[k].cnames])
            if mask.any():
                out[k] = out[k] | mask if k in out else mask
    return out
