"""ImplicitALS: kernels against a dense NumPy reference, objective, determinism, fold-in."""

import numba
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from two_threads import on_two_threads

import latentrec
from latentrec import Interactions
from latentrec.kernels.implicit_als import (
    cg_half_step,
    cholesky_half_step,
    exact_budget,
    gram,
    row_chunks,
)
from latentrec.models.implicit_als import ImplicitALS, _readonly


def tiny_counts(n_users=9, n_items=7, density=0.4, seed=0) -> np.ndarray:
    """A small count matrix with some empty cells, at least one cell per row."""
    rng = np.random.default_rng(seed)
    R = rng.integers(1, 6, (n_users, n_items)) * (rng.random((n_users, n_items)) < density)
    R[np.arange(n_users), rng.integers(0, n_items, n_users)] = rng.integers(1, 6, n_users)
    return R.astype(np.float64)


def confidence(R, alpha, kind="linear", eps=1.0):
    v = np.log1p(R / eps) if kind == "log" else R
    return np.where(R > 0, 1.0 + alpha * v, 1.0)


def dense_solve(R, Y, alpha, lam, kind="linear", eps=1.0):
    """Row by row: (Yᵀ C_u Y + λI) x = Yᵀ C_u p_u with C_u built densely."""
    Y = Y.astype(np.float64)
    C = confidence(R, alpha, kind, eps)
    P = (R > 0).astype(np.float64)
    X = np.empty((R.shape[0], Y.shape[1]))
    for u in range(R.shape[0]):
        A = Y.T @ (C[u][:, None] * Y) + lam * np.eye(Y.shape[1])
        X[u] = np.linalg.solve(A, Y.T @ (C[u] * P[u]))
    return X


def dense_objective(R, X, Y, alpha, lam, kind="linear", eps=1.0):
    """Σ c (p − x·y)² over every cell + λ(‖X‖² + ‖Y‖²), all dense, float64."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    C = confidence(R, alpha, kind, eps)
    P = (R > 0).astype(np.float64)
    return float((C * (P - X @ Y.T) ** 2).sum() + lam * ((X**2).sum() + (Y**2).sum()))


def row_objectives(R, X, Y, alpha, lam):
    """Per-row objective without the other side's penalty (what a half-step minimises)."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    C = confidence(R, alpha)
    P = (R > 0).astype(np.float64)
    return (C * (P - X @ Y.T) ** 2).sum(axis=1) + lam * (X**2).sum(axis=1)


def resolved(model):
    """``(alpha, λ, kind)`` as the fitted model uses them, for :func:`dense_solve`."""
    return model.alpha_, model.regularization_, model.confidence_


def csr_args(R, kind="linear", eps=1.0):
    m = sp.csr_matrix(R)
    values = np.log1p(m.data / eps) if kind == "log" else m.data
    # Read-only, as the model passes them: the same compiled specialisation is tested.
    return (
        _readonly(m.indptr, np.int64),
        _readonly(m.indices, np.int32),
        _readonly(values, np.float32),
    )


def run_cholesky(R, X, Y, alpha, lam, kind="linear", eps=1.0):
    indptr, indices, values = csr_args(R, kind, eps)
    bounds = row_chunks(indptr, Y.shape[1], n_chunks=3)
    loss = np.zeros(bounds.size - 1)
    failed = np.zeros(bounds.size - 1, dtype=np.int64)
    A0 = gram(Y, lam, np.float64)  # as ImplicitALS passes it, with its budget
    cholesky_half_step(
        indptr, indices, values, np.float32(alpha), X, Y, A0, exact_budget(A0)[1], bounds, loss,
        failed,
    )  # fmt: skip
    assert not failed.any()
    return loss.sum()


def run_cg(R, X, Y, alpha, lam, steps):
    indptr, indices, values = csr_args(R)
    bounds = row_chunks(indptr, Y.shape[1], n_chunks=3)
    loss = np.zeros(bounds.size - 1)
    cg_half_step(
        indptr,
        indices,
        values,
        np.float32(alpha),
        X,
        Y,
        gram(Y, lam),
        np.int64(steps),
        bounds,
        loss,
    )
    return loss.sum()


@pytest.fixture
def half_step_case():
    rng = np.random.default_rng(1)
    R = tiny_counts()
    k = 4
    Y = rng.normal(0, 0.5, (R.shape[1], k)).astype(np.float32)
    X = rng.normal(0, 0.5, (R.shape[0], k)).astype(np.float32)
    return R, X, Y


