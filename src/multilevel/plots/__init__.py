"""Figures of the multilevel lesson, drawn with matplotlib (``ml.plot``).

=================  ===========================================================  ==============
function           what it draws                                                 R counterpart
=================  ===========================================================  ==============
``scatter_fit``    data points coloured by group, OLS line with 95% band        ``geom_smooth``
``group_lines``    each group's fitted line over the data, fixed line bold      ``geom_line``
``coefficients``   estimates with 95% CIs, one or several models                ``dwplot``
``ranef``          conditional modes +- 1.96 conditional SD, sorted             ``dotplot(ranef)``
``diagnostics``    residuals vs fitted, normal QQ of residuals and of ranef     ``plot``, ``qqmath``
``influence``      Cook's distance per group or observation (index plot)        influence.ME
``predictions``    population prediction with its CI band, per-group lines      ``ggpredict``
``pooling``        no / partial / complete pooling estimates, shrinkage arrows  (teaching)
``power_curve``    simulated power by number of groups, exact binomial CIs      simr
=================  ===========================================================  ==============

Every function takes ``ax=`` (where to draw; a new figure when omitted) and returns the Axes
(an array of Axes for the figures with several panels). matplotlib is imported only when a
function is called, so ``import multilevel`` stays fast.

Examples
--------
>>> import multilevel as ml
>>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
>>> axes = ml.plot.ranef(m)
>>> [a.get_title(loc="left") for a in axes]
['Subject: (Intercept)', 'Subject: Days']
"""
from __future__ import annotations

from .caterpillar import ranef
from .coefs import coefficients
from .diagnostics import diagnostics
from .influence import influence
from .pooling import pooling
from .power_curve import power_curve
from .predictions import predictions
from .scatter import group_lines, scatter_fit

__all__ = ["scatter_fit", "group_lines", "coefficients", "ranef", "diagnostics", "influence",
           "predictions", "pooling", "power_curve"]
