"""Hardening: hostile ids, the bearer token, size and length limits, CORS, errors, logs."""

import json
import logging
from urllib.parse import quote

import pytest

HOSTILE_IDS = [
    "O'Brien",
    'say "hi"',
    "a/b/c",
    "../../etc/passwd",
    "'; DROP TABLE ratings; --",
    "1 OR 1=1",
    "50% off",
    "a?b#c&d=e",
    "名前",
    "🎬🍿",
    "\u202eevil",
    " spaced ",
    "back\\slash",
    "x" * 256,
]


def path_id(raw: str) -> str:
    return quote(raw, safe="")


def test_hostile_user_ids_are_opaque_text(client, store):
    """Every id is kept as given but for surrounding whitespace, which the file readers
    strip too (" spaced " is user "spaced", tests/service/test_spaced_ids.py)."""
    for user in HOSTILE_IDS:
        want = user.strip()
        r = client.post("/ratings", json={"user_id": user, "item_id": "100", "rating": 5})
        assert r.status_code == 201, (user, r.text)
        assert list(r.json()["users"]) == [want]
        assert [x.user_id for x in store.user_ratings(want)] == [want]
        rows = client.get(f"/users/{path_id(user)}/ratings").json()
        assert rows["user_id"] == want and [x["item_id"] for x in rows["ratings"]] == ["100"]
        body = client.get(f"/users/{path_id(user)}/recommendations").json()
        assert body["user_id"] == want and body["fallback"] is False
        explained = client.get(f"/users/{path_id(user)}/explain/101").json()
        assert explained["user_id"] == want
        assert client.delete(f"/users/{path_id(user)}/ratings/100").status_code == 200
        client.post("/ratings", json={"user_id": user, "item_id": "101", "rating": 2})
    # the hostile ids did not disturb one another: each holds exactly its own rating
    for user in HOSTILE_IDS:
        want = user.strip()
        assert [(r.user_id, r.item_id) for r in store.user_ratings(want)] == [(want, "101")]
        assert client.delete(f"/users/{path_id(user)}").json()["deleted"] == 1
    assert store.counts()["ratings"] == 0


def test_hostile_item_ids_are_opaque_text(make_client, hybrid_model, store):
    """Text item ids go into the catalogue as given, surrounding whitespace stripped."""
    client = make_client(hybrid_model)
    for item in HOSTILE_IDS:
        want = item.strip()
        r = client.post("/items", json={"item_id": item, "title": item, "genres": ["Drama"]})
        assert r.status_code == 201, (item, r.text)
        assert store.get_item(want).title == item
        assert client.get(f"/items/{path_id(item)}").json()["item_id"] == want
        found = client.get("/items", params={"search": item[:20], "n": 100}).json()["items"]
        assert want in [x["item_id"] for x in found]


def test_sql_in_search_text_is_just_text(client):
    for text in ["' OR 1=1 --", '"; DELETE FROM items; --', "%", "_"]:
        r = client.get("/items", params={"search": text})
        assert r.status_code == 200
        assert r.json()["items"] == []
    assert client.get("/items", params={"n": 100}).json()["items"]  # the catalogue is intact


@pytest.mark.parametrize(
    "user, status",
    [("x" * 257, 422), ("", 422), ("a\x00b", 422)],
)
def test_unusable_ids_are_refused(client, store, user, status):
    r = client.post("/ratings", json={"user_id": user, "item_id": "100", "rating": 5})
    assert r.status_code == status
    assert store.counts()["ratings"] == 0


def test_over_long_id_in_a_path_is_422(client):
    assert client.get(f"/users/{'y' * 300}/recommendations").status_code == 422


# ---------------------------------------------------------------------- the token
TOKEN = "s3cret-token-for-tests"


def test_token_guards_writes_and_admin_not_reads(make_client, explicit_model):
    client = make_client(explicit_model, token=TOKEN)
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"Authorization": "Bearer s3cret-token-for-testz"}
    rating = {"user_id": "ann", "item_id": "100", "rating": 4}
    writes = [
        ("post", "/ratings", {"json": rating}),
        ("delete", "/users/ann/ratings/100", {}),
        ("delete", "/users/ann", {}),
        ("post", "/users/ann/onboarding", {"json": {"answers": [{"item_id": "100", "rating": 4}]}}),
        ("post", "/items", {"json": {"item_id": "900", "title": "T"}}),
        ("post", "/admin/reload", {}),
    ]
    for method, path, kwargs in writes:
        for headers in ({}, bad, {"Authorization": TOKEN}, {"Authorization": "Basic " + TOKEN}):
            r = getattr(client, method)(path, headers=headers, **kwargs)
            assert r.status_code == 401, (method, path, headers)
            assert r.headers["www-authenticate"] == "Bearer"
    assert client.post("/ratings", json=rating, headers=good).status_code == 201
    assert client.delete("/users/ann/ratings/100", headers=good).status_code == 200
    assert client.post("/admin/reload", headers=good).status_code == 200
    for path in ("/users/ann/recommendations", "/items", "/health", "/onboarding/questions"):
        assert client.get(path).status_code == 200


def test_short_tokens_are_refused(make_client, explicit_model):
    with pytest.raises(ValueError, match="at least 8"):
        make_client(explicit_model, token="short")


# ---------------------------------------------------------------------- limits
def test_a_declared_body_over_the_limit_is_413(make_client, explicit_model, store):
    client = make_client(explicit_model, max_body_bytes=2000)
    many = {"ratings": [{"user_id": "u", "item_id": "100", "rating": 3}] * 100}
    r = client.post("/ratings", json=many)
    assert r.status_code == 413
    assert "2000 bytes" in r.json()["detail"]
    assert store.counts()["ratings"] == 0


