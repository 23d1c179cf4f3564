"""Find the name a caller gave its data, for the summary's ``Data:`` line (as R prints it)."""
from __future__ import annotations

import inspect
from pathlib import Path

_PKG = str(Path(__file__).resolve().parents[1])


def caller_data_name(data) -> str | None:
    """The variable name bound to ``data`` in the first frame outside this package, if any.

    Examples
    --------
    >>> frame = object()
    >>> caller_data_name(frame)
    'frame'
    """
    frame = inspect.currentframe()
    try:
        f = frame.f_back if frame is not None else None
        while f is not None and str(Path(f.f_code.co_filename).resolve()).startswith(_PKG):
            f = f.f_back
        if f is None:
            return None
        for scope in (f.f_locals, f.f_globals):
            for name, value in scope.items():
                if value is data and not name.startswith("_"):
                    return name
        return None
    finally:
        del frame
