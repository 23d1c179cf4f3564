# Reference printouts for tests/newcomer/test_rprint.py: R's print of anova tables, VarCorr and
# format() under options(digits =, scipen =).  Run from the repository root:
#   Rscript tests/newcomer/make_rprint.R   (reads ../shared/data/imm10.csv)
suppressMessages({library(lme4); library(jsonlite)})
imm10 <- read.csv("../shared/data/imm10.csv")
cap <- function(x) paste(capture.output(print(x)), collapse = "\n")
m3 <- lmer(math ~ homework + (1 | schnum), imm10, REML = FALSE)
m4 <- lmer(math ~ homework + (homework | schnum), imm10, REML = FALSE)
sleep <- sleepstudy
l1 <- lm(Reaction ~ 1, sleep); l2 <- lm(Reaction ~ Days, sleep)
out <- list()
nums <- list(c(1.47e-09, 0.5), c(123456789, 1), c(0.0001234), c(1e-20, 1), c(1e5, 2e5),
             c(3.14159e-6))
settings <- list(c(7, 0), c(3, 8), c(3, 0), c(7, 8), c(7, -3), c(4, 100))
fmt <- list()
for (s in settings) {
  options(digits = s[1], scipen = s[2])
  for (x in nums) fmt[[length(fmt) + 1]] <- list(digits = s[1], scipen = s[2], x = x,
                                                 out = format(x))
}
out$format <- fmt
pv <- list()
for (s in settings) {
  options(digits = s[1], scipen = s[2])
  pv[[length(pv) + 1]] <- list(digits = s[1], scipen = s[2],
                               x = c(1.47e-09, 0.001068, 0.000474, 0.5),
                               out = format.pval(c(1.47e-09, 0.001068, 0.000474, 0.5), digits = max(1, s[1] - 3)))
}
out$format_pval <- pv
prints <- list()
for (s in list(c(7, 0), c(3, 8), c(4, 0))) {
  options(digits = s[1], scipen = s[2])
  prints[[length(prints) + 1]] <- list(
    digits = s[1], scipen = s[2],
    anova_m3_m4 = cap(anova(m3, m4)),
    anova_lm = cap(anova(l1, l2)),
    anova_lm1 = cap(anova(l2)),
    varcorr_m4 = cap(VarCorr(m4)),
    varcorr_m3 = cap(VarCorr(m3)),
    summary_m4 = cap(summary(m4)))
}
out$prints <- prints
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/newcomer/rprint.json")
