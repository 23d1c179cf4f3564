# Reference values for tests/postfit/test_emmeans.py (emmeans 1.8.4 on lme4 1.1-31, R 4.2).
# Run from the repository root (needs lme4, lmerTest, pbkrtest, emmeans, jsonlite):
#   Rscript tests/postfit/make_emmeans.R > tests/postfit/emmeans_ref.json
suppressMessages({library(lme4); library(emmeans); library(jsonlite)})
cake <- read.csv("../shared/data/cake.csv")
cake$replicate <- factor(cake$replicate); cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
cbpp <- read.csv("../shared/data/cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
imm <- read.csv("../shared/data/imm10.csv")
imm$schnum <- factor(imm$schnum)

tab <- function(x) {
  d <- as.data.frame(x)
  for (nm in names(d)) if (is.factor(d[[nm]])) d[[nm]] <- as.character(d[[nm]])
  d
}
text <- function(x) paste(capture.output(print(x)), collapse = "\n")
res <- list()
add <- function(id, model, formula, data, specs, by = NULL, mode = NULL, type = NULL,
                extra = list()) {
  args <- list(model, specs = specs)
  if (!is.null(by)) args$by <- by
  if (!is.null(mode)) args$lmer.df <- mode
  if (!is.null(type)) args$type <- type
  e <- suppressMessages(do.call(emmeans, args))
  out <- list(case_id = id, engine = class(model)[1], formula = formula, data = data,
              specs = specs, by = by, mode = mode, type = type,
              emmeans = tab(summary(e)), pairs = tab(summary(pairs(e))),
              emmeans_text = text(e), pairs_text = text(pairs(e)))
  for (nm in names(extra)) out[[nm]] <- extra[[nm]](e)
  res[[id]] <<- out
}
m1 <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake)
f1 <- "angle ~ recipe * temperature + (1 | recipe:replicate)"
for (mode in c("kenward-roger", "satterthwaite", "asymptotic"))
  add(paste0("cake_int_recipe_", mode), m1, f1, "cake", "recipe", mode = mode)
add("cake_int_recipe_by_temperature", m1, f1, "cake", "recipe", by = "temperature",
    mode = "kenward-roger")
add("cake_int_two_factors", m1, f1, "cake", c("recipe", "temperature"), mode = "satterthwaite",
    extra = list(interaction = function(e) tab(summary(contrast(e, interaction = "pairwise"))),
                 interaction_text = function(e) text(contrast(e, interaction = "pairwise"))))
methods <- list(
  trt_vs_ctrl = function(e) tab(summary(contrast(e, "trt.vs.ctrl"))),
  poly = function(e) tab(summary(contrast(e, "poly"))),
  eff = function(e) tab(summary(contrast(e, "eff"))),
  custom = function(e) tab(summary(contrast(e, list(low_vs_high = c(1, 1, 1, -1, -1, -1) / 3,
                                                      first_two = c(1, -1, 0, 0, 0, 0))))),
  pairs_holm = function(e) tab(summary(pairs(e, adjust = "holm"))),
  pairs_bonferroni = function(e) tab(summary(pairs(e, adjust = "bonferroni"))),
  pairs_sidak = function(e) tab(summary(pairs(e, adjust = "sidak"))),
  pairs_none = function(e) tab(summary(pairs(e, adjust = "none"))),
  pairs_reverse = function(e) tab(summary(pairs(e, reverse = TRUE))),
  pairs_ci = function(e) tab(confint(pairs(e))),
  pairs_scheffe = function(e) tab(summary(pairs(e, adjust = "scheffe"))),
  pairs_scheffe_ci = function(e) tab(confint(pairs(e, adjust = "scheffe"))),
  consec_mvt = function(e) { set.seed(1); tab(summary(contrast(e, "consec"))) },
  custom_text = function(e) text(contrast(e, list(low_vs_high = c(1, 1, 1, -1, -1, -1) / 3,
                                                   first_two = c(1, -1, 0, 0, 0, 0)))))
add("cake_int_temperature_methods", m1, f1, "cake", "temperature", mode = "kenward-roger",
    extra = methods)
m2 <- lmer(angle ~ recipe * temp + (1 | recipe:replicate), cake)
add("cake_covariate_recipe", m2, "angle ~ recipe * temp + (1 | recipe:replicate)", "cake",
    "recipe", mode = "kenward-roger")
m2p <- lmer(angle ~ recipe + poly(temp, 2) + (1 | recipe:replicate), cake)
add("cake_poly_recipe", m2p, "angle ~ recipe + poly(temp, 2) + (1 | recipe:replicate)", "cake",
    "recipe", mode = "satterthwaite")
m2l <- lmer(log(angle) ~ recipe + temperature + (1 | recipe:replicate), cake)
f2l <- "log(angle) ~ recipe + temperature + (1 | recipe:replicate)"
add("cake_logy_link", m2l, f2l, "cake", "recipe", mode = "kenward-roger")
add("cake_logy_response", m2l, f2l, "cake", "recipe", mode = "kenward-roger", type = "response")
m2s <- lm(sqrt(angle) ~ recipe + temperature, cake)
add("cake_sqrty_response", m2s, "sqrt(angle) ~ recipe + temperature", "cake", "recipe",
    type = "response")
m3 <- lm(angle ~ recipe * temperature, cake)
add("cake_lm_recipe", m3, "angle ~ recipe * temperature", "cake", "recipe")
add("cake_lm_recipe_by", m3, "angle ~ recipe * temperature", "cake", "temperature",
    by = "recipe")
tight <- glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
m4 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = tight)
f4 <- "cbind(incidence, size - incidence) ~ period + (1 | herd)"
add("cbpp_period_link", m4, f4, "cbpp", "period")
add("cbpp_period_response", m4, f4, "cbpp", "period", type = "response")
m5 <- lmer(math ~ homework + factor(sex) * factor(public) + (1 | schnum), imm)
f5 <- "math ~ homework + factor(sex) * factor(public) + (1 | schnum)"
add("imm10_sex_unbalanced", m5, f5, "imm10", "sex", mode = "kenward-roger")
add("imm10_sex_unbalanced_satt", m5, f5, "imm10", "public", by = "sex", mode = "satterthwaite")
# weights = other than "equal", on unbalanced data (cake without its first 7 rows)
cake_u <- cake[-(1:7), ]
m6 <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake_u)
res$cake_unbalanced_weights <- list(
  case_id = "cake_unbalanced_weights", engine = "lmerMod", drop_first = 7,
  formula = "angle ~ recipe * temperature + (1 | recipe:replicate)", data = "cake",
  specs = "recipe", weights = lapply(c(proportional = "proportional", outer = "outer",
                                       cells = "cells", flat = "flat"),
    function(w) tab(summary(emmeans(m6, "recipe", weights = w, lmer.df = "satterthwaite")))))
res$generated_with <- sprintf("R %s; lme4 %s; lmerTest %s; pbkrtest %s; emmeans %s",
                              getRversion(), packageVersion("lme4"), packageVersion("lmerTest"),
                              packageVersion("pbkrtest"), packageVersion("emmeans"))
cat(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE))
