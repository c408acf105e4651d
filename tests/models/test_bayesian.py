"""Bayesian MF: the Gibbs conditionals against closed forms, and the model's properties."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

import latentrec
from latentrec import Interactions
from latentrec.data.splits import random_split
from latentrec.kernels.bpmf import sample_normal_wishart, sample_rows, sample_wishart
from latentrec.models import Biases
from latentrec.models.bayesian import BayesianMF


def conjugate_case(seed=0, k=3, n_cells=6):
    """One user with ``n_cells`` ratings of fixed items, a random prior, and its posterior."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(0, 1, (n_cells, k)).astype(np.float32)
    bi = rng.normal(0, 0.5, n_cells).astype(np.float32)
    r = rng.integers(1, 6, n_cells).astype(np.float32)
    mu, alpha = 3.2, 1.7
    B = rng.normal(0, 1, (k + 1, k + 1))
    prior = B @ B.T + np.eye(k + 1)
    prior_mean = rng.normal(0, 1, k + 1)
    # The closed form, written out: x_j = [q_j, 1], y_j = r_j − μ − b_j.
    X = np.hstack([Q.astype(np.float64), np.ones((n_cells, 1))])
    y = r - mu - bi.astype(np.float64)
    post_prec = prior + alpha * X.T @ X
    post_cov = np.linalg.inv(post_prec)
    post_mean = post_cov @ (prior @ prior_mean + alpha * X.T @ y)
    cells = (np.arange(n_cells, dtype=np.int32), r)
    return cells, mu, bi, Q, alpha, prior, prior @ prior_mean, post_mean, post_cov


def draw(cells, mu, bi, Q, alpha, prior, linear, normals):
    """Rows of the same user, one per row of ``normals``: independent conditional draws."""
    n, k1 = normals.shape
    indices = np.tile(cells[0], n)
    values = np.tile(cells[1], n)
    indptr = np.arange(n + 1, dtype=np.int64) * cells[0].size
    out_b = np.zeros(n, dtype=np.float32)
    out_p = np.zeros((n, k1 - 1), dtype=np.float32)
    failed = sample_rows(
        indptr, indices, values, mu, bi, Q, alpha, prior, linear, normals, out_b, out_p
    )
    assert failed == 0
    return np.hstack([out_p, out_b[:, None]]).astype(np.float64)


def test_zero_noise_draw_is_the_exact_posterior_mean():
    case = conjugate_case(seed=1)
    *args, post_mean, _ = case
    z = draw(*args, np.zeros((1, post_mean.size)))
    np.testing.assert_allclose(z[0], post_mean, rtol=1e-5, atol=1e-6)


def test_draws_have_the_closed_form_posterior_mean_and_covariance():
    *args, post_mean, post_cov = conjugate_case(seed=2)
    n = 40_000
    normals = np.random.default_rng(3).standard_normal((n, post_mean.size))
    z = draw(*args, normals)
    se = np.sqrt(np.diag(post_cov) / n)
    assert (np.abs(z.mean(axis=0) - post_mean) < 5 * se).all()
    np.testing.assert_allclose(np.cov(z.T), post_cov, rtol=0.05, atol=0.05 * post_cov.max())
    # L⁻ᵀε is an exact linear map: the normals' own sample covariance maps to the draws'.
    L = np.linalg.cholesky(np.linalg.inv(post_cov))
    mapped = np.linalg.solve(L.T, np.cov(normals.T)) @ np.linalg.inv(L)
    np.testing.assert_allclose(np.cov(z.T), mapped, rtol=1e-4, atol=1e-6)


def test_row_without_cells_is_drawn_from_the_prior():
    k = 2
    prior = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 4.0]])
    prior_mean = np.array([1.0, -1.0, 0.5])
    out_b = np.zeros(1, dtype=np.float32)
    out_p = np.zeros((1, k), dtype=np.float32)
    sample_rows(
        np.array([0, 0], dtype=np.int64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.float32),
        3.0,
        np.zeros(1, np.float32),
        np.zeros((1, k), np.float32),
        2.0,
        prior,
        prior @ prior_mean,
        np.zeros((1, k + 1)),
        out_b,
        out_p,
    )
    np.testing.assert_allclose(np.append(out_p[0], out_b[0]), prior_mean, rtol=1e-6)


