"""Biased SGD MF against a slow reference and the properties it must have."""

import numpy as np
import pytest
from conftest import random_ratings

from latentrec import Interactions
from latentrec.kernels.sgd import sgd_epoch
from latentrec.models import BiasedMF


def reference_epoch(users, items, ratings, order, mu, bu, bi, P, Q, lr, reg_b, reg, biased):
    """Plain-Python SGD over cells in ``order``, float64."""
    bu, bi, P, Q = (x.astype(np.float64).copy() for x in (bu, bi, P, Q))
    for n in order:
        u, i = users[n], items[n]
        pred = P[u] @ Q[i] + (mu + bu[u] + bi[i] if biased else 0.0)
        e = ratings[n] - pred
        if biased:
            bu[u] += lr * (e - reg_b * bu[u])
            bi[i] += lr * (e - reg_b * bi[i])
        pu = P[u].copy()
        P[u] += lr * (e * Q[i] - reg * P[u])
        Q[i] += lr * (e * pu - reg * Q[i])
    return bu, bi, P, Q


@pytest.mark.parametrize("biased", [True, False])
def test_kernel_matches_reference(biased):
    data = random_ratings(seed=3)
    rng = np.random.default_rng(0)
    k = 5
    P = rng.normal(0, 0.1, (data.n_users, k)).astype(np.float32)
    Q = rng.normal(0, 0.1, (data.n_items, k)).astype(np.float32)
    bu = rng.normal(0, 0.1, data.n_users).astype(np.float32)
    bi = rng.normal(0, 0.1, data.n_items).astype(np.float32)
    order = rng.permutation(data.nnz).astype(np.int64)
    args = (data.user_idx, data.item_idx, data.ratings, order, 3.2)
    expected = reference_epoch(*args, bu, bi, P, Q, 0.01, 0.02, 0.05, biased)
    got = [x.copy() for x in (bu, bi, P, Q)]
    sgd_epoch(*args, *got, np.float32(0.01), np.float32(0.02), np.float32(0.05), biased)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_update_is_a_gradient_step_checked_by_finite_differences():
    """One SGD step on one cell equals -lr times the gradient of its regularised loss."""
    rng = np.random.default_rng(1)
    k = 4
    p, q = rng.normal(0, 0.5, k), rng.normal(0, 0.5, k)
    bu, bi, mu, r = 0.3, -0.2, 3.5, 4.0
    reg, reg_b, lr = 0.1, 0.05, 1e-3

    def loss(theta):
        bu_, bi_, p_, q_ = theta[0], theta[1], theta[2 : 2 + k], theta[2 + k :]
        e = r - (mu + bu_ + bi_ + p_ @ q_)
        return 0.5 * e**2 + 0.5 * reg_b * (bu_**2 + bi_**2) + 0.5 * reg * (p_ @ p_ + q_ @ q_)

    theta = np.concatenate([[bu, bi], p, q])
    h = 1e-6
    numeric = np.array(
        [
            (loss(theta + h * np.eye(theta.size)[j]) - loss(theta - h * np.eye(theta.size)[j]))
            / (2 * h)
            for j in range(theta.size)
        ]
    )
    bu_a, bi_a = np.array([bu]), np.array([bi])
    P, Q = p[None, :].copy(), q[None, :].copy()
    sgd_epoch(
        np.array([0]),
        np.array([0]),
        np.array([r]),
        np.array([0]),
        mu,
        bu_a,
        bi_a,
        P,
        Q,
        lr,
        reg_b,
        reg,
        True,
    )
    step = np.concatenate([bu_a - bu, bi_a - bi, P[0] - p, Q[0] - q])
    np.testing.assert_allclose(step / -lr, numeric, rtol=1e-5, atol=1e-7)


