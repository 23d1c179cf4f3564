"""Evaluate formula variables on data, as R's ``model.frame`` does, without ``eval``.

Each variable of a formula (``x``, ``log(x + 1)``, ``factor(g)``, ``poly(x, 2)``,
``scale(x)``) is evaluated from its syntax tree by a small interpreter that knows only the
whitelisted functions. Stateful transforms remember what they learnt from the fitting data
in a ``state`` dict keyed by the variable's R label, so that new data is transformed the
same way (factor levels, ``scale`` centre and spread, ``poly`` recurrence coefficients), as
R's ``makepredictcall`` does.

Factors
    pandas Categorical keeps its category order; bool gives levels ``FALSE``/``TRUE``;
    numbers sort numerically and print as R prints them (``"1"``, ``"10"``, ``"1.5"``);
    text sorts as plain Python ``sorted`` (R's C-locale ``sort``).
"""
from __future__ import annotations

import difflib
import math
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataError, two_line
from multilevel.formula.check import FACTOR_FUNCTIONS
from multilevel.formula.nodes import BinOp, Call, Name, Node, Num, Paren, Str, Unary, deparse

__all__ = ["Columns", "NumVar", "FacVar", "column", "column_values", "eval_numeric",
           "eval_factor", "eval_variable", "hash_text", "is_factor_node", "is_ordered",
           "r_label", "names_in", "text_codes"]


@dataclass
class NumVar:
    """A numeric variable: ``values`` (n, k) and column suffixes (``[""]`` or ``["1", "2"]``)."""

    values: np.ndarray
    suffixes: list[str]

    @property
    def na(self) -> np.ndarray:
        return np.isnan(self.values).any(axis=1)


@dataclass
class FacVar:
    """A factor: ``codes`` (n,), -1 for NA, into ``levels`` (list of str).

    ``ordered`` is True for an ordered factor (a pandas Categorical with ``ordered=True``
    or ``ordered(x)``), which R codes with ``contr.poly``.
    """

    codes: np.ndarray
    levels: list[str]
    ordered: bool = False

    @property
    def na(self) -> np.ndarray:
        return self.codes < 0


class Columns:
    """A data frame seen through a cache of its columns: each column is taken out once.

    ``df[name]`` builds a new Series on every call (~15 us, more for a fresh frame), and
    building a design reads each model column several times (checks, type tests, values).
    The evaluators here need only ``len(df)``, ``df.columns`` (membership, listing) and
    ``df[name]``, which this view provides; ``frame`` is the DataFrame itself.
    :meth:`values` gives a column's stored array without building a Series at all (~1 us),
    which is all the type tests, numeric columns and Categorical codes need.

    Examples
    --------
    >>> cols = Columns(pd.DataFrame({"x": [1.0, 2.0]}))
    >>> len(cols), "x" in cols.columns, cols["x"] is cols["x"]
    (2, True, True)
    >>> cols.values("x")
    array([1., 2.])
    """

    __slots__ = ("frame", "columns", "memo", "_series", "_values", "_n")

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.columns = frame.columns
        self.memo: dict = {}  # what the design derives from a column once (factor codes)
        self._series: dict = {}
        self._values: dict = {}
        self._n = len(frame)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name) -> pd.Series:
        s = self._series.get(name)
        if s is None:
            s = self._series[name] = self.frame[name]
        return s

    def values(self, name):
        """The column's values as stored: a numpy array or a pandas ExtensionArray (a
        Categorical, an Arrow-backed string array, ...); read only, never written to.

        Examples
        --------
        >>> cols = Columns(pd.DataFrame({"g": pd.Categorical(["b", "a"]), "x": [1, 2]}))
        >>> cols.values("g").codes.tolist(), cols.values("x").tolist()
        ([1, 0], [1, 2])
        """
        a = self._values.get(name)
        if a is None:
            s = self._series.get(name)
            a = self._values[name] = (_frame_values(self.frame, name) if s is None
                                      else _stored_values(s))
        return a


def _stored_values(s: pd.Series):
    """What a Series stores: its numpy array (a view), or its ExtensionArray."""
    return s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array


