# Benchmark worker: fit one case with lme4 in this R process (run by run.py).
#
#   Rscript fit_lme4.R CSV LEVELS_DIR FORMULA REML REPEATS OUT_JSON
#
# Factor columns get the levels listed in LEVELS_DIR/<column>.txt (one per line), so R sees
# the same factors as the Python engines. Only lmer() is timed (system.time, elapsed).
# Writes times, peak_mb (VmHWM during the fits), loglik, fixef_names, fixef, warnings, versions.
suppressMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]; levels_dir <- args[2]; form <- as.formula(args[3])
reml <- as.logical(args[4]); repeats <- as.integer(args[5]); out <- args[6]

d <- read.csv(csv, check.names = FALSE, stringsAsFactors = FALSE)
for (f in list.files(levels_dir, pattern = "\\.txt$")) {
  col <- sub("\\.txt$", "", f)
  d[[col]] <- factor(as.character(d[[col]]), levels = readLines(file.path(levels_dir, f)))
}

peak_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}
invisible(gc())
clean <- tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)

times <- numeric(repeats)
msgs <- character(0)
for (i in seq_len(repeats)) {
  times[i] <- system.time(
    fit <- withCallingHandlers(
      lmer(form, data = d, REML = reml),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") }
    )
  )[["elapsed"]]
}
peak <- peak_mb()

num <- function(x) paste(sprintf("%.17g", x), collapse = ", ")
str_ <- function(x) paste0('"', gsub('(["\\\\])', "\\\\\\1", x), '"', collapse = ", ")
fe <- fixef(fit)
json <- paste0(
  "{",
  '"times": [', num(times), "], ",
  '"peak_mb": ', num(peak), ", ",
  '"peak_includes_loading": ', if (clean) "false" else "true", ", ",
  '"loglik": ', num(as.numeric(logLik(fit))), ", ",
  '"fixef_names": [', str_(names(fe)), "], ",
  '"fixef": [', num(unname(fe)), "], ",
  '"warnings": [', if (length(msgs)) str_(unique(msgs)) else "", "], ",
  '"version": ', str_(paste0(R.version.string, ", lme4 ", packageVersion("lme4"))),
  "}"
)
writeLines(json, out)
