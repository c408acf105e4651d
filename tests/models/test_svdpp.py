"""SVD++ against a slow NumPy reference, finite differences and its defining formula."""

import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec.kernels.sgd import rmse_cells
from latentrec.kernels.svdpp import effective_user_factors, shuffle_rows, svdpp_epoch
from latentrec.models import mf
from latentrec.models.svdpp import SVDpp


def reference_epoch(order, indptr, items, ratings, mu, bu, bi, P, Q, Y, lr, reg_b, reg, reg_y):
    """Plain NumPy user-grouped SVD++ SGD, float64, users in ``order``, cells in row order."""
    bu, bi, P, Q, Y = (x.astype(np.float64).copy() for x in (bu, bi, P, Q, Y))
    for u in order:
        lo, hi = indptr[u], indptr[u + 1]
        if lo == hi:
            continue
        rated = items[lo:hi]
        norm = 1 / np.sqrt(hi - lo)
        s = norm * Y[rated].sum(axis=0)
        grad_y = np.zeros(P.shape[1])
        for t in range(lo, hi):
            i = items[t]
            z = P[u] + s
            e = ratings[t] - (mu + bu[u] + bi[i] + Q[i] @ z)
            bu[u] += lr * (e - reg_b * bu[u])
            bi[i] += lr * (e - reg_b * bi[i])
            grad_y += e * Q[i]
            q_old = Q[i].copy()
            Q[i] += lr * (e * z - reg * Q[i])
            P[u] += lr * (e * q_old - reg * P[u])
        Y[rated] = (1 - lr * reg_y) ** (hi - lo) * Y[rated] + lr * norm * grad_y
    return bu, bi, P, Q, Y


def start_state(data, k, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, 0.1, data.n_users).astype(dtype),
        rng.normal(0, 0.1, data.n_items).astype(dtype),
        rng.normal(0, 0.1, (data.n_users, k)).astype(dtype),
        rng.normal(0, 0.1, (data.n_items, k)).astype(dtype),
        rng.normal(0, 0.1, (data.n_items, k)).astype(dtype),
    )


def rows(data):
    m = data.matrix
    return m.indptr.astype(np.int64), m.indices.copy(), m.data.copy()


@pytest.mark.parametrize("k", [3, 21])
def test_kernel_matches_reference(k):
    from latentrec.data.splits import random_split

    data, _ = random_split(random_ratings(seed=3), 0.3, random_state=0)  # some users empty
    indptr, items, ratings = rows(data)
    shuffle_rows(np.uint64(5), indptr, items, ratings)
    order = np.random.default_rng(1).permutation(data.n_users)
    state = start_state(data, k)
    hyper = (0.01, 0.02, 0.05, 0.03)
    expected = reference_epoch(order, indptr, items, ratings, 3.1, *state, *hyper)
    got = [x.copy() for x in state]
    sse = svdpp_epoch(order, indptr, items, ratings, 3.1, *got, *(np.float32(h) for h in hyper), 1)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
    assert np.isfinite(sse) and sse > 0


