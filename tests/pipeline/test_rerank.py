"""Re-rankers: brute-force greedy references, properties, what they buy, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec.evaluation import intra_list_diversity, miscalibration
from latentrec.pipeline import calibrate, mmr

FAST = settings(max_examples=80, deadline=None)


# ---------------------------------------------------------------------- random inputs
@st.composite
def user_case(draw):
    """One user's candidates (distinct items, any order) and scores, some of them tied."""
    n_items = draw(st.integers(1, 12))
    cands = draw(st.lists(st.integers(0, n_items - 1), unique=True, min_size=1, max_size=n_items))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        scores = rng.integers(0, 4, len(cands)) / 3.0  # exact ties
    else:
        scores = rng.normal(size=len(cands)) * draw(st.sampled_from([0.01, 1.0, 100.0]))
    n = draw(st.integers(1, 14))
    return n_items, np.array(cands, dtype=np.int64), scores, n, rng


def top_by_score(cands, scores, n):
    return cands[np.argsort(-scores, kind="stable")[:n]].tolist()


# ---------------------------------------------------------------------- slow references
def rescaled(scores):
    low, high = min(scores), max(scores)
    return [0.0] * len(scores) if high == low else [(s - low) / (high - low) for s in scores]


def rank_relevance(scores):
    """1 - rank / (m - 1), a candidate's rank being how many score strictly higher."""
    m = len(scores)
    if m == 1:
        return [1.0]
    return [1 - sum(t > s for t in scores) / (m - 1) for s in scores]


def relevance_of(scores, how):
    return rescaled(scores) if how == "minmax" else rank_relevance(scores)


def best_pool(cands, scores, pool, n):
    """The best max(pool, n) candidates, in their given order; earlier wins a tie."""
    if pool is None:
        return cands, scores
    size = max(pool, n)
    keep = [
        j
        for j, s in enumerate(scores)
        if sum(t > s for t in scores) + sum(t == s for t in scores[:j]) < size
    ]
    return cands[keep], np.asarray(scores)[keep]


def greedy(n_cands, n, scores, objective):
    """Brute force: each step scores every free candidate with the whole list so far."""
    chosen = []
    while len(chosen) < min(n, n_cands):
        free = [j for j in range(n_cands) if j not in chosen]
        values = {j: objective(chosen, j) for j in free}
        best = max(values.values())
        tied = [j for j in free if values[j] >= best - 1e-12 * max(1.0, abs(best))]
        chosen.append(max(tied, key=lambda j: (scores[j], -j)))
    return chosen


def mmr_reference(cands, scores, vectors, n, lambda_, relevance="minmax", pool=None, center=False):
    cands, scores = best_pool(cands, [float(s) for s in scores], pool, n)
    scores = [float(s) for s in scores]
    relevance = relevance_of(scores, relevance)
    n_items, width = len(vectors), len(vectors[0])
    mean = [sum(float(v[d]) for v in vectors) / n_items if center else 0.0 for d in range(width)]
    rows = [[float(x) - mean[d] for d, x in enumerate(vectors[c])] for c in cands]

    def cosine(a, b):
        na = math.sqrt(sum(x * x for x in rows[a]))
        nb = math.sqrt(sum(x * x for x in rows[b]))
        if na == 0 or nb == 0:
            return 0.0
        return sum(x * y for x, y in zip(rows[a], rows[b], strict=True)) / (na * nb)

    def objective(chosen, j):
        closest = max((cosine(j, i) for i in chosen), default=0.0)
        return lambda_ * relevance[j] - (1 - lambda_) * closest

    return [int(cands[j]) for j in greedy(len(cands), n, scores, objective)]


def kl_of_list(items, p, genres, alpha):
    n_genres = len(p)
    mass = [0.0] * n_genres
    for i in items:
        total = sum(genres[i])
        for g in range(n_genres):
            mass[g] += genres[i][g] / total if total else 0.0
    total = sum(mass)
    q = [m / total if total else 0.0 for m in mass]
    return sum(
        pg * math.log(pg / ((1 - alpha) * qg + alpha * pg))
        for pg, qg in zip(p, q, strict=True)
        if pg > 0
    )


