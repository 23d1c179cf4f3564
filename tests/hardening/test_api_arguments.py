"""Every public argument is checked at the API boundary with the library's errors."""
from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import MultilevelError

F = "Reaction ~ Days + (1 | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def fit(sleep):
    return ml.lmer(F, sleep)


def _cases(sleep, m):
    cbpp = ml.datasets.load("cbpp")
    return {
        "formula int": lambda: ml.lmer(123, sleep),
        "formula None": lambda: ml.lmer(None, sleep),
        "data None": lambda: ml.lmer(F, None),
        "data int": lambda: ml.lmer(F, 5),
        "weights short": lambda: ml.lmer(F, sleep, weights=[1, 2]),
        "weights negative": lambda: ml.lmer(F, sleep, weights=-np.ones(180)),
        "weights nan": lambda: ml.lmer(F, sleep, weights=np.full(180, np.nan)),
        "engine": lambda: ml.lmer(F, sleep, engine="bogus"),
        "family": lambda: ml.glmer("incidence ~ 1 + (1 | herd)", cbpp, family="nope"),
        "family int": lambda: ml.glmer("incidence ~ 1 + (1 | herd)", cbpp, family=3),
        "n_agq": lambda: ml.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)",
                                  cbpp, n_agq=-1),
        "fast str": lambda: ml.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)",
                                     cbpp, fast="no"),
        "confint method": lambda: m.confint(method="nope"),
        "confint method int": lambda: m.confint(method=3),
        "confint parm": lambda: m.confint(parm=3.5, method="wald"),
        "confint unknown parm": lambda: m.confint(parm=["nope"], method="wald"),
        "summary digits": lambda: str(m.summary(digits=-3)),
        "summary digits text": lambda: str(m.summary(digits="3")),
        "simulate use_u": lambda: m.simulate(2, use_u="yes"),
        "anova": lambda: ml.anova(m, 5),
        "bootstrap func": lambda: ml.bootstrap(m, nsim=2, func=5, progress=False),
        "bootstrap n_jobs": lambda: ml.bootstrap(m, nsim=2, n_jobs=0, progress=False),
        "read int": lambda: ml.read(5),
        "read None": lambda: ml.read(None),
        "report path int": lambda: ml.report([F], data=sleep, path=5),
    }


def test_bad_arguments_raise_library_errors(sleep, fit):
    raw = {}
    for name, call in _cases(sleep, fit).items():
        try:
            call()
        except MultilevelError:
            continue
        except Exception as exc:  # noqa: BLE001 - collected
            raw[name] = f"{type(exc).__name__}: {exc}"
        else:
            raw[name] = "no error"
    assert raw == {}