def test_one_user_turn_is_a_gradient_step_checked_by_finite_differences():
    """With a tiny step, a user's turn moves every parameter by -lr times the gradient of

    L_u = ½ Σ_i e_i² + ½ λ n ‖p_u‖² + ½ λ Σ_i ‖q_i‖² + ½ λ_b (n b_u² + Σ_i b_i²)
          + ½ λ_y n Σ_j ‖y_j‖²,

    the sum of the per-rating losses (n = |N(u)| ratings, each regularising p_u, b_u and
    the y_j once), at the parameters the turn started from.
    """
    rng = np.random.default_rng(2)
    n_items, k, mu = 5, 3, 3.4
    items = np.array([0, 2, 3, 4], dtype=np.int32)
    ratings = np.array([4.0, 2.0, 5.0, 3.0])
    n = items.size
    reg, reg_b, reg_y, lr = 0.1, 0.05, 0.2, 1e-7
    p, bu = rng.normal(0, 0.5, k), 0.2
    Q, Y, bi = (
        rng.normal(0, 0.5, (n_items, k)),
        rng.normal(0, 0.5, (n_items, k)),
        rng.normal(0, 0.3, n_items),
    )

    def unpack(theta):
        o = 0
        bu_ = theta[o]
        o += 1
        bi_ = theta[o : o + n_items]
        o += n_items
        p_ = theta[o : o + k]
        o += k
        Q_ = theta[o : o + n_items * k].reshape(n_items, k)
        o += n_items * k
        return bu_, bi_, p_, Q_, theta[o:].reshape(n_items, k)

    def loss(theta):
        bu_, bi_, p_, Q_, Y_ = unpack(theta)
        z = p_ + Y_[items].sum(axis=0) / np.sqrt(n)
        e = ratings - (mu + bu_ + bi_[items] + Q_[items] @ z)
        return (
            0.5 * e @ e
            + 0.5 * reg * n * p_ @ p_
            + 0.5 * reg * (Q_[items] ** 2).sum()
            + 0.5 * reg_b * (n * bu_**2 + (bi_[items] ** 2).sum())
            + 0.5 * reg_y * n * (Y_[items] ** 2).sum()
        )

    theta = np.concatenate([[bu], bi, p, Q.ravel(), Y.ravel()])
    h = 1e-6
    eye = np.eye(theta.size)
    numeric = np.array(
        [(loss(theta + h * eye[j]) - loss(theta - h * eye[j])) / (2 * h) for j in range(theta.size)]
    )
    # A step this small needs float64, in which the kernel would be compiled for this test
    # alone (seconds on a cold numba cache, a version no model runs): the float64
    # reference takes the step, and the kernel, in the models' float32, is held to the
    # reference's turn below (and on larger data by test_kernel_matches_reference).
    order, indptr = np.array([0]), np.array([0, n])
    state = (np.array([bu]), bi, p[None, :], Q, Y)
    bu_a, bi_a, P_a, Q_a, Y_a = reference_epoch(
        order, indptr, items, ratings, mu, *state, lr, reg_b, reg, reg_y
    )
    after = np.concatenate([bu_a, bi_a, P_a[0], Q_a.ravel(), Y_a.ravel()])
    np.testing.assert_allclose((after - theta) / -lr, numeric, rtol=1e-4, atol=1e-5)
    hyper = (0.01, reg_b, reg, reg_y)
    got = [x.astype(np.float32) for x in state]
    expected = reference_epoch(order, indptr, items, ratings, mu, *got, *hyper)
    stars = ratings.astype(np.float32)
    svdpp_epoch(order, indptr, items, stars, mu, *got, *map(np.float32, hyper), 1)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_shuffle_rows_permutes_each_row_and_is_fixed_by_seed(small_data):
    indptr, items, ratings = rows(small_data)
    a_items, a_ratings = items.copy(), ratings.copy()
    b_items, b_ratings = items.copy(), ratings.copy()
    shuffle_rows(np.uint64(9), indptr, a_items, a_ratings)
    shuffle_rows(np.uint64(9), indptr, b_items, b_ratings)
    np.testing.assert_array_equal(a_items, b_items)
    assert not np.array_equal(a_items, items)
    for lo, hi in zip(indptr[:-1], indptr[1:], strict=True):
        before = sorted(zip(items[lo:hi].tolist(), ratings[lo:hi].tolist(), strict=True))
        after = sorted(zip(a_items[lo:hi].tolist(), a_ratings[lo:hi].tolist(), strict=True))
        assert before == after


def test_effective_user_factors_is_the_formula(small_data):
    indptr, items, _ = rows(small_data)
    _, _, P, _, Y = start_state(small_data, 4)
    out = np.empty_like(P)
    effective_user_factors(indptr, items, P, Y, out)
    for u in range(small_data.n_users):
        rated = items[indptr[u] : indptr[u + 1]]
        np.testing.assert_allclose(
            out[u], P[u] + Y[rated].sum(axis=0) / np.sqrt(rated.size), rtol=1e-5, atol=1e-6
        )


