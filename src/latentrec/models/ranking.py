"""Ranking: top-n per user with seen items excluded and a popularity fallback, written once.

:class:`Ranking` is the part of :class:`~latentrec.models.base.Recommender` that turns a
model's scores into ranked lists: one user (``recommend``), many (``recommend_batch``,
``recommend_batch_idx``) and all of them streamed to a file (``recommend_all``).  It asks
the model only for ``_score_block`` (or a faster ``_topk_users``), ``_can_personalise``
and ``_popularity_scores``.  :func:`reads_fitted` pins every read to one fitted state.
"""

from __future__ import annotations

import functools
from collections import abc

import numpy as np
import pandas as pd

from .. import retrieval
from ..io.tables import TableWriter
from ._training import progress
from .results import Recommendations


def reads_fitted(method):
    """Run a read operation on one snapshot of the model's fitted state.

    The method gets a pinned view of the model whose ``Fitted`` reference cannot change
    while it runs, however many learned attributes it reads; a concurrent update is seen
    by the next call.  Nested calls on the view reuse it.

    Example:
        >>> from latentrec.models import Recommender
        >>> class Toy(Recommender):
        ...     @reads_fitted
        ...     def on_view(self):
        ...         return self.__dict__.get("_pinned", False)
        >>> Toy().on_view()
        True
    """

    @functools.wraps(method)
    def on_snapshot(self, *args, **kwargs):
        if self.__dict__.get("_pinned"):
            return method(self, *args, **kwargs)
        return method(self.pinned(), *args, **kwargs)

    return on_snapshot


