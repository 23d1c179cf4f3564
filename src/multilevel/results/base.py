"""Behaviour shared by every fitted model: printing and row labels."""
from __future__ import annotations

import numpy as np
import pandas as pd


class ResultBase:
    """Mixin: ``str``/``repr``/``_repr_html_`` render ``summary()``; labels of the used rows."""

    design = None  # set by subclasses

    @property
    def row_labels(self) -> pd.Index:
        """Positions (0-based) of the data rows used in the fit."""
        return pd.Index(np.asarray(self.design.rows), name="row")

    def summary(self, digits: int = 7):  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        summ = self.summary()
        if hasattr(summ, "_repr_html_"):
            return summ._repr_html_()
        import html

        return f"<pre>{html.escape(str(summ))}</pre>"
