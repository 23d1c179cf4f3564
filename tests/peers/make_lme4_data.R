# Data that lme4's own tests (tests/testthat/test-glmer.R, test-methods.R) load from
# lme4's testdata or simulate; the code is theirs, verbatim. Writes tests/peers/data/*.csv.
# Run: Rscript tests/peers/make_lme4_data.R  (from the repo root)
suppressMessages(library(lme4))
out <- "tests/peers/data"
w <- function(d, nm) write.csv(d, file.path(out, paste0("lme4_", nm, ".csv")), row.names = FALSE)

load(system.file("testdata", "radinger_dat.RData", package = "lme4"))
w(radinger_dat, "radinger")

set.seed(101)  # test-glmer.R: complete separation case
d <- data.frame(y=rbinom(1000,size=1,p=0.5),
                x=runif(1000),
                f=factor(rep(1:20,each=50)),
                x2=rep(0:1,c(999,1)))
w(d, "separation")

load(system.file("testdata", "fakesim.RData", package = "lme4"))
w(dat, "fakesim")

dd <- expand.grid(x = seq(-2,3,length.out=10),  # test-glmer.R: gaussian(link = "log")
                  f = factor(1:10))
dd$y <- simulate(~x+(1|f),
             family=gaussian(link="log"),
             newdata=dd,
             newparams=list(beta=c(0,1),theta=1,sigma=1),
             seed=101)[[1]]
dd$y <- pmax(dd$y,0)
w(dd, "gaussian_log")

set.seed(101)  # test-methods.R: negative binomial sims
dd <- data.frame(f=factor(rep(1:10,each=20)),
                 x=runif(200),
                 y=rnbinom(200,size=2,mu=2))
w(dd, "nbinom")

set.seed(102)  # test-methods.R: simulate Gamma
dd <- data.frame(x=rep(seq(-2,2,length=15),10),
                 f=factor(rep(1:10,each=15)))
u <- rnorm(10)
dd$y <- with(dd,
             rgamma(nrow(dd),shape=2,
                    scale=exp(2+1*x+u[as.numeric(f)])/2))
g1 <- glmer(y~x+(1|f),family=Gamma(link="log"),dd)
s2 <- suppressMessages(simulate(~x+(1|f), family=Gamma(link="log"),
                                seed=101,
                                newdata=dd,
                                newparams=getME(g1,c("theta","beta","sigma"))))
dd$y2 <- s2[[1]]
w(dd, "gamma")

write.csv(iris, file.path(out, "iris.csv"), row.names = FALSE)  # test-predict.R: se.fit

set.seed(123)  # test-predict.R: se.fit with a subset of the grouping levels
dat <- data.frame(
  outcome = rbinom(n = 100, size = 1, prob = 0.35),
  var_binom = as.factor(rbinom(n = 100, size = 1, prob = 0.7)),
  var_cont = rnorm(n = 100, mean = 10, sd = 7),
  grp = as.factor(sample(letters[1:4], size = 100, replace = TRUE))
)
w(dat, "predict_sefit")

## lmer-1.R: simple example by Andrew Gelman (2006-01-10)
n.groups <- 10 ; n.reps <- 2
n <- length(group.id <- gl(n.groups, n.reps))
set.seed(0)
a.group <- rnorm(n.groups, 1, 2)
y <- rnorm (n, a.group[group.id], 1)
w(data.frame(y = y, group.id = group.id), "gelman")

## priorWeights.R: weights, compared with lme4.0
set.seed(2)
n <- 40
wt <- runif(n)
x <- runif(n)
g <- factor(sample(1:10,n,replace=TRUE))
Z <- model.matrix(~g-1);
y <- Z%*%rnorm(ncol(Z)) + x + rnorm(n)/wt^.5
w(data.frame(y = as.numeric(y), x = x, g = g, w = wt), "priorweights")

## vcov-etc.R uses MEMSS's ergoStool (the same data as nlme's)
data(ergoStool, package = "nlme")
write.csv(as.data.frame(ergoStool), file.path(out, "ergoStool.csv"), row.names = FALSE)

## glmmExt.R: families and links, simulated with lme4's gSim() (lme-tst-funs.R)
source(system.file("testdata/lme-tst-funs.R", package="lme4", mustWork=TRUE))
set.seed(101)
d <- gSim()
dgl <- gSim(dInitial = d, family = Gamma(link = log))
dP <- gSim(dInitial = d, family = poisson())
dG <- gSim(dInitial = d, family = gaussian(link = log), sd = 2)
dGi <- gSim(dInitial = d, family = gaussian(link = inverse), sd = 0.01)
dBc <- d
dBc$eta <- d$eta - 5
dBc <- gSim(dInitial = dBc, nbinom = 1, family = binomial(link="cloglog"))
w(d[c("block", "x", "y")], "glmmext_gamma")
w(dgl[c("block", "x", "y")], "glmmext_gamma_log")
w(dBc[c("block", "x", "y")], "glmmext_cloglog")

## prLogistic.R
load(system.file("testdata", "prLogistic.RData", package = "lme4"))
w(dataset[c("rgi", "sex", "pped", "schoolid")], "prlogistic")

## HSAURtrees.R (trees513A from lme4's testdata)
load(system.file("testdata", "trees513.RData", package = "lme4"))
w(trees513A[c("damage", "species", "lattice", "plot")], "trees513A")

## testcrab.R (randdata from lme4's testdata)
load(system.file("testdata", "crabs_randdata2.Rda", package = "lme4"))
w(randdata, "crabs")
