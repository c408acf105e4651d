"""Every reader and constructor fuzzed: an input loads exactly, or is refused clearly.

For each generated input the outcome is one of two:

- it loads, and then ``loaded + merged + rejected == read``, the rejected rows are
  exactly the bad ones, and the stored cells equal a slow reference built row by row
  with plain Python dicts;
- it raises a latentrec ``DataError`` (or ``UnknownIdError``) whose message names the
  line (files) or row (frames, arrays, matrices) and the column at fault.

Any other exception (a raw NumPy, pandas, csv or pyarrow error) fails the test.  Each
test counts the inputs it tried and prints the count (run with ``-s`` to see it).
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentrec.data import DataError, Interactions, UnknownIdError

TRIED: Counter = Counter()
OUTCOMES: Counter = Counter()
FAST = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NA_TEXT = {
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
}
INT64 = (-(2**63), 2**63 - 1)
F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).smallest_subnormal)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INF = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)


@pytest.fixture(scope="module", autouse=True)
def _print_summary():
    yield
    parts = [
        f"{name}: {n} ({OUTCOMES[name, 'loaded']} loaded, {OUTCOMES[name, 'refused']} refused)"
        for name, n in sorted(TRIED.items())
    ]
    print(f"\nreader fuzz tried {sum(TRIED.values())} inputs: " + "; ".join(parts))


def _finish(name: str, at_least: int) -> None:
    print(f"\n{name}: tried {TRIED[name]} inputs ({OUTCOMES[name, 'loaded']} loaded)")
    assert TRIED[name] >= at_least
    assert OUTCOMES[name, "loaded"] > 0, f"{name}: no input loaded; the fuzz is too harsh"


# ---------------------------------------------------------------------- the reference
def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _ref_id(v, strip: bool):
    """(key, None) for an id, (None, reason) for a cell that is not one."""
    if isinstance(v, np.generic):
        v = v.item()
    if _is_missing(v):
        return None, "missing"
    if isinstance(v, bool):
        return None, "boolean"
    if isinstance(v, int):
        return v, None
    if isinstance(v, float):
        if math.isinf(v) or v != math.floor(v):
            return None, "not whole"
        return int(v), None
    if isinstance(v, str):
        text = v.strip() if strip else v
        return (None, "empty") if text == "" else (text, None)
    raise AssertionError(f"the fuzz made an id of type {type(v)}")


def _whole_number(text: str):
    if re.fullmatch(r"[+-]?[0-9]+", text, re.ASCII):
        return int(text)
    if _NUMBER.fullmatch(text):
        f = float(text)
        if math.isfinite(f) and f == math.floor(f) and abs(f) <= 2**53:
            return int(f)
    return None


def _ref_ids(cells: list, strip: bool, from_text: bool):
    """Keys (int or str) per row, with the reason a row's cell is not an id."""
    got = [_ref_id(v, strip) for v in cells]
    good = [k for k, why in got if why is None]
    if all(isinstance(k, int) for k in good) and all(INT64[0] <= k <= INT64[1] for k in good):
        return got
    if from_text and good:
        nums = [_whole_number(k) for k in good]
        if all(n is not None and INT64[0] <= n <= INT64[1] for n in nums):
            table = dict(zip(good, nums, strict=True))
            return [(table[k], None) if why is None else (k, why) for k, why in got]
    return [(str(k), None) if why is None else (k, why) for k, why in got]


def _ref_number(v, from_text: bool):
    """(value, None) or (None, reason) for one rating or timestamp cell."""
    if isinstance(v, np.generic):
        v = v.item()
    if from_text and isinstance(v, str) and v.strip() in NA_TEXT:
        return None, "missing"
    if _is_missing(v):
        return None, "missing"
    if isinstance(v, (bool, int, float)):
        x = float(v)
    elif isinstance(v, str):
        t = v.strip()
        if _NUMBER.fullmatch(t):
            x = float(t)
        elif _INF.fullmatch(t):
            x = float(t)
        else:
            return None, "not a number"
    else:
        raise AssertionError(f"the fuzz made a value of type {type(v)}")
    if not math.isfinite(x):
        return None, "missing or infinite"
    return x, None


