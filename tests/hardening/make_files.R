# Files for tests/hardening/test_untrusted_files.py.  Rscript tests/hardening/make_files.R
d <- data.frame(a = 1:3, b = c(2.5, 3.5, 4.5), a = c(7L, 8L, 9L), check.names = FALSE)
saveRDS(d, "tests/hardening/data/dupnames.rds")
