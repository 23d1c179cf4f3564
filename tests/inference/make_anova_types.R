# Reference values for the type II / III tests and the nesting check in
# tests/inference/test_model_anova.py (run: Rscript make_anova_types.R). R 4.2, lme4, lmerTest.
suppressMessages({library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
cake <- read.csv(file.path(here, "../../../shared/data/cake.csv"))
cake <- cake[, c("replicate", "recipe", "temperature", "angle")]
keep <- setdiff(seq_len(nrow(cake)), c(3, 10, 11, 40, 77, 78, 79, 150, 200, 201, 260))  # unbalanced
d <- cake[keep, ]
d$recipe <- factor(d$recipe); d$replicate <- factor(d$replicate)
d$ftemp <- factor(d$temperature)
tab <- function(a) { a <- as.data.frame(a); a$term <- rownames(a); rownames(a) <- NULL; a }
cases <- list()
for (f in c("angle ~ recipe * temperature + (1 | recipe:replicate)",
            "angle ~ recipe * ftemp + (1 | recipe:replicate)")) {
  m <- lmer(as.formula(f), d)
  cases[[length(cases) + 1]] <- list(
    formula = f,
    satterthwaite = lapply(1:3, function(t) tab(anova(m, type = t))),
    kenward_roger = lapply(2:3, function(t) tab(anova(m, type = t, ddf = "Kenward-Roger"))),
    sum_type3 = tab(anova(lmer(as.formula(f), d, contrasts = list(recipe = "contr.sum")), type = 3)))
}
p <- read.csv(file.path(here, "../../../shared/data/Pastes.csv"))
p$batch <- factor(p$batch); p$cask <- factor(p$cask)
m1 <- lmer(strength ~ 1 + (1 | batch:cask), p, REML = FALSE)
m2 <- lmer(strength ~ 1 + (1 | batch/cask), p, REML = FALSE)
a <- as.data.frame(anova(m1, m2))
writeLines(toJSON(list(rows = keep, cases = cases,
                       pastes = list(Chisq = a$Chisq[2], Df = a$Df[2], p = a[["Pr(>Chisq)"]][2],
                                     logLik = a$logLik)),
                  digits = NA, auto_unbox = TRUE, na = "null"),
           file.path(here, "anova_types.json"))
