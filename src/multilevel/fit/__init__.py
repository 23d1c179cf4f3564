"""The fit drivers (``lm``, ``lmer``, ``glmer``, ``nlmer``): formula and data to a result, and
the refits on a prepared design (``fit/design_fit.py``) that ``inference/`` reaches by name.
The top of the model layers: core <- design <- results <- inference <- fit
(docs/architecture.md)."""
