import numpy as np
import pytest
from conftest import random_ratings

from latentrec import Interactions
from latentrec.models import Biases, GlobalMean, Popularity


def biases_reference(R, mask, reg_i, reg_u, n_epochs):
    mu = R[mask].mean()
    bu = np.zeros(R.shape[0])
    bi = np.zeros(R.shape[1])
    for _ in range(n_epochs):
        for i in range(R.shape[1]):
            rows = mask[:, i]
            bi[i] = (R[rows, i] - mu - bu[rows]).sum() / (reg_i + rows.sum())
        for u in range(R.shape[0]):
            cols = mask[u]
            bu[u] = (R[u, cols] - mu - bi[cols]).sum() / (reg_u + cols.sum())
    return mu, bu, bi


def test_biases_match_loop_reference():
    data = random_ratings(seed=4)
    R = data.matrix.toarray()
    mask = np.zeros_like(R, dtype=bool)
    mask[data.user_idx, data.item_idx] = True
    mu, bu, bi = biases_reference(R, mask, 10.0, 15.0, 10)
    model = Biases().fit(data)
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.user_bias_, bu, atol=1e-5)
    np.testing.assert_allclose(model.item_bias_, bi, atol=1e-5)
    assert model.n_factors_ == 0


def test_biases_without_regularisation_fit_additive_data_exactly():
    u_eff = np.array([1.0, -1.0, 0.5])
    i_eff = np.array([0.5, 0.0, -0.5, 1.0])
    R = 3 + u_eff[:, None] + i_eff[None, :]
    data = Interactions.from_dense(R)
    model = Biases(regularization=0, user_regularization=0, n_epochs=200).fit(data)
    np.testing.assert_allclose(
        model.predict(np.repeat([0, 1, 2], 4), np.tile(range(4), 3)), R.ravel(), atol=1e-4
    )


def test_global_mean_predicts_the_mean_everywhere(small_data):
    model = GlobalMean().fit(small_data)
    assert model.global_mean_ == pytest.approx(small_data.ratings.mean())
    assert np.all(
        model.predict(small_data.users.ids[:3], small_data.items.ids[:3])
        == pytest.approx(model.global_mean_)
    )


def test_popularity_ranks_by_count_and_ignores_ratings():
    R = np.array([[1, 5, 0, 0], [1, 0, 0, 0], [1, 5, 5, 0], [0, 0, 0, 5]])
    model = Popularity().fit(Interactions.from_dense(R))
    np.testing.assert_array_equal(model.item_popularity_, [3, 2, 1, 1])
    assert model.recommend(1, n=3).ids.tolist() == [1, 2, 3]
    with pytest.raises(TypeError, match="does not predict ratings"):
        model.predict([0], [0])
    assert not hasattr(model, "similar_items")


def test_factorless_models_have_no_similarity(small_data):
    with pytest.raises(ValueError, match="no latent factors"):
        Biases().fit(small_data).similar_items(small_data.items.ids[0])
