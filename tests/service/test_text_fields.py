"""Text that no database can store, in fields other than ids, on SQLite and PostgreSQL.

Ids are checked (``item_id is not valid unicode``: 422); a new title's ``title`` and
``genres`` are not yet, and reach the database.
"""

import json

import pytest

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def any_client(request, explicit_model):
    maker = "make_client" if request.param == "sqlite" else "make_pg_client"
    return request.getfixturevalue(maker)(explicit_model)


def post_json(client, path, body):
    """Post ``body`` as JSON text: ``\\ud800`` stays a lone surrogate escape, which a
    client may send and JSON allows, though it is not valid unicode."""
    return client.post(
        path, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def test_a_lone_surrogate_in_an_id_is_422(any_client):
    r = post_json(any_client, "/items", {"item_id": "9\ud800", "title": "T"})
    assert r.status_code == 422 and "item_id is not valid unicode" in r.json()["detail"]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="bug (service/app.py, hardening.py or schemas.py): POST /items checks item_id "
    "for invalid unicode but not title or genres; a lone surrogate reaches the database "
    "and the answer is 500 'internal error', not 422 naming the field",
)
@pytest.mark.parametrize(
    "field, value", [("title", "Bad \ud800 title"), ("genres", ["Drama", "\ud800"])]
)
def test_a_lone_surrogate_in_a_title_or_genre_is_422_naming_the_field(any_client, field, value):
    body = {"item_id": "900", "title": "T", field: value}
    r = post_json(any_client, "/items", body)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]
    assert any_client.get("/items/900").status_code == 404
