"""Plain words for a student: what a fitted model assumes (two sentences per model).

The sentences name the model's own variables; names are wrapped in backticks, which the HTML
report turns into ``<code>`` after escaping.
"""
from __future__ import annotations

import re

__all__ = ["describe_model", "model_kind", "grouping_of"]

_FACTOR_CALL = re.compile(r"^(?:as\.factor|factor|C)\(([^()]+)\)")


def _join(items: list[str]) -> str:
    items = [f"`{i}`" for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def grouping_of(model) -> tuple[str | None, int | None]:
    """The model's (first) grouping variable and its number of groups: a random-effect group
    for mixed models, the variable behind group dummies (``as.factor(g)``) for ``lm``."""
    terms = getattr(model.design, "re_terms", None) or []
    if terms:
        return terms[0].group, terms[0].n_levels
    dummies: dict[str, int] = {}
    for name in model.design.xnames:
        m = _FACTOR_CALL.match(name)
        if m and ":" not in name:
            dummies[m.group(1).strip()] = dummies.get(m.group(1).strip(), 0) + 1
    if dummies:
        var = max(dummies, key=dummies.get)
        return var, dummies[var] + 1
    return None, None


def model_kind(model) -> str:
    """``"ols"``, ``"ols_dummies"``, ``"random_intercept"``, ``"random_slope"`` (a random slope,
    possibly with the intercept) or ``"multi_group"`` (several grouping factors)."""
    terms = getattr(model.design, "re_terms", None) or []
    if not terms:
        return "ols_dummies" if grouping_of(model)[0] else "ols"
    if len({t.group for t in terms}) > 1:
        return "multi_group"
    cnames = [c for t in terms for c in t.cnames]
    return "random_intercept" if cnames == ["(Intercept)"] else "random_slope"


def _slopes(model) -> list[str]:
    return [c for c in model.design.xnames if c != "(Intercept)"
            and not (_FACTOR_CALL.match(c) and grouping_of(model)[0]
                     and c.startswith(_FACTOR_CALL.match(c).group(0))
                     and _FACTOR_CALL.match(c).group(1).strip() == grouping_of(model)[0])]


def describe_model(model, *, case: str = "case", group_hint: str | None = None) -> str:
    """Two plain sentences on what `model` assumes: which coefficients are fixed (one value
    for everybody) and which vary by group (random, drawn from a normal distribution).

    Parameters
    ----------
    model : LmResult or LmerResult
    case : str
        What a row is, for the sentences ("student", "observation"); "case" by default.
    group_hint : str, optional
        For an OLS model without groups: the grouping the data has (named in the sentence
        on what the model ignores).

    Returns
    -------
    str
        Variable names in backticks.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
    >>> print(describe_model(m))  # doctest: +NORMALIZE_WHITESPACE
    A random-intercept model: each `Subject` has its own intercept, and the 18 intercepts are
    treated as draws from a normal distribution whose variance is estimated (a random
    coefficient). The slope of `Days` is fixed: one value for every case, whatever its
    `Subject`.
    """
    text = _describe(model, case=case, group_hint=group_hint)
    if getattr(model, "kind", "") == "glmer":
        what = f"{getattr(model, 'family', 'generalized')} ({getattr(model, 'link', 'link')})"
        if text.startswith("A "):
            text = f"A {what} " + text[2:]
        else:
            text = f"In this {what} model, " + text[0].lower() + text[1:]
    return text


def _describe(model, *, case: str, group_hint: str | None) -> str:
    kind = model_kind(model)
    slopes = _slopes(model)
    g, k = grouping_of(model)
    if kind == "ols":
        first = ("An ordinary regression (OLS) with fixed coefficients only: one intercept"
                 + (f" and one slope of {_join(slopes)}" if slopes else "")
                 + f" for every {case}.")
        if group_hint:
            second = (f"It treats every {case} as independent, so it ignores that {case}s in "
                      f"the same `{group_hint}` may be alike.")
        else:
            second = (f"It treats every {case} as independent of the others: nothing in the "
                      "model varies by group.")
        return f"{first} {second}"
    if kind == "ols_dummies":
        first = (f"An ordinary regression with a dummy variable for each `{g}`: each of the "
                 f"{k} groups gets its own fixed intercept, estimated freely with no "
                 "assumption about how the intercepts are distributed.")
        second = (f"The slope of {_join(slopes)} is fixed: the same in every `{g}`."
                  if slopes else f"Nothing else varies by `{g}`.")
        return f"{first} {second}"
    terms = model.design.re_terms
    if kind == "multi_group":
        parts = []
        for t in terms:
            what = ("intercept varies" if t.cnames == ["(Intercept)"] else
                    "intercept and slopes vary" if "(Intercept)" in t.cnames else "slopes vary")
            parts.append(f"the {what} between the {t.n_levels} levels of `{t.group}`")
        first = (f"A multilevel model with {len(terms)} random terms, each a normal "
                 "distribution whose variance is estimated: " + "; ".join(parts) + ".")
        second = (f"The fixed coefficients ({_join(['(Intercept)'] + slopes)}) describe the "
                  "average across all groups.")
        return f"{first} {second}"
    varying = [c for c in terms[0].cnames if c != "(Intercept)"]
    fixed_only = [s for s in slopes if s not in varying]
    if kind == "random_intercept":
        first = (f"A random-intercept model: each `{g}` has its own intercept, and the {k} "
                 "intercepts are treated as draws from a normal distribution whose variance "
                 "is estimated (a random coefficient).")
        what = (f"The slope of {_join(slopes)} is" if len(slopes) == 1 else
                f"The coefficients of {_join(slopes)} are")
        second = (f"{what} fixed: one value for every {case}, whatever its `{g}`." if slopes else
                  f"There are no slopes: the model splits the variance into between-`{g}` "
                  "and within-group parts.")
        return f"{first} {second}"
    has_int = "(Intercept)" in terms[0].cnames
    first = (("Both the intercept and the slope" if has_int else "The slope")
             + f" of {_join(varying)} vary from one `{g}` to another: the {k} groups' "
             "coefficients are treated as correlated draws from a normal distribution "
             "(random coefficients).")
    if fixed_only:
        second = (f"The fixed coefficients give the average line, and {_join(fixed_only)} "
                  f"{'has' if len(fixed_only) == 1 else 'have'} one fixed slope for every "
                  f"{case}, whatever its `{g}`.")
    else:
        second = (f"The fixed coefficients give the average line across groups; each `{g}`'s "
                  "line departs from it by its random effects.")
    return f"{first} {second}"
