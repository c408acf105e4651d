"""Ids stored with their spaces before the service read ids as the file readers do.

Until then a rating POSTed for `` u9`` was stored under `` u9``, and an item POSTed as
`` x`` went into the catalogue as `` x``.  Read as ``u9`` and ``x`` from then on, those
rows could no longer be listed, removed or erased: ``DELETE /users/%20u9`` answered
``deleted: 0`` and left them, and the page's Remove of item `` x`` was a 404.  An id the
store holds exactly as given is read as given, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest

from latentrec.store import Item, Rating

from .test_spaced_ids import ok, text_model

ENGINES = [
    pytest.param(("make_client", "store"), id="sqlite"),
    pytest.param(("make_pg_client", "pg_store"), id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=ENGINES)
def old_rows(request):
    """A client and its store, which holds rows written with spaced ids."""
    make, store = (request.getfixturevalue(name) for name in request.param)
    client = make(text_model())
    store.add_items([Item(" x", title="Spaced")])
    store.add_ratings(
        [
            Rating(" u9", "a", 4.0, 1.0),
            Rating(" u9", "b", 2.0, 2.0),
            Rating("u1", " x", 3.0, 1.0),
            Rating("u9", "c", 5.0, 1.0),
        ]
    )
    return client, store


def test_a_user_stored_with_spaces_is_listed_removed_and_erased_by_that_id(old_rows):
    client, store = old_rows
    listed = ok(client.get("/users/%20u9/ratings"))
    assert listed["user_id"] == " u9"
    assert sorted(r["item_id"] for r in listed["ratings"]) == ["a", "b"]
    assert ok(client.get("/users/%20u9/recommendations"))["user_id"] == " u9"
    gone = ok(client.delete("/users/%20u9/ratings/a"))
    assert (gone["user_id"], gone["deleted"]) == (" u9", 1)
    erased = ok(client.delete("/users/%20u9"))
    assert (erased["user_id"], erased["deleted"]) == (" u9", 1)
    assert store.user_ratings(" u9") == []
    # The plain id is another user, untouched.
    assert [r.item_id for r in store.user_ratings("u9")] == ["c"]


def test_a_new_rating_for_a_spaced_stored_user_is_read_back_by_the_same_id(old_rows):
    client, store = old_rows
    ack = ok(client.post("/ratings", json={"user_id": " u9", "item_id": "c", "rating": 1}))
    assert list(ack["users"]) == [" u9"]
    listed = ok(client.get("/users/%20u9/ratings"))
    assert ("c", 1.0) in [(r["item_id"], r["rating"]) for r in listed["ratings"]]


def test_an_item_stored_with_spaces_is_shown_rated_and_removed_by_that_id(old_rows):
    client, store = old_rows
    assert ok(client.get("/items/%20x"))["title"] == "Spaced"
    listed = ok(client.get("/users/u1/ratings"))
    assert " x" in [r["item_id"] for r in listed["ratings"]]
    ok(client.post("/ratings", json={"user_id": "u2", "item_id": " x", "rating": 5}))
    assert " x" in [r.item_id for r in store.user_ratings("u2")]
    gone = ok(client.delete("/users/u1/ratings/%20x"))
    assert (gone["item_id"], gone["deleted"]) == (" x", 1)
    assert " x" not in [r.item_id for r in store.user_ratings("u1")]


def test_an_id_nothing_holds_with_spaces_is_still_read_without_them(old_rows):
    client, store = old_rows
    assert ok(client.get("/users/%20u1/recommendations"))["user_id"] == "u1"
    assert ok(client.delete("/users/%20u9%20/ratings/c"))["user_id"] == "u9"
