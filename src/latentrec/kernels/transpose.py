"""The column-major view of a CSR matrix, built a block of columns at a time.

An item half-step of ALS needs the ratings item by item (items x users in CSR form).
``scipy``'s ``tocsc`` builds all of it at once: at 10⁷ ratings 80 MiB beside the
user-major matrix for the whole fit.  :func:`column_counts` counts the cells of every
column once, and :func:`column_block` fills the transposed rows of columns
``lo:hi`` only, so a fit holds one block (a fraction of that) at a time.  Within a
column the rows come in increasing order, as ``tocsc`` gives them, so a solver sees
each column's cells in the same order and computes the same numbers.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def column_counts(indices, n_cols):  # pragma: no cover - compiled
    """The number of cells in each column (int64): ``bincount`` without an int64 copy.

    Example:
        >>> import numpy as np
        >>> column_counts(np.array([2, 0, 2], np.int32), 4).tolist()
        [1, 0, 2, 0]
    """
    counts = np.zeros(n_cols, dtype=np.int64)
    for n in range(indices.shape[0]):
        counts[indices[n]] += 1
    return counts


@njit(cache=True, nogil=True)
def column_block(indptr, indices, data, lo, hi, out_ptr, out_rows, out_data):  # pragma: no cover
    """Fill columns ``lo:hi`` of a CSR matrix as CSR rows (their cells' row numbers).

    ``out_ptr`` (int64, ``hi - lo + 1``) must hold the block's row pointers, starting
    at 0 (a cumulative sum of :func:`column_counts`); ``out_rows`` and ``out_data``
    (at least ``out_ptr[-1]`` long) receive the row numbers and values, rows increasing
    within each column.  One pass over the matrix; its rows need not be sorted.  (The
    cost is the scattered writes, as in ``tocsc``: skipping to each row's first column
    of the block, or splitting the columns between threads, measured no faster.)

    Example:
        >>> import numpy as np
        >>> indptr = np.array([0, 2, 3], np.int64)
        >>> indices = np.array([0, 2, 2], np.int32)
        >>> data = np.array([1.0, 2.0, 3.0], np.float32)
        >>> ptr, rows, vals = np.array([0, 0, 2]), np.empty(2, np.int32), np.empty(2, np.float32)
        >>> column_block(indptr, indices, data, 1, 3, ptr, rows, vals)
        >>> rows.tolist(), vals.tolist()
        ([0, 1], [2.0, 3.0])
    """
    fill = out_ptr[:-1].copy()
    for r in range(indptr.shape[0] - 1):
        for n in range(indptr[r], indptr[r + 1]):
            j = indices[n]
            if lo <= j < hi:
                pos = fill[j - lo]
                out_rows[pos] = r
                out_data[pos] = data[n]
                fill[j - lo] = pos + 1


def block_edges(indptr: np.ndarray, bounds: np.ndarray, max_cells: int) -> np.ndarray:
    """Positions in ``bounds`` that group its row chunks into blocks of <= ``max_cells``.

    ``bounds`` are chunk boundaries over the rows of ``indptr`` (as
    :func:`~latentrec.kernels.implicit_als.row_chunks` gives them); each block is a run
    of whole chunks holding at most ``max_cells`` cells, or one chunk where a single
    chunk holds more.  Returns int64 positions from 0 to ``len(bounds) - 1``.

    Example:
        >>> import numpy as np
        >>> indptr = np.array([0, 3, 4, 8, 9, 10])
        >>> block_edges(indptr, np.array([0, 1, 2, 3, 5]), 4).tolist()
        [0, 2, 3, 4]
    """
    cells = np.asarray(indptr)[np.asarray(bounds)]
    last = cells.shape[0] - 1
    edges = [0]
    while edges[-1] < last:
        c0 = edges[-1]
        c1 = int(np.searchsorted(cells, cells[c0] + max_cells, side="right")) - 1
        edges.append(min(max(c1, c0 + 1), last))
    return np.array(edges, dtype=np.int64)
