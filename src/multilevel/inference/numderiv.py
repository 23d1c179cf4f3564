"""Richardson-extrapolated finite differences, step for step as R's numDeriv.

lmerTest takes the Hessian of the deviance and the Jacobian of ``vcov(beta)`` with respect to
the variance parameters from ``numDeriv::hessian`` and ``numDeriv::jacobian``. To reproduce
its degrees of freedom to the last digits, the same steps and the same extrapolation are used
here:

* steps ``h0 = |d x| + eps * (|x| < zero_tol)`` with ``eps = 1e-4``,
  ``zero_tol = sqrt(2.2e-16 / 7e-7)``; ``d = 0.1`` for the Hessian (``hessian.default``
  passes its own defaults to ``genD``) and ``d = 1e-4`` for the Jacobian;
* ``r = 4`` central differences with ``h`` halved each time, combined by Richardson
  extrapolation ``(A_{k+1} 4^m - A_k) / (4^m - 1)``;
* off-diagonal second derivatives from ``f(x + h_i e_i + h_j e_j)`` and
  ``f(x - h_i e_i - h_j e_j)`` corrected by the diagonal ones (``genD``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

EPS = 1e-4
ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))
R_STEPS = 4


def _steps(x: np.ndarray, d: float) -> np.ndarray:
    return np.abs(d * x) + EPS * (np.abs(x) < ZERO_TOL)


def _richardson(a: np.ndarray) -> np.ndarray:
    """Extrapolate along axis 0 (the ``r`` successively halved steps)."""
    a = np.array(a, dtype=float)
    for m in range(1, R_STEPS):
        a = (a[1:] * 4.0 ** m - a[:-1]) / (4.0 ** m - 1.0)
    return a[0]


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1) -> np.ndarray:
    """Hessian of a scalar function as ``numDeriv::hessian(f, x)`` computes it.

    Parameters
    ----------
    f : callable
        Scalar function of a vector.
    x : (k,) array
    d : float
        Relative step (numDeriv's ``method.args$d``; 0.1 is ``hessian``'s default).

    Returns
    -------
    (k, k) array

    Examples
    --------
    >>> H = hessian(lambda v: v[0] ** 2 * v[1] + np.exp(v[1]), np.array([1.0, 0.5]))
    >>> np.round(H, 8).tolist()
    [[1.0, 2.0], [2.0, 1.64872127]]
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    f0 = float(f(x))
    h0 = _steps(x, d)
    hdiag = np.empty(k)
    H = np.empty((k, k))
    for i in range(k):
        approx = np.empty(R_STEPS)
        h = h0.copy()
        for s in range(R_STEPS):
            e = np.zeros(k)
            e[i] = h[i]
            approx[s] = (f(x + e) - 2.0 * f0 + f(x - e)) / h[i] ** 2
            h = h / 2.0
        hdiag[i] = _richardson(approx)
        H[i, i] = hdiag[i]
    for i in range(k):
        for j in range(i):
            approx = np.empty(R_STEPS)
            h = h0.copy()
            for s in range(R_STEPS):
                e = np.zeros(k)
                e[i], e[j] = h[i], h[j]
                approx[s] = ((f(x + e) - 2.0 * f0 + f(x - e) - hdiag[i] * h[i] ** 2
                              - hdiag[j] * h[j] ** 2) / (2.0 * h[i] * h[j]))
                h = h / 2.0
            H[i, j] = H[j, i] = _richardson(approx)
    return H


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4
             ) -> np.ndarray:
    """Jacobian of a vector function as ``numDeriv::jacobian(f, x)`` computes it.

    Returns
    -------
    (m, k) array
        Column ``i`` is the derivative of ``f`` with respect to ``x[i]``.

    Examples
    --------
    >>> J = jacobian(lambda v: np.array([v[0] * v[1], v[1] ** 2]), np.array([2.0, 3.0]))
    >>> np.round(J, 8).tolist()
    [[3.0, 2.0], [0.0, 6.0]]
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    m = np.asarray(f(x), dtype=float).size
    a = np.empty((R_STEPS, m, k))
    h = _steps(x, d)
    for s in range(R_STEPS):
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            a[s, :, i] = (np.ravel(f(x + e)) - np.ravel(f(x - e))) / (2.0 * h[i])
        h = h / 2.0
    return _richardson(a)
