"""The classic 6x6 sci-fi / cooking example must reproduce to two decimals."""

import numpy as np
import pytest
from conftest import SEED_MATRIX

from latentrec import Interactions
from latentrec.models import GradientDescentMF


def dense_reference(R, steps, seed=1, k=2, lr=0.01, reg=0.05):
    """The text's update, on the dense matrix with a mask: the slow obvious version."""
    R = R.astype(float)
    mask = R > 0
    mu = R[mask].mean()
    rng = np.random.default_rng(seed)
    U = rng.normal(0, 0.1, (R.shape[0], k))
    V = rng.normal(0, 0.1, (R.shape[1], k))
    for _ in range(steps):
        E = mask * (R - mu - U @ V.T)
        U = U + lr * (E @ V - reg * U)
        V = V + lr * (E.T @ U - reg * V)
    return mu, U, V


def test_seed_example_reproduces(seed_data):
    model = GradientDescentMF(
        n_factors=2, n_epochs=8000, learning_rate=0.01, regularization=0.05, random_state=1
    ).fit(seed_data)
    assert round(model.history_["train_rmse"][-1], 3) == 0.242
    assert round(float(model.predict([2], [2])[0]), 2) == 4.51
    assert round(float(model.predict([4], [0])[0]), 2) == 2.42
    # The item vectors separate the two genres: every sci-fi title (0-2) is closer to
    # every other sci-fi title than to any cooking title (3-5), and vice versa.
    Q = model.item_factors_
    cos = (Q @ Q.T) / np.outer(np.linalg.norm(Q, axis=1), np.linalg.norm(Q, axis=1))
    within = min(cos[:3, :3].min(), cos[3:, 3:].min())
    assert within > cos[:3, 3:].max()
    assert cos[:3, 3:].max() < 0


def test_matches_dense_reference_step_by_step(seed_data):
    model = GradientDescentMF(n_epochs=50, random_state=7).fit(seed_data)
    mu, U, V = dense_reference(SEED_MATRIX, 50, seed=7)
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.user_factors_, U, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.item_factors_, V, rtol=1e-5, atol=1e-6)


def test_training_loss_decreases(seed_data):
    h = GradientDescentMF(n_epochs=500, random_state=0).fit(seed_data).history_["train_rmse"]
    assert h[-1] < h[0]
    assert np.all(np.diff(h[50:]) <= 1e-9)


def test_validation_curve_is_recorded(seed_data):
    from latentrec.data.splits import random_split

    train, valid = random_split(seed_data, 0.2, random_state=0)
    model = GradientDescentMF(n_epochs=100, random_state=0).fit(train, validation=valid)
    assert len(model.history_["valid_rmse"]) == 100
    assert np.isfinite(model.history_["valid_rmse"]).all()


@pytest.mark.parametrize("bad", [{"n_factors": 0}, {"n_epochs": -1}, {"learning_rate": 0}])
def test_bad_hyperparameters(bad, seed_data):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GradientDescentMF(**bad).fit(seed_data)


def test_divergence_is_loud():
    data = Interactions.from_dense(SEED_MATRIX * 100.0)
    with pytest.raises(FloatingPointError, match="learning_rate"):
        GradientDescentMF(learning_rate=5.0, n_epochs=200, random_state=0).fit(data)