class Reference:
    """What loading rows should give, computed row by row with dicts."""

    def __init__(
        self,
        users,
        items,
        values,
        stamps,
        *,
        strip,
        from_text,
        policy,
        on_bad,
        scale=None,
        bad_fields=(),
    ):
        n = len(users)
        self.n = n
        # A row with the wrong number of fields has no cells to read: its ids take no
        # part in deciding whether a column is integer.
        users = [None if p in bad_fields else v for p, v in enumerate(users)]
        items = [None if p in bad_fields else v for p, v in enumerate(items)]
        uid = _ref_ids(users, strip, from_text)
        iid = _ref_ids(items, strip, from_text)
        self.bad = {}
        for pos in bad_fields:
            self.bad[pos] = "fields"
        for pos in range(n):
            if pos in self.bad:
                continue
            why = uid[pos][1] or iid[pos][1]
            if why is None and values is not None:
                x, why = _ref_number(values[pos], from_text)
                if why is None and abs(x) > F32_MAX:
                    why = "too large"
                if why is None and x != 0 and abs(x) < F32_TINY:
                    why = "too small"  # float32 would store 0
                if why is None and scale is not None and not scale[0] <= x <= scale[1]:
                    why = "scale"
            if why is None and stamps is not None:
                why = _ref_number(stamps[pos], from_text)[1]
            if why is not None:
                self.bad[pos] = why
        self.good = [p for p in range(n) if p not in self.bad]
        groups: dict = {}
        for p in self.good:
            val = 1.0 if values is None else _ref_number(values[p], from_text)[0]
            ts = None if stamps is None else _ref_number(stamps[p], from_text)[0]
            groups.setdefault((uid[p][0], iid[p][0]), []).append((p, val, ts))
        self.groups = groups
        self.fails = None
        if policy == "sum" and scale is not None and values is not None:
            # Sums of ratings leave the scale: the pair of options is refused first.
            self.fails = "sum on a scale"
        elif on_bad == "error" and self.bad:
            self.fails = "bad rows"
        elif not self.good:
            self.fails = "no rows"
        elif policy == "error" and any(len(g) > 1 for g in groups.values()):
            self.fails = "duplicates"
        self.cells = {}
        if self.fails is None:
            for key, rows in groups.items():
                vals = [v for _, v, _ in rows]
                if policy == "last":
                    last = max(rows, key=lambda r: (r[2] if r[2] is not None else 0.0, r[0]))
                    merged = last[1]
                elif policy == "sum":
                    merged = sum(vals)
                else:
                    merged = sum(vals) / len(vals)
                with np.errstate(over="ignore"):  # an overflow is checked just below
                    self.cells[key] = float(np.float32(merged))
            if any(math.isinf(v) for v in self.cells.values()):
                self.fails = "overflow"

    @property
    def merged(self) -> int:
        return len(self.good) - len(self.groups)


def _as_python(key):
    return key.item() if isinstance(key, np.generic) else key


def _stored_cells(data: Interactions) -> dict:
    users = [_as_python(u) for u in data.users.ids]
    items = [_as_python(i) for i in data.items.ids]
    return {
        (users[u], items[i]): float(r)
        for u, i, r in zip(data.user_idx, data.item_idx, data.ratings, strict=True)
    }


