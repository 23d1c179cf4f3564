"""BLAS threads: one thread unless a large dense block and idle cores make threads pay.

OpenBLAS spreads even a 6 x 6 triangular solve over its threads; on a loaded 2-core machine
the threads then wait on each other and a 10-microsecond call takes 20 milliseconds, and a
1128 x 1128 Cholesky factor goes from 9 to 87 milliseconds. Problems run single-threaded
unless their largest dense block is big enough for threads to help *and* the machine has
cores to spare (the one-minute load average, which counts this process, leaves a core idle).
Blocks of order 2000 and more always get the threads: one factorisation then takes a tenth of
a second or more, and on a busy 2-core machine two threads measured within 5% of one thread
(order 2500: 100 vs 96 ms; 4000: 0.40 vs 0.39 s) while on an idle one they save 40-45%
(order 10,000: 3.1 vs 5.6 s).
"""
from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache

from .cholesky import SMALL_BLOCK

THREADED_BLOCK = 600  # dense blocks of at least this order gain from several BLAS threads
ALWAYS_THREADED = 2000  # ... and from this order on, whatever else the machine is doing


@lru_cache(maxsize=2)
def _controller(with_scipy: bool):
    """A controller of the BLAS libraries loaded now (``with_scipy``: scipy's own OpenBLAS,
    loaded with ``scipy.linalg``, is among them; a controller only sees the libraries loaded
    when it was made)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    return ThreadpoolController()


@lru_cache(maxsize=2)
def _blas_libraries(with_scipy: bool) -> tuple:
    """The BLAS libraries of :func:`_controller` (threadpoolctl's controllers of each)."""
    ctl = _controller(with_scipy)
    if ctl is None:  # pragma: no cover - threadpoolctl is a dependency
        return ()
    return tuple(lib for lib in ctl.lib_controllers if lib.user_api == "blas")


class OneBlasThread:
    """A context manager: the BLAS ``libraries`` at one thread inside, each set back to its
    own count on leaving (threadpoolctl's ``limit(limits=1, user_api="blas")``, without its
    survey of every loaded library: ~3 instead of ~10 microseconds a fit).

    Examples
    --------
    >>> with OneBlasThread(_blas_libraries("scipy.linalg" in sys.modules)):
    ...     pass
    """

    __slots__ = ("_libraries", "_saved")

    def __init__(self, libraries: tuple):
        self._libraries = libraries
        self._saved: list = []

    def __enter__(self) -> "OneBlasThread":
        self._saved = [lib.get_num_threads() for lib in self._libraries]
        for lib, n in zip(self._libraries, self._saved):
            if n is not None and n != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc) -> None:
        for lib, n in zip(self._libraries, self._saved):
            if n is not None and n != 1:
                lib.set_num_threads(n)


def _spare_cores() -> bool:
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without a load average
        return False
    return load < (os.cpu_count() or 1) - 0.5


def blas_threads_for(dense_order: int):
    """A context manager limiting BLAS to one thread unless threads will help.

    Examples
    --------
    >>> with blas_threads_for(10):
    ...     pass
    """
    if dense_order > SMALL_BLOCK:  # the fit will call scipy's BLAS: load it before limiting
        import scipy.linalg  # noqa: F401
    libraries = _blas_libraries("scipy.linalg" in sys.modules)
    if not libraries or dense_order >= ALWAYS_THREADED or (dense_order >= THREADED_BLOCK
                                                           and _spare_cores()):
        return contextlib.nullcontext()
    return OneBlasThread(libraries)


def largest_dense_block(A) -> int:
    """Order of the largest dense diagonal block of ``L`` (all terms after the first, and
    the ``[X y]`` block).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> largest_dense_block(NS(ps=[1, 2], n_levels=[100, 30], p_x=2))
    60
    """
    sizes = [p * l for p, l in zip(A.ps[1:], A.n_levels[1:])] + [A.p_x + 1]
    return max(sizes)


def glmm_dense_order(gdata) -> int:
    """Order of the largest dense block of a GLMM's penalised least-squares system (terms
    after the first, and the fixed effects plus one).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> glmm_dense_order(NS(terms=[NS(p=1, n_levels=50), NS(p=2, n_levels=3)], p=4))
    6
    """
    return max([t.p * t.n_levels for t in gdata.terms[1:]] + [gdata.p + 1])