def calibrate_reference(cands, scores, taste, genres, n, weight, alpha, relevance="minmax"):
    scores = [float(s) for s in scores]
    if sum(taste) == 0:
        weight = 0.0
    p = [t / sum(taste) if sum(taste) else 0.0 for t in taste]
    relevance = relevance_of(scores, relevance)
    rows = [[float(x) for x in r] for r in np.asarray(genres)]

    def objective(chosen, j):
        items = [int(cands[i]) for i in [*chosen, j]]
        gained = sum(relevance[i] for i in [*chosen, j])
        return (1 - weight) * gained - weight * kl_of_list(items, p, rows, alpha)

    return [int(cands[j]) for j in greedy(len(cands), n, scores, objective)]


# ---------------------------------------------------------------------- against the references
@FAST
@given(user_case(), st.sampled_from([0.0, 0.3, 0.7, 1.0]), st.booleans())
def test_mmr_matches_brute_force_greedy(drawn, lambda_, with_zero_vector):
    n_items, cands, scores, n, rng = drawn
    vectors = rng.normal(size=(n_items, 3))
    if with_zero_vector:
        vectors[rng.integers(n_items)] = 0.0
    got = mmr(cands, scores, vectors, n, lambda_)
    assert got.tolist() == mmr_reference(cands, scores, vectors, n, lambda_)


@FAST
@given(
    user_case(),
    st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    st.sampled_from(["minmax", "rank"]),
    st.sampled_from([None, 1, 3, 8]),
    st.booleans(),
)
def test_mmr_relevance_pool_and_center_match_brute_force(drawn, lambda_, relevance, pool, center):
    n_items, cands, scores, n, rng = drawn
    vectors = rng.normal(size=(n_items, 3)) + 2.0  # a shared direction, as popularity gives
    got = mmr(cands, scores, vectors, n, lambda_, relevance=relevance, pool=pool, center=center)
    want = mmr_reference(cands, scores, vectors, n, lambda_, relevance, pool, center)
    assert got.tolist() == want
    if pool is not None:  # nothing from below the pool is ever taken
        allowed = best_pool(cands, [float(x) for x in scores], pool, n)[0].tolist()
        assert set(got.tolist()) <= set(allowed)


@FAST
@given(user_case(), st.sampled_from([0.0, 0.4, 0.9]))
def test_calibrate_with_rank_relevance_matches_brute_force(drawn, weight):
    n_items, cands, scores, n, rng = drawn
    genres = rng.integers(0, 2, size=(n_items, 3))
    taste = rng.random(3)
    got = calibrate(cands, scores, taste, genres, n, weight, relevance="rank")
    want = calibrate_reference(cands, scores, taste, genres, n, weight, 0.01, "rank")
    assert got.tolist() == want


def test_rank_relevance_ignores_an_outlying_score_and_bad_choices_are_named():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    # One outlying score squeezes min-max relevance of the rest to nearly 0, so at
    # lambda 0.8 the similarity term decides; evenly spaced ranks keep relevance in play.
    scores = [1000.0, 3.0, 2.0, 1.0]
    assert mmr([0, 1, 2, 3], scores, vectors, 3, 0.8).tolist() == [0, 2, 1]
    assert mmr([0, 1, 2, 3], scores, vectors, 3, 0.8, relevance="rank").tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="relevance must be one of"):
        mmr([0, 1], [1.0, 0.0], vectors, 2, 0.5, relevance="softmax")
    with pytest.raises(ValueError, match="pool must be a positive integer"):
        mmr([0, 1], [1.0, 0.0], vectors, 2, 0.5, pool=0)


