"""The lean path from big inputs to an int32/float32 CSR: chunks in, no per-row objects.

Owns :func:`lean_frame` (the fast path of ``Interactions.from_frame``) and
:func:`lean_batches` (that of ``from_csv`` / ``from_parquet``, fed parsed batches by
their readers), and :func:`csr_from_chunks`, the builder under them.  A fast path
takes only clean input (integer ids, finite numeric values, no side tables, no given
vocabularies) and returns ``None`` for anything else, so the caller runs the
line-accurate path, which loads the input exactly or raises a
:class:`~latentrec.data.report.DataError` naming the line or row and column.  Every
result of a fast path is the one that path would give.

Memory: a file's rows are kept per chunk (ids int32 where they fit, values float32
where that is exact), the vocabulary is the sorted distinct ids, and the CSR is filled
by a counting sort over users, chunk by chunk (each chunk freed once placed), then
sorted by item and de-duplicated row block by row block in place (blocks already in
order are left as they are).  Chunks are placed and blocks sorted 2^18 rows at a time,
so the temporaries stay near 10 MB.  At the peak a file costs about 20 bytes per rating
(its chunks' 12 and the CSR's 8); a DataFrame about 10 (9.7 measured at 10^7: the CSR's
8.5 and the temporaries) on top of the frame itself, whose columns are read in place.
With ``from_frame(copy=False)``, a frame already in CSR order costs nothing more: its
item and value columns become the CSR's arrays (:func:`shared_csr`).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .build import TIME_MAX, TIME_MIN
from .report import LoadReport
from .vocabulary import Vocabulary

T = TypeVar("T")

#: Rows per chunk: big enough for NumPy to run at full speed, small enough that a
#: chunk's temporaries (a sort order, a few gathers) are a few tens of MB.
CHUNK_ROWS = 1 << 20
#: Rows per piece where a chunk is turned into CSR cells (codes, a stable sort, the
#: scatter; about 40 bytes a row of int64 temporaries) and cells per block where rows
#: are sorted by item: at 2^18, 10 MB of temporaries instead of the 40 MB a whole chunk
#: costs, which at 10^7 ratings set the peak of ``from_frame``.  Same result either way.
PIECE_ROWS = 1 << 18
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)
_INT32 = np.iinfo(np.int32)
#: The note of ``from_frame(copy=False)`` on a frame the fast path does not take.
NOT_SHAREABLE = (
    "copied, not shared (copy=False): only integer ids and clean numbers, without side "
    "tables or given vocabularies, can be shared"
)


class Decline(Exception):
    """Raised inside a fast path for input it does not take; the exact path decides.

    Example:
        >>> try:
        ...     check_values(np.array([np.nan]), None, rating=True)
        ... except Decline:
        ...     print("declined")
        declined
    """


class RepeatedPair(Decline):
    """A :class:`Decline` for ``duplicates="error"``: ``user`` and ``item`` name one
    repeated pair (codes where :func:`_sort_and_merge` raises it, raw ids once
    :func:`csr_from_chunks` passes it on), so a reader can find its lines.

    Example:
        >>> c = Chunk(np.array([7, 7]), np.array([3, 3]), np.array([4.0, 5.0]), None)
        >>> try:
        ...     csr_from_chunks([c], "error", True, False)
        ... except RepeatedPair as e:
        ...     print(e.user, e.item)
        7 3
    """

    def __init__(self, user, item):
        super().__init__(user, item)
        self.user, self.item = user, item


class Chunk:
    """One chunk of rows: raw ids (later codes), values, timestamps.

    Example:
        >>> Chunk(np.array([1]), np.array([2]), np.array([4.0]), None).users.tolist()
        [1]
    """

    __slots__ = ("items", "ts", "users", "vals")

    def __init__(self, users, items, vals, ts):
        self.users, self.items, self.vals, self.ts = users, items, vals, ts


def _compact_ids(ids: np.ndarray) -> np.ndarray:
    """Integer ids as int32 when they fit (half the memory), else int64; a
    :class:`Decline` for anything but integers that fit in int64."""
    if ids.dtype.kind not in "iu":
        raise Decline
    if ids.dtype.kind == "u" and ids.size and ids.max() > np.iinfo(np.int64).max:
        raise Decline  # beyond int64: the exact path keeps them as text
    if ids.size and _INT32.min <= ids.min() and ids.max() <= _INT32.max:
        return ids.astype(np.int32, copy=False)
    return ids.astype(np.int64, copy=False)


def check_values(vals, rating_scale, rating: bool) -> bool:
    """Raise :class:`Decline` unless every value is finite (fits float32, lies in the
    scale, for ratings); return whether float32 holds every value exactly.

    Example:
        >>> check_values(np.array([1.0, 4.5]), (1, 5), rating=True)
        True
        >>> check_values(np.array([0.1]), None, rating=True)
        False
    """
    if vals.dtype.kind not in "iuf":
        raise Decline
    if vals.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if not np.isfinite(vals).all():
                raise Decline
    if rating:
        if vals.size and np.abs(vals).max() > _FLOAT32_MAX:
            raise Decline
        if vals.size and ((vals != 0) & (np.abs(vals) < _FLOAT32_TINY)).any():
            raise Decline  # float32 would store 0: the exact reader names the line
        if rating_scale is not None:
            lo, hi = rating_scale
            if vals.size and (vals.min() < lo or vals.max() > hi):
                raise Decline
    as32 = vals.astype(np.float32)
    return bool(np.array_equal(as32, vals))


def check_times(ts) -> None:
    """Raise :class:`Decline` unless every timestamp is a finite number of seconds in
    the years 1-9999 (the exact path names the others).

    Example:
        >>> check_times(np.array([0.0, 1.6e9]))
        >>> try:
        ...     check_times(np.array([1e30]))
        ... except Decline:
        ...     print("declined")
        declined
    """
    check_values(ts, None, rating=False)
    if ts.size and (ts.min() < TIME_MIN or ts.max() > TIME_MAX):
        raise Decline


def scale_or_decline(rating_scale):
    """``(low, high)`` as floats, or :class:`Decline` where the exact path would raise.

    Example:
        >>> scale_or_decline((1, 5))
        (1.0, 5.0)
    """
    if rating_scale is None:
        return None
    try:
        lo, hi = (float(x) for x in rating_scale)
    except (TypeError, ValueError):
        raise Decline from None
    if not lo < hi:
        raise Decline
    return lo, hi


def _lookup(ids: np.ndarray):
    """A function mapping raw ids (all in ``ids``, sorted, distinct) to int32 positions."""
    if ids.size == 0:
        return lambda raw: np.zeros(raw.shape, dtype=np.int32)
    lo, hi = int(ids[0]), int(ids[-1])
    span = hi - lo + 1
    if span <= max(4 * ids.size, 1 << 20):
        # Dense ids (the usual case): one gather through a table of the id range.
        table = np.full(span, -1, dtype=np.int32)
        table[ids - lo] = np.arange(ids.size, dtype=np.int32)
        return lambda raw: (
            table[raw - lo] if raw.dtype == np.int64 else table[raw.astype(np.int64) - lo]
        )
    return lambda raw: np.searchsorted(ids, raw).astype(np.int32)


def _distinct(chunks, attr: str) -> np.ndarray:
    """Sorted distinct raw ids over all chunks.

    Ids within a range not much wider than the rows (the usual case: numbered users and
    items) are marked in a table of the range, a byte per id, instead of hashed: at 10^7
    ratings of 2.6 million users, 0.3 s instead of the 14 s of merging hash sets chunk
    after chunk.

    Example:
        >>> c = [Chunk(np.array(ids), None, None, None) for ids in ([9, 3, 9], [4])]
        >>> _distinct(c, "users").tolist()
        [3, 4, 9]
    """
    arrays = [getattr(chunk, attr) for chunk in chunks]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return np.zeros(0, dtype=np.int64)
    lo = min(int(a.min()) for a in arrays)
    hi = max(int(a.max()) for a in arrays)
    rows = sum(a.size for a in arrays)
    if hi - lo < max(8 * rows, 1 << 20):
        present = np.zeros(hi - lo + 1, dtype=bool)
        for a in arrays:
            for part in _pieces(a.size):
                present[a[part].astype(np.int64) - lo] = True
        return np.flatnonzero(present).astype(np.int64) + lo
    seen = np.zeros(0, dtype=np.int64)
    for a in arrays:
        seen = pd.unique(np.concatenate([seen, pd.unique(a).astype(np.int64)]))
    return np.sort(seen)


def _shrink(arr: np.ndarray, n: int) -> np.ndarray:
    if arr.shape[0] == n:
        return arr
    try:
        arr.resize(n, refcheck=False)  # in place: no second full-size array
        return arr
    except ValueError:  # pragma: no cover - an array that does not own its memory
        return arr[:n].copy()


def csr_from_chunks(
    chunks: list, duplicates: str, exact32: bool, with_ts: bool, recode: bool = False
):
    """``(user_ids, item_ids, csr, timestamps)`` from chunks of raw integer ids.

    Cells are sorted by (user, item); repeated pairs are merged by ``duplicates`` as
    the exact path merges them ("last" by timestamp then input order; "mean" and
    "sum" in float64, which needs ``exact32``: float32 holding every value exactly).
    Raises :class:`Decline` where the exact path must speak (``duplicates="error"``
    with a repeat, a merged value beyond float32).  The chunks are consumed: the list
    is emptied as the CSR fills, so their memory goes back while it is built.  With
    ``recode`` the chunks' raw ids (views of a caller's arrays, which stay in memory
    anyway) are mapped to positions twice rather than kept as codes: 8 bytes per
    rating less at the peak for two cheap gathers more.

    Example:
        >>> c = Chunk(np.array([7, 3, 7]), np.array([1, 2, 1]), np.array([4.0, 5.0, 2.0]), None)
        >>> users, items, csr, ts = csr_from_chunks([c], "last", True, False)
        >>> users.tolist(), items.tolist(), csr.toarray().tolist()
        ([3, 7], [1, 2], [[0.0, 5.0], [2.0, 0.0]])
    """
    user_ids = _distinct(chunks, "users")
    item_ids = _distinct(chunks, "items")
    n_users, n_items = user_ids.size, item_ids.size
    user_code, item_code = _lookup(user_ids), _lookup(item_ids)
    counts = np.zeros(n_users, dtype=np.int64)
    n = 0
    for chunk in chunks:
        if not recode:
            chunk.users, chunk.items = user_code(chunk.users), item_code(chunk.items)
        for piece in _pieces(chunk.users.size):
            codes = chunk.users[piece] if not recode else user_code(chunk.users[piece])
            counts += np.bincount(codes, minlength=n_users)
            del codes
        n += chunk.users.size
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(n, dtype=np.int32)
    data = np.empty(n, dtype=np.float32)
    ts = np.empty(n, dtype=np.float64) if with_ts else None
    # Input order within a user is kept: "last" means the last row, as in the file.
    fill = indptr[:-1].copy()
    while chunks:
        chunk = chunks.pop(0)
        for piece in _pieces(chunk.users.size):
            users, items = chunk.users[piece], chunk.items[piece]
            if recode:
                users, items = user_code(users), item_code(items)
            order = np.argsort(users, kind="stable")
            u = users[order]
            rank = np.arange(u.size) - np.searchsorted(u, u, side="left")
            pos = fill[u] + rank
            indices[pos] = items[order]
            data[pos] = chunk.vals[piece][order]
            if ts is not None:
                ts[pos] = chunk.ts[piece][order]
            fill += np.bincount(users, minlength=n_users)
            del users, items, order, u, rank, pos
        del chunk
    try:
        indptr, nnz = _sort_and_merge(indptr, indices, data, ts, n_items, duplicates, exact32)
    except RepeatedPair as e:
        raise RepeatedPair(user_ids[e.user], item_ids[e.item]) from None
    indices, data = _shrink(indices, nnz), _shrink(data, nnz)
    ts = None if ts is None else _shrink(ts, nnz)
    csr = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
    csr.has_canonical_format = True  # sorted and distinct by construction
    return user_ids, item_ids, csr, ts


def _pieces(n: int):
    """Slices of ``range(n)`` of at most :data:`PIECE_ROWS`."""
    return (slice(a, a + PIECE_ROWS) for a in range(0, n, PIECE_ROWS))


def _sorted_distinct(indptr, indices, r0, r1) -> bool:
    """Whether rows ``r0:r1`` already hold strictly increasing items (nothing to do)."""
    a, b = int(indptr[r0]), int(indptr[r1])
    if b - a < 2:
        return True
    rises = indices[a + 1 : b] > indices[a : b - 1]
    # A row's first cell follows the previous row's last one: no order between them.
    starts = indptr[r0 + 1 : r1] - a - 1
    rises[starts[(starts >= 0) & (starts < rises.size)]] = True
    return bool(rises.all())


def _sort_and_merge(indptr, indices, data, ts, n_items, policy, exact32):
    """Sort each row by item and merge repeats, in place, a block of rows at a time."""
    n_users = indptr.size - 1
    out_ptr = np.zeros(n_users + 1, dtype=np.int64)
    write = 0
    r0 = 0
    while r0 < n_users:
        a = int(indptr[r0])
        r1 = int(np.searchsorted(indptr, a + PIECE_ROWS, side="right")) - 1
        r1 = min(max(r1, r0 + 1), n_users)
        b = int(indptr[r1])
        counts = np.diff(indptr[r0 : r1 + 1])
        if _sorted_distinct(indptr, indices, r0, r1):
            # Input already in (user, item) order without repeats, as a CSR written out
            # row by row is: the cells only move down to their place.
            if write != a:
                indices[write : write + b - a] = indices[a:b]
                data[write : write + b - a] = data[a:b]
                if ts is not None:
                    ts[write : write + b - a] = ts[a:b]
            out_ptr[r0 + 1 : r1 + 1] = write + np.cumsum(counts)
            write += b - a
            r0 = r1
            continue
        rows = np.repeat(np.arange(r1 - r0, dtype=np.int64), counts)
        key = rows * n_items + indices[a:b]
        if ts is not None and policy == "last":
            order = np.lexsort((ts[a:b], key))  # lexsort is stable: ties keep input order
        else:
            order = np.argsort(key, kind="stable")
        key = key[order]
        cols, vals = indices[a:b][order], data[a:b][order]
        times = None if ts is None else ts[a:b][order]
        same = key[1:] == key[:-1]
        if same.any():
            if policy == "error":
                first = int(key[np.argmax(same)])
                raise RepeatedPair(r0 + first // n_items, first % n_items)
            if policy in ("mean", "sum") and not exact32:
                raise Decline
            starts = np.flatnonzero(np.concatenate([[True], ~same]))
            ends = np.concatenate([starts[1:], [key.size]]) - 1
            if policy == "last":
                vals = vals[ends]
            else:
                sums = np.add.reduceat(vals.astype(np.float64), starts)
                merged = sums / (ends - starts + 1) if policy == "mean" else sums
                with np.errstate(over="ignore"):
                    vals = merged.astype(np.float32)
                if not np.isfinite(vals).all():
                    raise Decline
            if times is not None:
                times = times[ends] if policy == "last" else np.maximum.reduceat(times, starts)
            cols = cols[starts]
            kept = np.bincount(key[starts] // n_items, minlength=r1 - r0)
        else:
            kept = counts
        m = cols.size
        indices[write : write + m] = cols
        data[write : write + m] = vals
        if ts is not None:
            ts[write : write + m] = times
        out_ptr[r0 + 1 : r1 + 1] = write + np.cumsum(kept)
        write += m
        r0 = r1
    return out_ptr, write


def build(cls: type[T], chunks, *, names, source, unit, duplicates, implicit, rating_scale,
          exact32, encoding=None, separator=None, recode=False, notes=()) -> T:  # fmt: skip
    """``cls(...)`` with its load report from clean chunks (see :func:`csr_from_chunks`).

    Example:
        >>> from latentrec import Interactions
        >>> c = Chunk(np.array([1, 2]), np.array([5, 5]), np.array([3.0, 4.0]), None)
        >>> build(Interactions, [c], names=("u", "i", "r", None), source="s", unit="row",
        ...       duplicates="last", implicit=None, rating_scale=None, exact32=True).nnz
        2
    """
    rating, timestamp = names[2], names[3]
    n = sum(c.users.size for c in chunks)
    users, items, csr, ts = csr_from_chunks(
        chunks, duplicates, exact32, timestamp is not None, recode=recode
    )
    report = LoadReport(
        source=source,
        unit=unit,
        rows_read=n,
        loaded=int(csr.nnz),
        merged=int(n - csr.nnz),
        duplicates=duplicates,
        encoding=encoding,
        separator=separator,
        notes=tuple(notes),
    )
    return cls(
        Vocabulary(users, "user"),
        Vocabulary(items, "item"),
        csr,
        ts,
        rating_scale=rating_scale,
        implicit=(rating is None) if implicit is None else bool(implicit),
        load_report=report,
    )


def plain_options(kwargs: dict) -> dict | None:
    """The keyword options a fast path takes, or ``None`` when one needs the exact path.

    Example:
        >>> plain_options({"duplicates": "sum"})["duplicates"]
        'sum'
        >>> plain_options({"on_bad_rows": "skip", "users": object()}) is None
        True
    """
    extra = {"item_features", "user_features", "users", "items"}
    if any(kwargs.get(k) is not None for k in extra):
        return None
    if kwargs.get("strip_ids", True) is not True:
        # The fast parsers read " 7 " as the id 7; kept as it stands it is the text " 7 ".
        return None
    known = {"duplicates", "rating_scale", "implicit", "strip_ids", "on_bad_rows"} | extra
    if set(kwargs) - known:
        return None  # an unknown keyword: the exact path names it
    return {
        "duplicates": kwargs.get("duplicates", "last"),
        "rating_scale": kwargs.get("rating_scale"),
        "implicit": kwargs.get("implicit"),
    }


def lean_frame(
    cls: type[T], df: pd.DataFrame, names: tuple, options: dict, share: bool = False
) -> T | None:
    """``cls`` from a DataFrame with integer id columns and clean numbers, else ``None``.

    With ``share``, a frame already in CSR order (see :func:`shared_csr`) lends its
    columns to the result instead of being copied; the load report's notes say which
    columns were shared, or why none could be.

    Example:
        >>> from latentrec import Interactions
        >>> df = pd.DataFrame({"u": [3, 1], "i": [9, 9], "r": [4.0, 5.0]})
        >>> opts = {"duplicates": "last", "rating_scale": None, "implicit": None}
        >>> lean_frame(Interactions, df, ("u", "i", "r", None), opts).users.ids.tolist()
        [1, 3]
        >>> lean_frame(Interactions, df.astype({"u": str}), ("u", "i", "r", None), opts)
    """
    try:
        wanted = [c for c in names if c is not None]
        if len(df) == 0 or not df.columns.is_unique or any(c not in df.columns for c in wanted):
            return None
        cols = [None if c is None else df[c] for c in names]
        for col in cols:
            if col is not None and not isinstance(col.dtype, np.dtype):
                return None  # extension dtypes (nullable, categorical, arrow) take the exact path
        scale = scale_or_decline(options["rating_scale"])
        arrays = [None if c is None else c.to_numpy() for c in cols]
        if arrays[0].dtype.kind not in "iu" or arrays[1].dtype.kind not in "iu":
            return None
        exact32 = True
        chunks = []
        n = len(df)
        for start in range(0, n, CHUNK_ROWS):
            part = slice(start, start + CHUNK_ROWS)
            if arrays[2] is None:
                vals = np.ones(min(n, start + CHUNK_ROWS) - start, dtype=np.float32)
            else:
                vals = arrays[2][part]
                exact32 &= check_values(vals, scale, rating=True)
            ts = None
            if arrays[3] is not None:
                ts = arrays[3][part]
                check_times(ts)
            # Views of the frame's own columns: the codes are made twice, never stored.
            users, items = arrays[0][part], arrays[1][part]
            _compact_ids(users), _compact_ids(items)  # only for the checks it makes
            chunks.append(Chunk(users, items, vals, ts))
        notes = ()
        if share:
            shared = shared_csr(*arrays)
            if not isinstance(shared, str):
                return _from_shared(cls, shared, names, options)
            notes = (f"copied, not shared (copy=False): {shared}",)
        return build(
            cls, chunks, names=names, source="a DataFrame", unit="row",
            duplicates=options["duplicates"], implicit=options["implicit"],
            rating_scale=options["rating_scale"], exact32=exact32, recode=True, notes=notes,
        )  # fmt: skip
    except Decline:
        return None


def _from_shared(cls: type[T], shared: tuple, names: tuple, options: dict) -> T:
    """``cls`` on the arrays :func:`shared_csr` found, with a report naming what it shares."""
    user_ids, item_ids, csr, ts, lent = shared
    shown = ", ".join(repr(names[k]) for k in lent) or "none"
    report = LoadReport(
        source="a DataFrame", unit="row", rows_read=csr.nnz, loaded=csr.nnz,
        duplicates=options["duplicates"],
        notes=(f"shares the frame's columns {shown} (copy=False)",),
    )  # fmt: skip
    implicit = options["implicit"]
    return cls(
        Vocabulary(user_ids, "user"), Vocabulary(item_ids, "item"), csr, ts,
        rating_scale=options["rating_scale"],
        implicit=(names[2] is None) if implicit is None else bool(implicit),
        load_report=report,
    )  # fmt: skip


def shared_csr(users, items, vals, ts):
    """The CSR of a frame already written out row by row, on the frame's own arrays.

    Returns ``(user_ids, item_ids, csr, timestamps, lent)``, where ``lent`` lists the
    positions (1 items, 2 values, 3 timestamps) of the columns the result shares, or a
    short text saying why the frame is not in CSR order.  In CSR order means: the rows
    run user by user (ascending ids), items strictly increase within a user (so there
    are no repeats), and the item ids are the column numbers: ``0 .. n_items - 1``,
    every one present.  Items are then shared when int32, values when float32,
    timestamps when float64, each when contiguous; anything else is converted (a copy
    of that column only).
    The checks run a piece at a time (a few MB of temporaries); the only new
    full-length array is a converted column.

    Example:
        >>> u, i = np.array([5, 5, 8]), np.array([0, 2, 1], dtype=np.int32)
        >>> r = np.array([4.0, 3.0, 5.0], dtype=np.float32)
        >>> users, items, csr, ts, lent = shared_csr(u, i, r, None)
        >>> users.tolist(), csr.toarray().tolist(), lent, np.shares_memory(csr.indices, i)
        ([5, 8], [[4.0, 0.0, 3.0], [0.0, 5.0, 0.0]], (1, 2), True)
        >>> shared_csr(u[::-1], i, r, None)
        'the rows are not grouped by user in ascending order'
    """
    n = users.size
    n_items = 0
    ts_in = ts
    starts = [np.zeros(1, dtype=np.int64)]
    for a in range(0, n, PIECE_ROWS):
        b = min(a + PIECE_ROWS + 1, n)  # one row of overlap: order across pieces
        u, i = users[a:b], items[a:b]
        if i.min() < 0:
            return "the item ids are not column numbers (a negative id)"
        n_items = max(n_items, int(i.max()) + 1)
        up, same = u[1:] > u[:-1], u[1:] == u[:-1]
        if not (up | same).all():
            return "the rows are not grouped by user in ascending order"
        if not (up | (i[1:] > i[:-1])).all():
            return "the items are not strictly increasing within each user"
        starts.append(a + 1 + np.flatnonzero(up))
    if n_items > n:
        return "the item ids are not column numbers (some of 0 .. max missing)"
    seen = np.zeros(n_items, dtype=bool)
    for part in _pieces(n):
        seen[items[part]] = True
    if not seen.all():
        return "the item ids are not column numbers (some of 0 .. max missing)"
    indptr = np.concatenate([*starts, [n]])
    user_ids = users[indptr[:-1]].astype(np.int64)
    # The kernels take contiguous arrays: a strided column (a frame sliced by a step) is
    # copied like one of another type.
    indices = np.ascontiguousarray(items, dtype=np.int32)
    data = np.ones(n, dtype=np.float32) if vals is None else np.ascontiguousarray(vals, np.float32)
    if ts is not None:
        ts = np.ascontiguousarray(ts, dtype=np.float64)
    csr = sp.csr_matrix((data, indices, indptr), shape=(user_ids.size, n_items), copy=False)
    csr.has_canonical_format = True  # sorted and distinct: checked above
    pairs = ((1, csr.indices, items), (2, csr.data, vals), (3, ts, ts_in))
    lent = tuple(
        k for k, ours, theirs in pairs if theirs is not None and np.shares_memory(ours, theirs)
    )
    return user_ids, np.arange(n_items, dtype=np.int64), csr, ts, lent


def chunk_from_arrays(users, items, vals, ts, scale, state: dict) -> Chunk:
    """A stored chunk from one batch of parsed columns (ids int, values float64).

    Values are kept as float32 when that holds them exactly (``state["exact32"]``
    records whether every chunk did), timestamps as float64.

    Example:
        >>> state = {"exact32": True}
        >>> c = chunk_from_arrays(np.array([5]), np.array([6]), np.array([0.1]), None, None, state)
        >>> c.users.dtype.name, state["exact32"]
        ('int32', False)
    """
    n = users.shape[0]
    if vals is None:
        vals = np.ones(n, dtype=np.float32)
    else:
        exact = check_values(vals, scale, rating=True)
        state["exact32"] &= exact
        vals = vals.astype(np.float32) if exact else vals
    if ts is not None:
        check_times(ts)
        ts = ts.astype(np.float64, copy=False)
    return Chunk(_compact_ids(users), _compact_ids(items), vals, ts)


def lean_batches(cls: type[T], batches, names, options, *, source, unit, encoding=None,
                 separator=None) -> T | None:  # fmt: skip
    """``cls`` from an iterator of parsed batches ``(users, items, values, timestamps)``.

    The iterator raises :class:`Decline` for a batch it cannot parse cleanly; so does a
    batch with a bad value.  ``None`` then, for the exact path.

    Example:
        >>> from latentrec import Interactions
        >>> batches = iter([(np.array([1]), np.array([2]), np.array([4.0]), None)])
        >>> opts = {"duplicates": "last", "rating_scale": None, "implicit": None}
        >>> lean_batches(Interactions, batches, ("u", "i", "r", None), opts,
        ...              source="f", unit="line").nnz
        1
    """
    try:
        scale = scale_or_decline(options["rating_scale"])
        state = {"exact32": True}
        chunks = [chunk_from_arrays(u, i, r, t, scale, state) for u, i, r, t in batches]
        if not chunks or sum(c.users.size for c in chunks) == 0:
            return None
        return build(
            cls, chunks, names=names, source=source, unit=unit,
            duplicates=options["duplicates"], implicit=options["implicit"],
            rating_scale=options["rating_scale"], exact32=state["exact32"],
            encoding=encoding, separator=separator,
        )  # fmt: skip
    except Decline:
        return None