def _check(name: str, call, ref: Reference, labels: list, *, names: tuple, unit: str):
    """Run ``call``; the result must be exactly ``ref``, or a clear refusal."""
    TRIED[name] += 1
    try:
        data = call()
    except (DataError, UnknownIdError) as err:
        OUTCOMES[name, "refused"] += 1
        msg = str(err)
        assert ref.fails is not None, f"refused an input that should load: {msg}"
        if ref.fails == "sum on a scale":
            assert "duplicates='sum' adds repeated ratings" in msg, msg
            return None
        if ref.fails in ("bad rows", "duplicates", "overflow"):
            bad_labels = {labels[p] for p in ref.bad} if ref.fails == "bad rows" else None
            where = getattr(err, "where", ())
            assert where, f"no rows named: {msg}"
            if bad_labels is not None:
                assert set(where) <= bad_labels, (where, bad_labels, msg)
            word = "line" if unit == "line" else "rows"
            assert word in msg, msg
        else:
            assert "rows" in msg or "line" in msg, msg
        column = getattr(err, "column", None)
        for col in column if isinstance(column, tuple) else (column,):
            if col is None:
                continue
            assert col in names, (col, names)
            # The one message that names the column by its role is pinned by an older
            # test: "N rating(s) outside the scale ..."; the error still carries it.
            assert str(col) in msg or "rating(s) outside the scale" in msg, msg
        return None
    OUTCOMES[name, "loaded"] += 1
    assert ref.fails is None, f"loaded an input that should fail ({ref.fails})"
    report = data.load_report
    assert report.rows_read == ref.n
    assert report.loaded + report.merged + report.rejected == report.rows_read
    assert report.loaded == data.nnz == len(ref.cells)
    assert report.merged == ref.merged
    rejected = sorted(w for r in report.rejections for w in r.where)
    assert rejected == sorted(labels[p] for p in ref.bad)
    assert _stored_cells(data) == ref.cells
    assert data.matrix.has_sorted_indices and np.isfinite(data.ratings).all()
    return data


# ---------------------------------------------------------------------- strategies
_TEXT_IDS = st.sampled_from(
    [
        "eve",
        " eve ",
        "bob",
        "NA",
        "null",
        "None",
        "nan",
        "N/A",
        "",
        "  ",
        "x y",
        "é",
        "中",
        "7",
        " 7",
        "007",
        "-3",
        "1.0",
        "2e0",
        "1.5",
    ]
)
_RAW_IDS = st.one_of(
    st.integers(-5, 30),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63 - 1, -(2**63), 2**63, 2**64 - 1]),
    _TEXT_IDS,
    st.sampled_from([1.0, 2.0, -4.0, 1.5, math.nan, math.inf, 2.0**70]),
    st.none(),
    st.booleans(),
)
_RAW_VALUES = st.one_of(
    st.integers(-3, 10),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([1e39, -1e39, 3e38, 0.5, 4.0]),
    st.sampled_from(["4", " 3.5 ", "1e3", ".5", "inf", "nan", "NAN", "five", "", "4,5", "١"]),
    st.none(),
)


@st.composite
def _column(draw, cells: st.SearchStrategy, n: int, pool_size: int = 6):
    pool = draw(st.lists(cells, min_size=1, max_size=pool_size))
    return [draw(st.sampled_from(pool)) for _ in range(n)]


def _series(cells: list, how: str) -> pd.Series:
    if how == "object":
        return pd.Series(cells, dtype=object)
    if how == "nullable":  # pandas' own nullable dtypes, where the cells fit one
        for dtype in ("Int64", "string", "Float64", "boolean"):
            try:
                with warnings.catch_warnings():  # pandas warns while trying a cast
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out = pd.Series(cells, dtype=dtype)
            except (TypeError, ValueError, OverflowError):
                continue
            # Keep it only when the dtype held every cell as it was.
            if all(
                (_is_missing(a) and _is_missing(b)) or (type(a) is type(b) and a == b)
                for a, b in zip(cells, out.tolist(), strict=True)
            ):
                return out
        return pd.Series(cells, dtype=object)
    if how == "category":
        try:
            return pd.Series(cells, dtype=object).astype("category")
        except (TypeError, ValueError):
            return pd.Series(cells, dtype=object)
    try:
        return pd.Series(cells)  # pandas picks the dtype
    except (TypeError, ValueError, OverflowError):
        return pd.Series(cells, dtype=object)


