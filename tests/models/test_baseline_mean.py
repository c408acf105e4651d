"""The baseline of a rating model without μ (unbiased MF, NMF, uncentred SVD): the
training mean, in predict(unknown="baseline"), in popularity fallbacks and in model files.

Before: these models stored μ = 0, so an unknown id was predicted 0.0 (1.0 clipped) and
the fallback list of an unknown user showed scores 0.0.
"""

import numpy as np
import pytest
from conftest import random_ratings

import latentrec
from latentrec.io.modelfile import read_archive, write_archive
from latentrec.models import NMF, BiasedMF, Catalog, FactorModel, TruncatedSVD

WITHOUT_MU = {
    "NMF": lambda: NMF(n_factors=4, n_epochs=20, random_state=0),
    "BiasedMF(biased=False)": lambda: BiasedMF(n_factors=4, biased=False, random_state=0),
    "TruncatedSVD(center=False)": lambda: TruncatedSVD(n_factors=3, center=False),
}


@pytest.fixture(scope="module")
def data():
    return random_ratings(n_users=40, n_items=25, density=0.4, seed=5)


@pytest.fixture(scope="module")
def fitted(data):
    return {name: make().fit(data) for name, make in WITHOUT_MU.items()}


def training_mean(data) -> float:
    """Slow reference: the plain mean of the training ratings."""
    return float(np.mean(data.to_frame()["rating"].to_numpy(dtype=np.float64)))


@pytest.mark.parametrize("name", sorted(WITHOUT_MU))
def test_unknown_ids_get_the_training_mean(name, fitted, data):
    model = fitted[name]
    mean = training_mean(data)
    assert model.global_mean_ == 0.0  # the formula has no μ ...
    assert model.rating_mean_ == pytest.approx(mean, abs=1e-9)  # ... but the model knows it
    user, item = data.users.ids[0], data.items.ids[0]
    got = model.predict(["nobody", user, "nobody"], [item, 99999, 99999], unknown="baseline")
    np.testing.assert_allclose(got, mean, atol=1e-6)
    clipped = model.predict(["nobody"], [item], unknown="baseline", clip=True)
    np.testing.assert_allclose(clipped, mean, atol=1e-6)
    # Known pairs are untouched: still the model's own p·q.
    u, i = 0, 0
    own = float(model.user_factors_[u].astype(np.float64) @ model.item_factors_[i])
    assert model.predict([user], [item])[0] == pytest.approx(own, abs=1e-5)


@pytest.mark.parametrize("name", sorted(WITHOUT_MU))
def test_fallback_scores_stay_ratings(name, fitted, data):
    model = fitted[name]
    rec = model.recommend("nobody", n=3)
    assert rec.fallback
    np.testing.assert_allclose(rec.scores, training_mean(data), atol=1e-5)
    batch = model.recommend_batch(["nobody", data.users.ids[0]], n=3)
    stranger = batch[batch["user_id"] == "nobody"]
    np.testing.assert_allclose(stranger["score"], training_mean(data), atol=1e-5)


def test_models_with_mu_keep_mu_and_the_known_bias(data):
    model = BiasedMF(n_factors=4, random_state=0).fit(data)
    got = model.predict(["nobody", "nobody"], [data.items.ids[2], 99999], unknown="baseline")
    assert got[0] == pytest.approx(model.global_mean_ + model.item_bias_[2], abs=1e-6)
    assert got[1] == pytest.approx(model.global_mean_, abs=1e-6)


def test_factors_from_elsewhere_use_the_mean_their_catalogue_gives():
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    cat = Catalog.from_ids(["ann"], ["a", "b"], rating_mean=3.5)
    model = FactorModel.from_factors(cat, Q, [[2.0, 1.0]], predicts_ratings=True)
    assert model.predict(["bob"], ["a"], unknown="baseline").tolist() == [3.5]
    assert model.predict(["ann"], ["a"]).tolist() == [2.0]
    # Without a recorded mean there is nothing else to go on: the μ given (0 here).
    bare = FactorModel.from_factors((["ann"], ["a", "b"]), Q, predicts_ratings=True)
    assert bare.rating_mean_ is None
    assert bare.predict(["bob"], ["a"], unknown="baseline").tolist() == [0.0]


@pytest.mark.parametrize("name", sorted(WITHOUT_MU))
def test_model_files_keep_the_training_mean(name, fitted, data, tmp_path):
    model = fitted[name]
    path = tmp_path / "m.npz"
    model.save(path)
    manifest, _ = read_archive(path)
    assert manifest["data"]["rating_mean"] == pytest.approx(training_mean(data))
    loaded = latentrec.load(path)
    assert loaded.rating_mean_ == model.rating_mean_
    np.testing.assert_array_equal(
        loaded.predict(["nobody"], [data.items.ids[0]], unknown="baseline"),
        model.predict(["nobody"], [data.items.ids[0]], unknown="baseline"),
    )


def saved_as_before_the_mean(model, path):
    """``model`` as a file from before the training mean was recorded, loaded back."""
    model.save(path)
    manifest, arrays = read_archive(path)
    del manifest["data"]["rating_mean"]
    write_archive(path, manifest, arrays)
    return latentrec.load(path)


@pytest.mark.parametrize("name", sorted(WITHOUT_MU))
def test_older_files_without_mu_estimate_the_mean_from_their_training_cells(
    name, fitted, data, tmp_path
):
    model = fitted[name]
    old = saved_as_before_the_mean(model, tmp_path / "old.npz")
    # The estimate: the mean of the model's own predictions on the cells the file lists.
    own = model.predict(data.users.ids[data.user_idx], data.items.ids[data.item_idx])
    assert old.rating_mean_ == pytest.approx(own.mean(), rel=1e-9)
    # Close to the true mean (a least-squares fit), and nothing like the 0 it was.
    assert old.rating_mean_ == pytest.approx(training_mean(data), abs=0.15)
    base = old.predict(["nobody"], [data.items.ids[0]], unknown="baseline")
    np.testing.assert_allclose(base, old.rating_mean_)
    users = data.users.ids[:5]
    np.testing.assert_array_equal(
        old.predict(users, data.items.ids[:5]), model.predict(users, data.items.ids[:5])
    )
    # Saved again, the file records the estimate.
    old.save(tmp_path / "again.npz")
    assert latentrec.load(tmp_path / "again.npz").rating_mean_ == old.rating_mean_


def test_older_files_with_mu_or_without_ratings_are_as_they_were(data, tmp_path):
    biased = BiasedMF(n_factors=4, random_state=0).fit(data)
    old = saved_as_before_the_mean(biased, tmp_path / "biased.npz")
    assert old.rating_mean_ is None  # μ is the baseline; nothing to estimate
    np.testing.assert_array_equal(
        old.predict(["nobody"], [99999], unknown="baseline"),
        biased.predict(["nobody"], [99999], unknown="baseline"),
    )
    ranking = latentrec.models.ImplicitALS(n_factors=3, n_epochs=2, random_state=0).fit(data)
    assert saved_as_before_the_mean(ranking, tmp_path / "ranking.npz").rating_mean_ is None
