"""BLAS threads: one thread for small dense blocks, where threading only costs.

OpenBLAS spreads even a 6 x 6 triangular solve over its threads; on a loaded 2-core machine
the threads then wait on each other and a 10-microsecond call takes 20 milliseconds. Problems
whose dense blocks are small run single-threaded; large ones keep the library's default.
"""
from __future__ import annotations

import contextlib
from functools import lru_cache

SMALL_BLOCK = 2000  # dense blocks up to this order gain little from threads and lose much on a busy machine


@lru_cache(maxsize=1)
def _controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    return ThreadpoolController()


def blas_threads_for(dense_order: int):
    """A context manager limiting BLAS to one thread when ``dense_order`` is small.

    Examples
    --------
    >>> with blas_threads_for(10):
    ...     pass
    """
    ctl = _controller()
    if ctl is None or dense_order > SMALL_BLOCK:
        return contextlib.nullcontext()
    return ctl.limit(limits=1, user_api="blas")


def largest_dense_block(A) -> int:
    """Order of the largest dense diagonal block of ``L`` (all terms after the first, and
    the ``[X y]`` block)."""
    sizes = [p * l for p, l in zip(A.ps[1:], A.n_levels[1:])] + [A.p_x + 1]
    return max(sizes)
