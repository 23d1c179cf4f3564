"""blas_threads_for: BLAS at one thread inside a small fit, the caller's counts restored."""
import numpy as np
import pytest

from multilevel.core.threads import ALWAYS_THREADED, blas_threads_for

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_counts() -> list:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_counts_restored_after_nesting_and_errors():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_counts()
        with blas_threads_for(10):
            assert all(n == 1 for n in _blas_counts())
            with blas_threads_for(10):  # nested: still one thread, the outer count kept
                assert all(n == 1 for n in _blas_counts())
            assert all(n == 1 for n in _blas_counts())
        assert _blas_counts() == before
        with pytest.raises(ZeroDivisionError):
            with blas_threads_for(10):
                1 / 0
        assert _blas_counts() == before


def test_large_dense_blocks_keep_the_threads():
    import scipy.linalg  # noqa: F401 - loaded by large blocks: its BLAS is counted from here

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_counts()
        with blas_threads_for(ALWAYS_THREADED):
            assert _blas_counts() == before
        np.linalg.cholesky(np.eye(3))  # BLAS still usable
