# Reference values for tests/design/test_contrasts.py (run: Rscript make_contrasts.R).
# R 4.2, lme4, MASS. cake: temperature numeric, recipe a factor; ftemp = ordered temperature.
suppressMessages({library(lme4); library(MASS); library(jsonlite)})
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
cake <- read.csv(file.path(here, "../../../shared/data/cake.csv"))
cake <- cake[, c("replicate", "recipe", "temperature", "angle")]
d <- cake
d$recipe <- factor(d$recipe)
d$replicate <- factor(d$replicate)
d$ftemp <- factor(d$temperature, ordered = TRUE)
d$utemp <- factor(d$temperature)
new <- data.frame(recipe = c("A", "B", "C", "B"), temperature = c(175, 195, 225, 185),
                  replicate = c("1", "2", "3", "16"))
new$ftemp <- factor(new$temperature, levels = levels(d$ftemp), ordered = TRUE)
new$utemp <- factor(new$temperature, levels = levels(d$utemp))
new$recipe <- factor(new$recipe, levels = levels(d$recipe))
cm <- matrix(c(1, 0, -1, 0.5, -1, 0.5), 3)       # a custom matrix without names
out <- list(data = cake, newdata = new[, c("recipe", "temperature", "replicate")], cases = list())
one <- function(id, formula, contrasts, fun = "lmer", family = NULL) {
  message(id)
  ctr <- if (is.null(contrasts)) NULL else lapply(contrasts, function(v) if (is.character(v) && v == "custom") cm else v)
  m <- if (fun == "lmer") lmer(as.formula(formula), d, REML = TRUE, contrasts = ctr)
       else lm(as.formula(formula), d, contrasts = ctr)
  # population level: lme4's predict(re.form = NA) fails on factor x factor models with
  # newdata (non-conformable), so build X as it does: model.frame with the fit's levels,
  # model.matrix with the fit's contrasts
  fx <- if (fun == "lmer") nobars(as.formula(formula)) else as.formula(formula)
  tt <- delete.response(terms(fx))
  xlev <- lapply(d[sapply(d, is.factor)], levels)
  mf <- model.frame(tt, new, xlev = xlev[intersect(names(xlev), all.vars(tt))])
  Xc <- if (fun == "lmer") attr(getME(m, "X"), "contrasts") else m$contrasts
  Xn <- model.matrix(tt, mf, contrasts.arg = Xc)
  cf0 <- if (fun == "lmer") fixef(m) else coef(m)
  re <- drop(Xn[, names(cf0), drop = FALSE] %*% cf0)
  if (fun == "lm") stopifnot(all.equal(unname(re), unname(predict(m, newdata = new))))
  cond <- if (fun == "lmer" && !grepl("temp", formula)) {
    stopifnot(all.equal(unname(re), unname(predict(m, newdata = new, re.form = NA))))
    predict(m, newdata = new[1:3, ], re.form = ~ (1 | recipe:replicate))
  } else NULL
  cf <- if (fun == "lmer") fixef(m) else coef(m)
  se <- sqrt(diag(as.matrix(vcov(m))))
  out$cases[[id]] <<- list(formula = formula, fun = fun, contrasts = contrasts,
                           names = names(cf), fixef = unname(cf), se = unname(se),
                           pred_population = unname(re), pred_conditional = unname(cond))
}
for (ct in c("contr.treatment", "contr.sum", "contr.helmert", "contr.poly", "contr.SAS", "contr.sdif", "custom")) {
  one(paste0("numeric_", ct), "angle ~ recipe * temperature + (1 | recipe:replicate)", list(recipe = ct))
  one(paste0("factor_", ct), "angle ~ recipe * utemp + (1 | recipe:replicate)", list(recipe = ct, utemp = if (ct == "custom") "contr.sum" else ct))
}
one("ordered_default", "angle ~ recipe + ftemp + (1 | recipe:replicate)", NULL)
one("ordered_interaction", "angle ~ recipe * ftemp + (1 | recipe:replicate)", list(recipe = "contr.sum"))
one("ordered_by_numeric", "angle ~ ftemp:temperature + (1 | recipe:replicate)", NULL)
one("inline_C_sum", "angle ~ C(recipe, sum) * temperature + (1 | recipe:replicate)", NULL)
one("inline_C_helmert", "angle ~ C(recipe, contr.helmert) + temperature + (1 | recipe:replicate)", NULL)
one("lm_sum", "angle ~ recipe * temperature", list(recipe = "contr.sum"), fun = "lm")
# lmer with offset= (and its prediction on new data)
mo <- lmer(angle ~ recipe + (1 | recipe:replicate), d, offset = temperature / 10)
out$offset <- list(formula = "angle ~ recipe + (1 | recipe:replicate)", offset = "temperature / 10",
                   names = names(fixef(mo)), fixef = unname(fixef(mo)), logLik = as.numeric(logLik(mo)),
                   fitted = unname(fitted(mo))[1:5],
                   pred_population = unname(predict(mo, newdata = new, re.form = NA)))
mf <- lmer(angle ~ recipe + offset(temperature / 10) + (1 | recipe:replicate), d)
out$offset_formula <- list(formula = "angle ~ recipe + offset(temperature / 10) + (1 | recipe:replicate)",
                           fixef = unname(fixef(mf)), logLik = as.numeric(logLik(mf)),
                           pred_population = unname(predict(mf, newdata = new, re.form = NA)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), file.path(here, "contrasts.json"))
