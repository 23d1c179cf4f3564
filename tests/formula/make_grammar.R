# Reference values for tests/formula/test_lme4_grammar.py (run: Rscript make_grammar.R).
# R 4.2 + lme4: findbars/nobars of bare bars, fits of bare-bar and `.` formulas on sleepstudy.
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
dep <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = "")
forms <- c("y ~ 1 | g", "log(y) ~ x | g", "y ~ x + z | g", "y ~ x || g", "y ~ 0 + x | g/h")
bars <- lapply(forms, function(f) {
  f <- as.formula(f)
  list(formula = dep(f), findbars = vapply(findbars(f), dep, ""), nobars = dep(nobars(f)))
})
s <- sleepstudy
s$z <- seq_len(nrow(s)) %% 3
fit <- function(f) {
  m <- lmer(as.formula(f), s, REML = TRUE)
  list(formula = f, fixef = as.list(fixef(m)), logLik = as.numeric(logLik(m)))
}
fits <- lapply(c("Reaction ~ Days | Subject", "log(Reaction) ~ Days | Subject", "Reaction ~ 1 | Subject",
                 "Reaction ~ . - Subject + (1 | Subject)", "Reaction ~ . + (1 | Subject)",
                 "Reaction ~ . - z + (Days || Subject)"),
               function(f) suppressWarnings(fit(f)))
writeLines(toJSON(list(bars = bars, fits = fits), digits = NA, auto_unbox = TRUE),
           file.path(here, "grammar.json"))
