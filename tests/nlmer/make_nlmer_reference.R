## Reference values for tests/nlmer: lme4's nlmer on R's datasets.
## Run from the repository root:  Rscript tests/nlmer/make_nlmer_reference.R
## Writes tests/nlmer/<data>.csv and tests/nlmer/nlmer_reference.json.
suppressMessages({library(lme4); library(jsonlite)})
out_dir <- "tests/nlmer"
w <- function(d, name) {
  write.csv(d, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE)
  name
}
orange <- as.data.frame(Orange); orange$Tree <- factor(as.character(orange$Tree))
lob <- as.data.frame(Loblolly); lob$Seed <- factor(as.character(lob$Seed))
dnase <- as.data.frame(DNase); dnase$Run <- factor(as.character(dnase$Run))
chick <- as.data.frame(ChickWeight)[, c("weight", "Time", "Chick", "Diet")]
chick$Chick <- factor(as.character(chick$Chick))
indo <- as.data.frame(Indometh); indo$Subject <- factor(as.character(indo$Subject))
puro <- as.data.frame(Puromycin)
co2 <- as.data.frame(CO2)[, c("Plant", "Type", "Treatment", "conc", "uptake")]
co2$Plant <- factor(as.character(co2$Plant))
chick1 <- subset(chick, Time > 0 & Diet == 1)
chick1$Chick <- factor(as.character(chick1$Chick))
data_sets <- list(Orange = orange, Loblolly = lob, DNase = dnase, ChickWeight = chick,
                  Indometh = indo, Puromycin = puro, CO2 = co2, ChickWeight1 = chick1)
for (nm in names(data_sets)) w(data_sets[[nm]], nm)

cases <- list(
  list(id = "orange_asym_xmid", data = "Orange",
       formula = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym + xmid | Tree",
       start = c(Asym = 200, xmid = 725, scal = 350)),
  list(id = "orange_nagq0", data = "Orange", nAGQ = 0L,
       formula = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree",
       start = c(Asym = 200, xmid = 725, scal = 350)),
  list(id = "orange_two_terms", data = "Orange",
       formula = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ (Asym | Tree) + (xmid | Tree)",
       start = c(Asym = 200, xmid = 725, scal = 350)),
  list(id = "orange_full_3x3", data = "Orange",
       formula = "circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym + xmid + scal | Tree",
       start = c(Asym = 200, xmid = 725, scal = 350)),
  list(id = "co2_two_factors", data = "CO2",
       formula = "uptake ~ SSasympOff(conc, Asym, lrc, c0) ~ (lrc | Type) + (Asym | Plant)",
       start = c(Asym = 32, lrc = -4.6, c0 = 43)),
  list(id = "dnase_fpl_two_terms", data = "DNase",
       formula = "density ~ SSfpl(log(conc), A, B, xmid, scal) ~ (B | Run) + (xmid | Run)",
       start = c(A = -0.01, B = 2.4, xmid = 1.5, scal = 1.06)),
  list(id = "loblolly_asymp", data = "Loblolly",
       formula = "height ~ SSasymp(age, Asym, R0, lrc) ~ Asym | Seed",
       start = c(Asym = 103, R0 = -8.5, lrc = -3.3)),
  list(id = "loblolly_asymp_two", data = "Loblolly",
       formula = "height ~ SSasymp(age, Asym, R0, lrc) ~ (Asym + lrc | Seed)",
       start = c(Asym = 103, R0 = -8.5, lrc = -3.3)),
  list(id = "dnase_logis_logconc", data = "DNase",
       formula = "density ~ SSlogis(log(conc), Asym, xmid, scal) ~ Asym | Run",
       start = c(Asym = 2.3, xmid = 1.5, scal = 1.1)),
  list(id = "dnase_fpl", data = "DNase",
       formula = "density ~ SSfpl(log(conc), A, B, xmid, scal) ~ B | Run",
       start = c(A = -0.01, B = 2.4, xmid = 1.5, scal = 1.06)),
  list(id = "dnase_gompertz", data = "DNase",
       formula = "density ~ SSgompertz(log(conc), Asym, b2, b3) ~ Asym | Run",
       start = c(Asym = 4.6, b2 = 2.3, b3 = 0.72)),
  list(id = "chick_logis", data = "ChickWeight",
       formula = "weight ~ SSlogis(Time, Asym, xmid, scal) ~ Asym | Chick",
       start = c(Asym = 900, xmid = 25, scal = 9)),
  list(id = "indometh_biexp", data = "Indometh",
       formula = "conc ~ SSbiexp(time, A1, lrc1, A2, lrc2) ~ A1 | Subject",
       start = c(A1 = 2.8, lrc1 = 0.8, A2 = 0.6, lrc2 = -1.3)),
  list(id = "puromycin_micmen", data = "Puromycin",
       formula = "rate ~ SSmicmen(conc, Vm, K) ~ Vm | state",
       start = c(Vm = 200, K = 0.05)),
  list(id = "co2_asympoff", data = "CO2",
       formula = "uptake ~ SSasympOff(conc, Asym, lrc, c0) ~ Asym | Plant",
       start = c(Asym = 32, lrc = -4.6, c0 = 43)),
  list(id = "loblolly_asymporig", data = "Loblolly",
       formula = "height ~ SSasympOrig(age, Asym, lrc) ~ Asym | Seed",
       start = c(Asym = 94, lrc = -3)),
  list(id = "chick_weibull", data = "ChickWeight1",
       formula = "weight ~ SSweibull(Time, Asym, Drop, lrc, pwr) ~ Asym | Chick",
       start = c(Asym = 900, Drop = 870, lrc = -8, pwr = 2.3))
)