# ---------------------------------------------------------------------- kernels
@pytest.mark.parametrize("kind", ["linear", "log"])
def test_cholesky_half_step_matches_dense_solve(half_step_case, kind):
    R, X, Y = half_step_case
    expected = dense_solve(R, Y, 2.0, 0.3, kind, eps=0.5)
    loss = run_cholesky(R, X, Y, 2.0, 0.3, kind, eps=0.5)
    np.testing.assert_allclose(X, expected, atol=1e-5)
    # The returned sum of row objectives equals the dense objective minus λ‖Y‖².
    full = dense_objective(R, X, Y, 2.0, 0.3, kind, eps=0.5)
    assert loss == pytest.approx(full - 0.3 * float((Y.astype(np.float64) ** 2).sum()), rel=1e-5)


def test_cg_with_enough_steps_matches_dense_solve(half_step_case):
    # k steps solve a k x k system in exact arithmetic; float32 loses a little
    # conjugacy on ill-conditioned rows (condition ~80 here), so allow 2k.
    R, X, Y = half_step_case
    k = Y.shape[1]
    expected = dense_solve(R, Y, 2.0, 0.3)
    run_cg(R, X, Y, 2.0, 0.3, steps=2 * k)
    np.testing.assert_allclose(X, expected, atol=1e-4)


def test_cg_row_objectives_are_returned_exactly(half_step_case):
    # The loss CG reports comes from its residual, not from another pass over the data.
    R, X, Y = half_step_case
    loss = run_cg(R, X, Y, 2.0, 0.3, steps=2)
    assert loss == pytest.approx(row_objectives(R, X, Y, 2.0, 0.3).sum(), rel=1e-4)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_few_cg_steps_lower_every_row_objective(half_step_case, steps):
    R, X, Y = half_step_case
    before = row_objectives(R, X, Y, 2.0, 0.3)
    X_new = X.copy()
    run_cg(R, X_new, Y, 2.0, 0.3, steps=steps)
    after = row_objectives(R, X_new, Y, 2.0, 0.3)
    assert np.all(after <= before + 1e-6)
    assert after.sum() < before.sum()
    exact = row_objectives(R, dense_solve(R, Y, 2.0, 0.3), Y, 2.0, 0.3)
    assert np.all(after >= exact - 1e-4)


def test_cg_leaves_an_empty_zero_row_at_zero():
    R = tiny_counts()
    R[2] = 0
    rng = np.random.default_rng(0)
    Y = rng.normal(0, 0.5, (R.shape[1], 3)).astype(np.float32)
    X = rng.normal(0, 0.5, (R.shape[0], 3)).astype(np.float32)
    X[2] = 0
    run_cg(R, X, Y, 1.0, 0.1, steps=3)
    assert np.all(X[2] == 0) and np.isfinite(X).all()


def test_row_chunks_cover_all_rows_in_order():
    indptr = np.concatenate([[0], np.cumsum(np.random.default_rng(0).integers(0, 50, 1000))])
    bounds = row_chunks(indptr, 64, n_chunks=16)
    assert bounds[0] == 0 and bounds[-1] == 1000 and np.all(np.diff(bounds) > 0)
    assert bounds.size <= 17


# ---------------------------------------------------------------------- model
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_objective_decreases_and_history_is_the_dense_objective(solver):
    R = tiny_counts(20, 12, seed=3)
    data = Interactions.from_dense(R)
    model = ImplicitALS(
        n_factors=3,
        n_epochs=12,
        alpha=2.0,
        regularization=0.5,
        confidence="linear",
        solver=solver,
        random_state=0,
    ).fit(data)
    loss = np.array(model.history_["train_loss"])
    assert "train_rmse" not in model.history_
    assert np.all(np.diff(loss) <= 1e-7 * loss[:-1])
    assert loss[-1] < loss[0]
    weight = confidence(R, 2.0).sum()
    final = dense_objective(R, model.user_factors_, model.item_factors_, 2.0, 0.5) / weight
    assert loss[-1] == pytest.approx(final, rel=1e-4)


def test_cg_approaches_the_exact_solver():
    data = Interactions.from_dense(tiny_counts(20, 12, seed=3))
    kw = dict(n_factors=3, n_epochs=30, alpha=2.0, regularization=0.5, random_state=0)
    exact = ImplicitALS(solver="cholesky", **kw).fit(data).history_["train_loss"][-1]
    cg = ImplicitALS(solver="cg", cg_steps=3, **kw).fit(data).history_["train_loss"][-1]
    assert cg == pytest.approx(exact, rel=1e-3)


