"""Explicit ALS against a NumPy least-squares reference and the properties it must have."""

import numba
import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.kernels.als import als_half_step, weighted_ridge_loss
from latentrec.models.als import ALS, csr_arrays


def lstsq_rows(indptr, indices, values, mu, other_bias, other_factors, reg, reg_b):
    """Each row's [p, b] from np.linalg.lstsq on the augmented ridge system, float64.

    Rows [q_j, 1] with targets v_j − μ − b'_j, stacked over sqrt(n·λ) I (factors) and
    sqrt(n·λ_b) (bias) rows with target 0.
    """
    k = other_factors.shape[1]
    out = np.zeros((len(indptr) - 1, k + 1))
    for r in range(len(indptr) - 1):
        cells = slice(indptr[r], indptr[r + 1])
        j = indices[cells]
        n = j.size
        if n == 0:
            continue
        X = np.hstack([other_factors[j].astype(np.float64), np.ones((n, 1))])
        y = values[cells] - mu - other_bias[j]
        penalty = np.sqrt(n * np.array([reg] * k + [reg_b]))
        X_aug = np.vstack([X, np.diag(penalty)])
        y_aug = np.concatenate([y, np.zeros(k + 1)])
        out[r] = np.linalg.lstsq(X_aug, y_aug, rcond=None)[0]
    return out


def random_state_arrays(data, k, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.5, (data.n_users, k)).astype(np.float32)
    Q = rng.normal(0, 0.5, (data.n_items, k)).astype(np.float32)
    bu = rng.normal(0, 0.3, data.n_users).astype(np.float32)
    bi = rng.normal(0, 0.3, data.n_items).astype(np.float32)
    return bu, bi, P, Q


@pytest.mark.parametrize("reg, reg_b", [(0.1, 0.1), (0.05, 0.4), (0.3, 0.0)])
def test_half_step_matches_lstsq_on_the_augmented_ridge_system(reg, reg_b):
    data = random_ratings(n_users=12, n_items=9, density=0.4, seed=7)
    k = 3
    bu, bi, P, Q = random_state_arrays(data, k)
    mu = data.global_mean()
    by_user = csr_arrays(data.matrix)
    by_item = csr_arrays(data.matrix.T.tocsr())
    expected_users = lstsq_rows(*by_user, mu, bi, Q, reg, reg_b)
    als_half_step(*by_user, mu, bi, Q, reg, reg_b, bu, P)
    np.testing.assert_allclose(P, expected_users[:, :k], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bu, expected_users[:, k], rtol=1e-4, atol=1e-5)
    expected_items = lstsq_rows(*by_item, mu, bu, P, reg, reg_b)
    als_half_step(*by_item, mu, bu, P, reg, reg_b, bi, Q)
    np.testing.assert_allclose(Q, expected_items[:, :k], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bi, expected_items[:, k], rtol=1e-4, atol=1e-5)


def test_rows_without_cells_get_zeros():
    indptr = np.array([0, 0, 2], dtype=np.int64)
    indices = np.array([0, 1], dtype=np.int32)
    values = np.array([4.0, 2.0], dtype=np.float32)
    Q = np.ones((2, 2), dtype=np.float32)
    out_b = np.full(2, 9.0, dtype=np.float32)
    out_p = np.full((2, 2), 9.0, dtype=np.float32)
    failed = als_half_step(
        indptr, indices, values, 3.0, np.zeros(2, np.float32), Q, 0.1, 0.1, out_b, out_p
    )
    assert failed == 0
    assert out_b[0] == 0 and not out_p[0].any()
    assert out_b[1] != 9.0


def test_weighted_ridge_loss_matches_dense_numpy():
    data = random_ratings(n_users=10, n_items=8, density=0.5, seed=2)
    bu, bi, P, Q = random_state_arrays(data, 4, seed=3)
    mu, reg, reg_b = 3.1, 0.2, 0.05
    R = data.matrix.toarray().astype(np.float64)
    mask = R != 0
    bu64, bi64, P64, Q64 = (x.astype(np.float64) for x in (bu, bi, P, Q))
    pred = mu + bu64[:, None] + bi64[None, :] + P64 @ Q64.T
    n_u, n_i = mask.sum(axis=1), mask.sum(axis=0)
    expected = (
        (((R - pred) * mask) ** 2).sum()
        + reg * (n_u @ (P64**2).sum(1) + n_i @ (Q64**2).sum(1))
        + reg_b * (n_u @ bu64**2 + n_i @ bi64**2)
    )
    got = weighted_ridge_loss(*csr_arrays(data.matrix), mu, bu, bi, P, Q, reg, reg_b)
    assert got == pytest.approx(expected, rel=1e-9)


