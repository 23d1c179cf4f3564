"""Unit tests of R's number formatting rules (values as R 4.2 prints them)."""

from __future__ import annotations

import math

import pytest

from multilevel.report.rformat import (
    abbreviate,
    cat_fill,
    format_num,
    format_pval,
    format_r,
    formatc,
    print_char_matrix,
    print_named_vector,
    round_r,
    signif_r,
    signif_stars,
    strwrap,
    zapsmall,
)
from multilevel.report.summary_text import print_coefmat

NA = float("nan")


@pytest.mark.parametrize(
    ("x", "digits", "nsmall", "expected"),
    [
        ([0.0], 7, 0, ["0"]),
        ([-0.0], 7, 0, ["0"]),
        ([-1.5], 7, 0, ["-1.5"]),
        ([1e-20], 7, 0, ["1e-20"]),
        ([123456789.0], 7, 0, ["123456789"]),
        ([1234567890.0], 7, 0, ["1234567890"]),
        ([100000.0], 7, 0, ["1e+05"]),
        ([123456.0], 7, 0, ["123456"]),
        ([100000.1], 7, 0, ["100000.1"]),
        ([1.0, 10.0, 100.0], 7, 0, ["  1", " 10", "100"]),
        ([-1.0, 1.0], 7, 0, ["-1", " 1"]),
        ([3.14159], 3, 0, ["3.14"]),
        ([0.001234, 123.4], 3, 0, ["1.23e-03", "1.23e+02"]),
        ([1.5, -22.25, 0.001234], 3, 0, ["  1.50000", "-22.25000", "  0.00123"]),
        ([NA], 7, 0, ["NA"]),
        ([NA, 1.5], 7, 0, [" NA", "1.5"]),
        ([math.inf, -math.inf, 1.0], 7, 0, [" Inf", "-Inf", "   1"]),
        ([2.0], 7, 2, ["2.00"]),
        ([1.0, -0.803], 7, 3, [" 1.000", "-0.803"]),
        ([9996.0], 3, 0, ["9996"]),
        ([0.1 + 0.2], 17, 0, ["0.30000000000000004"]),
        ([1e-300, 1.0], 7, 0, ["1e-300", " 1e+00"]),
        ([1e100], 7, 0, ["1e+100"]),
        ([61.81, 19.98, 43.07], 3, 0, ["61.8", "20.0", "43.1"]),
    ],
)
def test_format_r(x, digits, nsmall, expected):
    assert format_r(x, digits=digits, nsmall=nsmall) == expected


def test_format_r_scalar_and_none():
    assert format_r(2.5) == ["2.5"]
    assert format_r([None, 1.0]) == ["NA", " 1"]


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (0.15, 1, 0.1),
        (2.5, 0, 2.0),
        (3.5, 0, 4.0),
        (-1.005, 2, -1.0),
        (0.125, 2, 0.12),
        (1234.5, -2, 1200.0),
        (-884.7, 1, -884.7),
        (2.675, 2, 2.67),
        (0.0, 3, 0.0),
        (1.23456, 2.6, 1.235),  # non-integer digits are rounded, as in R
    ],
)
def test_round_r(x, digits, expected):
    assert round_r(x, digits) == expected


def test_round_r_nonfinite():
    assert math.isnan(round_r(NA, 2))
    assert round_r(math.inf, 2) == math.inf


def test_signif_and_zapsmall():
    assert signif_r(9.68243, 3) == 9.68
    assert signif_r(-0.00123456, 2) == -0.0012
    assert signif_r(123456789, 4) == 123500000.0
    assert signif_r(0.0, 3) == 0.0
    assert zapsmall([1.0, 1e-20], 7) == [1.0, 0.0]
    # R 4.2: round(x, digits - log10(mx)), the digits rounded to an integer
    assert zapsmall([2.88, -0.0937478], 4) == [2.88, -0.0937]
    assert zapsmall([5.18, 0.0289448], 4) == [5.18, 0.029]


def test_formatc_and_cat():
    assert formatc(0.2440727, 4) == "0.2441"
    assert formatc(84.642, 3) == "84.6"
    assert formatc(100.0, 4) == "100"
    assert formatc(NA, 3) == "NA"
    assert format_num(46503.66, 3) == "46504"
    assert format_num(237661.5, 7) == "237661.5"
    assert format_num(258.0) == "258"


