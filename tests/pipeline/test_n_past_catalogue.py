"""A pipeline asked for ``n = 2**31 - 1`` or ``sys.maxsize`` ("every item") answers with
every item it would show, as a model does, instead of allocating users x 2**31 slots: its
arrays are at most the catalogue wide, and the lists are those of an ``n`` just past the
catalogue."""

from __future__ import annotations

import sys

import numpy as np

from latentrec import datasets
from latentrec.data.splits import random_split
from latentrec.evaluation import evaluate_ranking
from latentrec.models import BiasedMF, Popularity
from latentrec.pipeline import MMR, Pipeline, Rules

# The reported 2**31 - 1 would be 16 GiB a user, which a machine may grant and then
# thrash on; sys.maxsize is as natural a "whole list" and fails at once if it is built.
HUGE = sys.maxsize


def _pipe(rerankers=lambda train: []):
    data = datasets.synthetic(40, 15, 250, random_state=0)
    train, test = random_split(data, 0.25, random_state=0)
    models = [BiasedMF(n_factors=2, n_epochs=2, random_state=0, verbose=False), Popularity()]
    pipe = Pipeline(models, rerankers=rerankers(train), n_candidates=50).fit(train)
    return pipe, train, test


def test_recommend_with_a_huge_n_is_every_item_it_would_show():
    pipe, train, _ = _pipe(lambda train: [MMR(0.7), Rules(pin={train.items.ids[3]: 2})])
    near = pipe.n_items + 3
    for user in [train.users.ids[0], train.users.ids[7], "nobody"]:
        got, want = pipe.recommend(user, n=HUGE), pipe.recommend(user, n=near)
        assert got.ids.tolist() == want.ids.tolist()
        np.testing.assert_array_equal(got.scores, want.scores)
        assert got.fallback == want.fallback
    table = pipe.recommend_batch(train.users.ids[:5], n=HUGE)
    assert table.equals(pipe.recommend_batch(train.users.ids[:5], n=near))
    idx, vals, _ = pipe.recommend_batch_idx(np.arange(5), n=HUGE)
    assert idx.shape == vals.shape == (5, pipe.n_items)


def test_evaluate_ranking_of_a_pipeline_takes_a_huge_k():
    pipe, _, test = _pipe()
    got = evaluate_ranking(pipe, test, k=HUGE)
    want = evaluate_ranking(pipe, test, k=pipe.n_items + 3)
    assert got["recall"] == want["recall"] and got["n_users"] == want["n_users"]
