"""Where the served model's ids are integers, an id is read as a ratings file reads it.

A file's column of whole numbers makes integer ids, and ``"007"``, ``"+7"`` and ``"7.0"``
in it are all user 7 (``latentrec store import`` stores them as ``7``, the command line's
``--user 007`` is user 7).  The service took ``/users/007/recommendations`` for an
unknown user (the popularity list), ``/items/010/similar`` was a 404, and a rating POSTed
for user ``"007"`` was stored apart from user 7's.
"""

from __future__ import annotations

import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data.columns import clean_ids
from latentrec.models import BiasedMF
from latentrec.store import Rating

from .test_spaced_ids import ok


def int_model():
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 7, 7],
            "item_id": [10, 11, 10, 12, 13, 11],
            "rating": [5.0, 3.0, 4.0, 1.0, 2.0, 4.0],
        }
    )
    return BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_frame(frame))


@pytest.fixture
def ints(make_client):
    return make_client(int_model())


SPELLINGS = ["007", "+7", "7.0", "%207%20", "7e0"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_user_id_spelled_as_a_file_may_spell_it_is_that_user(ints, spelling):
    # The readers' own rule says so first.
    text = spelling.replace("%20", " ")
    assert clean_ids(pd.Series([text], dtype=object), from_text=True).values.tolist() == [7]
    plain = ok(ints.get("/users/7/recommendations"))
    body = ok(ints.get(f"/users/{spelling}/recommendations"))
    assert (body["user_id"], body["fallback"]) == ("7", False)
    assert body["items"] == plain["items"]


def test_item_ids_in_paths_queries_and_bodies_are_read_as_numbers(ints, store):
    assert ok(ints.get("/items/010/similar"))["item_id"] == "10"
    assert ok(ints.get("/items/10.0"))["item_id"] == "10"
    body = ok(ints.get("/users/1/predictions", params={"items": ["012", "+13"]}))
    assert [p["item_id"] for p in body["predictions"]] == ["12", "13"]
    ack = ok(ints.post("/ratings", json={"user_id": "007", "item_id": "012", "rating": 5}))
    assert list(ack["users"]) == ["7"]
    assert [(r.item_id, r.value) for r in store.user_ratings("7")] == [("12", 5.0)]
    assert store.user_ratings("007") == []
    gone = ok(ints.delete("/users/07/ratings/12.0"))
    assert (gone["user_id"], gone["item_id"], gone["deleted"]) == ("7", "12", 1)


def test_text_that_is_no_number_and_ids_stored_as_spelled_are_kept(ints, store):
    # Not a whole number: an id of its own (a new visitor), as before.
    assert ok(ints.get("/users/7.5/recommendations"))["user_id"] == "7.5"
    # Stored as "007" before the service read ids so: still that row's user.
    store.add_ratings([Rating("007", "11", 3.0, 1.0)])
    listed = ok(ints.get("/users/007/ratings"))
    assert (listed["user_id"], [r["item_id"] for r in listed["ratings"]]) == ("007", ["11"])


def test_text_ids_are_never_read_as_numbers(make_client):
    frame = pd.DataFrame({"user_id": ["007", "7", "x"], "item_id": ["a", "b", "a"], "rating": 4.0})
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_frame(frame))
    client = make_client(model)
    assert ok(client.get("/users/007/recommendations"))["user_id"] == "007"
    assert ok(client.get("/users/7.0/recommendations"))["user_id"] == "7.0"