def test_model_is_a_plain_factor_model_and_ranks_block_structure():
    R = np.zeros((8, 8))
    R[:4, :4] = 1
    R[4:, 4:] = 1
    R[0, 3] = R[5, 6] = 0  # held out: each should come first for its user
    model = ImplicitALS(n_factors=2, n_epochs=10, alpha=5.0, regularization=0.1, random_state=0)
    model.fit(Interactions.from_dense(R))
    assert model.global_mean_ == 0
    assert not model.user_bias_.any() and not model.item_bias_.any()
    assert model.recommend(0, n=1).ids.tolist() == [3]
    assert model.recommend(5, n=1).ids.tolist() == [6]
    with pytest.raises(TypeError, match="does not predict ratings"):
        model.predict([0], [3])


def test_users_and_items_without_cells_get_zero_vectors():
    R = tiny_counts()
    R[3] = 0
    R[:, 5] = 0
    R[0, 0] = max(R[0, 0], 1)
    R[1, 1] = max(R[1, 1], 1)  # keep every other row non-empty
    df = pd.DataFrame(
        [(u, i, R[u, i]) for u in range(R.shape[0]) for i in range(R.shape[1]) if R[u, i] > 0],
        columns=["user_id", "item_id", "rating"],
    )
    full = Interactions.from_frame(df)
    train = full.subset(np.ones(full.nnz, dtype=bool))
    model = ImplicitALS(n_factors=3, n_epochs=3, random_state=0).fit(train)
    assert model.user_factors_.shape == (train.n_users, 3)
    assert np.isfinite(model.user_factors_).all()
    empty_users = train.user_counts() == 0
    assert np.all(model.user_factors_[empty_users] == 0)


def test_same_seed_single_thread_is_bit_identical_and_seed_matters():
    data = Interactions.from_dense(tiny_counts(30, 15, seed=4))

    def make(seed):
        return ImplicitALS(n_factors=4, n_epochs=4, random_state=seed, num_threads=1)

    a, b, c = make(7).fit(data), make(7).fit(data), make(8).fit(data)
    assert np.array_equal(a.user_factors_, b.user_factors_)
    assert np.array_equal(a.item_factors_, b.item_factors_)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert not np.array_equal(a.user_factors_, c.user_factors_)


def check_factors_do_not_depend_on_the_thread_count():
    data = Interactions.from_dense(tiny_counts(300, 40, seed=5))
    one = ImplicitALS(n_factors=8, n_epochs=3, random_state=0, num_threads=1).fit(data)
    two = ImplicitALS(n_factors=8, n_epochs=3, random_state=0, num_threads=2).fit(data)
    assert np.array_equal(one.user_factors_, two.user_factors_)
    assert one.history_["train_loss"] == two.history_["train_loss"]


def test_factors_do_not_depend_on_the_thread_count():
    # On a one-CPU runner in a subprocess with NUMBA_NUM_THREADS=2, not skipped.
    on_two_threads(check_factors_do_not_depend_on_the_thread_count)


def test_num_threads_is_restored_after_fit():
    before = numba.get_num_threads()
    ImplicitALS(n_factors=2, n_epochs=1, num_threads=1).fit(Interactions.from_dense(np.eye(3)))
    assert numba.get_num_threads() == before


def test_save_load_round_trip(tmp_path):
    data = Interactions.from_dense(tiny_counts(15, 10, seed=6))
    model = ImplicitALS(n_factors=3, n_epochs=3, confidence="log", random_state=0).fit(data)
    path = tmp_path / "ials.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert type(loaded) is ImplicitALS and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.user_factors_, model.user_factors_)
    np.testing.assert_array_equal(loaded.item_factors_, model.item_factors_)
    assert loaded.recommend(0, n=3).ids.tolist() == model.recommend(0, n=3).ids.tolist()


# ---------------------------------------------------------------------- fold-in
def test_fold_in_hook_reproduces_trained_user_rows():
    R = tiny_counts(20, 12, seed=7)
    data = Interactions.from_dense(R)
    model = ImplicitALS(
        n_factors=3,
        n_epochs=5,
        alpha=3.0,
        regularization=0.2,
        confidence="linear",
        solver="cholesky",
        random_state=0,
    ).fit(data)
    m = data.matrix
    bias, P = model._solve_user_rows(m.indptr, m.indices, m.data)
    assert bias.shape == (data.n_users,) and not bias.any()
    np.testing.assert_allclose(P, model.user_factors_, atol=1e-5)
    # ... and equals the dense solve against the final item factors.
    dense = dense_solve(R, model.item_factors_, 3.0, 0.2)
    np.testing.assert_allclose(P, dense, atol=1e-5)


def test_fold_in_hook_for_items_is_the_dense_solve():
    R = tiny_counts(20, 12, seed=8)
    data = Interactions.from_dense(R)
    model = ImplicitALS(
        n_factors=3, n_epochs=3, alpha=1.5, regularization=0.4, confidence="linear", random_state=0
    )
    model.fit(data)
    by_item = sp.csr_matrix(R.T)
    bias, Q = model._solve_item_rows(by_item.indptr, by_item.indices, by_item.data)
    assert not bias.any()
    np.testing.assert_allclose(Q, dense_solve(R.T, model.user_factors_, 1.5, 0.4), atol=1e-5)


