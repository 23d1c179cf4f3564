"""The report's effect figures for a mixed model: the predictions plot (population line with
its confidence band, a line per group when there are few groups) and the pooling figure
(shrinkage from each group's own fit to the model's estimate).

A figure that cannot be drawn for a model (no numeric predictor, a GLMM for the pooling
figure, too many groups for a readable one) is left out, never an error.
"""
from __future__ import annotations

from ..errors import MultilevelError

MAX_GROUP_LINES = 30     # more groups: the population line and band only
MAX_POOLING_ROWS = 60    # intercept-only pooling figure: one row per group
MAX_POOLING_ARROWS = 300  # slope pooling figure: one arrow per group (drawing 20,000 takes minutes)


def _focal(model, x):
    names = list(model.design.xnames)
    if x is not None and x in names:
        return x
    return next((n for n in names if n != "(Intercept)" and ":" not in n
                 and "(" not in n), None)


def effect_figures(i, name, model, figs, *, x=None, data=None) -> list[str]:
    """HTML ``<figure>`` blocks for the model section ``i`` (empty when none applies).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.report.html_report import _Figures
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> [b[:27] for b in effect_figures(4, "Model 4", m, _Figures(), x="Days")]
    ['<figure id="fig-effect-4"><', '<figure id="fig-pooling-4">']
    """
    from ..plots.pooling import pooling
    from ..plots.predictions import predictions

    out = []
    focal = _focal(model, x)
    group = model.terms[0].group if model.terms else None
    if focal is not None:
        by = group if group is not None and model.terms[0].n_levels <= MAX_GROUP_LINES else None

        def draw_effect(fig):
            predictions(model, focal, by=by, data=data, ax=fig.add_subplot())
        try:
            out.append(figs.render(
                draw_effect, (6.4, 4.2), f"{name}: predicted response by {focal}",
                f"The average prediction over `{focal}` (other predictors at their means or "
                "reference levels) with its 95% confidence band"
                + (f"; thin lines: each `{by}`'s prediction." if by else "."),
                f"fig-effect-{i}"))
        except (MultilevelError, ValueError, KeyError):
            pass
    t = model.terms[0] if model.terms else None
    if getattr(model, "kind", None) == "lmer" and t is not None and (
            (t.p > 1 and t.n_levels <= MAX_POOLING_ARROWS) or t.n_levels <= MAX_POOLING_ROWS):
        size = (6.2, 5.0) if t.p > 1 else (6.0, min(0.22 * t.n_levels + 1.2, 14.0))

        def draw_pooling(fig):
            pooling(model, t.group, ax=fig.add_subplot())
        try:
            out.append(figs.render(
                draw_pooling, size, f"{name}: no, partial and complete pooling",
                f"Each `{t.group}`'s estimate from its own data alone (open) and from the "
                "model (filled): the arrows show how far the model pulls groups with little "
                "or extreme data toward the average (complete pooling).",
                f"fig-pooling-{i}"))
        except (MultilevelError, ValueError, KeyError):
            pass
    return out
