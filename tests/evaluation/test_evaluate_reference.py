"""evaluate_ranking and cross_validate against slow, obvious re-computations.

evaluate_ranking is re-done by hand: every item scored, the user's training items set
aside, a stable sort (ties to the lower item index), and the metrics counted with sets;
cold users (no training cell) get the popularity list.  cross_validate's folds are
recorded from inside the fits.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

from latentrec import Interactions
from latentrec.data.splits import kfold, temporal_split, user_split
from latentrec.evaluation import cross_validate, evaluate_ranking, evaluate_ratings
from latentrec.models import Biases, ItemKNN, Popularity

K = 5


def _slow_metrics(ranked: list[int], relevant: set[int], k: int) -> dict[str, float]:
    """trec_eval's definitions, one user, by counting (MAP over min(|rel|, k))."""
    top = ranked[:k]
    hit_ranks = [r for r, item in enumerate(top, 1) if item in relevant]
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))
    return {
        "precision": len(hit_ranks) / k,
        "recall": len(hit_ranks) / len(relevant),
        "ndcg": sum(1 / math.log2(r + 1) for r in hit_ranks) / ideal,
        "map": sum((n + 1) / r for n, r in enumerate(hit_ranks)) / min(len(relevant), k),
        "hit_rate": float(bool(hit_ranks)),
    }


def _slow_ranking(model, train: Interactions, u: int, k: int, exclude_seen: bool) -> list[int]:
    seen = set(train.matrix[u].indices.tolist())
    if seen:
        scores = model.score_users([u])[0].astype(np.float64)
    else:  # a cold user: the most popular training items
        scores = np.diff(train.matrix.tocsc().indptr).astype(np.float64)
    order = np.argsort(-scores, kind="stable")  # equal scores: lower item index first
    return [int(i) for i in order if not (exclude_seen and i in seen)][:k]


def _timed_data() -> Interactions:
    """Stars with many ties in popularity; users 30..39 act only late, so a temporal
    split holds all of their cells out."""
    data = random_ratings(n_users=40, n_items=25, density=0.25, seed=4)
    frame = data.to_frame()
    late = frame["user_id"].isin([f"u{u}" for u in range(30, 40)])
    frame.loc[late, "timestamp"] += 20_000
    return Interactions.from_frame(frame, timestamp="timestamp", rating_scale=(1, 5))


@pytest.mark.parametrize("model", [Popularity(), Biases(), ItemKNN(k=5)], ids=type)
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_evaluate_ranking_matches_a_slow_ranking_and_count(model, exclude_seen):
    data = _timed_data()
    train, test = temporal_split(data, test_size=0.3)
    model = model.clone().fit(train)
    got = evaluate_ranking(model, test, K, exclude_seen=exclude_seen, per_user=True)
    users = np.flatnonzero(test.user_counts() > 0)
    cold = users[train.user_counts()[users] == 0]
    assert cold.size > 0  # the case this test is for
    assert got["user_id"].tolist() == data.users.ids[users].tolist()
    want = []
    for u in users:
        ranked = _slow_ranking(model, train, int(u), K, exclude_seen)
        if exclude_seen:
            assert not set(ranked) & set(train.matrix[u].indices.tolist())
        want.append(_slow_metrics(ranked, set(test.matrix[u].indices.tolist()), K))
    want = pd.DataFrame(want)
    for name in want.columns:
        np.testing.assert_allclose(got[f"{name}@{K}"], want[name], rtol=1e-12, atol=1e-15)
    means = evaluate_ranking(model, test, K, exclude_seen=exclude_seen)
    assert means["n_users"] == users.size  # cold users are counted
    for name in want.columns:
        assert means[name] == pytest.approx(want[name].mean(), rel=1e-12)


# ---------------------------------------------------------------------- relevance threshold
def _signed_ratings() -> tuple[Interactions, Interactions]:
    """A -10..10 scale (Jester's) where 0 is a rating like any other.  Users 4 and 5 stay
    in train, so that items 2, 3 and 4 differ in popularity: without them every candidate
    of users 1 and 2 had a count of 0, and Popularity ranked them by item index."""
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5],
            "item_id": [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 2, 3],
            "rating": [5.0, 0.0, 0.0, -7.0, 9.0, 0.0, -3.0, 2.0, 0.0, 4.0, 1.0, 1.0, 1.0],
        }
    )
    data = Interactions.from_frame(frame)
    background = data.user_idx >= 3
    held_out = ~background & ((data.user_idx == 2) | (data.item_idx >= 1))
    return data.subset(~held_out), data.subset(held_out)


