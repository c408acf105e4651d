"""Accuracy and ranking metrics as plain, vectorised functions over arrays.

Rating metrics (:func:`rmse`, :func:`mae`) compare two aligned 1-D arrays.

Ranking metrics take:

* ``recommended``: a 2-D integer array ``(n_users, L)`` of item indices in rank order,
  best first; ``-1`` marks an empty slot (a user with fewer than ``L`` recommendations).
  A row must not repeat an item.  Indices are columns of ``relevant``
  (``model.items_.index(ids)``; ``model.recommend_batch_idx(users, L)[0]`` gives them),
  not raw item ids: MovieLens' ids 1..1682 read as indices would shift every item by
  one, which no check here can see.
* ``relevant``: a SciPy sparse matrix ``(n_users, n_items)`` (or an ``Interactions``,
  whose ``matrix`` is used) whose stored cells are each user's relevant (held-out)
  items; the stored values are ignored (to count only good ratings as relevant, pass
  e.g. ``test.matrix >= 4``), so an explicitly stored 0 is relevant too, where a
  trec_eval qrels file would call it not relevant: call ``eliminate_zeros()`` first if
  a 0 means "not relevant".  Row ``u`` belongs to ``recommended[u]``.
* ``k``: only the first ``k`` columns of ``recommended`` count.  ``k`` may exceed ``L``
  (and the catalogue: ``k = 2**31 - 1`` is the whole list): the missing columns count as
  empty slots, and each metric keeps ``k`` in its formula (precision divides by ``k``)
  but builds nothing wider than ``L``.

With ``per_user=True`` a ranking metric returns one float per row, NaN for users with
no relevant items; otherwise the mean over the users that have at least one relevant
item (users without any are excluded, not counted as zero).  If no user has a relevant
item the mean is undefined and a ``ValueError`` is raised.

Training items are not filtered here: pass recommendations that already exclude them
(as :mod:`latentrec.retrieval` does).

The definitions are trec_eval's (``P.k``, ``recall.k``, ``ndcg_cut.k`` with binary
gain, ``success.k``) and give its figures, and ranx's, to rounding: users without a
relevant item are left out, as trec_eval leaves out queries without one, and a user
with relevant items but a short or empty list scores its misses as 0, as
``trec_eval -c`` does.  The one choice that differs is the denominator of average
precision: :func:`map_at_k` divides by ``min(|relevant|, k)`` (the truncated AP of
Kaggle's ``apk``), while trec_eval's ``map_cut.k``, ranx's ``map@k`` and rectools'
``MAP`` divide by ``|relevant|``; so for a user with more than ``k`` relevant items
ours is larger by ``|relevant| / k``.  rectools' ``NDCG`` divides by the DCG of ``k``
hits unless ``divide_by_achievable=True``; ours is the achievable ideal.  Relevance is
binary: graded gains are not supported.  Ties in score are not seen here: a row is
already in rank order (models break ties by the lower item index).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from ..models._training import check_bool

__all__ = [
    "catalog_coverage",
    "hit_rate_at_k",
    "mae",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "rmse",
]


# ---------------------------------------------------------------------- rating errors
def rmse(y_true, y_pred) -> float:
    """Root mean squared error between true and predicted ratings.

    Example:
        >>> rmse([3.0, 4.0, 5.0], [2.0, 4.0, 5.0])  # sqrt((1 + 0 + 0) / 3)
        0.5773502691896257
    """
    t, p = _check_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error between true and predicted ratings.

    Example:
        >>> mae([3.0, 4.0, 5.0], [2.0, 4.5, 5.0])  # (1 + 0.5 + 0) / 3
        0.5
    """
    t, p = _check_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


# ---------------------------------------------------------------------- ranking
def precision_at_k(recommended, relevant, k: int, *, per_user: bool = False):
    """Share of the ``k`` slots that hold a relevant item: hits / ``k``.

    The denominator is always ``k``, also for users with fewer than ``k``
    recommendations or fewer than ``k`` relevant items; empty slots count as misses.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> rec = np.array([[0, 1, 2], [3, -1, -1]])
        >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1]]))
        >>> precision_at_k(rec, rel, 3, per_user=True).tolist()  # [2/3, 1/3]
        [0.6666666666666666, 0.3333333333333333]
    """
    hits, n_rel = _hits(recommended, relevant, k)
    values = hits.sum(axis=1) / k
    return _finish(values, n_rel, per_user)