@st.composite
def _frames(draw, good_only: bool = False):
    n = draw(st.integers(0, 12))
    ids = _TEXT_IDS if good_only else _RAW_IDS
    users = draw(_column(ids, n))
    items = draw(_column(ids, n))
    rating = draw(st.sampled_from([None, "rating"]))
    values = draw(_column(_RAW_VALUES, n)) if rating else None
    stamps = (
        draw(_column(st.integers(0, 5).map(float) | st.just(math.nan), n))
        if (draw(st.booleans()))
        else None
    )
    how = [draw(st.sampled_from(["object", "infer", "category", "nullable"])) for _ in range(4)]
    data = {"user_id": _series(users, how[0]), "item_id": _series(items, how[1])}
    if values is not None:
        data["rating"] = _series(values, how[2])
    if stamps is not None:
        data["t"] = _series(stamps, "infer")
    df = pd.DataFrame(data) if n else pd.DataFrame({k: [] for k in data})
    index = draw(st.sampled_from(["range", "shifted", "text"]))
    if index == "shifted":
        df.index = [10 + 3 * k for k in range(n)]
    elif index == "text":
        df.index = [f"r{k % 4}" for k in range(n)]  # repeated labels too
    return df, rating, stamps is not None


_OPTIONS = st.fixed_dictionaries(
    {
        "duplicates": st.sampled_from(["last", "mean", "sum", "error"]),
        "on_bad_rows": st.sampled_from(["error", "skip"]),
        "strip_ids": st.booleans(),
        "rating_scale": st.sampled_from([None, None, (1, 5), (-10, 10)]),
    }
)


def _frame_reference(df, rating, with_ts, opts, from_text=False, bad_fields=()):
    cols = {c: df[c].tolist() for c in df.columns}
    return Reference(
        cols["user_id"],
        cols["item_id"],
        cols.get("rating") if rating else None,
        cols.get("t") if with_ts else None,
        strip=opts["strip_ids"],
        from_text=from_text,
        policy=opts["duplicates"],
        on_bad=opts["on_bad_rows"],
        scale=opts["rating_scale"] if rating else None,
        bad_fields=bad_fields,
    )


# ---------------------------------------------------------------------- from_frame
@settings(FAST, max_examples=150)
@given(_frames(), _OPTIONS)
def _fuzz_from_frame(case, opts):
    df, rating, with_ts = case
    if len(df) == 0:
        TRIED["from_frame"] += 1
        OUTCOMES["from_frame", "refused"] += 1
        with pytest.raises(DataError, match="empty"):
            Interactions.from_frame(df, rating=rating)
        return
    ref = _frame_reference(df, rating, with_ts, opts)
    _check(
        "from_frame",
        lambda: Interactions.from_frame(
            df, rating=rating, timestamp="t" if with_ts else None, **opts
        ),
        ref,
        df.index.tolist(),
        names=("user_id", "item_id", "rating", "t"),
        unit="row",
    )


def test_from_frame_fuzz():
    _fuzz_from_frame()
    _finish("from_frame", 150)


# ---------------------------------------------------------------------- from_arrays
@settings(FAST, max_examples=100)
@given(st.data(), _OPTIONS)
def _fuzz_from_arrays(data, opts):
    n = data.draw(st.integers(1, 10))
    users = data.draw(_column(_RAW_IDS, n))
    items = data.draw(_column(_RAW_IDS, n))
    values = data.draw(st.none() | _column(_RAW_VALUES, n))
    as_numpy = data.draw(st.booleans())
    if as_numpy:
        users, items = np.array(users, dtype=object), np.array(items, dtype=object)
    ref = Reference(
        list(users),
        list(items),
        values,
        None,
        strip=opts["strip_ids"],
        from_text=False,
        policy=opts["duplicates"],
        on_bad=opts["on_bad_rows"],
        scale=opts["rating_scale"] if values is not None else None,
    )
    _check(
        "from_arrays",
        lambda: Interactions.from_arrays(users, items, values, **opts),
        ref,
        list(range(n)),
        names=("users", "items", "values"),
        unit="row",
    )


def test_from_arrays_fuzz():
    _fuzz_from_arrays()
    _finish("from_arrays", 100)