def test_fold_in_hook_rejects_bad_rows():
    model = ImplicitALS(n_factors=2, n_epochs=1, random_state=0)
    model.fit(Interactions.from_dense(np.eye(3)))
    with pytest.raises(ValueError, match="indices"):
        model._solve_user_rows(np.array([0, 1]), np.array([7]), np.array([1.0]))
    with pytest.raises(ValueError, match=">= 0"):
        model._solve_user_rows(np.array([0, 1]), np.array([0]), np.array([-1.0]))


def test_public_fold_in_of_a_training_user_gives_its_row():
    R = tiny_counts(20, 12, seed=9)
    data = Interactions.from_dense(R)
    model = ImplicitALS(n_factors=3, n_epochs=4, solver="cholesky", random_state=0).fit(data)
    row = data.matrix[2]
    items = data.items.ids[row.indices].tolist()
    vec = model.fold_in(dict(zip(items, row.data.tolist(), strict=True)))
    np.testing.assert_allclose(vec.factors, model.user_factors_[2], atol=1e-5)
    assert vec.bias == 0
    # A bare list of item ids means strength 1 each: the dense solve with r = 1, weighed
    # with the confidence resolved from the training counts (log, ε = their median).
    assert model.confidence_ == "log"
    liked = model.fold_in(items)
    expected = dense_solve(
        (R[2:3] > 0).astype(float), model.item_factors_, *resolved(model), eps=model.epsilon_
    )
    np.testing.assert_allclose(liked.factors, expected[0], atol=1e-5)


def test_partial_fit_users_and_items_use_the_exact_update():
    R = tiny_counts(20, 12, seed=10)
    data = Interactions.from_dense(R)
    model = ImplicitALS(n_factors=3, n_epochs=4, solver="cholesky", random_state=0).fit(data)
    row = data.matrix[5]
    new_user = pd.DataFrame(
        {"user_id": 999, "item_id": data.items.ids[row.indices], "rating": row.data}
    )
    model.partial_fit_users(new_user)
    np.testing.assert_allclose(
        model.user_factors_[model.users_.index([999])[0]], model.user_factors_[5], atol=1e-5
    )
    # The new user now counts in UᵀU: the item solve sees every user the model has.
    P = model.user_factors_.copy()
    new_item = pd.DataFrame({"user_id": [0, 3, 4], "item_id": 77, "rating": [1.0, 4.0, 2.0]})
    model.partial_fit_items(new_item)
    col = np.zeros((1, P.shape[0]))
    col[0, model.users_.index([0, 3, 4])] = [1.0, 4.0, 2.0]
    np.testing.assert_allclose(
        model.item_factors_[model.items_.index([77])[0]],
        dense_solve(col, P, *resolved(model), eps=model.epsilon_)[0],
        atol=1e-5,
    )
    assert model.recommend(999, n=2).ids.size == 2


# ---------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "params, match",
    [
        ({"solver": "lu"}, "solver"),
        ({"confidence": "sqrt"}, "confidence"),
        ({"cg_steps": 0}, "cg_steps"),
        ({"alpha": -1.0}, "alpha"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"alpha": "large"}, "alpha must be a number or 'auto'"),
        ({"regularization": "Auto"}, "regularization must be a number or 'auto'"),
        ({"num_threads": 0}, "num_threads"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        ImplicitALS(**params).fit(Interactions.from_dense(np.eye(3)))


def test_negative_strengths_are_refused():
    with pytest.raises(ValueError, match="negative"):
        ImplicitALS().fit(Interactions.from_dense(np.array([[1.0, -2.0], [3.0, 0.0]])))


@pytest.mark.parametrize("seed", [0, 276, 297])
def test_singular_system_names_the_fix(seed):
    # λ = 0 with more factors than items: Yᵀ C Y cannot be inverted.  From the starting
    # factors of seeds 276 and 297 (of seeds 0-299, these two) float32 rounding once left
    # every Cholesky pivot positive, and the fit returned wrong item factors instead of
    # refusing.  The float64 Gram's condition check refuses every seed (and tiny λ > 0
    # too: tests/models/test_cholesky_singular.py).
    model = ImplicitALS(
        n_factors=5, n_epochs=1, regularization=0.0, solver="cholesky", random_state=seed
    )
    with pytest.raises(FloatingPointError, match="regularization"):
        model.fit(Interactions.from_dense(np.eye(3)))