def recall_at_k(recommended, relevant, k: int, *, per_user: bool = False):
    """Share of the user's relevant items found in the top ``k``: hits / ``|relevant|``.

    The denominator is the full number of relevant items (the standard definition), so
    a user with more than ``k`` relevant items cannot reach 1.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> rec = np.array([[0, 1, 2]])
        >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 1]]))
        >>> recall_at_k(rec, rel, 3)  # items 0 and 2 of {0, 2, 3}
        0.6666666666666666
    """
    hits, n_rel = _hits(recommended, relevant, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = hits.sum(axis=1) / n_rel
    return _finish(values, n_rel, per_user)


def ndcg_at_k(recommended, relevant, k: int, *, per_user: bool = False):
    """Normalised discounted cumulative gain with binary relevance.

    ``DCG = sum over hit ranks r (1-based) of 1 / log2(r + 1)``; the ideal DCG puts
    ``min(|relevant|, k)`` hits in the first ranks.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> rec = np.array([[5, 0, 1]])
        >>> rel = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]]))
        >>> ndcg_at_k(rec, rel, 3)  # one hit at rank 2: (1 / log2(3)) / (1 / log2(2))
        0.6309297535714575
    """
    hits, n_rel = _hits(recommended, relevant, k)
    # The ideal list may be longer than the given one (up to min(|rel|, k) hits), never
    # longer than the catalogue; discounts past both would be all of k.
    depth = max(hits.shape[1], int(np.minimum(n_rel, k).max(initial=0)))
    discount = 1.0 / np.log2(np.arange(2, depth + 2))
    dcg = hits @ discount[: hits.shape[1]]
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[np.minimum(n_rel, k)]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = dcg / ideal
    return _finish(values, n_rel, per_user)


def map_at_k(recommended, relevant, k: int, *, per_user: bool = False):
    """Mean average precision: ``AP@k = sum over hit ranks i of precision@i / min(|rel|, k)``.

    The denominator ``min(|rel|, k)`` makes a perfect top ``k`` score 1 however many
    items are relevant (Kaggle's ``apk``).  trec_eval's ``map_cut.k`` and ranx's
    ``map@k`` divide by ``|rel|`` instead: multiply a user's value by
    ``min(|rel|, k) / |rel|`` to get theirs, so ours is ``|rel| / k`` times theirs for a
    user with more than ``k`` relevant items.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> rec = np.array([[0, 1, 2]])
        >>> rel = sp.csr_matrix(np.array([[0, 1, 1, 1]]))
        >>> map_at_k(rec, rel, 3)  # hits at ranks 2, 3: (1/2 + 2/3) / min(3, 3)
        0.38888888888888884
    """
    hits, n_rel = _hits(recommended, relevant, k)
    ranks = np.arange(1, hits.shape[1] + 1)
    precision_at_i = np.cumsum(hits, axis=1) / ranks
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (precision_at_i * hits).sum(axis=1) / np.minimum(n_rel, k)
    return _finish(values, n_rel, per_user)


def hit_rate_at_k(recommended, relevant, k: int, *, per_user: bool = False):
    """1.0 for a user with at least one relevant item in the top ``k``, else 0.0.

    Example:
        >>> import numpy as np, scipy.sparse as sp
        >>> rec = np.array([[0, 1], [2, 3]])
        >>> rel = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0]]))
        >>> hit_rate_at_k(rec, rel, 2)  # user 0 hits item 1, user 1 misses
        0.5
    """
    hits, n_rel = _hits(recommended, relevant, k)
    values = hits.any(axis=1).astype(np.float64)
    return _finish(values, n_rel, per_user)


def catalog_coverage(recommended, n_items: int, k: int) -> float:
    """Share of the ``n_items`` catalogue that appears in at least one user's top ``k``.

    Example:
        >>> import numpy as np
        >>> rec = np.array([[0, 1, 2], [0, 3, -1]])
        >>> catalog_coverage(rec, n_items=8, k=2)  # {0, 1, 3} of 8 items
        0.375
    """
    n_items = check_count(n_items, "n_items")
    top = check_recommended(recommended, n_items, check_count(k, "k"))
    shown = np.zeros(n_items, dtype=bool)
    shown[top[top >= 0]] = True
    return float(np.count_nonzero(shown) / n_items)


# ---------------------------------------------------------------------- helpers
def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D, got {t.ndim} dimensions")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty: the error of nothing is undefined")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(
                f"{name} has {np.count_nonzero(bad)} NaN or infinite value(s), "
                f"first at position {int(np.flatnonzero(bad)[0])}"
            )
    return t, p