@settings(max_examples=150, deadline=None)
@given(
    user_case(),
    st.integers(1, 4),
    st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]),
    st.sampled_from([0.01, 0.2]),
    st.booleans(),
)
def test_calibrate_matches_brute_force_greedy(drawn, n_genres, weight, alpha, sparse):
    n_items, cands, scores, n, rng = drawn
    genres = (rng.random((n_items, n_genres)) < 0.6) * rng.integers(1, 4, (n_items, n_genres))
    taste = rng.random(n_genres) * (rng.random(n_genres) < 0.7)
    given_genres = sp.csr_matrix(genres) if sparse else genres
    got = calibrate(cands, scores, taste, given_genres, n, weight, alpha=alpha)
    assert got.tolist() == calibrate_reference(cands, scores, taste, genres, n, weight, alpha)


# ---------------------------------------------------------------------- properties
@FAST
@given(user_case())
def test_pure_relevance_is_the_top_n_by_score(drawn):
    n_items, cands, scores, n, rng = drawn
    vectors = rng.normal(size=(n_items, 4))
    genres = rng.random((n_items, 3))
    expected = top_by_score(cands, scores, n)
    assert mmr(cands, scores, vectors, n, lambda_=1.0).tolist() == expected
    assert mmr(cands, scores, vectors, n, lambda_=1).tolist() == expected
    assert calibrate(cands, scores, rng.random(3), genres, n, weight=0.0).tolist() == expected
    # Without a genre history there is nothing to calibrate to.
    assert calibrate(cands, scores, np.zeros(3), genres, n, weight=0.8).tolist() == expected


@FAST
@given(user_case(), st.floats(0, 1))
def test_lists_are_distinct_candidates_at_most_n(drawn, knob):
    n_items, cands, scores, n, rng = drawn
    vectors = rng.normal(size=(n_items, 2))
    genres = rng.random((n_items, 2)) < 0.5
    for got in (
        mmr(cands, scores, vectors, n, knob),
        calibrate(cands, scores, [0.3, 0.7], genres, n, knob),
    ):
        assert got.dtype == np.int64
        assert len(got) == min(n, len(cands))
        assert len(set(got.tolist())) == len(got)
        assert set(got.tolist()) <= set(cands.tolist())
    # The first pick of MMR is always the best-scored candidate: nothing is chosen to differ from.
    assert mmr(cands, scores, vectors, n, knob)[0] == top_by_score(cands, scores, 1)[0]


def test_score_scale_does_not_matter():
    rng = np.random.default_rng(3)
    cands = rng.permutation(40)[:25]
    scores = rng.normal(size=25)
    vectors = rng.normal(size=(40, 5))
    genres = rng.random((40, 4)) < 0.4
    taste = rng.random(4)
    for scale, shift in ((100.0, 3.0), (0.001, -7.0)):
        moved = scores * scale + shift
        assert (
            mmr(cands, moved, vectors, 10, 0.6).tolist()
            == mmr(cands, scores, vectors, 10, 0.6).tolist()
        )
        assert (
            calibrate(cands, moved, taste, genres, 10, 0.6).tolist()
            == calibrate(cands, scores, taste, genres, 10, 0.6).tolist()
        )


def test_what_they_buy_on_clustered_items():
    """MMR spreads lists across clusters; calibration matches the user's genre mix."""
    rng = np.random.default_rng(7)
    n_items, n_users, n_genres = 300, 40, 6
    genre = rng.integers(0, n_genres, n_items)
    item_genres = np.eye(n_genres, dtype=int)[genre]
    vectors = np.eye(n_genres)[genre] * 3 + rng.normal(scale=0.3, size=(n_items, n_genres))
    history = sp.csr_matrix((rng.random((n_users, n_items)) < 0.05).astype(float))
    top, diverse, calibrated = [], [], []
    for u in range(n_users):
        favourite = rng.integers(n_genres)
        scores = rng.random(n_items) + 1.5 * (genre == favourite)  # popular taste dominates
        cands = np.argsort(-scores)[:100]
        taste = np.asarray(history[u] @ item_genres).ravel()
        top.append(top_by_score(cands, scores[cands], 10))
        diverse.append(mmr(cands, scores[cands], vectors, 10, 0.5))
        calibrated.append(calibrate(cands, scores[cands], taste, item_genres, 10, 0.9))
    top, diverse, calibrated = map(np.array, (top, diverse, calibrated))
    assert intra_list_diversity(diverse, item_vectors=vectors, k=10) > 1.25 * (
        intra_list_diversity(top, item_vectors=vectors, k=10)
    )
    before = miscalibration(top, history, item_genres, 10)
    assert miscalibration(calibrated, history, item_genres, 10) < 0.5 * before


