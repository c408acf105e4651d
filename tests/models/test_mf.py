"""Biased SGD MF against a slow reference and the properties it must have."""

from itertools import permutations

import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.kernels.sgd import (
    below,
    epoch_block_order,
    grid_blocks,
    rmse_cells,
    sgd_epoch,
    shuffle_blocks,
)
from latentrec.models import BiasedMF, mf


def reference_epoch(order, ptr, users, items, ratings, mu, bu, bi, P, Q, lr, reg_b, reg, biased):
    """Plain-Python SGD over the blocks in ``order.ravel()``, each block's cells in order."""
    bu, bi, P, Q = (x.astype(np.float64).copy() for x in (bu, bi, P, Q))
    for b in order.ravel():
        for n in range(ptr[b], ptr[b + 1]):
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


def blocked(data, user_groups, item_groups=1, seed=0):
    rng = np.random.default_rng(seed)
    cells, ptr = grid_blocks(
        data.matrix.indptr, data.item_idx, data.n_items, user_groups, item_groups, rng
    )
    return ptr, data.user_idx[cells], data.item_idx[cells], data.ratings[cells]


def random_state(data, k, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, 0.1, data.n_users).astype(np.float32),
        rng.normal(0, 0.1, data.n_items).astype(np.float32),
        rng.normal(0, 0.1, (data.n_users, k)).astype(np.float32),
        rng.normal(0, 0.1, (data.n_items, k)).astype(np.float32),
    )


@pytest.mark.parametrize("biased", [True, False])
@pytest.mark.parametrize("k", [5, 37])  # 37: a vector body and a remainder loop
def test_kernel_matches_reference(biased, k):
    data = random_ratings(seed=3)
    ptr, users, items, ratings = blocked(data, 3, 2)
    shuffle_blocks(np.uint64(11), ptr, users, items, ratings)
    order = np.array([[3, 2], [0, 1], [5, 4]])
    state = random_state(data, k)
    expected = reference_epoch(
        order, ptr, users, items, ratings, 3.2, *state, 0.01, 0.02, 0.05, biased
    )
    got = [x.copy() for x in state]
    args = (order, ptr, users, items, ratings, 3.2)
    sgd_epoch(*args, *got, np.float32(0.01), np.float32(0.02), np.float32(0.05), biased, 1)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_kernel_returns_running_squared_error():
    """The returned SSE is that of each prediction just before its update."""
    data = random_ratings(seed=4)
    ptr, users, items, ratings = blocked(data, 1)
    bu, bi, P, Q = random_state(data, 3)
    lr, reg = 0.01, 0.05
    expected, (bu64, bi64, P64, Q64) = 0.0, (x.astype(np.float64) for x in (bu, bi, P, Q))
    for n in range(data.nnz):
        u, i = users[n], items[n]
        e = ratings[n] - (3.0 + bu64[u] + bi64[i] + P64[u] @ Q64[i])
        expected += e * e
        bu64[u] += lr * (e - reg * bu64[u])
        bi64[i] += lr * (e - reg * bi64[i])
        pu = P64[u].copy()
        P64[u] += lr * (e * Q64[i] - reg * P64[u])
        Q64[i] += lr * (e * pu - reg * Q64[i])
    got = sgd_epoch(
        np.array([[0]]), ptr, users, items, ratings, 3.0, bu, bi, P, Q,
        np.float32(lr), np.float32(reg), np.float32(reg), True, 1,
    )  # fmt: skip
    assert got == pytest.approx(expected, rel=1e-4)


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
    eye = np.eye(theta.size)
    numeric = np.array(
        [(loss(theta + h * eye[j]) - loss(theta - h * eye[j])) / (2 * h) for j in range(theta.size)]
    )
    # The float64 reference takes the step: the kernel in float64 would be compiled for this
    # test alone (seconds on a cold numba cache, a version no model runs).  The kernel, in
    # the models' float32, is held to the reference's step below (and on larger data by
    # test_kernel_matches_reference).
    order, ptr, zero = np.array([[0]]), np.array([0, 1]), np.array([0], dtype=np.int32)
    state = (np.array([bu]), np.array([bi]), p[None, :], q[None, :])
    bu_a, bi_a, P, Q = reference_epoch(
        order, ptr, zero, zero, np.array([r]), mu, *state, lr, reg_b, reg, True
    )
    step = np.concatenate([bu_a - bu, bi_a - bi, P[0] - p, Q[0] - q])
    np.testing.assert_allclose(step / -lr, numeric, rtol=1e-5, atol=1e-7)
    got = [x.astype(np.float32) for x in state]
    stars = np.array([r], np.float32)
    expected = reference_epoch(order, ptr, zero, zero, stars, mu, *got, 0.05, reg_b, reg, True)
    sgd_epoch(
        order, ptr, zero, zero, stars, mu, *got, *map(np.float32, (0.05, reg_b, reg)), True, 1
    )
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ shuffling
def test_below_is_exact_multiply_high():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**64, 200, dtype=np.uint64)
    bounds = rng.integers(1, 2**32, 200)
    for x, n in zip(bits, bounds, strict=True):
        assert below(x, n) == (int(x) * int(n)) >> 64


