"""Beyond-accuracy metrics: slow references, hand-computed values, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import latentrec.evaluation as ev
from latentrec.data import Interactions
from latentrec.data.genres import genre_matrix
from latentrec.evaluation import (
    average_popularity,
    catalog_coverage,
    gini_exposure,
    intra_list_diversity,
    miscalibration,
    novelty,
)
from latentrec.evaluation import metrics as accuracy_metrics

NAN = float("nan")
FAST = settings(max_examples=60, deadline=None)


# ---------------------------------------------------------------------- random inputs
@st.composite
def lists_of(draw, n_items: int, max_users: int = 5, max_width: int = 6):
    """A ``recommended`` array: distinct items per row, -1 padding anywhere."""
    n_users = draw(st.integers(1, max_users))
    width = draw(st.integers(0, max_width))
    rows = []
    for _ in range(n_users):
        items = draw(
            st.lists(st.integers(0, n_items - 1), unique=True, max_size=min(width, n_items))
        )
        rows.append(draw(st.permutations(items + [-1] * (width - len(items)))))
    return np.array(rows, dtype=np.int64).reshape(n_users, width)


@st.composite
def case(draw, max_items: int = 7):
    n_items = draw(st.integers(1, max_items))
    rec = draw(lists_of(n_items))
    k = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    return n_items, rec, k, np.random.default_rng(seed)


def listed(row, k):
    return [int(i) for i in list(row)[:k] if i >= 0]


def mean_or_error(metric, per_user_ref, *args, **kwargs):
    """The metric's mean equals the reference's mean over defined users, or raises."""
    defined = [v for v in per_user_ref if not math.isnan(v)]
    if defined:
        assert metric(*args, **kwargs) == pytest.approx(sum(defined) / len(defined))
    else:
        with pytest.raises(ValueError, match="undefined"):
            metric(*args, **kwargs)


# ---------------------------------------------------------------------- slow references
def ild_reference(rec, k, distance):
    out = []
    for row in rec:
        items = listed(row, k)
        pairs = [(a, b) for n, a in enumerate(items) for b in items[n + 1 :]]
        out.append(sum(distance(a, b) for a, b in pairs) / len(pairs) if pairs else NAN)
    return out


def cosine_distance(vectors):
    def distance(a, b):
        va, vb = list(vectors[a]), list(vectors[b])
        dot = sum(x * y for x, y in zip(va, vb, strict=True))
        norm = math.sqrt(sum(x * x for x in va)) * math.sqrt(sum(y * y for y in vb))
        return 1.0 - dot / norm

    return distance


def jaccard_distance(genres):
    sets = [{g for g, flag in enumerate(row) if flag} for row in np.asarray(genres)]

    def distance(a, b):
        union = sets[a] | sets[b]
        return 1.0 - (len(sets[a] & sets[b]) / len(union) if union else 1.0)

    return distance


def per_item_mean_reference(rec, k, value):
    out = []
    for row in rec:
        items = listed(row, k)
        out.append(sum(value(i) for i in items) / len(items) if items else NAN)
    return out


def gini_reference(rec, n_items, k):
    counts = [0] * n_items
    for row in rec:
        for i in listed(row, k):
            counts[i] += 1
    mean = sum(counts) / n_items
    spread = sum(abs(a - b) for a in counts for b in counts)
    return spread / (2 * n_items * n_items * mean)


def miscalibration_reference(rec, history, genres, k, alpha):
    genres = np.asarray(genres, dtype=float)
    hist = history.toarray()
    n_genres = genres.shape[1]

    def item_share(i):
        total = sum(genres[i])
        return [g / total if total else 0.0 for g in genres[i]]

    def distribution(weighted_items):
        mass = [0.0] * n_genres
        for i, w in weighted_items:
            for g, s in enumerate(item_share(i)):
                mass[g] += w * s
        total = sum(mass)
        return [m / total if total else 0.0 for m in mass], total

    out = []
    for u, row in enumerate(rec):
        p, p_mass = distribution([(i, hist[u, i]) for i in range(hist.shape[1]) if hist[u, i]])
        items = listed(row, k)
        if p_mass == 0 or not items:
            out.append(NAN)
            continue
        q, _ = distribution([(i, 1.0) for i in items])
        kl = 0.0
        for pg, qg in zip(p, q, strict=True):
            if pg > 0:
                kl += pg * math.log(pg / ((1 - alpha) * qg + alpha * pg))
        out.append(kl)
    return out


# ---------------------------------------------------------------------- against the references
@FAST
@given(case(), st.booleans())
def test_latent_diversity_matches_reference(drawn, per_user):
    n_items, rec, k, rng = drawn
    vectors = rng.normal(size=(n_items, 3))
    ref = ild_reference(rec, k, cosine_distance(vectors))
    got = intra_list_diversity(rec, item_vectors=vectors, k=k, per_user=True)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    mean_or_error(intra_list_diversity, ref, rec, item_vectors=vectors, k=k)


@FAST
@given(case(), st.integers(1, 5), st.booleans())
def test_genre_diversity_matches_reference(drawn, n_genres, sparse):
    n_items, rec, k, rng = drawn
    genres = (rng.random((n_items, n_genres)) < 0.4).astype(np.int8)
    given_genres = sp.csr_matrix(genres) if sparse else genres
    ref = ild_reference(rec, k, jaccard_distance(genres))
    got = intra_list_diversity(rec, item_genres=given_genres, k=k, per_user=True)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    mean_or_error(intra_list_diversity, ref, rec, item_genres=given_genres, k=k)


@FAST
@given(case(), st.integers(1, 12))
def test_novelty_matches_reference(drawn, n_users):
    n_items, rec, k, rng = drawn
    popularity = rng.integers(0, n_users + 1, size=n_items)
    ref = per_item_mean_reference(rec, k, lambda i: -math.log2(max(popularity[i], 1) / n_users))
    got = novelty(rec, popularity, n_users, k, per_user=True)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    mean_or_error(novelty, ref, rec, popularity, n_users, k)


@FAST
@given(case())
def test_average_popularity_matches_reference(drawn):
    n_items, rec, k, rng = drawn
    popularity = rng.random(n_items) * 50
    ref = per_item_mean_reference(rec, k, lambda i: popularity[i])
    got = average_popularity(rec, popularity, k, per_user=True)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    mean_or_error(average_popularity, ref, rec, popularity, k)


@FAST
@given(case())
def test_gini_exposure_matches_reference(drawn):
    n_items, rec, k, _ = drawn
    if not (rec[:, :k] >= 0).any():
        with pytest.raises(ValueError, match="no item is recommended"):
            gini_exposure(rec, n_items, k)
        return
    expected = gini_reference(rec, n_items, k)
    assert gini_exposure(rec, n_items, k) == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= gini_exposure(rec, n_items, k) <= (n_items - 1) / n_items + 1e-12


@FAST
@given(case(), st.integers(1, 4), st.sampled_from([0.01, 0.1, 0.5, 1.0]), st.booleans())
def test_miscalibration_matches_reference(drawn, n_genres, alpha, weighted):
    n_items, rec, k, rng = drawn
    genres = (rng.random((n_items, n_genres)) < 0.5) * rng.integers(1, 3, (n_items, n_genres))
    seen = rng.random((rec.shape[0], n_items)) < 0.5
    values = rng.integers(1, 6, seen.shape) if weighted else np.ones(seen.shape)
    history = sp.csr_matrix(seen * values.astype(float))
    ref = miscalibration_reference(rec, history, genres, k, alpha)
    got = miscalibration(rec, history, genres, k, alpha, per_user=True)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    mean_or_error(miscalibration, ref, rec, history, genres, k, alpha)


# ---------------------------------------------------------------------- a genres column
# Names as MovieLens writes them, punctuation included.
GENRE_NAMES = ["Animation", "Children's", "Comedy", "Film-Noir", "Sci-Fi"]


def genre_column_forms(sets, rng):
    """The genres of each item as a side table may hold them: a Series of ``|``-joined
    text indexed by item id (names shuffled and padded, an item without genres as NaN or
    ""), a plain list of that text, a list of name lists, and an object array of it."""
    texts = []
    for names in sets:
        names = list(rng.permutation(names)) if names else []
        if names:
            texts.append("|".join(f" {n}" if rng.random() < 0.3 else n for n in names))
        else:
            texts.append(None if rng.random() < 0.5 else "")
    ids = 100 + np.arange(len(sets))
    return {
        "series": pd.Series(texts, index=ids, name="genres"),
        "text list": [t if t is not None else float("nan") for t in texts],
        "name lists": [list(names) for names in sets],
        "object array": np.array(texts + [None], dtype=object)[:-1],
    }


@FAST
@given(case(), st.integers(1, len(GENRE_NAMES)), st.data())
def test_a_genres_column_gives_what_its_matrix_gives(drawn, n_genres, data):
    n_items, rec, k, rng = drawn
    member = rng.random((n_items, n_genres)) < 0.4
    sets = [[GENRE_NAMES[g] for g in np.flatnonzero(row)] for row in member]
    matrix = member.astype(int)  # built by hand, in GENRE_NAMES order
    history = sp.csr_matrix(rng.random((rec.shape[0], n_items)) < 0.6, dtype=float)
    want_ild = intra_list_diversity(rec, item_genres=matrix, k=k, per_user=True)
    want_kl = miscalibration(rec, history, matrix, k, per_user=True)
    form = data.draw(st.sampled_from(["series", "text list", "name lists", "object array"]))
    column = genre_column_forms(sets, rng)[form]  # all empty lists: an items x 0 matrix
    got_ild = intra_list_diversity(rec, item_genres=column, k=k, per_user=True)
    np.testing.assert_allclose(got_ild, want_ild, atol=1e-12)
    got_kl = miscalibration(rec, history, column, k, per_user=True)
    np.testing.assert_allclose(got_kl, want_kl, atol=1e-12)
    mean_or_error(intra_list_diversity, list(want_ild), rec, item_genres=column, k=k)


def test_the_side_tables_genres_column_is_taken_as_it_is():
    # The reviewer's call: data.item_features["genres"] straight from an Interactions.
    frame = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 13]})
    table = pd.DataFrame(
        {"genres": ["Animation|Children's|Comedy", "Comedy", ["Film-Noir", "Comedy"]]},
        index=[10, 11, 12],
    )  # item 13 has no row: its genres are NaN, no genre at all
    data = Interactions.from_frame(frame, rating=None, item_features=table)
    column = data.item_features["genres"]
    matrix, names = genre_matrix(data.item_features, data.n_items)
    assert names.tolist() == ["Animation", "Children's", "Comedy", "Film-Noir"]
    rec = np.array([[0, 1, 2, 3], [1, 2, -1, -1]])
    assert intra_list_diversity(rec, item_genres=column, k=4) == pytest.approx(
        intra_list_diversity(rec, item_genres=matrix, k=4)
    )
    # user 2: items 11 {Comedy} and 12 {Comedy, Film-Noir}, Jaccard 1/2
    assert intra_list_diversity(rec, item_genres=column, k=4, per_user=True)[1] == 0.5
    np.testing.assert_allclose(
        miscalibration(rec, data, column, 4, per_user=True),
        miscalibration(rec, data, matrix, 4, per_user=True),
        atol=1e-12,
    )


def test_a_genres_column_cell_that_is_not_genres_is_named():
    column = pd.Series(["Comedy", {"Drama": 1}, "War"], index=[7, 8, 9], name="genres")
    with pytest.raises(ValueError, match="'genres' of item 8 is a dict; give genres as 'A|B'"):
        intra_list_diversity(REC, item_genres=column, k=2)
    with pytest.raises(ValueError, match="'item_genres' of item 1 is a list inside a list"):
        miscalibration(REC, HISTORY, [["Comedy"], [["Drama"]], ["War"]], 2)
    with pytest.raises(ValueError, match="history has 3 item columns but item_genres has 2"):
        miscalibration(REC, HISTORY, ["Comedy", "War"], 2)
    with pytest.raises(ValueError, match=r"\[0, 2\) nor -1"):
        intra_list_diversity(REC, item_genres=["Comedy", "War"], k=2)


# ---------------------------------------------------------------------- hand-computed
def test_diversity_by_hand():
    # cos(a, b) = 0.6 for (3, 4) and (1, 0); (0, 1) is orthogonal to (1, 0) and at 0.8 to (3, 4).
    vectors = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 1.0]])
    rec = np.array([[0, 1, 2]])
    expected = ((1 - 0.6) + (1 - 0.8) + (1 - 0.0)) / 3
    assert intra_list_diversity(rec, item_vectors=vectors, k=3) == pytest.approx(expected)
    # genre sets {0, 1}, {1}, {2}: Jaccard 1/2, 0, 0 -> distances 1/2, 1, 1
    genres = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert intra_list_diversity(rec, item_genres=genres, k=3) == pytest.approx(2.5 / 3)
    # k = 2 keeps the first pair only
    assert intra_list_diversity(rec, item_genres=genres, k=2) == pytest.approx(0.5)


def test_novelty_and_popularity_by_hand():
    popularity = np.array([100, 25, 1, 0])
    rec = np.array([[0, 1], [2, 3], [-1, -1]])
    # -log2(100/100) = 0, -log2(25/100) = 2; -log2(1/100) twice (the unseen item counts as 1)
    got = novelty(rec, popularity, n_users=100, k=2, per_user=True)
    np.testing.assert_allclose(got, [1.0, math.log2(100), NAN])
    assert novelty(rec, popularity, 100, 2) == pytest.approx((1.0 + math.log2(100)) / 2)
    got = average_popularity(rec, popularity, k=2, per_user=True)
    np.testing.assert_allclose(got, [62.5, 0.5, NAN])
    assert average_popularity(rec, popularity, k=2) == pytest.approx(31.5)


def test_gini_by_hand():
    # exposure counts over 4 items: 3, 1, 0, 0 -> sum |xi - xj| = 2 * (2 + 3 + 3 + 1 + 1) = 20
    rec = np.array([[0, 1], [0, -1], [0, -1]])
    assert gini_exposure(rec, n_items=4, k=2) == pytest.approx(20 / (2 * 16 * 1.0))


def test_miscalibration_by_hand():
    # item 0: genre a; item 1: genres a and b (half each); item 2: genre b.
    genres = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1]]))
    # The user rated item 0 with weight 3 and item 2 with weight 1: p = (3/4, 1/4).
    history = sp.csr_matrix(np.array([[3.0, 0.0, 1.0]]))
    rec = np.array([[1, 2]])  # q = (0.5 * 1 + 0) / 2, ... = (1/4, 3/4)
    alpha = 0.1
    q_smooth = [0.9 * 0.25 + 0.1 * 0.75, 0.9 * 0.75 + 0.1 * 0.25]
    expected = 0.75 * math.log(0.75 / q_smooth[0]) + 0.25 * math.log(0.25 / q_smooth[1])
    assert miscalibration(rec, history, genres, k=2, alpha=alpha) == pytest.approx(expected)


def test_catalog_coverage_is_the_accuracy_modules_one():
    assert catalog_coverage is accuracy_metrics.catalog_coverage
    assert ev.beyond.catalog_coverage is catalog_coverage
    for name in ev.beyond.__all__:
        assert name in ev.__all__ and getattr(ev, name) is getattr(ev.beyond, name)


# ---------------------------------------------------------------------- properties
def test_diversity_is_zero_for_identical_items_and_one_for_orthogonal_ones():
    same_direction = np.array([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])
    rec = np.array([[0, 1, 2]])
    assert intra_list_diversity(rec, item_vectors=same_direction, k=3) == pytest.approx(0.0)
    orthogonal = np.eye(3) * np.array([1.0, 5.0, 0.2])[:, None]
    assert intra_list_diversity(rec, item_vectors=orthogonal, k=3) == pytest.approx(1.0)
    same_genres = np.array([[1, 0, 1]] * 3)
    assert intra_list_diversity(rec, item_genres=same_genres, k=3) == 0.0
    assert intra_list_diversity(rec, item_genres=np.eye(3, dtype=int), k=3) == 1.0
    # Items without genres share the empty set, so they are alike.
    assert intra_list_diversity(rec, item_genres=np.zeros((3, 2)), k=3) == 0.0


@FAST
@given(case())
def test_orthogonal_is_the_most_diverse_for_non_negative_vectors(drawn):
    n_items, rec, k, rng = drawn
    vectors = rng.random((n_items, 3)) + 1e-3
    per_user = intra_list_diversity(rec, item_vectors=vectors, k=k, per_user=True)
    assert np.all(np.isnan(per_user) | ((per_user >= 0) & (per_user <= 1 + 1e-12)))


@pytest.mark.parametrize("n_items", [1, 2, 5, 50])
def test_gini_is_zero_for_equal_exposure_and_largest_for_one_item(n_items):
    everyone = np.arange(n_items)[None, :].repeat(3, axis=0)
    assert gini_exposure(everyone, n_items, k=n_items) == pytest.approx(0.0, abs=1e-12)
    one = np.zeros((7, 1), dtype=np.int64)
    assert gini_exposure(one, n_items, k=1) == pytest.approx((n_items - 1) / n_items)


def test_gini_counts_items_never_recommended():
    # Items 0 and 1 equally shown, 2 and 3 never: exposures (1, 1, 0, 0) give 1/2.
    assert gini_exposure(np.array([[0, 1]]), n_items=4, k=2) == pytest.approx(0.5)
    assert gini_exposure(np.array([[0, 1]]), n_items=2, k=2) == 0.0


@FAST
@given(case(), st.integers(1, 4), st.sampled_from([0.001, 0.01, 0.3]))
def test_miscalibration_is_zero_when_the_list_is_the_history(drawn, n_genres, alpha):
    n_items, rec, k, rng = drawn
    genres = rng.random((n_items, n_genres)) + 0.01
    top = rec[:, :k]
    rows = np.repeat(np.arange(rec.shape[0]), top.shape[1]).reshape(top.shape)
    keep = top >= 0
    history = sp.csr_matrix(
        (np.ones(keep.sum()), (rows[keep], top[keep])), shape=(rec.shape[0], n_items)
    )
    got = miscalibration(rec, history, genres, k, alpha, per_user=True)
    empty = ~keep.any(axis=1)
    assert np.all(np.isnan(got[empty]))
    np.testing.assert_allclose(got[~empty], 0.0, atol=1e-12)


def test_miscalibration_is_bounded_by_the_smoothing():
    genres = np.eye(2)
    history = sp.csr_matrix(np.array([[1.0, 0.0]]))
    # The list has none of the user's genre: KL = ln(1 / alpha), the largest value.
    got = miscalibration(np.array([[1]]), history, genres, k=1, alpha=0.01)
    assert got == pytest.approx(math.log(100))
    # An Interactions works as history too.
    data = Interactions.from_sparse(history)
    assert miscalibration(np.array([[1]]), data, genres, k=1) == pytest.approx(math.log(100))


def _all_metrics(rec, k, n_items, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    vectors = rng.normal(size=(n_items, 3))
    genres = (rng.random((n_items, 3)) < 0.5).astype(int)
    popularity = rng.integers(0, 10, n_items)
    history = sp.csr_matrix(rng.random((rec.shape[0], n_items)) < 0.5, dtype=float)
    return [
        intra_list_diversity(rec, item_vectors=vectors, k=k, per_user=True),
        intra_list_diversity(rec, item_genres=genres, k=k, per_user=True),
        novelty(rec, popularity, 10, k, per_user=True),
        average_popularity(rec, popularity, k, per_user=True),
        miscalibration(rec, history, genres, k, per_user=True),
        np.array([gini_exposure(rec, n_items, k) if (rec[:, :k] >= 0).any() else NAN]),
        np.array([catalog_coverage(rec, n_items, k)]),
    ]


@FAST
@given(case(), st.data())
def test_padding_is_ignored_everywhere(drawn, data):
    n_items, rec, _, _ = drawn
    k = rec.shape[1] + 1
    extra = data.draw(st.integers(1, 4))
    padded = np.full((rec.shape[0], rec.shape[1] + extra), -1, dtype=np.int64)
    for u, row in enumerate(rec):
        slots = sorted(data.draw(st.permutations(range(padded.shape[1])))[: rec.shape[1]])
        padded[u, slots] = row
    for plain, spaced in zip(
        _all_metrics(rec, k, n_items), _all_metrics(padded, k + extra, n_items), strict=True
    ):
        np.testing.assert_allclose(plain, spaced, atol=1e-12)


# ---------------------------------------------------------------------- bad input
REC = np.array([[0, 1], [2, -1]])
VECTORS = np.eye(3)
GENRES = np.eye(3, dtype=int)
POPULARITY = np.array([3, 2, 1])
HISTORY = sp.csr_matrix(np.ones((2, 3)))

EVERY_METRIC = [
    lambda rec, k=2: intra_list_diversity(rec, item_vectors=VECTORS, k=k),
    lambda rec, k=2: intra_list_diversity(rec, item_genres=GENRES, k=k),
    lambda rec, k=2: novelty(rec, POPULARITY, 5, k),
    lambda rec, k=2: average_popularity(rec, POPULARITY, k),
    lambda rec, k=2: gini_exposure(rec, 3, k),
    lambda rec, k=2: miscalibration(rec, HISTORY, GENRES, k),
]


@pytest.mark.parametrize("metric", EVERY_METRIC)
def test_every_metric_rejects_bad_lists(metric):
    with pytest.raises(ValueError, match="2-D array"):
        metric(np.array([0, 1]))
    with pytest.raises(ValueError, match="integer item indices"):
        metric(REC.astype(float))
    with pytest.raises(ValueError, match=r"recommended\[1, 0\] = 3 is not an item index"):
        metric(np.array([[0, 1], [3, -1]]))
    with pytest.raises(ValueError, match=r"recommended\[0, 1\] = -2"):
        metric(np.array([[0, -2], [1, -1]]))
    with pytest.raises(ValueError, match="row 0 lists item 1 more than once"):
        metric(np.array([[1, 1], [2, -1]]))
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        metric(REC, k=0)
    with pytest.raises(ValueError, match="k must be a positive integer, got True"):
        metric(REC, k=True)


@pytest.mark.parametrize("metric", EVERY_METRIC)
def test_every_metric_says_when_nothing_is_listed(metric):
    with pytest.raises(ValueError, match="undefined|no item is recommended"):
        metric(np.full((2, 2), -1))


def test_diversity_rejects_bad_item_descriptions():
    with pytest.raises(ValueError, match="exactly one of item_vectors"):
        intra_list_diversity(REC, k=2)
    with pytest.raises(ValueError, match="exactly one of item_vectors"):
        intra_list_diversity(REC, item_vectors=VECTORS, item_genres=GENRES, k=2)
    with pytest.raises(ValueError, match="item 2 has a zero vector"):
        intra_list_diversity(REC, item_vectors=np.array([[1.0], [1.0], [0.0]]), k=2)
    with pytest.raises(ValueError, match=r"item_vectors\[1, 0\] = nan is not a finite"):
        intra_list_diversity(REC, item_vectors=np.array([[1.0], [NAN], [1.0]]), k=2)
    with pytest.raises(ValueError, match="item_vectors must be a 2-D"):
        intra_list_diversity(REC, item_vectors=np.ones(3), k=2)
    with pytest.raises(ValueError, match="binary .* holds 0.5. Pass item_genres > 0"):
        intra_list_diversity(REC, item_genres=np.eye(3) * 0.5, k=2)
    with pytest.raises(ValueError, match=r"item_genres\[1, 1\] = -1.0"):
        intra_list_diversity(REC, item_genres=np.diag([1.0, -1.0, 1.0]), k=2)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        intra_list_diversity(REC, item_vectors=VECTORS, k=2.0)
    with pytest.raises(TypeError):
        intra_list_diversity(REC, VECTORS, None, 2)  # k is keyword-only: it says what it is


def test_popularity_metrics_reject_bad_popularity():
    with pytest.raises(ValueError, match=r"item_popularity\[1\] = -1.0 is not a non-negative"):
        average_popularity(REC, np.array([1.0, -1.0, 2.0]), 2)
    with pytest.raises(ValueError, match=r"item_popularity\[0\] = nan"):
        novelty(REC, np.array([NAN, 1.0, 2.0]), 5, 2)
    with pytest.raises(ValueError, match="1-D array"):
        novelty(REC, np.ones((3, 1)), 5, 2)
    with pytest.raises(ValueError, match=r"item_popularity\[0\] = 3 exceeds n_users = 2"):
        novelty(REC, POPULARITY, 2, 2)
    with pytest.raises(ValueError, match="n_users must be a positive integer"):
        novelty(REC, POPULARITY, 0, 2)
    with pytest.raises(ValueError, match=r"\[0, 3\) nor -1"):
        average_popularity(np.array([[3]]), POPULARITY, 1)
    with pytest.raises(ValueError, match="n_items must be a positive integer"):
        gini_exposure(REC, 0, 2)


def test_miscalibration_rejects_bad_history_and_alpha():
    with pytest.raises(ValueError, match="3 rows but history has 2"):
        miscalibration(np.array([[0], [1], [2]]), HISTORY, GENRES, 1)
    with pytest.raises(ValueError, match="history has 2 item columns but item_genres has 3"):
        miscalibration(REC, sp.csr_matrix(np.ones((2, 2))), GENRES, 2)
    with pytest.raises(TypeError, match="scipy.sparse matrix"):
        miscalibration(REC, np.ones((2, 3)), GENRES, 2)
    # Before: an IndexError (tuple index out of range) from the shape check.
    with pytest.raises(ValueError, match="^history must be a 2-D users x items matrix, got 1"):
        miscalibration(REC[:1], sp.coo_array(np.ones(3)), GENRES, 2)
    with pytest.raises(ValueError, match=r"history\[1, 2\] = -1.0"):
        miscalibration(REC, sp.csr_matrix(np.array([[1, 0, 0], [0, 0, -1.0]])), GENRES, 2)
    for alpha in (0, 0.0, 1.5, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="alpha must be a number in"):
            miscalibration(REC, HISTORY, GENRES, 2, alpha)
    with pytest.raises(ValueError, match="item_genres must be a 2-D .* or a genres column"):
        miscalibration(REC, HISTORY, np.ones(3), 2)


def test_which_measures_take_per_user_as_docs_pipeline_says():
    """docs/pipeline.md said every beyond-accuracy measure takes per_user=True; coverage
    and the Gini of exposure describe the catalogue and take no such argument."""
    import inspect

    per_user = {
        name
        for name in ev.beyond.__all__
        if "per_user" in inspect.signature(getattr(ev, name)).parameters
    }
    assert per_user == {"intra_list_diversity", "novelty", "average_popularity", "miscalibration"}
    rec = np.array([[0, -1], [-1, -1], [1, 2]])
    values = ev.novelty(rec, np.array([2.0, 1.0, 1.0]), n_users=2, k=2, per_user=True)
    assert np.isnan(values[1]) and not np.isnan(values[[0, 2]]).any()
    vectors = np.eye(3)
    ild = ev.intra_list_diversity(rec, item_vectors=vectors, k=2, per_user=True)
    assert np.isnan(ild[:2]).all() and ild[2] == 1.0