def test_calibrate_minimises_the_metric_for_a_single_pick():
    # With weight 1 the first pick is the candidate whose own genres sit closest to p.
    genres = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    history = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0]]))  # half genre 0, half genre 1
    taste = np.array([0.5, 0.5, 0.0])
    picked = calibrate([0, 1, 2, 3], [4.0, 3.0, 0.0, 2.0], taste, genres, n=1, weight=1.0)
    assert picked.tolist() == [2]
    assert miscalibration(picked[None, :], history, genres, 1) == pytest.approx(0.0)


# ---------------------------------------------------------------------- bad input
VECTORS = np.eye(4)
GENRES = np.eye(4)


@pytest.mark.parametrize(
    "rerank",
    [
        lambda c, s, n=2: mmr(c, s, VECTORS, n, 0.5),
        lambda c, s, n=2: calibrate(c, s, [1, 1, 0, 0], GENRES, n, 0.5),
    ],
)
def test_rerankers_reject_bad_candidates(rerank):
    with pytest.raises(ValueError, match=r"candidates\[1\] = 4 is not an item index in \[0, 4\)"):
        rerank([0, 4], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"candidates\[0\] = -1"):
        rerank([-1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="lists item 2 more than once"):
        rerank([2, 0, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"scores has shape \(1,\) but candidates has shape"):
        rerank([0, 1], [1.0])
    with pytest.raises(ValueError, match=r"scores\[1\] = nan \(candidate 3\) is not a finite"):
        rerank([0, 3], [1.0, float("nan")])
    with pytest.raises(ValueError, match="integer item indices"):
        rerank([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="candidates is empty"):
        rerank([], [])
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        rerank([0, 1], [1.0, 2.0], n=0)


def test_mmr_rejects_bad_knobs_and_vectors():
    for bad in (-0.1, 1.5, True, "0.5", float("nan")):
        with pytest.raises(ValueError, match="lambda_ must be a number in"):
            mmr([0, 1], [1.0, 2.0], VECTORS, 2, bad)
    with pytest.raises(ValueError, match="item_vectors must be a 2-D array"):
        mmr([0, 1], [1.0, 2.0], np.ones(4), 2, 0.5)
    broken = np.eye(4)
    broken[2, 1] = np.inf
    with pytest.raises(ValueError, match=r"item_vectors\[2, 1\] = inf is not a finite"):
        mmr([0, 1], [1.0, 2.0], broken, 2, 0.5)


def test_calibrate_rejects_bad_knobs_and_genres():
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match="weight must be a number in"):
            calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], GENRES, 2, bad)
    with pytest.raises(ValueError, match="alpha must be above 0"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], GENRES, 2, 0.5, alpha=0)
    with pytest.raises(ValueError, match="alpha must be a number in"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], GENRES, 2, 0.5, alpha=2)
    with pytest.raises(ValueError, match=r"history_genre_dist has shape \(3,\); expected \(4,\)"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0], GENRES, 2, 0.5)
    with pytest.raises(ValueError, match=r"history_genre_dist\[1\] = -1.0"):
        calibrate([0, 1], [1.0, 2.0], [1, -1, 0, 0], GENRES, 2, 0.5)
    with pytest.raises(ValueError, match=r"item_genres\[2, 2\] = -1.0"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], np.diag([1, 1, -1, 1]), 2, 0.5)
    with pytest.raises(ValueError, match=r"item_genres\[2, 2\] = -1.0"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], sp.diags([1.0, 1, -1, 1]), 2, 0.5)
    with pytest.raises(ValueError, match="item_genres must be a 2-D array"):
        calibrate([0, 1], [1.0, 2.0], [1, 0, 0, 0], np.ones(4), 2, 0.5)
