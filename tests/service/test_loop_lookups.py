"""Routes that run on the event loop look items up in one query, not one per item: the
loop, which answers every other request meanwhile, must not be held for a time that
grows with the length of a client's list.  Counted as SQL statements run on the loop's
thread (not timed), through SQLAlchemy's ``before_cursor_execute`` event."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from latentrec.store import Item


def statements_on_loop(client, store, request) -> int:
    """SQL statements ``request(client)`` runs on the app's event-loop thread."""
    loop_thread = client.portal.call(threading.get_ident)
    count = 0

    def counting(conn, cursor, statement, parameters, context, executemany):
        nonlocal count
        if threading.get_ident() == loop_thread:
            count += 1

    sa.event.listen(store.db.engine, "before_cursor_execute", counting)
    try:
        request(client)
    finally:
        sa.event.remove(store.db.engine, "before_cursor_execute", counting)
    return count


def test_posting_ratings_for_store_only_titles_looks_them_up_in_one_query(
    make_client, explicit_model, store
):
    client = make_client(explicit_model)
    # Titles the store's catalogue has and the model (with integer ids) cannot hold.
    store.add_items([Item(f"s{k}", f"Stored {k}") for k in range(60)])

    def post(n):
        def request(c):
            body = {"ratings": [{"user_id": f"u{n}", "item_id": f"s{k}", "rating": 4.0}
                                for k in range(n)]}  # fmt: skip
            r = c.post("/ratings", json=body)
            assert r.status_code == 201 and r.json()["written"] == n, r.text

        return request

    few = statements_on_loop(client, store, post(2))
    many = statements_on_loop(client, store, post(60))
    assert few > 0  # the count sees the loop's statements at all
    assert many == few, (few, many)


def test_an_unknown_item_among_many_is_still_a_404_naming_it(make_client, explicit_model, store):
    client = make_client(explicit_model)
    store.add_items([Item(f"s{k}", f"Stored {k}") for k in range(5)])
    ratings = [{"user_id": "u", "item_id": f"s{k}", "rating": 4.0} for k in range(5)]
    ratings.insert(3, {"user_id": "u", "item_id": "nowhere", "rating": 4.0})
    r = client.post("/ratings", json={"ratings": ratings})
    assert r.status_code == 404 and r.json()["detail"] == "unknown item 'nowhere'"
    assert store.user_ratings("u") == []


def test_a_users_ratings_of_store_only_titles_are_titled_in_one_query(
    make_client, explicit_model, store
):
    """GET /users/{id}/ratings used to read the catalogue once per title the model lacks."""
    client = make_client(explicit_model)
    store.add_items([Item(f"s{k}", f"Stored {k}") for k in range(60)])
    for n in (2, 60):
        body = {"ratings": [{"user_id": f"u{n}", "item_id": f"s{k}", "rating": 4.0}
                            for k in range(n)]}  # fmt: skip
        assert client.post("/ratings", json=body).status_code == 201
    counts, answers = {}, {}
    for n in (2, 60):
        count = 0

        def counting(*args):
            nonlocal count
            count += 1

        sa.event.listen(store.db.engine, "before_cursor_execute", counting)
        try:
            r = client.get(f"/users/u{n}/ratings")
        finally:
            sa.event.remove(store.db.engine, "before_cursor_execute", counting)
        assert r.status_code == 200, r.text
        counts[n], answers[n] = count, r.json()["ratings"]
    assert counts[2] == counts[60], counts
    assert sorted(a["title"] for a in answers[60]) == sorted(f"Stored {k}" for k in range(60))
