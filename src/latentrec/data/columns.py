"""Id and value columns checked row by row: what each row holds, and what is wrong with it.

Owns :func:`clean_ids` (raw id cells -> int64 or text ids, surrounding whitespace
stripped, with a reason for each cell that is not an id) and :func:`numeric_values`
(a value column -> float64, with the cells that are not numbers).  They never raise
on bad cells: the caller decides whether a bad row is an error or is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as pdt

_INT64_MIN, _INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# infer_dtype results for which pd.factorize cannot merge values that mean different
# ids (it hashes True == 1 == 1.0 into one value).
_SAFE_TO_FACTORIZE = {"string", "integer", "floating", "mixed-integer-float", "empty"}

# Why a cell is not an id, in the order messages report them.
ID_PROBLEMS = (
    "missing ids",
    "empty ids",
    "boolean ids",
    "non-integral ids",
    "infinite ids",
    "ids that are not text or numbers",
)


@dataclass(frozen=True)
class IdColumn:
    """One id column, row by row.

    ``values`` is int64 when every good id is an integer that fits in 64 bits, else an
    object array of ``str``; bad rows hold a placeholder (0 or ``""``).  ``problems``
    maps each reason in :data:`ID_PROBLEMS` that occurs to ``(mask, example)``;
    ``stripped`` marks the rows whose id lost surrounding whitespace.  ``text_from`` is
    ``(row position, raw cell)`` of the first id that made a column of otherwise integer
    ids text (``"5.5"`` among whole numbers), else ``None``: ids are labels, so that is
    legal, but every id of the column is then text, which a load report should say.
    """

    values: np.ndarray
    problems: dict
    stripped: np.ndarray
    text_from: tuple | None = None

    @property
    def bad(self) -> np.ndarray:
        """Rows whose cell is not an id.

        Example:
            >>> clean_ids(pd.Series(["a", "", None])).bad.tolist()
            [False, True, True]
        """
        out = np.zeros(self.values.shape[0], dtype=bool)
        for mask, _ in self.problems.values():
            out |= mask
        return out


def clean_ids(values, *, strip: bool = True, from_text: bool = False) -> IdColumn:
    """Check and normalise one column of raw ids.

    Integers stay integers (int64; any that do not fit make the column text); text is
    kept as ``str`` with surrounding whitespace removed when ``strip``; integral floats
    are integers.  Missing values, empty text, booleans, non-integral or infinite
    floats and containers are problems, never ids.  With ``from_text`` (ids read from a
    delimited file, where every cell is text) a column whose ids all read as whole
    numbers becomes integer, as it would in pandas.

    Example:
        >>> col = clean_ids(pd.Series([" eve ", "bob", None]))
        >>> col.values.tolist(), col.stripped.tolist(), list(col.problems)
        (['eve', 'bob', ''], [True, False, False], ['missing ids'])
        >>> clean_ids(pd.Series(["7", "-3"]), from_text=True).values.tolist()
        [7, -3]
        >>> clean_ids(pd.Series(["7", "5.5", "x"]), from_text=True).text_from
        (1, '5.5')
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    series = series.reset_index(drop=True)
    n = len(series)
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        arr = series.to_numpy()
        if dtype.kind == "i" or arr.size == 0 or arr.max() <= _INT64_MAX:
            return IdColumn(arr.astype(np.int64), {}, np.zeros(n, dtype=bool))
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        fast = _float_ids(series.to_numpy())
        if fast is not None:
            return fast
    return _generic_ids(series, strip, from_text)


def _float_ids(arr: np.ndarray) -> IdColumn | None:
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(arr)
        if (np.abs(arr[finite]) >= 2.0**63).any():
            return None  # beyond int64: the generic path keeps them as text
        integral = finite & (arr == np.round(arr))
    problems = {}
    for reason, mask in (
        ("missing ids", np.isnan(arr)),
        ("non-integral ids", finite & ~integral),
        ("infinite ids", np.isinf(arr)),
    ):
        if mask.any():
            problems[reason] = (mask, arr[mask][0].item())
    out = np.where(integral, arr, 0).astype(np.int64)
    return IdColumn(out, problems, np.zeros(arr.size, dtype=bool))


