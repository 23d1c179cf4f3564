"""The design: what the formula and the data give the numerical core.

`build_design(formula, data)` (in ``design/model_frame.py``) returns a :class:`Design`.
The core never sees pandas or formulas, only these arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ReTerm:
    """One random-effects term: one bar ``(expr | group)`` = one covariance block.

    Attributes
    ----------
    group : str
        The grouping factor's name as lme4 prints it: ``"schnum"``, ``"cask:batch"``
        (for ``(1|batch/cask)``), ``"replicate:recipe"``.
    codes : ndarray of int64, shape (nobs,)
        Level index 0..n_levels-1 of each used row.
    levels : list of str
        Level labels in lme4's order (factor level order; integers in numeric order;
        interactions ``a:b`` in lexicographic order of the component levels, first component
        slowest, unused combinations dropped).
    Z : ndarray of float64, shape (nobs, p)
        The raw model matrix of the bar's left side (one column per random-effect term).
    cnames : list of str
        Column names of `Z` as lme4 prints them: ``["(Intercept)", "homework"]``.
    cov : CovSpec or None
        A covariance structure written around the bar (``cs(0 + f | g)``, see
        :mod:`multilevel.core.covstruct`); None for lme4's unstructured ``(x | g)``.
    """

    group: str
    codes: np.ndarray
    levels: list[str]
    Z: np.ndarray
    cnames: list[str]
    cov: Any = None

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def p(self) -> int:
        return self.Z.shape[1]


@dataclass(frozen=True)
class Design:
    """Response, fixed-effects matrix and random-effects terms for the rows used in a fit.

    Attributes
    ----------
    y : ndarray, shape (nobs,)
    X : ndarray, shape (nobs, p)  -- after dropping rank-deficient columns
    xnames : list of str          -- R's coefficient labels of the columns of X
    re_terms : list of ReTerm     -- in formula order after expansion of ``||`` and ``/``
    offset : ndarray or None      -- from ``offset(...)`` terms, shape (nobs,)
    rows : ndarray of int64       -- positions (0-based, ``iloc``) of the data rows used
    n_dropped : int               -- rows removed because of NA in a model variable
    dropped_columns : list of str -- fixed-effect columns dropped for rank deficiency
    response_name : str           -- left-hand side as written, e.g. ``"math"``
    formula : str                 -- the formula as given
    spec : Any                    -- whatever `design.model_frame.new_design_matrices` needs
                                     to rebuild X / Z for new data (predict)
    """

    y: np.ndarray
    X: np.ndarray
    xnames: list[str]
    re_terms: list[ReTerm]
    offset: np.ndarray | None
    rows: np.ndarray
    n_dropped: int
    dropped_columns: list[str]
    response_name: str
    formula: str
    spec: Any = field(default=None, repr=False)

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])
