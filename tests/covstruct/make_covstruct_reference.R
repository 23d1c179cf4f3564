# Reference values for tests/covstruct (glmmTMB 1.1.5). Run from the repository root:
#   Rscript tests/covstruct/make_covstruct_reference.R
# Writes tests/covstruct/sim_repeated.csv (simulated: AR(1) subject-by-time effects, a crossed
# site effect, replicates within subject and time) and tests/covstruct/glmmtmb_reference.json.
suppressMessages({library(glmmTMB); library(jsonlite); library(MASS)})
set.seed(20261203)
n_id <- 30; times <- 0:3; n_rep <- 2; n_site <- 8
d <- expand.grid(rep = seq_len(n_rep), t = times, id = seq_len(n_id))
d <- d[, c("id", "t", "rep")]
rho <- 0.6; sd_id <- 1.0
R <- rho ^ abs(outer(times, times, "-"))
B <- mvrnorm(n_id, rep(0, length(times)), sd_id ^ 2 * R)
d$site <- sample(seq_len(n_site), nrow(d), replace = TRUE)
u_site <- rnorm(n_site, sd = 0.5)
d$x <- round(rnorm(nrow(d)), 3)
d$y <- round(1 + 0.5 * d$t + 0.3 * d$x + B[cbind(d$id, d$t + 1)] + u_site[d$site] +
              rnorm(nrow(d), sd = 0.7), 5)
# GLMM responses (drawn after y, so y is unchanged): counts and a binary outcome
eta <- -0.2 + 0.25 * d$t + 0.3 * d$x + 0.8 * B[cbind(d$id, d$t + 1)]
d$cnt <- rpois(nrow(d), exp(eta))
d$bin <- rbinom(nrow(d), 1, plogis(eta))
d$id <- sprintf("s%02d", d$id); d$site <- sprintf("k%d", d$site)
write.csv(d, "tests/covstruct/sim_repeated.csv", row.names = FALSE)

d <- read.csv("tests/covstruct/sim_repeated.csv")
d$id <- factor(d$id); d$site <- factor(d$site); d$ft <- factor(d$t)
sleep <- read.csv("../shared/data/sleepstudy.csv"); sleep$Subject <- factor(sleep$Subject)

