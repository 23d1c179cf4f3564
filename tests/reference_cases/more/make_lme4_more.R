# lme4 fits of tests/reference_cases/more/cases.txt (data|formula|REML). From the repository root:
#   Rscript tests/reference_cases/more/make_lme4_more.R > tests/reference_cases/more/lme4_more.json
suppressMessages({library(lme4); library(jsonlite)})
lines <- readLines("tests/reference_cases/more/cases.txt"); out <- list()
for (ln in lines) {
  p <- strsplit(ln, "|", fixed=TRUE)[[1]]
  # the formula contains "|" itself: data is first, REML last
  ds <- p[1]; reml <- as.logical(p[length(p)]); fml <- paste(p[2:(length(p)-1)], collapse="|")
  d <- read.csv(sprintf("../shared/data/%s.csv", ds), stringsAsFactors=TRUE)
  for (v in c("Subject","school","plate","sample","batch","replicate","recipe","schgend","vr","sex","minrty","sx"))
    if (v %in% names(d)) d[[v]] <- factor(d[[v]])
  f <- lmer(as.formula(fml), d, REML=reml)
  out[[length(out)+1]] <- list(data=ds, formula=fml, reml=reml, logLik=as.numeric(logLik(f)), fixef=as.list(fixef(f)), se=as.list(sqrt(diag(as.matrix(vcov(f))))), sigma=sigma(f))
}
cat(toJSON(out, auto_unbox=TRUE, digits=15))