def test_recovers_planted_low_rank_matrix():
    rng = np.random.default_rng(0)
    P = rng.normal(0, 1, (25, 2))
    Q = rng.normal(0, 1, (20, 2))
    full = P @ Q.T
    mask = rng.random(full.shape) < 0.7
    data = Interactions.from_dense(np.where(mask, full, np.nan), missing=np.nan)
    model = BiasedMF(
        n_factors=2,
        n_epochs=600,
        learning_rate=0.02,
        regularization=0.0,
        biased=False,
        random_state=0,
    ).fit(data)
    u, i = np.nonzero(~mask)
    held_out = model.predict(u, i)
    assert model.history_["train_rmse"][-1] < 0.02
    assert np.sqrt(np.mean((held_out - full[u, i]) ** 2)) < 0.1


def test_plain_form_has_no_mean_or_biases(small_data):
    model = BiasedMF(n_factors=3, n_epochs=5, biased=False, random_state=0).fit(small_data)
    assert model.global_mean_ == 0.0
    assert not model.user_bias_.any() and not model.item_bias_.any()


def test_loss_decreases_and_history_recorded(small_data):
    h = BiasedMF(n_factors=4, n_epochs=25, random_state=0).fit(small_data).history_
    assert h["epoch"] == list(range(1, 26))
    assert h["train_rmse"][-1] < h["train_rmse"][0]
    assert "valid_rmse" not in h


def test_fixed_seed_is_bit_identical_and_seed_matters(small_data):
    a = BiasedMF(n_factors=4, n_epochs=5, random_state=42).fit(small_data)
    b = BiasedMF(n_factors=4, n_epochs=5, random_state=42).fit(small_data)
    c = BiasedMF(n_factors=4, n_epochs=5, random_state=43).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_early_stopping_restores_best_epoch():
    from latentrec.data.splits import random_split

    data = random_ratings(n_users=60, n_items=40, density=0.3, seed=5)
    train, valid = random_split(data, 0.2, random_state=0)
    # No regularisation and many factors: validation error turns up quickly.
    model = BiasedMF(
        n_factors=30,
        n_epochs=300,
        learning_rate=0.05,
        regularization=0.0,
        patience=3,
        random_state=0,
    ).fit(train, validation=valid)
    h = model.history_
    assert h["stopped_early"] and len(h["epoch"]) < 300
    best = int(np.nanargmin(h["valid_rmse"]))
    assert h["best_epoch"] == best + 1
    from latentrec.kernels.sgd import rmse_cells

    now = rmse_cells(
        valid.user_idx,
        valid.item_idx,
        valid.ratings,
        model.global_mean_,
        model.user_bias_,
        model.item_bias_,
        model.user_factors_,
        model.item_factors_,
    )
    assert now == pytest.approx(h["valid_rmse"][best], rel=1e-6)


def test_users_without_training_cells_predict_item_baseline():
    from latentrec.data.splits import random_split

    data = random_ratings(seed=2)
    train, _ = random_split(data, 0.5, random_state=1)
    lonely = np.flatnonzero(train.user_counts() == 0)
    model = BiasedMF(n_factors=3, n_epochs=5, random_state=0).fit(train)
    for u in lonely:
        assert not model.user_factors_[u].any() and model.user_bias_[u] == 0


@pytest.mark.parametrize(
    "bad",
    [{"n_factors": 0}, {"learning_rate": -1.0}, {"regularization": float("nan")}, {"patience": 0}],
)
def test_bad_hyperparameters_named(bad, small_data):
    with pytest.raises(ValueError, match=next(iter(bad))):
        BiasedMF(**bad).fit(small_data)


def test_divergence_is_loud(small_data):
    with pytest.raises(FloatingPointError, match="learning_rate"):
        BiasedMF(learning_rate=50.0, n_epochs=5, random_state=0).fit(small_data)


def test_validation_must_share_vocabularies(small_data):
    other = random_ratings(n_users=5, seed=9)
    with pytest.raises(ValueError, match="vocabularies"):
        BiasedMF(n_epochs=1).fit(small_data, validation=other)
