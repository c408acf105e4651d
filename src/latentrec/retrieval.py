"""Top-k retrieval: BLAS scores in blocks, then a per-row heap that skips excluded items.

:func:`topk_dot` is what models use: the best ``k`` items of ``queries @ targets.T`` plus
optional biases, for many queries at once, with each query's own excluded items (its seen
items, as rows of a CSR matrix), items nobody may get (``banned``) and an optional
candidate list.  :func:`select_topk` does the same selection on a dense block of scores
that the caller computed.  Both run the numba kernels of :mod:`latentrec.kernels.topk` in
parallel and never build a users x items matrix or mask.  :func:`topk` and
:func:`mask_seen` are the plain NumPy versions, kept as the reference the tests compare
with.

Results are ``(idx, vals)`` arrays of shape ``(rows, min(k, candidates))``: item indices
(int32) and scores (float32), best first, ties broken by the lower item index; a row with
fewer eligible items ends with index ``-1`` and score ``-inf``.

A note on exactness: BLAS rounds a float32 dot product differently depending on the shape
of the product it is part of, so the score of one (query, item) pair can differ in its
last bit between a call for one query and a call for many.  Results do not depend on the
number of threads, and equal scores always go to the lower item index.
"""

from __future__ import annotations

import decimal
import numbers
import threading
from contextlib import contextmanager

import numba
import numpy as np
import scipy.sparse as sp

from .kernels import topk as topk_kernels
from .kernels.threads import numba_threads

# Scores are produced in user blocks so that memory stays bounded: a block holds at most
# about this many float32 cells (64 MiB) whatever the catalogue size.
BLOCK_CELLS = 16 * 1024 * 1024
# One thread's tile of scores in topk_dot: up to TILE_ROWS users by TILE_COLS items (2 MiB
# of float32), scored by one sgemm and selected from by the same thread while still in
# cache.  Tiles spanning the whole catalogue (16 MiB) spilled out of cache both in the
# sgemm and in the selection: 100k users x 20k items took 2.26 s on 2 cores, 1.76 s with
# these (benchmarks/topk_scale.py --tile-rows/--tile-cols; docs/benchmarks.md has others).
TILE_ROWS = 512
TILE_COLS = 1024
# Batches of users are cut into at least this many tiles (while tiles keep 16 rows or
# more) so that every core has work; the cut depends on the batch, never on the threads.
MIN_TILES = 32


