# Reference values for tests/glmm/test_lme4_extra.py, beyond ../shared/reference.
# Run from the repository root (needs lme4 and jsonlite):
#   Rscript tests/glmm/make_lme4_extra.R > tests/glmm/lme4_extra.json
# Every model is fitted with lme4's tight controls (as the shared references' refit_tight)
# unless the case says "default".
suppressMessages({library(lme4); library(jsonlite)})
tight <- glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
cbpp <- read.csv("../shared/data/cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
exam <- read.csv("../shared/data/Exam.csv")
exam$school <- factor(exam$school, levels = sort(unique(exam$school)))
exam$pass <- as.numeric(exam$normexam > 0)
cake <- read.csv("../shared/data/cake.csv")
cake$replicate <- factor(cake$replicate); cake$recipe <- factor(cake$recipe)

out1 <- function(id, f, formula, family, link, nAGQ, data, control) {
  se <- sqrt(diag(as.matrix(vcov(f))))
  list(case_id = id, formula = formula, family = family, link = link, nAGQ = nAGQ,
       data = data, control = control,
       logLik = as.numeric(logLik(f)), fixef = as.list(fixef(f)), fixef_se = as.list(se),
       theta = as.list(getME(f, "theta")), sigma = sigma(f),
       deviance = deviance(f),
       fitted_head = head(unname(fitted(f)), 10),
       resid_head = lapply(c(deviance = "deviance", pearson = "pearson",
                             working = "working", response = "response"),
                           function(t) head(unname(residuals(f, type = t)), 10)),
       fixef_se_rx = as.list(suppressWarnings(sqrt(diag(as.matrix(
           vcov(f, use.hessian = FALSE)))))),
       summary_text = paste(capture.output(print(summary(f))), collapse = "\n"),
       warnings = f@optinfo$conv$lme4$messages)
}
res <- list()
fit <- function(id, formula, data, dname, family, nAGQ = 1, control = "tight") {
  ctl <- if (control == "tight") tight else glmerControl()
  f <- suppressWarnings(glmer(as.formula(formula), data = data, family = family,
                              nAGQ = nAGQ, control = ctl))
  res[[id]] <<- out1(id, f, formula, family$family, family$link, nAGQ, dname, control)
}
fit("cbpp_agq5", "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "cbpp",
    binomial(), nAGQ = 5)
fit("cbpp_agq0", "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "cbpp",
    binomial(), nAGQ = 0, control = "default")
fit("cbpp_probit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "cbpp",
    binomial(link = "probit"))
fit("cbpp_cloglog", "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "cbpp",
    binomial(link = "cloglog"))
fit("cbpp_poisson_offset", "incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, "cbpp",
    poisson())
fit("exam_pass_slope", "pass ~ standLRT + (standLRT | school)", exam, "Exam", binomial())
fit("cake_gamma_log", "angle ~ temperature + (1 | replicate)", cake, "cake",
    Gamma(link = "log"))
cat(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE))
