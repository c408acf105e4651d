"""Numbers in the query over real HTTP: written as JSON writes them, as a body's are.

A number in the query was read as Python reads text, pydantic's lax mode: ``calibrate=0_1``
was 1, ``n=1_0`` was 10, ``diversity=0_5`` a 422 about the value 5, and `` 5``, ``+5``,
``05`` and ``5.0`` were 5 (a body's ``"n": 5.0`` is a 422), silently.  Each is now a 422
naming the parameter and the text sent.
"""

from __future__ import annotations

import httpx
import pytest

from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import client_of, refused


@pytest.fixture
def served(store, explicit_model):
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v"))
    with client_of(app) as client:
        yield client


@pytest.mark.parametrize(
    "query",
    ["diversity=0_5", "calibrate=.5", "diversity=%200.5", "diversity=%2B0.5", "boost_new=inf"],
)
def test_a_query_number_is_written_as_json_writes_it(served, query):
    name = query.partition("=")[0]
    shown = httpx.QueryParams(query)[name]
    r = served.get(f"/users/1/recommendations?{query}")
    refused(
        r,
        f"query {name}: {shown!r} is not a number as JSON writes it (such as 5, 0.25 or 1e-3)",
    )


@pytest.mark.parametrize(
    "query",
    # A body's n refuses 5.0 (strict models): the query's now does too.
    ["n=1_0", "n=%205", "n=5%20", "n=%2B5", "n=05", "n=%EF%BC%95", "n=5.0", "n=1e3"],
)
def test_a_whole_number_in_the_query_is_written_as_json_writes_it(served, query):
    name = query.partition("=")[0]
    shown = httpx.QueryParams(query)[name]
    for path in ("/users/1/recommendations", "/items/100/similar", "/items"):
        refused(
            served.get(f"{path}?{query}"),
            f"query {name}: {shown!r} is not a whole number as JSON writes it (such as 5)",
        )


@pytest.mark.parametrize(
    "query", ["n=5", "diversity=0.25", "diversity=1e-1", "diversity=0", "n=3&items=100"]
)
def test_json_numbers_in_the_query_are_read(served, query):
    r = served.get(f"/users/1/recommendations?{query}")
    assert r.status_code == 200, (query, r.text)


def test_a_number_too_large_or_given_twice_stays_a_422_naming_it(served):
    r = served.get("/users/1/recommendations?n=3&n=5")
    refused(r, "query n: given 2 times; it takes one value")
    r = served.get("/users/1/recommendations?n=" + "9" * 40)
    assert r.status_code == 422 and r.json()["detail"].startswith("query n: ")
    r = served.get("/items/100/similar?n=1e3")
    assert r.status_code == 422 and r.json()["detail"].startswith("query n: ")


@pytest.mark.parametrize(
    "query, name, msg",
    [
        # Each was read as U+FFFD: another item, a search for it, an exclusion of it.
        ("/users/1/recommendations?items=%FF", "items", "not UTF-8 (byte 0xff at offset 0)"),
        (
            "/users/1/recommendations?exclude=100&exclude=a%FF",
            "exclude",
            "not UTF-8 (byte 0xff at offset 1)",
        ),
        ("/users/1/predictions?items=%ED%A0%80", "items", "not UTF-8 (byte 0xed at offset 0)"),
        ("/items?search=caf%E9", "search", "not UTF-8 (byte 0xe9 at offset 3)"),
        ("/items?genre=%C3", "genre", "not UTF-8 (byte 0xc3 at offset 0)"),
    ],
)
def test_query_text_that_is_not_utf8_is_a_422_naming_the_parameter(served, query, name, msg):
    refused(served.get(query), f"query {name}: {msg}; a query is percent-encoded UTF-8")


def test_a_nul_in_query_text_is_a_422_on_every_store(served):
    # PostgreSQL refuses NUL in text: refused before any store sees it.
    refused(served.get("/items?search=a%00b"), "query search: contains a NUL character")
    refused(served.get("/items?genre=%00"), "query genre: contains a NUL character")


def test_utf8_query_text_is_read(served):
    r = served.get("/items?search=caf%C3%A9+cr%C3%A8me")
    assert r.status_code == 200, r.text
    r = served.get("/users/1/recommendations?exclude=%E2%9C%93")
    assert r.status_code == 200, r.text
