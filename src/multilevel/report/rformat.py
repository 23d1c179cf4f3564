"""R's number formatting rules, reimplemented for printing summaries.

This module reproduces, digit for digit, what R (4.2, ``OutDec = "."``) prints for numeric
vectors, under ``options(scipen =, width =)`` as set by :func:`multilevel.options`:

* :func:`format_r` -- ``format(x, digits=, nsmall=)`` (C ``formatReal``:
  common number of significant digits, fixed vs scientific notation chosen
  by width, common width);
* :func:`round_r`, :func:`signif_r`, :func:`zapsmall` -- R's ``round``,
  ``signif`` and ``zapsmall``;
* :func:`formatc` -- ``formatC(x, digits=)`` (C's ``%.*g``);
* :func:`format_pval` -- ``format.pval`` with ``<2e-16`` for tiny values;
* :func:`print_named_vector`, :func:`print_char_matrix` -- R's
  ``print.default`` layouts for named vectors and character matrices;
* :func:`abbreviate` -- ``abbreviate(names, minlength)``;
* :func:`strwrap` and :func:`cat_fill` -- line wrapping as R's ``strwrap``
  and ``cat(..., fill = TRUE)``.

Missing values are NaN and print as ``NA``.

Examples
--------
>>> format_r([1.5, -22.25, 0.001234], digits=3)
['  1.50000', '-22.25000', '  0.00123']
>>> format_pval([0.0213, 1e-20], digits=3)
['0.0213', '<2e-16']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..options import get_option

__all__ = [
    "DBL_EPS",
    "format_r",
    "format_num",
    "reformat_false_zeros",
    "round_r",
    "signif_r",
    "zapsmall",
    "formatc",
    "format_pval",
    "signif_stars",
    "pvalue_column",
    "SIGNIF_LEGEND",
    "print_named_vector",
    "print_char_matrix",
    "abbreviate",
    "strwrap",
    "cat_fill",
]

DBL_EPS = float(np.finfo(float).eps)
"""``.Machine$double.eps``."""

SIGNIF_LEGEND = "0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"
"""R's significance legend in a UTF-8 locale (typographic quotes)."""

_WIDTH = 80  # R's default options(width = 80); the current value is get_option("width")
_KP_MAX = 27
_LD_TEN = np.longdouble(10)
_LD_TBL = [_LD_TEN**k for k in range(_KP_MAX + 1)]


def _as_floats(x) -> list[float]:
    if np.isscalar(x) or x is None:
        x = [x]
    return [float("nan") if v is None else float(v) for v in x]


# ----------------------------------------------------------------------------
# rounding
# ----------------------------------------------------------------------------


def round_r(x: float, digits: int = 0) -> float:
    """R's ``round(x, digits)`` (R >= 4.0.0 algorithm).

    The candidates ``floor(x * 10^d) / 10^d`` and ``ceiling(x * 10^d) / 10^d``
    are compared in double precision; the closer one wins, ties go to the
    even last digit.

    Parameters
    ----------
    x : float
        Value (NaN and infinities are returned unchanged).
    digits : int
        Number of decimal places (may be negative).

    Returns
    -------
    float

    Examples
    --------
    >>> round_r(0.15, 1), round_r(2.5), round_r(-1.005, 2), round_r(1234.5, -2)
    (0.1, 2.0, -1.0, 1200.0)
    """
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x
    digits = math.floor(float(digits) + 0.5)  # R rounds non-integer digits
    if digits > 323:
        return x
    sgn = -1.0 if x < 0 else 1.0
    x = abs(x)
    if digits == 0:
        return sgn * float(np.rint(x))
    if digits > 0:
        l10x = math.log10(2.0) * (0.5 + math.frexp(x)[1] - 1)
        if l10x + digits > 15:
            return sgn * x
        p10 = 10.0**digits
        x10 = p10 * x
        i10 = math.floor(x10)
        xd = i10 / p10
        xu = math.ceil(x10) / p10
    else:
        p10 = 10.0 ** (-digits)
        x10 = x / p10
        i10 = math.floor(x10)
        xd = i10 * p10
        xu = math.ceil(x10) * p10
    du = xu - x
    dd = x - xd
    return sgn * (xu if (du < dd or (du == dd and i10 % 2 == 1)) else xd)


