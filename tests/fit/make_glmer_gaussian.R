# Reference values for tests/fit/test_glmer_gaussian.py (run: Rscript make_glmer_gaussian.R).
# R 4.2 + lme4: glmer with family = gaussian(link = "log") and "inverse" (PIRLS + Laplace).
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
set.seed(1)
n <- 200; g <- factor(rep(1:20, each = 10)); x <- runif(n)
y <- exp(1 + 0.5 * x + rnorm(20, 0, 0.3)[g]) + rnorm(n, 0, 0.4)
d <- data.frame(y = y, x = x, g = g)
fit <- function(link) {
  m <- glmer(y ~ x + (1 | g), d, family = gaussian(link = link))
  list(link = link, fixef = as.list(fixef(m)), se = unname(sqrt(diag(as.matrix(vcov(m))))),
       logLik = as.numeric(logLik(m)), sigma = sigma(m), theta = unname(getME(m, "theta")),
       fitted = unname(fitted(m))[1:5])
}
writeLines(toJSON(list(data = d, fits = list(fit("log"), fit("inverse"))), digits = NA,
                  auto_unbox = TRUE), file.path(here, "glmer_gaussian.json"))