@pytest.mark.parametrize("threshold", [-5.0, 0.0, 2.0])
def test_a_threshold_keeps_every_held_out_rating_at_or_above_it_zero_included(threshold):
    train, test = _signed_ratings()
    model = Popularity().fit(train)
    got = evaluate_ranking(model, test, 3, relevance_threshold=threshold, per_user=True)
    frame = test.to_frame()
    relevant = frame[frame["rating"] >= threshold].groupby("user_id")["item_id"].apply(set)
    assert got["user_id"].tolist() == relevant.index.tolist()
    for row, (user, items) in zip(got.itertuples(index=False), relevant.items(), strict=True):
        u = test.users.index([user])[0]
        ranked = model.items_.ids[_slow_ranking(model, train, u, 3, True)].tolist()
        assert row[2] == pytest.approx(len(set(ranked) & items) / len(items))  # recall@3


def test_a_threshold_compares_stored_cells_only():
    # A threshold at or below 0 compared the absent cells too (users x items of them), and
    # scipy warned that it was building them; only stored cells are compared now.
    train, test = user_split(random_ratings(n_users=30, n_items=20, seed=2), 0.3, random_state=0)
    model = Popularity().fit(train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low = evaluate_ranking(model, test, 3, relevance_threshold=-1.0)
    assert low == evaluate_ranking(model, test, 3)  # every 1-5 star rating passes -1


@pytest.mark.parametrize("bad", [float("nan"), "4", True])
def test_a_threshold_that_is_not_a_number_is_refused_by_name(bad):
    train, test = _signed_ratings()
    with pytest.raises(ValueError, match="relevance_threshold must be a number"):
        evaluate_ranking(Popularity().fit(train), test, 3, relevance_threshold=bad)


# ---------------------------------------------------------------------- cross-validation
class RecordingBiases(Biases):
    """Biases that writes down the cells of each fit's training data."""

    fits: list = []

    def fit(self, data, validation=None):
        RecordingBiases.fits.append(data)
        return super().fit(data, validation)


def _cells(part: Interactions) -> set[tuple[int, int]]:
    return set(zip(part.user_idx.tolist(), part.item_idx.tolist(), strict=True))


@pytest.mark.parametrize("task", ["rating", "ranking"])
def test_cross_validation_folds_are_disjoint_cover_the_data_and_score_the_complement(task):
    data = random_ratings(n_users=30, n_items=20, seed=5)
    RecordingBiases.fits = []
    cv = cross_validate(RecordingBiases(), data, n_splits=3, random_state=11, task=task, k=K)
    assert len(RecordingBiases.fits) == 3
    everything = _cells(data)
    held_out = [everything - _cells(train) for train in RecordingBiases.fits]
    assert sum(len(t) for t in held_out) == data.nnz  # each cell held out exactly once
    assert set().union(*held_out) == everything
    assert max(map(len, held_out)) - min(map(len, held_out)) <= 1
    # Each fold's figures are those of a model fitted on the rest, scored on that fold:
    # the folds of kfold with the same seed.
    for row, (train, test) in zip(
        cv.folds.itertuples(index=False), kfold(data, 3, random_state=11), strict=True
    ):
        assert _cells(test) == everything - _cells(train)
        fitted = Biases().fit(train)
        if task == "rating":
            want = evaluate_ratings(fitted, test)
        else:
            want = evaluate_ranking(fitted, test, K)
        for name in ("rmse", "mae") if task == "rating" else ("precision", "ndcg", "map"):
            assert getattr(row, name) == pytest.approx(want[name], rel=1e-12)


# ---------------------------------------------------------------------- train/test overlap
@pytest.mark.parametrize("how", ["ratings", "ranking"])
def test_test_cells_the_model_was_trained_on_are_refused(how):
    # Fitted on everything, then scored on part of it: the RMSE flattered the model and
    # every ranking metric was 0 (the held-out items were "seen"), without a word.
    data = random_ratings(n_users=30, n_items=20, seed=1)
    _, test = user_split(data, 0.2, random_state=0)
    model = Biases().fit(data)
    first = test.to_frame().iloc[0]
    with pytest.raises(ValueError, match=f"shares {test.nnz} of its {test.nnz} cells") as err:
        if how == "ratings":
            evaluate_ratings(model, test)
        else:
            evaluate_ranking(model, test, K, exclude_seen=False)
    assert f"user {first['user_id']!r}, item {int(first['item_id'])!r}" in str(err.value)


def test_one_shared_cell_is_enough_to_refuse_and_none_is_fine():
    data = random_ratings(n_users=30, n_items=20, seed=1)
    train, test = user_split(data, 0.2, random_state=0)
    model = Biases().fit(train)
    evaluate_ratings(model, test)  # disjoint: fine
    held_out = _cells(test)
    in_test = np.array([c in held_out for c in zip(data.user_idx, data.item_idx, strict=True)])
    one_more = in_test.copy()
    one_more[np.flatnonzero(~in_test)[0]] = True  # and a single training cell
    with pytest.raises(ValueError, match="shares 1 of its"):
        evaluate_ranking(model, data.subset(one_more), K)


# ---------------------------------------------------------------------- per-user rating errors
@pytest.mark.parametrize("clip", [True, False])
def test_per_user_rating_errors_match_a_by_hand_count(clip):
    # evaluate_ratings took no per_user (a TypeError), unlike evaluate_ranking: no way to
    # see which users a model gets wrong.
    data = _timed_data()  # users 30..39 are all held out: cold users are rows too
    train, test = temporal_split(data, test_size=0.3)
    model = Biases().fit(train)
    got = evaluate_ratings(model, test, clip=clip, per_user=True)
    assert got.columns.tolist() == ["user_id", "n", "rmse", "mae"]
    want = []
    for u in range(test.n_users):
        cells = test.matrix[u]
        if cells.nnz == 0:
            continue  # a user with no held-out cell has no error
        errors = []
        for i, r in zip(cells.indices.tolist(), cells.data.tolist(), strict=True):
            pred = float(model.predict_idx([u], [i])[0])
            if clip:
                pred = min(max(pred, 1.0), 5.0)
            errors.append(r - pred)
        want.append(
            {
                "user_id": data.users.ids[u],
                "n": len(errors),
                "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
                "mae": sum(abs(e) for e in errors) / len(errors),
            }
        )
    want = pd.DataFrame(want)
    assert got["user_id"].tolist() == want["user_id"].tolist()
    assert got["n"].tolist() == want["n"].tolist()
    assert set(range(30, 40)) <= {int(u[1:]) for u in got["user_id"]}  # cold users kept
    np.testing.assert_allclose(got["rmse"], want["rmse"], rtol=1e-12)
    np.testing.assert_allclose(got["mae"], want["mae"], rtol=1e-12)
    # The cells are those of the overall figures: n adds up, and MAE is its weighted mean.
    overall = evaluate_ratings(model, test, clip=clip)
    assert got["n"].sum() == overall["n"]
    assert (got["mae"] * got["n"]).sum() / overall["n"] == pytest.approx(overall["mae"])


# ---------------------------------------------------------------------- constant scores
def _constant_factor_model(train: Interactions):
    """A factor model whose every score is 3.0: no biases, factors all zero."""
    from latentrec.models import FactorModel

    return FactorModel.from_factors(
        Biases().fit(train).catalog_,  # its seen items: train's cells
        np.zeros((train.n_items, 2)),
        np.zeros((train.n_users, 2)),
        global_mean=3.0,
    )


@pytest.mark.parametrize("make", ["global-mean", "zero-factors"])
def test_a_model_that_scores_every_item_alike_is_refused_for_ranking(make):
    # GlobalMean ranked by item index (ties go to the lower index) and got NDCG@10 0.0675
    # on MovieLens-100K, a figure of how the ids were numbered, printed like any other.
    from latentrec.models import GlobalMean

    train, test = user_split(random_ratings(n_users=30, n_items=40, seed=2), 0.3, random_state=0)
    model = GlobalMean().fit(train) if make == "global-mean" else _constant_factor_model(train)
    # By hand: for every user, the best K + 1 candidates share one score.
    for u in np.flatnonzero(test.user_counts() > 0):
        scores = model.score_users([u])[0]
        candidates = np.setdiff1d(np.arange(train.n_items), train.matrix[u].indices)
        assert candidates.size > K and np.all(scores[candidates] == scores[candidates[0]])
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"^{name} gives every candidate item the same score"):
        evaluate_ranking(model, test, K)
    with pytest.raises(ValueError, match="ranked by item index"):
        evaluate_ranking(model, test, K, per_user=True)
    with pytest.raises(ValueError, match="ranked by item index"):
        cross_validate(GlobalMean(), random_ratings(n_users=30, n_items=40, seed=2), 3,
                       task="ranking", k=K)  # fmt: skip