def _generic_ids(series: pd.Series, strip: bool, from_text: bool) -> IdColumn:
    n = len(series)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    kind = pdt.infer_dtype(series, skipna=True) if series.dtype == object else "typed"
    codes = uniques = None
    if kind in _SAFE_TO_FACTORIZE or kind == "typed":
        try:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
        except TypeError:  # unhashable cells (lists, arrays): looked at one by one below
            codes = None
    if codes is None:
        # One key per cell; its position stands for the cell, so nothing is merged.
        codes = np.arange(n, dtype=np.int64)
        uniques = series.to_numpy(dtype=object)

    keys, problem, changed = [], [], []
    for value in list(uniques):
        key, why, was_changed = _id_key(value, strip)
        keys.append(key)
        problem.append(why)
        changed.append(was_changed)
    raw_keys = keys
    keys = _unify(keys, problem, from_text)
    # Only a text column is looked at again: which of its ids would have been integers.
    int_like = _integer_like(raw_keys, problem, from_text) if keys.dtype == object else None

    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    safe = np.where(missing, 0, codes)
    text_from = None
    if int_like is not None and keys.dtype == object:
        good = np.array([p is None for p in problem], dtype=bool)
        made_text = good & ~int_like
        if int_like.any() and made_text.any():
            rows = np.flatnonzero(made_text[safe] & ~missing)
            if rows.size:
                first = int(rows[0])
                text_from = (first, _example(series.iloc[first]))
    problems = {}
    if missing.any():
        problems["missing ids"] = (missing, None)
    if any(p is not None for p in problem):
        why = np.array([p or "" for p in problem], dtype=object)
        row_why = why[safe] if len(why) else np.empty(0, dtype=object)
        row_why = np.where(missing, "", row_why)
        for reason in ID_PROBLEMS:
            mask = row_why == reason
            if mask.any():
                first = int(np.flatnonzero(mask)[0])
                example = _example(series.iloc[first])
                old = problems.get(reason)
                problems[reason] = (mask | old[0], old[1]) if old else (mask, example)
    problems = {r: problems[r] for r in ID_PROBLEMS if r in problems}
    if len(keys):
        vals = keys[safe]  # a fresh array: fancy indexing copies
        vals[missing] = 0 if keys.dtype.kind == "i" else ""
        row_changed = np.asarray(changed, dtype=bool)[safe] & ~missing
    else:
        vals = np.zeros(n, dtype=np.int64)
        row_changed = np.zeros(n, dtype=bool)
    return IdColumn(vals, problems, row_changed, text_from)


def _integer_like(keys: list, problem: list, from_text: bool) -> np.ndarray:
    """Per key: whether it would be an integer id (an int in range, or whole-number text
    read from a file); the good keys that are not are what makes a column text."""
    out = np.zeros(len(keys), dtype=bool)
    for k, (key, p) in enumerate(zip(keys, problem, strict=True)):
        if p is not None:
            continue
        if isinstance(key, int):
            out[k] = _INT64_MIN <= key <= _INT64_MAX
        elif from_text and isinstance(key, str):
            out[k] = _text_as_ints([key]) is not None
    return out