def signif_r(x: float, digits: int = 6) -> float:
    """R's ``signif(x, digits)`` (C ``fprec``).

    Examples
    --------
    >>> signif_r(9.68243, 3), signif_r(-0.0012345, 2), signif_r(123456789, 4)
    (9.68, -0.0012, 123500000.0)
    """
    x = float(x)
    if not math.isfinite(x) or x == 0.0:
        return x
    dig = max(1, int(round(digits)))
    if dig > 22:
        return x
    sgn = -1.0 if x < 0 else 1.0
    x = abs(x)
    l10 = math.log10(x)
    e10 = dig - 1 - math.floor(l10)
    max10e = 308
    if abs(l10) < max10e - 2:
        p10 = 1.0
        if e10 > max10e:
            p10 = 10.0 ** (e10 - max10e)
            e10 = max10e
        if e10 > 0:
            pow10 = 10.0**e10
            return sgn * (float(np.rint((x * pow10) * p10)) / pow10) / p10
        pow10 = 10.0 ** (-e10)
        return sgn * (float(np.rint(x / pow10)) * pow10)
    # extreme magnitudes: go through decimal text
    return sgn * float(f"{x:.{dig - 1}e}")


def zapsmall(x: Sequence[float], digits: int = 7) -> list[float]:
    """R's ``zapsmall(x, digits)``: round relative to the largest magnitude.

    R 4.2 rounds to ``max(0, digits - log10(max(abs(x))))`` decimals, a
    non-integer that ``round`` takes to the nearest integer (R >= 4.4 uses
    ``ceiling(log10(mx))`` instead).

    Examples
    --------
    >>> zapsmall([1.0, 1e-20, -2.5], digits=4)
    [1.0, 0.0, -2.5]
    """
    xs = _as_floats(x)
    finite = [abs(v) for v in xs if math.isfinite(v)]
    mx = max(finite) if finite else 0.0
    d = max(0.0, digits - math.log10(mx)) if mx > 0 else digits
    return [round_r(v, d) if math.isfinite(v) else v for v in xs]


# ----------------------------------------------------------------------------
# formatReal
# ----------------------------------------------------------------------------


def _scientific(x: float, digits: int) -> tuple[int, int, int, bool]:
    """C ``scientific()``: (neg, kpower, nsig, roundingwidens) of ``x``."""
    if x == 0.0:
        return 0, 0, 1, False
    neg = 1 if x < 0 else 0
    r = abs(x)
    R = digits
    if R > 15:
        s = f"{r:#.{R - 1}e}"
        mant, expo = s.split("e")
        kpower = int(expo)
        mdigits = mant.replace(".", "")
        j = len(mdigits)
        while j > 1 and mdigits[j - 1] == "0":
            j -= 1
        return neg, kpower, j, False
    kp = math.floor(math.log10(r)) - R + 1
    r_prec = np.longdouble(r)
    if abs(kp) < 10:
        if kp > 0:
            r_prec = r_prec / _LD_TBL[kp]
        elif kp < 0:
            r_prec = r_prec * _LD_TBL[-kp]
    elif kp <= -308:
        r_prec = (np.longdouble(r) * np.longdouble(1e303)) / (_LD_TEN ** (kp + 303))
    else:
        r_prec = r_prec / (_LD_TEN**kp)
    if r_prec < _LD_TBL[R - 1]:
        r_prec = r_prec * _LD_TEN
        kp -= 1
    alpha = float(np.rint(r_prec))
    nsig = R
    for _ in range(R):
        alpha /= 10.0
        if alpha == math.floor(alpha):
            nsig -= 1
        else:
            break
    if nsig == 0 and R > 0:
        nsig = 1
        kp += 1
    kpower = kp + R - 1
    rgt = min(max(R - kpower, 0), _KP_MAX)
    fuzz = 0.5 / float(_LD_TBL[rgt])
    widens = 0 < kpower <= _KP_MAX and r < float(_LD_TBL[kpower]) - fuzz
    return neg, kpower, nsig, widens


