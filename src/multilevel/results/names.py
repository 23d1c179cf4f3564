"""lme4's naming of covariance parameters and grouping factors, and the labels' index."""
from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..core.theta import lower_tri_indices


@lru_cache(maxsize=256)
def _label_index(names: tuple) -> pd.Index:
    return pd.Index(list(names))


def label_index(names) -> pd.Index:
    """A pandas Index of coefficient labels: a copy of one made once per list of labels
    (building an Index infers its string dtype, which costs several times the Series
    around it). Each result gets its own deep copy: its name, and on pandas 2 (whose object
    arrays are writable) its values, are the result's own.

    Examples
    --------
    >>> label_index(["(Intercept)", "homework"]).tolist()
    ['(Intercept)', 'homework']
    >>> label_index(["a"]) is label_index(["a"])
    False
    """
    return _label_index(tuple(names)).copy(deep=True)


def make_unique(names: list[str]) -> list[str]:
    """R's ``make.unique``: repeated names get ``.1``, ``.2``, ... suffixes.

    Examples
    --------
    >>> make_unique(["Subject", "Subject", "Batch"])
    ['Subject', 'Subject.1', 'Batch']
    """
    seen: dict[str, int] = {}
    out = []
    taken = set(names)
    for n in names:
        if n not in seen:
            seen[n] = 0
            out.append(n)
            continue
        k = seen[n]
        while True:
            k += 1
            cand = f"{n}.{k}"
            if cand not in taken:
                break
        seen[n] = k
        taken.add(cand)
        out.append(cand)
    return out


def theta_names(terms) -> list[str]:
    """lme4's theta names: ``grp.term`` on the diagonal, ``grp.row.col`` below it.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> theta_names([NS(group="Subject", cnames=["(Intercept)", "Days"], p=2)])
    ['Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days']
    """
    out = []
    for t in terms:
        rows, cols = lower_tri_indices(t.p)
        for i, j in zip(rows, cols):
            if i == j:
                out.append(f"{t.group}.{t.cnames[i]}")
            else:
                out.append(f"{t.group}.{t.cnames[i]}.{t.cnames[j]}")
    return out


def sig_names(terms, *, old_names: bool = True) -> list[str]:
    """Names of the standard-deviation/correlation parameters as ``confint`` prints them.

    ``old_names=True`` gives ``.sig01, .sig02, ...``; ``False`` gives ``sd_(Intercept)|g`` and
    ``cor_Days.(Intercept)|g``.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> t = NS(group="Subject", cnames=["(Intercept)", "Days"], p=2)
    >>> sig_names([t]), sig_names([t], old_names=False)[1]
    (['.sig01', '.sig02', '.sig03'], 'cor_Days.(Intercept)|Subject')
    """
    from ..core.covstruct import structure_of_term

    out = []
    for t in terms:  # a structured term (cs(), ar1(), diag()) has its own sd/cor parameters
        for kind, i, j in structure_of_term(t).sdcor_index():
            if old_names:
                out.append(f".sig{len(out) + 1:02d}")
            elif kind == "sd":
                out.append(f"sd_{t.cnames[i]}|{t.group}")
            else:
                out.append(f"cor_{t.cnames[i]}.{t.cnames[j]}|{t.group}")
    return out