def _frame_values(frame: pd.DataFrame, name):
    """A frame's column as stored, without the Series ``frame[name]`` would build.

    ``DataFrame._get_column_array`` (pandas >= 1.4) hands out the block's values for a
    position; the Series route is taken where it is missing or `name` is not one position."""
    get = getattr(frame, "_get_column_array", None)
    if get is not None:
        loc = frame.columns.get_loc(name)
        if isinstance(loc, (int, np.integer)):
            return get(int(loc))
    return _stored_values(column(frame, name))


def column_values(df, name: str, role: str = ""):
    """The values of column `name` as stored (see :meth:`Columns.values`), or the
    DataError of :func:`column`.

    Examples
    --------
    >>> column_values(pd.DataFrame({"g": pd.Categorical(["b", "a"])}), "g").codes.tolist()
    [1, 0]
    """
    if isinstance(df, Columns) and name in df.columns:
        return df.values(name)
    return _stored_values(column(df, name, role))


def r_label(v) -> str:
    """A value as R's ``as.character`` prints it (15 significant digits for doubles).

    Examples
    --------
    >>> [r_label(v) for v in [1, 10.0, 1.5, True, "a", 0.1 + 0.2]]
    ['1', '10', '1.5', 'TRUE', 'a', '0.3']
    """
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return format(f, ".15g")
    return str(v)


def names_in(node: Node | None) -> list[str]:
    """Column names used in a node, in order of appearance (internal)."""
    out: list[str] = []

    def walk(n):
        if isinstance(n, Name):
            if n.id not in ("TRUE", "FALSE", "T", "F") and n.id not in out:
                out.append(n.id)
        elif isinstance(n, Call):
            for i, a in enumerate(n.args):
                if not ((n.func == "poly" and a.name == "raw")
                        or (n.func == "C" and i > 0)):  # C(f, sum): a contrast's name
                    walk(a.value)
        elif isinstance(n, Paren):
            walk(n.expr)
        elif isinstance(n, Unary):
            walk(n.operand)
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)

    walk(node)
    return out