def test_shuffle_permutes_within_blocks_and_is_fixed_by_seed():
    data = random_ratings(seed=1)
    ptr, users, items, ratings = blocked(data, 5, 2)
    cells = list(zip(users.tolist(), items.tolist(), ratings.tolist(), strict=True))
    a = [x.copy() for x in (users, items, ratings)]
    b = [x.copy() for x in (users, items, ratings)]
    c = [x.copy() for x in (users, items, ratings)]
    shuffle_blocks(np.uint64(3), ptr, *a)
    shuffle_blocks(np.uint64(3), ptr, *b)
    shuffle_blocks(np.uint64(4), ptr, *c)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])
    moved = list(zip(a[0].tolist(), a[1].tolist(), a[2].tolist(), strict=True))
    for lo, hi in zip(ptr[:-1], ptr[1:], strict=True):
        assert sorted(moved[lo:hi]) == sorted(cells[lo:hi])  # rows stay together


def test_shuffle_is_uniform_over_permutations():
    """Each of the 24 orders of a 4-cell block turns up equally often (chi-square)."""
    n_blocks = 24_000
    ptr = np.arange(0, 4 * n_blocks + 1, 4, dtype=np.int64)
    users = np.tile(np.arange(4, dtype=np.int32), n_blocks)
    items, ratings = users.copy(), users.astype(np.float32)
    shuffle_blocks(np.uint64(12345), ptr, users, items, ratings)
    codes = {p: n for n, p in enumerate(permutations(range(4)))}
    seen = np.bincount([codes[tuple(row)] for row in users.reshape(-1, 4).tolist()], minlength=24)
    chi2 = ((seen - 1000) ** 2 / 1000).sum()
    assert chi2 < 60  # 23 degrees of freedom: P(chi2 > 60) < 1e-4


