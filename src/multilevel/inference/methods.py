"""The inference behind result methods (``m.confint()``, ``m.anova()``, ``m.test()``, ...).

``results/`` sits below ``inference/`` and cannot import it; its methods look operations up
by name in :mod:`multilevel.results.operations`. This module is that table: importing it
registers every implementation (the package root names it as the provider).

Examples
--------
>>> from multilevel.results.operations import operation
>>> operation("r2") is r2
True
"""
from __future__ import annotations

from ..results.operations import register
from .anova import lm_anova
from .coef_table import coef_table, summary
from .confint import confint
from .drop1 import drop1
from .ftests import anova_table
from .hypothesis import linear_hypothesis
from .icc import icc, r2
from .influence import cooks_distance_closed, hatvalues, influence
from .predict_interval import predict_interval
from .profile import profile_confint
from .se_fit import se_fit
from .simulate import simulate

register(
    anova_table=anova_table,          # m.anova() of a mixed model (lmerTest's F tests)
    coef_table=coef_table,            # m.coef_table(ddf=)
    confint=confint,                  # m.confint(method=)
    cooks_distance_closed=cooks_distance_closed,  # m.cooks_distance(method="closed")
    drop1=drop1,                      # m.drop1()
    hatvalues=hatvalues,              # m.hatvalues()
    icc=icc,                          # m.icc()
    influence=influence,              # m.influence(), m.cooks_distance()
    linear_hypothesis=linear_hypothesis,  # m.test()
    lm_anova=lm_anova,                # m.anova() of a linear model
    predict_interval=predict_interval,  # m.predict(interval=)
    profile_confint=profile_confint,  # m.confint(method="profile") of a GLMM
    r2=r2,                            # m.r2()
    se_fit=se_fit,                    # m.predict(se_fit=True)
    simulate=simulate,                # m.simulate()
    summary_ddf=summary,              # m.summary(ddf=)
)