def check_count(value, name: str) -> int:
    """``value`` as an int, or a ValueError naming ``name`` unless it is a positive integer.

    Example:
        >>> check_count(10, "k")
        10
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_recommended(recommended, n_items: int, k: int) -> np.ndarray:
    """The first ``k`` columns of a users x ranks array of item indices (-1: an empty slot),
    after checking that every value is an item index and that no list repeats an item.
    Shared by every list metric.  Not padded up to ``k``: a ``k`` past the lists' length
    (``2**31 - 1``, say) adds only empty slots, which every metric counts as such without
    building them.

    Example:
        >>> check_recommended(np.array([[2, 0, 1], [1, -1, -1]]), n_items=3, k=2).tolist()
        [[2, 0], [1, -1]]
        >>> check_recommended(np.array([[2, 0], [1, -1]]), n_items=3, k=2**31 - 1).shape
        (2, 2)
    """
    try:
        rec = np.asarray(recommended)
    except ValueError:  # NumPy's words for lists of different lengths
        lengths = sorted({len(row) for row in recommended})
        raise ValueError(
            f"recommended must be a users x ranks array, but its lists differ in length "
            f"({lengths[0]} to {lengths[-1]}); pad the short ones with -1 (an empty slot)"
        ) from None
    if rec.ndim != 2:
        raise ValueError(
            f"recommended must be a 2-D array (users x ranks), got {rec.ndim} dimensions"
        )
    if rec.dtype.kind not in "iu":
        raise ValueError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    if rec.dtype.kind == "u":
        # Checked before the cast to int64, which wraps a uint64 past its range: 2**64 - 1
        # would become -1, an empty slot, and the item it names would vanish unsaid.
        over = rec[:, :k] >= n_items
        if over.any():
            row, col = np.argwhere(over)[0]
            raise ValueError(
                f"recommended[{row}, {col}] = {rec[row, col]} is not an item index in "
                f"[0, {n_items}) nor -1 (empty slot)"
            )
    top = rec[:, :k].astype(np.int64)
    bad = (top < -1) | (top >= n_items)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"recommended[{row}, {col}] = {top[row, col]} is not an item index in "
            f"[0, {n_items}) nor -1 (empty slot)"
        )
    ordered = np.sort(top, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        row, col = np.argwhere(repeated)[0]
        raise ValueError(
            f"recommended row {row} lists item {ordered[row, col + 1]} more than once in "
            f"its top {k}; a list shows an item once"
        )
    return top


def _hits(recommended, relevant, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``hits[u, j]``: is the item at rank ``j`` relevant to user ``u`` (``min(k, L)``
    columns: the ranks past the given lists are empty); and ``|rel_u|``."""
    k = check_count(k, "k")
    rel = _as_relevance_csr(relevant)
    n_users, n_items = rel.shape
    top = check_recommended(recommended, n_items, k)
    if top.shape[0] != n_users:
        raise ValueError(
            f"recommended has {top.shape[0]} rows but relevant has {n_users}; "
            "row u of both must describe the same user"
        )
    # In a canonical CSR, row * n_items + column is strictly increasing over the stored
    # cells, so one binary search over those keys tests every (user, item) at once.
    rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(rel.indptr))
    rel_keys = rows * n_items + rel.indices
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + top
    if rel_keys.size:
        pos = np.minimum(np.searchsorted(rel_keys, rec_keys), rel_keys.size - 1)
        hits = (rel_keys[pos] == rec_keys) & (top >= 0)
    else:
        hits = np.zeros(top.shape, dtype=bool)
    return hits, np.diff(rel.indptr).astype(np.int64)


def _as_relevance_csr(relevant) -> sp.csr_matrix:
    matrix = getattr(relevant, "matrix", relevant)  # an Interactions holds its CSR here
    if not sp.issparse(matrix):
        raise TypeError(
            "relevant must be a scipy.sparse matrix (users x items) or an Interactions, "
            f"got {type(relevant).__name__}"
        )
    if matrix.ndim != 2:
        # SciPy's 1-D sparse arrays would otherwise fail later, in words about unpacking.
        raise ValueError(
            f"relevant must be a 2-D users x items matrix, got {matrix.ndim} dimension(s) "
            f"(shape {matrix.shape})"
        )
    rel = sp.csr_matrix(matrix)
    if not rel.has_canonical_format:
        # Repeated cells would count an item twice in |relevant|; merge them.
        rel = rel.copy()
        rel.sum_duplicates()
    return rel


def _finish(values: np.ndarray, n_rel: np.ndarray, per_user: bool):
    check_bool("per_user", per_user)  # "no" is truthy: it would give the per-user array
    values = np.where(n_rel > 0, values, np.nan).astype(np.float64)
    if per_user:
        return values
    if not (n_rel > 0).any():
        raise ValueError(
            "no user has a relevant item, so the mean is undefined; "
            "pass per_user=True to get NaN per user"
        )
    return float(np.nanmean(values))
