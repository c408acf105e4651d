"""NMF on observed cells against a slow NumPy reference, and its guarantees."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings
from two_threads import on_two_threads

import latentrec
from latentrec import Interactions
from latentrec.kernels.nmf import nmf_bias_sgd, nmf_half_step, nmf_objective
from latentrec.models.nmf import NMF, nonnegative_ridge_rows


def dense(data):
    R = data.matrix.toarray().astype(np.float64)
    mask = np.zeros(R.shape, dtype=bool)
    mask[data.user_idx, data.item_idx] = True
    return R, mask


def reference_epoch(R, mask, P, Q, reg, mu=0.0, bu=None, bi=None):
    """One alternating masked multiplicative epoch, written with dense masked arrays."""
    P, Q = P.astype(np.float64).copy(), Q.astype(np.float64).copy()
    bu = np.zeros(R.shape[0]) if bu is None else bu.astype(np.float64)
    bi = np.zeros(R.shape[1]) if bi is None else bi.astype(np.float64)
    base = mu + bu[:, None] + bi[None, :]
    n_u, n_i = mask.sum(axis=1), mask.sum(axis=0)
    W = mask.astype(np.float64)
    est = W * (base + P @ Q.T)
    P = P * ((W * R) @ Q) / (est @ Q + reg * n_u[:, None] * P)
    est = W * (base + P @ Q.T)
    Q = Q * ((W * R).T @ P) / (est.T @ P + reg * n_i[:, None] * Q)
    return P, Q


def reference_objective(R, mask, P, Q, reg):
    E = np.where(mask, R - P @ Q.T, 0.0)
    n_u, n_i = mask.sum(axis=1), mask.sum(axis=0)
    pen = reg * (n_u @ (P**2).sum(axis=1) + n_i @ (Q**2).sum(axis=1))
    return 0.5 * ((E**2).sum() + pen)


def test_one_epoch_equals_reference():
    data = random_ratings(seed=1)
    R, mask = dense(data)
    model = NMF(n_factors=4, n_epochs=1, regularization=0.1, random_state=3).fit(data)
    # The model draws P, then Q, from default_rng(random_state), uniform in [0, 1).
    rng = np.random.default_rng(3)
    P0 = rng.uniform(0.0, 1.0, (data.n_users, 4)).astype(np.float32)
    Q0 = rng.uniform(0.0, 1.0, (data.n_items, 4)).astype(np.float32)
    P, Q = reference_epoch(R, mask, P0, Q0, 0.1)
    np.testing.assert_allclose(model.user_factors_, P, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(model.item_factors_, Q, rtol=2e-5, atol=1e-6)
    assert model.history_["objective"][0] == pytest.approx(
        reference_objective(R, mask, P, Q, 0.1), rel=1e-5
    )


def test_biased_kernels_equal_reference():
    data = random_ratings(seed=2)
    R, mask = dense(data)
    rng = np.random.default_rng(0)
    P = rng.uniform(0, 1, (data.n_users, 3)).astype(np.float32)
    Q = rng.uniform(0, 1, (data.n_items, 3)).astype(np.float32)
    bu = rng.normal(0, 0.2, data.n_users).astype(np.float32)
    bi = rng.normal(0, 0.2, data.n_items).astype(np.float32)
    mu = data.global_mean()
    order = rng.permutation(data.nnz).astype(np.int64)
    # Bias SGD: plain loop.
    ebu, ebi = bu.astype(np.float64), bi.astype(np.float64)
    for n in order:
        u, i, r = data.user_idx[n], data.item_idx[n], data.ratings[n]
        e = r - (mu + ebu[u] + ebi[i] + P[u].astype(np.float64) @ Q[i])
        ebu[u] += 0.005 * (e - 0.02 * ebu[u])
        ebi[i] += 0.005 * (e - 0.02 * ebi[i])
    args = (data.user_idx, data.item_idx, data.ratings, order, mu)
    nmf_bias_sgd(*args, bu, bi, P, Q, np.float32(0.005), np.float32(0.02))
    np.testing.assert_allclose(bu, ebu, atol=1e-5)
    np.testing.assert_allclose(bi, ebi, atol=1e-5)
    eP, eQ = reference_epoch(R, mask, P, Q, 0.06, mu, bu, bi)
    rows, cols = data.matrix, data.matrix.T.tocsr()
    nmf_half_step(rows.indptr, rows.indices, rows.data, mu, bu, bi, P, Q, 0.06, True)
    nmf_half_step(cols.indptr, cols.indices, cols.data, mu, bi, bu, Q, P, 0.06, True)
    np.testing.assert_allclose(P, eP, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(Q, eQ, rtol=2e-5, atol=1e-6)


def test_objective_helper_equals_reference():
    data = random_ratings(seed=4)
    R, mask = dense(data)
    rng = np.random.default_rng(1)
    P = rng.uniform(0, 1, (data.n_users, 3)).astype(np.float32)
    Q = rng.uniform(0, 1, (data.n_items, 3)).astype(np.float32)
    z_u, z_i = np.zeros(data.n_users, np.float32), np.zeros(data.n_items, np.float32)
    m = data.matrix
    obj, sse = nmf_objective(m.indptr, m.indices, m.data, 0.0, z_u, z_i, P, Q, 0.2, 0.0)
    expected = reference_objective(R, mask, P.astype(np.float64), Q.astype(np.float64), 0.2)
    assert obj == pytest.approx(expected, rel=1e-9)
    assert sse == pytest.approx((np.where(mask, R - P.astype(float) @ Q.T, 0) ** 2).sum())


@pytest.mark.parametrize("reg", [0.0, 0.06, 0.5])
def test_objective_decreases_monotonically_and_factors_stay_non_negative(reg):
    data = random_ratings(n_users=40, n_items=25, seed=5)
    model = NMF(n_factors=5, n_epochs=60, regularization=reg, random_state=0, num_threads=1)
    model.fit(data)
    obj = np.array(model.history_["objective"])
    assert len(obj) == 60
    # Exact arithmetic never increases it; float32 factors allow a rounding-level wobble.
    assert (np.diff(obj) <= 1e-6 * obj[:-1]).all()
    assert obj[-1] < 0.9 * obj[0]
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()


def test_biased_factors_stay_non_negative_and_biases_are_used():
    data = random_ratings(seed=6)
    model = NMF(n_factors=3, n_epochs=30, biased=True, random_state=0, num_threads=1).fit(data)
    assert (model.user_factors_ >= 0).all() and (model.item_factors_ >= 0).all()
    assert model.global_mean_ == pytest.approx(data.global_mean())
    assert np.abs(model.item_bias_).max() > 0
    unbiased = NMF(n_factors=3, n_epochs=30, random_state=0).fit(data)
    assert unbiased.global_mean_ == 0 and not unbiased.user_bias_.any()


def test_planted_non_negative_low_rank_matrix_is_fitted():
    rng = np.random.default_rng(7)
    R = rng.uniform(0.2, 1.5, (30, 2)) @ rng.uniform(0.2, 1.5, (2, 20))
    data = Interactions.from_dense(R)
    model = NMF(n_factors=2, n_epochs=300, regularization=0.0, random_state=0, num_threads=1)
    assert model.fit(data).history_["train_rmse"][-1] < 1e-3


def test_rows_without_training_cells_get_the_mean_vector_or_the_baseline():
    data = random_ratings(seed=12)
    train = data.subset((data.user_idx != 2) & (data.item_idx != 4))
    model = NMF(n_factors=3, n_epochs=5, random_state=0, num_threads=1).fit(train)
    warm_u, warm_i = np.arange(data.n_users) != 2, np.arange(data.n_items) != 4
    np.testing.assert_allclose(model.user_factors_[2], model.user_factors_[warm_u].mean(axis=0))
    np.testing.assert_allclose(model.item_factors_[4], model.item_factors_[warm_i].mean(axis=0))
    biased = NMF(n_factors=3, n_epochs=5, biased=True, random_state=0).fit(train)
    assert not biased.user_factors_[2].any() and not biased.item_factors_[4].any()
    assert biased.user_bias_[2] == 0 and biased.item_bias_[4] == 0


def check_seed_and_thread_count_give_identical_results():
    data = random_ratings(seed=8)
    a = NMF(n_factors=4, n_epochs=10, biased=True, random_state=1, num_threads=1).fit(data)
    b = NMF(n_factors=4, n_epochs=10, biased=True, random_state=1, num_threads=2).fit(data)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.user_bias_, b.user_bias_)


def test_seed_and_thread_count_give_identical_results():
    # Two threads for real, also on a one-CPU runner (where numba's default is one).
    on_two_threads(check_seed_and_thread_count_give_identical_results)


def test_validation_rmse_is_recorded():
    data = random_ratings(seed=9)
    train, valid = (
        data.subset(np.arange(data.nnz) % 5 != 0),
        data.subset(np.arange(data.nnz) % 5 == 0),
    )
    model = NMF(n_factors=3, n_epochs=5, random_state=0).fit(train, valid)
    users, items = valid.users.ids[valid.user_idx], valid.items.ids[valid.item_idx]
    rmse = np.sqrt(np.mean((model.predict(users, items) - valid.ratings) ** 2))
    assert model.history_["valid_rmse"][-1] == pytest.approx(rmse, rel=1e-5)


def test_bad_input_is_named():
    data = random_ratings()
    with pytest.raises(ValueError, match="init_high"):
        NMF(init_low=0.5, init_high=0.5).fit(data)
    with pytest.raises(ValueError, match="init_low"):
        NMF(init_low=-1.0).fit(data)
    with pytest.raises(ValueError, match="num_threads"):
        NMF(num_threads=0).fit(data)
    negative = Interactions.from_dense(np.array([[1.0, -2.0], [3.0, 4.0]]))
    with pytest.raises(ValueError, match="non-negative ratings"):
        NMF(n_epochs=1).fit(negative)


def test_save_load_round_trip(tmp_path):
    data = random_ratings(seed=10)
    model = NMF(n_factors=3, n_epochs=5, random_state=0).fit(data)
    model.save(tmp_path / "nmf.npz")
    loaded = latentrec.load(tmp_path / "nmf.npz")
    users, items = data.users.ids[:6], data.items.ids[:6]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    assert loaded.history_["objective"] == model.history_["objective"]


def enumerated_nonnegative_ridge(X, y, lam, lam_b, with_bias):
    """Slow reference: min Σ (y − b − p·x)² + n(λ‖p‖² + λ_b b²) over b free, p ≥ 0, by
    trying every support of p (an unconstrained ridge on each, by lstsq on the augmented
    system) and keeping the best feasible one: the objective is strictly convex, so the
    optimum is the unconstrained ridge on its own support."""
    n, k = X.shape
    best, best_obj = None, np.inf
    for mask in range(1 << k):
        support = [f for f in range(k) if mask >> f & 1]
        cols = [X[:, support]] + ([np.ones((n, 1))] if with_bias else [])
        A = np.hstack(cols)
        pen = [lam] * len(support) + ([lam_b] if with_bias else [])
        A_aug = np.vstack([A, np.diag(np.sqrt(n * np.array(pen)))])
        sol = np.linalg.lstsq(A_aug, np.concatenate([y, np.zeros(len(pen))]), rcond=None)[0]
        p = np.zeros(k)
        p[support] = sol[: len(support)]
        b = sol[-1] if with_bias else 0.0
        if (p < 0).any():
            continue
        obj = ((y - b - X @ p) ** 2).sum() + n * (lam * p @ p + lam_b * b * b)
        if obj < best_obj:
            best, best_obj = (b, p), obj
    return best


@pytest.mark.parametrize("biased", [False, True])
def test_fold_in_keeps_factors_non_negative_and_solves_the_fit_objective(biased):
    # Before, fold-in was the unconstrained ridge: 9 of 30 training users got a negative
    # factor (28 with biases), and partial_fit_users stored them.
    data = random_ratings(seed=3)
    model = NMF(n_factors=4, n_epochs=30, biased=biased, random_state=0, num_threads=1)
    model.fit(data)
    M = data.matrix
    bias, P = model.fold_in_idx(M.indptr, M.indices, M.data)
    assert (P >= 0).all()
    Q = model.item_factors_.astype(np.float64)
    offset = model.global_mean_ + model.item_bias_.astype(np.float64)
    for u in range(data.n_users):
        cols = M.indices[M.indptr[u] : M.indptr[u + 1]]
        y = M.data[M.indptr[u] : M.indptr[u + 1]] - offset[cols]
        ref_b, ref_p = enumerated_nonnegative_ridge(Q[cols], y, 0.06, 0.02, biased)
        np.testing.assert_allclose(P[u], ref_p, atol=2e-5)
        assert bias[u] == pytest.approx(ref_b, abs=2e-5)
    if not biased:
        assert not bias.any()
    # One user through the public fold_in, and the partial fits store what it solves.
    frame = data.to_frame()
    rows = frame[frame.user_id == "u5"]
    vec = model.fold_in(pd.Series(rows.rating.to_numpy(), index=rows.item_id.to_numpy()))
    u5 = model.users_.index(["u5"])[0]
    np.testing.assert_allclose(vec.factors, P[u5], atol=1e-6)
    model.partial_fit_users(frame.assign(user_id="new-" + frame.user_id))
    assert (model.user_factors_ >= 0).all()
    np.testing.assert_allclose(model.user_factors_[data.n_users :], P, atol=1e-6)
    model.partial_fit_items(frame.assign(item_id=frame.item_id + 1000))
    assert (model.item_factors_ >= 0).all()


def test_nonnegative_ridge_rows_equals_enumeration_on_random_inputs():
    rng = np.random.default_rng(0)
    for trial in range(40):
        k, n_cols = int(rng.integers(1, 5)), 9
        counts = rng.integers(0, n_cols + 1, 4)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        indices = np.concatenate([np.sort(rng.choice(n_cols, c, replace=False)) for c in counts])
        X = rng.normal(0, 1, (n_cols, k)).astype(np.float32)
        offset = rng.normal(0, 1, n_cols)
        values = rng.normal(0, 2, indices.size)
        with_bias = bool(trial % 2)
        lam, lam_b = float(rng.choice([0.01, 0.1, 1.0])), float(rng.choice([0.05, 1.0]))
        bias, P = nonnegative_ridge_rows(indptr, indices, values, X, offset, with_bias, lam, lam_b)
        for r in range(4):
            cols = indices[indptr[r] : indptr[r + 1]]
            if cols.size == 0:
                assert not P[r].any() and bias[r] == 0
                continue
            y = values[indptr[r] : indptr[r + 1]] - offset[cols]
            ref_b, ref_p = enumerated_nonnegative_ridge(
                X[cols].astype(np.float64), y, lam, lam_b, with_bias
            )
            np.testing.assert_allclose(P[r], ref_p, atol=2e-5)
            assert bias[r] == pytest.approx(ref_b, abs=2e-5)


def test_importing_the_models_leaves_scipy_optimize_and_sparse_linalg_unloaded():
    """Every command imports latentrec.models; NMF's active-set solver (scipy.optimize)
    and the truncated SVD's solver (scipy.sparse.linalg) load when they run, so neither
    slows ``latentrec --help`` or a command that never uses them."""
    import subprocess
    import sys

    code = (
        "import sys, latentrec.models\n"
        "print(sorted(m for m in ('scipy.optimize', 'scipy.sparse.linalg') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr
