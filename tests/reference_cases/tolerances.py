"""Per-quantity tolerances against lme4, in one place, each with its reason.

OLS is closed form: it must agree to rounding. Mixed-model estimates come from an iterative
optimiser stopped at ``xtol_abs = ftol_abs = 1e-8`` (as lme4's): the deviance is flat at the
optimum, so the log-likelihood agrees tightly while parameters agree to a fraction of their
standard error.
"""
LM = dict(
    beta_se=1e-6,   # coefficients, in units of their standard error: closed form
    se_rel=1e-6,    # standard errors, relative
    loglik=1e-6,    # absolute
    sigma_rel=1e-6,
    fitted=1e-6,    # in units of sigma
)
LMER = dict(
    beta_se=2e-3,   # optimiser stopping: a fraction of the SE
    se_rel=2e-3,
    loglik=1e-4,    # the objective is flat at the optimum: tight
    sigma_rel=2e-3,
    sd_rel=5e-3,    # variance components: looser (theta is less well determined)
    sd_abs_sigma=2e-3,  # ... or absolute in units of sigma, for near-zero components
    corr=1e-2,
    condval_sd=5e-3,    # conditional modes, in units of their conditional SD
    condsd_rel=1e-2,
    fitted=2e-3,        # in units of sigma
)
