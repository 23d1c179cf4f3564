"""Index tables of the dense small-model objective, made once per random-effects structure.

A structure is the terms' numbers of levels and of effects, and the order ``m = q + p + 1``
of the whole system. Refits of one structure (bootstrap, profiles, simulations, the same
model on new data) share its tables, which are read-only.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .theta import lower_tri_indices, n_theta

EXPANSION_MAX_ENTRIES = 100_000  # largest stack of quadratic-expansion matrices (entries;
                                 # measured faster than the products up to ~90,000)


def lambda_index(n_levels: list[int], ps: list[int]) -> tuple[np.ndarray, ...]:
    """``(rows, cols, tidx)``: ``Lambda[rows, cols] = theta[tidx]`` for terms in order, levels
    major within a term (each level's block is the term's lower-triangular factor).

    Examples
    --------
    >>> [a.tolist() for a in lambda_index([2], [2])]
    [[0, 1, 1, 2, 3, 3], [0, 0, 1, 2, 2, 3], [0, 1, 2, 0, 1, 2]]
    """
    rows, cols, tidx = [], [], []
    off, start = 0, 0
    for l, p in zip(n_levels, ps):
        r, c = lower_tri_indices(p)
        base = off + np.arange(l)[:, None] * p
        rows.append((base + r[None, :]).ravel())
        cols.append((base + c[None, :]).ravel())
        tidx.append(np.tile(start + np.arange(r.size), l))
        off += l * p
        start += n_theta(p)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(tidx)


class DenseLayout(NamedTuple):
    """See :func:`dense_layout`."""

    q: int
    m: int
    n_theta: int
    rows: np.ndarray
    cols: np.ndarray
    tidx: np.ndarray
    ia: np.ndarray            # theta pairs a <= b of the quadratic terms
    ib: np.ndarray
    gather: tuple | None      # (first, second): see dense_layout
    upper: tuple              # (rows, cols) of the strict upper triangle of an m x m array
    offsets: tuple            # each term's first row, and q
    diag_flat: tuple          # per term, flat m x m indices of its (l, p, p) level blocks


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=16)  # each up to ~1.6 MB (EXPANSION_MAX_ENTRIES, two index tables)
def dense_layout(n_levels: tuple, ps: tuple, m: int) -> DenseLayout:
    """The index tables of the dense objective of a structure (cached, read-only).

    ``gather = (first, second)``, two ``(1 + n + n(n+1)/2, m*m)`` index arrays into the flat
    cross-product array ``C`` with one zero appended (index ``m*m``), such that
    ``K = Cz[first] + Cz[second]`` (plus ``I_Z`` on ``K[0]``) is the stack of the quadratic
    expansion of :class:`~multilevel.core.dense_small.DenseObjective`: ``Lambda = sum_a
    theta_a E_a`` with one 1 per level in ``E_a`` (at ``(r, c)``, ``theta_a`` at
    ``Lambda[r, c]``), so ``C E_a`` has column ``c`` equal to ``C``'s column ``r`` and
    ``(E_a' C E_b)[c_a, c_b] = C[r_a, r_b]``: every entry of the stack is one entry of ``C``,
    or (``E_a' C E_b + E_b' C E_a``) the sum of two, in that order. None when the stack
    would exceed ``EXPANSION_MAX_ENTRIES``.

    Examples
    --------
    >>> lay = dense_layout((2,), (1,), 4)
    >>> lay.q, lay.n_theta, lay.gather[0].shape
    (2, 1, (3, 16))
    """
    rows, cols, tidx = lambda_index(list(n_levels), list(ps))
    q = int(sum(l * p for l, p in zip(n_levels, ps)))
    n = int(tidx.max()) + 1 if tidx.size else 0
    ia, ib = np.triu_indices(n)
    upper = np.triu_indices(m, 1)
    n_coef = 1 + n + ia.size
    gather = None
    if n and n_coef * m * m <= EXPANSION_MAX_ENTRIES:
        zero = m * m
        first = np.full((n_coef, m * m), zero, dtype=np.intp)
        second = np.full((n_coef, m * m), zero, dtype=np.intp)
        x = np.arange(q, m)
        # K_0 = P C P: the [X y] block of C
        first[0] = np.where((np.arange(m)[:, None] >= q) & (np.arange(m)[None, :] >= q),
                            np.arange(m * m).reshape(m, m), zero).ravel()
        at = [np.flatnonzero(tidx == a) for a in range(n)]
        for a in range(n):  # K_a = P C E_a + (P C E_a)': (x, c) <- C[x, r] and (c, x)
            r, c = rows[at[a]], cols[at[a]]
            src = x[:, None] * m + r[None, :]
            first[1 + a, (x[:, None] * m + c[None, :]).ravel()] = src.ravel()
            second[1 + a, (c[None, :] * m + x[:, None]).ravel()] = src.ravel()
        for k, (a, b) in enumerate(zip(ia, ib)):  # E_a' C E_b (+ its transpose, a < b)
            ra, ca, rb, cb = rows[at[a]], cols[at[a]], rows[at[b]], cols[at[b]]
            src = (ra[:, None] * m + rb[None, :]).ravel()
            first[1 + n + k, (ca[:, None] * m + cb[None, :]).ravel()] = src
            if a != b:
                second[1 + n + k, (cb[None, :] * m + ca[:, None]).ravel()] = src
        gather = _frozen(first, second)
    offsets = tuple(int(o) for o in np.cumsum([0] + [l * p for l, p in zip(n_levels, ps)]))
    diag_flat = []
    for off, l, p in zip(offsets, n_levels, ps):
        start = off + np.arange(l)[:, None, None] * p
        diag_flat.append(((start + np.arange(p)[None, :, None]) * m
                          + start + np.arange(p)[None, None, :]))
    _frozen(rows, cols, tidx, ia, ib, *upper, *diag_flat)
    return DenseLayout(q=q, m=m, n_theta=n, rows=rows, cols=cols, tidx=tidx, ia=ia, ib=ib,
                       gather=gather, upper=upper, offsets=offsets, diag_flat=tuple(diag_flat))
