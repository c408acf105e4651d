"""What a client sends that the service would otherwise drop or reinterpret silently: a
query parameter a route does not take, a single-valued one given twice, a JSON key given
twice, a value of the wrong JSON type.  Each is a 422 whose one-line ``detail`` names it,
and nothing is written."""

import pytest

from latentrec.store import Rating

JSON = {"content-type": "application/json"}


def one_line_422(r, *words):
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    for word in words:
        assert word in detail, detail
    return detail


@pytest.mark.parametrize(
    "method, path, params",
    [
        ("GET", "/users/3/recommendations", {"rules": "1"}),  # not a knob of this route
        ("GET", "/users/3/recommendations", {"n": 5, "diversty": 0.3}),  # a typo
        ("GET", "/users/3/predictions", {"items": "100", "bogus": "1"}),
        ("GET", "/users/3/explain/100", {"bogus": "1"}),
        ("GET", "/items/100/similar", {"bogus": "1"}),
        ("GET", "/items", {"q": "star"}),
        ("GET", "/onboarding/questions", {"count": "3"}),
        ("GET", "/genres", {"bogus": "1"}),
        ("DELETE", "/users/nobody/ratings/100", {"bogus": "1"}),
        ("POST", "/admin/reload", {"forced": "true"}),
    ],
)
def test_a_query_parameter_the_route_does_not_take_is_422_naming_it(client, method, path, params):
    r = client.request(method, path, params=params)
    unknown = next(name for name in params if name not in {"n", "items"})
    detail = one_line_422(r, f"query {unknown}: this route takes no such parameter")
    assert r.json()["errors"][0]["loc"] == ["query", unknown]
    if path.endswith("recommendations"):
        # The route says what it does take, so a typo is easy to see.
        assert "it takes boost_new, calibrate, diversity, exclude, items, n" in detail


def test_an_unknown_query_parameter_on_a_write_writes_nothing(client, store):
    r = client.post(
        "/ratings", params={"dry_run": "1"}, json={"user_id": "u", "item_id": "100", "rating": 4}
    )
    one_line_422(r, "query dry_run")
    assert store.user_ratings("u") == []


@pytest.mark.parametrize(
    "path, query, name",
    [
        ("/users/3/recommendations", "n=5&n=6", "n"),
        ("/users/3/recommendations", "diversity=0.1&diversity=0.9", "diversity"),
        ("/items", "search=star&search=wars", "search"),
        ("/items/100/similar", "n=1&n=2", "n"),
    ],
)
def test_a_single_valued_parameter_given_twice_is_422(client, path, query, name):
    one_line_422(client.get(f"{path}?{query}"), f"query {name}: given 2 times")


def test_list_parameters_still_repeat_and_the_page_takes_any_query(client):
    r = client.get("/users/3/recommendations?items=100&items=101&exclude=1&exclude=2&n=2")
    assert r.status_code == 200, r.text
    assert client.get("/users/3/predictions?items=100&items=101").status_code == 200
    # The web page is a link people share: a tracking parameter must not break it.
    assert client.get("/?utm_source=mail").status_code in (200, 404)


@pytest.mark.parametrize(
    "path, body, key",
    [
        ("/ratings", '{"user_id": "u", "item_id": "100", "rating": 4, "rating": 5}', "rating"),
        (
            "/ratings",
            '{"ratings": [{"user_id": "u", "user_id": "v", "item_id": "100", "rating": 4}]}',
            "user_id",
        ),  # fmt: skip
        (
            "/users/u/onboarding",
            '{"answers": [{"item_id": "100", "rating": 4}], "n": 3, "n": 5}',
            "n",
        ),  # fmt: skip
        ("/items", '{"item_id": "new", "title": "A", "title": "B"}', "title"),
    ],
)
def test_a_json_key_given_twice_is_422_and_nothing_is_written(client, store, path, body, key):
    r = client.post(path, content=body, headers=JSON)
    one_line_422(r, f"the key '{key}' appears twice")
    assert store.user_ratings("u") == [] and store.user_ratings("v") == []
    assert store.get_item("new") is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"user_id": "u", "item_id": "100", "rating": True}, "rating"),  # was stored as 1 star
        ({"user_id": "u", "item_id": "100", "rating": "4"}, "rating"),
        ({"user_id": "u", "item_id": "100", "rating": 4, "timestamp": "1700000000"}, "timestamp"),
        ({"user_id": "u", "item_id": "100", "rating": 4, "timestamp": False}, "timestamp"),
        ({"ratings": [{"user_id": "u", "item_id": "100", "rating": False}]}, "ratings[0].rating"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_422_naming_the_field(client, store, body, field):
    one_line_422(client.post("/ratings", json=body), f"{field}: Input should be")
    assert store.user_ratings("u") == []


def test_whole_numbers_are_still_numbers(client, store):
    r = client.post("/ratings", json={"user_id": "u", "item_id": "100", "rating": 4})
    assert r.status_code == 201, r.text
    r = client.post(
        "/ratings",
        json={"user_id": "u", "item_id": "101", "rating": 3.5, "timestamp": 1_700_000_000},
    )
    assert r.status_code == 201, r.text
    assert sorted((x.item_id, x.value) for x in store.user_ratings("u")) == [
        ("100", 4.0),
        ("101", 3.5),
    ]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"answers": [{"item_id": "100", "rating": 4}], "n": 2.5}, "n"),
        ({"answers": [{"item_id": "100", "rating": 4}], "n": "5"}, "n"),
        ({"answers": [{"item_id": "100", "rating": True}]}, "answers[0].rating"),
    ],
)
def test_onboarding_values_of_the_wrong_type_are_422(client, store, body, field):
    one_line_422(client.post("/users/u/onboarding", json=body), f"{field}: Input should be")
    assert store.user_ratings("u") == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"item_id": "new", "features": {"year": "1999"}}, "features.year"),
        ({"item_id": "new", "features": {"year": True}}, "features.year"),
        ({"item_id": "new", "genres": ["Drama", 7]}, "genres[1]"),
    ],
)
def test_item_values_of_the_wrong_type_are_422(client, store, body, field):
    one_line_422(client.post("/items", json=body), f"{field}: Input should be")
    assert store.get_item("new") is None


def test_a_malformed_body_is_still_fastapis_own_422(client, store):
    r = client.post("/ratings", content="{", headers=JSON)
    one_line_422(r, "JSON decode error")
    # A body that is not JSON (no JSON content type) is not parsed as JSON.
    text = {"content-type": "text/plain"}
    r = client.post("/ratings", content='{"user_id": "u", "user_id": "v"}', headers=text)
    assert r.status_code == 422 and "appears twice" not in r.text
    store.add_ratings([Rating("w", "100", 4.0)])  # the store is fine afterwards
    assert len(store.user_ratings("w")) == 1


@pytest.mark.parametrize(
    "body, words",
    [
        # Each was a 400 "There was an error parsing the body", naming nothing.
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"ratings": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (b'{"user_id": "u", "item_id": "100", "rating": ' + b"9" * 5000 + b"}", "too many digits"),
    ],
)
def test_a_body_pythons_parser_cannot_read_is_a_422_naming_why(client, store, body, words):
    one_line_422(client.post("/ratings", content=body, headers=JSON), "body: ", words)
    assert client.get("/health").status_code == 200
    assert store.counts()["ratings"] == 0
