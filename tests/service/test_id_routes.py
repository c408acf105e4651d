"""Every id-taking route answers for the id the client meant, whatever characters it holds.

An id goes into a path as one percent-encoded segment (``quote(id, safe="")``, what HTTP
client libraries do for a path parameter).  Starlette routes on the decoded path, so with
``{user_id:path}`` routes a user ``a/explain/b`` was answered as an explanation, a user
ending in ``/ratings`` by another route, and ``%2F`` did not help.  These tests go through
real HTTP (uvicorn on a loopback port, in a thread), the server decoding the path itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from latentrec import Interactions
from latentrec.models import BiasedMF
from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import open_store

from .conftest import planted
from .serving import served_in_thread

# Each is a user id and an item id of the model (so every route can be asked about it).
AWKWARD = [
    "a/b",
    "a/explain/b",
    "x/recommendations",
    "x/predictions",
    "x/ratings",
    "x/onboarding",
    "x/similar",
    "x/ratings/y",
    "explain",
    "ratings",
    "similar",
    "/leading",
    "trailing/",
    "a//b",
    "50%",
    "%2F",
    "100% off",
    "two words",
    "what?",
    "a#b",
    "a?b#c&d=e",
    "名前/🎬",
    "back\\slash",
    ".",
    "..",
    "plain",
]

WAIT_S = 30.0


def path_id(raw: str) -> str:
    # quote leaves dots as they are, and a client drops a "." or ".." segment from a
    # path (RFC 3986's dot segments): those two ids are sent encoded.
    return {".": "%2E", "..": "%2E%2E"}.get(raw) or quote(raw, safe="")


def awkward_model():
    """A small BiasedMF whose first users and items are the AWKWARD ids."""
    frame, _ = planted()
    users = {u: (AWKWARD[u] if u < len(AWKWARD) else f"u{u}") for u in frame.user_id.unique()}
    items = {
        i: (AWKWARD[i - 100] if i - 100 < len(AWKWARD) else f"i{i}") for i in frame.item_id.unique()
    }
    frame = frame.assign(user_id=frame.user_id.map(users), item_id=frame.item_id.map(items))
    data = Interactions.from_frame(frame, rating_scale=(1, 5))
    return BiasedMF(n_factors=3, n_epochs=10, random_state=0).fit(data)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    model = awkward_model()
    with open_store(tmp_path_factory.mktemp("ids") / "ratings.sqlite") as store:
        app = create_app(Settings(access_log=False), store=store, source=FixedSource(model, "v"))
        with served_in_thread(app, WAIT_S) as (address, _):
            yield address


@pytest.fixture
def http(url):
    with httpx.Client(base_url=url, timeout=WAIT_S) as client:
        yield client


def ok(response) -> dict:
    assert response.status_code in (200, 201), (response.request.url, response.text)
    return response.json()


@pytest.mark.parametrize("the_id", AWKWARD)
def test_every_route_answers_for_the_encoded_id(http, the_id):
    u = i = path_id(the_id)
    rated = {"user_id": the_id, "item_id": the_id, "rating": 4}
    assert ok(http.post("/ratings", json=rated))["users"].keys() == {the_id}

    body = ok(http.get(f"/users/{u}/recommendations"))
    assert body["user_id"] == the_id and body["fallback"] is False
    assert the_id not in [x["item_id"] for x in body["items"]]  # rated: never listed
    body = ok(http.get(f"/users/{u}/predictions", params={"items": the_id}))
    assert body["user_id"] == the_id
    assert [x["item_id"] for x in body["predictions"]] == [the_id]
    body = ok(http.get(f"/users/{u}/explain/{i}"))
    assert (body["user_id"], body["item_id"]) == (the_id, the_id)
    body = ok(http.get(f"/users/{u}/ratings"))
    assert body["user_id"] == the_id
    assert [(x["item_id"], x["rating"]) for x in body["ratings"]] == [(the_id, 4.0)]
    body = ok(http.get(f"/items/{i}"))
    assert body["item_id"] == the_id and body["in_model"] is True
    body = ok(http.get(f"/items/{i}/similar", params={"n": 3}))
    assert body["item_id"] == the_id and len(body["items"]) == 3

    body = ok(http.delete(f"/users/{u}/ratings/{i}"))
    assert (body["user_id"], body["item_id"], body["deleted"]) == (the_id, the_id, 1)
    assert ok(http.get(f"/users/{u}/ratings"))["ratings"] == []
    answers = {"answers": [{"item_id": the_id, "rating": 5}], "n": 3}
    body = ok(http.post(f"/users/{u}/onboarding", json=answers))
    assert body["user_id"] == the_id and body["fallback"] is False
    body = ok(http.delete(f"/users/{u}"))
    assert (body["user_id"], body["deleted"]) == (the_id, 1)
    assert ok(http.get(f"/users/{u}/ratings"))["ratings"] == []


@pytest.mark.parametrize(
    "path, detail",
    [
        ("/items/no%2Fsuch%25", "unknown item 'no/such%'"),
        ("/items/x%2Fsimilar%2Fz/similar", "unknown item 'x/similar/z'"),
        ("/users/plain/explain/no%2Fsuch", "unknown item 'no/such'"),
        ("/users/a%2Fb/predictions?items=no%2Fsuch", "unknown item 'no/such' in items"),
        ("/users/a%2Fb/ratings/no%2Fsuch", "user 'a/b' has no stored rating for item 'no/such'"),
    ],
)
def test_an_unknown_id_is_named_decoded(http, path, detail):
    method = "DELETE" if "/ratings/" in path else "GET"
    r = http.request(method, path)
    assert r.status_code == 404 and r.json() == {"detail": detail}


def test_ids_with_literal_slashes_still_reach_the_route_they_did(http):
    """Clients sent ``/users/a/b/ratings`` when the routes took ``{user_id:path}``: where
    the path ends in a route's own words it still means user ``a/b``."""
    rated = {"user_id": "a/b", "item_id": "x/similar", "rating": 3}
    ok(http.post("/ratings", json=rated))
    try:
        assert ok(http.get("/users/a/b/ratings"))["user_id"] == "a/b"
        assert ok(http.get("/users/a/b/recommendations"))["user_id"] == "a/b"
        body = ok(http.get("/users/a/b/explain/x%2Fsimilar"))
        assert (body["user_id"], body["item_id"]) == ("a/b", "x/similar")
        assert ok(http.get("/items/a/b"))["item_id"] == "a/b"
        assert ok(http.get("/items/a/b/similar"))["item_id"] == "a/b"
        # Encoded, the same id is one segment whatever words it holds.
        assert ok(http.get("/items/x%2Fsimilar"))["item_id"] == "x/similar"
    finally:
        ok(http.delete("/users/a%2Fb"))


