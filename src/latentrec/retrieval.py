"""Top-k selection over blocks of scores, with seen/excluded items masked out."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Scores are produced in user blocks so that memory stays bounded: a block holds at most
# about this many float32 cells (64 MiB) whatever the catalogue size.
BLOCK_CELLS = 16 * 1024 * 1024


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
