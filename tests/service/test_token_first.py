"""Without the token, a write is refused (401) before its body or query is looked at.

The routes checked the token in a dependency, which FastAPI solves after reading,
parsing and validating the request: a client without the token got 413 for a large
body, and 422s listing a route's query parameters and body fields (the schema), for
free.  The token is now checked first, by middleware, on every POST and DELETE.
"""

from __future__ import annotations

import json

import pytest
from fastapi.routing import APIRoute

TOKEN = "s3cret-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# What each write route is sent without the token: a body and query a check would refuse.
REFUSED = [
    ("POST", "/ratings?foo=1", {"user_id": "1"}),
    ("POST", "/ratings", {"user_id": "1", "item_id": "100", "rating": True}),
    ("POST", "/items", {"item_id": "1", "bogus": 2}),
    ("POST", "/users/1/onboarding", {"answers": "none"}),
    ("POST", "/admin/reload?force=maybe", None),
    ("DELETE", "/users/1/ratings/100?x=1", None),
    ("DELETE", "/users/1?x=1", None),
]


@pytest.fixture
def guarded(make_client, explicit_model):
    return make_client(explicit_model, token=TOKEN, max_body_bytes=1000)


@pytest.mark.parametrize("method, path, body", REFUSED)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic abc"])
def test_no_token_is_401_before_the_request_is_checked(guarded, method, path, body, auth):
    headers = {} if auth is None else {"Authorization": auth}
    r = guarded.request(method, path, json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json() == {
        "detail": "this route needs the service's bearer token (Authorization: Bearer ...)"
    }
    assert r.headers["www-authenticate"] == "Bearer"
    assert "errors" not in r.json()  # nothing about the fields


def test_no_token_is_401_for_a_body_over_the_limit_and_a_duplicate_key(guarded):
    big = json.dumps({"ratings": [{"user_id": "1", "item_id": "100", "rating": 4}] * 100})
    r = guarded.post("/ratings", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 401, r.text
    dup = '{"user_id": "1", "item_id": "100", "rating": 4, "rating": 5}'
    r = guarded.post("/ratings", content=dup, headers={"content-type": "application/json"})
    assert r.status_code == 401, r.text


def test_with_the_token_the_checks_still_answer(guarded):
    big = json.dumps({"ratings": [{"user_id": "1", "item_id": "100", "rating": 4}] * 100})
    r = guarded.post("/ratings", content=big, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413, r.text
    r = guarded.post("/ratings?foo=1", json={"user_id": "1"}, headers=AUTH)
    assert r.status_code == 422, r.text
    r = guarded.post("/ratings", json={"user_id": "1", "item_id": "100", "rating": 4}, headers=AUTH)
    assert r.status_code == 201, r.text


def test_reads_need_no_token(guarded):
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/users/1/recommendations").status_code == 200


def test_without_a_configured_token_writes_pass(client):
    r = client.post("/ratings", json={"user_id": "1", "item_id": "100", "rating": 4})
    assert r.status_code == 201, r.text


def test_the_routes_that_need_the_token_are_the_posts_and_deletes(guarded):
    """The middleware guards by method: that is right only while every POST and DELETE
    route needs the token (its dependency) and no other route does."""
    routes = [r for r in guarded.app.routes if isinstance(r, APIRoute)]
    assert routes
    for route in routes:
        guarded_by_token = any(
            d.call.__name__ == "authorised" for d in route.dependant.dependencies
        )
        writes = bool(route.methods & {"POST", "DELETE", "PUT", "PATCH"})
        assert guarded_by_token == writes, (route.path, route.methods)
