"""``GET /users/{id}/ratings`` says why a stored value has no number.

A rating written into the store by hand as NaN or ±Infinity is left out of its user's
fold-in (and logged); the listing showed it as ``"rating": null`` with no reason, which
read as "not rated yet".  Each such row now carries ``unusable``, naming the value and
that it is left out of recommendations; every other row has ``unusable: null``.
"""

import sqlite3

import pytest

from latentrec.store import Rating


def stored_by_hand(path, user_id, item_id, value) -> None:
    """Write ``value`` over a stored rating in SQL, past the store's checks."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE lr_ratings SET value = ? WHERE user_id = ? AND item_id = ?",
            (value, user_id, item_id),
        )
    conn.close()


@pytest.mark.parametrize(
    ("written", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")]
)
def test_a_value_that_is_not_a_number_is_listed_with_its_reason(
    store, make_client, explicit_model, tmp_path, written, shown
):
    store.add_ratings(
        [
            Rating("ann", "100", 5.0, timestamp=30.0),
            Rating("ann", "101", 3.0, timestamp=20.0),
            Rating("ann", "102", 2.0, timestamp=10.0, kind="event"),
        ]
    )
    stored_by_hand(tmp_path / "ratings.sqlite", "ann", "101", written)
    client = make_client(explicit_model)
    r = client.get("/users/ann/ratings")
    assert r.status_code == 200, r.text
    rows = {row["item_id"]: row for row in r.json()["ratings"]}
    assert set(rows) == {"100", "101", "102"}  # nothing dropped
    bad = rows["101"]
    assert bad["rating"] is None and bad["kind"] == "explicit"
    assert bad["unusable"].startswith(f"the stored value is {shown}, not a finite number")
    assert "left out of this user's recommendations" in bad["unusable"]
    assert (rows["100"]["rating"], rows["100"]["unusable"]) == (5.0, None)
    assert (rows["102"]["rating"], rows["102"]["unusable"]) == (2.0, None)
    # What it says is what the service does: the item is never recommended back, and the
    # list is the one from the other ratings alone.
    listed = client.get("/users/ann/recommendations", params={"n": 30}).json()
    assert "101" not in {x["item_id"] for x in listed["items"]}


def test_an_event_weight_that_is_not_a_number_is_listed_with_its_reason(
    store, make_client, hybrid_model, tmp_path
):
    store.add_ratings([Rating("bo", "100", 2.0, kind="event"), Rating("bo", "103", 1.0)])
    stored_by_hand(tmp_path / "ratings.sqlite", "bo", "100", "NaN")
    rows = make_client(hybrid_model).get("/users/bo/ratings").json()["ratings"]
    bad = [row for row in rows if row["item_id"] == "100"]
    assert len(bad) == 1 and bad[0]["kind"] == "event" and bad[0]["rating"] is None
    assert bad[0]["unusable"].startswith("the stored value is NaN")


def test_the_openapi_document_describes_the_field(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["StoredRating"]
    assert "unusable" in schema["properties"]
    assert "not a finite number" in schema["properties"]["unusable"]["description"]


def test_the_reason_names_the_route_that_deletes_it(
    store, make_client, explicit_model, tmp_path, caplog
):
    """``unusable`` and the log said ``DELETE /users/{user_id}/ratings/{item_id}``, the
    route's template: they now name this user and item, each percent-encoded as one path
    segment, and that request deletes the very rating."""
    import logging

    from latentrec.service.hardening import ERROR_LOGGER

    user, item = "ann/b é", "x/1 ?"
    store.add_ratings([Rating(user, item, 4.0), Rating(user, "100", 5.0)])
    stored_by_hand(tmp_path / "ratings.sqlite", user, item, "NaN")
    client = make_client(explicit_model)
    route = "DELETE /users/ann%2Fb%20%C3%A9/ratings/x%2F1%20%3F"
    with caplog.at_level(logging.WARNING, logger=ERROR_LOGGER):
        rows = client.get("/users/ann%2Fb%20%C3%A9/ratings").json()["ratings"]
        client.get("/users/ann%2Fb%20%C3%A9/recommendations")  # the fold-in logs it
    bad = [row for row in rows if row["item_id"] == item]
    assert len(bad) == 1 and bad[0]["unusable"].endswith(f"({route})"), bad
    logged = [r.getMessage() for r in caplog.records if "not finite" in r.getMessage()]
    assert len(logged) == 1 and f"({route})" in logged[0], logged
    method, path = route.split(" ")
    r = client.request(method, path)
    assert r.status_code == 200 and r.json()["item_id"] == item, r.text
    left = client.get("/users/ann%2Fb%20%C3%A9/ratings").json()["ratings"]
    assert [row["item_id"] for row in left] == ["100"]
