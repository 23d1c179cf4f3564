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
# lme4's dummy(): indicator columns of chosen levels in a random-effects term
s2 <- sleepstudy
s2$half <- ifelse(s2$Days < 5, "early", "late")
dummy_fits <- lapply(c('Reaction ~ Days + (1 | Subject) + (0 + dummy(half, "late") | Subject)',
                       "Reaction ~ Days + (1 | Subject) + (0 + dummy(half) | Subject)"),
  function(f) {
    m <- lmer(as.formula(f), s2)
    vc <- as.data.frame(VarCorr(m))
    list(formula = f, logLik = as.numeric(logLik(m)), fixef = as.list(fixef(m)),
         var1 = vc$var1, sdcor = vc$sdcor)
  })
writeLines(toJSON(list(bars = bars, fits = fits, dummy_fits = dummy_fits), digits = NA, auto_unbox = TRUE),
           file.path(here, "grammar.json"))
