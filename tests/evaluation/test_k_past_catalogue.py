"""A cut-off a user can type (``k = 2**31 - 1`` or ``sys.maxsize``: "the whole list")
gets the answer the formulas give, not a MemoryError: nothing wider than the lists (at most the
catalogue) is built.  Each figure is checked against the same metric at a cut-off just
past the catalogue, where every formula but precision's is already constant in ``k``."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.evaluation import beyond, cross_validate, evaluate_ranking
from latentrec.evaluation import metrics as M
from latentrec.models import BiasedMF

# The reported 2**31 - 1 would be 16 GiB a user, which a machine may grant and then
# thrash on; sys.maxsize is as natural a "whole list" and fails at once if it is built.
HUGE = sys.maxsize


def _data():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 12)) < 0.5) * rng.integers(1, 6, (30, 12))
    return Interactions.from_dense(dense)


def _fitted():
    train, test = random_split(_data(), 0.3, random_state=0)
    return BiasedMF(n_factors=2, n_epochs=2, random_state=0, verbose=False).fit(train), test


def test_ranking_metrics_at_a_huge_k_match_the_formulas():
    model, test = _fitted()
    near = model.n_items + 3  # past the catalogue, small enough to pad for real
    rec = model.recommend_batch_idx(np.arange(model.n_users), near)[0]
    rel = test.matrix
    for name in ("recall_at_k", "ndcg_at_k", "map_at_k", "hit_rate_at_k"):
        fn = getattr(M, name)
        assert fn(rec, rel, HUGE) == pytest.approx(fn(rec, rel, near)), name
        np.testing.assert_allclose(
            fn(rec, rel, HUGE, per_user=True), fn(rec, rel, near, per_user=True)
        )
    # precision divides the same hits by k itself
    assert M.precision_at_k(rec, rel, HUGE) == pytest.approx(
        M.precision_at_k(rec, rel, near) * near / HUGE
    )
    assert M.catalog_coverage(rec, model.n_items, HUGE) == M.catalog_coverage(
        rec, model.n_items, near
    )


def test_ndcg_ideal_reaches_past_a_short_list():
    # One slot given, three relevant items, k huge: the ideal list holds three hits.
    rel = Interactions.from_dense(np.array([[1, 1, 1, 0]])).matrix
    rec = np.array([[3]])
    assert M.ndcg_at_k(rec, rel, HUGE) == 0.0
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert M.ndcg_at_k(np.array([[0]]), rel, HUGE) == pytest.approx(1 / ideal)


def test_evaluate_ranking_and_cross_validate_take_a_huge_k():
    model, test = _fitted()
    near = model.n_items + 3
    got, want = evaluate_ranking(model, test, k=HUGE), evaluate_ranking(model, test, k=near)
    for name in ("recall", "ndcg", "map", "hit_rate", "coverage", "n_users"):
        assert got[name] == pytest.approx(want[name]), name
    assert got["precision"] == pytest.approx(want["precision"] * near / HUGE)
    table = evaluate_ranking(model, test, k=HUGE, per_user=True)
    assert f"recall@{HUGE}" in table.columns
    cv = cross_validate(
        BiasedMF(n_factors=2, n_epochs=2, verbose=False), _data(), 2, task="ranking", k=HUGE
    )
    assert len(cv.folds) == 2 and (cv.folds["recall"] == 1.0).all()


def test_beyond_accuracy_metrics_take_a_huge_k():
    model, _ = _fitted()
    rec = model.recommend_batch_idx(np.arange(6), 4)[0]
    vectors, pop = model.item_factors_, model.catalog_.item_popularity
    genres = np.eye(12)[:, :3]
    history = _data().matrix[:6]
    checks = [
        lambda k: beyond.intra_list_diversity(rec, item_vectors=vectors, k=k, per_user=True),
        lambda k: beyond.intra_list_diversity(rec, item_genres=genres, k=k, per_user=True),
        lambda k: beyond.novelty(rec, pop, 30, k, per_user=True),
        lambda k: beyond.average_popularity(rec, pop, k, per_user=True),
        lambda k: beyond.gini_exposure(rec, 12, k),
        lambda k: beyond.miscalibration(rec, history, genres, k, per_user=True),
    ]
    for check in checks:
        np.testing.assert_allclose(check(HUGE), check(15))