def test_wishart_draws_have_the_known_mean_and_variance():
    W = np.array([[0.5, 0.2], [0.2, 0.3]])
    nu = 6.0
    rng = np.random.default_rng(0)
    draws = np.array([sample_wishart(W, nu, rng) for _ in range(10_000)])
    np.testing.assert_allclose(draws.mean(axis=0), nu * W, rtol=0.03)
    expected_var = nu * (W**2 + np.outer(np.diag(W), np.diag(W)))
    np.testing.assert_allclose(draws.var(axis=0), expected_var, rtol=0.08)
    with pytest.raises(ValueError, match="degrees of freedom"):
        sample_wishart(W, 0.5, rng)


def test_normal_wishart_posterior_moments():
    """E[Λ] = ν* W* and E[m] = μ* under the Normal-Wishart posterior (Bishop 2006, 2.4)."""
    rng = np.random.default_rng(1)
    X = rng.normal([1.0, -0.5], [0.7, 1.2], (30, 2))
    n, k = X.shape
    beta0, nu0 = 2.0, float(k)
    xbar = X.mean(0)
    S = (X - xbar).T @ (X - xbar)
    W_post = np.linalg.inv(np.eye(k) + S + beta0 * n / (beta0 + n) * np.outer(xbar, xbar))
    draws = [sample_normal_wishart(X, rng) for _ in range(10_000)]
    means = np.array([d[0] for d in draws])
    precisions = np.array([d[1] for d in draws])
    np.testing.assert_allclose(precisions.mean(0), (nu0 + n) * W_post, rtol=0.03, atol=0.01)
    np.testing.assert_allclose(means.mean(0), n * xbar / (beta0 + n), atol=0.01)


# ----------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def fitted():
    data = random_ratings(n_users=40, n_items=30, density=0.4, seed=1)
    model = BayesianMF(n_factors=3, n_samples=15, burn_in=5, random_state=0, num_threads=1).fit(
        data
    )
    return data, model


def test_prediction_is_the_average_over_stored_samples(fitted):
    data, model = fitted
    P, Q = model.samples()
    assert P.shape == (15, data.n_users, 3) and Q.shape == (15, data.n_items, 3)
    u, i = data.user_idx, data.item_idx
    per_sample = np.einsum("suk,suk->su", P[:, u].astype(np.float64), Q[:, i])
    expected = model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
    expected = expected + per_sample.mean(axis=0)
    got = model.predict(data.users.ids[u], data.items.ids[i])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_final_train_rmse_in_history_is_that_of_the_stored_model(fitted):
    """The sampler's running sum of per-sample predictions (computed cell by cell while
    sampling) agrees with predictions from the concatenated, √S-scaled factors."""
    data, model = fitted
    pred = model.predict(data.users.ids[data.user_idx], data.items.ids[data.item_idx])
    rmse = np.sqrt(np.mean((pred - data.ratings) ** 2))
    assert model.history_["train_rmse"][-1] == pytest.approx(rmse, rel=1e-5)
    assert len(model.history_["epoch"]) == 20


def test_fixed_seed_is_bit_identical_whatever_the_thread_count(small_data):
    params = {"n_factors": 3, "n_samples": 5, "burn_in": 2}
    a = BayesianMF(**params, random_state=7, num_threads=1).fit(small_data)
    b = BayesianMF(**params, random_state=7, num_threads=2).fit(small_data)
    c = BayesianMF(**params, random_state=8).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_save_load_round_trip(fitted, tmp_path):
    data, model = fitted
    path = tmp_path / "bpmf.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert type(loaded) is BayesianMF and loaded.get_params() == model.get_params()
    users, items = data.users.ids[:6], data.items.ids[:6]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    np.testing.assert_array_equal(loaded.samples()[1], model.samples()[1])


def test_beats_the_bias_baseline_on_planted_data():
    data = random_ratings(n_users=80, n_items=60, density=0.3, seed=4)
    train, test = random_split(data, 0.2, random_state=0)
    users, items = test.users.ids[test.user_idx], test.items.ids[test.item_idx]

    def rmse(model):
        return np.sqrt(np.mean((model.fit(train).predict(users, items) - test.ratings) ** 2))

    bayes = rmse(BayesianMF(n_factors=3, n_samples=60, burn_in=20, random_state=0, num_threads=1))
    assert bayes < 0.85 * rmse(Biases())


