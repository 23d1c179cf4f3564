# Reference values for tests/fit/test_lmer_weights.py. Run from the repository root:
#   Rscript tests/fit/make_weighted_reference.R > tests/fit/lme4_weighted.json
suppressMessages({library(lme4); library(jsonlite)})
d <- read.csv("../shared/data/sleepstudy.csv"); d$Subject <- factor(d$Subject)
d$w <- 1 + (d$Days %% 3) / 2
out <- list()
for (reml in c(TRUE, FALSE)) {
  f <- lmer(Reaction ~ Days + (Days | Subject), d, weights = w, REML = reml)
  out[[if (reml) "reml" else "ml"]] <- list(
    formula = "Reaction ~ Days + (Days | Subject)", weights = "1 + (Days %% 3) / 2", REML = reml,
    logLik = as.numeric(logLik(f)), fixef = as.list(fixef(f)),
    fixef_se = as.list(sqrt(diag(as.matrix(vcov(f))))), sigma = sigma(f),
    theta = as.list(getME(f, "theta")),
    scaled_resid_quantiles = as.list(quantile(residuals(f, scaled = TRUE))),
    pearson_head = head(unname(residuals(f, type = "pearson")), 5),
    lme4 = as.character(packageVersion("lme4")))
}
cat(toJSON(out, auto_unbox = TRUE, digits = 17, pretty = TRUE))
