# Reference values for tests/prediction/test_re_form.py (run: Rscript make_prediction.R).
# R 4.2 + lme4: predict(m, newdata, re.form = ...) on sleepstudy, imm10 and cbpp.
suppressMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
s <- sleepstudy
nd <- data.frame(Days = c(0, 5, 9, 3), Subject = factor(c("308", "309", "308", "372"), levels = levels(s$Subject)))
m_dv <- lmer(Reaction ~ Days + (Days || Subject), s)
m_c <- lmer(Reaction ~ Days + (Days | Subject), s)
sleep <- list(
  dv_intercept = unname(predict(m_dv, nd, re.form = ~ (1 | Subject))),
  dv_slope = unname(predict(m_dv, nd, re.form = ~ (0 + Days | Subject))),
  dv_all = unname(predict(m_dv, nd)),
  c_intercept = unname(predict(m_c, nd, re.form = ~ (1 | Subject))),
  c_na_no_group = unname(predict(m_c, data.frame(Days = c(0, 5, 9, 3)), re.form = NA)),
  c_new_level = unname(predict(m_c, data.frame(Days = c(1, 2), Subject = c("999", "308")), allow.new.levels = TRUE)))
imm <- read.csv(file.path(here, "../../../shared/data/imm10.csv"))
imm$schnum <- factor(imm$schnum)
m4 <- lmer(math ~ homework + (homework | schnum), imm)
new <- data.frame(homework = c(0, 2, 5), schnum = c("99", "1", "99"))
imm10 <- list(
  formula = "math ~ homework + (homework | schnum)",
  na_unseen = unname(predict(m4, new, re.form = NA)),
  na_no_group = unname(predict(m4, new["homework"], re.form = NA)),
  new_levels = unname(predict(m4, new, allow.new.levels = TRUE)))
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial)
cn <- data.frame(period = factor(c("1", "3"), levels = levels(cbpp$period)))
cbpp_ref <- list(na_response = unname(predict(g, cn, re.form = NA, type = "response")),
                 new_level = unname(predict(g, data.frame(period = cn$period, herd = c("99", "1")),
                                            allow.new.levels = TRUE)))
writeLines(toJSON(list(sleepstudy = sleep, imm10 = imm10, cbpp = cbpp_ref), digits = NA, auto_unbox = TRUE),
           file.path(here, "re_form.json"))
