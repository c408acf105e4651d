"""Metrics: hand-computed values, a slow reference, properties and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from latentrec.data import Interactions
from latentrec.evaluation import (
    catalog_coverage,
    hit_rate_at_k,
    mae,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)

RANKING = [precision_at_k, recall_at_k, ndcg_at_k, map_at_k, hit_rate_at_k]
NAN = float("nan")


# ---------------------------------------------------------------------- rating errors
def test_rmse_and_mae_by_hand():
    y_true = [1.0, 2.0, 3.0, 4.0]
    y_pred = [2.0, 2.0, 1.0, 4.0]
    # errors 1, 0, -2, 0: squares sum to 5, absolutes to 3
    assert rmse(y_true, y_pred) == pytest.approx(math.sqrt(5 / 4))
    assert mae(y_true, y_pred) == pytest.approx(3 / 4)
    assert rmse(y_true, y_true) == 0.0 and mae(y_true, y_true) == 0.0


@pytest.mark.parametrize("metric", [rmse, mae])
def test_rating_errors_reject_bad_input(metric):
    with pytest.raises(ValueError, match="shape"):
        metric([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="1-D"):
        metric([[1.0]], [[1.0]])
    with pytest.raises(ValueError, match="y_pred has 1 NaN"):
        metric([1.0, 2.0], [1.0, NAN])
    with pytest.raises(ValueError, match="y_true has 1 NaN or infinite"):
        metric([np.inf, 2.0], [1.0, 2.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=30))
def test_mae_never_exceeds_rmse(pairs):
    t, p = np.array(pairs).T
    assert 0.0 <= mae(t, p) <= rmse(t, p) + 1e-12


# ---------------------------------------------------------------------- hand-computed ranking
# 4 users, 5 items, k = 3.
#   user 0: recommended [0, 3, 1], relevant {1, 2} -> hit at rank 3 only
#   user 1: recommended [4, -, -], relevant {2, 4} -> hit at rank 1, two empty slots
#   user 2: recommended [1, 0, 2], relevant {}     -> no relevant items: NaN, excluded
#   user 3: recommended [0, 1, 2], relevant {3}    -> no hit
REC = np.array([[0, 3, 1], [4, -1, -1], [1, 0, 2], [0, 1, 2]])
REL = sp.csr_matrix(
    np.array(
        [
            [0, 1, 1, 0, 0],
            [0, 0, 1, 0, 1],
            [0, 0, 0, 0, 0],
            [0, 0, 0, 1, 0],
        ]
    )
)
L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)

EXPECTED_AT_3 = {
    # hits / k
    precision_at_k: [1 / 3, 1 / 3, NAN, 0.0],
    # hits / |rel|
    recall_at_k: [1 / 2, 1 / 2, NAN, 0.0],
    # DCG / ideal DCG; ideal puts min(|rel|, 3) hits first
    ndcg_at_k: [(1 / L4) / (1 / L2 + 1 / L3), (1 / L2) / (1 / L2 + 1 / L3), NAN, 0.0],
    # sum of precision@i at hit ranks / min(|rel|, 3)
    map_at_k: [(1 / 3) / 2, (1 / 1) / 2, NAN, 0.0],
    hit_rate_at_k: [1.0, 1.0, NAN, 0.0],
}


@pytest.mark.parametrize("metric", RANKING, ids=lambda m: m.__name__)
def test_ranking_metrics_by_hand_at_3(metric):
    expected = np.array(EXPECTED_AT_3[metric])
    got = metric(REC, REL, 3, per_user=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    # the mean skips user 2, who has nothing relevant
    assert metric(REC, REL, 3) == pytest.approx(np.nanmean(expected))


def test_ranking_metric_values_by_hand():
    # Spelled out so a wrong formula cannot hide behind the table above.
    assert precision_at_k(REC, REL, 3) == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert recall_at_k(REC, REL, 3) == pytest.approx((0.5 + 0.5 + 0) / 3)
    # user 0: 0.5 / 1.6309 = 0.30657; user 1: 1 / 1.6309 = 0.61315; user 3: 0
    assert ndcg_at_k(REC, REL, 3) == pytest.approx((0.306574 + 0.613147) / 3, abs=1e-6)
    assert map_at_k(REC, REL, 3) == pytest.approx((1 / 6 + 1 / 2) / 3)
    assert hit_rate_at_k(REC, REL, 3) == pytest.approx(2 / 3)


def test_ranking_metrics_by_hand_at_1():
    # Only the first column counts: user 0 recommends 0 (miss), user 1 recommends 4 (hit).
    assert precision_at_k(REC, REL, 1, per_user=True)[[0, 1, 3]].tolist() == [0.0, 1.0, 0.0]
    # recall of user 1 at 1: 1 hit of 2 relevant
    assert recall_at_k(REC, REL, 1, per_user=True)[[0, 1, 3]].tolist() == [0.0, 0.5, 0.0]
    # ideal DCG at 1 is 1: user 1 scores exactly 1
    assert ndcg_at_k(REC, REL, 1, per_user=True)[[0, 1, 3]].tolist() == [0.0, 1.0, 0.0]
    # AP@1 divides by min(|rel|, 1) = 1
    assert map_at_k(REC, REL, 1, per_user=True)[[0, 1, 3]].tolist() == [0.0, 1.0, 0.0]


def test_map_by_hand_two_hits():
    # recommended [2, 0, 1, 3], relevant {1, 2, 4}; hits at ranks 1 and 3
    # AP@4 = (1/1 + 2/3) / min(3, 4) = 5/9
    rec = np.array([[2, 0, 1, 3]])
    rel = sp.csr_matrix(np.array([[0, 1, 1, 0, 1]]))
    assert map_at_k(rec, rel, 4) == pytest.approx(5 / 9)
    # NDCG@4 = (1 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4)
    assert ndcg_at_k(rec, rel, 4) == pytest.approx(1.5 / (1.5 + 1 / L3))


def test_catalog_coverage_by_hand():
    # top 2: {0, 3} | {4} | {1, 0} | {0, 1} -> {0, 1, 3, 4}, 4 of 5 items
    assert catalog_coverage(REC, 5, 2) == pytest.approx(0.8)
    assert catalog_coverage(REC, 5, 3) == 1.0
    assert catalog_coverage(REC, 10, 3) == 0.5
    assert catalog_coverage(np.full((2, 3), -1), 5, 3) == 0.0


def test_k_beyond_the_list_counts_missing_slots_as_empty():
    # k = 5 over 3 columns: user 0 has 1 hit, precision 1/5
    assert precision_at_k(REC, REL, 5, per_user=True)[0] == pytest.approx(1 / 5)
    assert recall_at_k(REC, REL, 5, per_user=True)[0] == pytest.approx(1 / 2)


def test_relevant_stored_values_are_ignored_and_duplicates_merged():
    # An explicit stored zero still marks a relevant item.
    rel = sp.csr_matrix((np.array([0.0, 5.0]), np.array([1, 2]), np.array([0, 2])), shape=(1, 5))
    assert recall_at_k(np.array([[1, 0]]), rel, 2) == pytest.approx(0.5)
    # A COO with a repeated cell counts that item once.
    coo = sp.coo_matrix((np.ones(3), ([0, 0, 0], [2, 2, 1])), shape=(1, 5))
    assert recall_at_k(np.array([[2, 0]]), coo, 2) == pytest.approx(0.5)
    # Unsorted column indices are handled.
    unsorted = sp.csr_matrix((np.ones(2), np.array([3, 1]), np.array([0, 2])), shape=(1, 5))
    assert precision_at_k(np.array([[1, 3]]), unsorted, 2) == 1.0


def test_thresholded_relevance_and_interactions_input():
    data = Interactions.from_dense(np.array([[5.0, 2.0, 0.0], [0.0, 4.0, 1.0]]))
    rec = np.array([[1, 0], [2, 1]])
    # every rated cell is relevant
    assert precision_at_k(rec, data, 2) == 1.0
    # only ratings >= 4 are relevant: user 0 {0}, user 1 {1}
    assert precision_at_k(rec, data.matrix >= 4, 2, per_user=True).tolist() == [0.5, 0.5]


def test_no_relevant_items_anywhere():
    rel = sp.csr_matrix((2, 4))
    rec = np.array([[0, 1], [2, 3]])
    for metric in RANKING:
        assert np.isnan(metric(rec, rel, 2, per_user=True)).all()
        with pytest.raises(ValueError, match="no user has a relevant item"):
            metric(rec, rel, 2)


@pytest.mark.parametrize("metric", RANKING, ids=lambda m: m.__name__)
def test_ranking_metrics_reject_bad_input(metric):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metric(REC, REL, 0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metric(REC, REL, 2.0)
    with pytest.raises(ValueError, match="integer item indices"):
        metric(REC.astype(float), REL, 2)
    with pytest.raises(ValueError, match="2-D"):
        metric(REC[0], REL, 2)
    with pytest.raises(ValueError, match=r"recommended\[1, 0\] = 5"):
        metric(np.where(REC == 4, 5, REC), REL, 2)
    with pytest.raises(ValueError, match="nor -1"):
        metric(np.where(REC == 4, -2, REC), REL, 2)
    with pytest.raises(ValueError, match="row 2 lists item 1 more than once"):
        metric(np.array([[0, 1], [2, 3], [1, 1], [2, 3]]), REL, 2)
    with pytest.raises(ValueError, match="3 rows but relevant has 4"):
        metric(REC[:3], REL, 2)
    with pytest.raises(TypeError, match="scipy.sparse"):
        metric(REC, REL.toarray(), 2)
    # Lists of different lengths: said so (NumPy spoke of an "inhomogeneous shape").
    ragged = [row[: 3 - r % 2].tolist() for r, row in enumerate(REC)]
    with pytest.raises(ValueError, match=r"lists differ in length \(2 to 3\); pad .* with -1"):
        metric(ragged, REL, 2)


@pytest.mark.parametrize("metric", RANKING, ids=lambda m: m.__name__)
def test_an_unsigned_index_past_int64_is_refused_not_read_as_an_empty_slot(metric):
    # Before: the cast to int64 wrapped 2**64 - 1 to -1, so the listed "item" was scored
    # as an empty slot, silently.
    full = np.array([[0, 3], [4, 2], [1, 0], [0, 1]])  # unsigned: no -1 for an empty slot
    rec = full.astype(np.uint64)
    rec[1, 0] = np.iinfo(np.uint64).max
    with pytest.raises(ValueError, match=rf"recommended\[1, 0\] = {2**64 - 1} is not an item"):
        metric(rec, REL, 2)
    with pytest.raises(ValueError, match="is not an item index"):
        catalog_coverage(rec, REL.shape[1], 2)
    # Unsigned indices in range are read as they are.
    assert metric(full.astype(np.uint64), REL, 2) == metric(full, REL, 2)


@pytest.mark.parametrize("metric", RANKING, ids=lambda m: m.__name__)
def test_a_one_dimensional_sparse_relevant_is_refused_by_name(metric):
    # Before: "not enough values to unpack (expected 2, got 1)".
    with pytest.raises(ValueError, match=r"^relevant must be a 2-D users x items matrix, got 1"):
        metric(REC[:1], sp.coo_array(REL.toarray()[0]), 2)


def test_repeats_after_k_and_repeated_empty_slots_are_fine():
    rec = np.array([[0, -1, -1, 0]])  # the repeat is outside the top 2
    rel = sp.csr_matrix(np.array([[1, 0]]))
    assert precision_at_k(rec, rel, 2) == 0.5


def test_catalog_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="n_items"):
        catalog_coverage(REC, 0, 2)
    with pytest.raises(ValueError, match="not an item index"):
        catalog_coverage(REC, 4, 3)  # item 4 is outside a 4-item catalogue
    with pytest.raises(ValueError, match="k must be"):
        catalog_coverage(REC, 5, -1)


def test_many_users_at_once():
    # The vectorised path on a larger case, checked against the slow reference.
    rng = np.random.default_rng(0)
    n_users, n_items, k = 2000, 300, 10
    rec = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    rec[rng.random((n_users, k)) < 0.1] = -1
    rel = sp.random(n_users, n_items, density=0.03, random_state=1, format="csr")
    for metric in RANKING:
        np.testing.assert_allclose(
            metric(rec, rel, k, per_user=True),
            _reference(metric, rec, _rows(rel), k),
            rtol=1e-12,
            equal_nan=True,
        )


# ---------------------------------------------------------------------- slow reference
def _rows(rel) -> list[set[int]]:
    rel = sp.csr_matrix(rel)
    return [
        set(rel.indices[rel.indptr[u] : rel.indptr[u + 1]].tolist()) for u in range(rel.shape[0])
    ]


def _reference(metric, rec, rel_sets, k) -> np.ndarray:
    out = []
    for row, rel in zip(rec.tolist(), rel_sets, strict=True):
        top = (row + [-1] * k)[:k]
        hits = [item >= 0 and item in rel for item in top]
        if not rel:
            out.append(NAN)
        elif metric is precision_at_k:
            out.append(sum(hits) / k)
        elif metric is recall_at_k:
            out.append(sum(hits) / len(rel))
        elif metric is hit_rate_at_k:
            out.append(float(any(hits)))
        elif metric is ndcg_at_k:
            dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits) if h)
            ideal = sum(1 / math.log2(i + 2) for i in range(min(len(rel), k)))
            out.append(dcg / ideal)
        else:
            ap = sum(sum(hits[: i + 1]) / (i + 1) for i, h in enumerate(hits) if h)
            out.append(ap / min(len(rel), k))
    return np.array(out, dtype=np.float64)


# ---------------------------------------------------------------------- properties
@st.composite
def _case(draw):
    n_items = draw(st.integers(1, 12))
    n_users = draw(st.integers(1, 6))
    width = draw(st.integers(1, 8))
    rec = np.full((n_users, width), -1, dtype=np.int64)
    rel = np.zeros((n_users, n_items))
    for u in range(n_users):
        items = draw(st.lists(st.integers(0, n_items - 1), unique=True, max_size=width))
        # empty slots may sit anywhere, not only at the end
        slots = draw(st.permutations(range(width)))[: len(items)]
        rec[u, slots] = items
        for i in draw(st.sets(st.integers(0, n_items - 1))):
            rel[u, i] = 1.0
    k = draw(st.integers(1, width + 2))
    return rec, sp.csr_matrix(rel), k


@settings(max_examples=200, deadline=None)
@given(_case())
def test_ranking_metrics_match_the_slow_reference(case):
    rec, rel, k = case
    rel_sets = _rows(rel)
    for metric in RANKING:
        per_user = metric(rec, rel, k, per_user=True)
        expected = _reference(metric, rec, rel_sets, k)
        np.testing.assert_allclose(per_user, expected, rtol=1e-12, atol=1e-15, equal_nan=True)
        # every defined value is a proportion
        defined = per_user[~np.isnan(per_user)]
        assert ((defined >= 0) & (defined <= 1 + 1e-12)).all()
        if defined.size:
            assert metric(rec, rel, k) == pytest.approx(defined.mean())


@settings(max_examples=100, deadline=None)
@given(_case())
def test_precision_times_k_counts_hits(case):
    rec, rel, k = case
    rel_sets = _rows(rel)
    hits = np.array(
        [
            sum(i >= 0 and i in s for i in row[:k])
            for row, s in zip(rec.tolist(), rel_sets, strict=True)
        ]
    )
    assume(any(rel_sets))
    p = precision_at_k(rec, rel, k, per_user=True)
    has = np.array([bool(s) for s in rel_sets])
    np.testing.assert_allclose(p[has] * k, hits[has], atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(_case(), st.randoms(use_true_random=False))
def test_perfect_ranking_scores_one(case, rnd):
    # Put each user's relevant items first (in any order), then fill with others.
    _, rel, k = case
    rel_sets = _rows(rel)
    n_items = rel.shape[1]
    rows = []
    for s in rel_sets:
        good = sorted(s)
        rnd.shuffle(good)
        rest = [i for i in range(n_items) if i not in s]
        rows.append((good + rest)[:n_items])
    rec = np.array(rows, dtype=np.int64)
    has = np.array([bool(s) for s in rel_sets])
    assume(has.any())
    assert ndcg_at_k(rec, rel, k) == pytest.approx(1.0)
    assert map_at_k(rec, rel, k) == pytest.approx(1.0)
    assert hit_rate_at_k(rec, rel, k) == 1.0
    sizes = np.array([len(s) for s in rel_sets])
    recall = recall_at_k(rec, rel, k, per_user=True)
    np.testing.assert_allclose(recall[has], np.minimum(sizes[has], k) / sizes[has])
    # every relevant item inside the top k: recall is exactly 1
    assert (recall[has & (sizes <= k)] == 1.0).all()


@settings(max_examples=60, deadline=None)
@given(_case(), st.randoms(use_true_random=False))
def test_user_order_does_not_matter(case, rnd):
    rec, rel, k = case
    order = list(range(rec.shape[0]))
    rnd.shuffle(order)
    for metric in RANKING:
        a = metric(rec, rel, k, per_user=True)
        b = metric(rec[order], rel[order], k, per_user=True)
        np.testing.assert_allclose(a[order], b, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(_case())
def test_catalog_coverage_matches_a_set_count(case):
    rec, rel, k = case
    n_items = rel.shape[1]
    shown = {i for row in rec[:, :k].tolist() for i in row if i >= 0}
    assert catalog_coverage(rec, n_items, k) == pytest.approx(len(shown) / n_items)
    assert 0.0 <= catalog_coverage(rec, n_items, k) <= 1.0


def test_the_documented_way_to_get_item_indices_gives_evaluate_rankings_figures():
    # The module docstring sends users to recommend_batch_idx for the indices.
    from conftest import random_ratings

    from latentrec.data.splits import user_split
    from latentrec.evaluation import evaluate_ranking
    from latentrec.models import Popularity

    train, test = user_split(random_ratings(n_users=25, n_items=15, seed=4), 0.3, random_state=0)
    model = Popularity().fit(train)
    users = np.flatnonzero(test.user_counts() > 0)
    recommended = model.recommend_batch_idx(users, 5)[0]
    got = ndcg_at_k(recommended, test.matrix[users], 5)
    assert got == pytest.approx(evaluate_ranking(model, test, 5)["ndcg"])