@pytest.mark.parametrize("make", ["global-mean", "zero-factors"])
def test_a_model_that_scores_every_item_alike_is_refused_at_a_k_past_the_candidates(make):
    # Before: from a k at which some users' lists held all their candidates, the k + 1
    # slots ended in -inf padding, no user counted as tied, and GlobalMean got NDCG and MAP
    # figures of its index order (NDCG 0.4677, MAP 0.2177 here at k = 2**31 - 1, on the
    # code before) while k = 5 was refused.
    from latentrec.models import GlobalMean

    data = random_ratings(n_users=30, n_items=40, seed=2)
    train, test = user_split(data, 0.3, random_state=0)
    model = GlobalMean().fit(train) if make == "global-mean" else _constant_factor_model(train)
    candidates = train.n_items - train.user_counts()
    for k in (int(candidates.min()), int(candidates.max()), train.n_items, 2**31 - 1):
        with pytest.raises(ValueError, match="ranked by item index"):
            evaluate_ranking(model, test, k)
    with pytest.raises(ValueError, match="ranked by item index"):
        cross_validate(GlobalMean(), data, 3, task="ranking", k=2**31 - 1)
    # A model that orders items is evaluated at those k as before, by the slow count.
    popularity = Popularity().fit(train)
    for k in (int(candidates.max()), 2**31 - 1):
        got = evaluate_ranking(popularity, test, k, per_user=True)
        for row, u in zip(got.itertuples(index=False), got.index, strict=True):
            user = int(np.flatnonzero(test.user_counts() > 0)[u])
            ranked = _slow_ranking(popularity, train, user, train.n_items, True)
            want = _slow_metrics(ranked, set(test.matrix[user].indices.tolist()), k)
            assert row[3] == pytest.approx(want["ndcg"], rel=1e-12)
            assert row[4] == pytest.approx(want["map"], rel=1e-12)


