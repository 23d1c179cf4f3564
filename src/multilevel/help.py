"""``ml.help("isSingular")``: the help pages that warnings and errors point to.

R's messages say ``see help('isSingular')``; in Python that page does not exist, so
`multilevel`'s warnings say ``see ml.help('isSingular')`` and the text lives here (the same
topics are pages of the documentation site, under "Help topics"). Topic names are
case-insensitive and have aliases (``"singular"``, ``"boundary"``).

Examples
--------
>>> import multilevel as ml
>>> ml.help("isSingular")  # doctest: +ELLIPSIS
isSingular: boundary (singular) fits
...
>>> "convergence" in ml.help.topics()
True
"""
from __future__ import annotations

import difflib

__all__ = ["help", "topics", "text"]

_TOPICS: dict[str, tuple[str, str]] = {
    "isSingular": ("boundary (singular) fits", """\
A fit is singular when some variance-covariance matrix of the random effects is not of full
rank: a random-effect standard deviation is estimated as 0, or a correlation as -1 or +1
(lme4's isSingular(), m.is_singular here). The estimates are on the boundary of the parameter
space. It usually means the random-effects part is more complex than the data support: too
few groups (fewer than 5 or 6 for a variance), little variation between groups, or a random
slope whose variance cannot be told apart from zero.

The fit is still a valid maximum of the likelihood, but:
- drop the term whose variance is 0 (check m.varcorr), or its correlation: write
  (x || g) instead of (x | g);
- compare the simpler model with ml.anova(simple, full);
- with few groups, consider the groups as fixed effects (y ~ x + factor(g)) instead.

Warnings of this kind are SingularFitWarning; silence them, if you must, with
warnings.simplefilter("ignore", ml.SingularFitWarning)."""),
    "convergence": ("convergence warnings", """\
A ConvergenceWarning says the optimiser stopped where lme4's checks doubt it reached the
maximum: "Model failed to converge with max|grad| = ..." (the scaled gradient is not small),
"Hessian is numerically singular" or "Model is nearly unidentifiable". lme4 gives the same
warnings for the same fit (see lme4's ?convergence for the theory).

What to do, in this order:
- rescale predictors of very different sizes (e.g. income in thousands), and centre them;
- simplify the random-effects part (see ml.help("isSingular"));
- refit from the estimates, or with ml.LmerControl(...) settings (more evaluations, the
  optimiser's tolerances) and check that the log-likelihood and estimates do not change:
  if they agree to several digits, the warning was a false alarm;
- for GLMMs, compare nAGQ settings and use more iterations."""),
    "pvalues": ("p-values of mixed models", """\
lme4 prints no p-values for fixed effects of linear mixed models: the t statistics have no
exact distribution. m.summary(ddf="satterthwaite") (lmerTest's default) or
ddf="kenward-roger" gives approximate denominator degrees of freedom and p-values;
m.anova() gives F tests of the terms; ml.anova(m0, m1) likelihood-ratio tests of nested
models (fitted by maximum likelihood); m.confint(method="profile") profile intervals and
ml.bootstrap(m) the parametric bootstrap."""),
    "REML": ("REML and maximum likelihood", """\
ml.lmer fits by REML by default (as lme4); reml=False (or R's spelling, REML=False) fits by
maximum likelihood. Use ML when comparing models that differ in their fixed effects
(ml.anova refits REML fits by ML, as lme4 does); REML estimates of the variances are less
biased and are what lme4 reports by default."""),
    "options": ("printing options", """\
ml.options(digits=, scipen=, width=) are R's options(): significant digits, the penalty
against scientific notation (scipen=8 prints p-values such as 0.00000000147 in full) and the
line width. Set them for the session (op = ml.options(digits=3); ml.options(**op) restores)
or for a block: with ml.options(digits=3): print(m.summary())."""),
    "formula": ("model formulas", """\
Formulas use lme4's syntax: y ~ x + (x | g) (correlated random intercept and slope for each
level of g), (x || g) (uncorrelated), (1 | g1/g2) (g2 nested in g1), (1 | g1) + (1 | g2)
(crossed). On the command line, quote the formula: unquoted, the shell splits it into words
and turns a lone ~ into your home folder:
  multilevel fit "math ~ homework + (1 | schnum)" --data imm10.csv"""),
    "datasets": ("example datasets", """\
ml.datasets.load(name) loads the bundled examples (ml.datasets.names()) and the registered
remote datasets (ml.datasets.remote_names(), e.g. the lesson's "imm10"), which are
downloaded once, checked against their SHA-256 and cached (MULTILEVEL_DATA or the user cache
folder). Offline, point at a local copy: ml.datasets.load("imm10", path="imm10.csv")."""),
}

_ALIASES = {"singular": "isSingular", "boundary": "isSingular", "is_singular": "isSingular",
            "converge": "convergence", "p-values": "pvalues", "p_values": "pvalues",
            "ddf": "pvalues", "ml": "REML", "reml": "REML", "digits": "options",
            "scipen": "options", "formulas": "formula", "data": "datasets"}


def topics() -> list[str]:
    """The names of the help topics.

    Examples
    --------
    >>> topics()[:2]
    ['isSingular', 'convergence']
    """
    return list(_TOPICS)


def _lookup(topic: str) -> str:
    from .errors import DataError, two_line

    key = str(topic).strip().strip("?")
    by_lower = {k.lower(): k for k in _TOPICS}
    by_lower.update({a.lower(): k for a, k in _ALIASES.items()})
    if key.lower() in by_lower:
        return by_lower[key.lower()]
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    fix = (f"did you mean ml.help({by_lower[close[0]]!r})?" if close
           else "choose one of " + ", ".join(topics()))
    raise DataError(two_line(f"no help topic {topic!r}", fix))


def text(topic: str) -> str:
    """The text of one help topic (what :func:`help` prints).

    Examples
    --------
    >>> text("singular").splitlines()[0]
    'isSingular: boundary (singular) fits'
    """
    name = _lookup(topic)
    title, body = _TOPICS[name]
    return f"{name}: {title}\n\n{body}\n"


def help(topic: str | None = None) -> None:  # noqa: A001 - ml.help, as R's help()
    """Print a help topic: ``ml.help("isSingular")``; without a topic, list them.

    Parameters
    ----------
    topic : str, optional
        A topic named by a warning or error (``"isSingular"``, ``"convergence"``, ...),
        case-insensitive.

    Raises
    ------
    DataError
        No topic of that name (the message suggests the closest).

    Examples
    --------
    >>> help()  # doctest: +ELLIPSIS
    Help topics (ml.help("name")):
      isSingular   boundary (singular) fits
    ...
    """
    if topic is None:
        lines = ['Help topics (ml.help("name")):']
        lines += [f"  {name:<12} {title}" for name, (title, _) in _TOPICS.items()]
        print("\n".join(lines))
        return
    print(text(topic), end="")


help.topics = topics  # ml.help.topics()
help.text = text
