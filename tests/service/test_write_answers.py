"""The write routes answer what they did and keep what they were not given: an edit of
a title's details keeps the fields left out, a renamed title reaches every answer (this
worker at once, another at its next look at the catalogue, a restart too), a rating off
the range of a scale-less model's training ratings is refused as onboarding refuses it,
a rating older than the stored one is "superseded", not "written", a delete counts its
rows, a read-only database is a 503, and the limits on ``n`` are the schema's."""

import time

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import BiasedMF
from latentrec.store import Rating, open_store

from .conftest import client_maker

FULL = {
    "item_id": "100",
    "title": "Fargo",
    "genres": ["Crime", "Drama", "Thriller"],
    "features": {"year": 1996.0},
}


def test_an_edit_of_the_title_keeps_the_genres_and_features(client, store):
    assert client.post("/items", json=FULL).status_code == 201
    r = client.post("/items", json={"item_id": "100", "title": "Fargo (1996)"})
    assert r.status_code == 201, r.text
    item = client.get("/items/100").json()
    assert (item["title"], item["genres"], item["features"]) == (
        "Fargo (1996)",
        ["Crime", "Drama", "Thriller"],
        {"year": 1996.0},
    )
    assert r.json()["item"]["genres"] == ["Crime", "Drama", "Thriller"]
    # Genres alone: the title stays.
    client.post("/items", json={"item_id": "100", "genres": ["Crime"]})
    item = client.get("/items/100").json()
    assert (item["title"], item["genres"], item["features"]) == (
        "Fargo (1996)",
        ["Crime"],
        {"year": 1996.0},
    )
    # Given, even empty or null, a field is replaced.
    client.post("/items", json={"item_id": "100", "genres": [], "features": None})
    item = client.get("/items/100").json()
    assert (item["title"], item["genres"], item["features"]) == ("Fargo (1996)", [], None)
    assert store.search_items(genre="Crime") == []


def answered_titles(client) -> dict:
    """Item 100's title as each answer that names titles gives it."""
    out = {}
    body = client.get("/users/3/predictions", params={"items": ["100"]}).json()
    out["predictions"] = body["predictions"][0]["title"]
    out["explain"] = client.get("/users/3/explain/100").json()["item_title"]
    out["similar"] = client.get("/items/100/similar", params={"n": 1}).json()["title"]
    near = client.get("/items/101/similar", params={"n": 100}).json()["items"]
    out["similar list"] = next(x["title"] for x in near if x["item_id"] == "100")
    rated = client.get("/users/rater/ratings").json()["ratings"]
    out["ratings"] = next(x["title"] for x in rated if x["item_id"] == "100")
    asked = client.get("/onboarding/questions", params={"n": 100}).json()["questions"]
    out["questions"] = next(x["title"] for x in asked if x["item_id"] == "100")
    return out


def test_a_renamed_title_reaches_every_answer_of_every_worker(store, explicit_model):
    with client_maker(store) as make:
        here = make(explicit_model)
        assert here.post("/ratings", json={"user_id": "rater", "item_id": "100", "rating": 4})
        assert set(answered_titles(here).values()) == {"Film 0"}
        # Another worker over the same database, with its own store and refresher.
        with open_store(store.url.replace("sqlite:///", "", 1)) as other_store:
            with client_maker(other_store) as make_other:
                there = make_other(explicit_model, poll_seconds=0.02)
                assert set(answered_titles(there).values()) == {"Film 0"}
                r = here.post("/items", json={"item_id": "100", "title": "Fargo (1996)"})
                assert r.status_code == 201, r.text
                # Through this worker: at once.
                assert set(answered_titles(here).values()) == {"Fargo (1996)"}
                # Through the other: once its refresher looked at the catalogue.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if set(answered_titles(there).values()) == {"Fargo (1996)"}:
                        break
                    time.sleep(0.05)
                assert set(answered_titles(there).values()) == {"Fargo (1996)"}
        # A worker started afterwards (a restart) answers the catalogue's name too.
        restarted = make(explicit_model, version="v-restarted")
        assert set(answered_titles(restarted).values()) == {"Fargo (1996)"}


