# Reference values for tests/glmm/test_profile_glmm.py: lme4's profile confidence intervals
# of GLMMs. Run from the repository root (needs lme4, minqa and jsonlite):
#   Rscript tests/glmm/make_lme4_profile.R > tests/glmm/lme4_profile.json
#
# For each model:
#   confint_profile  confint(f, method = "profile"): lme4 interpolates an inverse spline
#                    through its grid of profile points
#   confint_wald     confint(f, method = "Wald")
#   profile          lme4's profile(f) grid: for each parameter (.par), its value (x) and
#                    the signed root deviance (.zeta) there
#   exact            the limits as exact roots of zeta(x) = +-qnorm(0.975), found here with
#                    uniroot on lme4's profiled deviance (devfun2's function of the sd/cor
#                    parameters and fixed effects, re-optimised over all the others by
#                    minqa's bobyqa), with lme4's deviance function built with
#                    tolPwrss = 1e-13: lme4's numbers without the spline and without the
#                    PIRLS error of profile(), whose devfun2 uses getME(f, "devfun"), which
#                    is rebuilt with the default glmerControl() (tolPwrss = 1e-7): its
#                    deviances at the grid points exceed the exact profile by up to 2e-3
#                    (cbpp) and 1.4e-2 (grouseticks);
#                    zeta_at_confint_lower/upper: the exact zeta at lme4's limits
# Models are fitted with tight controls (the shared references' refit_tight), so that
# lme4's optimum is the exact one; profile() re-optimises with the fit's optimizer and
# controls (bobyqa, rhoend = 1e-10), on the loose deviance function described above.
suppressMessages({library(lme4); library(jsonlite); library(minqa)})
Sv_to_Cv <- lme4:::Sv_to_Cv
tight <- glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
cbpp <- read.csv("../shared/data/cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
gt <- read.csv("../shared/data/grouseticks.csv")
gt$YEAR <- factor(gt$YEAR); gt$LOCATION <- factor(gt$LOCATION); gt$BROOD <- factor(gt$BROOD)
exam <- read.csv("../shared/data/Exam.csv")
exam$school <- factor(exam$school, levels = sort(unique(exam$school)))
exam$pass <- as.numeric(exam$normexam > 0)

level <- 0.95

tight_devfun2 <- function(f) {
  # devfun2 for a GLMM (a function of sd/cor parameters and fixed effects) on a deviance
  # function made with the tight control instead of getME(f, "devfun")'s default one
  dd <- lme4:::devfun2(f, useSc = FALSE, signames = TRUE)
  reTrms <- getME(f, c("Zt", "theta", "Lambdat", "Lind", "flist", "cnms"))
  d0 <- updateGlmerDevfun(mkGlmerDevfun(f@frame, getME(f, "X"), reTrms = reTrms,
                                        family(f), control = tight),
                          reTrms, nAGQ = f@devcomp$dims[["nAGQ"]])
  vlist <- lengths(f@cnms)
  np <- length(getME(f, "theta"))
  ans <- function(pars) d0(c(Sv_to_Cv(pars[seq_len(np)], n = vlist), pars[-seq_len(np)]))
  attributes(ans) <- attributes(dd)
  ans
}

exact_limits <- function(f, at = NULL) {
  dd <- tight_devfun2(f)
  opt <- attr(dd, "optimum")
  np <- length(opt)
  nvp <- np - length(fixef(f))
  lower <- c(pmax(f@lower, -1), rep(-Inf, np - nvp))
  upper <- c(ifelse(f@lower == 0, Inf, 1), rep(Inf, np - nvp))
  pol <- bobyqa(opt, dd, lower = lower, upper = upper,
                control = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5))
  base <- min(attr(dd, "basedev"), pol$fval)
  opt <- if (pol$fval < attr(dd, "basedev")) pol$par else opt
  names(opt) <- names(attr(dd, "optimum"))
  se <- c(rep(NA, nvp), attr(dd, "stderr"))
  z <- qnorm((1 + level) / 2)
  out <- list()
  at_z <- list()
  for (w in seq_len(np)) {
    # evaluated points; each re-optimisation starts from the optimum at the nearest point
    # between the estimate and x (the profile continued outwards, as lme4's profile does)
    px <- opt[w]
    ppar <- list(opt[-w])
    zeta <- function(x) {
      inward <- which(px == opt[w] |
                      ((px - opt[w]) * (x - opt[w]) > 0 & abs(px - opt[w]) <= abs(x - opt[w])))
      start <- ppar[[inward[which.min(abs(px[inward] - x))]]]
      fn <- function(p) { q <- numeric(np); q[w] <- x; q[-w] <- p; dd(q) }
      o <- bobyqa(start, fn, lower = lower[-w], upper = upper[-w],
                  control = list(rhobeg = 2e-2, rhoend = 1e-11, maxfun = 1e5))
      px <<- c(px, x)
      ppar[[length(ppar) + 1L]] <<- o$par
      sign(x - opt[w]) * sqrt(max(o$fval - base, 0))
    }
    lims <- c(NA, NA)
    for (k in 1:2) {
      side <- c(-1, 1)[k]
      h <- if (w > nvp) 2 * se[w] else 0.5 * max(abs(opt[w]), 0.1)
      a <- opt[w]
      repeat {
        b <- min(upper[w], max(lower[w], opt[w] + side * h))
        zb <- zeta(b)
        if ((zb - side * z) * side >= 0) break
        if (b == lower[w] || b == upper[w]) break  # not reached before the bound
        a <- b; h <- 2 * h
      }
      lims[k] <- if ((zb - side * z) * side < 0) b else
        uniroot(function(x) zeta(x) - side * z, sort(c(a, b)), tol = 1e-10)$root
    }
    out[[names(opt)[w]]] <- lims
    # the exact zeta at lme4's (spline) limits: how far they are from +-z
    if (!is.null(at)) at_z[[names(opt)[w]]] <- vapply(at[w, ], zeta, numeric(1))
  }
  list(parm = names(out), lower = unname(sapply(out, `[`, 1)),
       upper = unname(sapply(out, `[`, 2)), base = base,
       zeta_at_confint_lower = unname(sapply(at_z, `[`, 1)),
       zeta_at_confint_upper = unname(sapply(at_z, `[`, 2)))
}

