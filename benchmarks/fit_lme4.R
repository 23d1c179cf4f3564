# Benchmark worker: fit one workload with lme4 in this R process (run by run.py).
#
#   Rscript fit_lme4.R CSV LEVELS_DIR FORMULA REML REPEATS REPEAT_CAP_S WARMUP OUT_JSON [FAMILY]
#
# FAMILY other than "gaussian" (the default) fits glmer(..., family = FAMILY) instead.
#
# Factor columns get the levels listed in LEVELS_DIR/<column>.txt (one per line), so R sees
# the same factors as the Python engines. Only lmer() is timed (system.time, elapsed).
# Same protocol as fit_python.py: OUT_JSON.loaded once the data are read, OUT_JSON rewritten
# after every fit (times, first_s, peak_mb, loglik, fixef_names, fixef, warnings, version).
suppressMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]; levels_dir <- args[2]; form <- as.formula(args[3])
reml <- as.logical(args[4]); repeats <- as.integer(args[5]); repeat_cap <- as.numeric(args[6])
warmup <- as.logical(args[7]); out <- args[8]
family <- if (length(args) >= 9) args[9] else "gaussian"

factor_files <- list.files(levels_dir, pattern = "\\.txt$")
factor_cols <- sub("\\.txt$", "", factor_files)
if (requireNamespace("data.table", quietly = TRUE)) {
  classes <- setNames(rep("character", length(factor_cols)), factor_cols)
  d <- as.data.frame(data.table::fread(csv, colClasses = classes, showProgress = FALSE))
} else {
  d <- read.csv(csv, check.names = FALSE, stringsAsFactors = FALSE,
                colClasses = setNames(rep("character", length(factor_cols)), factor_cols))
}
for (i in seq_along(factor_cols)) {
  col <- factor_cols[i]
  d[[col]] <- factor(d[[col]], levels = readLines(file.path(levels_dir, factor_files[i])))
}

peak_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}
invisible(gc())
clean <- tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)
writeLines(format(Sys.time(), "%s"), paste0(out, ".loaded"))

num <- function(x) if (length(x)) paste(sprintf("%.17g", x), collapse = ", ") else ""
str_ <- function(x) if (length(x)) paste0('"', gsub("[[:cntrl:]]", " ", gsub('(["\\\\])', "\\\\\\1", x)),
                                          '"', collapse = ", ") else ""  # JSON: no raw newlines
version <- paste0(R.version.string, ", lme4 ", packageVersion("lme4"), ", BLAS ",
                  basename(extSoftVersion()[["BLAS"]]))

times <- numeric(0)
first <- NA
msgs <- character(0)
runs <- repeats + if (warmup) 1L else 0L
for (i in seq_len(runs)) {
  elapsed <- system.time(
    fit <- withCallingHandlers(
      if (family == "gaussian") lmer(form, data = d, REML = reml) else glmer(form, data = d, family = family),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { msgs <<- c(msgs, trimws(conditionMessage(m))); invokeRestart("muffleMessage") }
    )
  )[["elapsed"]]
  if (i == 1) first <- elapsed
  if (!(warmup && i == 1)) times <- c(times, elapsed)
  last <- i == runs || elapsed > repeat_cap
  # saved after the last fit and after any slow one (a later fit may time out); between fast
  # fits a file write would only stir the caches the next timed fit starts from (as in
  # fit_python.py)
  if (!last && elapsed <= 1) next
  fe <- fixef(fit)
  json <- paste0(
    "{",
    '"times": [', num(times), "], ",
    '"first_s": ', num(first), ", ",
    '"peak_mb": ', num(peak_mb()), ", ",
    '"peak_includes_loading": ', if (clean) "false" else "true", ", ",
    '"loglik": ', num(as.numeric(logLik(fit))), ", ",
    '"fixef_names": [', str_(names(fe)), "], ",
    '"fixef": [', num(unname(fe)), "], ",
    '"warnings": [', str_(unique(substr(msgs, 1, 200))), "], ",
    '"version": ', str_(version), ", ",
    '"pid": ', Sys.getpid(),
    "}"
  )
  writeLines(json, paste0(out, ".tmp"))
  file.rename(paste0(out, ".tmp"), out)
  if (elapsed > repeat_cap) break
}