def test_objective_never_increases_across_half_steps():
    data = random_ratings(n_users=40, n_items=25, density=0.3, seed=11)
    k, reg, reg_b = 5, 0.05, 0.02
    bu, bi, P, Q = random_state_arrays(data, k, seed=1)
    mu = data.global_mean()
    by_user = csr_arrays(data.matrix)
    by_item = csr_arrays(data.matrix.T.tocsr())

    def loss():
        return weighted_ridge_loss(*by_user, mu, bu, bi, P, Q, reg, reg_b)

    losses = [loss()]
    for _ in range(15):
        als_half_step(*by_item, mu, bu, P, reg, reg_b, bi, Q)
        losses.append(loss())
        als_half_step(*by_user, mu, bi, Q, reg, reg_b, bu, P)
        losses.append(loss())
    steps = np.diff(losses)
    # float32 storage of the solution allows rounding-level increases only.
    assert (steps <= 1e-6 * np.abs(losses[:-1])).all(), steps
    assert losses[-1] < 0.5 * losses[0]


def test_each_half_step_is_the_exact_minimiser():
    """Perturbing any solved row in any direction raises the objective."""
    data = random_ratings(n_users=15, n_items=10, density=0.4, seed=4)
    k, reg, reg_b = 3, 0.1, 0.1
    bu, bi, P, Q = random_state_arrays(data, k, seed=5)
    mu = data.global_mean()
    by_user = csr_arrays(data.matrix)
    als_half_step(*by_user, mu, bi, Q, reg, reg_b, bu, P)
    base = weighted_ridge_loss(*by_user, mu, bu, bi, P, Q, reg, reg_b)
    rng = np.random.default_rng(0)
    for _ in range(20):
        u = rng.integers(data.n_users)
        P2, bu2 = P.copy(), bu.copy()
        P2[u] += rng.normal(0, 1e-2, k).astype(np.float32)
        bu2[u] += np.float32(rng.normal(0, 1e-2))
        assert weighted_ridge_loss(*by_user, mu, bu2, bi, P2, Q, reg, reg_b) > base


def test_recovers_planted_low_rank_matrix():
    rng = np.random.default_rng(0)
    P = rng.normal(0, 1, (30, 2))
    Q = rng.normal(0, 1, (25, 2))
    full = 3.0 + rng.normal(0, 0.5, (30, 1)) + rng.normal(0, 0.5, (1, 25)) + P @ Q.T
    mask = rng.random(full.shape) < 0.6
    data = Interactions.from_dense(np.where(mask, full, np.nan), missing=np.nan)
    model = ALS(n_factors=2, n_epochs=100, regularization=1e-4, random_state=0).fit(data)
    u, i = np.nonzero(~mask)
    assert model.history_["train_rmse"][-1] < 0.01
    assert np.sqrt(np.mean((model.predict(u, i) - full[u, i]) ** 2)) < 0.05


def test_history_and_objective_driven_train_rmse_decrease(small_data):
    h = ALS(n_factors=4, n_epochs=10, random_state=0).fit(small_data).history_
    assert h["epoch"] == list(range(1, 11))
    assert h["train_rmse"][-1] < h["train_rmse"][0]
    assert "valid_rmse" not in h


def test_fixed_seed_is_bit_identical_whatever_the_thread_count(small_data):
    a = ALS(n_factors=4, n_epochs=5, random_state=42, num_threads=1).fit(small_data)
    b = ALS(n_factors=4, n_epochs=5, random_state=42, num_threads=2).fit(small_data)
    c = ALS(n_factors=4, n_epochs=5, random_state=43).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_num_threads_is_restored_after_fit(small_data):
    before = numba.get_num_threads()
    ALS(n_factors=2, n_epochs=1, num_threads=1).fit(small_data)
    assert numba.get_num_threads() == before


def test_early_stopping_restores_best_iteration():
    data = random_ratings(n_users=60, n_items=40, density=0.3, seed=5)
    train, valid = random_split(data, 0.2, random_state=0)
    # Many factors and almost no regularisation: the validation error turns up.
    model = ALS(n_factors=20, n_epochs=50, regularization=1e-3, patience=2, random_state=0).fit(
        train, validation=valid
    )
    h = model.history_
    assert h["stopped_early"] and len(h["epoch"]) < 50
    assert h["best_epoch"] == int(np.argmin(h["valid_rmse"])) + 1
    pred = model.predict(valid.users.ids[valid.user_idx], valid.items.ids[valid.item_idx])
    assert np.sqrt(np.mean((pred - valid.ratings) ** 2)) == pytest.approx(
        min(h["valid_rmse"]), rel=1e-5
    )


def test_save_load_round_trip(small_data, tmp_path):
    model = ALS(n_factors=3, n_epochs=4, random_state=0).fit(small_data)
    path = tmp_path / "als.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert type(loaded) is ALS and loaded.get_params() == model.get_params()
    users = small_data.users.ids[:5]
    items = small_data.items.ids[:5]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    np.testing.assert_array_equal(loaded.user_factors_, model.user_factors_)


