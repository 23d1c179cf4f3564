"""R's contrast matrices for factors: ``contr.treatment``, ``contr.sum``, ``contr.helmert``,
``contr.poly``, ``contr.SAS`` and MASS's ``contr.sdif``.

A contrast is a ``(k, m)`` matrix for a factor with ``k`` levels and the column suffixes
R's ``model.matrix`` appends to the factor's name: ``fB`` (treatment), ``f1`` (sum,
helmert, a matrix without column names), ``f.L``/``f.Q``/``f.C``/``f^4`` (poly), ``fA``
(SAS: every level but the last), ``fB-A`` (sdif). As in R (``options("contrasts")``),
unordered factors get ``contr.treatment`` and ordered ones ``contr.poly`` unless the
``contrasts=`` argument of a fit says otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import DataError, two_line

__all__ = ["Contrast", "contrast_matrix", "default_contrast", "resolve_contrasts",
           "CONTRASTS"]


@dataclass(frozen=True)
class Contrast:
    """A coded factor: ``matrix`` (levels x columns) and the column ``suffixes``.

    Examples
    --------
    >>> c = contrast_matrix("contr.sum", ["a", "b", "c"])
    >>> c.matrix.tolist(), c.suffixes, c.name
    ([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], ['1', '2'], 'contr.sum')
    """

    matrix: np.ndarray
    suffixes: list[str]
    name: str = "matrix"


def _treatment(levels):
    k = len(levels)
    return np.eye(k)[:, 1:], list(levels[1:])


def _sas(levels):
    k = len(levels)
    return np.eye(k)[:, :-1], list(levels[:-1])


def _sum(levels):
    k = len(levels)
    return np.vstack([np.eye(k - 1), -np.ones((1, k - 1))]), [str(i) for i in range(1, k)]


def _helmert(levels):
    k = len(levels)
    C = np.zeros((k, k - 1))
    for j in range(k - 1):
        C[: j + 1, j] = -1.0
        C[j + 1, j] = j + 1.0
    return C, [str(i) for i in range(1, k)]


def poly_names(k: int) -> list[str]:
    """Column names of R's ``contr.poly(k)``: ``.L``, ``.Q``, ``.C``, ``^4``, ...

    Examples
    --------
    >>> poly_names(6)
    ['.L', '.Q', '.C', '^4', '^5']
    """
    return [".L", ".Q", ".C", *[f"^{i}" for i in range(4, k)]][: k - 1]


def _poly(levels):
    """R's ``make.poly(k, 1:k)``: orthonormal polynomials in the scores 1..k."""
    k = len(levels)
    y = np.arange(1, k + 1, dtype=float)
    y = y - y.mean()
    X = np.vander(y, k, increasing=True)
    q, r = np.linalg.qr(X)
    raw = q * np.diag(r)  # the sign convention of R's qr.qy(QR, diag(R))
    Z = raw / np.sqrt((raw ** 2).sum(axis=0))
    return Z[:, 1:], poly_names(k)


def _sdif(levels):
    """MASS's ``contr.sdif``: successive differences, columns ``B-A``, ``C-B``."""
    k = len(levels)
    C = np.zeros((k, k - 1))
    for j in range(1, k):
        C[:j, j - 1] = (j - k) / k
        C[j:, j - 1] = j / k
    return C, [f"{levels[j]}-{levels[j - 1]}" for j in range(1, k)]


#: R's name -> builder (aliases without the ``contr.`` prefix are accepted too).
CONTRASTS = {"contr.treatment": _treatment, "contr.sum": _sum, "contr.helmert": _helmert,
             "contr.poly": _poly, "contr.SAS": _sas, "contr.sdif": _sdif}


