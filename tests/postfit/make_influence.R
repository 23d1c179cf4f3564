# Reference values for tests/postfit/test_influence.py: lme4 1.1-31 hatvalues,
# cooks.distance (closed form and by deletion, influence.merMod with groups=) and car's vif.
# Run from the repository root:
#   Rscript tests/postfit/make_influence.R > tests/postfit/influence_ref.json
suppressMessages({library(lme4); library(car); library(jsonlite)})
ss <- read.csv("../shared/data/sleepstudy.csv"); ss$Subject <- factor(ss$Subject)
cake <- read.csv("../shared/data/cake.csv")
cake$replicate <- factor(cake$replicate); cake$recipe <- factor(cake$recipe)
cake$temperature <- factor(cake$temperature)
exam <- read.csv("../shared/data/Exam.csv")
exam$school <- factor(exam$school)
exam$schgend <- factor(exam$schgend, levels = c("mixed", "boys", "girls"))
exam$vr <- factor(exam$vr, levels = c("bottom 25%", "mid 50%", "top 25%"))
exam$sex <- factor(exam$sex)

infl <- function(m, groups) {
  inf <- influence(m, groups = groups)
  data <- eval(getCall(m)$data)
  crit <- sapply(as.character(inf$deleted), function(u) {
    keep <- as.character(data[[groups]]) != u
    REMLcrit(suppressWarnings(update(m, data = data[keep, ], start = list(theta = getME(m, "theta")),
                                     control = lmerControl(optCtrl = list(maxfun = 1000)))))
  })
  list(groups = groups, units = as.character(inf$deleted),
       fixef = unname(inf[[paste0("fixed.effects[-", groups, "]")]]),
       var_cov_comps = unname(inf[[paste0("var.cov.comps[-", groups, "]")]]),
       var_cov_names = names(inf$var.cov.comps),
       cooks_distance = unname(cooks.distance(inf)), reml_crit = unname(crit))
}
vif_tab <- function(m) {
  v <- vif(m)
  if (is.matrix(v)) list(terms = rownames(v), gvif = unname(v[, 1]), df = unname(v[, 2]),
                         gvif_adj = unname(v[, 3]))
  else list(terms = names(v), gvif = unname(v))
}
res <- list()
m1 <- lmer(Reaction ~ Days + (Days | Subject), ss)
res$sleep <- list(formula = "Reaction ~ Days + (Days | Subject)", data = "sleepstudy",
  hatvalues = unname(hatvalues(m1)), cooks_closed = unname(cooks.distance(m1)),
  group = infl(m1, "Subject"))
m2 <- lmer(angle ~ recipe + temperature + (1 | recipe:replicate), cake)
res$cake <- list(formula = "angle ~ recipe + temperature + (1 | recipe:replicate)", data = "cake",
  hatvalues = unname(hatvalues(m2)), cooks_closed = unname(cooks.distance(m2)),
  group = infl(m2, "replicate"), vif = vif_tab(m2))
m3 <- lm(angle ~ recipe + temperature, cake)
res$cake_lm <- list(formula = "angle ~ recipe + temperature", data = "cake",
  hatvalues = unname(hatvalues(m3)), cooks_closed = unname(cooks.distance(m3)),
  vif = vif_tab(m3))
m4 <- lmer(normexam ~ standLRT + schavg + sex + vr + schgend + (1 | school), exam)
res$exam <- list(formula = "normexam ~ standLRT + schavg + sex + vr + schgend + (1 | school)",
  data = "Exam", vif = vif_tab(m4))
m5 <- lmer(normexam ~ standLRT + schavg + sex + (1 | school), exam)
res$exam_1df <- list(formula = "normexam ~ standLRT + schavg + sex + (1 | school)",
  data = "Exam", vif = vif_tab(m5))
# nested and crossed grouping factors: case deletion (lme4's cooks.distance(influence(m)))
pa <- read.csv("../shared/data/Pastes.csv"); pa$batch <- factor(pa$batch); pa$cask <- factor(pa$cask)
pe <- read.csv("../shared/data/Penicillin.csv")
pe$plate <- factor(pe$plate); pe$sample <- factor(pe$sample)
for (case in list(list("pastes", "strength ~ 1 + (1 | batch/cask)", pa, "Pastes"),
                  list("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", pe,
                       "Penicillin"))) {
  m <- lmer(as.formula(case[[2]]), case[[3]])
  res[[case[[1]]]] <- list(formula = case[[2]], data = case[[4]],
                           hatvalues = unname(hatvalues(m)),
                           cooks_closed = unname(cooks.distance(m)),
                           cooks_cases = unname(cooks.distance(influence(m))))
}
# glmer: lme4's influence() refits with its default (loose) glmerControl; the reference
# refits here use tight controls so that both sides sit at the optimum, and Cook's distance
# follows lme4's cooks.distance.influence.merMod formula.
cbpp <- read.csv("../shared/data/cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
tight <- glmerControl(tolPwrss = 1e-13, optimizer = "bobyqa",
                      optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
m6 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, family = binomial,
            control = tight)
units <- levels(cbpp$herd)
fx <- t(sapply(units, function(u) fixef(update(m6, data = cbpp[cbpp$herd != u, ]))))
db <- fx - matrix(fixef(m6), nrow(fx), ncol(fx), byrow = TRUE)
n <- nrow(db); p <- ncol(db)
Vinv <- (n - p) / (n * p) * solve(as.matrix(vcov(m6)))
res$cbpp_glmer <- list(formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
  data = "cbpp", group = list(groups = "herd", units = units, fixef = unname(fx),
  cooks_distance = unname(sapply(seq_len(n), function(i) db[i, ] %*% Vinv %*% db[i, ]))))
res$generated_with <- sprintf("R %s; lme4 %s; car %s", getRversion(), packageVersion("lme4"),
                              packageVersion("car"))
cat(toJSON(res, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE))
