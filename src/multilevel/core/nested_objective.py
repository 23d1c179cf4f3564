"""The profiled objective of a nested model: the closed forms where they apply, the level
blocks of :mod:`~multilevel.core.nested` otherwise.

One term, or two nested terms whose finer has one or two columns, take the closed forms of
:mod:`~multilevel.core.single_term` and :mod:`~multilevel.core.nested_two` (the same factor,
fewer operations); every other nested structure the level-block factor
(:func:`~multilevel.core.nested.nested_factor`) and its selected-inverse gradient.
"""
from __future__ import annotations

import numpy as np

from .crossprod import CrossProducts
from .nested import NestedSystem, nested_factor, nested_gradient, nested_structure  # noqa: F401
from .nested_two import TwoLevelObjective
from .single_term import SingleTermObjective
from .theta import split_theta


class NestedObjective:
    """``theta -> (log|L_Z|^2, L_XX)`` for nested terms; see the module docstring.

    Examples
    --------
    >>> from multilevel.core.crossprod import TermData, form_crossproducts
    >>> from multilevel.core.cholesky import logdet_re, update_L
    >>> rng = np.random.default_rng(0)
    >>> child, school = np.repeat(np.arange(12), 3), np.repeat(np.arange(4), 9)
    >>> x = rng.normal(size=36)
    >>> ts = [TermData(child, np.column_stack([np.ones(36), x]), 12),
    ...       TermData(school, np.ones((36, 1)), 4)]
    >>> A = form_crossproducts(ts, np.ones((36, 1)), rng.normal(size=36))
    >>> obj = NestedObjective(A, nested_structure(A))
    >>> theta = np.array([0.8, 0.1, 0.5, 1.2])
    >>> ld, LXX = obj(theta)
    >>> F = update_L(A, theta)
    >>> bool(np.isclose(ld, logdet_re(F))), bool(np.allclose(LXX, F.LXX))
    (True, True)
    """

    def __init__(self, A: CrossProducts, parents: dict):
        self.ps = list(A.ps)
        self.system = NestedSystem.from_crossproducts(A, parents)
        # one term, or two whose finer has one or two columns: the (finer) term's levels in
        # closed form (the same factor, fewer operations)
        self._single = (SingleTermObjective(self.system)
                        if SingleTermObjective.applies(self.system)
                        else TwoLevelObjective(self.system)
                        if TwoLevelObjective.applies(self.system) else None)
        # the closed form's batch of finite-difference points, where it has one: an
        # instance attribute, so that LmmProblem.batches sees it only then
        if hasattr(self._single, "many"):
            self.many = self._single.many

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log det(Lambda'Z'Z Lambda + I)`` and the ``[X y]`` block of ``L``."""
        if self._single is not None:
            return self._single(theta)
        F = nested_factor(self.system, split_theta(np.asarray(theta, dtype=float), self.ps))
        return F.logdet, F.LXX

    def gradient_parts(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray,
                                                          np.ndarray, np.ndarray]:
        """``(log|L_Z|^2, L_XX, d log|L_Z|^2, d log|R_X|^2, d r^2)``: ``__call__``'s values
        and their derivatives by theta (:func:`nested_gradient`).

        Raises :class:`~multilevel.core.cholesky.NotPositiveDefinite` as ``__call__``.

        Examples
        --------
        >>> from multilevel.core.crossprod import TermData, form_crossproducts
        >>> g = np.repeat(np.arange(4), 3)
        >>> A = form_crossproducts([TermData(g, np.ones((12, 1)), 4)], np.ones((12, 1)),
        ...                        np.arange(12.0) % 5)
        >>> obj, h = NestedObjective(A, nested_structure(A)), 1e-6
        >>> r2 = lambda t: obj(np.array([t]))[1][-1, -1] ** 2
        >>> g_r2 = obj.gradient_parts(np.array([0.6]))[4]
        >>> bool(np.isclose(g_r2[0], (r2(0.6 + h) - r2(0.6 - h)) / (2 * h)))
        True
        """
        if self._single is not None:
            return self._single.gradient_parts(theta)
        F = nested_factor(self.system, split_theta(np.asarray(theta, dtype=float), self.ps))
        return (F.logdet, F.LXX) + nested_gradient(self.system, F)