def block_size(n_items: int, n_rows: int | None = None) -> int:
    """How many users to score at once for a catalogue of ``n_items``.

    Example:
        >>> block_size(1_000_000) >= 1
        True
    """
    size = max(1, BLOCK_CELLS // max(1, n_items))
    return size if n_rows is None else max(1, min(size, n_rows))


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix, user_idx: np.ndarray) -> None:
    """Set ``scores[r, j] = -inf`` for each item j stored in row ``user_idx[r]`` of ``seen``.

    Works in place and without a Python loop; ``user_idx`` entries of -1 (unknown users)
    mask nothing.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> s = np.zeros((2, 3), dtype=np.float32)
        >>> seen = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1]]))
        >>> mask_seen(s, seen, np.array([1, -1]))
        >>> s.tolist()
        [[-inf, 0.0, -inf], [0.0, 0.0, 0.0]]
    """
    user_idx = np.asarray(user_idx)
    valid = user_idx >= 0
    safe = np.where(valid, user_idx, 0)
    starts = np.where(valid, seen.indptr[safe], 0)
    counts = np.where(valid, seen.indptr[safe + 1] - starts, 0)
    total = int(counts.sum())
    if total == 0:
        return
    rows = np.repeat(np.arange(user_idx.size), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    scores[rows, seen.indices[np.repeat(starts, counts) + offsets]] = -np.inf


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row, best first; ``-inf`` cells are never returned.

    The plain NumPy version (``argpartition`` over whole rows); models use
    :func:`topk_dot` / :func:`select_topk`, which give the same answer.

    Returns ``(idx, vals)`` of shape ``(rows, min(k, n_cols))``.  Where a row has fewer than
    ``k`` finite scores the tail holds index ``-1`` and score ``-inf``.

    Example:
        >>> import numpy as np
        >>> idx, vals = topk(np.array([[0.1, 0.9, -np.inf, 0.5]]), 3)
        >>> idx.tolist(), vals.tolist()
        ([[1, 3, 0]], [[0.9, 0.5, 0.1]])
    """
    scores = np.atleast_2d(scores)
    n_rows, n_cols = scores.shape
    k = int(min(max(k, 0), n_cols))
    if k == 0:
        return np.empty((n_rows, 0), np.int32), np.empty((n_rows, 0), scores.dtype)
    if k < n_cols:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrarily among items tied with the k-th score; where such a
        # tie straddles the cut, redo that row with a stable sort so the lowest indices win.
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        tied_total = (scores == kth).sum(axis=1)
        tied_taken = (np.take_along_axis(scores, part, axis=1) == kth).sum(axis=1)
        redo = np.flatnonzero(tied_total > tied_taken)
        if redo.size:
            part = part.copy()
            part[redo] = np.argsort(-scores[redo], axis=1, kind="stable")[:, :k]
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    part_vals = np.take_along_axis(scores, part, axis=1)
    # Ties are broken by column index so results do not depend on argpartition's whims.
    order = np.lexsort((part, -part_vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int32)
    vals = np.take_along_axis(part_vals, order, axis=1)
    idx[~np.isfinite(vals) & (vals < 0)] = -1
    return idx, vals


# ----------------------------------------------------------------------------- fast path
def select_topk(
    scores: np.ndarray,
    k: int,
    *,
    row_offset=None,
    col_offset=None,
    items=None,
    exclude: sp.csr_matrix | None = None,
    exclude_rows=None,
    banned=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of a dense score block, skipping excluded items.

    Args:
        scores: (rows, c) scores; computed in float32.
        k: how many to keep per row (more than the row has gives fewer, padded).
        row_offset, col_offset: optional (rows,) / (c,) values added to the scores
            (column first, then row, in float32), so biases need no extra pass.
        items: (c,) increasing item index of each column; ``None`` means column j is
            item j.
        exclude, exclude_rows: a CSR matrix over items (e.g. the seen items) and, per row,
            which of its rows to skip (-1: none); ``exclude_rows`` defaults to
            ``0..rows-1``.
        banned: item indices (or an item-length boolean mask) that no row may return.

    Returns:
        ``(idx, vals)`` of shape ``(rows, min(k, c))``, as described in the module.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> scores = np.array([[0.25, 0.75, 0.5, 0.75], [1.0, 2.0, 3.0, 4.0]])
        >>> seen = sp.csr_matrix(np.array([[0, 0, 0, 0], [0, 0, 0, 1]]))
        >>> idx, vals = select_topk(scores, 2, exclude=seen, banned=[2])
        >>> idx.tolist(), vals.tolist()
        ([[1, 3], [1, 0]], [[0.75, 0.75], [2.0, 1.0]])
    """
    scores = np.ascontiguousarray(np.atleast_2d(scores), dtype=np.float32)
    m, c = scores.shape
    col_item = _col_items(items, c)
    n_items = _n_items(exclude, col_item, c)
    k_eff = _check_k(k, c)
    args = _selection_args(m, c, n_items, row_offset, col_offset, exclude, exclude_rows, banned)
    idx = np.empty((m, k_eff), dtype=np.int32)
    vals = np.empty((m, k_eff), dtype=np.float32)
    if m and k_eff:
        r_off, c_off, indptr, indices, rows, ban = args
        # As in topk_dot: a block of one tile's size is one thread's work, and waking the
        # pool for it costs more than the selection; on a busy machine a parallel launch
        # also waits for threads other work holds, so a served live user's list (one
        # row) had rare stalls of milliseconds that one thread does not have.
        threads = 1 if m * c <= TILE_ROWS * TILE_COLS else None
        with numba_threads(threads), _parallel_launch():
            topk_kernels.topk_rows(
                scores, r_off, c_off, col_item, indptr, indices, rows, ban, idx, vals
            )
    return idx, vals


def topk_dot(
    queries: np.ndarray,
    targets: np.ndarray,
    k: int,
    *,
    rows=None,
    row_offset=None,
    col_offset=None,
    items=None,
    exclude: sp.csr_matrix | None = None,
    exclude_rows=None,
    banned=None,
    num_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` items of ``queries[rows] @ targets.T`` (+ offsets) for every query row.

    Each thread takes a block of query rows and scores it against a block of items at a
    time with one single-threaded BLAS ``sgemm``, selecting from each block while it is
    still in cache (numba ``prange`` over row blocks); memory stays at one small tile per
    thread whatever the number of queries and items.

    Args:
        queries: (n_queries, f) factor rows, e.g. the user factors.
        targets: (n_items, f) factor rows of the items.
        k: how many to keep per query.
        rows: which query rows to score (default all), in output order.
        row_offset: (len(rows),) added to each row's scores (e.g. μ + b_u).
        col_offset: (n_items,) added to each item's score first (e.g. b_i).
        items: candidate item indices (any order, repeats allowed); others are skipped.
        exclude, exclude_rows: CSR matrix over items and, for each output row, which of its
            rows to skip (-1: none); ``exclude_rows`` defaults to ``rows``.
        banned: item indices (or an item-length boolean mask) that no row may return.
        num_threads: threads for this call (default: numba's current setting).

    Returns:
        ``(idx, vals)`` of shape ``(len(rows), min(k, n_candidates))``.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> P = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> Q = np.array([[3.0, 0.0], [2.0, 1.0], [0.0, 5.0]], np.float32)
        >>> seen = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]]))
        >>> idx, vals = topk_dot(P, Q, 2, exclude=seen)
        >>> idx.tolist(), vals.tolist()
        ([[1, 2], [2, 1]], [[2.0, 0.0], [5.0, 1.0]])
    """
    kernel = topk_kernels.topk_dot
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    targets = np.ascontiguousarray(targets, dtype=np.float32)
    if queries.ndim != 2 or targets.ndim != 2 or queries.shape[1] != targets.shape[1]:
        raise ValueError(
            f"queries {queries.shape} and targets {targets.shape} must be 2-D with the same "
            "number of factors"
        )
    n_items = targets.shape[0]
    rows = np.arange(queries.shape[0]) if rows is None else whole_indices(rows, "rows")
    if rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= queries.shape[0])):
        raise IndexError(f"rows must be 1-D indices below {queries.shape[0]}")
    if exclude is not None and exclude_rows is None:
        exclude_rows = rows
    col_item = np.empty(0, dtype=np.int32)
    if items is not None:
        col_item = _candidate_items(items, n_items)
        targets = targets[col_item]
        if col_offset is not None:
            col_offset = np.asarray(col_offset, dtype=np.float32)[col_item]
    m, c = rows.size, targets.shape[0]
    k_eff = _check_k(k, c)
    r_off, c_off, indptr, indices, ex_rows, ban = _selection_args(
        m, c, n_items, row_offset, col_offset, exclude, exclude_rows, banned
    )
    idx = np.empty((m, k_eff), dtype=np.int32)
    vals = np.empty((m, k_eff), dtype=np.float32)
    if m == 0 or k_eff == 0:
        return idx, vals
    # Tiles do not depend on the thread count: BLAS rounds a row's scores differently in
    # differently shaped products, and results should not change with num_threads.
    tile_rows = max(1, min(TILE_ROWS, max(16, -(-m // MIN_TILES)), m))
    tile_cols = max(1, min(TILE_COLS, c))
    if num_threads is None and m <= tile_rows:
        # One tile is one thread's work.  A parallel launch for it only wakes the other
        # threads, and OpenMP's then spin, taking the cores from the one that works: one
        # user's list took 5 ms instead of 0.7 ms on a busy 2-core machine.
        num_threads = 1
    with numba_threads(num_threads), _parallel_launch():
        # Without factors every score is its offsets alone: no BLAS call to tile.
        blas_limit = None if targets.shape[1] == 0 else _single_threaded_blas()
        if blas_limit is None:
            # Without threadpoolctl BLAS threads would fight numba's: score whole blocks
            # with threaded BLAS here, then select in parallel.
            kernel_rows = topk_kernels.topk_rows
            step = block_size(c, m)
            for s in range(0, m, step):
                block = queries[rows[s : s + step]] @ targets.T
                sl = slice(s, s + step)
                kernel_rows(
                    block,
                    r_off[sl],
                    c_off,
                    col_item,
                    indptr,
                    indices,
                    ex_rows[sl],
                    ban,
                    idx[sl],
                    vals[sl],
                )
        else:
            with blas_limit:
                kernel(
                    queries,
                    rows,
                    targets,
                    r_off,
                    c_off,
                    col_item,
                    indptr,
                    indices,
                    ex_rows,
                    ban,
                    tile_rows,
                    tile_cols,
                    idx,
                    vals,
                )
    return idx, vals


# Array kinds that hold no index, in words for the message.
_NOT_NUMBERS = {
    "U": "text",
    "S": "bytes",
    "c": "complex numbers",
    "m": "durations",
    "M": "dates",
    "V": "records",
}


def whole_indices(values, what: str) -> np.ndarray:
    """``values`` as an int64 array of indices, refusing what is no index by value and
    position: integers are taken as given, floats only when whole (``2.0`` is item 2,
    ``1.7`` is refused, where a cast would cut it to item 1), an object array when each
    entry is a real number (Python ints, floats, Decimal) and whole.  Never a boolean
    array (a mask, not indices), text or bytes (``"1e3"`` is no index 1000), complex
    numbers, durations, dates or NaN.  No range check: the caller knows the range.

    Example:
        >>> whole_indices([2.0, 0], "item_idx").tolist()
        [2, 0]
        >>> try:
        ...     whole_indices([0, 1.7], "item_idx")
        ... except ValueError as err:
        ...     print(err)
        item_idx must be whole numbers, got 1.7 at position 1
        >>> try:
        ...     whole_indices(["1", "2"], "item_idx")
        ... except ValueError as err:
        ...     print(err)
        item_idx must be integer indices, got text (<U1 values)
    """
    arr = np.asarray(values)
    if arr.dtype.kind in _NOT_NUMBERS:
        # A cast reads "1e3" as item 1000, keeps 1+1j as 1 and takes a duration's count.
        raise ValueError(
            f"{what} must be integer indices, got {_NOT_NUMBERS[arr.dtype.kind]} "
            f"({arr.dtype} values)"
        )
    if arr.dtype.kind == "O":
        for pos, value in enumerate(arr.ravel()):
            real = isinstance(value, (numbers.Real, decimal.Decimal))
            if not real or isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"{what} must be integer indices, got {value!r} "
                    f"({type(value).__name__}) at position {pos}"
                )
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        # Cast, a uint64 past int64 became a negative index.
        raise ValueError(f"{what} must be indices that int64 holds, got {arr.max()}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b":
        raise ValueError(f"{what} must be integer indices, got a boolean array")
    try:
        as_float = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be integer indices, got {arr.dtype} values") from None
    whole = np.isfinite(as_float) & (as_float == np.round(as_float))
    # 2**63 is the first float int64 cannot hold: cast, it became the most negative index.
    held = whole & (np.abs(as_float) < 2**63)
    if not held.all():
        pos = int(np.flatnonzero(~held.ravel())[0])
        bad = arr.ravel()[pos]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        kind = "whole numbers" if not whole.ravel()[pos] else "indices that int64 holds"
        raise ValueError(f"{what} must be {kind}, got {bad!r} at position {pos}")
    return as_float.astype(np.int64)


def _check_k(k, n_cols: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    return int(min(k, n_cols))


def _col_items(items, n_cols: int) -> np.ndarray:
    if items is None:
        return np.empty(0, dtype=np.int32)
    col_item = whole_indices(items, "items").ravel()
    if col_item.size != n_cols:
        raise ValueError(f"items has {col_item.size} entries for {n_cols} score columns")
    if col_item.size and (col_item.min() < 0 or np.any(np.diff(col_item) <= 0)):
        raise ValueError("items must be increasing non-negative item indices")
    return col_item.astype(np.int32)


def _n_items(exclude, col_item: np.ndarray, n_cols: int) -> int:
    n = int(col_item.max()) + 1 if col_item.size else n_cols
    if exclude is not None:
        n = max(n, exclude.shape[1])
    return n


def _candidate_items(items, n_items: int) -> np.ndarray:
    cand = np.unique(whole_indices(items, "items").ravel())
    if cand.size and (cand[0] < 0 or cand[-1] >= n_items):
        raise IndexError(f"candidate item indices must lie in [0, {n_items})")
    return cand.astype(np.int32)


def _selection_args(m, c, n_items, row_offset, col_offset, exclude, exclude_rows, banned):
    r_off = np.zeros(m, np.float32) if row_offset is None else _vector(row_offset, m, "row")
    c_off = np.zeros(c, np.float32) if col_offset is None else _vector(col_offset, c, "col")
    if exclude is None:
        indptr = np.zeros(1, dtype=np.int64)
        indices = np.empty(0, dtype=np.int32)
        ex_rows = np.full(m, -1, dtype=np.int64)
    else:
        exclude = sp.csr_matrix(exclude)
        if not exclude.has_sorted_indices:
            exclude = exclude.sorted_indices()
        indptr = exclude.indptr.astype(np.int64)
        indices = exclude.indices.astype(np.int32, copy=False)
        ex_rows = np.arange(m) if exclude_rows is None else exclude_rows
        ex_rows = whole_indices(ex_rows, "exclude_rows").ravel()
        if ex_rows.size != m:
            raise ValueError(f"exclude_rows has {ex_rows.size} entries for {m} rows")
        if ex_rows.size and ex_rows.max() >= exclude.shape[0]:
            raise IndexError(f"exclude_rows must be below {exclude.shape[0]} (or -1)")
    # The kernel reads banned[item] unchecked, so the mask covers every item it can meet.
    ban = np.empty(0, dtype=np.bool_)
    if banned is not None:
        banned = np.asarray(banned)
        if banned.dtype == bool:
            if banned.ndim != 1 or banned.size < n_items:
                raise ValueError(f"a boolean banned mask needs at least {n_items} entries")
            ban = np.ascontiguousarray(banned)
        elif banned.size:
            banned = whole_indices(banned, "banned").ravel()
            if banned.min() < 0:
                raise IndexError("banned item indices must be non-negative")
            ban = np.zeros(max(n_items, int(banned.max()) + 1), dtype=np.bool_)
            ban[banned] = True
    return r_off, c_off, indptr, indices, ex_rows, ban


def _vector(values, size: int, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float32).ravel()
    if arr.size != size:
        raise ValueError(f"{what}_offset has {arr.size} values, expected {size}")
    return arr


_LAUNCH_LOCK = threading.Lock()


@contextmanager
def _parallel_launch():
    """Serialise parallel kernel launches when numba runs on its workqueue layer.

    OpenMP and TBB accept launches from several Python threads at once (a web service's
    workers); numba's fallback workqueue layer does not, so there calls take turns.
    """
    try:
        layer = numba.threading_layer()
    except ValueError:  # nothing parallel has run yet: the layer is not chosen
        layer = "unknown"
    if layer in ("omp", "tbb"):
        yield
    else:
        with _LAUNCH_LOCK:
            yield


_BLAS_LOCK = threading.Lock()
_BLAS_STATE: dict = {"controller": None, "users": 0, "limiter": None}


class _BlasOneThread:
    """Limit BLAS to one thread while any caller is inside; nested and thread-safe.

    The limit is process-wide, so concurrent callers share one: the first in sets it, the
    last out restores the original thread counts (a plain threadpoolctl context per caller
    could restore in the wrong order and leave BLAS single-threaded).
    """

    def __enter__(self):
        with _BLAS_LOCK:
            if _BLAS_STATE["users"] == 0:
                _BLAS_STATE["limiter"] = _BLAS_STATE["controller"].limit(limits=1, user_api="blas")
            _BLAS_STATE["users"] += 1
        return self

    def __exit__(self, *exc):
        with _BLAS_LOCK:
            _BLAS_STATE["users"] -= 1
            if _BLAS_STATE["users"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None
        return False


def _single_threaded_blas():
    """A context limiting BLAS to one thread, or ``None`` without threadpoolctl."""
    if _BLAS_STATE["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            return None
        # numba's np.dot calls SciPy's BLAS: load it before the controller looks.
        import scipy.linalg.cython_blas  # noqa: F401

        with _BLAS_LOCK:
            if _BLAS_STATE["controller"] is None:
                _BLAS_STATE["controller"] = ThreadpoolController()
    return _BlasOneThread()