res <- list()
for (cs in cases) {
  d <- data_sets[[cs$data]]
  nagq <- if (is.null(cs$nAGQ)) 1L else cs$nAGQ
  fm <- suppressWarnings(eval(bquote(nlmer(.(as.formula(cs$formula)), data = d,
                                            start = .(cs$start), nAGQ = .(nagq)))))
  V <- suppressWarnings(as.matrix(vcov(fm, use.hessian = FALSE)))
  vc <- as.data.frame(VarCorr(fm))
  re <- as.data.frame(ranef(fm, condVar = TRUE))
  # the same model's self-start values (R's getInitial on the pooled data)
  nlpart <- as.formula(sub("~[^~]*$", "", cs$formula))
  init <- tryCatch(getInitial(nlpart, data = d), error = function(e) NULL)
  res[[cs$id]] <- list(
    data = paste0(cs$data, ".csv"), formula = cs$formula, start = as.list(cs$start),
    nAGQ = nagq,
    fixef = as.list(fixef(fm)), fixef_se = as.list(sqrt(diag(V))),
    # vcov(fm)'s default: the finite-difference Hessian where positive definite, else RX
    fixef_se_default = as.list(sqrt(diag(as.matrix(suppressWarnings(vcov(fm)))))),
    vcov = unname(V), theta = unname(getME(fm, "theta")),
    theta_names = names(getME(fm, "theta")),
    sigma = sigma(fm), logLik = as.numeric(logLik(fm)),
    deviance = deviance(fm), nobs = nobs(fm), df = attr(logLik(fm), "df"),
    AIC = AIC(fm), BIC = BIC(fm),
    varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov, sdcor = vc$sdcor),
    ranef = list(grpvar = as.character(re$grpvar), term = as.character(re$term),
                 grp = as.character(re$grp), condval = re$condval, condsd = re$condsd),
    fitted = unname(fitted(fm)),
    # R's own deviance function at R's estimates (the reported logLik mixes two PNLS steps)
    devfun_at_estimates = if (nagq == 0L) NULL else
      update(fm, devFunOnly = TRUE)(c(getME(fm, "theta"), fixef(fm))),
    get_initial = if (is.null(init)) NULL else as.list(init),
    summary = paste(capture.output(print(suppressWarnings(summary(fm)))), collapse = "\n"))
}
res$generated_with <- paste0(R.version.string, "; lme4 ", packageVersion("lme4"))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(out_dir, "nlmer_reference.json"))
cat("wrote", length(cases), "cases\n")

## Values and analytic gradients of the self-starting models (R's deriv() gradients)
x <- c(0.5, 1, 2, 3.5, 5, 7, 10)
ss <- list(
  SSlogis = list(fn = SSlogis, pars = c(Asym = 10, xmid = 3, scal = 1.5)),
  SSasymp = list(fn = SSasymp, pars = c(Asym = 10, R0 = 2, lrc = -0.5)),
  SSmicmen = list(fn = SSmicmen, pars = c(Vm = 3, K = 2)),
  SSfpl = list(fn = SSfpl, pars = c(A = 1, B = 10, xmid = 3, scal = 1.5)),
  SSgompertz = list(fn = SSgompertz, pars = c(Asym = 10, b2 = 2, b3 = 0.7)),
  SSbiexp = list(fn = SSbiexp, pars = c(A1 = 3, lrc1 = 0.5, A2 = 1, lrc2 = -1)),
  SSasympOrig = list(fn = SSasympOrig, pars = c(Asym = 10, lrc = -0.5)),
  SSasympOff = list(fn = SSasympOff, pars = c(Asym = 10, lrc = -0.5, c0 = 0.2)),
  SSweibull = list(fn = SSweibull, pars = c(Asym = 10, Drop = 8, lrc = -1.5, pwr = 1.7)))
vals <- list(x = x)
for (nm in names(ss)) {
  p <- ss[[nm]]$pars
  env <- list2env(as.list(p))
  env$x <- x
  call <- as.call(c(list(ss[[nm]]$fn, quote(x)), lapply(names(p), as.name)))
  v <- eval(call, env)
  vals[[nm]] <- list(pars = as.list(p), value = as.vector(v),
                     gradient = unname(attr(v, "gradient")))
}
writeLines(toJSON(vals, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "selfstart_reference.json"))