def _format_info(xs: Sequence[float], digits: int, nsmall: int = 0) -> tuple[int, int, int]:
    """C ``formatReal``: common (width, decimals, exponent flag) for ``xs``."""
    naflag = posinf = neginf = False
    neg = 0
    rgt = mxl = mxsl = mxns = -(10**9)
    mnl = 10**9
    any_finite = False
    for x in xs:
        if math.isnan(x):
            naflag = True
            continue
        if math.isinf(x):
            if x > 0:
                posinf = True
            else:
                neginf = True
            continue
        any_finite = True
        neg_i, kpower, nsig, widens = _scientific(x, digits)
        left = kpower + 1
        if widens:
            left -= 1
        sleft = neg_i + (1 if left <= 0 else left)
        right = nsig - left
        if neg_i:
            neg = 1
        rgt = max(rgt, right)
        mxl = max(mxl, left)
        mnl = min(mnl, left)
        mxsl = max(mxsl, sleft)
        mxns = max(mxns, nsig)
    if any_finite:
        if digits == 0:
            rgt = 0
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        wf = mxsl + rgt + (rgt != 0)
        e = 2 if (mxl > 100 or mnl <= -99) else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if wf <= w + get_option("scipen"):  # R_print.scipen
            e = 0
            if nsmall > rgt:
                rgt = nsmall
                wf = mxsl + rgt + (rgt != 0)
            d = rgt
            w = wf
    else:
        w = d = e = 0
    if naflag:
        w = max(w, 2)
    if posinf:
        w = max(w, 3)
    if neginf:
        w = max(w, 4)
    return w, d, e


def _encode_real(x: float, w: int, d: int, e: int, na: str = "NA") -> str:
    if math.isnan(x):
        return na.rjust(w)
    if math.isinf(x):
        return ("Inf" if x > 0 else "-Inf").rjust(w)
    if x == 0.0:
        x = 0.0  # R strips the sign of negative zero
    if e:
        s = f"{x:#.{d}e}" if d else f"{x:.{d}e}"
    else:
        s = f"{x:.{d}f}"
    return s.rjust(w)


def format_r(x, digits: int = 7, nsmall: int = 0, width: int = 0) -> list[str]:
    """R's ``format(x, digits=digits, nsmall=nsmall)`` for a numeric vector.

    Every element gets the same number of decimals (or the same scientific
    layout), chosen so that the element needing the most significant digits
    shows at least ``digits`` of them; fixed notation is used unless it is
    more than ``options(scipen)`` characters wider than scientific (``scipen = 0``
    by default: unless it is wider). All strings share one width.

    Parameters
    ----------
    x : float or sequence of float
        Values; NaN / None print as ``NA``.
    digits : int
        R's ``digits`` (significant digits).
    nsmall : int
        Minimum number of decimals in fixed notation.
    width : int
        Minimum field width.

    Returns
    -------
    list of str

    Examples
    --------
    >>> format_r([0, -1, 123456789])
    ['        0', '       -1', '123456789']
    >>> format_r([1e-20, 1.0])
    ['1e-20', '1e+00']
    >>> format_r([float('nan'), 2.5], digits=3)
    [' NA', '2.5']
    >>> import multilevel as ml
    >>> with ml.options(scipen=8):
    ...     format_r([1.47e-09], digits=3)
    ['0.00000000147']
    """
    xs = _as_floats(x)
    w, d, e = _format_info(xs, digits, nsmall)
    w = max(w, width)
    return [_encode_real(v, w, d, e) for v in xs]


def format_num(x: float, digits: int = 7) -> str:
    """One number as ``cat(x)`` / ``as.character``-like printing shows it.

    Examples
    --------
    >>> format_num(46503.66, digits=3), format_num(258), format_num(1673.94)
    ('46504', '258', '1673.94')
    """
    return format_r([x], digits)[0].strip()


def reformat_false_zeros(cf: list[list[str]], values, cells, digits: int) -> None:
    """R's ``printCoefmat`` fix-up, in place: among the ``(column, row)`` ``cells`` of the
    formatted columns ``cf``, those that are non-zero but print as zero (or the other way
    round) are formatted again, together, with ``digits - 1``.

    Examples
    --------
    >>> cf = [["0", "2"]]
    >>> reformat_false_zeros(cf, [[1e-5, 2.0]], [(0, 0), (0, 1)], digits=3)
    >>> cf
    [['1e-05', '2']]
    """
    bad = []
    for j, i in cells:
        try:
            shown0 = float(cf[j][i]) == 0
        except ValueError:
            continue
        if (values[j][i] == 0) != shown0:
            bad.append((j, i))
    if bad:
        for (j, i), s in zip(bad, format_r([values[j][i] for j, i in bad], max(1, digits - 1))):
            cf[j][i] = s


