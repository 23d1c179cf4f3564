"""GLM families for :func:`multilevel.glmer`, named as in R (``binomial(link = "probit")``).

Pass a family object or its name: ``family="binomial"`` is ``Binomial()``, and
``family=ml.family.Binomial(link="probit")`` chooses another link.

Examples
--------
>>> import multilevel as ml
>>> ml.family.Binomial(link="probit")
Binomial(link='probit')
>>> ml.family.Poisson().link
'log'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .core.families import FAMILIES, Family, Link
from .errors import DataError

__all__ = ["Binomial", "Poisson", "Gamma", "InverseGaussian", "Gaussian", "gaussian",
           "GlmFamily", "resolve"]


@dataclass(frozen=True)
class GlmFamily:
    """Base of the public families: a distribution (``name``) and a ``link``.

    Attributes
    ----------
    name : str -- R's family name (``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian``)
    link : str -- R's link name

    Examples
    --------
    >>> Poisson().linkinv(np.array([0.0])).tolist()
    [1.0]
    """

    name: ClassVar[str] = ""
    link: str = ""

    def __post_init__(self):
        if not self.link:
            object.__setattr__(self, "link", FAMILIES[self.name][0])
        self.to_core()  # validates the link

    def to_core(self) -> Family:
        """The numerical-core :class:`~multilevel.core.families.Family`."""
        try:
            return Family(self.name, Link(self.link))
        except ValueError as exc:
            raise DataError(f"{type(self).__name__}: {exc}") from None

    def linkfun(self, mu):
        """``eta = g(mu)``."""
        return self.to_core().link.linkfun(np.asarray(mu, dtype=float))

    def linkinv(self, eta):
        """``mu = g^{-1}(eta)``."""
        return self.to_core().link.linkinv(np.asarray(eta, dtype=float))

    def variance(self, mu):
        """The variance function ``V(mu)``."""
        return self.to_core().variance(np.asarray(mu, dtype=float))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link!r})"


@dataclass(frozen=True, repr=False)
class Binomial(GlmFamily):
    """Binomial family; links ``logit`` (default), ``probit``, ``cloglog``, ``log``, ``cauchit``.

    Examples
    --------
    >>> Binomial(link="cloglog").link
    'cloglog'
    """

    name: ClassVar[str] = "binomial"


@dataclass(frozen=True, repr=False)
class Poisson(GlmFamily):
    """Poisson family; links ``log`` (default), ``identity``, ``sqrt``.

    Examples
    --------
    >>> Poisson().link
    'log'
    """

    name: ClassVar[str] = "poisson"


@dataclass(frozen=True, repr=False)
class Gamma(GlmFamily):
    """Gamma family; links ``inverse`` (default), ``identity``, ``log``.

    Examples
    --------
    >>> Gamma(link="log").link
    'log'
    """

    name: ClassVar[str] = "Gamma"


@dataclass(frozen=True, repr=False)
class InverseGaussian(GlmFamily):
    """Inverse Gaussian family; links ``1/mu^2`` (default), ``inverse``, ``identity``, ``log``.

    Examples
    --------
    >>> InverseGaussian().link
    '1/mu^2'
    """

    name: ClassVar[str] = "inverse.gaussian"


@dataclass(frozen=True, repr=False)
class Gaussian(GlmFamily):
    """Gaussian family with a non-identity link for :func:`multilevel.glmer`: ``log`` or
    ``inverse`` (lme4 fits it by PIRLS and the Laplace approximation, as other families).
    With the identity link the model is linear: use :func:`multilevel.lmer`.

    Examples
    --------
    >>> Gaussian(link="log").link
    'log'
    """

    name: ClassVar[str] = "gaussian"


#: R's spelling: ``gaussian(link = "log")``.
gaussian = Gaussian

_BY_NAME = {"binomial": Binomial, "poisson": Poisson, "gamma": Gamma,
            "inverse.gaussian": InverseGaussian, "inverse_gaussian": InverseGaussian,
            "inversegaussian": InverseGaussian}


def resolve(family) -> Family:
    """A core :class:`Family` from a name, a public family object or a core family.

    Raises
    ------
    ValueError
        For an unknown name, or ``gaussian`` (use :func:`multilevel.lmer`).

    Examples
    --------
    >>> resolve("poisson").link.name
    'log'
    >>> resolve(Binomial(link="probit")).link.name
    'probit'
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, Gaussian) and family.link == "identity":
        raise DataError("family=gaussian with the identity link is a linear mixed model: "
                         "use ml.lmer(formula, data, reml=False)")
    if isinstance(family, GlmFamily):
        return family.to_core()
    if isinstance(family, type) and issubclass(family, GlmFamily):
        return family().to_core()
    if isinstance(family, str):
        key = family.strip().lower().replace("()", "")
        if key == "gaussian":
            raise DataError("family='gaussian' with the identity link is a linear mixed "
                             "model: use ml.lmer(formula, data, reml=False)")
        if key in _BY_NAME:
            return _BY_NAME[key]().to_core()
    raise DataError(f"unknown family {family!r}: use 'binomial', 'poisson', 'Gamma', "
                     "'inverse.gaussian' or an ml.family object such as "
                     "ml.family.Binomial(link='probit')")