def test_a_streamed_body_over_the_limit_is_413(make_client, explicit_model, store):
    client = make_client(explicit_model, max_body_bytes=2000)
    payload = json.dumps({"ratings": [{"user_id": "u", "item_id": "100", "rating": 3}] * 100})

    def chunks():
        data = payload.encode()
        for start in range(0, len(data), 500):
            yield data[start : start + 500]

    r = client.post("/ratings", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert store.counts()["ratings"] == 0


def test_list_lengths_are_bounded(make_client, explicit_model, store):
    client = make_client(explicit_model, max_list=5, max_n=7)
    six = [{"user_id": "u", "item_id": str(100 + i), "rating": 3} for i in range(6)]
    assert client.post("/ratings", json={"ratings": six}).status_code == 422
    assert client.post("/ratings", json={"ratings": six[:5]}).status_code == 201
    params = {"items": [str(100 + i) for i in range(6)]}
    assert client.get("/users/u/predictions", params=params).status_code == 422
    assert client.get("/users/u/recommendations", params={"n": 8}).status_code == 422
    assert client.get("/users/u/recommendations", params={"n": 7}).status_code == 200
    answers = {"answers": [{"item_id": str(100 + i), "rating": 3} for i in range(6)]}
    assert client.post("/users/v/onboarding", json=answers).status_code == 422


# ---------------------------------------------------------------------- CORS
def test_cors_is_closed_by_default(client):
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/ratings",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_opens_for_configured_origins_only(make_client, explicit_model):
    client = make_client(explicit_model, cors_origins=("https://shop.example",))
    ok = client.get("/health", headers={"Origin": "https://shop.example"})
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


# ---------------------------------------------------------------------- errors and logs
class BrokenStore:
    """A store whose reads fail unexpectedly (as a bug or a lost database would)."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def user_version(self, user_id):
        raise RuntimeError("secret internals: /srv/db password=hunter2")


def test_an_unexpected_error_is_500_without_a_trace(explicit_model, store, caplog):
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings

    app = create_app(Settings(), store=BrokenStore(store), source=FixedSource(explicit_model))
    with TestClient(app, raise_server_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="latentrec.service"):
            r = client.get("/users/ann/recommendations")
    assert r.status_code == 500
    assert "internal error" in r.json()["detail"]
    assert "hunter2" not in r.text and "Traceback" not in r.text
    assert any("hunter2" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


def test_every_request_is_one_json_access_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="latentrec.access"):
        client.get("/users/%27x%22/recommendations", params={"n": 3})
        client.get("/no/such/route")
    lines = [
        json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "latentrec.access"
    ]
    assert [x["route"] for x in lines] == ["/users/{user_id}/recommendations", "unmatched"]
    assert [x["status"] for x in lines] == [200, 404]
    assert lines[0]["path"] == "/users/%27x%22/recommendations"  # as sent
    assert all(x["ms"] >= 0 and x["method"] == "GET" for x in lines)


def test_worker_pid_header(client):
    import os

    assert client.get("/health").headers["x-worker-pid"] == str(os.getpid())


class DownStore(BrokenStore):
    """A store whose database has gone away."""

    def user_version(self, user_id):
        from latentrec.store import StoreUnavailableError

        raise StoreUnavailableError("could not connect to server at 10.0.0.5: refused")


def test_an_unreachable_store_is_503_with_retry_after(explicit_model, store):
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings

    app = create_app(Settings(), store=DownStore(store), source=FixedSource(explicit_model))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/users/ann/recommendations")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "10.0.0.5" not in r.text


@pytest.mark.parametrize("when", [1e17, -1e18, 1e300, 253402300800.0])
def test_a_timestamp_no_date_can_show_is_422_and_nothing_is_stored(client, store, when):
    body = {"user_id": "t", "item_id": "100", "rating": 4, "timestamp": when}
    r = client.post("/ratings", json=body)
    assert r.status_code == 422, r.text
    assert "timestamp" in r.json()["detail"] and "'100'" in r.json()["detail"]
    assert store.user_ratings("t") == []
    assert client.get("/users/t/ratings").status_code == 200


def test_a_stored_timestamp_no_date_can_show_still_lists(client, store):
    # Written by an older latentrec, whose library took any finite number (it now refuses
    # one outside the years 1-9999, as the API does).
    from latentrec.store.schema import ratings

    with store.db.write() as conn:
        conn.execute(
            ratings.insert().values(user_id="t", item_id="100", kind="explicit", value=4.0, ts=1e17)
        )
    r = client.get("/users/t/ratings")
    assert r.status_code == 200, r.text
    [row] = r.json()["ratings"]
    assert row["timestamp"] == 1e17 and row["rated_at"] is None


@pytest.mark.parametrize("weight", [1e300, 1.7e308, 1e10])
def test_an_event_weight_beyond_the_limit_is_422_and_nothing_is_stored(client, store, weight):
    body = {"user_id": "w", "item_id": "100", "rating": weight, "kind": "event"}
    r = client.post("/ratings", json=body)
    assert r.status_code == 422, r.text
    assert "'100'" in r.json()["detail"] and "limit" in r.json()["detail"]
    assert store.user_ratings("w") == []
    ok = client.post("/ratings", json={**body, "rating": 1e9})
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("seconds", [float("inf"), 1e300, float("nan"), 0, -1, True])
def test_a_poll_interval_no_thread_can_wait_is_refused(seconds):
    from latentrec.service.settings import Settings

    with pytest.raises(ValueError, match="poll_seconds"):
        Settings(model_path="m.npz", poll_seconds=seconds).check()
    with pytest.raises(ValueError, match="poll_seconds"):
        Settings.from_json(json.dumps({"model_path": "m.npz", "poll_seconds": seconds}))