@pytest.mark.parametrize(
    ("pv", "digits", "expected"),
    [
        ([1e-20], 3, ["<2e-16"]),
        ([1e-20], 2, ["<2e-16"]),
        ([1e-20], 4, ["< 2.2e-16"]),
        ([1e-20, 0.244], 3, ["<2e-16", "0.244"]),
        ([1e-20, 0.985, 0.1224, 0.0802], 3, ["<2e-16", "0.9850", "0.1224", "0.0802"]),
        ([1e-20, 0.985, 9.52e-07], 3, ["< 2e-16", "0.985", "9.52e-07"]),
        ([6.6e-08, 0.0241, 0.00563], 2, ["6.6e-08", "0.0241", "0.0056"]),
        ([0.0576, 7.15e-07, 0.000196, 4.83e-12], 2, ["0.0576", "7.2e-07", "0.0002", "4.8e-12"]),
        ([9.74e-05, 0.000652], 3, ["9.74e-05", "0.000652"]),
        ([NA, 0.5], 3, ["NA", "0.5"]),
        ([0.0], 3, ["<2e-16"]),
    ],
)
def test_format_pval(pv, digits, expected):
    assert format_pval(pv, digits=digits) == expected


def test_format_pval_custom_eps():
    assert format_pval([1e-5, 0.5], digits=3, eps=1e-4) == ["<1e-04", "0.5"]


def test_signif_stars_cutpoints():
    assert signif_stars([0.001, 0.0010001, 0.05, 0.1, 0.1000001, NA]) == [
        "***", "**", "*", ".", " ", ""
    ]


def test_abbreviate():
    names = ["(Intercept)", "temperature185", "recipeB", "sexM", "schgendboys", "schgendgirls"]
    assert abbreviate(names, 6) == ["(Intr)", "tmp185", "recipB", "sexM", "schgndb", "schgndg"]
    assert abbreviate(names, 11) == [
        "(Intercept)", "tempertr185", "recipeB", "sexM", "schgendboys", "schgendgrls"
    ]
    assert abbreviate(["meanses:cses", "cses:sectorCatholic"], 11) == [
        "meanses:css", "css:sctrCth"
    ]
    assert abbreviate(["a", "a"], 4) == ["a", "a"]


def test_print_layouts():
    assert print_named_vector(["AIC", "df.resid"], ["1781.4", "254"]) == [
        "     AIC df.resid ",
        "  1781.4      254 ",
    ]
    lines = print_named_vector([str(i) for i in range(30)], ["1.5"] * 30)
    assert len(lines) == 4 and len(lines[0]) == 80
    assert print_char_matrix(["", ""], ["Groups", "Corr"], [["g", ""], ["-0.80", ""]]) == [
        " Groups Corr ",
        " g      -0.80",
        "             ",
    ]


def test_print_char_matrix_wraps_wide_tables():
    cols = [["0.500"] for _ in range(14)]
    lines = print_char_matrix(["rowname"], [f"col{i:03d}" for i in range(14)], cols)
    assert all(len(line) < 80 for line in lines)
    assert len(lines) == 4


def test_print_coefmat_na_rows_and_stars():
    lines = print_coefmat(
        ["(Intercept)", "x", "z"],
        ["Estimate", "Std. Error", "t value", "Pr(>|t|)"],
        [[44.07, 3.57, NA], [0.9886, 0.3882, NA], [44.58, 9.2, NA], [1e-100, 0.03, NA]],
        digits=4,
        has_pvalue=True,
    )
    assert lines == [
        "            Estimate Std. Error t value Pr(>|t|)    ",
        "(Intercept)  44.0700     0.9886   44.58   <2e-16 ***",
        "x             3.5700     0.3882    9.20     0.03 *  ",
        "z                 NA         NA      NA       NA    ",
        "---",
        "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 "
        "\u2018.\u2019 0.1 \u2018 \u2019 1",
    ]


def test_print_coefmat_no_stars_when_all_large():
    lines = print_coefmat(
        ["a"], ["Estimate", "Std. Error", "z value", "Pr(>|z|)"], [[1.0], [2.0], [0.5], [0.6]],
        digits=4, has_pvalue=True,
    )
    assert lines == ["  Estimate Std. Error z value Pr(>|z|)", "a        1          2     0.5      0.6"]


def test_wrapping_helpers():
    assert strwrap("Generalized linear mixed model fit by maximum likelihood "
                   "(Laplace Approximation)", 78, exdent=2) == [
        "Generalized linear mixed model fit by maximum likelihood (Laplace",
        "  Approximation)",
    ]
    assert cat_fill(["a" * 70, "b" * 20]) == ["a" * 70, "b" * 20]
