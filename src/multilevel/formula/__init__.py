"""lme4 formula syntax: tokenizer, parser, whitelist and lme4's findbars/nobars.

Pure Python: nothing here imports numpy or touches data.

Examples
--------
>>> from multilevel.formula import parse
>>> str(parse("y ~ x + (x | g)"))
'y ~ x + (x | g)'
"""
from multilevel.formula.check import ALLOWED_FUNCTIONS
from multilevel.formula.terms import Formula, RandomTerm, deparse_lme4, parse

__all__ = ["ALLOWED_FUNCTIONS", "Formula", "RandomTerm", "deparse_lme4", "parse"]
