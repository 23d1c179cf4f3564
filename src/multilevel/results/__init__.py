"""Fitted models as data, their accessors and thin methods. Above ``core/`` and ``design/``;
never imports ``inference/`` or ``fit/``: methods such as ``m.confint()`` reach their
implementations by name through :mod:`multilevel.results.operations`
(docs/architecture.md)."""
