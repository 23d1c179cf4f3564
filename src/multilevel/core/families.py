"""GLM families and links: the response side of a GLMM (lme4's ``glmFamily`` / ``glmResp``).

A :class:`Family` bundles a distribution (variance function, deviance residuals, and the
``aic`` term ``-2 log p(y | mu)``) with a :class:`Link` (``eta = g(mu)``). PIRLS needs, per
row, the working weight and working response

.. math::

    w_i = \\frac{a_i (d\\mu_i / d\\eta_i)^2}{V(\\mu_i)}, \\qquad
    z_i = \\eta_i + \\frac{y_i - \\mu_i}{d\\mu_i / d\\eta_i},

with prior weights ``a_i`` (for ``cbind(successes, failures)`` these are the numbers of
trials). Inverse links and ``mu.eta`` are clamped exactly as lme4's C++ ``glmFamily``
clamps them (``eps`` = machine epsilon), so extreme linear predictors give lme4's numbers.

Only numpy/scipy here: no pandas, no printing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

EPS = float(np.finfo(float).eps)
LOG_2PI = float(np.log(2.0 * np.pi))

LINKS = ("logit", "probit", "cloglog", "log", "identity", "inverse", "sqrt", "1/mu^2",
         "cauchit")


@dataclass(frozen=True)
class Link:
    """A link function ``eta = g(mu)`` with its inverse and ``d mu / d eta``.

    Attributes
    ----------
    name : str -- R's name: ``logit``, ``probit``, ``cloglog``, ``log``, ``identity``,
        ``inverse``, ``sqrt``, ``1/mu^2``, ``cauchit``

    Examples
    --------
    >>> lk = Link("logit")
    >>> float(lk.linkinv(np.array([0.0]))[0])
    0.5
    """

    name: str

    def __post_init__(self):
        if self.name not in LINKS:
            raise ValueError(f"unknown link {self.name!r}; use one of {', '.join(LINKS)}")

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """``g(mu)``.

        Examples
        --------
        >>> Link("log").linkfun(np.array([1.0])).tolist()
        [0.0]
        """
        mu = np.asarray(mu, dtype=float)
        n = self.name
        if n == "logit":
            return special.logit(mu)
        if n == "probit":
            return special.ndtri(mu)
        if n == "cloglog":
            return np.log(-np.log1p(-mu))
        if n == "log":
            return np.log(mu)
        if n == "identity":
            return mu.copy()
        if n == "inverse":
            return 1.0 / mu
        if n == "sqrt":
            return np.sqrt(mu)
        if n == "1/mu^2":
            return 1.0 / mu ** 2
        return np.tan(np.pi * (mu - 0.5))  # cauchit

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """``g^{-1}(eta)``, clamped as in lme4."""
        eta = np.asarray(eta, dtype=float)
        n = self.name
        if n == "logit":
            return np.minimum(1.0 - EPS, special.expit(eta))
        if n == "probit":
            return np.minimum(1.0 - EPS, special.ndtr(eta))
        if n == "cloglog":
            return np.clip(-np.expm1(-np.exp(eta)), EPS, 1.0 - EPS)
        if n == "log":
            return np.maximum(EPS, np.exp(eta))
        if n == "identity":
            return eta.copy()
        if n == "inverse":
            return 1.0 / eta
        if n == "sqrt":
            return eta ** 2
        if n == "1/mu^2":
            return 1.0 / np.sqrt(eta)
        return np.minimum(1.0 - EPS, 0.5 + np.arctan(eta) / np.pi)  # cauchit

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """``d mu / d eta``, clamped as in lme4.

        Examples
        --------
        >>> Link("logit").mu_eta(np.array([0.0])).tolist()
        [0.25]
        """
        eta = np.asarray(eta, dtype=float)
        n = self.name
        if n == "logit":
            e = np.exp(-np.abs(eta))
            return np.maximum(EPS, e / (1.0 + e) ** 2)
        if n == "probit":
            return np.exp(-0.5 * eta ** 2 - 0.5 * LOG_2PI)
        if n == "cloglog":
            return np.maximum(EPS, np.exp(eta - np.exp(eta)))
        if n == "log":
            return np.maximum(EPS, np.exp(eta))
        if n == "identity":
            return np.ones_like(eta)
        if n == "inverse":
            return -1.0 / eta ** 2
        if n == "sqrt":
            return 2.0 * eta
        if n == "1/mu^2":
            return -1.0 / (2.0 * eta ** 1.5)
        return 1.0 / (np.pi * (1.0 + eta ** 2))  # cauchit


def _r_round4(x: float) -> str:
    """``format(round(x, 4))`` as R prints it (7 significant digits), as MASS names the
    negative binomial family."""
    return f"{round(float(x), 4):.7g}"


def _ylogy(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y log(y / mu)`` with ``0 log 0 = 0`` (lme4's ``Y_log_Y``).

    One logarithm of the ratio (as lme4; ``log1p`` near ``mu = y``): ``y log y - y log mu``
    would lose every digit to cancellation for large counts (``y`` near 1e9: the deviance
    then moves by 1e-3 between equal fits, and PIRLS step halving cannot settle).

    Examples
    --------
    >>> float(_ylogy(np.array([1e9]), np.array([1e9 + 1.0]))[0])  # doctest: +ELLIPSIS
    -0.9999999995...
    """
    y, mu = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(mu, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -y * np.log1p((mu - y) / y)  # = y log(y / mu), accurate when mu is near y
    return np.where(y == 0, 0.0, out) + 0.0  # no -0.0


FAMILIES = {
    "binomial": ("logit", ("logit", "probit", "cloglog", "log", "cauchit")),
    "poisson": ("log", ("log", "identity", "sqrt")),
    "Gamma": ("inverse", ("inverse", "identity", "log")),
    "inverse.gaussian": ("1/mu^2", ("1/mu^2", "inverse", "identity", "log")),
    "negative.binomial": ("log", ("log", "identity", "sqrt")),
    "gaussian": ("identity", ("identity", "log", "inverse")),  # glmer: non-identity links
}


@dataclass(frozen=True)
class Family:
    """A GLM family: variance, deviance residuals, ``aic``, starting values, and a link.

    Attributes
    ----------
    name : str      -- ``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian``,
                       ``negative.binomial``
    link : Link
    nb_theta : float or None -- the negative binomial's shape (R's ``theta``:
                       ``Var(y) = mu + mu^2 / theta``)
    has_scale : bool -- whether the family has a free dispersion (lme4's ``useSc``)

    Examples
    --------
    >>> fam = Family("poisson", Link("log"))
    >>> round(float(fam.aic(np.array([2.0]), np.ones(1), np.array([2.0]), np.ones(1), 0.0)), 6)
    2.613706
    """

    name: str
    link: Link
    nb_theta: float | None = None

    def __post_init__(self):
        if self.name == "negative.binomial" and not (self.nb_theta and self.nb_theta > 0):
            raise ValueError("the negative binomial family needs a positive theta")
        if self.name not in FAMILIES:
            raise ValueError(f"unknown family {self.name!r}; use one of {', '.join(FAMILIES)}")
        allowed = FAMILIES[self.name][1]
        if self.link.name not in allowed:
            raise ValueError(f"link {self.link.name!r} is not available for the {self.name} "
                             f"family; use one of {', '.join(allowed)}")

    @property
    def r_name(self) -> str:
        """The family as R prints it: ``Negative Binomial(3.127)`` for the negative binomial."""
        if self.name == "negative.binomial":
            return f"Negative Binomial({_r_round4(self.nb_theta)})"
        return self.name

    @classmethod
    def make(cls, name: str, link: str | None = None, nb_theta: float | None = None) -> Family:
        """The family ``name`` with ``link`` (its canonical link by default).

        Examples
        --------
        >>> Family.make("binomial").link.name
        'logit'
        """
        if name not in FAMILIES:
            raise ValueError(f"unknown family {name!r}; use one of {', '.join(FAMILIES)}")
        return cls(name, Link(link or FAMILIES[name][0]), nb_theta)

    @property
    def has_scale(self) -> bool:
        return self.name not in ("binomial", "poisson", "negative.binomial")

    @property
    def canonical(self) -> bool:
        """Canonical link: PIRLS (Fisher scoring) is then Newton's method."""
        return self.link.name == FAMILIES[self.name][0] and self.name != "negative.binomial"

    # ----- distribution ------------------------------------------------------------------
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """``V(mu)`` (binomial clamped at ``eps`` as in lme4).

        Examples
        --------
        >>> Family.make("binomial").variance(np.array([0.5])).tolist()
        [0.25]
        """
        if self.name == "binomial":
            return np.maximum(EPS, mu * (1.0 - mu))
        if self.name == "poisson":
            return mu
        if self.name == "Gamma":
            return mu ** 2
        if self.name == "negative.binomial":
            return mu + mu ** 2 / self.nb_theta
        if self.name == "gaussian":
            return np.ones_like(mu)
        return mu ** 3

    def dev_resid(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Squared deviance residuals ``d_i`` (their sum is the GLM deviance).

        Examples
        --------
        >>> fam = Family.make("poisson")
        >>> fam.dev_resid(np.array([2.0]), np.array([2.0]), np.ones(1)).tolist()
        [0.0]
        """
        if self.name == "binomial":
            return 2.0 * wt * (_ylogy(y, mu) + _ylogy(1.0 - y, 1.0 - mu))
        if self.name == "poisson":
            return 2.0 * wt * (_ylogy(y, mu) - (y - mu))
        if self.name == "negative.binomial":
            th = self.nb_theta
            return 2.0 * wt * (_ylogy(y, mu) - (y + th) * np.log((y + th) / (mu + th)))
        if self.name == "Gamma":
            with np.errstate(divide="ignore"):
                lr = np.where(y > 0, np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
            return -2.0 * wt * (lr - (y - mu) / mu)
        if self.name == "gaussian":
            return wt * (y - mu) ** 2
        return wt * (y - mu) ** 2 / (y * mu ** 2)

    def aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray,
            dev: float) -> float:
        """R's ``family$aic``: ``-2 log p(y | mu)`` summed over rows (plus 2 for a scale).

        ``n`` is lme4's ``resp$n`` (trials of a binomial response), ``dev`` the deviance
        (used by the families with a dispersion, estimated as ``dev / sum(wt)``).
        """
        if self.name == "binomial":
            m = n if np.any(n > 1) else wt
            k = np.rint(m * y)
            m = np.rint(m)
            logp = (special.gammaln(m + 1) - special.gammaln(k + 1) - special.gammaln(m - k + 1)
                    + special.xlogy(k, mu) + special.xlog1py(m - k, -mu))
            f = np.where(m > 0, wt / np.where(m > 0, m, 1.0), 0.0)
            return float(-2.0 * np.sum(f * logp))
        if self.name == "poisson":
            logp = special.xlogy(y, mu) - mu - special.gammaln(y + 1)
            return float(-2.0 * np.sum(logp * wt))
        if self.name == "negative.binomial":
            # lme4's C++ (negativeBinomialDist::aic), weights on the first term only
            th = self.nb_theta
            return float(2.0 * np.sum(wt * (y + th) * np.log(mu + th) - special.xlogy(y, mu)
                                      + special.gammaln(y + 1) - th * np.log(th)
                                      + special.gammaln(th) - special.gammaln(th + y)))
        if self.name == "Gamma":
            disp = dev / np.sum(wt)
            shape, scale = 1.0 / disp, mu * disp
            logp = ((shape - 1.0) * np.log(y) - y / scale - special.gammaln(shape)
                    - shape * np.log(scale))
            return float(-2.0 * np.sum(wt * logp) + 2.0)
        if self.name == "gaussian":  # R's gaussian()$aic
            nobs = len(y)
            with np.errstate(divide="ignore"):
                return float(nobs * (np.log(dev / nobs * 2.0 * np.pi) + 1.0) + 2.0
                             - np.sum(np.log(wt[wt > 0])))
        wsum = float(np.sum(wt))
        return float(wsum * (np.log(dev / wsum * 2.0 * np.pi) + 1.0)
                     + 3.0 * np.sum(np.log(y) * wt) + 2.0)

    def mustart(self, y: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """R's ``family$initialize`` starting means.

        Examples
        --------
        >>> Family.make("poisson").mustart(np.array([0.0, 3.0]), np.ones(2)).tolist()
        [0.1, 3.1]
        """
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        if self.name == "poisson":
            return y + 0.1
        if self.name == "negative.binomial":
            return y + (y == 0) / 6.0
        return y.astype(float, copy=True)

    # ----- PIRLS helpers -------------------------------------------------------------------
    def working(self, y: np.ndarray, wt: np.ndarray, eta: np.ndarray):
        """``(mu, w, r)``: means, working weights and working residuals ``(y - mu) / mu_eta``.

        Examples
        --------
        >>> fam = Family.make("binomial")
        >>> mu, w, r = fam.working(np.array([1.0]), np.ones(1), np.zeros(1))
        >>> float(mu[0]), float(w[0]), float(r[0])
        (0.5, 0.25, 2.0)
        """
        n = self.link.name
        if self.name == "binomial" and n == "logit":
            # one exp for mu and mu_eta: e = exp(-|eta|), mu_eta = e / (1 + e)^2 = mu (1 - mu)
            a = np.abs(eta)
            e = np.exp(-a)
            inv = 1.0 / (1.0 + e)
            mu = np.where(eta >= 0, inv, e * inv)
            me = e * inv * inv
            if a.max(initial=0.0) > 30.0:  # lme4's clamps only bite beyond |eta| ~ 36
                mu = np.minimum(1.0 - EPS, mu)
                me = np.maximum(EPS, me)
                w = wt * me ** 2 / self.variance(mu)
            else:
                w = wt * me  # the variance mu (1 - mu) equals mu_eta for the canonical link
            return mu, w, (y - mu) / me
        if n == "log":
            mu = np.maximum(EPS, np.exp(eta))
            me = mu
        else:
            mu = self.link.linkinv(eta)
            me = self.link.mu_eta(eta)
        w = wt * me ** 2 / self.variance(mu)
        return mu, w, (y - mu) / me

    def pirls_kernel(self, y: np.ndarray, wt: np.ndarray):
        """``eta -> (mu, w, r, dev)``: :meth:`working` and the deviance sum in one pass.

        With the canonical links of the binomial and Poisson families the deviance comes
        from ``eta`` itself, with the quantities of the working weights:

        * logit: ``dev = 2 (sat + sum(wt softplus(eta)) - sum(wt y eta))``, since
          ``-log mu = softplus(-eta)`` and ``-log(1 - mu) = softplus(eta)``;
        * log: ``dev = 2 (sat - sum(wt y eta) + sum(wt mu))``, since ``log mu = eta``,

        with ``sat`` the saturated log-likelihood. Beyond lme4's clamps (``|eta| > 30``
        for the logit, ``mu`` at ``eps`` for the log) and for large counts (whose deviance
        needs the exact residuals) it falls back to :meth:`working` and
        :meth:`dev_sum_function`.

        The fast kernels carry ``finite_with_dev = True``: their weights and residuals are
        finite wherever the deviance is.

        Examples
        --------
        >>> fam = Family.make("binomial")
        >>> y, wt, eta = np.array([1.0, 0.0]), np.ones(2), np.array([0.3, -1.2])
        >>> mu, w, r, dev = fam.pirls_kernel(y, wt)(eta)
        >>> bool(np.isclose(dev, fam.dev_resid(y, mu, wt).sum()))
        True
        """
        dev_sum = self.dev_sum_function(y, wt)

        def general(eta):
            mu, w, r = self.working(y, wt, eta)
            return mu, w, r, dev_sum(mu)

        link = self.link.name
        if float(np.sum(np.abs(wt * y))) > 1e6 or not (
                (self.name == "binomial" and link == "logit")
                or (self.name == "poisson" and link == "log")):
            return general
        wy = wt * y
        if self.name == "binomial":
            wny = wt * (1.0 - y)
            sat = float(np.sum(special.xlogy(wy, y) + special.xlogy(wny, 1.0 - y)))
            # softplus(eta) = log1p(exp(-|eta|)) + (eta + |eta|) / 2, so
            # sum(wt softplus(eta) - wy eta) = wt @ log1p(e) + wt @ |eta| / 2 + c @ eta
            c = 0.5 * wt - wy
            half_wt = 0.5 * wt
            unit = bool(np.all(wt == 1.0))  # 0/1 responses: w is mu_eta itself

            def logit(eta):
                a = np.abs(eta)
                if a.max() > 30.0:  # lme4's clamps may bite
                    return general(eta)
                # one exp, the other passes in place (each pass over n rows costs as much
                # as the arithmetic): e = exp(-|eta|), inv = 1 / (1 + e)
                e = np.negative(a)
                np.exp(e, out=e)
                inv = e + 1.0
                np.reciprocal(inv, out=inv)
                me = e * inv
                mu = np.where(eta >= 0, inv, me)   # e / (1 + e) for negative eta
                me *= inv                          # mu (1 - mu) = the variance
                np.log1p(e, out=e)
                dev = 2.0 * (sat + float(wt @ e) + float(half_wt @ a) + float(c @ eta))
                r = np.subtract(y, mu, out=inv)    # the working residual (y - mu) / var
                r /= me
                return mu, me if unit else wt * me, r, dev
            logit.finite_with_dev = True  # w and r are finite where the deviance is
            return logit
        sat = float(np.sum(special.xlogy(wy, y) - wy))
        log_eps = float(np.log(EPS))

        def log(eta):
            if eta.min(initial=0.0) < log_eps:  # mu clamped at eps
                return general(eta)
            mu = np.exp(eta)
            dev = 2.0 * (sat - float(wy @ eta) + float(wt @ mu))
            return mu, wt * mu, (y - mu) / mu, dev
        log.finite_with_dev = True
        return log

    def dev_sum_function(self, y: np.ndarray, wt: np.ndarray):
        """``mu -> sum(dev_resid(y, mu, wt))`` with the terms free of ``mu`` summed once.

        Examples
        --------
        >>> fam = Family.make("poisson")
        >>> y, mu = np.array([0.0, 3.0]), np.array([0.5, 2.0])
        >>> f = fam.dev_sum_function(y, np.ones(2))
        >>> bool(np.isclose(f(mu), fam.dev_resid(y, mu, np.ones(2)).sum()))
        True
        """
        if float(np.sum(np.abs(wt * y))) > 1e6:
            # large counts: "saturated minus log-likelihood" would cancel all but a few
            # digits (1e9 counts: 1e-3 of noise); sum the deviance residuals as lme4 does
            def exact(mu):
                return float(np.sum(self.dev_resid(y, mu, wt)))
            return exact
        if self.name == "binomial":
            wy, wny = wt * y, wt * (1.0 - y)
            sat = float(np.sum(special.xlogy(wy, y) + special.xlogy(wny, 1.0 - y)))

            def f(mu):
                with np.errstate(divide="ignore", invalid="ignore"):
                    ll = float(wy @ np.log(mu) + wny @ np.log(1.0 - mu))
                if not np.isfinite(ll):  # a mean of exactly 0 or 1: use 0 log 0 = 0
                    ll = float(np.sum(special.xlogy(wy, mu) + special.xlogy(wny, 1.0 - mu)))
                return 2.0 * (sat - ll)
            return f
        if self.name == "poisson":
            wy = wt * y
            sat = float(np.sum(special.xlogy(wy, y) - wy))

            def f(mu):
                with np.errstate(divide="ignore", invalid="ignore"):
                    ll = float(wy @ np.log(mu) - wt @ mu)
                if not np.isfinite(ll):
                    ll = float(np.sum(special.xlogy(wy, mu) - wt * mu))
                return 2.0 * (sat - ll)
            return f

        def f(mu):
            return float(np.sum(self.dev_resid(y, mu, wt)))
        return f
