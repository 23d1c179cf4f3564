# Reference values for tests/modelchoice (R 4.2, lme4, lmerTest).
# Run from this folder: Rscript make_modelchoice.R  -> modelchoice_ref.json
suppressMessages({library(lme4); library(jsonlite)})
data_dir <- "../../src/multilevel/io/data"
rd <- function(name) {
  f <- list.files(data_dir, pattern = paste0("^", name, "\\."), full.names = TRUE)[1]
  read.csv(f, stringsAsFactors = TRUE)
}
sleep <- rd("sleepstudy"); exam <- rd("Exam"); cake <- rd("cake"); cbpp <- rd("cbpp")
cake$temperature <- factor(cake$temperature, ordered = TRUE)
cake$replicate <- factor(cake$replicate); cbpp$period <- factor(cbpp$period)
cbpp$herd <- factor(cbpp$herd)

aicc <- function(m) {  # MuMIn's AICc with lme4's df (the logLik of the fit: REML for REML fits)
  L <- logLik(m); k <- attr(L, "df"); n <- nobs(m)
  -2 * as.numeric(L) + 2 * k + 2 * k * (k + 1) / (n - k - 1)
}
ic <- function(m) list(formula = deparse(formula(m)), reml = isREML(m), df = attr(logLik(m), "df"),
                       logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), AICc = aicc(m),
                       nobs = nobs(m))
d1 <- function(m, test = "Chisq") {
  d <- as.data.frame(drop1(m, test = test))
  c(list(rows = rownames(d)), as.list(d))
}
out <- list()
m_s1 <- lmer(Reaction ~ Days + (Days | Subject), sleep, REML = FALSE)
m_s0 <- lmer(Reaction ~ Days + (1 | Subject), sleep, REML = FALSE)
m_s2 <- lmer(Reaction ~ 1 + (1 | Subject), sleep, REML = FALSE)
out$ic_sleep <- list(m1 = ic(m_s1), m0 = ic(m_s0), m2 = ic(m_s2))
m_sr <- lmer(Reaction ~ Days + (Days | Subject), sleep)
out$ic_sleep_reml <- ic(m_sr)
m_e <- lmer(normexam ~ standLRT + sex + schgend + (1 | school), exam)
out$drop1_exam <- d1(m_e)
m_c <- lmer(angle ~ recipe * temperature + (1 | replicate:recipe), cake)
out$drop1_cake <- d1(m_c)
m_s <- lmer(Reaction ~ Days + (Days | Subject), sleep)
out$drop1_sleep <- d1(m_s)
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)
out$drop1_cbpp <- d1(g)
out$ic_cbpp <- ic(g)
suppressMessages(library(lmerTest))
m_eT <- lmerTest::lmer(normexam ~ standLRT + sex + schgend + (1 | school), exam)
dF <- as.data.frame(drop1(m_eT))
out$drop1_exam_F <- c(list(rows = rownames(dF)), as.list(dF))
# Wald confidence intervals of X beta for new rows (population level)
nd <- data.frame(Days = c(0, 4.5, 9))
X <- model.matrix(~ Days, nd)
fit <- as.vector(X %*% fixef(m_s)); se <- sqrt(rowSums((X %*% as.matrix(vcov(m_s))) * X))
out$ci_sleep <- list(Days = nd$Days, fit = fit, se = se)
# Clopper-Pearson intervals (simr's power intervals are binom.test's)
out$binom <- lapply(list(c(8, 10), c(0, 20), c(20, 20), c(37, 400)), function(v)
  list(x = v[1], n = v[2], ci = as.vector(binom.test(v[1], v[2])$conf.int)))
write_json(out, "modelchoice_ref.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
