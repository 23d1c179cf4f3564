"""Model frames, contrasts and the prepared problem (``design/problem.py``) of a formula and
data. Above ``core/`` and ``formula/``, below ``results/`` (docs/architecture.md)."""
