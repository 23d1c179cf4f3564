"""Operations a result delegates to the layers above it (``inference/`` and ``fit/``).

``results/`` holds fitted models as data and their accessors; tests, intervals, influence
and simulation live in ``inference/``, refits in ``fit/``, and both depend on ``results/``. A
result method such as ``m.confint()`` therefore never imports them: it asks this registry for
the operation by name. ``multilevel.inference.methods`` and ``multilevel.fit.design_fit``
register the implementations; the package root names them as providers, so the first call
that finds a name missing loads them (docs/architecture.md).

Examples
--------
>>> import multilevel as ml
>>> m = ml.lmer("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"))
>>> operation("icc")(m).index.tolist()
['ICC_adjusted', 'ICC_unadjusted']
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import MultilevelError, two_line

_IMPLEMENTATIONS: dict[str, Callable] = {}
_PROVIDERS: list[tuple[str, str | None]] = []


def register(**implementations: Callable) -> None:
    """Register implementations of result operations by name (called by the provider).

    Examples
    --------
    >>> register(example_double=lambda m: 2 * m)
    >>> operation("example_double")(21)
    42
    >>> _ = _IMPLEMENTATIONS.pop("example_double")
    """
    _IMPLEMENTATIONS.update(implementations)


def provided_by(module: str, package: str | None = None) -> None:
    """Name a module that registers implementations when imported (the package root does).

    Examples
    --------
    >>> (".inference.methods", "multilevel") in _PROVIDERS
    True
    """
    if (module, package) not in _PROVIDERS:
        _PROVIDERS.append((module, package))


def operation(name: str) -> Callable:
    """The implementation registered for ``name``, loading the providers on first use.

    Examples
    --------
    >>> callable(operation("confint"))
    True
    """
    if name not in _IMPLEMENTATIONS:
        for module, package in _PROVIDERS:
            importlib.import_module(module, package)
    try:
        return _IMPLEMENTATIONS[name]
    except KeyError:
        raise MultilevelError(two_line(f"no implementation of {name!r} is registered",
                                       "import multilevel (the package root registers them)")) from None