def test_ratings_off_a_scale_less_models_training_range_are_refused(make_client, store):
    rng = np.random.default_rng(0)
    stars = rng.integers(1, 6, size=(12, 8)).astype(float)
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_dense(stars))
    assert model.rating_scale_ is None
    client = make_client(model)
    detail = (
        "rating 500 for item '3' lies outside 1-5, the range of the served model's training ratings"
    )
    r = client.post("/ratings", json={"user_id": "x", "item_id": "3", "rating": 500})
    assert (r.status_code, r.json()["detail"]) == (422, detail)
    batch = [
        {"user_id": "x", "item_id": "2", "rating": 4},
        {"user_id": "x", "item_id": "3", "rating": 500},
    ]
    r = client.post("/ratings", json={"ratings": batch})
    assert (r.status_code, r.json()["detail"]) == (422, detail)
    # Onboarding says the same.
    r = client.post("/users/x/onboarding", json={"answers": [{"item_id": "3", "rating": 500}]})
    assert (r.status_code, r.json()["detail"]) == (422, detail)
    assert store.counts()["ratings"] == 0
    ok = client.post("/ratings", json={"user_id": "x", "item_id": "3", "rating": 4.5})
    assert ok.status_code == 201
    # Events are weights, not ratings: any positive one goes.
    event = {"user_id": "x", "item_id": "3", "rating": 500, "kind": "event"}
    assert client.post("/ratings", json=event).status_code == 201


def test_a_rating_older_than_the_stored_one_is_superseded(client, store):
    r = client.post(
        "/ratings", json={"user_id": "old1", "item_id": "100", "rating": 5, "timestamp": 2000}
    )
    assert (r.status_code, r.json()["written"], r.json()["superseded"]) == (201, 1, 0)
    r = client.post(
        "/ratings", json={"user_id": "old1", "item_id": "100", "rating": 1, "timestamp": 1000}
    )
    assert (r.status_code, r.json()["written"], r.json()["superseded"]) == (201, 0, 1)
    assert [x.value for x in store.user_ratings("old1")] == [5.0]
    batch = [
        {"user_id": "old1", "item_id": "100", "rating": 2, "timestamp": 3000},
        {"user_id": "old1", "item_id": "101", "rating": 2, "timestamp": 1000},
        {"user_id": "old1", "item_id": "100", "rating": 3, "timestamp": 2500},
    ]
    body = client.post("/ratings", json={"ratings": batch}).json()
    assert (body["written"], body["superseded"]) == (2, 1)
    assert sorted((x.item_id, x.value) for x in store.user_ratings("old1")) == [
        ("100", 2.0),
        ("101", 2.0),
    ]


def test_deleting_a_rating_counts_its_rating_and_its_events(client, store):
    store.add_ratings([Rating("bt1", "100", 4.0), Rating("bt1", "100", 2.0, kind="event")])
    r = client.delete("/users/bt1/ratings/100")
    assert (r.status_code, r.json()["deleted"]) == (200, 2)
    assert store.user_ratings("bt1") == []


def test_n_has_one_limit_in_the_schema_and_the_server(client):
    assert len(client.get("/items", params={"n": 100}).json()["items"]) == 30
    r = client.get("/items", params={"n": 101})
    assert r.status_code == 422 and "100" in r.json()["detail"]
    schema = client.get("/openapi.json").json()
    params = schema["paths"]["/items"]["get"]["parameters"]
    assert next(p for p in params if p["name"] == "n")["schema"]["maximum"] == 100
    body = schema["components"]["schemas"]["OnboardingIn"]["properties"]["n"]
    assert body["maximum"] == 100
    answers = [{"item_id": "100", "rating": 4}]
    r = client.post("/users/x/onboarding", json={"answers": answers, "n": 101})
    assert r.status_code == 422 and "100" in r.json()["detail"]
    ok = client.post("/users/x/onboarding", json={"answers": answers, "n": 100})
    assert ok.status_code == 200


def test_a_read_only_sqlite_store_answers_503(client, store):
    import sqlalchemy as sa

    @sa.event.listens_for(store.db.engine, "connect")
    def query_only(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA query_only = 1")

    store.db.engine.dispose()
    r = client.post("/ratings", json={"user_id": "ann", "item_id": "100", "rating": 4})
    assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
    assert client.post("/items", json=FULL).status_code == 503
    assert client.get("/users/3/recommendations").status_code == 200


@pytest.mark.postgres
def test_a_read_only_postgresql_answers_503(pg_url, explicit_model):
    import psycopg

    open_store(pg_url).close()
    name = pg_url.rsplit("/", 1)[1]
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with open_store(pg_url) as store, client_maker(store) as make:
        client = make(explicit_model)
        r = client.post("/ratings", json={"user_id": "ann", "item_id": "100", "rating": 4})
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        assert client.delete("/users/ann").status_code == 503
        assert client.post("/items", json=FULL).status_code == 503
        assert client.get("/users/3/recommendations").status_code == 200
