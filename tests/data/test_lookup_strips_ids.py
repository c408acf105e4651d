"""Ids are found at lookup as the loaders store them: without surrounding whitespace.

A model on "u1" answered ``recommend(" u1")`` with the popularity list, while a model on
integer ids found " 1 " as 1.
"""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data.vocabulary import Vocabulary
from latentrec.models import BiasedMF


@pytest.mark.parametrize(
    ("users", "asked"), [(["u1", "u1", "u2", "u2"], " u1 "), ([1, 1, 2, 2], " 1 ")]
)
def test_a_padded_id_gets_the_users_own_list_for_text_and_integer_ids(users, asked):
    df = pd.DataFrame(
        {"user_id": users, "item_id": ["a", "b", "a", "c"], "rating": [5.0, 3.0, 4.0, 1.0]}
    )
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_frame(df))
    plain = model.recommend(users[0], n=2)
    padded = model.recommend(asked, n=2)
    assert not padded.fallback and padded.ids.tolist() == plain.ids.tolist()
    table = model.recommend_batch([asked, "\tnobody"], n=2)
    assert table.loc[table["user_id"] == asked, "fallback"].tolist() == [False]


def test_an_id_kept_with_its_spaces_is_found_as_it_is():
    vocab = Vocabulary([" u1", "u1", "x"], "user")
    assert vocab.lookup([" u1", "u1", " x\n", "y "]).tolist() == [0, 1, 2, -1]
