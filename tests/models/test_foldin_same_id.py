"""Two given ids that are one id of the model are refused, naming both.

``fold_in({"a": 5.0, " a": 1.0})`` folded in both ratings for item "a" (lookups strip
surrounding whitespace, as the loaders do), and ``{1: .., "1": ..}`` did the same for
integer ids: one item counted twice, without a word.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import BiasedMF, FactorModel
from latentrec.models.onboarding import onboard

DF = pd.DataFrame(
    {"user_id": ["u1", "u1", "u2", "u2"], "item_id": ["a", "b", "a", "c"], "rating": [5, 3, 4, 1.0]}
)


@pytest.fixture(scope="module")
def model():
    return BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_frame(DF))


@pytest.mark.parametrize("call", ["fold_in", "onboard"])
def test_two_spellings_of_one_item_are_refused_naming_both(model, call):
    answers = {"a": 5.0, "b": 3.0, " a": 1.0}
    with pytest.raises(ValueError, match="item ids 'a' and ' a' are the same item"):
        model.fold_in(answers) if call == "fold_in" else onboard(model, answers, n=2)
    # Each spelling alone is the item "a".
    alone = model.fold_in({" a": 5.0, "b": 3.0})
    np.testing.assert_array_equal(alone.factors, model.fold_in({"a": 5.0, "b": 3.0}).factors)


def test_an_integer_and_its_text_are_one_item():
    m = FactorModel.from_factors(([1], [1, 2]), np.eye(2), global_mean=3.0)
    with pytest.raises(ValueError, match="item ids 1 and '1' are the same item"):
        m.fold_in({1: 5.0, "1": 1.0})
    with pytest.raises(ValueError, match="item ids 2 and ' 2 ' are the same item"):
        m.fold_in({2: 5.0, 1: 3.0, " 2 ": 1.0})


def test_partial_fit_refuses_two_spellings_of_one_known_user(model):
    before = model.user_factors_.copy()
    table = pd.DataFrame({"user_id": ["u1", " u1"], "item_id": ["a", "b"], "rating": [5.0, 1]})
    with pytest.raises(ValueError, match="user ids 'u1' and ' u1' are the same user"):
        model.partial_fit_users(table)
    np.testing.assert_array_equal(model.user_factors_, before)  # nothing swapped in