# ------------------------------------------------------------------ the model
@pytest.fixture(scope="module")
def fitted():
    data = random_ratings(n_users=40, n_items=25, seed=11)
    model = SVDpp(n_factors=4, n_epochs=12, random_state=0).fit(data)
    return data, model


def test_predict_equals_the_svdpp_formula_by_hand(fitted):
    data, model = fitted
    m = data.matrix
    users, items = data.users.ids, data.items.ids
    uu, ii = np.meshgrid(np.arange(data.n_users), np.arange(data.n_items), indexing="ij")
    uu, ii = uu.ravel(), ii.ravel()
    expected = []
    for u, i in zip(uu, ii, strict=True):
        rated = m.indices[m.indptr[u] : m.indptr[u + 1]]
        z = model.p_[u].astype(np.float64) + model.y_[rated].sum(axis=0) / np.sqrt(rated.size)
        expected.append(
            model.global_mean_
            + model.user_bias_[u]
            + model.item_bias_[i]
            + z @ model.item_factors_[i]
        )
    got = model.predict(users[uu], items[ii])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # and the explanation adds up to the same number
    e = model.explain(users[3], items[7])
    assert e.prediction == pytest.approx(model.predict([users[3]], [items[7]])[0], abs=1e-5)


def test_loss_decreases_and_history_recorded(fitted):
    h = fitted[1].history_
    assert h["epoch"] == list(range(1, 13))
    assert h["train_rmse"][-1] < h["train_rmse"][0]
    assert np.all(np.diff(h["train_rmse"]) < 1e-3)
    assert "valid_rmse" not in h


def test_fits_the_training_data_better_than_biased_mf_with_the_same_budget():
    """The implicit term only adds capacity: on training cells SVD++ fits at least as well."""
    from latentrec.models import BiasedMF

    data = random_ratings(n_users=60, n_items=30, density=0.4, seed=4)
    kw = dict(n_factors=3, n_epochs=60, learning_rate=0.02, learning_rate_decay=1.0,
              regularization=0.01, init_std=0.1, random_state=0)  # fmt: skip
    spp = SVDpp(implicit_regularization=0.01, **kw).fit(data)
    mf_ = BiasedMF(**kw).fit(data)
    assert spp.history_["train_rmse"][-1] < 0.5
    assert spp.history_["train_rmse"][-1] <= mf_.history_["train_rmse"][-1] + 0.02


def test_save_load_round_trip(fitted, tmp_path):
    data, model = fitted
    model.save(tmp_path / "svdpp.npz")
    loaded = latentrec.load(tmp_path / "svdpp.npz")
    assert type(loaded) is SVDpp and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.p_, model.p_)
    np.testing.assert_array_equal(loaded.y_, model.y_)
    users, items = data.users.ids[:9], data.items.ids[:9]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    assert (
        loaded.recommend(users[0], n=3).ids.tolist() == model.recommend(users[0], n=3).ids.tolist()
    )


def test_fit_is_the_documented_algorithm(small_data):
    """Replaying fit's random draws through the kernels by hand gives the same model."""
    k, epochs, lr, decay, reg, reg_y = 3, 3, 0.02, 0.5, 0.03, 0.07
    model = SVDpp(
        n_factors=k,
        n_epochs=epochs,
        learning_rate=lr,
        learning_rate_decay=decay,
        regularization=reg,
        implicit_regularization=reg_y,
        init_std=0.1,
        num_threads=1,
        random_state=5,
    ).fit(small_data)
    rng = np.random.default_rng(5)
    indptr, items, ratings = rows(small_data)
    draw = lambda n: rng.standard_normal((n, k), dtype=np.float32) * np.float32(0.1)  # noqa: E731
    P, Q, Y = draw(small_data.n_users), draw(small_data.n_items), draw(small_data.n_items)
    bu, bi = np.zeros(small_data.n_users, np.float32), np.zeros(small_data.n_items, np.float32)
    for epoch in range(epochs):
        shuffle_rows(rng.integers(0, 2**64, dtype=np.uint64), indptr, items, ratings)
        order = rng.permutation(small_data.n_users)
        svdpp_epoch(order, indptr, items, ratings, small_data.global_mean(), bu, bi, P, Q, Y,
                    np.float32(lr * decay**epoch), np.float32(reg), np.float32(reg),
                    np.float32(reg_y), 1)  # fmt: skip
    Z = np.empty_like(P)
    effective_user_factors(indptr, items, P, Y, Z)
    np.testing.assert_array_equal(model.p_, P)
    np.testing.assert_array_equal(model.y_, Y)
    np.testing.assert_array_equal(model.user_factors_, Z)
    np.testing.assert_array_equal(model.item_factors_, Q)
    np.testing.assert_array_equal(model.item_bias_, bi)


