"""The ``corpus`` workloads of ``run.py``: the models people fit every day (issue 11).

Public real data sets bundled with the package (``ml.datasets``) or in ``../shared/data``, and
simulated data of the shapes of common real studies (fixed seeds; the generators document
their variance components). Each entry is a :class:`run.Workload` with ````;
GLMMs carry a ``family``.

| name | model | rows |
|---|---|---|
| ``imm10`` | ``math ~ homework + (homework \\| schnum)`` (ML) | 260 |
| ``sleepstudy`` | ``Reaction ~ Days + (Days \\| Subject)`` | 180 |
| ``penicillin`` | ``diameter ~ 1 + (1 \\| plate) + (1 \\| sample)`` | 144 |
| ``pastes`` | ``strength ~ 1 + (1 \\| batch/cask)`` | 60 |
| ``hsb82`` | ``mAch ~ meanses * cses + sector * cses + (cses \\| school)`` | 7,185 |
| ``exam`` | ``normexam ~ standLRT + sex + schgend + (standLRT \\| school)`` | 4,059 |
| ``growth`` | ``y ~ year + (year \\| school/child)`` (simulated) | 7,230 |
| ``nested2`` | ``y ~ x + (1 \\| lea/school)`` (simulated) | 31,022 |
| ``crossed2`` | ``y ~ x + sex + (1 \\| primary) + (1 \\| second)`` (simulated) | 3,435 |
| ``cbpp`` | binomial ``cbind(incidence, size - incidence) ~ period + (1 \\| herd)`` | 56 |
| ``grouseticks`` | Poisson ``TICKS ~ YEAR + cHEIGHT + (1 \\| BROOD) + (1 \\| INDEX) + (1 \\| LOCATION)`` | 403 |
| ``binom1`` | binomial ``use ~ age + I(age^2) + urban + livch + (1 \\| district)`` (simulated) | 1,934 |
| ``binom_crossed`` | binomial ``r ~ anger + gender + btype + (1 \\| id) + (1 \\| item)`` (simulated) | 7,584 |
"""
from __future__ import annotations

from pathlib import Path


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def _cat(codes, prefix: str, k: int):
    import pandas as pd

    width = len(str(k))
    return pd.Categorical.from_codes(codes, categories=[f"{prefix}{i:0{width}d}" for i in range(k)])


def growth(seed: int = 20261203):
    """Three-level growth: yearly scores of children in schools (~7,230 rows).

    60 schools with 10-30 children each (1,205 children), each measured in 4-8 of the years
    0..7 (some waves missed). y = 50 + 2 year + s0 + s1 year + c0 + c1 year + e with
    sd(s0) 3, sd(s1) 0.8, cor -0.3; sd(c0) 5, sd(c1) 1.2, cor 0.2; sd(e) 4. Child labels
    repeat across schools (hence ``school/child``).
    """
    import numpy as np
    import pandas as pd

    rng = _rng(seed)
    n_school = 60
    per_school = rng.integers(10, 31, n_school)
    per_school = (per_school * 1205 / per_school.sum()).round().astype(int)
    per_school[-1] += 1205 - per_school.sum()
    school = np.repeat(np.arange(n_school), per_school)
    child_in_school = np.concatenate([np.arange(k) for k in per_school])
    n_child = school.size
    waves = rng.integers(4, 9, n_child)
    # trim or pad single waves to 7,230 rows in total
    diff = 7230 - int(waves.sum())
    movable = np.flatnonzero(waves < 8) if diff > 0 else np.flatnonzero(waves > 1)
    waves[rng.choice(movable, abs(diff), replace=False)] += np.sign(diff)
    rows_child = np.repeat(np.arange(n_child), waves)
    year = np.concatenate([np.sort(rng.choice(8, w, replace=False)) for w in waves]).astype(float)
    def corr2(sd0, sd1, r, size):
        cov = np.array([[sd0 ** 2, r * sd0 * sd1], [r * sd0 * sd1, sd1 ** 2]])
        return rng.multivariate_normal([0.0, 0.0], cov, size=size)
    s = corr2(3.0, 0.8, -0.3, n_school)
    c = corr2(5.0, 1.2, 0.2, n_child)
    sc = school[rows_child]
    y = (50 + 2 * year + s[sc, 0] + s[sc, 1] * year + c[rows_child, 0]
         + c[rows_child, 1] * year + rng.normal(0, 4.0, rows_child.size))
    k_child = int(per_school.max())
    return pd.DataFrame({"y": y, "year": year, "school": _cat(sc, "s", n_school),
                         "child": _cat(child_in_school[rows_child], "c", k_child)})