# ---------------------------------------------------------------------- from_csv
_CSV_IDS = [
    "1",
    "2",
    "-3",
    "007",
    " 7 ",
    "9223372036854775808",
    "-9223372036854775809",
    "1.0",
    "2e0",
    "eve",
    " eve ",
    "NA",
    "null",
    "None",
    "nan",
    "N/A",
    "",
    "  ",
    "a,b",
    'quo"te',
    "multi\nline",
    "é",
    "中",
    "x|y",
    "t\tab",
    "s;c",
]
_CSV_VALUES = [
    "4",
    "3.5",
    " 2 ",
    "1e3",
    ".5",
    "-1",
    "inf",
    "nan",
    "NA",
    "",
    "five",
    "4,5",
    "1e39",
    "NAN",
    "0",
]


@st.composite
def _csv_case(draw):
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    ids = [t for t in _CSV_IDS if encoding != "latin-1" or t != "中"]
    n = draw(st.integers(0, 10))
    users = draw(_column(st.sampled_from(ids), n))
    items = draw(_column(st.sampled_from(ids), n))
    rating = draw(st.booleans())
    values = draw(_column(st.sampled_from(_CSV_VALUES), n)) if rating else None
    extra = draw(st.booleans())  # an unused column, after the others
    header = draw(st.booleans())
    sep = draw(st.sampled_from([",", "\t", ";", "|"]))
    give_sep = draw(st.booleans()) or not header  # header-less files need sep (see docs)
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    blanks = draw(st.lists(st.booleans(), min_size=n + 1, max_size=n + 1))
    width = 2 + bool(rating) + extra
    # A header-less file takes its field count from its first row: that one stays whole.
    faults = {p for p in range(n) if draw(st.integers(0, 12)) == 0} if width >= 3 else set()
    faults -= set() if header else {0}
    ask_missing = rating and draw(st.integers(0, 15)) == 0  # a rating column not in the file

    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=sep, quoting=quoting, lineterminator=terminator)
    names = ["user_id", "item_id"] + (["rating"] if rating else []) + (["note"] if extra else [])
    if header:
        writer.writerow(names)
    lines = []
    for p in range(n):
        if blanks[p]:
            out.write(terminator)
        lines.append(out.getvalue().count("\n") + 1)
        row = [users[p], items[p]] + ([values[p]] if rating else []) + (["x"] if extra else [])
        if p in faults:
            row = row + ["extra"] if p % 2 else row[:-1]
        writer.writerow(row)
    text = out.getvalue()
    return {
        "text": text,
        "encoding": encoding,
        "users": users,
        "items": items,
        "values": values,
        "rating": rating,
        "header": header,
        "sep": sep if give_sep else None,
        "lines": lines,
        "faults": faults,
        "ask_missing": ask_missing,
        "names": names,
    }


@settings(FAST, max_examples=150)
@given(_csv_case(), _OPTIONS)
def _fuzz_from_csv(case, opts):
    path = _TMP / "ratings.csv"
    raw = case["text"].encode(case["encoding"])
    path.write_bytes(raw)
    header = case["header"]
    if header:
        cols = (
            "user_id",
            "item_id",
            ("score" if case["ask_missing"] else "rating") if case["rating"] else None,
        )
    else:
        cols = (0, 1, (7 if case["ask_missing"] else 2) if case["rating"] else None)
    encoding = case["encoding"] if case["encoding"] == "latin-1" else None

    def call():
        return Interactions.from_csv(
            path,
            *cols,
            sep=case["sep"],
            header=header,
            encoding=encoding or "utf-8-sig",
            **opts,
        )

    n = len(case["users"])
    if n == 0 or case["ask_missing"]:
        TRIED["from_csv"] += 1
        OUTCOMES["from_csv", "refused"] += 1
        with pytest.raises(DataError) as info:
            call()
        msg = str(info.value)
        if opts["duplicates"] == "sum" and opts["rating_scale"] and case["rating"]:
            # The options are refused before the file is read.
            assert "duplicates='sum' adds repeated ratings" in msg, msg
            return
        assert str(path) in msg
        if case["ask_missing"] and n:
            assert "missing column(s)" in msg and "line " in msg
        return
    ref = Reference(
        case["users"],
        case["items"],
        case["values"],
        None,
        strip=opts["strip_ids"],
        from_text=True,
        policy=opts["duplicates"],
        on_bad=opts["on_bad_rows"],
        scale=opts["rating_scale"] if case["rating"] else None,
        bad_fields=case["faults"],
    )
    data = _check(
        "from_csv",
        call,
        ref,
        case["lines"],
        names=tuple(c for c in cols if c is not None),
        unit="line",
    )
    if data is not None:
        assert data.load_report.source == str(path)
        assert data.load_report.separator == case["sep"] or case["sep"] is None


