"""The service on PostgreSQL: the API's core paths through ``create_app`` over a
``postgresql+psycopg://`` store, and a real ``latentrec serve --store postgresql+psycopg://``
with two workers and under SIGKILL.

One PostgreSQL server for the test run, a fresh database per test (``pg_url`` in
``conftest.py``).  References are the model's own public API, as in ``test_api.py`` and
``test_live.py`` (whose ``top_for``, ``rate`` and ``recs`` are reused here).
"""

import re
import signal
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from latentrec.store import Rating

from .serving import RatingBurst, check_rating_reaches_every_worker, worker_pids
from .test_live import (
    check_an_erased_users_new_rating_is_folded_in_alone,
    check_rating_posted_and_deleted_leaves_the_training_list,
    rate,
    recs,
    top_for,
)

pytestmark = pytest.mark.postgres

# A user id that would break SQL built from text: every value must be a bound parameter.
HOSTILE = "o'brien\"; DROP TABLE ratings; -- /ü"


def item_ids(body, key="items"):
    return [row["item_id"] for row in body[key]]


def test_the_app_runs_on_postgresql(make_pg_client, explicit_model, pg_store):
    client = make_pg_client(explicit_model)
    health = client.get("/health").json()
    assert health["store"] == "postgresql" and health["model_version"] == "v-test"
    # the catalogue is seeded into PostgreSQL from the model's titles
    assert pg_store.get_item("104").title == "Film 4"
    assert client.get("/items/104").json()["title"] == "Film 4"
    # The count of all matches, with a text search (every match read) and without (COUNT).
    page = client.get("/items", params={"search": "film 1", "n": 4}).json()
    assert page["total"] == 11 and len(page["items"]) == 4 and page["has_more"] is True
    page = client.get("/items", params={"n": 4, "offset": 28}).json()
    assert page["total"] == 30 and len(page["items"]) == 2 and page["has_more"] is False


def test_a_new_user_exists_from_the_first_rating_and_each_rating_shows_next(
    make_pg_client, explicit_model, pg_store
):
    client = make_pg_client(explicit_model)
    user = quote(HOSTILE, safe="")
    assert recs(client, user)["fallback"] is True
    given, previous = {}, None
    for item, value in [(100, 5.0), (103, 1.0), (107, 4.0)]:
        rate(client, HOSTILE, item, value)
        given[item] = value
        body = recs(client, user, n=10)
        expected, scores = top_for(explicit_model, given, 10)
        assert body["fallback"] is False and body["user_id"] == HOSTILE
        assert item_ids(body) == expected != previous
        assert np.allclose([x["score"] for x in body["items"]], scores, atol=1e-4)
        previous = expected
    # the same (user, item) rated again keeps the latest value (PostgreSQL's upsert)
    rate(client, HOSTILE, 103, 5.0)
    given[103] = 5.0
    assert item_ids(recs(client, user, n=10)) == top_for(explicit_model, given, 10)[0]
    stored = {r.item_id: r.value for r in pg_store.user_ratings(HOSTILE)}
    assert stored == {str(k): v for k, v in given.items()}
    assert pg_store.counts()["ratings"] == 3


def test_a_rating_written_through_one_app_shows_in_another(make_pg_client, explicit_model):
    """Two apps over one PostgreSQL database, as two workers: the store is the truth."""
    a, b = make_pg_client(explicit_model), make_pg_client(explicit_model)
    assert recs(b, "hal")["fallback"] is True
    rate(a, "hal", 100, 5.0)
    rate(a, "hal", 104, 1.0)
    expected, _ = top_for(explicit_model, {100: 5.0, 104: 1.0}, 8)
    assert item_ids(recs(b, "hal")) == expected
    a.delete("/users/hal/ratings/104")
    assert item_ids(recs(b, "hal")) == top_for(explicit_model, {100: 5.0}, 8)[0]


def test_delete_user_erases_everything_and_falls_back(make_pg_client, explicit_model, pg_store):
    client = make_pg_client(explicit_model)
    body = {"ratings": [{"user_id": "eve", "item_id": str(i), "rating": 5} for i in (100, 101)]}
    assert client.post("/ratings", json=body).status_code == 201
    pg_store.add_ratings([Rating("other", "100", 3.0)])
    assert recs(client, "eve")["fallback"] is False
    r = client.delete("/users/eve")
    assert r.status_code == 200 and r.json()["deleted"] == 2
    assert pg_store.user_ratings("eve") == []
    assert client.get("/users/eve/ratings").json()["ratings"] == []
    assert recs(client, "eve")["fallback"] is True
    assert [r.user_id for r in pg_store.user_ratings("other")] == ["other"]
    assert client.delete("/users/eve/ratings/100").status_code == 404


def test_a_rating_posted_and_deleted_leaves_a_training_user_as_they_were(
    make_pg_client, explicit_model
):
    a, b = make_pg_client(explicit_model), make_pg_client(explicit_model)
    check_rating_posted_and_deleted_leaves_the_training_list(a, b, explicit_model)


def test_an_erased_training_users_new_rating_is_folded_in_alone(make_pg_client, explicit_model):
    a, b = make_pg_client(explicit_model), make_pg_client(explicit_model)
    check_an_erased_users_new_rating_is_folded_in_alone(a, b, explicit_model)