def nested2(seed: int = 20261204):
    """Pupils in schools in local education authorities (31,022 rows).

    150 LEAs, 2,410 schools (5-25 per LEA), pupils uneven (~13 per school).
    y = 0.2 + 0.5 x + a[lea] + s[school] + e; sd(a) 0.3, sd(s) 0.5, sd(e) 1. School labels
    repeat across LEAs (hence ``lea/school``).
    """
    import numpy as np
    import pandas as pd

    rng = _rng(seed)
    n_lea, n = 150, 31_022
    per_lea = rng.integers(5, 26, n_lea)
    lea_of_school = np.repeat(np.arange(n_lea), per_lea)
    school_in_lea = np.concatenate([np.arange(k) for k in per_lea])
    n_school = lea_of_school.size
    size = rng.gamma(3.0, 1.0, n_school)
    school = np.concatenate([np.arange(n_school),
                             rng.choice(n_school, n - n_school, p=size / size.sum())])
    rng.shuffle(school)
    lea = lea_of_school[school]
    x = rng.standard_normal(n)
    y = (0.2 + 0.5 * x + rng.normal(0, 0.3, n_lea)[lea] + rng.normal(0, 0.5, n_school)[school]
         + rng.standard_normal(n))
    return pd.DataFrame({"y": y, "x": x, "lea": _cat(lea, "l", n_lea),
                         "school": _cat(school_in_lea[school], "s", int(per_lea.max()))})


def crossed2(seed: int = 20261205):
    """Pupils by primary and secondary school, crossed (3,435 rows; 148 x 19 schools).

    Each pupil's secondary school depends on the primary's catchment (most of a primary's
    pupils go to 2-3 secondaries). y = 5 + 0.15 x + 0.4 sex + p[primary] + s[second] + e;
    sd(p) 0.6, sd(s) 0.3, sd(e) 2.
    """
    import numpy as np
    import pandas as pd

    rng = _rng(seed)
    n, n_p, n_s = 3435, 148, 19
    primary = np.concatenate([np.arange(n_p), rng.integers(0, n_p, n - n_p)])
    rng.shuffle(primary)
    home = rng.integers(0, n_s, n_p)
    near = (home[primary] + rng.choice([0, 0, 0, 1, -1, 2], n)) % n_s
    second = np.where(rng.random(n) < 0.1, rng.integers(0, n_s, n), near)
    second[:n_s] = np.arange(n_s)
    x = rng.normal(0, 6, n)
    sex = rng.integers(0, 2, n)
    y = (5 + 0.15 * x + 0.4 * sex + rng.normal(0, 0.6, n_p)[primary]
         + rng.normal(0, 0.3, n_s)[second] + rng.normal(0, 2.0, n))
    return pd.DataFrame({"y": y, "x": x, "sex": _cat(sex, "s", 2),
                         "primary": _cat(primary, "p", n_p), "second": _cat(second, "q", n_s)})


def binom1(seed: int = 20261206):
    """Contraceptive use of women in districts (1,934 rows, 60 districts, uneven sizes).

    logit P(use) = -0.7 + 0.005 age - 0.004 age^2 + 0.7 urban + 0.8 [livch > 0] + d;
    sd(d) 0.5; age centred (-14..20).
    """
    import numpy as np
    import pandas as pd

    rng = _rng(seed)
    n, k = 1934, 60
    size = rng.gamma(1.5, 1.0, k)
    district = np.concatenate([np.arange(k), rng.choice(k, n - k, p=size / size.sum())])
    rng.shuffle(district)
    age = rng.uniform(-14, 20, n).round(2)
    urban = (rng.random(n) < 0.3).astype(int)
    livch = rng.choice(4, n, p=[0.27, 0.2, 0.18, 0.35])
    eta = (-0.7 + 0.005 * age - 0.004 * age ** 2 + 0.7 * urban + 0.8 * (livch > 0)
           + rng.normal(0, 0.5, k)[district])
    use = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"use": use, "age": age, "urban": _cat(urban, "u", 2),
                         "livch": _cat(livch, "l", 4), "district": _cat(district, "d", k)})