def formatc(x: float, digits: int | None = None) -> str:
    """R's ``formatC(x, digits=digits)`` for a double (C ``%.*g``).

    Examples
    --------
    >>> formatc(0.24407, 4), formatc(84.6421, 3)
    ('0.2441', '84.6')
    """
    x = float(x)
    if math.isnan(x):
        return "NA"
    if digits is None:
        return f"{x:g}"
    return f"{x:.{int(digits)}g}"


# ----------------------------------------------------------------------------
# p-values
# ----------------------------------------------------------------------------


def format_pval(pv, digits: int = 5, eps: float = DBL_EPS, na_form: str = "NA") -> list[str]:
    """R's ``format.pval(pv, digits, eps)``.

    Values below ``eps`` print as ``<eps`` (``<2e-16``; with a space,
    ``< 2e-16`` / ``< 2.2e-16``, when other values are wide). The other
    values are formatted in two groups, ``pv >= 1e-4`` and smaller ones,
    each with a common layout (the threshold reproduces R 4.2's printed
    coefficient tables, e.g. ``0.000182`` next to ``1.47e-09``).

    Examples
    --------
    >>> format_pval([1.47e-09, 0.001068, 0.000474, 0.000182], digits=3)
    ['1.47e-09', '0.001068', '0.000474', '0.000182']
    >>> format_pval([1e-300], digits=4), format_pval([1e-300], digits=3)
    (['< 2.2e-16'], ['<2e-16'])
    """
    xs = _as_floats(pv)
    out = [na_form] * len(xs)
    idx = [i for i, v in enumerate(xs) if not math.isnan(v)]
    vals = [xs[i] for i in idx]
    is0 = [v < eps for v in vals]
    rr: list[str] = []
    if not all(is0):
        keep = [v for v, z in zip(vals, is0) if not z]
        # two groups, each formatted with a common layout: values from 1e-3 up (1e-4 up
        # when digits > 1; fixed notation in R's output) and smaller ones (scientific)
        fixp = [v == 0 or math.floor(math.log10(v)) >= -3
                or (math.floor(math.log10(v)) == -4 and digits > 1) for v in keep]
        rr = [""] * len(keep)
        for flag in (True, False):
            grp = [i for i, f in enumerate(fixp) if f == flag]
            if grp:
                fmt = format_r([keep[i] for i in grp], digits)
                for i, s in zip(grp, fmt):
                    rr[i] = s
        it = iter(rr)
        for j, z in enumerate(is0):
            if not z:
                out[idx[j]] = next(it)
    if any(is0):
        dg = max(1, digits - 2)
        if not all(is0):
            nc = max(len(s) for s in rr)
            if dg > 1 and dg + 6 > nc:
                dg = max(1, nc - 7)
            sep = "" if (dg == 1 and nc <= 6) else " "
        else:
            sep = "" if dg == 1 else " "
        txt = "<" + sep + format_r([eps], dg)[0]
        for j, z in enumerate(is0):
            if z:
                out[idx[j]] = txt
    return out


def signif_stars(pv) -> list[str]:
    """Significance symbols of R's ``symnum`` (``***``, ``**``, ``*``, ``.``, `` ``).

    Examples
    --------
    >>> signif_stars([0.0005, 0.01, 0.05, 0.07, 0.5, float('nan')])
    ['***', '**', '*', '.', ' ', '']
    """
    out = []
    for p in _as_floats(pv):
        if math.isnan(p):
            out.append("")
        elif p <= 0.001:
            out.append("***")
        elif p <= 0.01:
            out.append("**")
        elif p <= 0.05:
            out.append("*")
        elif p <= 0.1:
            out.append(".")
        else:
            out.append(" ")
    return out


