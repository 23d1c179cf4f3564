# Reference values for tests/postfit/test_hypothesis.py: car 3.1 linearHypothesis (Wald
# chi-square for mixed models, F for lm), lmerTest 3.1-3 contest (F with Satterthwaite and
# Kenward-Roger df, with a right-hand side) and multcomp glht single-step tests.
# Run from the repository root:
#   Rscript tests/postfit/make_hypothesis.R > tests/postfit/hypothesis_ref.json
suppressMessages({library(lme4); library(lmerTest); library(car); library(multcomp)
                  library(jsonlite)})
ss <- read.csv("../shared/data/sleepstudy.csv"); ss$Subject <- factor(ss$Subject)
cake <- read.csv("../shared/data/cake.csv")
cake$replicate <- factor(cake$replicate); cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
cbpp <- read.csv("../shared/data/cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
tight <- glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhoend = 1e-10))

glht_tab <- function(m, hyp, df = NULL) {
  set.seed(20240501)
  g <- if (is.null(df)) glht(m, linfct = hyp) else glht(m, linfct = hyp, df = df)
  s <- summary(g, test = adjusted("single-step", abseps = 1e-6))
  sb <- summary(g, test = adjusted("bonferroni"))
  sh <- summary(g, test = adjusted("holm"))
  list(L = unname(g$linfct), rhs = unname(g$rhs), estimate = unname(s$test$coefficients),
       std_error = unname(s$test$sigma), statistic = unname(s$test$tstat),
       p_single_step = unname(as.numeric(s$test$pvalues)),
       p_bonferroni = unname(as.numeric(sb$test$pvalues)),
       p_holm = unname(as.numeric(sh$test$pvalues)),
       df = if (is.null(g$df) || g$df == 0) NULL else g$df,
       text = paste(capture.output(print(s)), collapse = "\n"))
}
lh <- function(m, hyp) {
  a <- linearHypothesis(m, hyp)
  list(stat = unname(a[2, ncol(a) - 1]), df = unname(a[2, "Df"]),
       p = unname(a[2, ncol(a)]), res_df = if ("Res.Df" %in% names(a)) unname(a[2, "Res.Df"]) else NULL,
       text = paste(capture.output(print(a)), collapse = "\n"))
}
contest_tab <- function(m, L, rhs) {
  mt <- as_lmerModLmerTest(m)
  out <- list()
  for (ddf in c("Satterthwaite", "Kenward-Roger")) {
    a <- contest(mt, L, rhs = rhs, ddf = ddf)
    one <- lapply(seq_len(nrow(L)), function(i)
      contest(mt, L[i, , drop = FALSE], rhs = rhs[i], ddf = ddf, joint = FALSE))
    out[[ddf]] <- list(F = a[["F value"]], ndf = a[["NumDF"]], ddf = a[["DenDF"]],
                       p = a[["Pr(>F)"]],
                       t_df = sapply(one, function(x) x$df), t = sapply(one, function(x) x[["t value"]]))
  }
  out
}
res <- list()
h1 <- c("I(Days^2) = 0", "Days + 2*I(Days^2) = 10")
m1 <- lme4::lmer(Reaction ~ Days + I(Days^2) + (Days | Subject), ss)
res$sleep_quadratic <- list(engine = "lmer", data = "sleepstudy",
  formula = "Reaction ~ Days + I(Days^2) + (Days | Subject)",
  hypotheses = c("`I(Days^2)` = 0", "Days + 2*`I(Days^2)` = 10"),
  car = lh(m1, h1), glht = glht_tab(m1, c("`I(Days^2)` = 0", "Days + 2*`I(Days^2)` = 10")),
  contest = contest_tab(m1, rbind(c(0, 0, 1), c(0, 1, 2)), c(0, 10)))
h2 <- c("recipeB = 0", "recipeB - recipeC = 0", "temperature185 + temperature195 = 2")
m2 <- lme4::lmer(angle ~ recipe + temperature + (1 | recipe:replicate), cake)
L2 <- matrix(0, 3, 8); L2[1, 2] <- 1; L2[2, 2:3] <- c(1, -1); L2[3, 4:5] <- 1
res$cake_lmer <- list(engine = "lmer", data = "cake",
  formula = "angle ~ recipe + temperature + (1 | recipe:replicate)", hypotheses = h2,
  car = lh(m2, h2), glht = glht_tab(m2, h2), contest = contest_tab(m2, L2, c(0, 0, 2)))
m3 <- lm(angle ~ recipe + temperature, cake)
res$cake_lm <- list(engine = "lm", data = "cake", formula = "angle ~ recipe + temperature",
  hypotheses = h2, car = lh(m3, h2), glht = glht_tab(m3, h2))
h4 <- c("period2 - period3 = 0", "period4 = 0", "2*period2 - period4 = -1")
m4 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = tight)
res$cbpp_glmer <- list(engine = "glmer", data = "cbpp",
  formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", hypotheses = h4,
  car = lh(m4, h4), glht = glht_tab(m4, h4))
res$generated_with <- sprintf("R %s; lme4 %s; lmerTest %s; car %s; multcomp %s; mvtnorm %s",
  getRversion(), packageVersion("lme4"), packageVersion("lmerTest"), packageVersion("car"),
  packageVersion("multcomp"), packageVersion("mvtnorm"))
cat(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE))
