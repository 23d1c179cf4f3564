"""Inference for fitted models: t and F tests with Satterthwaite or Kenward-Roger df
(lmerTest, pbkrtest), likelihood-ratio tests (lme4's ``anova``), Wald, profile and bootstrap
confidence intervals, simulation, ICC and R² (performance).

Above ``results/``, below ``fit/``: refits go through the fit drivers registered in
:mod:`multilevel.results.operations`, and ``methods`` registers the implementations of the
result methods (docs/architecture.md).

One job per module:

=================  ==============================================================
module             what it does
=================  ==============================================================
numderiv           numDeriv's Richardson-extrapolated Hessian and Jacobian
satterthwaite      lmerTest's varpar covariance, Jacobian of vcov(beta), df
kenward_roger      pbkrtest's adjusted vcov and df, in q x q algebra
contrasts          lmerTest's type III and type I contrast matrices
coef_table         the t-test table (``m.coef_table``, ``m.summary(ddf=)``)
ftests             one model's F tests (``m.anova()``)
anova              model comparison (``ml.anova(m1, m2)``)
refit              ML refit and refits to a new response, reusing ``A``
confint            ``m.confint(method=)`` (Wald here)
profile            likelihood profiles and profile intervals (``ml.profile``)
simulate           ``m.simulate(nsim, seed)``
bootstrap          ``ml.bootstrap`` (lme4's ``bootMer``)
icc                ``m.icc()``, ``m.r2()``
emmeans            ``ml.emmeans``: marginal means, pairs and contrasts (emmeans)
refgrid            emmeans' reference grid, estimability and averaging weights
multiplicity       p-value adjustments: Tukey, Sidak, p.adjust, Dunnett, mvt
hypothesis         ``m.test()``: linear hypotheses (car, lmerTest, multcomp)
influence          ``m.hatvalues()``, ``m.cooks_distance()``, ``m.influence()``
vif                ``ml.vif`` (car's GVIF)
design_fit         designs with fewer columns, rows or more groups; their refits
methods            the implementations of the result methods, registered by name
=================  ==============================================================
"""
from __future__ import annotations

from .anova import anova
from .bootstrap import BootResult, bootstrap
from .profile import Profile, profile

__all__ = ["anova", "bootstrap", "BootResult", "profile", "Profile"]
