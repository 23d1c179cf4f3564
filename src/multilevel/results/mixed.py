"""What linear and generalized mixed models share: variance components, random effects by
grouping factor, per-group coefficients and the choice of terms for predictions."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from ..core.theta import lower_tri_indices, split_theta, theta_lower
from .base import ResultBase
from .names import make_unique, theta_names


class MixedResultBase(ResultBase):
    """Accessors common to :class:`LmerResult` and :class:`GlmerResult`.

    Subclasses provide ``terms`` (lme4's order), ``fixef``, ``sigma``, ``_theta_hat`` (the
    estimated theta), ``_b`` (random effects per term, ``(l, p)`` arrays), ``_cond_var``
    (``(l, p, p)`` per term) and ``_has_residual`` (whether VarCorr has a Residual row).
    """

    terms: list = []
    _has_residual = True

    @cached_property
    def theta(self) -> pd.Series:
        """Relative covariance parameters with lme4's names (``getME(m, "theta")``)."""
        return pd.Series(self._theta_hat, index=theta_names(self.terms), name="theta")

    @cached_property
    def theta_lower(self) -> np.ndarray:
        return theta_lower([t.p for t in self.terms])

    @cached_property
    def theta_map(self):
        """The covariance structure of each term (:class:`~multilevel.core.covstruct.ThetaMap`):
        the optimiser's parameters ``covpar`` -> ``theta``; the identity for lme4's terms."""
        from ..core.covstruct import ThetaMap

        return ThetaMap.for_terms(self.terms)

    @cached_property
    def covpar(self) -> pd.Series:
        """The covariance parameters the optimiser works on: ``theta`` for lme4's
        unstructured terms; relative standard deviations and a transformed correlation for a
        structured term (``cs()``, ``ar1()``, ``diag()``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + diag(1 + Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.covpar.index.tolist()
        ['Subject.(Intercept)', 'Subject.Days']
        """
        tm = self.theta_map
        phi = tm.phi(np.asarray(self._theta_hat, dtype=float))
        if tm.identity:
            return pd.Series(phi, index=theta_names(self.terms), name="covpar")
        names = []
        for t, s in zip(self.terms, tm.structures):
            if s.identity:
                names += theta_names([t])
                continue
            sds = [f"{t.group}.{t.cnames[i]}" for kind, i, _ in s.sdcor_index() if kind == "sd"]
            names += sds + [f"{t.group}.{s.name}"] * (s.n_par - len(sds))
        return pd.Series(phi, index=names, name="covpar")

    def _term_covariances(self) -> list[np.ndarray]:
        """``sigma^2 T T'`` for each term, in lme4's term order."""
        Ts = split_theta(np.asarray(self._theta_hat, dtype=float), [t.p for t in self.terms])
        return [self.sigma ** 2 * (T @ T.T) for T in Ts]

    @cached_property
    def varcorr(self) -> pd.DataFrame:
        """``as.data.frame(VarCorr(m))``: columns ``grp, var1, var2, vcov, sdcor``; it prints
        as lme4's ``print(VarCorr(m))`` (``.frame`` is the plain DataFrame; see
        :class:`~multilevel.report.rprint.VarCorrTable`)."""
        from ..report.rprint import VarCorrTable

        rows = []
        grps = make_unique([t.group for t in self.terms])
        for grp, term, S in zip(grps, self.terms, self._term_covariances()):
            sd = np.sqrt(np.diag(S))
            for a, name in enumerate(term.cnames):
                rows.append((grp, name, None, S[a, a], sd[a]))
            r, c = lower_tri_indices(term.p)
            for i, j in zip(r, c):
                if i == j:
                    continue
                cor = S[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                rows.append((grp, term.cnames[j], term.cnames[i], S[i, j], cor))
        if self._has_residual:
            rows.append(("Residual", None, None, self.sigma ** 2, self.sigma))
        grp, var1, var2, vcov, sdcor = zip(*rows)
        # names stay Python objects so that a missing name is None, as R's NA prints
        return VarCorrTable({"grp": pd.Series(grp, dtype=object),
                             "var1": pd.Series(var1, dtype=object),
                             "var2": pd.Series(var2, dtype=object),
                             "vcov": np.asarray(vcov, dtype=float),
                             "sdcor": np.asarray(sdcor, dtype=float)})

    def _groups(self) -> dict[str, list[int]]:
        """Grouping factor name -> indices of its terms, in order of first appearance."""
        out: dict[str, list[int]] = {}
        for k, t in enumerate(self.terms):
            out.setdefault(t.group, []).append(k)
        return out

    def ranef(self, cond_var: bool = True) -> pd.DataFrame:
        """Conditional modes of the random effects (``as.data.frame(ranef(m, condVar=TRUE))``).

        Returns a long DataFrame with columns ``grpvar, term, grp, condval`` and, with
        ``cond_var=True``, ``condsd`` (conditional standard deviation).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.ranef().columns.tolist()
        ['grpvar', 'term', 'grp', 'condval', 'condsd']
        """
        frames = []
        for grp, idx in self._groups().items():
            for k in idx:
                t = self.terms[k]
                for a, name in enumerate(t.cnames):
                    part = {"grpvar": grp, "term": name, "grp": list(t.levels),
                            "condval": self._b[k][:, a]}
                    if cond_var:
                        part["condsd"] = np.sqrt(self._cond_var[k][:, a, a])
                    frames.append(pd.DataFrame(part))
        out = pd.concat(frames, ignore_index=True)
        for col in ("grpvar", "term", "grp"):
            out[col] = out[col].astype(str)
        return out

    def ranef_wide(self) -> dict[str, pd.DataFrame]:
        """``ranef(m)`` as R shows it: per grouping factor, levels × terms.

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Yield ~ 1 + (1 | Batch)", ml.datasets.load("Dyestuff"))
        >>> m.ranef_wide()["Batch"].shape
        (6, 1)
        """
        out = {}
        for grp, idx in self._groups().items():
            cols = {}
            levels = self.terms[idx[0]].levels
            for k in idx:
                for a, name in enumerate(self.terms[k].cnames):
                    cols[name] = self._b[k][:, a]
            out[grp] = pd.DataFrame(cols, index=pd.Index(levels, name=grp))
        return out

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-group coefficients: fixed effects plus the group's random effects (``coef(m)``).

        Examples
        --------
        >>> import multilevel as ml
        >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
        >>> m.coef()["Subject"].columns.tolist()
        ['(Intercept)', 'Days']
        """
        out = {}
        for grp, re in self.ranef_wide().items():
            df = pd.DataFrame(np.tile(self.fixef.to_numpy(), (len(re), 1)), index=re.index,
                              columns=self.fixef.index)
            for col in re.columns:
                df[col] = df[col] + re[col] if col in df.columns else re[col]
            out[grp] = df
        return out

    def _terms_for(self, re_form) -> set[int]:
        """Indices of the terms a prediction includes (``re.form``)."""
        return set(self._re_columns(re_form))

    def _re_columns(self, re_form) -> dict[int, np.ndarray]:
        """Term index -> mask of its columns that a prediction includes (lme4's ``re.form``).

        ``"all"``: every column; None, False, NaN, ``"NA"``, ``"~0"``: none; a formula of
        random terms, e.g. ``"~ (1 | Subject)"`` or ``"~ 1 | Subject"``: the columns of the
        model's terms on the same grouping factor whose names it has, as lme4 does (so
        ``(1 | Subject)`` keeps the intercept of ``(Days | Subject)`` and drops its slope,
        and drops ``(0 + Days | Subject)`` whole).
        """
        from ..design.prediction import re_columns

        return re_columns(self.terms, re_form)

    def _design_positions(self, chosen: list[int]) -> list[int]:
        """Positions in ``design.re_terms`` (formula order) of ``self.terms[k]`` (lme4 order)."""
        pos = {id(t): i for i, t in enumerate(self.design.re_terms)}
        out, used = [], set()
        for k in chosen:
            t = self.terms[k]
            i = pos.get(id(t))
            if i is None:  # terms rebuilt after the design: match by group and columns
                i = next(j for j, r in enumerate(self.design.re_terms) if j not in used
                         and r.group == t.group and list(r.cnames) == list(t.cnames))
            used.add(i)
            out.append(i)
        return out

    @property
    def nobs(self) -> int:
        return self.design.nobs

    @cached_property
    def ngrps(self) -> pd.Series:
        """Number of levels per grouping factor (``ngrps(m)``)."""
        return pd.Series({g: self.terms[idx[0]].n_levels for g, idx in self._groups().items()},
                         name="ngrps")

    @property
    def messages(self) -> list[str]:
        return list(self.opt_summary.messages)
