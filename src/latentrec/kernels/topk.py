"""Top-k selection with per-row exclusions: a small heap per row, one thread per row or tile.

Scores come either from the caller (:func:`topk_rows`, any dense block) or from a BLAS
product computed tile by tile inside the kernel (:func:`topk_dot`): a tile is a block of
users by a block of items, small enough that its scores are still in the core's cache
when they are selected, and no users x items matrix or mask is ever built.

Each row keeps a heap of its ``k`` best (score, item) pairs with the worst at the root.  A
cell is looked at closely only when it beats the current k-th best, and a chunk of cells is
first tested as a whole with a vectorised loop, so most cells cost a compare.  Columns are
visited by increasing item index, which makes ties go to the lower item index for free: a
later cell with the same score as the worst kept one never displaces it.  Excluded items of
a row (its seen items) are a sorted CSR row walked with one pointer, and only for cells
that would enter the heap.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Cells tested together before any of them is looked at one by one.
CHUNK = 64


@njit(cache=True, inline="always")
def _worse(val, idx, a, b):  # pragma: no cover - compiled
    # Entry a ranks below entry b: lower score, or the same score and a higher item index.
    return val[a] < val[b] or (val[a] == val[b] and idx[a] > idx[b])


@njit(cache=True, inline="always")
def _swap(val, idx, a, b):  # pragma: no cover - compiled
    tv = val[a]
    ti = idx[a]
    val[a] = val[b]
    idx[a] = idx[b]
    val[b] = tv
    idx[b] = ti


@njit(cache=True, inline="always")
def _sift_down(val, idx, pos, size):  # pragma: no cover - compiled
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and _worse(val, idx, child + 1, child):
            child += 1
        if not _worse(val, idx, child, pos):
            return
        _swap(val, idx, pos, child)
        pos = child


@njit(cache=True, inline="always")
def _sift_up(val, idx, pos):  # pragma: no cover - compiled
    while pos > 0:
        parent = (pos - 1) // 2
        if not _worse(val, idx, pos, parent):
            return
        _swap(val, idx, pos, parent)
        pos = parent


@njit(cache=True, inline="always")
def _any_above(row, col_offset, c0, c1, row_offset, threshold):  # pragma: no cover - compiled
    # Unsigned bounds spare every access numba's negative-index check, so LLVM vectorises.
    hit = False
    for c in range(np.uint64(c0), np.uint64(c1)):
        hit = hit | (((row[c] + col_offset[c]) + row_offset) > threshold)
    return hit


@njit(cache=True, nogil=True)
def _select_cols(
    row, row_offset, col_offset, col_item, c_base, excluded, p, size, banned, val, idx
):  # pragma: no cover - compiled
    """Offer the cells of ``row`` (columns ``c_base ..``) to one row's heap.

    The heap is ``val``/``idx`` with ``size`` entries, the worst at the root; ``excluded``
    is the row's sorted excluded items and ``p`` how far into it earlier columns got.
    Returns the new ``(p, size)``, so a row can be fed in column blocks.
    """
    k = val.shape[0]
    if k == 0:
        return p, size
    n_cols = row.shape[0]
    mapped = col_item.shape[0] > 0
    use_banned = banned.shape[0] > 0
    n_excl = excluded.shape[0]
    threshold = val[0] if size == k else np.float32(-np.inf)
    for c0 in range(0, n_cols, CHUNK):
        c1 = min(c0 + CHUNK, n_cols)
        if size == k and not _any_above(row, col_offset, c0, c1, row_offset, threshold):
            continue
        for c in range(np.uint64(c0), np.uint64(c1)):
            v = (row[c] + col_offset[c]) + row_offset
            if not (v > threshold):  # also drops NaN
                continue
            col = c_base + np.int64(c)
            item = col_item[col] if mapped else col
            if use_banned and banned[item]:
                continue
            while p < n_excl and excluded[p] < item:
                p += 1
            if p < n_excl and excluded[p] == item:
                continue
            if size < k:
                val[size] = v
                idx[size] = item
                _sift_up(val, idx, size)
                size += 1
                if size == k:
                    threshold = val[0]
            else:
                val[0] = v
                idx[0] = item
                _sift_down(val, idx, 0, k)
                threshold = val[0]
    return p, size


@njit(cache=True, nogil=True)
def _finish_row(val, idx, size):  # pragma: no cover - compiled
    # Heap sort: moving the worst to the back leaves the row best first.
    for end in range(size - 1, 0, -1):
        _swap(val, idx, 0, end)
        _sift_down(val, idx, 0, end)
    for j in range(size, val.shape[0]):
        val[j] = np.float32(-np.inf)
        idx[j] = -1


@njit(cache=True, parallel=True, nogil=True)
def topk_rows(
    scores,
    row_offset,
    col_offset,
    col_item,
    excl_indptr,
    excl_indices,
    excl_row,
    banned,
    out_idx,
    out_val,
):  # pragma: no cover - compiled
    """Best ``k = out_idx.shape[1]`` items of every row of a dense score block.

    Args:
        scores: (m, c) float32; column ``j`` stands for item ``col_item[j]`` (``col_item``
            empty: item ``j``).  ``col_item`` must be increasing.
        row_offset: (m,) float32 added to each row; col_offset: (c,) float32 added to each
            column first.  A cell's score is ``(scores + col_offset) + row_offset``.
        excl_indptr, excl_indices: a CSR of excluded items, sorted within each row.
        excl_row: (m,) the CSR row whose items row ``r`` skips; -1 skips nothing.
        banned: (n_items,) bool, items no row returns (empty: none).
        out_idx, out_val: (m, k) int32 / float32 results, best first, ties by the lower
            item; a row with fewer than ``k`` eligible items ends with -1 / -inf.  Cells
            scoring -inf or NaN are never returned.
    """
    for r in prange(scores.shape[0]):
        er = excl_row[r]
        lo = excl_indptr[er] if er >= 0 else 0
        hi = excl_indptr[er + 1] if er >= 0 else 0
        val = out_val[r]
        idx = out_idx[r]
        _, size = _select_cols(
            scores[r],
            row_offset[r],
            col_offset,
            col_item,
            0,
            excl_indices[lo:hi],
            0,
            0,
            banned,
            val,
            idx,
        )
        _finish_row(val, idx, size)


@njit(cache=True, parallel=True, nogil=True)
def topk_dot(
    queries,
    query_rows,
    targets,
    row_offset,
    col_offset,
    col_item,
    excl_indptr,
    excl_indices,
    excl_row,
    banned,
    tile_rows,
    tile_cols,
    out_idx,
    out_val,
):  # pragma: no cover - compiled
    """Best ``k`` items of ``queries[query_rows] @ targets.T`` (+ offsets) for every row.

    One thread takes ``tile_rows`` query rows at a time and walks the items in blocks of
    ``tile_cols``: each block's scores come from one BLAS ``sgemm`` (call it with BLAS
    limited to one thread) into a buffer small enough to stay in the core's cache, and are
    selected from at once; a row's heap and its place in its excluded items carry over
    from block to block.  Every other argument is as in :func:`topk_rows`, with
    ``targets`` (c, f) the factor rows of the candidate columns.
    """
    m = query_rows.shape[0]
    c = targets.shape[0]
    n_tiles = (m + tile_rows - 1) // tile_rows
    for t in prange(n_tiles):
        start = t * tile_rows
        stop = min(start + tile_rows, m)
        n_rows = stop - start
        block = np.empty((n_rows, queries.shape[1]), dtype=queries.dtype)
        for a in range(n_rows):
            block[a] = queries[query_rows[start + a]]
        buffer = np.empty(n_rows * min(tile_cols, c), dtype=np.float32)
        pos = np.zeros(n_rows, dtype=np.int64)
        sizes = np.zeros(n_rows, dtype=np.int64)
        for c0 in range(0, c, tile_cols):
            c1 = min(c0 + tile_cols, c)
            scores = buffer[: n_rows * (c1 - c0)].reshape((n_rows, c1 - c0))
            np.dot(block, targets[c0:c1].T, scores)
            col_seg = col_offset[c0:c1]
            for a in range(n_rows):
                r = start + a
                er = excl_row[r]
                lo = excl_indptr[er] if er >= 0 else 0
                hi = excl_indptr[er + 1] if er >= 0 else 0
                pos[a], sizes[a] = _select_cols(
                    scores[a],
                    row_offset[r],
                    col_seg,
                    col_item,
                    c0,
                    excl_indices[lo:hi],
                    pos[a],
                    sizes[a],
                    banned,
                    out_val[r],
                    out_idx[r],
                )
        for a in range(n_rows):
            _finish_row(out_val[start + a], out_idx[start + a], sizes[a])
