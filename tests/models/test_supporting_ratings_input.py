"""supporting_items(ratings=...) refuses what it cannot use by naming ``ratings``: an
item or user it lacks said only "unknown item id(s): 99" (read as the item explained),
and a rating of "5", True or "abc" was taken by float() or failed in it."""

from __future__ import annotations

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.data.vocabulary import UnknownIdError
from latentrec.models import FactorModel
from latentrec.models.factor import supporting_items

R = np.array([[5, 5, 0, 1], [4, 5, 4, 1], [1, 1, 1, 5]])
MODEL = FactorModel.from_factors(
    ([0, 1, 2], [0, 1, 2, 3]), np.eye(4)[:, :2] + 0.5, np.ones((3, 2)), global_mean=3.0
)


def test_an_item_the_model_lacks_is_refused_as_one_of_ratings():
    with pytest.raises(UnknownIdError, match=r"unknown item id\(s\): 99 \(in ratings\)"):
        supporting_items(MODEL, 0, 2, ratings={0: 5, 99: 4})


def test_a_user_the_interactions_lack_is_refused_as_one_of_ratings():
    with pytest.raises(UnknownIdError, match=r"unknown user id\(s\): 2 \(in ratings\)"):
        supporting_items(MODEL, 2, 1, ratings=Interactions.from_dense(R[:2]))


@pytest.mark.parametrize("value", ["5", True, "abc", None])
def test_a_rating_that_is_no_number_is_refused_naming_its_item(value):
    with pytest.raises(ValueError, match=f"ratings: item 1 has rating {value!r}, not a number"):
        supporting_items(MODEL, 0, 2, ratings={0: 5, 1: value})


def test_numbers_of_any_kind_are_ratings():
    table = supporting_items(MODEL, 0, 2, ratings={0: np.int64(5), 1: np.float32(4.0), 3: 1})
    assert sorted(table["item_id"].tolist()) == [0, 1]  # 1 star is below the mean: left out