def contrast_matrix(spec, levels: list[str], var: str = "") -> Contrast:
    """The contrast of a factor with `levels`, from R's name or a numeric matrix.

    Parameters
    ----------
    spec : str or array-like
        ``"contr.treatment"``, ``"contr.sum"``, ``"contr.helmert"``, ``"contr.poly"``,
        ``"contr.SAS"``, ``"contr.sdif"`` (or the same without ``contr.``), or a
        ``(levels, columns)`` matrix (a pandas DataFrame's column names become the suffixes,
        as a matrix's ``colnames`` do in R; otherwise ``1``, ``2``, ...).
    levels : list of str
    var : str
        The variable's label, for messages.

    Examples
    --------
    >>> contrast_matrix("contr.sdif", ["a", "b", "c"]).suffixes
    ['b-a', 'c-b']
    >>> contrast_matrix("poly", list("abcd")).matrix.round(4)[:, 0].tolist()
    [-0.6708, -0.2236, 0.2236, 0.6708]
    >>> contrast_matrix(np.array([[1.0], [0.0], [-1.0]]), ["a", "b", "c"]).suffixes
    ['1']
    """
    k = len(levels)
    if isinstance(spec, str):
        key = spec if spec.startswith("contr.") else "contr." + spec
        if key not in CONTRASTS:
            raise DataError(two_line(
                f"unknown contrast {spec!r} for {var or 'a factor'}",
                "use one of " + ", ".join(CONTRASTS) + ", or a numeric matrix"))
        if k < 2:
            raise DataError(two_line(
                f"contrasts can be applied only to factors with 2 or more levels "
                f"({var!r} has {k})", f"remove {var} from the formula or check the data"))
        C, sfx = CONTRASTS[key](list(levels))
        return Contrast(np.asarray(C, dtype=float), sfx, key)
    names = None
    if hasattr(spec, "columns") and hasattr(spec, "to_numpy"):
        names = [str(c) for c in spec.columns]
        spec = spec.to_numpy()
    try:
        C = np.asarray(spec, dtype=float)
    except (TypeError, ValueError):
        raise DataError(two_line(f"contrasts for {var!r} must be a name or a numeric matrix, "
                                 f"got {type(spec).__name__}",
                                 "write e.g. contrasts={'f': 'contr.sum'}")) from None
    if C.ndim == 1:
        C = C[:, None]
    if C.ndim != 2 or C.shape[0] != k or C.shape[1] < 1:
        raise DataError(two_line(
            f"the contrast matrix for {var!r} has shape {C.shape}; the factor has {k} levels",
            f"pass a matrix with {k} rows (one per level) and 1 to {k - 1} columns"))
    if not np.isfinite(C).all():
        raise DataError(two_line(f"the contrast matrix for {var!r} has NA or infinite values",
                                 "pass finite numbers"))
    sfx = names if names is not None else [str(i) for i in range(1, C.shape[1] + 1)]
    return Contrast(C, sfx, "matrix")


def default_contrast(levels: list[str], ordered: bool, var: str = "") -> Contrast:
    """R's default: ``contr.poly`` for an ordered factor, ``contr.treatment`` otherwise.

    Examples
    --------
    >>> default_contrast(["lo", "mid", "hi"], True).suffixes
    ['.L', '.Q']
    """
    return contrast_matrix("contr.poly" if ordered else "contr.treatment", levels, var)


def resolve_contrasts(contrasts, known: list[str]) -> dict:
    """Check the ``contrasts=`` argument of a fit: a dict variable -> name or matrix.

    Examples
    --------
    >>> resolve_contrasts({"f": "contr.sum"}, ["f", "x"])
    {'f': 'contr.sum'}
    >>> resolve_contrasts(None, ["f"])
    {}
    """
    if contrasts is None:
        return {}
    if not isinstance(contrasts, dict):
        raise DataError(two_line(
            f"contrasts must be a dict of factor name -> contrast, got {type(contrasts).__name__}",
            "write e.g. contrasts={'recipe': 'contr.sum'}"))
    out = {}
    for k, v in contrasts.items():
        key = str(k)
        if key not in known:
            import warnings

            warnings.warn(f"variable {key!r} is absent from the fixed-effects factors; its "
                          "contrasts are not used", UserWarning, stacklevel=4)
            continue
        out[key] = v
    return out
