"""A ``%`` that begins no ``%XX`` in a URL over real HTTP: a 422 naming it.

Python's ``unquote`` and Starlette keep such a ``%`` as it is, so ``/users/%ZZ/ratings``
and ``/users/%25ZZ/ratings`` (the id ``%ZZ`` as it is sent) were one user, and
``?search=50%`` and ``?search=50%25`` one search: a client that forgot to encode a ``%``
got an answer for text it may not have meant.  RFC 3986 2.1: ``%`` only begins ``%XX``.
"""

from __future__ import annotations

import pytest

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import client_of, refused

TOKEN = "tok-route-edges-percent"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LONE = "has a '%' that begins no %XX (a '%' itself is sent as %25)"


@pytest.fixture
def served(store, explicit_model):
    app = create_app(Settings(token=TOKEN), store=store, source=FixedSource(explicit_model, "v"))
    with client_of(app) as client:
        yield client


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/users/%ZZ/ratings"),
        ("GET", "/users/50%/recommendations"),
        ("GET", "/users/1/explain/100%"),
        ("GET", "/items/a%2"),
        ("DELETE", "/users/%ZZ"),
        ("DELETE", "/users/1/ratings/%"),
    ],
)
def test_a_lone_percent_in_an_id_is_a_422(served, method, path):
    r = served.request(method, path, headers=AUTH)
    refused(r, f"path: {path!r} {LONE}")


def test_the_id_sent_encoded_is_answered(served):
    r = served.get("/users/%25ZZ/ratings")
    assert r.status_code == 200 and r.json()["user_id"] == "%ZZ"
    r = served.get("/items/100%25")
    assert r.status_code == 404 and r.json()["detail"] == "unknown item '100%'"


@pytest.mark.parametrize(
    "path, name, whose",
    [
        ("/items?search=50%", "search", ""),
        ("/items?search=50%2", "search", ""),
        ("/users/1/recommendations?exclude=100%", "exclude", ""),
        ("/items?n%=2", "n%", "its name: "),
    ],
)
def test_a_lone_percent_in_the_query_is_a_422(served, path, name, whose):
    refused(served.get(path), f"query {name}: {whose}{LONE}")


def test_a_query_percent_sent_encoded_is_read(served):
    assert served.get("/items?search=50%25").status_code == 200
