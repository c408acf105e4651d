"""Synthetic data: exact sizes, coverage, seeding, and values that follow the planted model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentrec import datasets
from latentrec.data import synthetic as syn


def planted_scores(data, truth):
    u, i = data.user_idx, data.item_idx
    return (
        truth["mu"]
        + truth["user_bias"][u]
        + truth["item_bias"][i]
        + np.einsum("ij,ij->i", truth["P"][u], truth["Q"][i])
    )


def test_defaults_shape_and_values():
    data = datasets.synthetic(random_state=0)
    assert data.shape == (1000, 500)
    assert data.nnz == 20000
    assert data.rating_scale == (1.0, 5.0)
    assert not data.implicit
    assert data.users.ids.tolist() == list(range(1000))
    assert data.items.ids.tolist() == list(range(500))
    assert set(np.unique(data.ratings).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert data.ratings.dtype == np.float32


def test_every_user_and_item_is_observed():
    data = datasets.synthetic(3000, 2000, 6000, random_state=1)
    assert data.user_counts().min() >= 1
    assert data.item_counts().min() >= 1


def test_seed_reproduces_and_varies():
    a = datasets.synthetic(300, 100, 5000, random_state=7)
    b = datasets.synthetic(300, 100, 5000, random_state=np.random.default_rng(7))
    c = datasets.synthetic(300, 100, 5000, random_state=8)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_truth_shapes():
    data, truth = datasets.synthetic(200, 80, 4000, n_factors=3, random_state=0, return_truth=True)
    assert truth["P"].shape == (200, 3) and truth["Q"].shape == (80, 3)
    assert truth["user_bias"].shape == (200,) and truth["item_bias"].shape == (80,)
    assert truth["mu"] == pytest.approx(syn.EXPLICIT_MEAN)
    assert truth["user_activity"].sum() == pytest.approx(1.0)
    assert truth["item_popularity"].sum() == pytest.approx(1.0)


def test_noiseless_ratings_are_the_rounded_planted_scores():
    data, truth = datasets.synthetic(400, 150, 9000, noise=0.0, random_state=3, return_truth=True)
    expected = np.clip(np.rint(planted_scores(data, truth)), 1, 5)
    np.testing.assert_array_equal(data.ratings, expected.astype(np.float32))


def test_noise_lowers_agreement_with_the_model():
    def agreement(noise):
        data, truth = datasets.synthetic(
            500, 200, 20000, noise=noise, random_state=5, return_truth=True
        )
        return np.corrcoef(data.ratings, planted_scores(data, truth))[0, 1]

    quiet, loud = agreement(0.1), agreement(2.0)
    assert quiet > 0.9
    assert loud < quiet - 0.2


def test_factors_carry_signal():
    # Without the p.q term the ratings should be explained much worse.
    data, truth = datasets.synthetic(
        500, 200, 20000, n_factors=4, noise=0.1, random_state=2, return_truth=True
    )
    u, i = data.user_idx, data.item_idx
    biases_only = truth["mu"] + truth["user_bias"][u] + truth["item_bias"][i]
    full = planted_scores(data, truth)
    rmse_full = np.sqrt(np.mean((np.clip(full, 1, 5) - data.ratings) ** 2))
    rmse_bias = np.sqrt(np.mean((np.clip(biases_only, 1, 5) - data.ratings) ** 2))
    assert rmse_full < 0.45 < rmse_bias


def test_popular_items_and_active_users_have_more_ratings():
    data, truth = datasets.synthetic(2000, 1000, 60000, random_state=4, return_truth=True)

    def rank_corr(a, b):
        return np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]

    assert rank_corr(data.item_counts(), truth["item_popularity"]) > 0.8
    assert rank_corr(data.user_counts(), truth["user_activity"]) > 0.8
    # Zipf-like: the 10% most popular items hold far more than 10% of the ratings.
    counts = np.sort(data.item_counts())[::-1]
    assert counts[:100].sum() / counts.sum() > 0.35


def test_implicit_counts():
    data, truth = datasets.synthetic(
        300, 100, 6000, implicit=True, random_state=0, return_truth=True
    )
    assert data.implicit
    assert data.rating_scale is None
    values = data.ratings
    assert values.min() >= 1 and np.all(values == np.round(values))
    assert values.max() > 1
    # Higher planted rates give larger counts.
    assert np.corrcoef(np.log(values), planted_scores(data, truth))[0, 1] > 0.5


@pytest.mark.parametrize(
    "shape",
    [(50, 40, 2000), (40, 50, 1999), (2000, 1500, 40000), (100, 30000, 60000)],
    ids=["full", "full-but-one", "sparse", "wide"],
)
def test_exact_count_in_dense_and_sparse_regimes(shape):
    data = datasets.synthetic(*shape, random_state=0)
    assert data.nnz == shape[2]
    assert data.shape == shape[:2]
    assert data.user_counts().min() >= 1 and data.item_counts().min() >= 1


def test_both_samplers_agree_on_skew(monkeypatch):
    # The key-per-cell sampler and the draw-and-discard sampler are two ways of drawing
    # the same distribution; their item-count profiles should match closely.
    args = dict(n_users=2000, n_items=1000, n_ratings=50000, random_state=11)
    monkeypatch.setattr(syn, "_DENSE_CELLS", 0)
    monkeypatch.setattr(syn, "_DENSE_CELLS_PER_RATING", 10**9)
    dense = np.sort(datasets.synthetic(**args).item_counts())[::-1]
    monkeypatch.setattr(syn, "_DENSE_CELLS_PER_RATING", 0)
    stream = np.sort(datasets.synthetic(**args).item_counts())[::-1]
    assert dense.sum() == stream.sum() == 50000
    head_dense, head_stream = dense[:100].sum(), stream[:100].sum()
    assert abs(head_dense - head_stream) / head_dense < 0.05


@settings(max_examples=100, deadline=None)
@given(
    n_users=st.integers(1, 40),
    n_items=st.integers(1, 40),
    fill=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_feasible_size_is_hit_exactly(n_users, n_items, fill, seed):
    low, high = max(n_users, n_items), n_users * n_items
    n_ratings = low + int(round(fill * (high - low)))
    data = datasets.synthetic(n_users, n_items, n_ratings, n_factors=2, random_state=seed)
    assert data.nnz == n_ratings
    assert data.shape == (n_users, n_items)
    assert data.user_counts().min() >= 1 and data.item_counts().min() >= 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(n_users=10, n_items=10, n_ratings=101), ValueError, "exceeds the 10 x 10"),
        (dict(n_users=10, n_items=30, n_ratings=20), ValueError, "at least 30"),
        (dict(n_users=0), ValueError, "n_users must be at least 1"),
        (dict(n_factors=-1), ValueError, "n_factors must be at least 0"),
        (dict(n_ratings=2.5), TypeError, "n_ratings must be an integer"),
        (dict(noise=-0.1), ValueError, "noise must be"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.synthetic(**kwargs)


def test_zero_factors_gives_biases_only():
    data, truth = datasets.synthetic(
        100, 50, 1000, n_factors=0, noise=0.0, random_state=0, return_truth=True
    )
    assert truth["P"].shape == (100, 0)
    u, i = data.user_idx, data.item_idx
    expected = np.clip(np.rint(truth["mu"] + truth["user_bias"][u] + truth["item_bias"][i]), 1, 5)
    np.testing.assert_array_equal(data.ratings, expected)
