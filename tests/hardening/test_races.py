"""Fits in threads while the caller's module globals change; shared state of the workers."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import multilevel as ml
from multilevel._callsite import _snapshot, caller_data_name

F = "Reaction ~ Days + (Days | Subject)"
SLEEP = ml.datasets.load("sleepstudy")
FRAMES = [SLEEP, SLEEP.sample(frac=1.0, random_state=1)]


def _fit(i):
    # the data argument is not a plain name and is bound to no variable: the lookup walks
    # all of this module's globals
    return ml.lmer(F, FRAMES[i % 2].copy())


def test_eight_threads_fit_while_globals_change():
    module = sys.modules[__name__]
    stop = threading.Event()
    errors: list = []
    results: list = []

    def mutate():
        k = 0
        while not stop.is_set():
            setattr(module, f"_tmp_{k % 500}_x", k)
            module.__dict__[f"tmp_{k}"] = k
            if k >= 200:
                module.__dict__.pop(f"tmp_{k - 200}", None)
            k += 1

    def work(i):
        try:
            for _ in range(3):
                results.append(_fit(i).loglik)
        except Exception as exc:  # noqa: BLE001 - collected and reported
            errors.append(repr(exc))

    for k in range(20_000):  # a namespace worth walking
        module.__dict__[f"_tmp_pad_{k}"] = k
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    mutator = threading.Thread(target=mutate)
    mutator.start()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    mutator.join()
    sys.setswitchinterval(interval)
    for k in list(vars(module)):
        if k.startswith(("tmp_", "_tmp_")):
            delattr(module, k)
    assert errors == []
    assert len(results) == 24
    np.testing.assert_allclose(results, results[0], rtol=1e-10)


def test_snapshot_of_a_changing_mapping():
    class Flaky(dict):
        def __init__(self):
            super().__init__(a=1)
            self.calls = 0

        def items(self):
            self.calls += 1
            if self.calls < 3:
                raise RuntimeError("dictionary changed size during iteration")
            return super().items()

    assert _snapshot(Flaky()) == [("a", 1)]


def test_data_name_still_found():
    frame = SLEEP
    assert caller_data_name(frame) == "frame"
    m = ml.lmer(F, FRAMES[0])
    assert m.data_name in ("FRAMES[0]", "SLEEP", None) or isinstance(m.data_name, str)


def test_bootstraps_in_two_threads_do_not_share_state():
    m1 = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
    m2 = ml.lmer(F, SLEEP)
    out: dict = {}

    def run(name, m):
        try:
            out[name] = ml.bootstrap(m, nsim=6, seed=1, n_jobs=1, progress=False)
        except Exception as exc:  # noqa: BLE001
            out[name] = exc

    ts = [threading.Thread(target=run, args=("a", m1)),
          threading.Thread(target=run, args=("b", m2))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out["a"].t.shape == (6, 3) and out["b"].t.shape[0] == 6
    alone = ml.bootstrap(m1, nsim=6, seed=1, n_jobs=1, progress=False)
    np.testing.assert_allclose(out["a"].t.to_numpy(), alone.t.to_numpy())