def test_fixed_seed_is_bit_identical_and_seed_matters(small_data):
    kw = dict(n_factors=4, n_epochs=4, num_threads=1)
    a = SVDpp(random_state=42, **kw).fit(small_data)
    b = SVDpp(random_state=42, **kw).fit(small_data)
    c = SVDpp(random_state=43, **kw).fit(small_data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.y_, b.y_)
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def test_parallel_users_converge_like_one_thread(monkeypatch):
    # Hogwild! relies on sparsity: on a few hot items, racing threads lose updates.
    data = random_ratings(n_users=3000, n_items=2000, density=0.01, seed=8)
    monkeypatch.setattr(mf, "PARALLEL_MIN_CELLS", 0)
    kw = dict(n_factors=4, n_epochs=15, learning_rate=0.03, learning_rate_decay=0.9)
    one = SVDpp(num_threads=1, random_state=0, **kw).fit(data)
    two = SVDpp(num_threads=2, random_state=0, **kw).fit(data)
    assert one.history_["train_rmse"][-1] < one.history_["train_rmse"][0]
    assert abs(one.history_["train_rmse"][-1] - two.history_["train_rmse"][-1]) < 0.05


def test_parallel_kernel_chunks_cover_every_user_once():
    """With n_chunks > 1 and no learning (lr=0) the SSE equals the one-chunk SSE."""
    data = random_ratings(n_users=50, seed=12)
    indptr, items, ratings = rows(data)
    order = np.random.default_rng(0).permutation(data.n_users)
    sses = []
    for chunks in (1, 3, 7):
        state = start_state(data, 3)
        hyper = (np.float32(0.0), np.float32(0.1), np.float32(0.1), np.float32(0.1))
        sses.append(svdpp_epoch(order, indptr, items, ratings, 3.0, *state, *hyper, chunks))
    assert sses[1] == pytest.approx(sses[0], rel=1e-6)
    assert sses[2] == pytest.approx(sses[0], rel=1e-6)


def test_early_stopping_restores_best_epoch():
    from latentrec.data.splits import random_split

    data = random_ratings(n_users=60, n_items=40, density=0.3, seed=5)
    train, valid = random_split(data, 0.2, random_state=0)
    model = SVDpp(
        n_factors=20,
        n_epochs=200,
        learning_rate=0.05,
        learning_rate_decay=1.0,
        regularization=0.0,
        patience=3,
        random_state=0,
    ).fit(train, validation=valid)
    h = model.history_
    assert h["stopped_early"] and len(h["epoch"]) < 200
    best = int(np.nanargmin(h["valid_rmse"]))
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
    assert now == pytest.approx(h["valid_rmse"][best], rel=1e-5)


def test_users_and_items_without_training_cells_are_zero():
    from latentrec.data.splits import random_split

    data = random_ratings(n_users=30, n_items=40, density=0.15, seed=1)
    train, _ = random_split(data, 0.5, random_state=1)
    lonely_users = np.flatnonzero(train.user_counts() == 0)
    lonely_items = np.flatnonzero(train.item_counts() == 0)
    assert lonely_users.size and lonely_items.size
    model = SVDpp(n_factors=3, n_epochs=3, random_state=0).fit(train)
    assert not model.user_factors_[lonely_users].any() and not model.p_[lonely_users].any()
    assert not model.item_factors_[lonely_items].any() and not model.y_[lonely_items].any()