def check_n(n) -> None:
    """Raise a ValueError unless ``n`` (a list length) is a positive integer.

    Example:
        >>> check_n(3)
        >>> try:
        ...     check_n(0)
        ... except ValueError as err:
        ...     print(err)
        n must be a positive integer, got 0
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def id_array(values) -> np.ndarray:
    """Raw ids as a 1-D array: a list, tuple, array, Series or Index as it is, a set, a
    dict's keys or a generator as its ids (NumPy would make one object of it, an id
    nobody has, and the caller would get the popularity list for it), one id as one.

    Example:
        >>> id_array({7}).tolist(), id_array(u for u in [1, 2]).tolist(), id_array("ann").tolist()
        ([7], [1, 2], ['ann'])
    """
    if is_id_collection(values):
        values = list(values)
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1:
        # pandas would say "Index data must be 1-dimensional" from deep in a lookup.
        raise ValueError(f"ids must be a flat list of ids, got an array of shape {arr.shape}")
    return arr


def is_id_collection(values) -> bool:
    """Whether ``values`` is several ids (a sized or lazy collection, not one id).

    Example:
        >>> is_id_collection({1, 2}), is_id_collection([1]), is_id_collection("ann")
        (True, True, False)
    """
    lazy = (set, frozenset, abc.KeysView, abc.ValuesView, abc.Iterator)
    return isinstance(values, lazy) or np.ndim(values) != 0


def check_one_id(value, method: str, batch: str) -> None:
    """Raise a TypeError naming ``batch`` when ``value`` is a collection of ids, not one.

    Example:
        >>> check_one_id("ann", "recommend", "recommend_batch(user_ids, n)")
        >>> try:
        ...     check_one_id([1, 2], "recommend", "recommend_batch(user_ids, n)")
        ... except TypeError as err:
        ...     print(err)
        recommend takes one id, got a list of 2; for many use recommend_batch(user_ids, n)
    """
    if isinstance(value, (list, tuple, set, frozenset, dict)) or np.ndim(value) != 0:
        size = len(value) if hasattr(value, "__len__") else np.size(value)
        raise TypeError(
            f"{method} takes one id, got a {type(value).__name__} of {size}; for many use {batch}"
        )


def index_array(
    values, size: int, name: str, allow_unknown: bool = False, mask: bool = False
) -> np.ndarray:
    """``values`` as int64 internal indices in ``[0, size)`` (or ``[-1, size)``), checked:
    whole numbers only (:func:`latentrec.retrieval.whole_indices`), the first one out of
    range named with its position.  With ``mask=True`` a boolean array of at least
    ``size`` entries is accepted too, as the indices of its true entries (none past
    ``size``).  An empty array, of any dtype, is no indices.

    Example:
        >>> index_array([2, 0], 3, "item_idx").tolist()
        [2, 0]
        >>> index_array(np.array([True, False, True]), 3, "filter_items", mask=True).tolist()
        [0, 2]
        >>> try:
        ...     index_array([0, 3], 3, "item_idx")
        ... except IndexError as err:
        ...     print(err)
        item_idx must lie in [0, 3), got 3 at position 1
    """
    arr = np.atleast_1d(np.asarray(values))
    if arr.size == 0:
        # Empty, of any dtype (an empty boolean array included): no indices, as always.
        return np.empty(0, dtype=np.int64)
    if arr.dtype.kind == "b" and mask:
        # At least one entry per item, as select_topk takes a mask: a longer one (built
        # over a padded array) is the same mask, so long as nothing past the items is set.
        if arr.ndim != 1 or arr.size < size:
            raise ValueError(
                f"{name} as a boolean mask needs at least one entry per item ({size}), got "
                f"shape {arr.shape}; pass a mask over the items or the indices of its true "
                "entries (np.flatnonzero(mask))"
            )
        idx = np.flatnonzero(arr).astype(np.int64)
        if idx.size and idx[-1] >= size:
            past = int(idx[idx >= size][0])
            raise IndexError(f"{name} as a boolean mask marks entry {past}, past the {size} items")
        return idx
    if arr.dtype.kind == "b":
        raise ValueError(
            f"{name} must be a 1-D array of integer indices, not a boolean mask; pass "
            "np.flatnonzero(mask)"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer indices, got shape {arr.shape}")
    arr = retrieval.whole_indices(arr, name)
    low = -1 if allow_unknown else 0
    out = (arr < low) | (arr >= size)
    if out.any():
        pos = int(np.flatnonzero(out)[0])
        raise IndexError(f"{name} must lie in [{low}, {size}), got {arr[pos]} at position {pos}")
    return arr


def long_table(raw_users, item_ids, idx, vals, fallback) -> pd.DataFrame:
    """Top-n arrays as the long table of ``recommend_batch``, one row per filled slot.

    ``idx`` / ``vals`` are ``(users, n)`` item indices and scores with empty slots -1
    (filled slots first in each row), ``raw_users`` and ``fallback`` one per row, and
    ``item_ids`` maps an item index to its raw id.

    Example:
        >>> import numpy as np
        >>> t = long_table(np.array(["a", "b"]), np.array([10, 20]), np.array([[1, 0], [0, -1]]),
        ...                np.array([[0.5, 0.25], [0.75, -np.inf]]), np.array([False, True]))
        >>> t.to_dict("list")["item_id"], t.to_dict("list")["rank"]
        ([20, 10, 10], [1, 2, 1])
    """
    # Filled slots are a prefix of each row, so a slot's column is its rank - 1.
    rows, cols = np.nonzero(idx >= 0)
    return pd.DataFrame(
        {
            "user_id": raw_users[rows],
            "rank": cols + 1,
            "item_id": item_ids[idx[rows, cols]],
            "score": vals[rows, cols],
            "fallback": fallback[rows],
        }
    )


class Ranking:
    """Ranked lists from a model's scores (mixed into ``Recommender``)."""

    @reads_fitted
    def recommend(
        self,
        user_id,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items=None,
        filter_items=None,
    ) -> Recommendations:
        """Top-``n`` items for one user, best first.

        Seen items are excluded unless ``exclude_seen=False``; ``items`` restricts the
        candidates, ``filter_items`` removes more.  Asking for more items than remain
        returns fewer.

        An unknown user (or one with no history) gets the most popular items, in order of
        popularity, with ``fallback=True``; so does a user whose history the model cannot
        use (a HybridMF user whose every rating is below its ``min_rating``), their seen
        items still excluded.  Their scores are not popularity counts, which
        would sit in the score column beside model scores of another scale (452.0 next to
        0.22): a model that predicts ratings gives what it predicts for a user it does not
        know, μ + b_i (``predict(..., unknown="baseline")``), so the scores stay ratings
        (and need not fall with the rank); a model that predicts no ratings (ImplicitALS,
        BPR, WARP, HybridMF, ...) gives NaN, since it has no score for such a user.
        :meth:`recommend_batch` and :meth:`recommend_all` carry the flag on every row.

        ``user_id`` is one id: a list, tuple, set or array of ids is a TypeError that
        points to :meth:`recommend_batch` (read as one id it would be unknown and get the
        popularity list).

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> Popularity().fit(data).recommend(0, n=5).ids.tolist()
            [1]
            >>> from latentrec.models import Biases
            >>> rec = Biases().fit(Interactions.from_dense(np.array([[5, 3], [4, 0]])))
            >>> rec = rec.recommend("nobody", n=2)
            >>> rec.fallback, rec.ids.tolist(), bool(rec.scores[0] > rec.scores[1])
            (True, [0, 1], True)
        """
        self.check_fitted()
        check_n(n)
        check_one_id(user_id, "recommend", "recommend_batch(user_ids, n)")
        u = self.users_.lookup([user_id])
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        keep = idx[0] >= 0
        return self.catalog_.recommendations(idx[0][keep], vals[0][keep], fallback[0])

    @reads_fitted
    def recommend_batch(
        self, user_ids, n: int = 10, *, exclude_seen: bool = True, items=None, filter_items=None
    ) -> pd.DataFrame:
        """Top-``n`` for many users at once, as a long table.

        Columns: ``user_id``, ``rank`` (1-based), ``item_id``, ``score``, ``fallback``
        (True on the rows of a user who got the popularity list; its scores are as in
        :meth:`recommend`).
        Users are scored in tiles through BLAS and the best items are picked by a parallel
        kernel that skips seen and filtered items, so memory stays bounded.  The rows for
        each user equal ``recommend(user_id, n, ...)`` (scores up to float32 rounding: BLAS
        may round a dot product's last bit differently in a product of another shape); a
        user with fewer eligible items gets fewer rows.  :meth:`recommend_batch_idx` is the
        same in internal indices and :meth:`recommend_all` streams every user to a file.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> Popularity().fit(data).recommend_batch([0, 1], n=1)["item_id"].tolist()
            [1, 2]
        """
        self.check_fitted()
        check_n(n)
        raw = id_array(user_ids)
        u = self.users_.lookup(raw)
        idx, vals, fallback = self._recommend_idx(u, n, exclude_seen, items, filter_items)
        return self._long_table(raw, idx, vals, fallback)

    def _long_table(self, raw_users, idx, vals, fallback) -> pd.DataFrame:
        return long_table(raw_users, self.items_.ids, idx, vals, fallback)

    @reads_fitted
    def recommend_batch_idx(
        self,
        user_idx,
        n: int = 10,
        *,
        exclude_seen: bool = True,
        items=None,
        filter_items=None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-``n`` as arrays of internal indices: the low-level form of ``recommend_batch``.

        Everything is in internal indices (``users_.index(...)``, ``items_.index(...)``):
        ``user_idx`` (-1 for an unknown user, who gets the popularity fallback),
        ``items`` (candidates) and ``filter_items`` (exclusions), each indices or an
        item-length boolean mask.  Indices are whole numbers in range (a float such as
        ``2.0`` is item 2; ``0.9`` or an index past the catalogue is a ValueError or
        IndexError naming it).  Nothing is converted to raw ids, which makes it the
        fastest form for evaluation and serving.

        Returns:
            ``(item_idx, scores, fallback)``: int32 and float32 arrays of shape
            ``(len(user_idx), min(n, n_candidates))``, best first, ties broken by the lower
            item index, short rows padded with -1 / -inf; and a bool array saying which
            users got the popularity fallback.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> data = Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]]))
            >>> idx, scores, fallback = Popularity().fit(data).recommend_batch_idx([0, -1], 2)
            >>> idx.tolist(), fallback.tolist()
            ([[1, -1], [0, 1]], [False, True])
        """
        self.check_fitted()
        check_n(n)
        u = index_array(user_idx, self.n_users, "user_idx", allow_unknown=True)
        cand = None if items is None else index_array(items, self.n_items, "items", mask=True)
        banned = (
            None
            if filter_items is None
            else index_array(filter_items, self.n_items, "filter_items", mask=True)
        )
        return self._topk_idx(u, n, exclude_seen, cand, banned)

    def _recommend_idx(self, u, n, exclude_seen=True, items=None, filter_items=None):
        """Top-n item indices for user indices ``u`` (-1 = unknown); raw-id restrictions."""
        cand = None if items is None else self.items_.index(items).astype(np.int64)
        banned = None if filter_items is None else self.items_.index(filter_items)
        return self._topk_idx(np.asarray(u, dtype=np.int64), n, exclude_seen, cand, banned)

    def _topk_idx(self, u, n, exclude_seen, cand, banned):
        n_cols = self.n_items if cand is None else np.unique(cand).size
        n_eff = min(n, n_cols)
        has_history = np.zeros(u.size, dtype=bool)
        known = u >= 0
        has_history[known] = self._can_personalise(u[known])
        if n_eff and u.size and has_history.all():
            # Every user is personal (all users of a training set, say): their top-n is
            # the answer, with no second pair of arrays as large (8 MiB at 100k users).
            p_idx, p_vals = self._topk_users(u, n_eff, exclude_seen, cand, banned)
            return (
                p_idx.astype(np.int32, copy=False),
                p_vals.astype(np.float32, copy=False),
                ~has_history,
            )
        idx = np.full((u.size, n_eff), -1, dtype=np.int32)
        vals = np.full((u.size, n_eff), -np.inf, dtype=np.float32)
        if n_eff == 0:
            return idx, vals, ~has_history
        personal = np.flatnonzero(has_history)
        if personal.size:
            p_idx, p_vals = self._topk_users(u[personal], n_eff, exclude_seen, cand, banned)
            idx[personal] = p_idx
            vals[personal] = p_vals
        rest = np.flatnonzero(~has_history)
        if rest.size:
            # Users without history have no seen items: they all share one popularity list.
            pop = np.asarray(self._popularity_scores(), dtype=np.float32)
            if cand is not None:
                cand_sorted = np.unique(cand)
                pop, col_items = pop[cand_sorted], cand_sorted
            else:
                col_items = None
            f_idx, f_vals = retrieval.select_topk(
                pop[None, :], n_eff, items=col_items, banned=banned
            )
            filled = f_idx[0] >= 0
            f_vals[0, filled] = self._fallback_scores(f_idx[0, filled].astype(np.int64))
            idx[rest] = f_idx[0]
            vals[rest] = f_vals[0]
            if exclude_seen:
                self._fallback_skipping_seen(u, rest, pop, col_items, banned, idx, vals)
        return idx, vals, ~has_history

    def _fallback_skipping_seen(self, u, rest, pop, col_items, banned, idx, vals) -> None:
        """Rewrite the fallback rows ``rest`` of ``idx`` / ``vals`` whose user has seen
        items: the popularity list without them.

        A user the model cannot personalise may have a history all the same (a HybridMF
        user whose every rating is below ``min_rating``): the shared list offered them
        the very items they rated one star.
        """
        known = rest[u[rest] >= 0]
        with_seen = known[np.diff(self.seen_.indptr)[u[known]] > 0]
        step = retrieval.block_size(pop.size, with_seen.size)
        for start in range(0, with_seen.size, step):
            rows = with_seen[start : start + step]
            s_idx, s_vals = retrieval.select_topk(
                np.broadcast_to(pop, (rows.size, pop.size)),
                idx.shape[1],
                items=col_items,
                exclude=self.seen_,
                exclude_rows=u[rows],
                banned=banned,
            )
            filled = s_idx >= 0
            s_vals[filled] = self._fallback_scores(s_idx[filled].astype(np.int64))
            idx[rows] = s_idx
            vals[rows] = s_vals

    def _topk_users(self, u, k, exclude_seen, cand, banned):
        """Best ``k`` item indices for known users ``u`` from ``_score_block`` in blocks."""
        cand_sorted = None if cand is None else np.unique(cand)
        idx = np.empty((u.size, k), dtype=np.int32)
        vals = np.empty((u.size, k), dtype=np.float32)
        step = retrieval.block_size(self.n_items, u.size)
        for start in range(0, u.size, step):
            block_u = u[start : start + step]
            scores = self._score_block(block_u)
            if cand_sorted is not None:
                scores = scores[:, cand_sorted]
            b_idx, b_vals = retrieval.select_topk(
                scores,
                k,
                items=cand_sorted,
                exclude=self.seen_ if exclude_seen else None,
                exclude_rows=block_u,
                banned=banned,
            )
            idx[start : start + step, : b_idx.shape[1]] = b_idx
            vals[start : start + step, : b_vals.shape[1]] = b_vals
        return idx, vals

    @reads_fitted
    def recommend_all(
        self,
        path,
        n: int = 10,
        users=None,
        exclude_seen: bool = True,
        *,
        items=None,
        filter_items=None,
        chunk_size: int = 65_536,
        verbose: bool | None = None,
    ) -> int:
        """Stream the top-``n`` of every user (or of ``users``) to a Parquet or CSV file.

        Users are processed ``chunk_size`` at a time and each chunk is appended to the
        file, so memory stays bounded however many users there are.  A progress bar shows
        the users done: with ``verbose=None`` in a terminal or notebook once the run takes
        a few seconds, with ``True`` always, with ``False`` never.  The format follows the
        suffix: ``.parquet`` / ``.pq`` (needs pyarrow) or ``.csv`` (optionally compressed,
        e.g. ``.csv.gz``).  The columns are those of :meth:`recommend_batch`.  The file is
        written under a temporary name beside ``path`` and renamed at the end, so an
        interrupted run never leaves a partial table under ``path``: it keeps the old file
        (or stays absent).  An exception removes the temporary file; a process killed
        outright (SIGTERM, SIGKILL: the library sets no handler) leaves it, hidden, as
        ``.NAME.*.tmp``.

        Returns:
            The number of rows written.

        Example:
            >>> import numpy as np, os, tempfile
            >>> import pandas as pd
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> model = Popularity().fit(Interactions.from_dense(np.array([[1, 0, 1], [1, 1, 0]])))
            >>> path = os.path.join(tempfile.mkdtemp(), "top.csv")
            >>> model.recommend_all(path, n=2, verbose=False)
            2
            >>> pd.read_csv(path)["item_id"].tolist()
            [1, 2]
        """
        self.check_fitted()
        check_n(n)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        writer = TableWriter(path)
        raw = self.users_.ids if users is None else id_array(users)
        u_all = self.users_.lookup(raw)
        cand = None if items is None else self.items_.index(items).astype(np.int64)
        banned = None if filter_items is None else self.items_.index(filter_items)
        with (
            writer,
            progress(total=raw.size, unit="user", desc="recommend_all", verbose=verbose) as bar,
        ):
            # At least one chunk, so that an empty selection still writes the header.
            for start in range(0, max(raw.size, 1), chunk_size):
                sl = slice(start, start + chunk_size)
                idx, vals, fallback = self._topk_idx(u_all[sl], n, exclude_seen, cand, banned)
                writer.write(self._long_table(raw[sl], idx, vals, fallback))
                bar.update(raw[sl].size)
        return writer.rows

    @reads_fitted
    def item_title(self, item_id) -> str | None:
        """Title of one item when the training data carried titles.

        Example:
            >>> import numpy as np
            >>> from latentrec import Interactions
            >>> from latentrec.models import Popularity
            >>> Popularity().fit(Interactions.from_dense(np.eye(2))).item_title(0) is None
            True
        """
        self.check_fitted()
        if self.item_titles_ is None:
            return None
        return str(self.item_titles_[self.items_.index([item_id])[0]])