def column(df: pd.DataFrame, name: str, role: str = "") -> pd.Series:
    """The column `name` of `df`, or a DataError suggesting the closest names.

    Examples
    --------
    >>> column(pd.DataFrame({"homework": [1]}), "homewrk")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: column 'homewrk' not found in the data
      How to fix: did you mean 'homework'? The data has columns: homework
    >>> column(pd.DataFrame([[1, 2]], columns=["x", "x"]), "x")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: the data has 2 columns named 'x'
      How to fix: give every column a distinct name (df.columns = [...]) before fitting
    """
    if name in df.columns:
        s = df[name]
        if isinstance(s, pd.DataFrame):  # a label used twice (newdata, say: fits check it)
            raise DataError(two_line(
                f"the data has {s.shape[1]} columns named {name!r}",
                "give every column a distinct name (df.columns = [...]) before fitting"))
        return s
    cols = [str(c) for c in df.columns]
    close = difflib.get_close_matches(name, cols, n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
    shown = ", ".join(cols[:20]) + (", ..." if len(cols) > 20 else "")
    raise DataError(two_line(f"{role}column {name!r} not found in the data",
                             f"{hint}The data has columns: {shown}"))


def _is_factor_dtype(dt) -> bool:
    """Whether a column of this dtype is a factor (R: factor, character or logical)."""
    if isinstance(dt, np.dtype):  # numpy: bool, object, text (the pandas tests' answers)
        return dt.kind in "bOSU"
    return (isinstance(dt, (pd.CategoricalDtype, pd.StringDtype)) or pd.api.types.is_bool_dtype(dt)
            or pd.api.types.is_string_dtype(dt) or dt == object)


def is_factor_node(node: Node, df: pd.DataFrame) -> bool:
    """Whether a term-level variable is a factor (R: factor, character or logical)."""
    if isinstance(node, Call):
        return node.func in FACTOR_FUNCTIONS
    if isinstance(node, Name):
        return _is_factor_dtype(column_values(df, node.id).dtype)
    return False


def _numeric_values(a, name: str) -> np.ndarray:
    """A column's stored values (:func:`column_values`) as a new float array, NaN for NA,
    or the DataError for text and factors.

    Examples
    --------
    >>> _numeric_values(pd.array([1, None], dtype="Int64"), "k").tolist()
    [1.0, nan]
    """
    dt = a.dtype
    if isinstance(dt, np.dtype) and dt.kind in "fiub":  # numpy-backed: no pd.NA
        return np.array(a, dtype=float)  # a copy (~15 us less than with na_value)
    if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
        values = pd.Series(a, copy=False) if isinstance(a, np.ndarray) else a
        return values.to_numpy(dtype=float, na_value=np.nan)
    raise DataError(two_line(
        f"column {name!r} is text or a factor, but is used as a number",
        f"use factor({name}) as a term, or convert the column to numbers"))


def _numeric_column(s: pd.Series, name: str) -> np.ndarray:
    """:func:`_numeric_values` of a Series' values."""
    return _numeric_values(_stored_values(s), name)


def _fsum_mean(x: np.ndarray) -> float:
    return math.fsum(x) / len(x)


def _poly_fit(x: np.ndarray, degree: int) -> tuple[np.ndarray, list[float], list[float]]:
    """R's ``poly(x, degree)``: orthonormal columns, recurrence ``alpha``, ``norm2``."""
    xbar = _fsum_mean(x)
    xc = x - xbar
    X = np.vander(xc, degree + 1, increasing=True)
    q, r = np.linalg.qr(X)
    Z = q * np.diag(r)
    norm2 = (Z ** 2).sum(axis=0)
    alpha = ((xc[:, None] * Z ** 2).sum(axis=0) / norm2 + xbar)[:degree]
    norm2 = np.concatenate([[1.0], norm2])
    Z = Z / np.sqrt(norm2[1:])
    return Z[:, 1:], alpha.tolist(), norm2.tolist()


def _poly_predict(x: np.ndarray, degree: int, alpha, norm2) -> np.ndarray:
    Z = np.ones((len(x), degree + 1))
    Z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        Z[:, i + 1] = (x - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
    Z = Z / np.sqrt(np.asarray(norm2[1:]))
    return Z[:, 1:]


def _poly(node: Call, df, state, fit) -> NumVar:
    x = eval_numeric(node.args[0].value, df, state, fit)
    pos = [a for a in node.args if a.name is None]
    kw = {a.name: a.value for a in node.args if a.name}
    dnode = pos[1].value if len(pos) > 1 else kw.get("degree", Num("1"))
    raw_node = kw.get("raw")
    raw = isinstance(raw_node, Name) and raw_node.id in ("TRUE", "T")
    if not isinstance(dnode, Num) or dnode.value < 1 or not float(dnode.value).is_integer():
        raise DataError(two_line(f"{deparse(node)}: the degree must be a whole number >= 1",
                                 "write e.g. poly(x, 2)"))
    d = int(dnode.value)
    suffixes = [str(i) for i in range(1, d + 1)]
    if raw:
        return NumVar(np.column_stack([x ** i for i in range(1, d + 1)]), suffixes)
    key = deparse(node)
    if np.isnan(x).any():
        raise DataError(two_line(f"{key}: the variable has missing values, which R's poly() "
                                 "does not allow", "remove the rows with missing values first"))
    if fit:
        if len(np.unique(x)) <= d:
            raise DataError(two_line(f"{key}: the degree must be less than the number of "
                                     "unique points", "lower the degree"))
        Z, alpha, norm2 = _poly_fit(x, d)
        state[key] = ("poly", alpha, norm2)
        return NumVar(Z, suffixes)
    _, alpha, norm2 = state[key]
    return NumVar(_poly_predict(x, d, alpha, norm2), suffixes)


def _dummy(node: Call, df, state, fit) -> NumVar:
    """lme4's ``dummy(f, levelsToKeep)``: indicator columns of the kept levels of ``f``
    (all but the first by default); one column is named by the call alone, several by the
    call and the level, as R's ``model.matrix`` names a matrix variable."""
    key = deparse(node)
    codes, labels, _ = _factor_values(node.args[0].value, df, state, fit)
    if fit:
        keep_node = next((a.value for a in node.args[1:]), None)
        if keep_node is None:
            kept = labels[1:]
        else:
            kept = ([keep_node.text[1:-1]] if isinstance(keep_node, Str)
                    else [r_label(keep_node.value)] if isinstance(keep_node, Num) else [])
        if not kept or not all(k in labels for k in kept):
            raise DataError(two_line(f"{key}: all of the levelsToKeep must be levels of the "
                                     f"factor (levels: {labels[:10]})",
                                     "name a level of the factor, e.g. dummy(f, \"b\")"))
        state[key] = ("dummy", list(labels), kept)
    else:
        _, fitted, kept = state[key]
        index = {lab: i for i, lab in enumerate(fitted)}
        table = np.array([index.get(lab, -1) for lab in labels] + [-1], dtype=np.int64)
        codes = table[np.where(codes >= 0, codes, len(labels))]
        labels = list(fitted)
    cols = np.column_stack([(codes == labels.index(k)).astype(float) for k in kept])
    cols[codes < 0] = np.nan
    return NumVar(cols, [""] if len(kept) == 1 else list(kept))


def eval_numeric(node: Node, df: pd.DataFrame, state: dict, fit: bool) -> np.ndarray:
    """Evaluate an arithmetic expression to a float vector (NaN for NA).

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 4.0]})
    >>> eval_numeric(parse_tree("~ I(x^2) + 1").rhs.left, df, {}, True)
    array([ 1.,  4., 16.])
    """
    n = len(df)
    if isinstance(node, Name):
        if node.id in ("TRUE", "T"):
            return np.ones(n)
        if node.id in ("FALSE", "F"):
            return np.zeros(n)
        return _numeric_values(column_values(df, node.id), node.id)
    if isinstance(node, Num):
        return np.full(n, node.value)
    if isinstance(node, Paren):
        return eval_numeric(node.expr, df, state, fit)
    if isinstance(node, Unary):
        v = eval_numeric(node.operand, df, state, fit)
        return -v if node.op == "-" else v
    if isinstance(node, BinOp):
        a = eval_numeric(node.left, df, state, fit)
        b = eval_numeric(node.right, df, state, fit)
        with np.errstate(all="ignore"):
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            if node.op == "/":
                return a / b
            if node.op == "^":
                return np.power(a, b)
        raise AssertionError(node.op)
    if isinstance(node, Call):
        return _numeric_call(node, df, state, fit)
    raise AssertionError(node)


_ELEMENTWISE = {"log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp,
                "sqrt": np.sqrt, "abs": np.abs}


def _numeric_call(node: Call, df, state, fit) -> np.ndarray:
    f = node.func
    arg = node.args[0].value if node.args else None
    if f == "I":
        return eval_numeric(arg, df, state, fit)
    if f in _ELEMENTWISE:
        with np.errstate(all="ignore"):
            return _ELEMENTWISE[f](eval_numeric(arg, df, state, fit))
    if f == "log":
        x = eval_numeric(arg, df, state, fit)
        base = [a.value for a in node.args[1:]]
        with np.errstate(all="ignore"):
            out = np.log(x)
            return out / np.log(eval_numeric(base[0], df, state, fit)) if base else out
    if f == "as.numeric":
        if isinstance(arg, Name):
            s = column(df, arg.id)
            if isinstance(s.dtype, pd.CategoricalDtype):  # R: the factor's integer codes
                codes = s.cat.codes.to_numpy()
                return np.where(codes < 0, np.nan, codes + 1.0)
        return eval_numeric(arg, df, state, fit)
    if f in ("scale", "center"):
        x = eval_numeric(arg, df, state, fit)
        key = deparse(node)
        if fit:
            ok = x[~np.isnan(x)]
            c = _fsum_mean(ok) if len(ok) else np.nan
            s = (math.sqrt(math.fsum((ok - c) ** 2) / max(1, len(ok) - 1))
                 if f == "scale" else 1.0)
            state[key] = (f, c, s)
        _, c, s = state[key]
        return (x - c) / s if f == "scale" else x - c
    if f in FACTOR_FUNCTIONS:
        raise DataError(two_line(f"{deparse(node)} is a factor and cannot be used in arithmetic",
                                 "use factors only as terms of the formula"))
    raise DataError(two_line(f"{f}() cannot be used here", "see the allowed functions"))


def _factor_values(node: Node, df: pd.DataFrame, state, fit):
    """(codes over `uniq`, uniq natively sorted / in category order, drop_unused)."""
    drop = False
    inner = node
    if isinstance(node, Call):
        drop = node.func in ("factor", "ordered")
        inner = node.args[0].value
    if isinstance(inner, Name):
        a = column_values(df, inner.id)  # no Series for Categoricals, integers and text
        dt = a.dtype
        if isinstance(dt, pd.CategoricalDtype):  # no .cat accessor (~60 us)
            return a.codes.astype(np.int64), _category_labels(dt.categories), drop
        if isinstance(a, np.ndarray) and dt.kind in "iu":
            hit = _integer_codes(np.asarray(a, dtype=np.int64))
            if hit is not None:
                return hit
        coded = None
        if dt == object or isinstance(dt, pd.StringDtype):  # text: neither bool nor dates
            coded = text_codes(df, inner.id)  # hashed once per design (shared with checks)
        elif pd.api.types.is_bool_dtype(dt):
            s = column(df, inner.id)
            na = s.isna().to_numpy()
            vals = s.fillna(False).astype(bool).to_numpy().astype(np.int64)
            return np.where(na, -1, vals), ["FALSE", "TRUE"], drop
        elif (pd.api.types.is_datetime64_any_dtype(dt) or pd.api.types.is_timedelta64_dtype(dt)
              or isinstance(dt, pd.PeriodDtype)):  # dates as levels ("2020-01-31")
            s = column(df, inner.id)
            coded = hash_text(_stored_values(s.astype(str).where(s.notna())))  # text, NA kept
        elif _is_factor_dtype(dt):
            coded = text_codes(df, inner.id)
        if coded is not None:
            return (*_sorted_text_codes(coded), drop)
        s = column(df, inner.id)
        if pd.api.types.is_integer_dtype(s.dtype) and (
                isinstance(s.dtype, np.dtype) or not s.hasnans):  # numpy ints have no NA
            hit = _integer_codes(s.to_numpy(dtype=np.int64))
            if hit is not None:
                return hit
        x = _numeric_column(s, inner.id)
    else:
        x = eval_numeric(inner, df, state, fit)
    na = np.isnan(x)
    inv, uniq = pd.factorize(x[~na], sort=True)  # hashing: O(n), unlike np.unique's sort
    codes = np.full(len(x), -1, dtype=np.int64)
    codes[~na] = inv
    integer = isinstance(inner, Name) and pd.api.types.is_integer_dtype(column(df, inner.id))
    if integer:
        labels = [str(int(u)) for u in uniq]
    else:
        labels = [r_label(float(u)) for u in uniq]
    return codes, labels, True


def _sorted_text_codes(coded: tuple) -> tuple[np.ndarray, list[str]]:
    """Codes over the sorted text of the distinct values, -1 for NA, from
    :func:`hash_text`'s ``(na, inv, distinct)``: only the distinct values are sorted and
    labelled, then mapped back to the rows.

    Examples
    --------
    >>> codes, uniq = _sorted_text_codes(hash_text(np.array(["b", None, "a", "b"], dtype=object)))
    >>> codes.tolist(), uniq
    ([1, -1, 0, 1], ['a', 'b'])
    """
    na, inv, distinct = coded
    text = [str(v) for v in distinct]
    uniq = sorted(set(text))
    index = {u: i for i, u in enumerate(uniq)}
    remap = np.array([index[t] for t in text], dtype=np.int64)
    if na is None:
        return remap[inv], uniq
    codes = np.full(len(na), -1, dtype=np.int64)
    codes[~na] = remap[inv]
    return codes, uniq


def text_codes(df, name: str) -> tuple:
    """:func:`hash_text` of the column `name`, worked out once per design when `df` is a
    :class:`Columns` view (the data checks and the factor coding both need it).

    Examples
    --------
    >>> na, inv, distinct = text_codes(pd.DataFrame({"g": ["b", None, "a", "b"]}), "g")
    >>> na.tolist(), inv.tolist(), list(distinct)
    ([False, True, False, False], [0, 1, 0], ['b', 'a'])
    """
    memo = df.memo if isinstance(df, Columns) else None
    key = ("text", name)
    hit = memo.get(key) if memo is not None else None
    if hit is None:
        hit = hash_text(column_values(df, name))
        if memo is not None:
            memo[key] = hit
    return hit


def _arrow_text(dt) -> bool:
    """Whether values of this dtype are Arrow strings (pandas' ``str``/``string[pyarrow]``,
    ``ArrowDtype(pa.string())``)."""
    if isinstance(dt, pd.StringDtype):
        return dt.storage == "pyarrow"
    if isinstance(dt, pd.ArrowDtype):
        import pyarrow as pa

        t = dt.pyarrow_dtype
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    return False


def hash_text(a) -> tuple:
    """``(na, inv, distinct)`` of text or object values, hashed once: ``na`` flags the NA
    rows (None when there are none), ``distinct`` holds the distinct other values in order
    of first appearance (as ``pd.factorize`` gives them; a list or an object array) and
    ``inv`` each other row's position in it (an integer array).

    Arrow strings are dictionary-encoded by Arrow (its dictionary is also in order of first
    appearance; UTF-8 bytes are equal exactly when the strings are), so no Python string is
    made per row; other values are hashed by ``pd.factorize``, whose NA rows are those of
    ``isna``.

    Examples
    --------
    >>> na, inv, distinct = hash_text(np.array(["x", 1, None, "x"], dtype=object))
    >>> na.tolist(), inv.tolist(), list(distinct)
    ([False, False, True, False], [0, 1, 0], ['x', 1])
    """
    if _arrow_text(a.dtype):
        arr = a.__arrow_array__()
        if hasattr(arr, "combine_chunks"):  # a ChunkedArray: one Array
            arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
        enc = arr.dictionary_encode()
        distinct = enc.dictionary.to_pylist()  # strings only: a list serves
        idx = enc.indices  # int32 positions (they only index arrays below)
        if idx.null_count:
            import pyarrow.compute as pc

            codes = pc.fill_null(idx, -1).to_numpy()
        else:
            return None, idx.to_numpy(), distinct
    else:
        obj = np.asarray(a, dtype=object) if isinstance(a, np.ndarray) else a.to_numpy(
            dtype=object)
        codes, distinct = pd.factorize(obj)  # NA (isna's None, NaN, pd.NA, NaT) -> -1
    na = codes < 0
    if not na.any():
        return None, codes, distinct
    return na, codes[~na], distinct


def _integer_codes(v: np.ndarray):
    """(codes, labels, True) of integer values in O(n) (bincount), or None when their
    range is too wide for that (then they are hashed as numbers)."""
    lo = int(v.min()) if len(v) else 0
    if len(v) and int(v.max()) - lo < 4 * len(v) + 1_000_000:
        present = np.bincount(v - lo) > 0  # integer codes in O(n)
        remap = np.cumsum(present) - 1
        uniq = np.flatnonzero(present) + lo
        return remap[v - lo], [str(u) for u in uniq.tolist()], True
    return None


#: id(categories Index) -> (weak reference to it, its labels): a factor's labels are
#: worked out once per Categorical dtype, not on every fit (an Index is immutable).
_LABELS: dict[int, tuple] = {}


def _category_labels(categories: pd.Index) -> list[str]:
    """R's labels of a Categorical's categories (:func:`r_label` of each), cached for the
    categories' lifetime; a new list each call."""
    key = id(categories)
    hit = _LABELS.get(key)
    if hit is not None and hit[0]() is categories:
        return list(hit[1])
    labels = _label_categories(categories)
    try:
        ref = weakref.ref(categories, lambda _, key=key: _LABELS.pop(key, None))
    except TypeError:  # not weakly referenceable: not cached
        return labels
    if len(_LABELS) >= 1024:
        _LABELS.clear()
    _LABELS[key] = (ref, labels)
    return list(labels)


def _label_categories(categories: pd.Index) -> list[str]:
    """:func:`r_label` of each category, in one pass for text and integer categories."""
    dt = categories.dtype
    if isinstance(dt, pd.StringDtype) and not categories.hasnans:
        return categories.to_numpy(dtype=object).tolist()  # ~3x tolist() for Arrow strings
    if isinstance(dt, np.dtype) and dt.kind in "iu":
        return [str(v) for v in categories.tolist()]
    return [r_label(c) for c in categories]


def is_ordered(node: Node, df: pd.DataFrame) -> bool:
    """Whether a factor variable is ordered (R's ``is.ordered``).

    Examples
    --------
    >>> df = pd.DataFrame({"t": pd.Categorical(["lo", "hi"], ["lo", "hi"], ordered=True)})
    >>> is_ordered(Name("t"), df), is_ordered(Call("ordered", ()), df)
    (True, True)
    """
    if isinstance(node, Call):
        if node.func in ("ordered", "as.ordered"):
            return True
        if node.func not in ("factor", "as.factor") or not node.args:
            return False
        node = node.args[0].value
    if isinstance(node, Name) and node.id in df.columns:
        dt = column_values(df, node.id).dtype
        return isinstance(dt, pd.CategoricalDtype) and bool(dt.ordered)
    return False


def eval_factor(node: Node, df: pd.DataFrame, state: dict, fit: bool) -> FacVar:
    """Evaluate a factor variable; at predict time map onto the fitted levels.

    At fit time the levels are stored in ``state[label]``; for new data, values not among
    them get code ``-2`` (NA stays ``-1``).

    Examples
    --------
    >>> from multilevel.formula.nodes import Name
    >>> eval_factor(Name("g"), pd.DataFrame({"g": [10, 2, 2]}), {}, True).levels
    ['2', '10']
    """
    codes, labels, drop = _factor_values(node, df, state, fit)
    key = deparse(node)
    if fit:
        if drop:  # factor(): unused levels go (on the data as given)
            used = np.unique(codes[codes >= 0])
            remap = np.full(len(labels), -1, dtype=np.int64)
            remap[used] = np.arange(len(used))
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
            labels = [labels[i] for i in used]
        state[key] = ("factor", labels)
        return FacVar(codes, list(labels), is_ordered(node, df))
    fitted = state[key][1]
    index = {lab: i for i, lab in enumerate(fitted)}
    table = np.array([index.get(lab, -2) for lab in labels] + [-1], dtype=np.int64)
    return FacVar(table[np.where(codes >= 0, codes, len(labels))], list(fitted))


def eval_variable(node: Node, df: pd.DataFrame, state: dict, fit: bool) -> NumVar | FacVar:
    """Evaluate a term-level variable: a factor, ``poly()`` or a numeric expression.

    Examples
    --------
    >>> from multilevel.formula.parser import parse_tree
    >>> v = eval_variable(parse_tree("~poly(x, 2)").rhs, pd.DataFrame({"x": [1., 2, 3, 5]}),
    ...                   {}, True)
    >>> v.values.shape, v.suffixes
    ((4, 2), ['1', '2'])
    """
    if is_factor_node(node, df) if fit else state.get(deparse(node), ("",))[0] == "factor":
        return eval_factor(node, df, state, fit)
    if isinstance(node, Call) and node.func == "poly":
        return _poly(node, df, state, fit)
    if isinstance(node, Call) and node.func == "dummy":
        return _dummy(node, df, state, fit)
    return NumVar(eval_numeric(node, df, state, fit)[:, None], [""])