def pvalue_column(cf: list[list[str]], headers: list[str], pv, digits: int,
                  eps: float = DBL_EPS, stars: bool = True) -> bool:
    """R's ``printCoefmat`` p-value column, in place: the non-missing p-values ``pv`` of the
    last formatted column of ``cf`` by :func:`format_pval`, then (with ``stars``, when one is
    below 0.1) a column of significance stars with an empty header. True when the stars
    were added (the legend is due).

    Examples
    --------
    >>> cf, headers = [["1.0", "2.0"], ["", ""]], ["Estimate", "Pr(>|t|)"]
    >>> pvalue_column(cf, headers, [0.5, 1e-4], digits=3)
    True
    >>> cf[1:], headers
    ([['5e-01', '1e-04'], ['   ', '***']], ['Estimate', 'Pr(>|t|)', ''])
    """
    ok = [i for i in range(len(pv)) if not math.isnan(pv[i])]
    if not ok:
        return False
    for i, s in zip(ok, format_pval([pv[i] for i in ok], digits=digits, eps=eps)):
        cf[-1][i] = s
    if not (stars and any(pv[i] < 0.1 for i in ok)):
        return False
    marks = signif_stars(pv)
    sw = max(len(s) for s in marks)
    cf.append([s.ljust(sw) for s in marks])
    headers.append("")
    return True


# ----------------------------------------------------------------------------
# print.default layouts
# ----------------------------------------------------------------------------


