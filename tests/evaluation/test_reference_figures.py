"""Metric values against figures computed by independent libraries.

The numbers below were computed once, outside this project, with pytrec_eval (trec_eval's
own C code), ranx and rectools on the same inputs, and are kept here as known answers, so
the suite needs none of those libraries.  Where a definition differs by choice (average
precision's denominator), the test states the relation between the two figures.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from latentrec.evaluation import (
    average_popularity,
    gini_exposure,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)

# Five users over 8 items, k = 4; every edge case once.
RECOMMENDED = np.array(
    [
        [0, 1, 2, 3, 4],  # 3 relevant (< k), hits at ranks 2 and 4
        [5, -1, -1, -1, -1],  # a list of one item: a hit at rank 1, then empty slots
        [-1, -1, -1, -1, -1],  # an empty list for a user with a relevant item
        [7, 6, 5, 4, 3],  # no held-out item at all
        [2, 0, 7, 1, 6],  # 7 relevant (> k), hits at ranks 1, 2, 4 (and 5, past k)
    ]
)
RELEVANT = [{1, 3, 6}, {5, 0}, {2}, set(), {0, 1, 2, 3, 4, 5, 6}]
K = 4

# pytrec_eval 0.5.11 (P.4, recall.4, ndcg_cut.4, success.4, map_cut.4); ranx 0.3.21 gave
# the same numbers to the last digit.  User 3 has no relevant item: trec_eval skips it.
TREC = {
    "precision": [0.5, 0.25, 0.0, np.nan, 0.75],
    "recall": [0.6666666666666666, 0.5, 0.0, np.nan, 0.42857142857142855],
    "ndcg": [0.49818925746641285, 0.6131471927654584, 0.0, np.nan, 0.8048099750039491],
    "hit_rate": [1.0, 1.0, 0.0, np.nan, 1.0],
    "map_cut": [0.3333333333333333, 0.5, 0.0, np.nan, 0.39285714285714285],
}
METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
}


def _relevant() -> sp.csr_matrix:
    dense = np.zeros((len(RELEVANT), 8))
    for u, items in enumerate(RELEVANT):
        dense[u, sorted(items)] = 1.0
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("name", list(METRICS))
def test_ranking_metrics_give_trec_evals_figures(name):
    got = METRICS[name](RECOMMENDED, _relevant(), K, per_user=True)
    np.testing.assert_allclose(got, TREC[name], rtol=1e-12, atol=0)
    # The mean leaves out the user without a relevant item, as trec_eval does, and
    # counts the one with an empty list as 0, as trec_eval -c does.
    assert METRICS[name](RECOMMENDED, _relevant(), K) == pytest.approx(np.nanmean(TREC[name]))


def test_average_precision_divides_by_min_relevant_k_where_trec_eval_divides_by_relevant():
    got = map_at_k(RECOMMENDED, _relevant(), K, per_user=True)
    n_rel = np.array([len(r) for r in RELEVANT], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        as_trec = got * np.minimum(n_rel, K) / n_rel
    np.testing.assert_allclose(as_trec, TREC["map_cut"], rtol=1e-12)
    # The two agree for users with at most k relevant items and differ for the last one:
    # hits at ranks 1, 2, 4 give (1 + 1 + 3/4) / min(7, 4) here and / 7 in trec_eval.
    assert got[4] == pytest.approx(2.75 / 4) and TREC["map_cut"][4] == pytest.approx(2.75 / 7)


# rectools 0.19 documents these two inputs and answers in its docstrings; our functions
# take them as item indices (items 1, 2, 3 -> 0, 1, 2) and popularity over the history.
# History: user 1 saw items 1, 2; user 2 saw 1; user 3 saw 1, so n_users = 3.
def test_novelty_gives_rectools_mean_inverse_user_frequency():
    popularity = np.array([3, 1, 0])  # item 3 unseen: counted as seen by one user
    rec = np.array([[2, -1], [1, 2], [0, 1]])  # user 1: [3]; user 2: [2, 3]; user 3: [1, 2]
    at_1 = novelty(rec, popularity, n_users=3, k=1, per_user=True)
    at_3 = novelty(rec, popularity, n_users=3, k=3, per_user=True)
    np.testing.assert_allclose(at_1, [1.5849625, 1.5849625, 0.0], atol=1e-7)
    np.testing.assert_allclose(at_3, [1.5849625, 1.5849625, 0.79248125], atol=1e-7)


def test_average_popularity_gives_rectools_average_recommendation_popularity():
    # History: user 1 saw items 1, 2; user 2 saw 1, 3; user 3 saw 1, 2.
    popularity = np.array([3.0, 2.0, 1.0])
    rec = np.array([[0, 1, -1], [2, 0, 1], [2, 1, -1]])
    np.testing.assert_allclose(average_popularity(rec, popularity, 1, per_user=True), [3, 1, 1])
    np.testing.assert_allclose(
        average_popularity(rec, popularity, 3, per_user=True), [2.5, 2.0, 1.5]
    )


def test_gini_counts_never_shown_items_as_recboles_gini_index_does():
    rng = np.random.default_rng(3)
    rec = np.array([rng.choice(12, 4, replace=False) for _ in range(9)])
    n_items = 30  # 18 or more items are never shown
    counts = np.sort(np.bincount(rec.ravel(), minlength=n_items))
    # RecBole's GiniIndex: shown items take the top ranks of all n_items.
    shown = counts[counts > 0]
    idx = np.arange(n_items - shown.size + 1, n_items + 1)
    recbole = np.sum((2 * idx - n_items - 1) * shown) / rec.size / n_items
    assert gini_exposure(rec, n_items, 4) == pytest.approx(recbole, abs=1e-12)
    # And the definition by mean absolute difference over all items, zeros included.
    mad = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * n_items**2 * counts.mean())
    assert gini_exposure(rec, n_items, 4) == pytest.approx(mad, abs=1e-12)