vc_list <- function(m) {
  vc <- VarCorr(m)$cond
  lapply(vc, function(v) list(names = colnames(v), sd = unname(attr(v, "stddev")),
                              corr = unname(attr(v, "correlation"))))
}
# lme4's Wald standard errors, sqrt(diag(sigma^2 (X' V^-1 X)^-1)), at glmmTMB's estimates
# (glmmTMB's own, from sdreport, add the covariance parameters' uncertainty)
gls_se <- function(m, formula, data) {
  bars <- lme4::findbars(as.formula(gsub("(us|cs|ar1|diag)\\(", "(", formula)))
  vc <- VarCorr(m)$cond
  n <- nrow(data)
  V <- diag(sigma(m) ^ 2, n)
  for (b in bars) {
    grp <- deparse(b[[3]])
    M <- model.matrix(as.formula(paste("~", deparse(b[[2]]))), data)
    same <- outer(data[[grp]], data[[grp]], "==")
    V <- V + (M %*% vc[[grp]] %*% t(M)) * same
  }
  X <- model.matrix(lme4::nobars(as.formula(formula)), data)
  as.list(setNames(sqrt(diag(solve(t(X) %*% solve(V, X)))), colnames(X)))
}
summ <- function(m, formula, reml, data, dataset, map = NULL) {
  list(formula = formula, dataset = dataset, REML = reml, hom = !is.null(map),
       nobs = nobs(m), logLik = as.numeric(logLik(m)), df = attr(logLik(m), "df"),
       fixef = as.list(fixef(m)$cond), fixef_se = as.list(sqrt(diag(vcov(m)$cond))),
       fixef_se_lme4 = gls_se(m, formula, data),
       sigma = sigma(m), varcorr = vc_list(m))
}
fit <- function(formula, data, reml, map = NULL, family = gaussian()) {
  if (is.null(map)) glmmTMB(as.formula(formula), data, REML = reml, family = family)
  else glmmTMB(as.formula(formula), data, REML = reml, map = map, family = family)
}
# glmmTMB's formula for each case; the Python test writes lme4 2.0's syntax (hom = TRUE)
cases <- list(
  ar1_site_reml = list("y ~ t + x + ar1(0 + ft | id) + (1 | site)", TRUE, "sim"),
  ar1_site_ml = list("y ~ t + x + ar1(0 + ft | id) + (1 | site)", FALSE, "sim"),
  ar1_ml = list("y ~ t + x + ar1(0 + ft | id)", FALSE, "sim"),
  cs_ml = list("y ~ t + x + cs(0 + ft | id)", FALSE, "sim"),
  cs_site_reml = list("y ~ t + x + cs(0 + ft | id) + (1 | site)", TRUE, "sim"),
  homcs_reml = list("y ~ t + x + cs(0 + ft | id)", TRUE, "sim", TRUE),
  homcs_ml = list("y ~ t + x + cs(0 + ft | id)", FALSE, "sim", TRUE),
  diag_ml = list("y ~ t + x + diag(0 + ft | id)", FALSE, "sim"),
  diag_slope_reml = list("y ~ t + x + diag(1 + x | id) + (1 | site)", TRUE, "sim"),
  us_ml = list("y ~ t + x + us(0 + ft | id)", FALSE, "sim"),
  us_sleep_ml = list("Reaction ~ Days + us(1 + Days | Subject)", FALSE, "sleepstudy"),
  diag_sleep_ml = list("Reaction ~ Days + diag(1 + Days | Subject)", FALSE, "sleepstudy")
)
out <- list(); fits <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  data <- if (cs[[3]] == "sim") d else sleep
  map <- NULL
  if (length(cs) > 3) map <- list(theta = factor(c(rep(1, 4), 2)))  # one common sd: homcs
  m <- fit(cs[[1]], data, cs[[2]], map)
  fits[[nm]] <- m
  out[[nm]] <- summ(m, cs[[1]], cs[[2]], data, cs[[3]], map)
}
# GLMMs (Laplace, as glmer's nAGQ = 1)
glmm_cases <- list(
  ar1_poisson = list("cnt ~ t + x + ar1(0 + ft | id)", "poisson"),
  cs_poisson = list("cnt ~ t + x + cs(0 + ft | id)", "poisson"),
  diag_binomial = list("bin ~ t + x + diag(1 + x | id)", "binomial"),
  cs_binomial = list("bin ~ t + x + cs(0 + ft | id, hom = TRUE)", "binomial")
)
for (nm in names(glmm_cases)) {
  cs <- glmm_cases[[nm]]
  fam <- get(cs[[2]])()
  map <- NULL
  f <- cs[[1]]
  if (grepl("hom = TRUE", f)) {
    map <- list(theta = factor(c(rep(1, 4), 2)))
    f <- sub(", hom = TRUE", "", f)
  }
  m <- fit(f, d, FALSE, map, fam)
  s <- summ(m, f, FALSE, d, "sim", map)
  s$formula <- cs[[1]]; s$family <- cs[[2]]; s$fixef_se_lme4 <- NULL; s$sigma <- NULL
  out[[nm]] <- s
}

lrt <- function(a, b) {
  t <- anova(fits[[a]], fits[[b]])
  list(small = a, big = b, Chisq = t$Chisq[2], Df = t[["Chi Df"]][2], p = t[["Pr(>Chisq)"]][2])
}
out$lrt <- list(lrt("homcs_ml", "cs_ml"), lrt("ar1_ml", "us_ml"), lrt("cs_ml", "us_ml"),
                lrt("diag_ml", "us_ml"), lrt("diag_sleep_ml", "us_sleep_ml"))
out$generated_with <- paste0(R.version.string, "; glmmTMB ", packageVersion("glmmTMB"))
writeLines(toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE),
           "tests/covstruct/glmmtmb_reference.json")
