"""Text that no database can store, in fields other than ids, on SQLite and PostgreSQL.

Ids, a new title's ``title``, its ``genres`` and its feature names are checked before
they reach the database: a lone surrogate or a NUL character is a 422 naming the field,
and so is text over its length limit (a title, a genre, a feature name, and how many
genres and features), while text at the limit is stored whole.
"""

import json

import pytest
from store.pgserver import ENGINES

from latentrec.service.schemas import (
    MAX_FEATURE_NAME_CHARS,
    MAX_FEATURES,
    MAX_GENRE_CHARS,
    MAX_GENRES,
    MAX_TITLE_CHARS,
)


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


@pytest.mark.parametrize(
    "field, value", [("title", "Bad \ud800 title"), ("genres", ["Drama", "\ud800"])]
)
def test_a_lone_surrogate_in_a_title_or_genre_is_422_naming_the_field(any_client, field, value):
    body = {"item_id": "900", "title": "T", field: value}
    r = post_json(any_client, "/items", body)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]
    assert any_client.get("/items/900").status_code == 404


@pytest.mark.parametrize("field, value", [("title", "Bad \x00 title"), ("genres", ["\x00"])])
def test_a_nul_in_a_title_or_genre_is_422_naming_the_field(any_client, field, value):
    r = post_json(any_client, "/items", {"item_id": "901", "title": "T", field: value})
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and "NUL" in r.json()["detail"]
    assert any_client.get("/items/901").status_code == 404


def test_a_new_title_without_a_title_is_stored(any_client):
    # title is optional in the request: only a given title is checked for bad text.
    r = post_json(any_client, "/items", {"item_id": "902", "genres": ["Drama"]})
    assert r.status_code == 201, r.text
    assert any_client.get("/items/902").json()["title"] is None


@pytest.mark.parametrize("name", ["\ud800", "year\udfff"])
def test_a_lone_surrogate_in_a_feature_name_is_422_naming_the_field(any_client, name):
    r = post_json(any_client, "/items", {"item_id": "903", "features": {name: 1.0}})
    assert r.status_code == 422, r.text
    assert "features" in r.json()["detail"]
    assert any_client.get("/items/903").status_code == 404


# (field, the value of size k, the limit, where the 422 says the fault is, how it says it)
LIMITS = {
    "title": ("title", lambda k: "t" * k, MAX_TITLE_CHARS, "title:", "at most 500 characters"),
    "genre count": (
        "genres",
        lambda k: [f"genre {j}" for j in range(k)],
        MAX_GENRES,
        "genres:",
        "at most 50 items",
    ),
    "genre name": (
        "genres",
        lambda k: ["Drama", "g" * k],
        MAX_GENRE_CHARS,
        "genres[1]:",
        "at most 100 characters",
    ),
    "feature count": (
        "features",
        lambda k: {f"f{j}": float(j) for j in range(k)},
        MAX_FEATURES,
        "features:",
        "at most 100 items",
    ),
    "feature name": (
        "features",
        lambda k: {"f" * k: 1.0},
        MAX_FEATURE_NAME_CHARS,
        "features.",
        "at most 100 characters",
    ),
}


@pytest.mark.parametrize("case", list(LIMITS))
def test_item_text_at_its_limit_is_stored_and_one_over_is_422(any_client, case):
    field, make, limit, where, says = LIMITS[case]
    at = make(limit)
    r = post_json(any_client, "/items", {"item_id": "900", "title": "T", field: at})
    assert r.status_code == 201, r.text
    assert any_client.get("/items/900").json()[field] == at
    r = post_json(any_client, "/items", {"item_id": "901", "title": "T", field: make(limit + 1)})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith(where) and says in detail, detail
    assert any_client.get("/items/901").status_code == 404
    # An entry already stored is not changed by a refused update either.
    r = post_json(any_client, "/items", {"item_id": "900", "title": "T", field: make(limit + 1)})
    assert r.status_code == 422 and any_client.get("/items/900").json()[field] == at
