"""Paths and methods over real HTTP: which answers are 404, which 405, what ``Allow``
says, and HEAD.

``GET /users/1/nothing`` was a 405: the literal-slash twin of ``DELETE
/users/{user_id}`` took the path as the user ``1/nothing`` and Starlette answered for
the method.  A twin now answers only its own method, so a path no route takes is a 404
naming it.  A 405's ``Allow`` listed the methods of the first route tried (``PUT
/items``: ``GET``, where ``POST /items`` exists too); it now lists every method the path
is answered with (RFC 9110 15.5.6), checked here against the OpenAPI document.  HEAD was
a 405 on every route but ``/openapi.json`` and ``/static``; it is now answered on every
GET route, as GET without the body.
"""

from __future__ import annotations

import pytest

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import client_of

TOKEN = "tok-route-edges-methods"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# What each path parameter is filled with: a user and an item the model knows.
FILL = {"{user_id}": "1", "{item_id}": "100"}
# The pages and files outside the OpenAPI document that GET answers.
PAGES = ["/", "/docs", "/redoc", "/openapi.json"]


@pytest.fixture
def served(store, explicit_model):
    app = create_app(Settings(token=TOKEN), store=store, source=FixedSource(explicit_model, "v"))
    with client_of(app) as client:
        yield client, app


def filled(template: str) -> str:
    for name, value in FILL.items():
        template = template.replace(name, value)
    return template


def documented(app) -> dict[str, set[str]]:
    """Each path of the OpenAPI document, filled, and the methods it documents."""
    out: dict[str, set[str]] = {}
    for template, operations in app.openapi()["paths"].items():
        out.setdefault(filled(template), set()).update(m.upper() for m in operations)
    return out


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/users/1/nothing"),
        ("GET", "/users/a/b"),
        ("HEAD", "/users/1/nothing"),
        ("PUT", "/users/1/x"),
        ("POST", "/users/1/onboarding/x"),
        ("OPTIONS", "/users/1/nothing"),
        ("GET", "/nothing"),
    ],
)
def test_a_path_no_route_takes_is_a_404_naming_it(served, method, path):
    client, _ = served
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert "allow" not in r.headers
    if method != "HEAD":
        assert r.json() == {"detail": f"no route takes the path {path!r}"}


def test_a_literal_slash_id_still_reaches_its_own_method(served):
    client, _ = served
    r = client.delete("/users/a/b", headers=AUTH)
    assert r.status_code == 200 and r.json()["user_id"] == "a/b"
    r = client.get("/users/a/b/ratings")
    assert r.status_code == 200 and r.json()["user_id"] == "a/b"


def test_every_405_lists_every_method_its_path_takes(served):
    client, app = served
    paths = documented(app)
    assert len(paths) >= 14, sorted(paths)
    for path, methods in paths.items():
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        # No route takes PATCH: each path answers it 405, with all its methods.
        r = client.patch(path, headers=AUTH)
        assert r.status_code == 405, (path, r.status_code, r.text)
        assert set(r.headers["allow"].split(", ")) == allowed, (path, r.headers["allow"])
        assert r.json()["detail"].startswith(f"PATCH is not allowed on {path!r}; it takes ")
        for method in allowed:
            # A method Allow names is not refused as a method (it may be 404, 422...).
            assert client.request(method, path, headers=AUTH).status_code != 405, (
                method,
                path,
            )


@pytest.mark.parametrize(
    "method, path, allow",
    [
        # Starlette's Allow named the first route it tried: GET alone.
        ("PUT", "/items", "GET, HEAD, POST"),
        ("DELETE", "/items", "GET, HEAD, POST"),
        ("OPTIONS", "/items", "GET, HEAD, POST"),
        ("POST", "/users/1/recommendations", "GET, HEAD"),
        ("GET", "/users/1", "DELETE"),
        ("PUT", "/users/1", "DELETE"),
        # The DELETE route's item is "extra": the path names a rating.
        ("GET", "/users/1/ratings/extra", "DELETE"),
        ("GET", "/ratings", "POST"),
        ("GET", "/admin/reload", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("POST", "/docs", "GET, HEAD"),
    ],
)
def test_a_405_names_the_method_and_what_the_path_takes(served, method, path, allow):
    client, _ = served
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == 405, (method, path, r.status_code, r.text)
    assert r.headers["allow"] == allow
    assert r.json() == {"detail": f"{method} is not allowed on {path!r}; it takes {allow}"}


def test_head_answers_every_get_route_as_get_without_the_body(served):
    client, app = served
    paths = [p for p, methods in documented(app).items() if "GET" in methods] + PAGES
    assert len(paths) >= 14, paths
    for path in paths:
        query = "?items=100" if path.endswith("/predictions") else ""
        got = client.get(path + query)
        head = client.head(path + query)
        assert head.status_code == got.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
    # The connection is still in step: no body bytes were left on it.
    assert client.get("/health").json()["status"] == "ok"


def test_head_keeps_get_s_errors(served):
    client, _ = served
    assert client.head("/items/no-such-item").status_code == 404
    assert client.head("/users/1/recommendations?n=0").status_code == 422
    r = client.head("/ratings")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "method, path, status, detail, allow",
    [
        # Starlette's own answers were the bare phrase ("Method Not Allowed", "Not
        # Found"), and /openapi.json's Allow read "HEAD, GET".
        (
            "POST",
            "/openapi.json",
            405,
            "POST is not allowed on '/openapi.json'; it takes GET, HEAD",
            "GET, HEAD",
        ),
        (
            "POST",
            "/static/app.js",
            405,
            "POST is not allowed on '/static/app.js'; it takes GET, HEAD",
            "GET, HEAD",
        ),
        ("GET", "/static/nope.js", 404, "nothing at the path '/static/nope.js'", None),
    ],
)
def test_the_openapi_document_and_static_files_answer_as_the_routes_do(
    served, method, path, status, detail, allow
):
    client, _ = served
    r = client.request(method, path, headers=AUTH)
    assert r.status_code == status, r.text
    assert r.json() == {"detail": detail}
    assert r.headers.get("allow") == allow
