"""A fitted model's prepared problem: its random-effects terms in lme4's order and the
profiled objective of a design (the cross-products of lme4's ``devFunOnly``).

The fit drivers (``fit/``) and the refits of ``inference/`` both start here, so neither needs
the other to turn a :class:`~multilevel.design.types.Design` into a core problem.
"""
from __future__ import annotations

import numpy as np

from ..core.crossprod import CrossProducts, TermData, form_crossproducts
from ..core.lmm import LmmProblem
from .types import Design, ReTerm


def order_terms(terms: list[ReTerm]) -> list[ReTerm]:
    """lme4's term order: by number of levels, largest first (``rev(order(nl))``).

    lme4 only reorders when some later term has more levels than an earlier one; ties then
    come out in reverse order, exactly as R's ``rev(order(nl))``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> ts = [NS(group="a", n_levels=3), NS(group="b", n_levels=9)]
    >>> [t.group for t in order_terms(ts)]
    ['b', 'a']
    """
    nl = [t.n_levels for t in terms]
    if not any(b > a for a, b in zip(nl, nl[1:])):
        return list(terms)
    asc = sorted(range(len(terms)), key=lambda i: (nl[i], i))
    return [terms[i] for i in reversed(asc)]


def to_term_data(terms: list[ReTerm]) -> list[TermData]:
    """The core's view of the terms: level codes, model matrix, number of levels.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.design.model_frame import build_design
    >>> d = build_design("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> to_term_data(d.re_terms)[0].n_levels
    18
    """
    return [TermData(np.asarray(t.codes, dtype=np.int64), np.asarray(t.Z, dtype=float),
                     t.n_levels) for t in terms]


def lmer_problem(design: Design, terms: list[ReTerm], *, reml: bool = True,
                 weights: np.ndarray | None = None) -> LmmProblem:
    """The profiled objective for an already built design (``devFunOnly``).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.design.model_frame import build_design
    >>> d = build_design("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> round(float(lmer_problem(d, order_terms(d.re_terms)).objective([1.0, 0.0, 1.0])), 2)
    1773.68
    """
    y = design.y if design.offset is None else design.y - design.offset
    A: CrossProducts = form_crossproducts(to_term_data(terms), design.X, y, weights=weights)
    ldw = float(np.sum(np.log(weights))) if weights is not None else 0.0
    return LmmProblem(A, reml=reml, log_det_w=ldw)
