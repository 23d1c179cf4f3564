# Reference values of tests/hardening/test_numerics.py: Poisson counts around 1e9.
# Rscript tests/hardening/make_pois1e9.R  (writes data/pois1e9.csv and data/pois1e9.json)
library(lme4)
library(jsonlite)
set.seed(1); g <- rep(1:20, each = 10); x <- rnorm(200)
y <- rpois(200, exp(log(1e9) + 0.1 * x + rnorm(20, 0, 0.2)[g]))
d <- data.frame(y = y, x = x, g = g)
write.csv(d, "tests/hardening/data/pois1e9.csv", row.names = FALSE)
m <- glmer(y ~ x + (1 | g), family = poisson, data = d)
se <- sqrt(diag(as.matrix(vcov(m))))
write_json(list(theta = unname(getME(m, "theta")), fixef = unname(fixef(m)), se = unname(se),
                loglik = as.numeric(logLik(m))), "tests/hardening/data/pois1e9.json",
           digits = NA, auto_unbox = FALSE)
