"""HybridMF's vectors from features say when a given column is not one of the model's
features (it used to be dropped without a word: the vector came from the other columns
alone), and stay silent for a column that holds no value."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from test_hybrid import planted_genres

from latentrec.models import HybridMF


@pytest.fixture(scope="module")
def model():
    data, _, _ = planted_genres()
    return HybridMF(n_factors=4, n_epochs=3, random_state=0).fit(data)


def test_a_column_the_model_was_not_trained_on_is_named_in_a_warning(model):
    row = {"genres": "Sci-Fi", "year": 1990, "director": "Scott"}
    with pytest.warns(UserWarning) as said:
        q, b = model.item_vector_from_features(row)
    assert [str(w.message) for w in said] == [
        "item feature column(s) ['director'] are not features of this model, which was "
        "trained on ['genres', 'year']: they add nothing to the vector"
    ]
    # What the warning says: the vector is that of the known columns alone.
    known, kb = model.item_vector_from_features({"genres": "Sci-Fi", "year": 1990})
    np.testing.assert_array_equal(q, known)
    assert b == kb


def test_a_table_and_the_user_side_are_checked_the_same_way(model):
    table = pd.DataFrame({"taste": ["Sci-Fi", "Romance"], "age": [30, 40]}, index=[90, 91])
    with pytest.warns(UserWarning, match=r"^user feature column\(s\) \['age'\] are not"):
        model.user_vector_from_features(table)


def test_an_extra_column_without_values_and_the_model_columns_alone_say_nothing(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.item_vector_from_features({"genres": "Sci-Fi", "year": 1990, "title": None})
        model.item_vector_from_features({"genres": "Sci-Fi", "year": 1990})
