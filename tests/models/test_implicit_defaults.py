"""ImplicitALS settings chosen from the data ("auto"): the rule, overrides, files, fold-in.

The issue's user step: raw play counts (median in the hundreds, a tail into the tens of
thousands) passed to ``ImplicitALS()`` as they are must give the good model, not one
barely above popularity.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import latentrec
from latentrec import Interactions
from latentrec.data.splits import user_split
from latentrec.evaluation import evaluate_ranking
from latentrec.models import BPR, WARP, Fitted, Popularity
from latentrec.models.implicit_als import (
    AUTO_REFERENCE_CELLS,
    ImplicitALS,
    resolve_settings,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from implicit_defaults import long_tailed_plays  # noqa: E402

RESOLVED = ("confidence_", "alpha_", "epsilon_", "regularization_")


def matrix_data(R) -> Interactions:
    return Interactions.from_dense(np.asarray(R, dtype=np.float64))


def long_tailed(n_users=12, n_items=9, seed=0) -> np.ndarray:
    """Lognormal play counts (median ~ 200) on about half the cells, every row non-empty."""
    rng = np.random.default_rng(seed)
    R = np.rint(np.exp(rng.normal(np.log(200), 1.5, (n_users, n_items)))) + 1
    R *= rng.random((n_users, n_items)) < 0.5
    R[np.arange(n_users), rng.integers(0, n_items, n_users)] = 300.0
    return R


def small_model(**params) -> ImplicitALS:
    return ImplicitALS(
        **{"n_factors": 3, "n_epochs": 4, "random_state": 0, "num_threads": 1, **params}
    )


def settings_of(model) -> dict:
    return {name: getattr(model, name) for name in RESOLVED}


def dense_solve(R, Y, confidence, alpha, epsilon, regularization):
    """Row by row: (Yᵀ C_u Y + λI) x = Yᵀ C_u p_u, the confidence built densely."""
    v = np.log1p(R / epsilon) if confidence == "log" else R
    C = np.where(R > 0, 1.0 + alpha * v, 1.0)
    Y = Y.astype(np.float64)
    out = np.empty((R.shape[0], Y.shape[1]))
    for u in range(R.shape[0]):
        A = Y.T @ (C[u][:, None] * Y) + regularization * np.eye(Y.shape[1])
        out[u] = np.linalg.solve(A, Y.T @ (C[u] * (R[u] > 0)))
    return out


# ---------------------------------------------------------------------- the rule
def test_binary_data_resolves_to_the_former_defaults():
    # On a table the size of MovieLens-100K's training part: exactly the values tuned
    # there (alpha=2, λ=30, linear), so the implicit MovieLens benchmark does not move.
    assert resolve_settings(np.ones(50, np.float32), 943, 1646) == {
        "confidence": "linear",
        "alpha": 2.0,
        "epsilon": 1.0,
        "regularization": 30.0,
    }
    R = (long_tailed() > 0).astype(float)
    model = small_model().fit(matrix_data(R))
    assert model.confidence_ == "linear" and model.alpha_ == 2.0
    same = small_model(confidence="linear", alpha=2.0, regularization=model.regularization_)
    same.fit(matrix_data(R))
    np.testing.assert_array_equal(model.user_factors_, same.user_factors_)


def test_constant_values_are_binary_data_in_other_units():
    model = small_model().fit(matrix_data((long_tailed() > 0) * 5.0))
    assert model.confidence_ == "linear"
    assert 1 + model.alpha_ * 5.0 == pytest.approx(3.0)  # every cell: confidence 3


def test_small_counts_resolve_to_log_confidence_around_their_median():
    R = np.array([[1, 2, 0, 5], [3, 0, 4, 1], [0, 4, 4, 2]], dtype=float)
    model = small_model().fit(matrix_data(R))
    median = float(np.median(R[R > 0]))
    assert model.confidence_ == "log"
    assert model.epsilon_ == median
    # A cell of median value gets the confidence a binary cell gets: 1 + 2.
    assert 1 + model.alpha_ * np.log1p(median / model.epsilon_) == pytest.approx(3.0)


def test_long_tailed_counts_resolve_to_log_confidence():
    R = long_tailed()
    model = small_model().fit(matrix_data(R))
    assert model.confidence_ == "log"
    assert model.epsilon_ == pytest.approx(np.median(R[R > 0]))
    # A cell 100 times the median weighs about 14, not 200 (linear, alpha=2/median).
    assert 1 + model.alpha_ * np.log1p(100.0) == pytest.approx(1 + 2 * np.log2(101))


def test_durations_and_fractions_resolve_to_log_confidence():
    rng = np.random.default_rng(3)
    seconds = rng.exponential(240.0, 40)
    s = resolve_settings(seconds, 10, 10)
    assert s["confidence"] == "log" and s["epsilon"] == pytest.approx(np.median(seconds))
    shares = rng.random(40)  # share of a video watched, in (0, 1)
    assert resolve_settings(shares, 10, 10)["epsilon"] == pytest.approx(np.median(shares))
    # Stored zeros count as observed cells but not towards the median.
    with_zeros = np.concatenate([np.zeros(60), seconds])
    assert resolve_settings(with_zeros, 10, 10)["epsilon"] == pytest.approx(np.median(seconds))


def test_regularization_grows_with_the_fourth_root_of_the_table():
    ones = np.ones(3)
    at = resolve_settings(ones, 943, 1646)["regularization"]
    assert at == 30.0
    assert resolve_settings(ones, 943 * 16, 1646)["regularization"] == pytest.approx(60.0)
    small = resolve_settings(ones, 40, 25)["regularization"]
    assert small == pytest.approx(30.0 * (1000 / AUTO_REFERENCE_CELLS) ** 0.25)


def test_only_users_and_items_with_cells_count_towards_the_size():
    R = long_tailed(10, 8)
    frame = pd.DataFrame(
        [(u, i, R[u, i]) for u, i in zip(*np.nonzero(R), strict=True)],
        columns=["user_id", "item_id", "rating"],
    )
    full = Interactions.from_frame(frame)
    # The same cells in a catalogue with twice the users and items, half of them blank.
    wide = Interactions.from_dense(np.pad(R, ((0, 10), (0, 8))))
    a = small_model().fit(full).regularization_
    b = small_model().fit(wide).regularization_
    assert wide.shape == (20, 16) and a == pytest.approx(b)


# ---------------------------------------------------------------------- overrides
@pytest.mark.parametrize(
    "given",
    [
        {"confidence": "linear"},
        {"confidence": "log", "epsilon": 1.0},
        {"alpha": 40.0},
        {"regularization": 0.5},
        {"confidence": "linear", "alpha": 2.0, "regularization": 30.0},
    ],
)
def test_explicit_values_override_the_rule(given):
    model = small_model(**given).fit(matrix_data(long_tailed()))
    for name, value in given.items():
        assert getattr(model, name + "_") == value
    assert model.get_params()[next(iter(given))] == next(iter(given.values()))
    # The rest is still resolved: never the string "auto" in the fitted state.
    assert all(not isinstance(getattr(model, n), str) for n in RESOLVED[1:])


def test_the_resolved_values_given_explicitly_fit_the_same_model():
    data = matrix_data(long_tailed())
    auto = small_model().fit(data)
    explicit = small_model(**{n[:-1]: v for n, v in settings_of(auto).items()}).fit(data)
    np.testing.assert_array_equal(auto.user_factors_, explicit.user_factors_)
    np.testing.assert_array_equal(auto.item_factors_, explicit.item_factors_)


# ---------------------------------------------------------------------- files, fold-in
def test_resolved_values_survive_save_and_load_and_fold_in_uses_them(tmp_path):
    R = long_tailed(15, 10, seed=1)
    model = small_model(solver="cholesky").fit(matrix_data(R))
    path = tmp_path / "plays.npz"
    model.save(path)
    loaded = latentrec.load(path)
    assert loaded.get_params()["confidence"] == "auto"
    assert settings_of(loaded) == settings_of(model)
    new_user = {0: 5000.0, 3: 20.0, 7: 1.0}
    for m in (model, loaded):
        vec = m.fold_in(new_user)
        row = np.zeros((1, R.shape[1]))
        row[0, list(new_user)] = list(new_user.values())
        expected = dense_solve(
            row, m.item_factors_, m.confidence_, m.alpha_, m.epsilon_, m.regularization_
        )
        np.testing.assert_allclose(vec.factors, expected[0], atol=1e-5)
    np.testing.assert_array_equal(loaded.fold_in(new_user).factors, model.fold_in(new_user).factors)


def test_partial_fits_keep_the_resolved_values():
    model = small_model(solver="cholesky").fit(matrix_data(long_tailed(15, 10, seed=2)))
    before = settings_of(model)
    # Counts far above the training median would resolve differently if re-resolved.
    huge = pd.DataFrame({"user_id": 99, "item_id": [1, 4, 6], "rating": [1e6, 3e6, 5e5]})
    vec = model.fold_in(dict(zip(huge["item_id"], huge["rating"], strict=True)))
    model.partial_fit_users(huge)
    assert settings_of(model) == before
    row = model.user_factors_[model.users_.index([99])[0]]
    np.testing.assert_allclose(row, vec.factors, atol=1e-5)


def test_files_without_resolved_values_fold_in_with_their_params():
    # Files written before the rule hold explicit hyperparameters and no resolved values.
    model = small_model(solver="cholesky").fit(matrix_data(long_tailed(15, 10, seed=4)))
    state = {k: v for k, v in model.fitted_.state.items() if k not in RESOLVED}
    old = ImplicitALS.from_fitted(
        Fitted.build(model.catalog_, state),
        confidence="linear",
        alpha=0.01,
        epsilon=1.0,
        regularization=2.0,
    )
    ratings = {0: 300.0, 2: 40.0}
    row = np.zeros((1, model.n_items))
    row[0, list(ratings)] = list(ratings.values())
    expected = dense_solve(row, model.item_factors_, "linear", 0.01, 1.0, 2.0)
    np.testing.assert_allclose(old.fold_in(ratings).factors, expected[0], atol=1e-5)
    unresolved = ImplicitALS.from_fitted(Fitted.build(model.catalog_, state))
    with pytest.raises(ValueError, match="no resolved confidence_; refit"):
        unresolved.fold_in(ratings)


# ---------------------------------------------------------------------- scale invariance
@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    factor=st.sampled_from([10.0, 1000.0, 0.01, 60.0]),
    sigma=st.floats(0.5, 3.0),
)
def test_scaled_copies_of_long_tailed_counts_resolve_consistently(seed, factor, sigma):
    rng = np.random.default_rng(seed)
    R = np.rint(np.exp(rng.normal(np.log(300), sigma, (8, 6)))) + 1
    R *= rng.random(R.shape) < 0.6
    R[np.arange(8), rng.integers(0, 6, 8)] = 2.0
    R[0, :2] = [1.0, 5.0]  # never all equal
    a = small_model(n_epochs=1).fit(matrix_data(R))
    b = small_model(n_epochs=1).fit(matrix_data(R * factor))
    assert a.confidence_ == b.confidence_ == "log"
    assert a.alpha_ == b.alpha_
    assert a.regularization_ == b.regularization_
    assert b.epsilon_ == pytest.approx(a.epsilon_ * factor, rel=1e-6)
    # ... and so the same model, up to float32 rounding of the scaled values.
    np.testing.assert_allclose(a.user_factors_, b.user_factors_, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(factor=st.floats(1e-3, 1e4))
def test_scaled_binary_data_stays_linear_with_the_same_confidence(factor):
    R = (long_tailed() > 0) * 1.0
    model = small_model(n_epochs=1).fit(matrix_data(R * np.float32(factor)))
    assert model.confidence_ == "linear"
    assert 1 + model.alpha_ * float(np.float32(factor)) == pytest.approx(3.0)


# ---------------------------------------------------------------------- the user's step
def test_raw_play_counts_get_the_good_model_by_default():
    """ImplicitALS() on raw long-tailed play counts beats popularity and the old default."""
    data = long_tailed_plays(400, 500, 30, random_state=0)
    assert 100 < np.median(data.matrix.data) < 1000 and data.matrix.data.max() > 10_000
    train, test = user_split(data, 0.2, random_state=0)

    def ndcg(model):
        return evaluate_ranking(model.fit(train), test, k=10)["ndcg"]

    kw = dict(n_factors=32, random_state=0, num_threads=1)
    defaults = ndcg(ImplicitALS(**kw))
    former = ndcg(ImplicitALS(confidence="linear", alpha=2.0, regularization=30.0, **kw))
    popularity = ndcg(Popularity())
    assert defaults > popularity + 0.02
    assert defaults > former + 0.05


@pytest.mark.network
def test_binary_movielens_keeps_the_former_defaults_exactly():
    from latentrec.datasets import movielens

    ml = movielens("100k", verbose=False)
    m = ml.matrix.copy()
    m.data[:] = 1
    train, _ = user_split(Interactions(ml.users, ml.items, m, implicit=True), 0.2, random_state=0)
    kw = dict(n_epochs=2, random_state=0, num_threads=1)
    model = ImplicitALS(**kw).fit(train)
    assert settings_of(model) == {
        "confidence_": "linear",
        "alpha_": 2.0,
        "epsilon_": 1.0,
        "regularization_": 30.0,
    }
    former = ImplicitALS(confidence="linear", alpha=2.0, regularization=30.0, **kw).fit(train)
    np.testing.assert_array_equal(model.item_factors_, former.item_factors_)


# ---------------------------------------------------------------------- BPR / WARP
@pytest.mark.parametrize("cls", [BPR, WARP])
def test_pairwise_models_do_not_read_the_values(cls):
    # Why BPR and WARP have no "auto" rule: only which cells are stored matters.
    R = long_tailed(20, 12, seed=5)
    kw = dict(n_factors=3, n_epochs=3, random_state=0, num_threads=1)
    counts = cls(**kw).fit(matrix_data(R))
    binary = cls(**kw).fit(matrix_data(R > 0))
    np.testing.assert_array_equal(counts.item_factors_, binary.item_factors_)