_TMP = None


def test_from_csv_fuzz(tmp_path):
    global _TMP
    _TMP = tmp_path
    _fuzz_from_csv()
    _finish("from_csv", 150)


# ---------------------------------------------------------------------- from_parquet
@st.composite
def _parquet_frames(draw):
    n = draw(st.integers(1, 10))
    kinds = {
        "int": st.integers(-(2**63), 2**63 - 1) | st.integers(-3, 9),
        "text": st.sampled_from(["eve", " eve ", "NA", "null", "", "中", "7"]) | st.none(),
        "float": st.sampled_from([1.0, 2.0, -3.0, 1.5, math.nan, math.inf]),
    }
    cols = {}
    for name in ("user_id", "item_id"):
        kind = draw(st.sampled_from(sorted(kinds)))
        cols[name] = draw(_column(kinds[kind], n))
    values = draw(_column(st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 5), n))
    cols["rating"] = [float(v) for v in values]
    return pd.DataFrame(
        {k: pd.Series(v, dtype=object if k != "rating" else None) for k, v in cols.items()}
    )


@settings(FAST, max_examples=60)
@given(_parquet_frames(), _OPTIONS)
def _fuzz_from_parquet(df, opts):
    path = _TMP / "ratings.parquet"
    try:
        df.to_parquet(path)
    except Exception:  # noqa: BLE001 - pyarrow cannot store every object column; not ours
        TRIED["from_parquet (unwritable)"] += 1
        return
    ref = _frame_reference(df, "rating", False, opts)
    _check(
        "from_parquet",
        lambda: Interactions.from_parquet(path, **opts),
        ref,
        list(range(len(df))),
        names=("user_id", "item_id", "rating"),
        unit="row",
    )


def test_from_parquet_fuzz(tmp_path):
    global _TMP
    _TMP = tmp_path
    _fuzz_from_parquet()
    _finish("from_parquet", 60)


# ---------------------------------------------------------------------- from_dense / from_sparse
_GOOD_CELLS = st.sampled_from([0.0, 0.0, 1.0, 2.5, -1.0, 5.0])
_CELLS = st.sampled_from([0.0, 0.0, 1.0, 2.5, -1.0, 5.0, math.nan, math.inf, 1e39, 3e38])


@st.composite
def _dense_case(draw):
    shape = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    missing = draw(st.sampled_from([0, 0, math.nan, -1.0]))
    cells = _CELLS if draw(st.booleans()) else _GOOD_CELLS | st.just(missing)
    arr = np.array(
        [[draw(cells) for _ in range(shape[1])] for _ in range(shape[0])], dtype=np.float64
    ).reshape(shape)
    kind = draw(
        st.sampled_from(["array", "list", "csr", "coo"] * 3 + ["1-d", "3-d", "ragged", "text"])
    )
    return arr, missing, kind


def _dense_reference(arr: np.ndarray, missing) -> tuple[str | None, dict]:
    observed = {}
    for r in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            v = float(arr[r, c])
            blank = math.isnan(v) if missing != missing else v == missing
            if not blank:
                observed[(r, c)] = v
    if any(not math.isfinite(v) for v in observed.values()):
        return "non-finite", {}
    if any(abs(v) > F32_MAX for v in observed.values()):
        return "too large", {}
    if not observed:
        return "empty", {}
    return None, observed


