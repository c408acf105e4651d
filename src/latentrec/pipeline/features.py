"""Candidate pools and their features: what the learned ranker sees for each (user, item).

:func:`candidate_pools` asks every candidate model for its top ``n_candidates`` per
user (through ``recommend_batch_idx``, seen items excluded), merges them into one pool
per user and describes each pooled item with :func:`feature_names`' columns:

* per candidate model ``j``: ``score_j`` (its ``score_users`` value, standardised over
  the user's pool, NaN where it has none), ``rank_j`` (1-based rank in its top list,
  ``n_candidates + 1`` when absent) and, for models with item biases, ``item_bias_j``;
* the item's ``popularity`` (the share of users with a history who had it) and
  ``age_days``;
* the user's ``activity`` (items in their history) and ``genre_match``: the user's
  genre mix (shares summing to 1) weighted by the item's genre shares.

Scores are standardised and popularity is a share so that a ranker trained on models
fitted on less data still applies when the models are refitted on more.

Without a ranker a pool is ordered by ``fused``: the model's score for one model (NaN
where it gave none: a missing score is no score, and the pipeline drops such an item
rather than rank it as a 0 above the model's negative scores), reciprocal-rank fusion
(``sum_j 1 / (60 + rank_j)`` over the models whose list holds the item, Cormack et al.
2009) for several.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..models import Popularity
from .context import Context, binary_pattern
from .history import Histories

__all__ = ["Pools", "candidate_pools", "feature_names"]

RRF_K = 60.0  # the constant of reciprocal-rank fusion
_BLOCK_CELLS = 1 << 22  # users x items scored at once


@dataclass(frozen=True)
class Pools:
    """Candidate pools of many users, flat: user ``b``'s items are
    ``items[indptr[b]:indptr[b + 1]]`` with the matching ``features`` rows and ``fused``.

    What :func:`candidate_pools` returns: ``users`` are the users' indices (-1 for one
    given by a history only), ``features`` has :func:`feature_names`' columns and
    ``fused`` is the order used without a ranker.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> from latentrec.pipeline.context import build_context
        >>> data = Interactions.from_dense(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]]))
        >>> model = Popularity().fit(data)
        >>> ctx = build_context(data, [model])
        >>> pools = candidate_pools([model], ctx, np.array([0, 2]), 5, ctx.seen)
        >>> pools.users.tolist(), pools.indptr.tolist(), pools.items.tolist()
        ([0, 2], [0, 2, 3], [1, 2, 0])
        >>> pools.features.shape == (3, len(feature_names([model])))
        True
    """

    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    features: np.ndarray
    fused: np.ndarray

    def of(self, b: int) -> slice:
        """The flat positions of the ``b``-th user's pool.

        Example:
            >>> import numpy as np
            >>> pools = Pools(np.array([4, 7]), np.array([0, 2, 3]), np.array([1, 5, 2]),
            ...               np.zeros((3, 1)), np.zeros(3))
            >>> pools.items[pools.of(1)].tolist()
            [2]
        """
        return slice(int(self.indptr[b]), int(self.indptr[b + 1]))


def feature_names(models) -> list[str]:
    """The ranker's feature columns for these candidate models, in order.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> feature_names([Popularity().fit(Interactions.from_dense(np.eye(2)))])[:2]
        ['score_0', 'rank_0']
    """
    names = []
    for j, model in enumerate(models):
        names += [f"score_{j}", f"rank_{j}"]
        if _item_bias(model) is not None:
            names.append(f"item_bias_{j}")
    return [*names, "popularity", "age_days", "activity", "genre_match"]


def _standardised(values: np.ndarray) -> np.ndarray:
    """Scores centred and scaled over one user's pool (NaN stays NaN): a refitted model's
    scores move in scale, their spread within a user's pool much less."""
    finite = np.isfinite(values)
    if not finite.any():
        return values
    centre = values[finite].mean()
    spread = values[finite].std()
    return (values - centre) / (spread if spread > 0 else 1.0)