@pytest.mark.parametrize(
    "path",
    [
        "/users//ratings",
        "/users/a%00b/ratings",
        "/items/%00",
        "/users/x/explain/" + "y" * 300,
        # not UTF-8: each was read as the id "\ufffd" (the replacement character)
        "/users/%FF/ratings",
        "/items/caf%E9",
        "/users/x/explain/%C3",
    ],
)
def test_an_unusable_id_is_a_one_line_422(http, path):
    r = http.get(path)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "\n" not in detail and detail.startswith(("user_id ", "item_id ")), detail


def test_an_id_not_in_utf8_stores_nothing(http):
    """``%FF`` decoded to U+FFFD: the ratings were stored under another user's id."""
    answers = {"answers": [{"item_id": "plain", "rating": 5}], "n": 3}
    r = http.post("/users/%FF/onboarding", json=answers)
    assert r.status_code == 422 and r.json()["detail"] == "user_id is not valid unicode"
    assert ok(http.get(f"/users/{quote(chr(0xFFFD))}/ratings"))["ratings"] == []


def test_the_openapi_document_shows_ids_as_one_segment(url):
    doc = httpx.get(url + "/openapi.json").json()
    with_ids = {
        (method.upper(), path)
        for path, methods in doc["paths"].items()
        for method in methods
        if "{" in path
    }
    # each once: the twins that take literal slashes are not documented
    assert with_ids == {
        ("GET", "/users/{user_id}/recommendations"),
        ("GET", "/users/{user_id}/predictions"),
        ("GET", "/users/{user_id}/explain/{item_id}"),
        ("GET", "/users/{user_id}/ratings"),
        ("DELETE", "/users/{user_id}/ratings/{item_id}"),
        ("DELETE", "/users/{user_id}"),
        ("POST", "/users/{user_id}/onboarding"),
        ("GET", "/items/{item_id}"),
        ("GET", "/items/{item_id}/similar"),
    }
    for path, methods in doc["paths"].items():
        for op in methods.values():
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    assert "percent-encoded as one path segment" in param["description"], path


def test_the_page_puts_ids_into_urls_encoded():
    """The web page builds its API paths with ``seg`` (encodeURIComponent) for every id."""
    script = Path(__file__).parents[2] / "src/latentrec/service/static/app.js"
    text = script.read_text(encoding="utf-8")
    assert re.search(r"function seg\(id\) \{\s*return encodeURIComponent\(String\(id\)\);", text)
    interpolated = re.findall(r"(?:users|items)/\$\{([^}]*)\}", text)
    assert interpolated and all(x.startswith("seg(") for x in interpolated), interpolated