def _example(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _id_key(value, strip: bool):
    """``(key, problem, changed)`` for one raw id cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None, "missing ids", False
    if isinstance(value, (bool, np.bool_)):
        return None, "boolean ids", False
    if isinstance(value, (int, np.integer)):
        return int(value), None, False
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None, "missing ids", False
        if np.isinf(value):
            return None, "infinite ids", False
        if value != np.round(value):
            return None, "non-integral ids", False
        return int(value), None, False
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None, "ids that are not text or numbers", False
    if isinstance(value, str):
        text = value.strip() if strip else value
        if text == "":
            return None, "empty ids", text != value
        return text, None, text != value
    if isinstance(value, (list, tuple, dict, set, frozenset, np.ndarray)):
        return None, "ids that are not text or numbers", False
    try:
        if pd.isna(value):
            return None, "missing ids", False
    except (TypeError, ValueError):
        pass
    return str(value), None, False


def _unify(keys: list, problem: list, from_text: bool) -> np.ndarray:
    """All good keys as int64 when they are all integers in range, else all as text."""
    good = [k for k, p in zip(keys, problem, strict=True) if p is None]
    ints = all(isinstance(k, int) for k in good)
    if ints and all(_INT64_MIN <= k <= _INT64_MAX for k in good):
        return (
            np.array(
                [k if p is None else 0 for k, p in zip(keys, problem, strict=True)], dtype=np.int64
            )
            if keys
            else np.zeros(0, dtype=np.int64)
        )
    if from_text and good and all(isinstance(k, str) for k in good):
        as_int = _text_as_ints(good)
        if as_int is not None:
            lookup = dict(zip(good, as_int, strict=True))
            return np.array(
                [lookup[k] if p is None else 0 for k, p in zip(keys, problem, strict=True)],
                dtype=np.int64,
            )
    out = np.empty(len(keys), dtype=object)
    for k, (key, p) in enumerate(zip(keys, problem, strict=True)):
        out[k] = "" if p is not None else str(key)
    return out


# The blanks pandas' C reader skips around a number (C's isspace within a line): a
# vertical tab or form feed as well as spaces and tabs.
_C_BLANKS = " \t\v\f"


def whole_number(text: str) -> int | None:
    """The whole number ``text`` spells as a fast numeric parser (pandas' C reader)
    reads one into an integer column, else ``None``: ASCII digits with a sign, blanks
    around, or a float that is whole and exact (``12.0``, ``1e3``).  Python's ``int``
    also takes ``1_000`` and digits of other scripts (``"١٢"``), which no such reader
    takes, so a line-by-line check built on it passed the line the fast read refused.

    Example:
        >>> [whole_number(t) for t in (" 12 ", "+5", "-3", "12.0", "1e3")]
        [12, 5, -3, 12, 1000]
        >>> [whole_number(t) for t in ("1_000", "\u0661\u0662", "0x10", "1.5", "")]
        [None, None, None, None, None]
    """
    got = _text_as_ints([text.strip(_C_BLANKS)])
    return None if got is None else got[0]


def finite_number(text: str) -> bool:
    """Whether ``text`` spells a finite number in ASCII (``4``, ``-3.5``, ``.5``,
    ``1e3``, blanks around), as a fast numeric parser reads one; ``4_5``, ``nan`` and
    ``inf`` do not, though Python's ``float`` takes them.

    Example:
        >>> [finite_number(t) for t in (" 4 ", "3.5", ".5", "4_5", "nan", "inf", "4,5")]
        [True, True, True, False, False, False, False]
    """
    text = text.strip(_C_BLANKS)
    return bool(_FLOAT_TEXT.fullmatch(text)) and bool(np.isfinite(float(text)))


def _text_as_ints(texts: list) -> list | None:
    """Whole numbers read from text ("12", "-3", "4.0", "1e3"), or ``None``.

    Integer text is read exactly; float text only where a float holds it exactly
    (below 2**53), so that no id turns into a neighbouring one.
    """
    out = []
    for t in texts:
        if _INT_TEXT.fullmatch(t):
            value = int(t)
        elif _FLOAT_TEXT.fullmatch(t):
            f = float(t)
            # Below 2**53, not up to it: "9007199254740993.0" rounds to 2**53 itself,
            # which read as 9007199254740992, another id.
            if not (np.isfinite(f) and f == round(f) and abs(f) < 2.0**53):
                return None
            value = int(f)
        else:
            return None
        if not _INT64_MIN <= value <= _INT64_MAX:
            return None
        out.append(value)
    return out


def numeric_values(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, not_numeric)``: the column as float64, and the cells that are no number.

    Missing cells are NaN and are not counted as non-numeric; numeric text counts as a
    number.

    Example:
        >>> nums, bad = numeric_values(pd.Series([4, "3.5", None, "five"], dtype=object))
        >>> nums.tolist()[:2], bad.tolist()
        ([4.0, 3.5], [False, False, False, True])
    """
    raw = values.reset_index(drop=True)
    isna = raw.isna().to_numpy(dtype=bool)
    nums = None
    if isinstance(raw.dtype, pd.CategoricalDtype):
        raw = raw.astype(object)
    if pdt.is_bool_dtype(raw.dtype):
        nums = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    elif not pdt.is_complex_dtype(raw.dtype):
        try:
            converted = pd.to_numeric(raw, errors="coerce")
            if not pdt.is_complex_dtype(converted.dtype):
                nums = converted.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError, OverflowError):
            nums = None
    if nums is None:
        nums = np.array([_float_or_nan(v) for v in raw.to_numpy(dtype=object)], dtype=np.float64)
    nums = np.asarray(nums, dtype=np.float64)
    if nums.shape != (len(raw),):  # pragma: no cover - defensive: a column, not a table
        raise TypeError("expected one value per row")
    return nums, np.isnan(nums) & ~isna


def _float_or_nan(value) -> float:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (complex, np.complexfloating)):
        return np.nan
    if isinstance(value, str):
        # float() also reads "1_0" and non-ASCII digits; pandas (and the main path) do not.
        text = value.strip()
        if not (_FLOAT_TEXT.fullmatch(text) or text.lower().lstrip("+-") in ("inf", "infinity")):
            return np.nan
        return float(text)
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return np.nan
