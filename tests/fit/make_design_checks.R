# Reference values for tests/fit/test_design_checks.py (run: Rscript make_design_checks.R).
# R 4.2 + lme4: observation-level random effects, fitted when lme4's checks are switched off.
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
s <- sleepstudy
s$obs <- factor(seq_len(nrow(s)))
e <- tryCatch(lmer(Reaction ~ Days + (1 | Subject) + (1 | obs), s), error = function(e) conditionMessage(e))
m <- lmer(Reaction ~ Days + (1 | Subject) + (1 | obs), s,
          control = lmerControl(check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore"))
m0 <- lmer(Reaction ~ Days + (1 | Subject), s)
g <- read.csv(file.path(here, "../../../shared/data/grouseticks.csv"))
g$INDEX <- factor(g$INDEX); g$BROOD <- factor(g$BROOD); g$YEAR <- factor(g$YEAR)
mg <- glmer(TICKS ~ YEAR + (1 | BROOD) + (1 | INDEX), g, family = poisson)
out <- list(default_error = e, obs_logLik = as.numeric(logLik(m)), no_obs_logLik = as.numeric(logLik(m0)),
            obs_fixef = unname(fixef(m)),
            grouse = list(formula = "TICKS ~ YEAR + (1 | BROOD) + (1 | INDEX)", logLik = as.numeric(logLik(mg)),
                          fixef = as.list(fixef(mg)), sd = as.data.frame(VarCorr(mg))$sdcor))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), file.path(here, "design_checks.json"))