@settings(FAST, max_examples=120)
@given(_dense_case())
def _fuzz_from_dense(case):
    arr, missing, kind = case
    TRIED["from_dense"] += 1
    if kind in ("csr", "coo"):
        matrix = (sp.csr_matrix if kind == "csr" else sp.coo_matrix)(arr)
    elif kind == "list":
        matrix = arr.tolist()
    elif kind == "1-d":
        matrix = arr.ravel()
    elif kind == "3-d":
        matrix = arr[None]
    elif kind == "ragged":
        matrix = [[1.0, 2.0], [3.0]]
    elif kind == "text":
        matrix = np.array([["a", "1"]], dtype=object)
    else:
        matrix = arr
    if kind in ("1-d", "3-d", "ragged", "text"):
        with pytest.raises(DataError):
            Interactions.from_dense(matrix, missing=missing)
        OUTCOMES["from_dense", "refused"] += 1
        return
    sparse = kind in ("csr", "coo")
    if sparse and missing != 0:
        with pytest.raises(DataError, match="explicit_zeros"):
            Interactions.from_dense(matrix, missing=missing)
        OUTCOMES["from_dense", "refused"] += 1
        return
    fails, want = _dense_reference(arr, 0 if sparse else missing)
    try:
        data = Interactions.from_dense(matrix, missing=missing)
    except DataError as err:
        OUTCOMES["from_dense", "refused"] += 1
        assert fails is not None or arr.size == 0, str(err)
        assert any(w in str(err) for w in ("(row, column)", "no observed cells", "2-D")), err
        return
    OUTCOMES["from_dense", "loaded"] += 1
    assert fails is None
    got = {
        (int(r), int(c)): float(v)
        for r, c, v in zip(data.user_idx, data.item_idx, data.ratings, strict=True)
    }
    assert got == {k: float(np.float32(v)) for k, v in want.items()}
    report = data.load_report
    assert report.loaded + report.merged + report.rejected == report.rows_read
    assert data.shape == arr.shape


def test_from_dense_fuzz():
    _fuzz_from_dense()
    _finish("from_dense", 120)


@settings(FAST, max_examples=80)
@given(st.data())
def _fuzz_from_sparse(data):
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    k = data.draw(st.integers(0, 8))
    rows = [data.draw(st.integers(0, shape[0] - 1)) for _ in range(k)]
    cols = [data.draw(st.integers(0, shape[1] - 1)) for _ in range(k)]
    vals = [data.draw(_CELLS) for _ in range(k)]
    explicit = data.draw(st.booleans())
    coo = sp.coo_matrix((vals, (rows, cols)), shape=shape)
    TRIED["from_sparse"] += 1
    # Slow reference: drop stored zeros unless asked, then add repeats cell by cell.
    want: dict = {}
    for r, c, v in zip(rows, cols, vals, strict=True):
        if v == 0 and not explicit:
            continue
        want[(r, c)] = want.get((r, c), 0.0) + v
    bad = any(not math.isfinite(v) or abs(v) > F32_MAX for v in vals if v != 0 or explicit)
    bad = bad or any(abs(v) > F32_MAX for v in want.values())
    try:
        got = Interactions.from_sparse(coo, explicit_zeros=explicit)
    except DataError as err:
        OUTCOMES["from_sparse", "refused"] += 1
        assert bad or not want, str(err)
        assert "(row, column)" in str(err) or "no observed cells" in str(err)
        return
    OUTCOMES["from_sparse", "loaded"] += 1
    assert not bad and want
    cells = {
        (int(r), int(c)): float(v)
        for r, c, v in zip(got.user_idx, got.item_idx, got.ratings, strict=True)
    }
    assert cells == {key: float(np.float32(v)) for key, v in want.items()}
    report = got.load_report
    assert report.loaded == len(want)
    assert report.loaded + report.merged + report.rejected == report.rows_read


def test_from_sparse_fuzz():
    _fuzz_from_sparse()
    _finish("from_sparse", 80)
