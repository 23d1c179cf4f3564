"""Linear hypotheses about the fixed effects (car's ``linearHypothesis``, multcomp's ``glht``,
lmerTest's ``contest``).

``m.test("homework = 0", "x1 - x2 = 0")`` (:func:`linear_hypothesis`; or a matrix ``L`` and ``rhs``) gives

* the joint test of ``L beta = rhs``: for ``lm`` the exact F (car); for ``lmer`` the F with
  Satterthwaite or Kenward-Roger df (lmerTest's ``contest``), or with ``ddf=None`` the Wald
  chi-square (car's default for mixed models); for ``glmer`` the Wald chi-square;
* one test per row (multcomp's ``summary(glht)``): estimate ``l' beta``, its standard error
  and ``(l' beta - rhs) / se``, t with the residual df for ``lm``, z for mixed models (as
  multcomp), with single-step adjusted p-values from the joint multivariate t / normal
  distribution of the statistics (or Holm, Bonferroni, ... from ``p.adjust``).

Hypotheses are parsed, never evaluated: coefficient names exactly as R prints them (also
between backquotes, ```as.factor(g)2```), numbers, ``+ - * /``, parentheses and one ``=``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import FormulaError, MultilevelError, two_line
from ..formula.tokenize import read_number
from . import multiplicity as mult


# ----- parsing -------------------------------------------------------------------------------
def _tokens(text: str, names: list[str]) -> list[tuple[str, object]]:
    by_len = sorted(names, key=len, reverse=True)
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise FormulaError(two_line(f"unclosed backquote in {text!r}",
                                            "close the coefficient name with `"))
            out.append(("name", text[i + 1:j]))
            i = j + 1
            continue
        hit = next((nm for nm in by_len if text.startswith(nm, i)), None)
        if hit is not None:
            end = i + len(hit)
            # a name must not run on into more name characters (x1 vs x10)
            if end >= n or not (text[end].isalnum() or text[end] in "._"):
                out.append(("name", hit))
                i = end
                continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = read_number(text, i, integer_suffix=False)
            out.append(("num", float(text[i:j])))
            i = j
            continue
        if ch in "+-*/()=":
            if ch == "=" and text.startswith("==", i):
                i += 1  # multcomp's "==" reads as "="
            out.append(("op", ch))
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in "+-*/=":
            j += 1
        raise FormulaError(two_line(
            f"{text[i:j]!r} in the hypothesis {text!r} is not a coefficient of the model",
            f"use the names of m.fixef (R's labels, e.g. {names[:4]}), backquoted if needed"))
    return out


class _Parser:
    def __init__(self, toks, names, text):
        self.toks, self.i, self.names, self.text = toks, 0, names, text
        self.index = {nm: k for k, nm in enumerate(names)}

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def fail(self, what):
        raise FormulaError(two_line(f"cannot read the hypothesis {self.text!r}: {what}",
                                    'write a linear combination such as "x1 - 2*x2 = 0"'))

    def expr(self):
        vec, c = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            sign = 1.0 if self.take()[1] == "+" else -1.0
            v2, c2 = self.term()
            vec, c = vec + sign * v2, c + sign * c2
        return vec, c

    def term(self):
        vec, c = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            v2, c2 = self.unary()
            if op == "*":
                if np.any(vec) and np.any(v2):
                    self.fail("a product of two coefficients is not linear")
                vec, c = (vec * c2 if np.any(vec) else v2 * c), c * c2
            else:
                if np.any(v2) or c2 == 0:
                    self.fail("divide only by a nonzero number")
                vec, c = vec / c2, c / c2
        return vec, c

    def unary(self):
        if self.peek() in (("op", "+"), ("op", "-")):
            sign = 1.0 if self.take()[1] == "+" else -1.0
            v, c = self.unary()
            return sign * v, sign * c
        kind, val = self.take()
        z = np.zeros(len(self.names))
        if kind == "num":
            return z, float(val)
        if kind == "name":
            if val not in self.index:
                raise FormulaError(two_line(
                    f"{val!r} in the hypothesis {self.text!r} is not a coefficient",
                    f"use the names of m.fixef: {self.names}"))
            z[self.index[val]] = 1.0
            return z, 0.0
        if (kind, val) == ("op", "("):
            out = self.expr()
            if self.take() != ("op", ")"):
                self.fail("a parenthesis is not closed")
            return out
        self.fail("an operand is missing" if kind is None else f"unexpected {val!r}")


def parse_hypothesis(text: str, names: list[str]) -> tuple[np.ndarray, float]:
    """One hypothesis as a row of ``L`` and its right-hand side (``"x1 - x2 = 0"``).

    Examples
    --------
    >>> parse_hypothesis("2*x1 - `log(z)` = 1", ["(Intercept)", "x1", "log(z)"])
    (array([ 0.,  2., -1.]), 1.0)
    >>> parse_hypothesis("(Intercept) + x1", ["(Intercept)", "x1"])
    (array([1., 1.]), 0.0)
    """
    toks = _tokens(text, names)
    eq = [k for k, t in enumerate(toks) if t == ("op", "=")]
    if len(eq) > 1:
        raise FormulaError(two_line(f"the hypothesis {text!r} has more than one '='",
                                    "write one equation per hypothesis"))
    sides = [toks[:eq[0]], toks[eq[0] + 1:]] if eq else [toks, [("num", 0.0)]]
    vals = []
    for side in sides:
        p = _Parser(side, names, text)
        if not side:
            p.fail("a side of '=' is empty")
        vals.append(p.expr())
        if p.i != len(side):
            p.fail(f"unexpected {side[p.i][1]!r}")
    (lv, lc), (rv, rc) = vals
    L = lv - rv
    if not np.any(L):
        raise FormulaError(two_line(f"the hypothesis {text!r} involves no coefficient",
                                    "name at least one coefficient of the model"))
    return L, rc - lc


def _syntactic(name: str) -> bool:
    """R's rule for a name that needs no backquotes."""
    import re

    return bool(re.fullmatch(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.", name))


def _quote(name: str) -> str:
    return name if _syntactic(name) else f"`{name}`"


def _deparse(toks) -> str:
    """R's deparse of a parsed side: spaces around binary operators, names quoted."""
    from ..report.rformat import format_num

    if len(toks) == 1 and toks[0][0] == "name":
        return toks[0][1]  # R deparses a lone symbol without backquotes
    out, prev = [], None
    for kind, val in toks:
        if kind == "name":
            out.append(_quote(val))
        elif kind == "num":
            out.append(format_num(val))
        elif val in "+-*/" and prev not in (None, ("op", "("), ("op", "+"), ("op", "-"),
                                          ("op", "*"), ("op", "/")):
            out.append(f" {val} ")
        else:
            out.append(val)
        prev = (kind, val)
    return "".join(out)


def hypothesis_label(text: str, names: list[str]) -> str:
    """multcomp's label of a hypothesis: ``"x1 - 2 * x2 == 0"`` (the text as R deparses it).

    Examples
    --------
    >>> hypothesis_label("Days+2*`I(Days^2)`=10", ["Days", "I(Days^2)"])
    'Days + 2 * `I(Days^2)` == 10'
    """
    toks = _tokens(text, names)
    eq = [k for k, t in enumerate(toks) if t == ("op", "=")]
    lhs, rhs = (toks[:eq[0]], toks[eq[0] + 1:]) if eq else (toks, [("num", 0.0)])
    return f"{_deparse(lhs)} == {_deparse(rhs)}"


def _label(L: np.ndarray, r: float, names: list[str]) -> str:
    """A label for a row of a matrix ``L``: ``"x1 - 2 * x2 == 0"``."""
    from ..report.rformat import format_num

    parts = []
    for w, nm in zip(L, names):
        if w == 0:
            continue
        nmq = _quote(nm)
        mag = abs(w)
        body = nmq if mag == 1 else f"{format_num(mag)} * {nmq}"
        parts.append(("- " if w < 0 else "+ ") + body)
    s = " ".join(parts)
    s = s[2:] if s.startswith("+ ") else "-" + s[2:]
    return f"{s} == {format_num(r)}"


# ----- the tests -----------------------------------------------------------------------------
@dataclass
class HypothesisTest:
    """Result of :meth:`test` on a fitted model.

    Attributes
    ----------
    joint : Series   -- the joint test: ``F, ndf, ddf, p_value`` or ``chisq, df, p_value``
    tests : DataFrame -- one row per hypothesis: estimate, std_error, statistic, p_value
        (adjusted; ``p_unadjusted`` too) and ``df`` for t statistics
    L, rhs : the hypothesis matrix and right-hand side

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
    >>> h = m.test("Days = 10", ddf="kenward-roger")
    >>> h.joint.index.tolist(), h.tests.columns.tolist()
    (['F', 'ndf', 'ddf', 'p_value'], ['estimate', 'std_error', 'statistic', 'p_value', 'p_unadjusted'])
    """

    joint: pd.Series
    tests: pd.DataFrame
    L: np.ndarray
    rhs: np.ndarray
    adjust: str
    method: str
    formula: str

    def __repr__(self) -> str:
        from ..report.rformat import format_pval, format_r

        j = self.joint
        lines = ["Linear hypothesis test", "", "Hypothesis:"]
        lines += [h.replace(" == ", " = ") for h in self.tests.index]
        lines += ["", f"Model: {self.formula}", ""]
        if "F" in j:
            lines.append(f"F = {format_r([j['F']], digits=5)[0].strip()} on "
                         f"{int(j['ndf'])} and {format_r([j['ddf']], digits=5)[0].strip()} "
                         f"DF ({self.method}), p-value = "
                         f"{format_pval([j['p_value']], digits=4)[0]}")
        else:
            lines.append(f"Chisq = {format_r([j['chisq']], digits=5)[0].strip()} on "
                         f"{int(j['df'])} DF, p-value = {format_pval([j['p_value']], digits=4)[0]}")
        from ..report.summary_text import print_coefmat

        t = self.tests
        stat = "t value" if "df" in t.columns else "z value"
        pcol = "Pr(>|t|)" if "df" in t.columns else "Pr(>|z|)"
        lines += ["", "Linear Hypotheses:"]
        lines += print_coefmat(list(t.index), ["Estimate", "Std. Error", stat, pcol],
                               [t["estimate"], t["std_error"], t["statistic"], t["p_value"]],
                               digits=4, has_pvalue=True)
        lines.append(f"(Adjusted p values reported -- {self.adjust} method)"
                     if self.adjust != "none" else "(Univariate p values reported)")
        return "\n".join(lines)


def _matrix(m, hypotheses, L, rhs) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = list(m.fixef.index)
    if L is not None:
        if hypotheses:
            raise MultilevelError(two_line("give hypotheses as strings or as L, not both",
                                           "m.test('x = 0') or m.test(L=..., rhs=...)"))
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(names):
            raise MultilevelError(two_line(f"L has {L.shape[1]} columns, the model "
                                           f"{len(names)} fixed effects",
                                           f"one column per coefficient: {names}"))
        r = np.zeros(L.shape[0]) if rhs is None else np.broadcast_to(
            np.asarray(rhs, dtype=float), (L.shape[0],)).copy()
    else:
        if len(hypotheses) == 1 and not isinstance(hypotheses[0], str):
            hypotheses = tuple(hypotheses[0])
        if not hypotheses:
            raise MultilevelError(two_line("no hypothesis given",
                                           "e.g. m.test('homework = 0')"))
        rows = [parse_hypothesis(h, names) for h in hypotheses]
        L = np.vstack([r[0] for r in rows])
        r = np.array([r[1] for r in rows])
        return L, r, [hypothesis_label(h, names) for h in hypotheses]
    return L, r, [_label(Li, ri, names) for Li, ri in zip(L, r)]


def _joint_lmer(m, L, r, ddf) -> tuple[pd.Series, str]:
    if ddf == "kenward-roger":
        from .kenward_roger import kr_ftest

        k = kr_ftest(m, L, rhs=r)
    else:
        from .satterthwaite import contrast_f

        k = contrast_f(m, L, rhs=r)
    F, ndf, den = k["F"], k["ndf"], k["ddf"]
    return pd.Series({"F": F, "ndf": ndf, "ddf": den,
                      "p_value": float(stats.f.sf(F, ndf, den))}), ddf


def linear_hypothesis(m, *hypotheses, L=None, rhs=None, ddf="satterthwaite", adjust: str = "single-step",
         seed: int = 1) -> HypothesisTest:
    """Test linear hypotheses about the fixed effects (car / multcomp / lmerTest).

    Parameters
    ----------
    m : fitted lm, lmer or glmer model
    *hypotheses : str
        ``"homework = 0"``, ``"x1 - x2 = 0"``, ``"2*b + c = 1"``; coefficient names as R
        prints them (backquote names with operators: ```I(Days^2)```).
    L, rhs : array, optional
        Instead of strings: the hypothesis matrix (one column per fixed effect) and the
        right-hand side (default 0).
    ddf : "satterthwaite" (default), "kenward-roger" or None
        lmer's joint F test df; None gives car's Wald chi-square.
    adjust : "single-step" (default, multcomp), "holm", "bonferroni", ..., "none"
        Adjustment of the individual tests' p-values.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.lm("angle ~ recipe + temperature", ml.datasets.load("cake"))
    >>> h = m.test("recipeB = 0", "recipeB - recipeC = 0")
    >>> round(float(h.joint["F"]), 4), h.tests.index.tolist()
    (1.1125, ['recipeB == 0', 'recipeB - recipeC == 0'])

    A matrix may also come first, as lmerTest's ``contest(m, L)``:

    >>> round(float(m.test([[0, 1, 0, 0, 0, 0, 0, 0]]).joint["F"]), 4)
    1.6186
    """
    if L is None and len(hypotheses) == 1 and not isinstance(hypotheses[0], str):
        L, hypotheses = hypotheses[0], ()  # m.test(L), lmerTest's contest(m, L)
    L, r, labels = _matrix(m, hypotheses, L, rhs)
    beta = np.asarray(m.fixef, dtype=float)
    V = np.asarray(m.vcov, dtype=float)
    est = L @ beta
    VL = L @ V @ L.T
    se = np.sqrt(np.diag(VL))
    stat = (est - r) / se
    kind = getattr(m, "kind", None)
    q = int(np.linalg.matrix_rank(VL))
    wald = float((est - r) @ np.linalg.pinv(VL) @ (est - r))
    if kind == "lm":
        df_t = float(m.df_resid)
        F = wald / q
        joint = pd.Series({"F": F, "ndf": q, "ddf": df_t,
                           "p_value": float(stats.f.sf(F, q, df_t))})
        method = "exact"
    elif kind == "lmer" and ddf is not None:
        mode = str(ddf).lower().replace("_", "-")
        if mode not in ("satterthwaite", "kenward-roger"):
            raise MultilevelError(two_line(f"unknown ddf {ddf!r}",
                                           'use "satterthwaite", "kenward-roger" or None'))
        joint, method = _joint_lmer(m, L, r, mode)
        df_t = np.inf
    else:
        joint = pd.Series({"chisq": wald, "df": q, "p_value": float(stats.chi2.sf(wald, q))})
        method = "Wald chi-square"
        df_t = np.inf
    adj = "single-step" if str(adjust).lower() in ("single-step", "single_step", "mvt") \
        else mult.check_method(adjust)
    p_raw = 2.0 * stats.t.sf(np.abs(stat), df_t)
    if adj == "single-step":
        corr = VL / np.outer(se, se)
        p = np.array([1.0 - mult.mvt_prob(abs(s), corr, df_t, seed) for s in stat])
        p = np.clip(p, 0.0, 1.0)
    else:
        p = mult.p_adjust(p_raw, "BH" if adj == "fdr" else adj) if adj in mult.P_ADJUST \
            else mult.adjust_p(stat, np.full(len(stat), df_t), adj, len(stat))
    tests = pd.DataFrame({"estimate": est, "std_error": se}, index=pd.Index(labels, name="hypothesis"))
    if np.isfinite(df_t):
        tests["df"] = df_t
    tests["statistic"] = stat
    tests["p_value"] = p
    tests["p_unadjusted"] = p_raw
    return HypothesisTest(joint, tests, L, r, adj, method, m.formula)