res <- list()
case <- function(id, formula, data, dname, family) {
  f <- glmer(as.formula(formula), data = data, family = family, control = tight)
  pr <- suppressWarnings(profile(f))
  ci <- suppressWarnings(confint(pr, level = level))
  ci_new <- suppressWarnings(suppressMessages(confint(f, method = "profile", oldNames = FALSE)))
  wald <- confint(f, method = "Wald")
  grid <- as.data.frame(pr)
  par <- as.character(grid$.par)
  x <- vapply(seq_len(nrow(grid)), function(i) grid[i, par[i]], numeric(1))
  res[[id]] <<- list(
    case_id = id, formula = formula, data = dname, family = family$family,
    link = family$link, logLik = as.numeric(logLik(f)),
    theta = as.list(getME(f, "theta")), fixef = as.list(fixef(f)),
    confint_profile = list(parm = rownames(ci), parm_alt = rownames(ci_new),
                           lower = unname(ci[, 1]), upper = unname(ci[, 2])),
    confint_wald = list(parm = rownames(wald), lower = unname(wald[, 1]),
                        upper = unname(wald[, 2])),
    profile = list(par = par, x = x, zeta = grid$.zeta),
    exact = exact_limits(f, at = ci))
}
case("cbpp_binomial", "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
     "cbpp", binomial())
case("grouseticks_location", "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", gt, "grouseticks",
     poisson())
case("exam_pass_slope", "pass ~ standLRT + (standLRT | school)", exam, "Exam", binomial())
res$generated_with <- list(R = R.version.string,
                           lme4 = as.character(packageVersion("lme4")),
                           minqa = as.character(packageVersion("minqa")))
cat(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE))
