"""Bodies and query values over real HTTP, as a client developer gets them wrong: each
is a 422 saying what is wrong, and nothing sent is dropped or read as something else.

Before: a body that is not UTF-8 was a 400 "There was an error parsing the body"; a JSON
body without a JSON ``Content-Type`` (or with ``text/plain``) a 422 "Input should be a
valid dictionary", naming neither the header nor what to send; bad JSON named only an
offset, as a list position (``[43]: JSON decode error``); a body sent to a route taking
none was dropped (``POST /admin/reload`` with ``{"force": true}`` did not force).
"""

from __future__ import annotations

import pytest

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import Rating

from .serving import client_of, refused

TOKEN = "tok-route-edges-bodies"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Content-Type": "application/json"}
RATING = b'{"user_id": "u", "item_id": "100", "rating": 4}'


@pytest.fixture
def served(store, explicit_model):
    app = create_app(Settings(token=TOKEN), store=store, source=FixedSource(explicit_model, "v"))
    with client_of(app) as client:
        yield client


@pytest.mark.parametrize(
    "headers, detail",
    [
        (
            AUTH,
            "body: must be JSON sent with Content-Type: application/json (the request has none)",
        ),
        (
            {**AUTH, "Content-Type": "text/plain"},
            "body: must be JSON sent with Content-Type: application/json "
            "(the request's is 'text/plain')",
        ),
        (
            {**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
            "body: must be JSON sent with Content-Type: application/json "
            "(the request's is 'application/x-www-form-urlencoded')",
        ),
    ],
)
def test_json_without_a_json_content_type_is_a_422_naming_the_header(
    served, store, headers, detail
):
    refused(served.post("/ratings", content=RATING, headers=headers), detail)
    assert store.counts()["ratings"] == 0
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = served.post("/ratings", content=RATING, headers={**AUTH, "Content-Type": content_type})
        assert r.status_code == 201, (content_type, r.text)


@pytest.mark.parametrize("path", ["/ratings", "/items", "/users/1/onboarding"])
@pytest.mark.parametrize("headers", [AUTH, JSON])
def test_an_empty_body_is_a_422_saying_none_was_sent(served, path, headers):
    refused(
        served.post(path, content=b"", headers=headers),
        "body: none was sent; this route takes a JSON object (Content-Type: application/json)",
    )


@pytest.mark.parametrize(
    "body, detail",
    [
        # Was a 400 "There was an error parsing the body".
        (
            b'{"user_id": "\xff", "item_id": "100", "rating": 4}',
            "body: not UTF-8 (byte 0xff at offset 13); JSON is sent as UTF-8",
        ),
        (
            '{"user_id": "Zoë", "item_id": "100", "rating": 4}'.encode("latin-1"),
            "body: not UTF-8 (byte 0xeb at offset 15); JSON is sent as UTF-8",
        ),
        # Was "[43]: JSON decode error".
        (RATING + b" x", "body: JSON decode error: Extra data at line 1, column 49"),
        (
            b'{\n  "user_id": "u",\n  "rating": \n}',
            "body: JSON decode error: Expecting value at line 4, column 1",
        ),
    ],
)
def test_a_body_that_is_not_json_says_where(served, store, body, detail):
    refused(served.post("/ratings", content=body, headers=JSON), detail)
    assert store.counts()["ratings"] == 0


def test_a_utf8_body_with_a_byte_order_mark_is_read(served, store):
    r = served.post("/ratings", content=b"\xef\xbb\xbf" + RATING, headers=JSON)
    assert r.status_code == 201, r.text


def test_a_body_sent_to_a_route_taking_none_is_a_422(served, store):
    store.add_ratings([Rating("keep", "100", 4.0)])
    # {"force": true} in the body was dropped: the reload was not forced.
    r = served.post("/admin/reload", json={"force": True}, headers=AUTH)
    refused(r, "body: this route takes no body (14 bytes were sent)")
    r = served.request("DELETE", "/users/keep", json={"confirm": True}, headers=AUTH)
    refused(r, "body: this route takes no body (16 bytes were sent)")
    assert len(store.user_ratings("keep")) == 1  # not deleted
    # No body, or an empty one, is what such a route takes.
    assert served.post("/admin/reload?force=true", headers=AUTH).json()["reloaded"] is True
    assert served.post("/admin/reload", content=b"", headers=JSON).status_code == 200
    assert served.delete("/users/keep", headers=AUTH).json()["deleted"] == 1
