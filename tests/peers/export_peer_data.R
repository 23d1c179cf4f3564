# Writes the lmerTest datasets used by lmerTest's own tests (tests/peers/data/*.csv).
# Run: Rscript tests/peers/export_peer_data.R  (from the repo root)
library(lmerTest)
out <- "tests/peers/data"
for (nm in c("ham", "carrots", "TVbo")) {
  e <- new.env(); data(list = nm, package = "lmerTest", envir = e)
  write.csv(get(nm, e), file.path(out, paste0(nm, ".csv")), row.names = FALSE)
}

# lmerTest's own test data (tests/zlmerTest_zeroDenom.R) and the validated outputs its
# tests/test_lmerTest_paper.R compares against (saved in lmerTest's testdata).
load(system.file("testdata", "potdata.RData", package = "lmerTest"))
write.csv(potdata, file.path(out, "potdata.csv"), row.names = FALSE)
e <- new.env()
load(system.file("testdata", "test_paper_objects.RData", package = "lmerTest"), envir = e)
for (nm in ls(e)) {
  invisible(nm)
}
saved <- lapply(mget(ls(e), envir = e), function(x) {
  if (is.matrix(x)) x <- as.data.frame(x)
  if (is.data.frame(x)) lapply(as.list(x), as.numeric) else lapply(x, as.numeric)
})
jsonlite::write_json(saved, file.path(out, "lmerTest_paper_saved.json"), digits = NA,
                     auto_unbox = TRUE, pretty = TRUE, na = "null")

# tests/test_legacy.R: anova and summary tables saved by lmerTest 2.0-37.9002
e2 <- new.env()
load(system.file("testdata", "legacy_fits.RData", package = "lmerTest"), envir = e2)
tab <- function(x) lapply(as.list(as.data.frame(x)), as.numeric)
legacy <- list(an1 = tab(e2$an1), coef1 = tab(coef(e2$sfm1)),
               an2 = tab(e2$an2), coef2 = tab(coef(e2$sfm2)))
jsonlite::write_json(legacy, file.path(out, "lmerTest_legacy_saved.json"), digits = NA,
                     auto_unbox = TRUE, pretty = TRUE, na = "null")
