"""The edges of the routes over real HTTP: a trailing slash, a fixed word with an
unreserved character percent-encoded, and what the access log says a request's path was.

One rule for a trailing slash, on every route: a path that no route takes but one would
take without its trailing slashes is answered 307 to that path (the query kept, the ids
as the client encoded them).  The id routes are matched on the path as sent, so
Starlette's own redirect missed them: ``GET /users/x/ratings/`` was a 405 (the
``DELETE /users/{user_id}/ratings/{item_id}`` route took it with an empty item) and
``/items/100/`` a 404 for the item ``100/``.
"""

from __future__ import annotations

import json
import logging

import pytest

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import client_of, wait_for

TOKEN = "tok-route-edges"


@pytest.fixture
def served(store, explicit_model):
    settings = Settings(token=TOKEN)
    app = create_app(settings, store=store, source=FixedSource(explicit_model, "v-edges"))
    with client_of(app) as client:
        yield client


@pytest.mark.parametrize(
    "path, target",
    [
        ("/users/1/ratings/", "/users/1/ratings"),
        ("/users/1/recommendations/?n=3", "/users/1/recommendations?n=3"),
        ("/users/1/predictions/?items=100&items=101", "/users/1/predictions?items=100&items=101"),
        ("/users/1/explain/100/", "/users/1/explain/100"),
        ("/items/100/", "/items/100"),
        ("/items/100/similar/", "/items/100/similar"),
        ("/items/100//", "/items/100"),
        ("/items/", "/items"),
        ("/genres/", "/genres"),
        ("/health/", "/health"),
        ("/onboarding/questions/", "/onboarding/questions"),
        ("/docs/", "/docs"),
        # The id as the client encoded it: %2F stays in the id, %3F is no query.
        ("/items/a%2Fsimilar/", "/items/a%2Fsimilar"),
        ("/users/a%3Fb/ratings/", "/users/a%3Fb/ratings"),
    ],
)
def test_a_trailing_slash_is_a_307_to_the_path_without_it(served, path, target):
    r = served.get(path)
    assert r.status_code == 307, (path, r.status_code, r.text)
    assert r.headers["location"] == target
    assert served.get(target).status_code in (200, 404), target  # the route answers


def test_a_get_with_a_trailing_slash_is_answered_once_followed(served):
    r = served.get("/users/1/ratings/", follow_redirects=True)
    assert r.status_code == 200 and r.json()["user_id"] == "1"
    r = served.get("/items/100/", follow_redirects=True)
    assert r.status_code == 200 and r.json()["item_id"] == "100"


def test_writes_with_a_trailing_slash_are_redirected_keeping_method_and_body(served):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rating = {"user_id": "edge-user", "item_id": "100", "rating": 4}
    r = served.post("/ratings/", json=rating, headers=auth)
    assert r.status_code == 307 and r.headers["location"] == "/ratings"
    r = served.post("/ratings/", json=rating, headers=auth, follow_redirects=True)
    assert r.status_code == 201, r.text
    r = served.delete("/users/edge-user/ratings/100/", headers=auth)
    assert r.status_code == 307 and r.headers["location"] == "/users/edge-user/ratings/100"
    # Without the token the gate answers first, whatever the path's end.
    assert served.post("/items/", json={"item_id": "new"}).status_code == 401


def test_a_trailing_slash_on_a_path_no_route_takes_is_a_404(served):
    for path in ("/no/such/", "/users/", "/genres/x/"):
        r = served.get(path)
        assert r.status_code == 404, (path, r.status_code)


def test_a_redirect_never_leaves_the_service(served):
    # "//host" in a Location is another site (a protocol-relative URL).
    origin = str(served.base_url).rstrip("/")
    for path in ("//evil.example/", "//evil.example/items/1/", "//health/"):
        r = served.get(origin + path)  # as sent: a client would take "//x" for a host
        assert r.status_code == 404, (path, r.status_code, r.headers.get("location"))


@pytest.mark.parametrize(
    "path",
    [
        "/user%73/1/ratings",
        "/%75sers/1/ratings",
        "/users/1/rating%73",
        "/it%65ms/100",
        "/items/100/simil%61r",
        "/users/1/expl%61in/100",
        "/heal%74h",
        "/items/100%2Dx%5Fy",  # unreserved in an id: "-" and "_"
    ],
)
def test_an_encoded_unreserved_character_is_the_character(served, path):
    """RFC 3986 6.2.2.2: %73 and "s" are the same URI; the routes' words match both."""
    r = served.get(path)
    if path.startswith("/items/100%2D"):
        assert r.status_code == 404 and r.json()["detail"] == "unknown item '100-x_y'"
    else:
        assert r.status_code == 200, (path, r.status_code, r.text)


def test_an_encoded_slash_stays_in_the_id(served):
    r = served.get("/items/100%2Fsimilar")
    assert r.status_code == 404 and r.json()["detail"] == "unknown item '100/similar'"
    r = served.get("/users/1%2Frecommendations/ratings")
    assert r.status_code == 200 and r.json()["user_id"] == "1/recommendations"
    # %2F is reserved: not the separator, so no route's words are made of it.
    assert served.get("/items%2F100").status_code == 404


def test_the_access_log_keeps_the_path_as_sent(served, caplog):
    def paths():
        records = [r for r in caplog.records if r.name == "latentrec.access"]
        return [json.loads(r.getMessage())["path"] for r in records]

    with caplog.at_level(logging.INFO, logger="latentrec.access"):
        served.get("/items/x%2Fsimilar")
        served.get("/items/x/similar")
        # The line is written once the answer has gone out: wait for the second.
        wait_for(lambda: len(paths()) >= 2, 10, "the access log lines")
    assert paths()[-2:] == ["/items/x%2Fsimilar", "/items/x/similar"]
