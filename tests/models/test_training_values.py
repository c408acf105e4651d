"""``training_values``: each ranking model states how its fit reads explicit ratings.

The live fold-in of a model trained on stars gives a stored user these values; they are
right when fitting on them (a NaN kept as a stored cell that is no positive) learns
exactly the model that fitting on the stars learns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import BPR, WARP, BiasedMF, HybridMF, ImplicitALS


def random_stars(seed: int) -> Interactions:
    rng = np.random.default_rng(seed)
    mask = rng.random((30, 20)) < 0.3
    u, i = np.nonzero(mask)
    stars = rng.integers(2, 11, u.size) / 2.0
    return Interactions.from_frame(pd.DataFrame({"user_id": u, "item_id": i, "rating": stars}))


def with_values(data: Interactions, values: np.ndarray) -> Interactions:
    """The same cells, in the same order, with other values."""
    frame = pd.DataFrame(
        {
            "user_id": data.users.ids[data.user_idx],
            "item_id": data.items.ids[data.item_idx],
            "rating": values,
        }
    )
    return Interactions.from_frame(frame)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("family", [BPR, WARP])
def test_pairwise_models_learn_the_same_from_their_training_values(family, seed):
    data = random_stars(seed)
    model = family(n_factors=3, n_epochs=3, random_state=0, num_threads=1)
    values = model.training_values(data.ratings)
    assert np.array_equal(values, np.ones(data.nnz))
    a = family(n_factors=3, n_epochs=3, random_state=0, num_threads=1).fit(data)
    b = family(n_factors=3, n_epochs=3, random_state=0, num_threads=1).fit(
        with_values(data, values)
    )
    assert np.array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("floor", [None, 3.0, 4.5])
def test_hybrid_learns_the_same_from_its_training_values(floor, seed):
    data = random_stars(seed)
    make = lambda m: HybridMF(n_factors=3, n_epochs=3, random_state=0, min_rating=m)  # noqa: E731
    values = make(floor).training_values(data.ratings)
    expected = data.ratings >= (floor or -np.inf)
    assert np.array_equal(~np.isnan(values), expected)
    assert np.all(values[expected] == 1.0)
    # A NaN is a stored cell that is no positive: 0 below a floor of 0.5 here.
    a = make(floor).fit(data)
    b = make(0.5).fit(with_values(data, np.nan_to_num(values, nan=0.0)))
    assert np.array_equal(a.item_factors_, b.item_factors_)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_implicit_als_and_rating_models_read_the_values_themselves(seed):
    data = random_stars(seed)
    for model in (ImplicitALS(n_factors=3, random_state=0), BiasedMF(n_factors=3)):
        assert np.array_equal(model.training_values(data.ratings), data.ratings)
    # The values matter to ImplicitALS (its confidence grows with them): 1s would not do.
    a = ImplicitALS(n_factors=3, random_state=0).fit(data)
    b = ImplicitALS(n_factors=3, random_state=0).fit(with_values(data, np.ones(data.nnz)))
    assert not np.allclose(a.item_factors_, b.item_factors_)