def test_onboarding_answers_give_the_folded_in_page_and_are_stored(
    make_pg_client, explicit_model, pg_store
):
    client = make_pg_client(explicit_model)
    questions = client.get("/onboarding/questions", params={"n": 4}).json()
    assert item_ids(questions, "questions") == [
        str(x) for x in explicit_model.onboarding_items(k=4)["item_id"]
    ]
    answers = {"100": 5.0, "105": 1.0, "110": 4.0}
    r = client.post(
        "/users/newbie/onboarding",
        json={"answers": [{"item_id": k, "rating": v} for k, v in answers.items()], "n": 5},
    )
    assert r.status_code == 200, r.text
    expected = explicit_model.onboard({int(k): v for k, v in answers.items()}, n=5)
    assert r.json()["fallback"] is False
    assert item_ids(r.json()) == [str(x) for x in expected.ids]
    assert {x.item_id: x.value for x in pg_store.user_ratings("newbie")} == answers
    assert item_ids(recs(client, "newbie", n=5)) == item_ids(r.json())
    bad = {"answers": [{"item_id": "nope", "rating": 4}]}
    assert client.post("/users/x/onboarding", json=bad).status_code == 404
    assert pg_store.user_ratings("x") == []


def test_post_items_are_stored_and_recommendable_at_once(
    make_pg_client, explicit_model, hybrid_model, pg_store
):
    plain = make_pg_client(explicit_model)
    r = plain.post("/items", json={"item_id": "500", "title": "New Film", "genres": ["Drama"]})
    assert r.status_code == 201, r.text
    assert r.json()["vector"] == "zero" and r.json()["item"]["in_model"] is True
    assert pg_store.get_item("500").genres == ("Drama",)
    rec = plain.get("/users/3/recommendations", params={"items": ["500", "101"]}).json()
    assert "500" in item_ids(rec)
    # a model with feature vectors places a new title by its genres
    hybrid = make_pg_client(hybrid_model)
    r = hybrid.post("/items", json={"item_id": "777", "title": "Space", "genres": ["Sci-Fi"]})
    assert r.json()["vector"] == "features"
    q, b = hybrid_model.item_vector_from_features({"genres": "Sci-Fi", "title": None})
    body = hybrid.get("/users/5/predictions", params={"items": ["777"]}).json()
    expected = b + float(hybrid_model.user_factors_[5] @ q)
    assert body["predictions"][0]["score"] == pytest.approx(expected, abs=1e-4)
    assert pg_store.get_item("777").title == "Space"
    assert sorted(plain.get("/genres").json()["genres"]) == ["Drama", "Sci-Fi"]


# ---------------------------------------------------------------------- real servers
def test_two_workers_share_a_postgresql_store(serve, model_files, pg_url, tmp_path):
    """A rating posted through one worker shows in the other's next answer."""
    temp = tmp_path / "temp"
    temp.mkdir()
    server = serve(
        "--model", str(model_files["explicit"]), "--store", pg_url, "--workers", "2",
        env={"TMPDIR": str(temp)},
    )  # fmt: skip
    assert httpx.get(server.url + "/health").json()["store"] == "postgresql"
    pids = worker_pids(server.url, 2)
    assert len(pids) == 2
    check_rating_reaches_every_worker(server.url, HOSTILE, pids)
    rows = httpx.get(f"{server.url}/users/{quote(HOSTILE, safe='')}/ratings").json()
    assert rows["user_id"] == HOSTILE and len(rows["ratings"]) == 1
    # /metrics adds up the two workers, and only they count (one model line each).
    text = httpx.get(server.url + "/metrics").text.splitlines()
    info = [x for x in text if x.startswith("latentrec_model_info{") and x.endswith(" 1.0")]
    assert {int(re.search(r'pid="(\d+)"', x).group(1)) for x in info} == pids
    assert len(info) == 2
    posts = 'latentrec_http_requests_total{method="POST",route="/ratings",status="201"}'
    assert [x for x in text if x.startswith(posts)] == [posts + " 1.0"]
    # The workers' metrics files are removed when the service stops.
    assert len(list(temp.glob("latentrec-metrics-*"))) == 1
    server.stop()
    assert list(temp.glob("latentrec-metrics-*")) == []


def test_sigkill_during_a_burst_loses_no_acknowledged_rating(serve, model_files, pg_url):
    """Writers post as fast as they can; the service is SIGKILLed mid-burst.  Every
    rating answered 2xx is in PostgreSQL afterwards, and served again after a restart."""
    args = ("--model", str(model_files["explicit"]), "--store", pg_url)
    server = serve(*args, "--no-access-log")
    burst = RatingBurst(server.url)
    burst.run_until_acked(150, then=lambda: server.kill(signal.SIGKILL))
    assert len(burst.acked) >= 150
    latest = burst.check_stored(pg_url)
    restarted = serve(*args)
    user, item = next(iter(latest))
    rows = httpx.get(f"{restarted.url}/users/{user}/ratings").json()["ratings"]
    assert item in {x["item_id"] for x in rows}


@pytest.mark.parametrize("bad", ["Infinity", "NaN"])
def test_a_stored_rating_that_is_not_finite_is_left_out_on_postgresql(
    make_pg_client, explicit_model, pg_store, bad
):
    """As on SQLite (``test_live.py``): a rating set by hand to Infinity or NaN is left
    out of the fold-in, and its user is answered."""
    import sqlalchemy as sa

    pg_store.add_ratings([Rating("infu", "100", 5.0), Rating("infu", "107", 4.0)])
    with pg_store.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE lr_ratings SET value = :v WHERE user_id = 'infu' AND item_id = '107'"),
            {"v": float(bad.replace("Infinity", "inf"))},
        )
    client = make_pg_client(explicit_model)
    r = client.get("/users/infu/recommendations", params={"n": 6})
    assert r.status_code == 200, r.text
    expected, _ = top_for(explicit_model, {100: 5.0}, 6, exclude=[107])
    assert item_ids(r.json()) == expected
    assert client.get("/users/infu/explain/120").status_code == 200