def print_named_vector(
    names: Sequence[str], values: Sequence[str], right: bool = True, width: int | None = None
) -> list[str]:
    """Lines of R's print of a named vector whose entries are already formatted.

    Every column has the common width of all names and values, entries are
    right-justified and followed by one space, and as many columns as fit
    in ``width`` go on a line.

    Examples
    --------
    >>> print_named_vector(["Min", "Max"], ["-1.5", "2.25"])
    [' Min  Max ', '-1.5 2.25 ']
    """
    width = get_option("width") if width is None else width
    w = max([len(s) for s in names] + [len(s) for s in values] + [0])
    per_line = max(1, width // (w + 1))
    lines = []
    for start in range(0, len(values), per_line):
        chunk = range(start, min(start + per_line, len(values)))
        just = (lambda s: s.rjust(w)) if right else (lambda s: s.ljust(w))
        lines.append("".join(names[i].rjust(w) + " " for i in chunk))
        lines.append("".join(just(values[i]) + " " for i in chunk))
    return lines


def print_char_matrix(
    rownames: Sequence[str],
    colnames: Sequence[str],
    columns: Sequence[Sequence[str]],
    right: bool = False,
    width: int | None = None,
) -> list[str]:
    """Lines of R's ``print(m, quote = FALSE, right = right)`` for a character matrix.

    Row labels are left-justified; entries and column headers are justified
    left (``right=False``) or right; columns are separated by one space and
    split into chunks that fit ``width``.

    Examples
    --------
    >>> print_char_matrix(["a", "bb"], ["x", "yy"], [["1", "22"], ["-3", "4"]])
    ['   x  yy', 'a  1  -3', 'bb 22 4 ']
    """
    width = get_option("width") if width is None else width
    nr = len(rownames)
    rlabw = max([len(s) for s in rownames] + [0])
    widths = [max([len(h)] + [len(s) for s in col]) for h, col in zip(colnames, columns)]

    def just(s: str, w: int) -> str:
        return s.rjust(w) if right else s.ljust(w)

    lines: list[str] = []
    nc = len(columns)
    jmin = 0
    while jmin < nc:
        tot = rlabw
        jmax = jmin
        while True:
            tot += widths[jmax] + 1
            jmax += 1
            if not (jmax < nc and tot + widths[jmax] + 1 < width):
                break
        head = " " * rlabw + "".join(" " + just(colnames[j], widths[j]) for j in range(jmin, jmax))
        lines.append(head)
        for i in range(nr):
            row = rownames[i].ljust(rlabw) + "".join(
                " " + just(columns[j][i], widths[j]) for j in range(jmin, jmax)
            )
            lines.append(row)
        jmin = jmax
    return lines


# ----------------------------------------------------------------------------
# abbreviate, strwrap, cat
# ----------------------------------------------------------------------------


def _strip_chars(s: str, minlen: int) -> str:
    """C ``stripchars`` of R's ``abbreviate`` (``use.classes = TRUE``)."""
    b = list(s.lstrip())
    if len(b) < minlen:
        return "".join(b)

    def nspace_len() -> int:
        return len(b) - sum(1 for c in b if c.isspace())

    # drop trailing blanks (word separators are kept until the end)
    while b and b[-1].isspace():
        b.pop()
        if nspace_len() <= minlen:
            return _finish(b, minlen)
    if nspace_len() <= minlen:
        return _finish(b, minlen)

    def first_char(i: int) -> bool:
        return b[i - 1].isspace()

    def last_char(i: int) -> bool:
        return (not b[i - 1].isspace()) and (i + 1 >= len(b) or b[i + 1].isspace())

    def low_vowel(i: int) -> bool:
        return b[i] in "aeiou"

    rules = [
        lambda i: low_vowel(i) and last_char(i),
        lambda i: low_vowel(i) and not first_char(i),
        lambda i: b[i].islower() and last_char(i),
        lambda i: b[i].islower() and not first_char(i),
        lambda i: not first_char(i) and not b[i].isspace(),
    ]
    for rule in rules:
        i = len(b) - 1
        while i > 0:
            if i < len(b) and rule(i):
                del b[i]
            if nspace_len() <= minlen:
                return _finish(b, minlen)
            i -= 1
    return _finish(b, minlen)


def _finish(b: list[str], minlen: int) -> str:
    if len(b) > minlen:
        b = [b[0]] + [c for c in b[1:] if not c.isspace()]
    return "".join(b)


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method ``left.kept``).

    Lower-case vowels are dropped from the right, then lower-case letters,
    until at most ``minlength`` characters remain; ``minlength`` is raised
    for names whose abbreviations collide.

    Examples
    --------
    >>> abbreviate(["(Intercept)", "schgendboys", "schgendgirls"], 6)
    ['(Intr)', 'schgndb', 'schgndg']
    >>> abbreviate(["temperature185"], 11)
    ['tempertr185']
    """
    old = [s.strip(" ") for s in names]
    uniq = list(dict.fromkeys(old))
    x = list(uniq)
    dup2 = [True] * len(uniq)
    ml = minlength
    if ml <= 0:
        return ["" for _ in names]
    while True:
        for i, flag in enumerate(dup2):
            if flag:
                x[i] = _strip_chars(uniq[i], ml)
        seen: set[str] = set()
        dups = []
        for v in x:
            dups.append(v in seen)
            seen.add(v)
        if not any(dups):
            break
        ml += 1
        dupvals = {v for v, d in zip(x, dups) if d}
        dup2 = [d or (v in dupvals) for v, d in zip(x, dups)]
    lookup = dict(zip(uniq, x))
    return [lookup[s] for s in old]


def strwrap(text: str, width: int, indent: int = 0, exdent: int = 0) -> list[str]:
    """R's ``strwrap`` for one paragraph: lines shorter than ``width``.

    Examples
    --------
    >>> strwrap("aa bb cc", 6, exdent=2)
    ['aa bb', '  cc']
    """
    words = text.split()
    lines: list[str] = []
    cur = ""
    for w in words:
        pad = indent if not lines else exdent
        if not cur:
            cur = " " * pad + w
        elif len(cur) + 1 + len(w) < width:
            cur += " " + w
        else:
            lines.append(cur)
            cur = " " * exdent + w
    if cur or not lines:
        lines.append(cur)
    return lines


def cat_fill(items: Sequence[str], sep: str = " ", width: int | None = None) -> list[str]:
    """Lines of R's ``cat(..., sep = sep, fill = TRUE)``.

    Items are joined by ``sep``; a new line starts before an item that
    would make the line longer than ``width``.

    Examples
    --------
    >>> cat_fill(["Number of obs: 30, groups: ", "Batch, 6"])
    ['Number of obs: 30, groups:  Batch, 6']
    """
    width = get_option("width") if width is None else width
    lines: list[str] = []
    cur = ""
    started = False
    for it in items:
        if started and len(cur) + len(sep) + len(it) > width:
            lines.append(cur)
            cur = it
        else:
            cur = cur + sep + it if started else it
        started = True
    lines.append(cur)
    return lines
