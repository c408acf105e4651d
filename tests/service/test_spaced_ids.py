"""Ids in paths, queries and rating bodies are read as the file readers read them:
without surrounding whitespace.

``Interactions.from_csv`` (and so ``latentrec store import``) reads a cell `` u1 `` as
user ``u1``.  The service took `` u1`` as another id: ``/users/%20u1/recommendations``
answered the popularity list of an unknown user, ``/items/%20a`` was a 404, and a
POSTed rating for `` u9`` was stored apart from ``u9``'s.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import latentrec.service
from latentrec import Interactions
from latentrec.models import BiasedMF


def text_model(strip_ids=True):
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3", " u4"],
            "item_id": ["a", "b", "a", "c", "d", "d"],
            "rating": [5.0, 3.0, 4.0, 1.0, 2.0, 4.0],
        }
    )
    data = Interactions.from_frame(frame, strip_ids=strip_ids)
    return BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)


@pytest.fixture
def spaced(make_client):
    return make_client(text_model())


def ok(response) -> dict:
    assert response.status_code in (200, 201), (response.request.url, response.text)
    return response.json()


def test_a_padded_user_or_item_id_is_the_id_without_its_spaces(spaced):
    plain = ok(spaced.get("/users/u1/recommendations"))
    padded = ok(spaced.get("/users/%20u1%09/recommendations"))
    assert padded["fallback"] is False and padded["user_id"] == "u1"
    assert padded["items"] == plain["items"]
    body = ok(spaced.get("/users/u1%20/predictions", params={"items": [" c", "d "]}))
    assert [p["item_id"] for p in body["predictions"]] == ["c", "d"]
    assert body["fallback"] is False
    body = ok(spaced.get("/users/%20u1/explain/%20c"))
    assert (body["user_id"], body["item_id"], body["fallback"]) == ("u1", "c", False)
    assert ok(spaced.get("/items/%20a/similar"))["item_id"] == "a"
    assert ok(spaced.get("/items/a%20"))["item_id"] == "a"
    listed = ok(spaced.get("/users/u1/recommendations", params={"exclude": " d"}))
    assert "d" not in [x["item_id"] for x in listed["items"]]


def test_a_posted_rating_with_padded_ids_is_stored_under_the_plain_ids(spaced):
    ack = ok(spaced.post("/ratings", json={"user_id": " u9 ", "item_id": " a", "rating": 4}))
    assert ack["users"] == {"u9": 1}
    ack = ok(spaced.post("/ratings", json={"user_id": "u9", "item_id": "a", "rating": 2}))
    assert ack["users"] == {"u9": 2}  # the same user: their second write
    stored = ok(spaced.get("/users/%20u9/ratings"))
    assert [(r["item_id"], r["rating"]) for r in stored["ratings"]] == [("a", 2.0)]
    body = ok(
        spaced.post("/users/%20u8/onboarding", json={"answers": [{"item_id": " b", "rating": 5}]})
    )
    assert body["user_id"] == "u8"
    assert [r["item_id"] for r in ok(spaced.get("/users/u8/ratings"))["ratings"]] == ["b"]
    gone = ok(spaced.delete("/users/u8%20/ratings/%20b"))
    assert (gone["user_id"], gone["item_id"], gone["deleted"]) == ("u8", "b", 1)


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "/users/%20%20/recommendations", None),
        ("GET", "/users/u1/predictions?items=%20", None),
        ("POST", "/ratings", {"user_id": "\t", "item_id": "a", "rating": 4}),
        ("GET", "/items/%20", None),
    ],
)
def test_an_id_of_only_whitespace_is_a_422_naming_it(spaced, method, path, json):
    response = spaced.request(method, path, json=json)
    assert response.status_code == 422, response.text
    assert "is only whitespace" in response.json()["detail"]


def test_an_id_the_model_holds_with_its_spaces_is_found_as_given(make_client):
    client = make_client(text_model(strip_ids=False))
    body = ok(client.get("/users/%20u4/recommendations"))
    assert body["user_id"] == " u4" and body["fallback"] is False
    assert ok(client.get("/users/u4/recommendations"))["fallback"] is True


def test_the_id_limit_is_on_the_id_read_not_on_its_padding(spaced):
    # 300 spaces around "u1" (the limit is 256): the readers read the cell as u1, and
    # the service refused it as "302 characters" before.
    pad = "%20" * 150
    body = ok(spaced.get(f"/users/{pad}u1{pad}/recommendations"))
    assert body["user_id"] == "u1" and body["fallback"] is False
    ack = ok(
        spaced.post("/ratings", json={"user_id": "u7" + " " * 300, "item_id": "a", "rating": 3})
    )
    assert ack["users"] == {"u7": 1}
    assert [r["item_id"] for r in ok(spaced.get("/users/u7/ratings"))["ratings"]] == ["a"]
    response = spaced.get(f"/users/{pad}{'u' * 257}/recommendations")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "user_id is 257 characters (407 as given); the limit is 256"
    response = spaced.get(f"/users/{'u' * 256}/recommendations")
    assert response.status_code == 200, response.text


def test_the_page_finds_a_box_of_only_whitespace_as_the_service_does():
    # The web page sends the user box as typed, unless it holds nothing but what the
    # service strips (Python's str.isspace); its test, run by node over every code point.
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run the page's script")
    script = (Path(latentrec.service.__file__).parent / "static" / "app.js").read_text()
    literal = re.search(r"const ONLY_SPACE = (/.+/);", script).group(1)
    found = subprocess.run(
        [
            node,
            "-e",
            f"const re = {literal}; const out = []; for (let c = 0; c <= 0x10ffff; c++)"
            " if (re.test(String.fromCodePoint(c))) out.push(c);"
            " console.log(JSON.stringify(out));",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(found.stdout) == [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert [c for c in range(sys.maxunicode + 1) if chr(c).strip() == ""] == json.loads(
        found.stdout
    )