def test_a_user_left_one_candidate_says_nothing_of_ties():
    from latentrec.evaluation.evaluate import check_not_ranked_by_index

    # One candidate each (then -inf padding): nothing to order, so nothing is refused.
    one = np.array([[3.0, -np.inf, -np.inf], [3.0, -np.inf, -np.inf]])
    check_not_ranked_by_index(Popularity(), one, [False, False], 2)
    # Beside a user whose two candidates tie, the lone-candidate user does not save it.
    both = np.array([[3.0, -np.inf, -np.inf], [2.0, 2.0, -np.inf]])
    # The message counts every user: it said "each of the 1 users it ranks" of two.
    with pytest.raises(
        ValueError,
        match=r"for each of the 1 users it ranks that have two candidates or more \(1 with "
        r"one candidate or none not looked at\), so their top 2",
    ):
        check_not_ranked_by_index(Popularity(), both, [False, False], 2)
    three = np.vstack([both, [[5.0, 4.0, 3.0]]])
    with pytest.raises(
        ValueError,
        match=r"the 1 users it ranks that have two candidates or more \(1 with one candidate "
        r"or none and 1 given the popularity fallback not looked at\)",
    ):
        check_not_ranked_by_index(Popularity(), three, [False, False, True], 2)
    # A user who is ordered, beside tied ones, passes as before; fallback rows are not read.
    mixed = np.array([[3.0, 1.0, -np.inf], [2.0, 2.0, -np.inf]])
    check_not_ranked_by_index(Popularity(), mixed, [False, False], 2)
    check_not_ranked_by_index(Popularity(), both, [False, True], 2)


def test_ties_within_the_list_or_for_some_users_only_are_ranked_as_before():
    # Popularity ties many items, but not the top K + 1 of every user: still evaluated,
    # and the figures are those of a top K asked for directly.
    train, test = user_split(random_ratings(n_users=30, n_items=40, seed=2), 0.3, random_state=0)
    model = Popularity().fit(train)
    got = evaluate_ranking(model, test, K, per_user=True)
    users = np.flatnonzero(test.user_counts() > 0)
    for row, u in zip(got.itertuples(index=False), users, strict=True):
        ranked = _slow_ranking(model, train, int(u), K, True)
        want = _slow_metrics(ranked, set(test.matrix[u].indices.tolist()), K)
        assert row[3] == pytest.approx(want["ndcg"], rel=1e-12)