# ----------------------------------------------------------------- fold-in hooks
def test_solve_user_rows_reproduces_the_trained_users(small_data):
    model = ALS(n_factors=4, n_epochs=6, regularization=0.05, random_state=0).fit(small_data)
    m = small_data.matrix
    bias, factors = model._solve_user_rows(m.indptr, m.indices, m.data)
    np.testing.assert_array_equal(factors, model.user_factors_)
    np.testing.assert_array_equal(bias, model.user_bias_)


def test_solve_user_rows_after_early_stopping_still_reproduces_users():
    data = random_ratings(n_users=60, n_items=40, density=0.3, seed=5)
    train, valid = random_split(data, 0.2, random_state=0)
    model = ALS(n_factors=20, n_epochs=50, regularization=1e-3, patience=2, random_state=0)
    model.fit(train, validation=valid)
    m = train.matrix
    bias, factors = model._solve_user_rows(m.indptr, m.indices, m.data)
    np.testing.assert_array_equal(factors, model.user_factors_)
    np.testing.assert_array_equal(bias, model.user_bias_)


def test_solve_user_rows_on_a_subset_of_users(small_data):
    model = ALS(n_factors=3, n_epochs=5, random_state=0).fit(small_data)
    rows = small_data.matrix[[4, 0, 7]]
    bias, factors = model._solve_user_rows(rows.indptr, rows.indices, rows.data)
    np.testing.assert_array_equal(factors, model.user_factors_[[4, 0, 7]])
    np.testing.assert_array_equal(bias, model.user_bias_[[4, 0, 7]])


def test_solve_item_rows_is_a_fresh_item_half_step_from_the_final_users(small_data):
    model = ALS(n_factors=3, n_epochs=5, regularization=0.08, random_state=0).fit(small_data)
    by_item = small_data.matrix.T.tocsr()
    bias, factors = model._solve_item_rows(by_item.indptr, by_item.indices, by_item.data)
    expected = lstsq_rows(
        by_item.indptr,
        by_item.indices,
        by_item.data,
        model.global_mean_,
        model.user_bias_,
        model.user_factors_,
        0.08,
        0.08,
    )
    np.testing.assert_allclose(factors, expected[:, :3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, expected[:, 3], rtol=1e-4, atol=1e-5)


def test_fold_in_rows_are_checked(small_data):
    model = ALS(n_factors=2, n_epochs=2, random_state=0).fit(small_data)
    with pytest.raises(ValueError, match="item index 99 is out of range"):
        model._solve_user_rows([0, 1], [99], [4.0])
    with pytest.raises(ValueError, match="indptr ends at 2"):
        model._solve_user_rows([0, 2], [1], [4.0])
    with pytest.raises(ValueError, match="finite"):
        model._solve_user_rows([0, 1], [1], [np.nan])
    bias, factors = model._solve_user_rows([0, 0], [], [])
    assert bias.tolist() == [0.0] and factors.shape == (1, 2)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_factors": 0}, "n_factors"),
        ({"n_epochs": 1.5}, "n_epochs"),
        ({"regularization": -1.0}, "regularization"),
        ({"bias_regularization": float("nan")}, "bias_regularization"),
        ({"num_threads": 0}, "num_threads"),
        ({"patience": 0}, "patience"),
    ],
)
def test_bad_hyperparameters_are_named(small_data, params, match):
    with pytest.raises(ValueError, match=match):
        ALS(**params).fit(small_data)


@pytest.mark.network
def test_quality_floor_on_movielens_100k():
    from latentrec.datasets import movielens
    from latentrec.evaluation import evaluate_ratings
    from latentrec.models import Biases

    train, test = random_split(movielens("100k", verbose=False), 0.2, random_state=0)
    rmse = evaluate_ratings(ALS(random_state=0, num_threads=1).fit(train), test)["rmse"]
    # Measured 0.903 (Biases 0.936); Surprise's default SVD scores about 0.934-0.94.
    assert rmse < 0.915
    assert rmse < evaluate_ratings(Biases().fit(train), test)["rmse"] - 0.02


def test_fold_in_and_partial_fit_use_the_training_half_step(small_data):
    """Through the public API of FactorModel: a training user's ratings fold back in exactly."""
    import pandas as pd

    model = ALS(n_factors=3, n_epochs=5, random_state=0).fit(small_data)
    u = 3
    row = small_data.matrix[u]
    ratings = dict(zip(small_data.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))
    vec = model.fold_in(ratings)
    np.testing.assert_array_equal(vec.factors, model.user_factors_[u])
    assert vec.bias == model.user_bias_[u]
    new = pd.DataFrame(
        {"user_id": "newcomer", "item_id": list(ratings), "rating": list(ratings.values())}
    )
    model.partial_fit_users(new)
    np.testing.assert_array_equal(model.user_factors_[-1], model.user_factors_[u])
