"""R's self-starting nonlinear models (``stats::SSlogis`` and friends) with analytic gradients.

Each model is a :class:`SelfStart`: its value, its gradient with respect to each parameter
(vectorised over observations; parameters may be scalars or one value per observation) and
R's ``getInitial``: starting values from the response averaged over the distinct inputs
(``sortedXyData``), refined by least squares as R's ``initial`` functions do with
``nls(..., algorithm = "plinear")``.

Parameterisations and parameter names are exactly R's:

============  ==========================  ===========================================
model         parameters                  value
============  ==========================  ===========================================
SSlogis       Asym, xmid, scal            ``Asym / (1 + exp((xmid - x) / scal))``
SSasymp       Asym, R0, lrc               ``Asym + (R0 - Asym) exp(-exp(lrc) x)``
SSmicmen      Vm, K                       ``Vm x / (K + x)``
SSfpl         A, B, xmid, scal            ``A + (B - A) / (1 + exp((xmid - x) / scal))``
SSgompertz    Asym, b2, b3                ``Asym exp(-b2 b3^x)``
SSbiexp       A1, lrc1, A2, lrc2          ``A1 exp(-exp(lrc1) x) + A2 exp(-exp(lrc2) x)``
SSasympOrig   Asym, lrc                   ``Asym (1 - exp(-exp(lrc) x))``
SSasympOff    Asym, lrc, c0               ``Asym (1 - exp(-exp(lrc) (x - c0)))``
SSweibull     Asym, Drop, lrc, pwr        ``Asym - Drop exp(-exp(lrc) x^pwr)``
============  ==========================  ===========================================

Examples
--------
>>> import numpy as np
>>> m = MODELS["SSlogis"]
>>> float(m.value(np.array([500.0]), 200.0, 725.0, 350.0)[0]).__round__(4)
68.9202
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from .errors import MultilevelError, two_line

__all__ = ["SelfStart", "MODELS", "get_model", "get_initial", "sorted_xy"]


@dataclass(frozen=True)
class SelfStart:
    """One self-starting model: ``value(x, *pars)``, ``gradient(x, *pars)`` and ``initial(x, y)``.

    Attributes
    ----------
    name : str             -- R's name, e.g. ``"SSlogis"``
    params : tuple of str  -- R's parameter names in R's order
    min_distinct : int     -- distinct input values ``getInitial`` needs

    Examples
    --------
    >>> m = get_model("SSmicmen")
    >>> m.params
    ('Vm', 'K')
    >>> m.gradient(np.array([1.0]), 2.0, 1.0).round(3).tolist()
    [[0.5, -0.5]]
    """

    name: str
    params: tuple
    _value: Callable
    _gradient: Callable
    _initial: Callable
    min_distinct: int

    def value(self, x, *pars) -> np.ndarray:
        """The model's value at inputs ``x`` (parameters broadcast against ``x``).

        Examples
        --------
        >>> get_model("SSmicmen").value(np.array([1.0, 3.0]), 2.0, 1.0).tolist()
        [1.0, 1.5]
        """
        x = np.asarray(x, dtype=float)
        v = self._value(x, *(np.asarray(p, dtype=float) for p in pars))
        if np.shape(v) == x.shape:
            return np.asarray(v, dtype=float)
        return np.broadcast_to(v, x.shape).astype(float)

    def gradient(self, x, *pars) -> np.ndarray:
        """Derivatives of the value with respect to each parameter, shape ``(n, len(params))``.

        Examples
        --------
        >>> get_model("SSasymp").gradient(np.array([0.0]), 1.0, 2.0, 0.0).tolist()
        [[0.0, 1.0, -0.0]]
        """
        x = np.asarray(x, dtype=float)
        cols = self._gradient(x, *(np.asarray(p, dtype=float) for p in pars))
        if x.ndim != 1:
            return np.stack([np.broadcast_to(c, x.shape) for c in cols], axis=-1).astype(float)
        out = np.empty((x.size, len(cols)))
        for j, c in enumerate(cols):
            out[:, j] = c
        return out

    def initial(self, x, y) -> dict:
        """R's ``getInitial``: least-squares values of the parameters for the pooled data.

        Examples
        --------
        >>> x = np.array([1.0, 2.0, 4.0, 8.0])
        >>> y = 3.0 * x / (2.0 + x)
        >>> {k: round(v, 6) for k, v in get_model("SSmicmen").initial(x, y).items()}
        {'Vm': 3.0, 'K': 2.0}
        """
        xs, ys = sorted_xy(x, y)
        if xs.size < self.min_distinct:
            raise MultilevelError(two_line(
                f"{self.name} needs at least {self.min_distinct} distinct input values to find "
                f"starting values; the data have {xs.size}",
                "give starting values: start={"
                + ", ".join(repr(p) + ": ..." for p in self.params) + "}"))
        start = np.asarray(self._initial(xs, ys), dtype=float)
        return {k: float(v) for k, v in zip(self.params, _refine(self, xs, ys, start))}


def sorted_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """R's ``sortedXyData``: the mean response at each distinct input, inputs increasing.

    Examples
    --------
    >>> [a.tolist() for a in sorted_xy([2, 1, 2], [4.0, 1.0, 6.0])]
    [[1.0, 2.0], [1.0, 5.0]]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    ux, inv = np.unique(x[ok], return_inverse=True)
    sums = np.bincount(inv, weights=y[ok], minlength=ux.size)
    return ux, sums / np.bincount(inv, minlength=ux.size)