def test_grid_blocks_cover_every_cell_once_in_consistent_groups():
    data = random_ratings(n_users=50, n_items=30, seed=6)
    n_ug, n_ig = 7, 3
    cells, ptr = grid_blocks(
        data.matrix.indptr, data.item_idx, data.n_items, n_ug, n_ig, np.random.default_rng(0)
    )
    assert sorted(cells.tolist()) == list(range(data.nnz))
    assert ptr.size == n_ug * n_ig + 1 and ptr[0] == 0 and ptr[-1] == data.nnz
    users, items = data.user_idx[cells], data.item_idx[cells]
    user_group, item_group = {}, {}
    for b in range(n_ug * n_ig):
        for u, i in zip(users[ptr[b] : ptr[b + 1]], items[ptr[b] : ptr[b + 1]], strict=True):
            assert user_group.setdefault(u, b // n_ig) == b // n_ig  # one group per user
            assert item_group.setdefault(i, b % n_ig) == b % n_ig  # and per item
    # Groups are balanced: cells per user group, items per item group.
    per_user_group = [ptr[(g + 1) * n_ig] - ptr[g * n_ig] for g in range(n_ug)]
    assert max(per_user_group) <= data.nnz / n_ug + data.user_counts().max()
    assert np.bincount(list(item_group.values())).max() <= data.n_items // n_ig + 1


def test_epoch_block_order_keeps_user_groups_together():
    order = epoch_block_order(np.random.default_rng(3), 4, 3)
    assert sorted(order.ravel().tolist()) == list(range(12))
    assert all(len(set((row // 3).tolist())) == 1 for row in order)


# ------------------------------------------------------------------ the model
def test_fit_is_the_documented_algorithm(small_data):
    """Replaying fit's draws through the kernels by hand gives the same model."""
    k, epochs, lr, decay, reg = 3, 4, 0.05, 0.5, 0.02
    model = BiasedMF(
        n_factors=k,
        n_epochs=epochs,
        learning_rate=lr,
        learning_rate_decay=decay,
        regularization=reg,
        num_threads=1,
        random_state=7,
    ).fit(small_data)
    rng = np.random.default_rng(7)
    n_ug, n_ig = mf.grid_shape(small_data.n_users, small_data.n_items, k, 1)
    cells, ptr = grid_blocks(
        small_data.matrix.indptr, small_data.item_idx, small_data.n_items, n_ug, n_ig, rng
    )
    users, items = small_data.user_idx[cells], small_data.item_idx[cells]
    ratings = small_data.ratings[cells]
    P = (rng.standard_normal((small_data.n_users, k), dtype=np.float32)) * np.float32(0.05)
    Q = (rng.standard_normal((small_data.n_items, k), dtype=np.float32)) * np.float32(0.05)
    bu, bi = np.zeros(small_data.n_users, np.float32), np.zeros(small_data.n_items, np.float32)
    mu = small_data.global_mean()
    for epoch in range(epochs):
        shuffle_blocks(rng.integers(0, 2**64, dtype=np.uint64), ptr, users, items, ratings)
        order = epoch_block_order(rng, n_ug, n_ig)
        step = np.float32(lr * decay**epoch)
        sgd_epoch(order, ptr, users, items, ratings, mu, bu, bi, P, Q, step,
                  np.float32(reg), np.float32(reg), True, 1)  # fmt: skip
    np.testing.assert_array_equal(model.user_factors_, P)
    np.testing.assert_array_equal(model.item_factors_, Q)
    np.testing.assert_array_equal(model.user_bias_, bu)
    np.testing.assert_array_equal(model.item_bias_, bi)


def test_parallel_kernel_converges_like_one_thread():
    """Hogwild chunks on several threads reach about the RMSE of the sequential pass."""
    # Hogwild! relies on sparsity: two threads rarely touch the same item row at once.
    data = random_ratings(n_users=3000, n_items=2000, density=0.01, seed=8)
    ptr, users, items, ratings = blocked(data, 16, 2)
    mu = data.global_mean()
    rmse = {}
    for chunks in (1, 4):
        bu, bi, P, Q = random_state(data, 4, seed=1)
        rng = np.random.default_rng(0)
        for epoch in range(30):
            shuffle_blocks(np.uint64(epoch), ptr, users, items, ratings)
            sgd_epoch(epoch_block_order(rng, 16, 2), ptr, users, items, ratings, mu, bu, bi,
                      P, Q, np.float32(0.03), np.float32(0.02), np.float32(0.02), True,
                      chunks)  # fmt: skip
        rmse[chunks] = rmse_cells(data.user_idx, data.item_idx, data.ratings, mu, bu, bi, P, Q)
    assert rmse[1] < 0.5  # it fits the training cells (their std is 0.94)
    assert abs(rmse[4] - rmse[1]) < 0.05


def test_model_on_several_threads_converges_like_one(monkeypatch):
    data = random_ratings(n_users=3000, n_items=2000, density=0.01, seed=8)
    monkeypatch.setattr(mf, "PARALLEL_MIN_CELLS", 0)  # let small data use threads
    kw = dict(n_factors=4, n_epochs=15, learning_rate=0.05, learning_rate_decay=0.9)
    one = BiasedMF(num_threads=1, random_state=0, **kw).fit(data)
    two = BiasedMF(num_threads=2, random_state=0, **kw).fit(data)
    assert abs(one.history_["train_rmse"][-1] - two.history_["train_rmse"][-1]) < 0.05


def test_small_data_trains_on_one_thread_whatever_num_threads(small_data):
    a = BiasedMF(n_factors=3, n_epochs=3, num_threads=1, random_state=3).fit(small_data)
    b = BiasedMF(n_factors=3, n_epochs=3, num_threads=2, random_state=3).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)


def test_learning_rate_decay_slows_learning(small_data):
    kw = dict(n_factors=3, n_epochs=10, learning_rate=0.05, random_state=0)
    flat = BiasedMF(learning_rate_decay=1.0, **kw).fit(small_data).history_["train_rmse"]
    fast = BiasedMF(learning_rate_decay=0.5, **kw).fit(small_data).history_["train_rmse"]
    # The first epoch is the same step size; later epochs barely move with decay 0.5.
    assert flat[0] == fast[0]
    assert abs(fast[-1] - fast[-2]) < abs(flat[-1] - flat[-2])


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
        learning_rate_decay=1.0,
        regularization=0.0,
        init_std=0.1,
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


def test_running_train_rmse_matches_end_of_epoch_rmse_when_converged(small_data):
    model = BiasedMF(n_factors=3, n_epochs=30, learning_rate_decay=0.8, random_state=0)
    model.fit(small_data)
    exact = rmse_cells(
        small_data.user_idx,
        small_data.item_idx,
        small_data.ratings,
        model.global_mean_,
        model.user_bias_,
        model.item_bias_,
        model.user_factors_,
        model.item_factors_,
    )
    assert model.history_["train_rmse"][-1] == pytest.approx(exact, abs=1e-3)


def test_fixed_seed_is_bit_identical_and_seed_matters(small_data):
    a = BiasedMF(n_factors=4, n_epochs=5, num_threads=1, random_state=42).fit(small_data)
    b = BiasedMF(n_factors=4, n_epochs=5, num_threads=1, random_state=42).fit(small_data)
    c = BiasedMF(n_factors=4, n_epochs=5, num_threads=1, random_state=43).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_fixed_seed_is_bit_identical_on_data_large_enough_for_threads(monkeypatch):
    data = random_ratings(n_users=120, n_items=60, density=0.3, seed=2)
    monkeypatch.setattr(mf, "PARALLEL_MIN_CELLS", 0)
    a = BiasedMF(n_factors=4, n_epochs=4, num_threads=1, random_state=1).fit(data)
    b = BiasedMF(n_factors=4, n_epochs=4, num_threads=1, random_state=1).fit(data)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)


def test_early_stopping_restores_best_epoch():
    from latentrec.data.splits import random_split

    data = random_ratings(n_users=60, n_items=40, density=0.3, seed=5)
    train, valid = random_split(data, 0.2, random_state=0)
    # No regularisation and many factors: validation error turns up quickly.
    model = BiasedMF(
        n_factors=30,
        n_epochs=300,
        learning_rate=0.05,
        learning_rate_decay=1.0,
        regularization=0.0,
        patience=3,
        random_state=0,
    ).fit(train, validation=valid)
    h = model.history_
    assert h["stopped_early"] and len(h["epoch"]) < 300
    best = int(np.nanargmin(h["valid_rmse"]))
    assert h["best_epoch"] == best + 1
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
    assert lonely.size
    model = BiasedMF(n_factors=3, n_epochs=5, random_state=0).fit(train)
    for u in lonely:
        assert not model.user_factors_[u].any() and model.user_bias_[u] == 0


def test_save_load_round_trip(small_data, tmp_path):
    model = BiasedMF(n_factors=3, n_epochs=3, learning_rate_decay=0.9, random_state=0)
    model.fit(small_data)
    model.save(tmp_path / "mf.npz")
    loaded = latentrec.load(tmp_path / "mf.npz")
    assert loaded.get_params() == model.get_params()
    users, items = small_data.users.ids[:5], small_data.items.ids[:5]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))


@pytest.mark.parametrize(
    "bad",
    [
        {"n_factors": 0},
        {"learning_rate": -1.0},
        {"regularization": float("nan")},
        {"patience": 0},
        {"learning_rate_decay": 0.0},
        {"learning_rate_decay": 1.5},
        {"num_threads": 0},
    ],
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


def test_threads_are_restored_after_fit(small_data, monkeypatch):
    import numba

    monkeypatch.setattr(mf, "PARALLEL_MIN_CELLS", 0)
    before = numba.get_num_threads()
    BiasedMF(n_factors=2, n_epochs=1, num_threads=1).fit(small_data)
    assert numba.get_num_threads() == before