@pytest.mark.parametrize(
    "bad",
    [
        {"n_factors": 0},
        {"learning_rate": 0.0},
        {"implicit_regularization": -1.0},
        {"learning_rate_decay": 2.0},
        {"num_threads": 0},
    ],
)
def test_bad_hyperparameters_named(bad, small_data):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SVDpp(**bad).fit(small_data)


def test_divergence_is_loud(small_data):
    with pytest.raises(FloatingPointError, match="learning_rate"):
        SVDpp(learning_rate=50.0, n_epochs=5, random_state=0).fit(small_data)


def effective_by_hand(model):
    """z_u = p_u + |N(u)|^-½ Σ_{j∈N(u)} y_j for every user, N(u) from the seen items."""
    seen = model.seen_
    Z = np.zeros(model.user_factors_.shape)
    for u in range(model.n_users):
        rated = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
        Z[u] = model.p_[u].astype(np.float64)
        if rated.size:
            Z[u] += model.y_[rated].astype(np.float64).sum(axis=0) / np.sqrt(rated.size)
    return Z


def test_partial_fits_keep_p_and_y_one_row_per_user_and_item(fitted, tmp_path):
    # Before: p_ kept its training rows only, so p_[u] of an added user was an IndexError
    # and the p_ row of a refitted user was stale (z = p + s no longer held).
    import pandas as pd

    data, trained = fitted
    model = SVDpp(**trained.get_params()).fit(data)
    before = model.p_.copy()
    model.partial_fit_users(
        pd.DataFrame(
            {
                "user_id": ["new1", "new1", "new1", data.users.ids[0]],
                "item_id": data.items.ids[[0, 1, 2, 3]],
                "rating": [5.0, 4.0, 1.0, 2.0],
            }
        )
    )
    assert model.p_.shape == model.user_factors_.shape == (data.n_users + 1, 4)
    np.testing.assert_allclose(effective_by_hand(model), model.user_factors_, atol=1e-5)
    np.testing.assert_array_equal(model.p_[1 : data.n_users], before[1:])
    # The added user is explained and compared in the same z space.
    e = model.explain("new1", data.items.ids[4])
    z = effective_by_hand(model)[data.n_users]
    np.testing.assert_allclose(e.factor_contributions, z * model.item_factors_[4], atol=1e-5)
    model.partial_fit_items(
        pd.DataFrame({"user_id": ["new1", data.users.ids[1]], "item_id": 999, "rating": [5, 3]})
    )
    assert model.y_.shape == model.item_factors_.shape == (data.n_items + 1, 4)
    assert not model.y_[-1].any()  # a new item's y is unknown: zero
    model.save(tmp_path / "grown.npz")
    loaded = latentrec.load(tmp_path / "grown.npz")
    np.testing.assert_array_equal(loaded.p_, model.p_)
    np.testing.assert_array_equal(loaded.y_, model.y_)
    assert loaded.similar_users("new1", n=3).ids.tolist() == (
        model.similar_users("new1", n=3).ids.tolist()
    )


def test_a_model_whose_p_lacks_added_users_gets_their_rows_at_the_next_partial_fit(fitted):
    # Files written before p_ grew hold fewer p_ rows than users.
    import pandas as pd

    data, model = fitted
    new = pd.DataFrame({"user_id": ["a", "b"], "item_id": data.items.ids[[0, 1]], "rating": 4.0})
    grown = SVDpp(**model.get_params()).fit(data).partial_fit_users(new)
    old_file = SVDpp.from_fitted(
        grown.fitted_.evolve(p_=grown.p_[: data.n_users]), **grown.get_params()
    )
    old_file.partial_fit_users(new.iloc[:1].assign(user_id="c"))
    assert old_file.p_.shape[0] == old_file.n_users == data.n_users + 3
    np.testing.assert_allclose(
        effective_by_hand(old_file)[-1], old_file.user_factors_[-1], atol=1e-5
    )
