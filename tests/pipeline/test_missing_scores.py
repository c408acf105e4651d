"""A single-model pipeline without a ranker never ranks a candidate it has no score for.

Before: the candidate fusion filled a missing score (NaN) with 0, so an item the one
model listed but never scored came before every item it scored below 0.
"""

from __future__ import annotations

import numpy as np

from latentrec import Interactions
from latentrec.models.base import Recommender
from latentrec.pipeline import Pipeline, Rules

UNSCORED = 3


class _ListsUnscoredLast(Recommender):
    """Scores every item below 0 (-1 - index), except ``UNSCORED``, which it has no score
    for (NaN, as a neighbour model for an item without neighbours); its top list holds
    every unseen item, the unscored one last."""

    predicts_ratings = False

    def __init__(self):
        pass

    def _fit(self, data, validation) -> None:
        pass

    def _score_block(self, user_idx):
        scores = -1.0 - np.arange(self.n_items, dtype=np.float32)
        scores[UNSCORED] = np.nan
        return np.repeat(scores[None, :], len(user_idx), axis=0)

    def _topk_users(self, u, k, exclude_seen, cand, banned):
        idx = np.full((u.size, k), -1, dtype=np.int32)
        vals = np.full((u.size, k), -np.inf, dtype=np.float32)
        for r, user in enumerate(u.tolist()):
            scores = self._score_block(np.array([user]))[0]
            order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
            seen = self.seen_.indices[self.seen_.indptr[user] : self.seen_.indptr[user + 1]]
            order = order[~np.isin(order, seen)][:k]
            idx[r, : order.size] = order
            vals[r, : order.size] = scores[order]
        return idx, vals


def data() -> Interactions:
    # User 0 saw item 0; everyone else saw everything, so every item is known.
    R = np.ones((3, 6))
    R[0, 1:] = 0
    return Interactions.from_dense(R)


def reference(model, user: int, n: int) -> list[int]:
    """By hand: the unseen items the model scored, highest score first."""
    scores = model.score_users([user])[0].astype(np.float64)
    seen = set(model.seen_[user].indices.tolist())
    scored = [i for i in range(model.n_items) if i not in seen and not np.isnan(scores[i])]
    return sorted(scored, key=lambda i: -scores[i])[:n]


def test_an_unscored_candidate_never_comes_before_negative_scores():
    model = _ListsUnscoredLast().fit(data())
    assert UNSCORED in model.recommend_batch_idx([0], 5)[0][0]  # the model lists it
    pipe = Pipeline(model, n_candidates=10).fit(data())
    idx, vals, fallback = pipe.recommend_batch_idx(np.array([0]), n=5)
    assert not fallback[0]
    listed = idx[0][idx[0] >= 0].tolist()
    assert listed == reference(model, 0, 5) == [1, 2, 4, 5]
    # Every score shown is the model's own, all below 0; none is a stand-in 0.
    np.testing.assert_array_equal(vals[0][: len(listed)], model.score_users([0])[0][listed])
    assert (vals[0][: len(listed)] < 0).all()


def test_a_reranker_gets_only_scored_candidates():
    model = _ListsUnscoredLast().fit(data())
    pipe = Pipeline(model, rerankers=[Rules(bury=[1])], n_candidates=10).fit(data())
    rec = pipe.recommend(0, n=5)
    assert rec.ids.tolist() == [2, 4, 5, 1]
    assert np.isfinite(rec.scores).all() and (rec.scores < 0).all()