def _refine(model: SelfStart, x: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Least squares from ``start`` (what R's ``nls(..., algorithm = "plinear")`` converges to)."""
    from scipy.optimize import least_squares

    def res(p):
        return model.value(x, *p) - y

    def jac(p):
        return model.gradient(x, *p)

    if not np.all(np.isfinite(start)) or not np.all(np.isfinite(res(start))):
        raise MultilevelError(two_line(
            f"{model.name}: no usable starting values could be derived from the data",
            "give starting values with start={...}"))
    with np.errstate(all="ignore"):
        fit = least_squares(res, start, jac=jac, method="lm", xtol=1e-12, ftol=1e-12,
                            gtol=1e-12, max_nfev=2000)
    if not np.all(np.isfinite(fit.x)) or fit.status <= 0:
        raise MultilevelError(two_line(
            f"{model.name}: the least-squares fit for starting values did not converge",
            "give starting values with start={...}"))
    return fit.x


def _lin_coef(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Intercept and slope of the least-squares line ``y ~ x``."""
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)


def _rt_asymptote(y: np.ndarray) -> float:
    """R's ``NLSstRtAsymptote``: the extreme response nearer the last one, pushed out by 1/8."""
    lo, hi = float(np.min(y)), float(np.max(y))
    last = y[-1]
    if abs(hi - last) < abs(lo - last):
        return hi + (hi - lo) / 8
    return lo - (hi - lo) / 8


def _linear_given(cols: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """The linear coefficients of ``plinear`` for fixed nonlinear parameters."""
    return np.linalg.lstsq(np.column_stack(cols), y, rcond=None)[0]


# ----- SSlogis -------------------------------------------------------------------------------
def _logis_value(x, asym, xmid, scal):
    return asym * expit((x - xmid) / scal)


def _logis_grad(x, asym, xmid, scal):
    s = expit((x - xmid) / scal)
    ds = s * (1.0 - s)
    return s, -asym * ds / scal, -asym * ds * (x - xmid) / scal ** 2


def _logis_init(x, y):
    lo, hi = y.min(), y.max()
    dz = hi - lo
    z = (y - lo + 0.05 * dz) / (1.1 * dz)
    xmid, scal = _lin_coef(np.log(z / (1 - z)), x)
    asym = _linear_given([expit((x - xmid) / scal)], y)[0]
    return [asym, xmid, scal]


# ----- SSasymp -------------------------------------------------------------------------------
def _asymp_value(x, asym, r0, lrc):
    return asym + (r0 - asym) * np.exp(-np.exp(lrc) * x)


def _asymp_grad(x, asym, r0, lrc):
    rate = np.exp(lrc)
    e = np.exp(-rate * x)
    return 1.0 - e, e, -(r0 - asym) * e * rate * x


def _asymp_lrc(x, y):
    ydiff = np.abs(y - _rt_asymptote(y))
    ok = ydiff > 0
    slope = _lin_coef(x[ok], np.log(ydiff[ok]))[1]
    return float(np.log(abs(slope))) if slope != 0 else 0.0


def _asymp_init(x, y):
    lrc = _asymp_lrc(x, y)
    e = np.exp(-np.exp(lrc) * x)
    a, b = _linear_given([1.0 - e, e], y)
    return [a, b, lrc]


# ----- SSmicmen ------------------------------------------------------------------------------
def _micmen_value(x, vm, k):
    return vm * x / (k + x)


def _micmen_grad(x, vm, k):
    return x / (k + x), -vm * x / (k + x) ** 2


def _micmen_init(x, y):
    ok = (x != 0) & (y != 0)
    b0, b1 = _lin_coef(1.0 / x[ok], 1.0 / y[ok])
    k = abs(b1 / b0)
    vm = _linear_given([x / (k + x)], y)[0]
    return [vm, k]


# ----- SSfpl ---------------------------------------------------------------------------------
def _fpl_value(x, a, b, xmid, scal):
    return a + (b - a) * expit((x - xmid) / scal)


def _fpl_grad(x, a, b, xmid, scal):
    s = expit((x - xmid) / scal)
    ds = s * (1.0 - s)
    return 1.0 - s, s, -(b - a) * ds / scal, -(b - a) * ds * (x - xmid) / scal ** 2


def _fpl_init(x, y):
    lo, hi = y.min(), y.max()
    d = hi - lo
    prop = (y - lo + 0.05 * d) / (1.1 * d)
    xmid, slope = _lin_coef(np.log(prop / (1 - prop)), x)
    scal = abs(slope)
    a, ba = _linear_given([np.ones_like(x), expit((x - xmid) / scal)], y)
    return [a, a + ba, xmid, scal]


# ----- SSgompertz ----------------------------------------------------------------------------
def _gomp_value(x, asym, b2, b3):
    return asym * np.exp(-b2 * b3 ** x)


def _gomp_grad(x, asym, b2, b3):
    p = b3 ** x
    e = np.exp(-b2 * p)
    return e, -asym * e * p, -asym * e * b2 * x * b3 ** (x - 1.0)


def _gomp_init(x, y):
    # R: NLSstAsymptotic on log|y| gives b0 + b1 (1 - exp(-exp(lrc) x));
    # then b2 = b1 and b3 = exp(-exp(lrc))
    ly = np.log(np.abs(y))
    lrc = _asymp_lrc(x, ly)
    e = np.exp(-np.exp(lrc) * x)
    _, b1 = _linear_given([np.ones_like(x), 1.0 - e], ly)
    b2, b3 = float(b1), float(np.exp(-np.exp(lrc)))
    asym = _linear_given([np.exp(-b2 * b3 ** x)], y)[0]
    return [asym, b2, b3]


# ----- SSbiexp -------------------------------------------------------------------------------
def _biexp_value(x, a1, lrc1, a2, lrc2):
    return a1 * np.exp(-np.exp(lrc1) * x) + a2 * np.exp(-np.exp(lrc2) * x)


def _biexp_grad(x, a1, lrc1, a2, lrc2):
    r1, r2 = np.exp(lrc1), np.exp(lrc2)
    e1, e2 = np.exp(-r1 * x), np.exp(-r2 * x)
    return e1, -a1 * e1 * r1 * x, e2, -a2 * e2 * r2 * x


def _biexp_init(x, y):
    n = x.size
    nlast = max(3, round(n / 2))   # Python's round, as R's, takes halves to even
    last = slice(n - nlast, n)
    b0, b1 = _lin_coef(x[last], np.log(y[last]))
    lrc2 = float(np.log(abs(b1)))
    res = y - np.exp(b0) * np.exp(-np.exp(lrc2) * x)
    first = slice(0, n - nlast)
    lrc1 = float(np.log(abs(_lin_coef(x[first], np.log(np.abs(res[first])))[1])))
    a1, a2 = _linear_given([np.exp(-np.exp(lrc1) * x), np.exp(-np.exp(lrc2) * x)], y)
    return [a1, lrc1, a2, lrc2]


# ----- SSasympOrig, SSasympOff, SSweibull ------------------------------------------------------
def _orig_value(x, asym, lrc):
    return asym * (1.0 - np.exp(-np.exp(lrc) * x))


def _orig_grad(x, asym, lrc):
    rate = np.exp(lrc)
    e = np.exp(-rate * x)
    return 1.0 - e, asym * e * rate * x


def _orig_init(x, y):
    a0 = _rt_asymptote(y)
    with np.errstate(all="ignore"):
        v = np.log(1.0 - y / a0) / x
    lrc = float(np.log(abs(np.nanmean(v[np.isfinite(v)]))))
    asym = _linear_given([1.0 - np.exp(-np.exp(lrc) * x)], y)[0]
    return [asym, lrc]


def _off_value(x, asym, lrc, c0):
    return asym * (1.0 - np.exp(-np.exp(lrc) * (x - c0)))


def _off_grad(x, asym, lrc, c0):
    rate = np.exp(lrc)
    e = np.exp(-rate * (x - c0))
    return 1.0 - e, asym * e * rate * (x - c0), -asym * e * rate


def _off_init(x, y):
    asym, r0, lrc = _refine(MODELS["SSasymp"], x, y, np.asarray(_asymp_init(x, y)))
    return [asym, lrc, float(np.exp(-lrc) * np.log(-(r0 - asym) / asym))]


def _weib_value(x, asym, drop, lrc, pwr):
    return asym - drop * np.exp(-np.exp(lrc) * x ** pwr)


def _weib_grad(x, asym, drop, lrc, pwr):
    xp = x ** pwr
    e = np.exp(-np.exp(lrc) * xp)
    with np.errstate(divide="ignore", invalid="ignore"):
        lx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
    return (np.ones_like(e), -e, drop * e * np.exp(lrc) * xp,
            drop * e * np.exp(lrc) * xp * lx)


def _lf_asymptote(y: np.ndarray) -> float:
    """R's ``NLSstLfAsymptote``: the extreme response nearer the first one, pushed out by 1/8."""
    lo, hi = float(np.min(y)), float(np.max(y))
    if abs(hi - y[0]) < abs(lo - y[0]):
        return hi + (hi - lo) / 8
    return lo - (hi - lo) / 8


def _weib_init(x, y):
    if np.any(x < 0):
        raise MultilevelError(two_line("all input values must be non-negative for SSweibull",
                                       "give starting values with start={...}"))
    ra, la = _rt_asymptote(y), _lf_asymptote(y)
    ok = x > 0
    lrc, pwr = _lin_coef(np.log(x[ok]), np.log(-np.log((ra - y[ok]) / (ra - la))))
    a, d = _linear_given([np.ones_like(x), -np.exp(-np.exp(lrc) * x ** pwr)], y)
    return [a, d, lrc, pwr]


MODELS: dict[str, SelfStart] = {
    "SSlogis": SelfStart("SSlogis", ("Asym", "xmid", "scal"), _logis_value, _logis_grad,
                         _logis_init, 4),
    "SSasymp": SelfStart("SSasymp", ("Asym", "R0", "lrc"), _asymp_value, _asymp_grad,
                         _asymp_init, 3),
    "SSmicmen": SelfStart("SSmicmen", ("Vm", "K"), _micmen_value, _micmen_grad,
                          _micmen_init, 3),
    "SSfpl": SelfStart("SSfpl", ("A", "B", "xmid", "scal"), _fpl_value, _fpl_grad,
                       _fpl_init, 5),
    "SSgompertz": SelfStart("SSgompertz", ("Asym", "b2", "b3"), _gomp_value, _gomp_grad,
                            _gomp_init, 4),
    "SSbiexp": SelfStart("SSbiexp", ("A1", "lrc1", "A2", "lrc2"), _biexp_value, _biexp_grad,
                         _biexp_init, 5),
    "SSasympOrig": SelfStart("SSasympOrig", ("Asym", "lrc"), _orig_value, _orig_grad,
                             _orig_init, 3),
    "SSasympOff": SelfStart("SSasympOff", ("Asym", "lrc", "c0"), _off_value, _off_grad,
                            _off_init, 4),
    "SSweibull": SelfStart("SSweibull", ("Asym", "Drop", "lrc", "pwr"), _weib_value,
                           _weib_grad, _weib_init, 5),
}
"""R's name -> model."""


def get_model(name: str) -> SelfStart:
    """The self-starting model called ``name`` (R's spelling), or a clear error.

    Examples
    --------
    >>> get_model("SSfpl").params
    ('A', 'B', 'xmid', 'scal')
    """
    try:
        return MODELS[name]
    except KeyError:
        raise MultilevelError(two_line(
            f"unknown nonlinear model function {name!r}",
            f"use one of R's self-starting models: {', '.join(MODELS)}")) from None


def get_initial(name: str, x, y) -> dict:
    """R's ``getInitial(y ~ SSxxx(x, ...), data)``: starting values from the pooled data.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    >>> y = 10 / (1 + np.exp((3 - x) / 1.5))
    >>> {k: round(v, 4) for k, v in get_initial("SSlogis", x, y).items()}
    {'Asym': 10.0, 'xmid': 3.0, 'scal': 1.5}
    """
    return get_model(name).initial(x, y)
