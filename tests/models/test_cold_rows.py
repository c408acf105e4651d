"""A known user or item without training cells has no vector of its own, in every model.

Such a user gets the popularity list from ``recommend`` (``fallback=True``), an item
without cells has no neighbours and is never one: what ``recommend`` and
``similar_items`` document.  TruncatedSVD (round-off of its zero rows, or with
``center=False`` the fill's projection) and unbiased NMF (the mean vector) broke it.
"""

import numpy as np
import pytest
from conftest import random_ratings

from latentrec.models import (
    ALS,
    BPR,
    NMF,
    WARP,
    BayesianMF,
    BiasedMF,
    GradientDescentMF,
    ImplicitALS,
    SVDpp,
    TruncatedSVD,
)

MODELS = [
    BiasedMF(n_factors=3, n_epochs=20, random_state=0),
    SVDpp(n_factors=3, n_epochs=10, random_state=0),
    ALS(n_factors=3, random_state=0),
    BayesianMF(n_factors=3, n_samples=5, burn_in=5, random_state=0),
    GradientDescentMF(n_factors=3, n_epochs=50, random_state=0),
    ImplicitALS(n_factors=3, random_state=0),
    BPR(n_factors=3, n_epochs=5, random_state=0),
    WARP(n_factors=3, n_epochs=5, random_state=0),
    NMF(n_factors=3, n_epochs=20, random_state=0),
    NMF(n_factors=3, n_epochs=20, biased=True, random_state=0),
    TruncatedSVD(n_factors=3, random_state=0),
    TruncatedSVD(n_factors=3, fill="item_mean", random_state=0),
    TruncatedSVD(n_factors=3, fill="baseline", random_state=0),
    TruncatedSVD(n_factors=3, center=False, random_state=0),
    TruncatedSVD(n_factors=3, center=False, fill="item_mean", random_state=0),
]


@pytest.fixture(scope="module")
def split():
    data = random_ratings(n_users=30, n_items=20, density=0.4, seed=7)
    cold_user = data.user_idx == 0
    cold_item = data.item_idx == 1
    return data, data.subset(~(cold_user | cold_item))


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_a_user_without_training_cells_gets_the_popularity_list(split, model):
    data, train = split
    model = model.clone().fit(train)
    cold = data.users.ids[0]
    got = model.recommend(cold, n=5)
    popular = model.recommend("nobody at all", n=5)
    assert got.fallback and popular.fallback
    assert got.ids.tolist() == popular.ids.tolist()
    np.testing.assert_array_equal(got.scores, popular.scores)
    table = model.recommend_batch([cold, data.users.ids[1]], n=3)
    assert table.groupby("user_id")["fallback"].first().to_dict() == {
        cold: True,
        data.users.ids[1]: False,
    }


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_an_item_without_training_cells_has_no_neighbours_and_is_none(split, model):
    data, train = split
    model = model.clone().fit(train)
    cold = data.items.ids[1]
    assert model.similar_items(cold, n=5).ids.size == 0
    for item in data.items.ids[[0, 2, 3]]:
        assert cold not in model.similar_items(item, n=data.n_items).ids
