"""with_model_ids: the training data of a model that grew, over the model's id maps."""

import dataclasses
import types

import numpy as np
import pandas as pd
import pytest
from conftest import random_ratings

from latentrec import Interactions
from latentrec.models import BiasedMF
from latentrec.models.inputs import with_model_ids


@pytest.fixture(scope="module")
def data():
    base = random_ratings(n_users=12, n_items=8)
    meta = pd.DataFrame({"title": [f"T{i}" for i in base.items.ids]}, index=base.items.ids)
    users = pd.DataFrame({"age": np.arange(12)}, index=base.users.ids)
    return Interactions(
        base.users,
        base.items,
        base.matrix,
        base.timestamps,
        rating_scale=base.rating_scale,
        item_features=meta,
        user_features=users,
    )


def grown_model(data):
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
    model.partial_fit_users(pd.DataFrame({"user_id": ["x", "y"], "item_id": 100, "rating": 4.0}))
    model.partial_fit_items(pd.DataFrame({"user_id": ["u0", "x"], "item_id": 500, "rating": 3.0}))
    return model


def test_the_training_data_of_a_grown_model_is_padded_with_the_added_ids(data):
    model = grown_model(data)
    out = with_model_ids(model, data)
    assert out.users == model.users_ and out.items == model.items_
    # The same cells, in the same places; the added rows and columns are empty.
    np.testing.assert_array_equal(
        out.matrix[: data.n_users, : data.n_items].toarray(), data.matrix.toarray()
    )
    assert out.nnz == data.nnz and out.matrix.has_sorted_indices
    np.testing.assert_array_equal(out.timestamps, data.timestamps)
    assert out.user_counts()[-2:].tolist() == [0, 0] and out.item_counts()[-1] == 0
    assert out.item_titles()[-1] == "500" and out.item_titles()[0] == "T100"
    assert out.user_features["age"].iloc[:12].tolist() == list(range(12))
    assert out.user_features["age"].iloc[12:].isna().all()
    assert out.rating_scale == data.rating_scale and out.fingerprint() != data.fingerprint()


def test_data_with_the_models_ids_is_returned_as_it_is(data):
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(data)
    assert with_model_ids(model, data) is data
    split = data.subset(data.item_idx != 0)  # a split shares the id maps
    assert with_model_ids(model, split) is split


def test_a_grown_model_takes_data_over_its_training_ids_as_before_it_grew(data):
    # A model trained on a split takes the whole data, and another split, after it grew
    # as before: the id maps it was trained over are the check, not the cells.
    split = data.subset(data.item_idx != 0)
    model = BiasedMF(n_factors=2, n_epochs=3, random_state=0).fit(split)
    assert with_model_ids(model, data) is data
    model.partial_fit_users(pd.DataFrame({"user_id": ["x"], "item_id": 100, "rating": 4.0}))
    for given in (data, split, data.subset(data.user_idx != 0)):
        out = with_model_ids(model, given)
        assert out.users == model.users_ and out.nnz == given.nnz
    assert model.catalog_.trained_shape == (12, 8)


def test_a_grown_model_without_its_training_shape_takes_only_the_very_data(data):
    # Model files saved before the training shape was recorded: the digest decides.
    grown = grown_model(data)
    model = types.SimpleNamespace(
        users_=grown.users_,
        items_=grown.items_,
        catalog_=dataclasses.replace(grown.catalog_, trained_shape=None),
        data_fingerprint_=grown.data_fingerprint_,
    )
    assert with_model_ids(model, data).n_users == 14
    with pytest.raises(ValueError, match="or a split of it$"):
        with_model_ids(model, data.subset(data.item_idx != 0))


def test_other_data_is_refused_naming_the_argument(data):
    model = grown_model(data)
    first = data.subset(data.user_idx < 11)
    first = Interactions.from_frame(first.to_frame(), user="user_id", item="item_id")
    with pytest.raises(ValueError, match=r"^train must share the model's id vocabularies"):
        with_model_ids(model, first, "train")
    with pytest.raises(ValueError, match="trained on, 12 users x 8 items .it gained 2 users"):
        with_model_ids(model, first)
    with pytest.raises(ValueError, match="2 users x 2 items, the model 14 x 9"):
        with_model_ids(model, Interactions.from_dense(np.ones((2, 2))))
    with pytest.raises(TypeError, match="Interactions"):
        with_model_ids(model, data.to_frame())