def _item_bias(model):
    bias = getattr(model, "item_bias_", None) if model.is_fitted else None
    return None if bias is None else np.asarray(bias, dtype=np.float64)


def candidate_pools(
    models,
    context: Context,
    users,
    n_candidates: int,
    exclude: sp.csr_matrix | None = None,
    banned: np.ndarray | None = None,
) -> Pools:
    """The merged top-``n_candidates`` pool of each user in ``users`` (with history).

    ``users`` is an array of training user indices, whose history is the stored one and
    ``exclude`` (users x items) lists what each must not be offered beyond what the
    models exclude themselves; or a :class:`~latentrec.pipeline.history.Histories` batch,
    which carries both (``exclude`` is then not given). ``banned`` items are offered to
    nobody, nor are items nobody had in the history.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> from latentrec.pipeline.context import build_context
        >>> data = Interactions.from_dense(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]]))
        >>> model = Popularity().fit(data)
        >>> ctx = build_context(data, [model])
        >>> pools = candidate_pools([model], ctx, np.array([0]), 5, ctx.seen)
        >>> pools.items.tolist()
        [1, 2]
    """
    if isinstance(users, Histories):
        if exclude is not None:
            raise ValueError("a Histories batch carries its exclusions; pass exclude=None")
        batch = users
    else:
        if exclude is None:
            raise ValueError("exclude (users x items) is needed with user indices")
        batch = Histories.stored(context, users, exclude)
    n_items = context.n_items
    # Nobody had these in the history, so no model learned anything about them (in a
    # temporal split they come from the future): they are offered to nobody.
    banned_mask = context.item_popularity == 0
    if banned is not None and len(banned):
        banned_mask[np.asarray(banned, dtype=np.int64)] = True
    shares = context.genre_shares
    activity = batch.counts.astype(np.float64)
    n_active = max(int(np.count_nonzero(np.diff(context.history.indptr))), 1)
    biases = [_item_bias(m) for m in models]
    n_features = len(feature_names(models))
    block = max(1, _BLOCK_CELLS // max(n_items, 1))
    exclude_counts = np.diff(batch.exclude.indptr)

    indptr = [0]
    items_out, feats_out, fused_out = [], [], []
    for start in range(0, len(batch), block):
        rows = np.arange(start, min(start + block, len(batch)))
        lists = []  # per model: per user the kept item list
        scores = []
        for j, model in enumerate(models):
            kept, score = _model_lists(
                model, batch, j, rows, n_candidates, banned_mask, exclude_counts
            )
            lists.append(kept)
            scores.append(score)
        taste = None
        if shares is not None:
            hist = binary_pattern(batch.history[rows], (rows.size, n_items))
            taste = np.asarray((hist @ shares).todense())
            total = taste.sum(axis=1, keepdims=True)
            taste = np.divide(taste, total, out=np.zeros_like(taste), where=total > 0)
        for b, row in enumerate(rows.tolist()):
            pool = np.unique(np.concatenate([kept[b] for kept in lists]))
            feats = np.empty((pool.size, n_features), dtype=np.float64)
            col = 0
            fused = np.zeros(pool.size)
            for j in range(len(models)):
                rank = np.full(pool.size, n_candidates + 1.0)
                where = np.searchsorted(pool, lists[j][b])
                rank[where] = np.arange(1, lists[j][b].size + 1)
                feats[:, col] = _standardised(scores[j][b, pool])
                feats[:, col + 1] = rank
                col += 2
                if biases[j] is not None:
                    feats[:, col] = biases[j][pool]
                    col += 1
                # RRF sums over the lists that hold the item: an absent one adds nothing
                # (not 1 / (k + n_candidates + 1), which would favour items few lists hold).
                fused[where] += 1.0 / (RRF_K + np.arange(1, lists[j][b].size + 1))
            if len(models) == 1:
                # NaN stays NaN: read as 0 it ranked an item the model gave no score
                # above every item it scored below 0.
                fused = scores[0][b, pool].copy()
            feats[:, col] = context.item_popularity[pool] / n_active
            feats[:, col + 1] = context.item_age[pool]
            feats[:, col + 2] = activity[row]
            if taste is not None:
                feats[:, col + 3] = np.asarray(shares[pool] @ taste[b]).ravel()
            else:
                feats[:, col + 3] = np.nan
            items_out.append(pool)
            feats_out.append(feats)
            fused_out.append(fused)
            indptr.append(indptr[-1] + pool.size)
    users = batch.user_idx
    if not items_out:
        return Pools(
            users,
            np.zeros(1, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty((0, n_features)),
            np.empty(0),
        )
    return Pools(
        users,
        np.asarray(indptr, dtype=np.int64),
        np.concatenate(items_out),
        np.concatenate(feats_out),
        np.concatenate(fused_out),
    )


def scoring_modes(model, batch: Histories, j: int, rows: np.ndarray) -> np.ndarray:
    """Where model ``j``'s scores for each user at ``rows`` come from: ``"vector"`` (a
    folded vector given), ``"index"`` (its training state), ``"same"`` (it scores
    everyone alike: :class:`~latentrec.models.Popularity`) or ``"none"`` (skipped).

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Popularity
        >>> from latentrec.pipeline.context import build_context
        >>> ctx = build_context(Interactions.from_dense(np.eye(2)))
        >>> batch = Histories.stored(ctx, [0, -1])
        >>> scoring_modes(Popularity(), batch, 0, np.arange(2)).tolist()
        ['index', 'same']
    """
    u = batch.user_idx[rows]
    modes = np.where(u >= 0, "index", "same" if isinstance(model, Popularity) else "none")
    given = batch.vector_of(j)
    if given is not None:
        modes = np.where(np.asarray(given[2], bool)[rows], "vector", modes)
    return modes.astype(object)


def _model_lists(model, batch, j, rows, n_candidates, banned_mask, exclude_counts):
    """Model ``j``'s kept top list per user at ``rows`` and its scores (rows x items)."""
    n_items = banned_mask.size
    u = batch.user_idx[rows]
    modes = scoring_modes(model, batch, j, rows)
    kept = [np.empty(0, dtype=np.int64)] * rows.size
    score = np.full((rows.size, n_items), np.nan)
    extra_banned = int(banned_mask.sum())

    def keep(b: int, row: np.ndarray) -> None:
        row = row[row >= 0].astype(np.int64)
        e = batch.exclude
        out = e.indices[e.indptr[rows[b]] : e.indptr[rows[b] + 1]]
        row = row[~np.isin(row, out) & ~banned_mask[row]]
        kept[b] = row[:n_candidates]

    at = np.flatnonzero(modes == "index")
    if at.size:
        model_seen = np.diff(model.catalog_.seen.indptr)[u[at]]
        extra = np.maximum(exclude_counts[rows[at]] - model_seen, 0)
        k = int(min(n_candidates + extra.max(initial=0) + extra_banned, n_items))
        idx, _, _ = model.recommend_batch_idx(u[at], k)
        for b, r in enumerate(at.tolist()):
            keep(r, idx[b])
        score[at] = model.score_users(u[at])
    at = np.flatnonzero(modes == "vector")
    if at.size:
        bias, factors, _ = batch.vector_of(j)
        bias = np.asarray(bias, dtype=np.float32)[rows[at]]
        factors = np.asarray(factors, dtype=np.float32)[rows[at]]
        k = int(min(n_candidates + extra_banned, n_items))
        blocked = batch.exclude[rows[at]]
        idx, _ = model.recommend_vectors(bias, factors, k, exclude=blocked)
        for b, r in enumerate(at.tolist()):
            keep(r, idx[b])
        score[at] = model.score_vectors(bias, factors)
    at = np.flatnonzero(modes == "same")
    if at.size:
        k = int(min(n_candidates + exclude_counts[rows[at]].max() + extra_banned, n_items))
        idx, _, _ = model.recommend_batch_idx([-1], k)
        for r in at.tolist():
            keep(r, idx[0])
        score[at] = np.asarray(model.item_popularity_, dtype=np.float32)[None, :]
    return kept, score