def test_recovers_planted_low_rank_matrix_and_noise_precision():
    rng = np.random.default_rng(0)
    P = rng.normal(0, 1, (60, 2))
    Q = rng.normal(0, 1, (50, 2))
    signal = 3.0 + P @ Q.T
    noise_sd = 0.3
    mask = rng.random(signal.shape) < 0.6
    observed = signal + rng.normal(0, noise_sd, signal.shape)
    data = Interactions.from_dense(np.where(mask, observed, np.nan), missing=np.nan)
    model = BayesianMF(
        n_factors=2, n_samples=100, burn_in=50, alpha=None, random_state=0, num_threads=1
    ).fit(data)
    u, i = np.nonzero(~mask)
    # Held-out error against the noiseless signal: well under the noise itself.
    assert np.sqrt(np.mean((model.predict(u, i) - signal[u, i]) ** 2)) < 0.8 * noise_sd
    alpha = np.mean(model.history_["alpha"][50:])
    assert 0.7 / noise_sd**2 < alpha < 1.3 / noise_sd**2


def test_users_and_items_without_training_data_get_zeros():
    R = np.array([[5.0, 4.0, 0.0], [4.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    model = BayesianMF(n_factors=2, n_samples=5, burn_in=2, random_state=0, num_threads=1)
    model.fit(Interactions.from_dense(R))
    assert not model.user_factors_[2].any() and model.user_bias_[2] == 0
    assert not model.item_factors_[2].any() and model.item_bias_[2] == 0


def test_fold_in_without_a_rating_gives_zeros_as_a_user_without_cells_has(fitted):
    # A row's conditional mean without cells is the prior mean m_U (nonzero); fold-in
    # promises zeros for it, the row the fit gives a user without training cells, so
    # that such a user ranks by item bias as in every other factor model.
    data, model = fitted
    vector = model.fold_in({})
    assert vector.bias == 0 and not vector.factors.any()
    row = data.matrix[3]
    bias, factors = model.fold_in_idx([0, 0, row.nnz], row.indices, row.data)
    assert bias[0] == 0 and not factors[0].any()
    assert factors[1].any()
    items = data.items.ids[row.indices[:2]].tolist()
    events = pd.DataFrame({"user_id": ["new", "new"], "item_id": items})
    with pytest.warns(UserWarning, match="recorded as seen"):
        added = model.clone().fit(data).partial_fit_users(events)
    u = added.users_.index(["new"])[0]
    assert added.user_bias_[u] == 0 and not added.user_factors_[u].any()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_factors": 0}, "n_factors"),
        ({"n_samples": 0}, "n_samples"),
        ({"burn_in": -1}, "burn_in"),
        ({"alpha": 0.0}, "alpha"),
        ({"num_threads": 0}, "num_threads"),
    ],
)
def test_bad_hyperparameters_are_named(small_data, params, match):
    with pytest.raises(ValueError, match=match):
        BayesianMF(**params).fit(small_data)


# ----------------------------------------------------------------- fold-in hooks
def reference_conditional_means(model, indptr, indices, values, side):
    """Per kept sample, the closed-form conditional mean of a row, written out in NumPy."""
    P, Q = model.samples()
    fixed = Q if side == "user" else P
    other_bias = (model.item_bias_ if side == "user" else model.user_bias_).astype(np.float64)
    precisions = getattr(model, f"{side}_prior_precision_")
    means = getattr(model, f"{side}_prior_mean_")
    S, k1 = means.shape
    bias = np.zeros(len(indptr) - 1)
    factors = np.zeros((len(indptr) - 1, S * (k1 - 1)))
    for r in range(len(indptr) - 1):
        j = np.asarray(indices[indptr[r] : indptr[r + 1]])
        y = np.asarray(values[indptr[r] : indptr[r + 1]]) - model.global_mean_ - other_bias[j]
        for s in range(S):
            X = np.hstack([fixed[s][j].astype(np.float64), np.ones((j.size, 1))])
            alpha = model.alpha_samples_[s]
            A = precisions[s] + alpha * X.T @ X
            z = np.linalg.solve(A, precisions[s] @ means[s] + alpha * X.T @ y)
            factors[r, s * (k1 - 1) : (s + 1) * (k1 - 1)] = z[:-1] / np.sqrt(S)
            bias[r] += z[-1] / S
    return bias, factors


@pytest.mark.parametrize("sampled_alpha", [False, True])
def test_user_fold_in_is_the_per_sample_conditional_mean(fitted, sampled_alpha):
    data, model = fitted
    if sampled_alpha:
        model = BayesianMF(
            n_factors=3, n_samples=6, burn_in=3, alpha=None, random_state=1, num_threads=1
        ).fit(data)
        assert len(set(model.alpha_samples_.tolist())) == 6  # one α per kept sample
    rows = data.matrix[[0, 5, 9]]
    bias, factors = model._solve_user_rows(rows.indptr, rows.indices, rows.data)
    ref_bias, ref_factors = reference_conditional_means(
        model, rows.indptr, rows.indices, rows.data, "user"
    )
    np.testing.assert_allclose(factors, ref_factors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, ref_bias, rtol=1e-4, atol=1e-5)


def test_item_fold_in_is_the_per_sample_conditional_mean(fitted):
    data, model = fitted
    by_item = data.matrix.T.tocsr()[[2, 7]]
    bias, factors = model._solve_item_rows(by_item.indptr, by_item.indices, by_item.data)
    ref_bias, ref_factors = reference_conditional_means(
        model, by_item.indptr, by_item.indices, by_item.data, "item"
    )
    np.testing.assert_allclose(factors, ref_factors, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bias, ref_bias, rtol=1e-4, atol=1e-5)


def test_folding_in_training_users_gives_back_their_predictions():
    data = random_ratings(n_users=60, n_items=40, density=0.4, seed=2)
    model = BayesianMF(n_factors=3, n_samples=40, burn_in=20, random_state=0, num_threads=1)
    model.fit(data)
    m = data.matrix
    bias, factors = model._solve_user_rows(m.indptr, m.indices, m.data)
    stored = model._score_block(np.arange(data.n_users))
    folded = factors @ model.item_factors_.T + model.item_bias_ + model.global_mean_
    folded += bias[:, None]
    # Means instead of draws: not equal, but the averaged scores nearly agree.
    assert np.sqrt(np.mean((folded - stored) ** 2)) < 0.1
    assert np.corrcoef(folded.ravel(), stored.ravel())[0, 1] > 0.99


def test_fold_in_survives_save_and_load(fitted, tmp_path):
    data, model = fitted
    model.save(tmp_path / "m.npz")
    loaded = latentrec.load(tmp_path / "m.npz")
    rows = data.matrix[[1, 2]]
    for a, b in zip(
        loaded._solve_user_rows(rows.indptr, rows.indices, rows.data),
        model._solve_user_rows(rows.indptr, rows.indices, rows.data),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_fold_in_rows_are_checked(fitted):
    _, model = fitted
    with pytest.raises(ValueError, match="item index 500 is out of range"):
        model._solve_user_rows([0, 1], [500], [3.0])


def test_chunked_prediction_equals_one_pass(fitted, monkeypatch):
    from latentrec.models import FactorModel, bayesian

    data, model = fitted
    u, i = data.user_idx, data.item_idx
    whole = FactorModel._predict_idx(model, u, i)
    monkeypatch.setattr(bayesian, "_PREDICT_CHUNK", 7 * model.user_factors_.shape[1])
    np.testing.assert_array_equal(model._predict_idx(u, i), whole)


@pytest.mark.network
def test_quality_floor_on_movielens_100k():
    from latentrec.datasets import movielens
    from latentrec.evaluation import evaluate_ratings

    train, test = random_split(movielens("100k", verbose=False), 0.2, random_state=0)
    model = BayesianMF(random_state=0, num_threads=1).fit(train)
    # Measured 0.885; published BPMF figures on MovieLens-100K are about 0.89.
    assert evaluate_ratings(model, test)["rmse"] < 0.895


def test_fold_in_through_the_public_api(fitted):
    data, model = fitted
    row = data.matrix[4]
    ratings = dict(zip(data.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))
    vec = model.fold_in(ratings)
    bias, factors = model._solve_user_rows(row.indptr, row.indices, row.data)
    assert vec.factors.shape == (model.n_factors_,)
    np.testing.assert_array_equal(vec.factors, factors[0])
    assert vec.bias == pytest.approx(float(bias[0]))