def binom_crossed(seed: int = 20261207):
    """Item responses, persons crossed with items (316 x 24 = 7,584 rows).

    logit P(r) = 0.2 + 0.06 (anger - 20) + 0.3 gender - 1.0 [btype = shout] - 1.9 [scold]
    + a[id] + b[item]; sd(a) 1.3, sd(b) 0.6.
    """
    import numpy as np
    import pandas as pd

    rng = _rng(seed)
    n_id, n_item = 316, 24
    pid = np.repeat(np.arange(n_id), n_item)
    item = np.tile(np.arange(n_item), n_id)
    anger = rng.integers(11, 40, n_id)[pid]
    gender = rng.integers(0, 2, n_id)[pid]
    btype = item % 3
    eta = (0.2 + 0.06 * (anger - 20) + 0.3 * gender - np.array([0.0, 1.0, 1.9])[btype]
           + rng.normal(0, 1.3, n_id)[pid] + rng.normal(0, 0.6, n_item)[item])
    r = (rng.random(pid.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"r": r, "anger": anger.astype(float), "gender": _cat(gender, "g", 2),
                         "btype": _cat(btype, "b", 3), "id": _cat(pid, "i", n_id),
                         "item": _cat(item, "t", n_item)})


def _simulated(fn):
    def load(shared: Path, quick: bool):
        return fn()
    return load


def workloads(Workload, csv) -> list:
    """The corpus as ``run.Workload`` objects (``csv(name, columns, factors)`` loads shared data).

    Every workload makes an untimed warm-up fit first (tiny and fast ones then time 20 fits,
    the others ``--repeats``), so the medians are of warm fits; cold starts are measured
    separately.
    """
    W = Workload
    return [
        W("imm10", "math ~ homework + (homework | schnum)", "imm10, 260 pupils, 10 schools (ML)",
          csv("imm10", ["math", "homework", "schnum"], ["schnum"]), reml=False, tiny=True),
        W("sleepstudy", "Reaction ~ Days + (Days | Subject)", "sleepstudy, 180 rows",
          csv("sleepstudy", ["Reaction", "Days", "Subject"], ["Subject"]), tiny=True),
        W("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)",
          "Penicillin, 144 rows, 24 plates x 6 samples",
          csv("Penicillin", ["diameter", "plate", "sample"], ["plate", "sample"]), tiny=True),
        W("pastes", "strength ~ 1 + (1 | batch/cask)", "Pastes, 60 rows, 10 batches / 3 casks",
          csv("Pastes", ["strength", "batch", "cask"], ["batch", "cask"]), tiny=True),
        W("hsb82", "mAch ~ meanses * cses + sector * cses + (cses | school)",
          "Hsb82, 7,185 pupils, 160 schools",
          csv("Hsb82", ["mAch", "meanses", "cses", "sector", "school"], ["sector", "school"]),
          warmup=True, fast=True),
        W("exam", "normexam ~ standLRT + sex + schgend + (standLRT | school)",
          "Exam, 4,059 pupils, 65 schools",
          csv("Exam", ["normexam", "standLRT", "sex", "schgend", "school"],
              ["sex", "schgend", "school"]), warmup=True, fast=True),
        W("growth", "y ~ year + (year | school/child)",
          "simulated three-level growth, 7,230 rows, 60 schools, 1,205 children",
          _simulated(growth), warmup=True),
        W("nested2", "y ~ x + (1 | lea/school)",
          "simulated, 31,022 pupils, 150 LEAs, 2,410 schools", _simulated(nested2),
          warmup=True, fast=True),
        W("crossed2", "y ~ x + sex + (1 | primary) + (1 | second)",
          "simulated, 3,435 pupils, 148 primary x 19 secondary schools",
          _simulated(crossed2), warmup=True, fast=True),
        W("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
          "cbpp, 56 rows, 15 herds (binomial)",
          csv("cbpp", ["herd", "incidence", "size", "period"], ["herd", "period"]), reml=False,
          tiny=True, family="binomial"),
        W("grouseticks", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
          "grouseticks, 403 rows (Poisson)",
          csv("grouseticks", ["TICKS", "YEAR", "cHEIGHT", "BROOD", "INDEX", "LOCATION"],
              ["YEAR", "BROOD", "INDEX", "LOCATION"]), reml=False, family="poisson", warmup=True),
        W("binom1", "use ~ age + I(age^2) + urban + livch + (1 | district)",
          "simulated, 1,934 women, 60 districts (binomial)", _simulated(binom1), reml=False,
          family="binomial", warmup=True, fast=True),
        W("binom_crossed", "r ~ anger + gender + btype + (1 | id) + (1 | item)",
          "simulated, 7,584 responses, 316 persons x 24 items (binomial)",
          _simulated(binom_crossed), reml=False, family="binomial", warmup=True),
    ]
