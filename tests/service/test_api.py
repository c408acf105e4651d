"""Every route through FastAPI's TestClient: status codes, JSON shapes, fallbacks.

The answers are checked against the model's own public API (the slow obvious way:
``recommend``, ``predict``, ``similar_items``, ``fold_in``, ``explain``).
"""

import numpy as np
import pytest

from latentrec.service.hardening import field_path
from latentrec.store import Rating


def ids(body, key="items"):
    return [row["item_id"] for row in body[key]]


# ---------------------------------------------------------------------- recommendations
def test_known_user_gets_the_models_own_list(client, explicit_model):
    body = client.get("/users/3/recommendations", params={"n": 5}).json()
    expected = explicit_model.recommend(3, n=5)
    assert body["fallback"] is False
    assert body["user_id"] == "3"
    assert body["model_version"] == "v-test"
    assert ids(body) == [str(x) for x in expected.ids]
    assert np.allclose([row["score"] for row in body["items"]], expected.scores, atol=1e-4)
    assert [row["title"] for row in body["items"]] == list(expected.titles)


def test_unknown_user_gets_the_popularity_list_marked(client, explicit_model):
    body = client.get("/users/nobody-here/recommendations", params={"n": 4}).json()
    expected = explicit_model.recommend("nobody-here", n=4)
    assert body["fallback"] is True and expected.fallback
    assert ids(body) == [str(x) for x in expected.ids]


def test_items_and_exclude_restrict_the_list(client, explicit_model):
    cand = ["100", "101", "102", "103", "104", "105"]
    body = client.get(
        "/users/3/recommendations", params={"n": 10, "items": cand, "exclude": ["101", "zzz"]}
    ).json()
    expected = explicit_model.recommend(3, n=10, items=[int(x) for x in cand], filter_items=[101])
    assert ids(body) == [str(x) for x in expected.ids]
    assert "101" not in ids(body)


def test_unknown_candidate_item_is_404(client):
    r = client.get("/users/3/recommendations", params={"items": ["100", "nope"]})
    assert r.status_code == 404
    assert "nope" in r.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{"n": 0}, {"n": 101}, {"n": "many"}, {"items": [str(i) for i in range(1001)]}],
)
def test_bad_parameters_are_422_with_a_message(client, params):
    r = client.get("/users/3/recommendations", params=params)
    assert r.status_code == 422
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text


# ---------------------------------------------------------------------- predictions
def test_predictions_match_the_model(client, explicit_model):
    body = client.get("/users/3/predictions", params={"items": ["104", "100"]}).json()
    expected = explicit_model.predict([3, 3], [104, 100])
    assert body["fallback"] is False
    assert ids(body, "predictions") == ["104", "100"]
    assert np.allclose([p["score"] for p in body["predictions"]], expected, atol=1e-4)


def test_predictions_of_an_unknown_user_are_the_baseline(client, explicit_model):
    body = client.get("/users/stranger/predictions", params={"items": ["104"]}).json()
    expected = explicit_model.predict(["stranger"], [104], unknown="baseline")
    assert body["fallback"] is True
    assert body["predictions"][0]["score"] == pytest.approx(float(expected[0]), abs=1e-4)


def test_predictions_need_items_and_known_ones(client):
    assert client.get("/users/3/predictions").status_code == 422
    assert client.get("/users/3/predictions", params={"items": ["999999"]}).status_code == 404


# ---------------------------------------------------------------------- explanations
def test_explanation_of_a_known_user_adds_up_and_has_supporting_titles(client, explicit_model):
    body = client.get("/users/3/explain/104").json()
    expected = explicit_model.explain(3, 104)
    assert body["fallback"] is False
    assert body["prediction"] == pytest.approx(expected.prediction, abs=1e-4)
    assert body["global_mean"] + body["user_bias"] + body["item_bias"] + body[
        "interaction"
    ] == pytest.approx(body["prediction"], abs=1e-9)
    assert body["item_title"] == "Film 4"
    exp_support = expected.supporting
    assert [s["item_id"] for s in body["supporting_items"]] == [
        str(x) for x in exp_support["item_id"]
    ]
    assert all(s["title"].startswith("Film ") for s in body["supporting_items"])


def test_explanation_unknown_item_404_unknown_user_baseline(client):
    assert client.get("/users/3/explain/nope").status_code == 404
    body = client.get("/users/ghost/explain/104").json()
    assert body["fallback"] is True
    assert body["user_bias"] == 0 and body["interaction"] == 0
    assert body["supporting_items"] == []


# ---------------------------------------------------------------------- similar items
def test_similar_items_match_the_model(client, explicit_model):
    body = client.get("/items/104/similar", params={"n": 3}).json()
    expected = explicit_model.similar_items(104, n=3)
    assert ids(body) == [str(x) for x in expected.ids]
    assert body["title"] == "Film 4"
    assert client.get("/items/nope/similar").status_code == 404


# ---------------------------------------------------------------------- ratings
def test_post_one_rating_then_read_and_delete_it(client):
    r = client.post("/ratings", json={"user_id": "ann", "item_id": "104", "rating": 4.5})
    assert r.status_code == 201
    ack = r.json()
    assert ack["written"] == 1 and ack["users"]["ann"] >= 1 and ack["model_version"] == "v-test"
    rows = client.get("/users/ann/ratings").json()["ratings"]
    assert [(x["item_id"], x["rating"], x["kind"]) for x in rows] == [("104", 4.5, "explicit")]
    assert rows[0]["title"] == "Film 4" and rows[0]["rated_at"].endswith("+00:00")
    gone = client.delete("/users/ann/ratings/104")
    assert gone.status_code == 200 and gone.json()["deleted"] == 1
    assert client.get("/users/ann/ratings").json()["ratings"] == []
    assert client.delete("/users/ann/ratings/104").status_code == 404


def test_post_many_ratings_and_events(client, store):
    body = {
        "ratings": [
            {"user_id": "ann", "item_id": "100", "rating": 5},
            {"user_id": "bob", "item_id": "101", "rating": 2, "timestamp": 1_700_000_000},
            {"user_id": "bob", "item_id": "102", "kind": "event"},
        ]
    }
    ack = client.post("/ratings", json=body).json()
    assert ack["written"] == 3 and set(ack["users"]) == {"ann", "bob"}
    kinds = sorted((r.item_id, r.kind) for r in store.user_ratings("bob"))
    assert kinds == [("101", "explicit"), ("102", "event")]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"user_id": "ann", "item_id": "104", "rating": 9}, 422),  # outside 1-5
        ({"user_id": "ann", "item_id": "104", "rating": 0, "kind": "event"}, 422),
        ({"user_id": "ann", "item_id": "104", "rating": 3, "kind": "like"}, 422),
        ({"user_id": "ann", "item_id": "not-an-item", "rating": 3}, 404),
        ({"user_id": "", "item_id": "104", "rating": 3}, 422),
        ({"user_id": "ann", "item_id": "104", "rating": 3, "extra": 1}, 422),
        ({"ratings": []}, 422),
        ({"user_id": "ann"}, 422),
    ],
)
def test_bad_ratings_write_nothing(client, store, body, status):
    r = client.post("/ratings", json=body)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str)
    assert store.counts()["ratings"] == 0


def test_a_bad_row_in_a_batch_writes_nothing(client, store):
    body = {
        "ratings": [
            {"user_id": "ann", "item_id": "100", "rating": 5},
            {"user_id": "ann", "item_id": "101", "rating": 50},
        ]
    }
    assert client.post("/ratings", json=body).status_code == 422
    assert store.counts()["ratings"] == 0


@pytest.mark.parametrize(
    "body, where",
    [
        ({"user_id": "y", "item_id": "104"}, ["body", "rating"]),
        ({"user_id": "y", "item_id": "104", "kind": "explicit"}, ["body", "rating"]),
        (
            {
                "ratings": [
                    {"user_id": "y", "item_id": "100", "kind": "event"},
                    {"user_id": "y", "item_id": "104"},
                ]
            },
            ["body", "ratings", "1", "rating"],
        ),
    ],
)
def test_an_explicit_rating_without_stars_is_422_naming_rating(client, store, body, where):
    """An explicit rating needs its stars: without them it was stored as 1 star (201)."""
    r = client.post("/ratings", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"loc": where, "msg": "Field required"}]
    assert r.json()["detail"] == field_path(where[1:]) + ": Field required"
    assert store.counts()["ratings"] == 0


def test_an_event_without_a_weight_weighs_one(client, store):
    for body in (
        {"user_id": "y", "item_id": "104", "kind": "event"},
        {"ratings": [{"user_id": "y", "item_id": "104", "kind": "event"}]},
    ):
        assert client.post("/ratings", json=body).status_code == 201
    assert [(r.value, r.kind) for r in store.user_ratings("y")] == [(2.0, "event")]


@pytest.mark.parametrize(
    "body, detail",
    [
        # Text is never read as a number (strict types): "five" and "5" alike.
        (
            {"user_id": "x", "item_id": "50", "rating": "five"},
            "rating: Input should be a valid number",
        ),
        ({"user_id": "x"}, "item_id: Field required; rating: Field required"),
        ({}, "user_id: Field required; item_id: Field required; rating: Field required"),
        (
            {"user_id": "x", "item_id": "50", "rating": 4, "ratting": 5},
            "ratting: Extra inputs are not permitted",
        ),
        ({"ratings": [{"user_id": "x", "rating": 4}]}, "ratings[0].item_id: Field required"),
        ({"ratings": {"user_id": "x"}}, "ratings: Input should be a valid list"),
        ({"ratings": [], "user_id": "x"}, "user_id: Extra inputs are not permitted"),
        ([1, 2], "body: the body must be a JSON object ({...}); this one is an array"),
    ],
)
def test_a_bad_ratings_body_is_one_line_about_its_own_form(client, store, body, detail):
    """A body with "ratings" is the batch form, any other the single one: the 422 lists
    that form's errors only (it listed both forms': five errors for one bad value)."""
    r = client.post("/ratings", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == detail
    assert all(e["loc"][0] == "body" for e in r.json()["errors"])
    assert not any({"single", "batch"} & set(e["loc"]) for e in r.json()["errors"])
    assert store.counts()["ratings"] == 0


def test_the_ratings_body_documents_both_forms(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/ratings"]["post"]["requestBody"]["content"]["application/json"]
    refs = {x["$ref"].rsplit("/", 1)[1] for x in body["schema"]["oneOf"]}
    assert refs == {"RatingIn", "RatingsIn"}
    rating = spec["components"]["schemas"]["RatingIn"]["properties"]["rating"]
    assert "required" in rating["description"] and "event" in rating["description"]


def test_delete_user_erases_everything_and_falls_back(client, store):
    client.post(
        "/ratings",
        json={"ratings": [{"user_id": "eve", "item_id": str(i), "rating": 5} for i in (100, 101)]},
    )
    assert client.get("/users/eve/recommendations").json()["fallback"] is False
    r = client.delete("/users/eve")
    assert r.status_code == 200 and r.json()["deleted"] == 2
    assert store.user_ratings("eve") == []
    assert client.get("/users/eve/ratings").json()["ratings"] == []
    assert client.get("/users/eve/recommendations").json()["fallback"] is True


def test_erasing_a_trained_user_stops_using_their_training_row(client):
    before = client.get("/users/3/recommendations").json()
    assert before["fallback"] is False
    client.post("/ratings", json={"user_id": "3", "item_id": "100", "rating": 1})
    client.delete("/users/3")
    assert client.get("/users/3/recommendations").json()["fallback"] is True


# ---------------------------------------------------------------------- onboarding
def test_onboarding_questions_are_the_models(client, explicit_model):
    body = client.get("/onboarding/questions", params={"n": 4}).json()
    expected = explicit_model.onboarding_items(k=4)
    assert ids(body, "questions") == [str(x) for x in expected["item_id"]]
    assert all(q["title"].startswith("Film ") for q in body["questions"])
    assert client.get("/onboarding/questions", params={"n": 0}).status_code == 422


def test_onboarding_answers_give_the_folded_in_page_and_are_stored(client, explicit_model, store):
    answers = {"100": 5.0, "105": 1.0, "110": 4.0}
    r = client.post(
        "/users/newbie/onboarding",
        json={"answers": [{"item_id": k, "rating": v} for k, v in answers.items()], "n": 5},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expected = explicit_model.onboard({int(k): v for k, v in answers.items()}, n=5)
    assert body["fallback"] is False
    assert ids(body) == [str(x) for x in expected.ids]
    assert np.allclose([x["score"] for x in body["items"]], expected.scores, atol=1e-4)
    assert sorted(r.item_id for r in store.user_ratings("newbie")) == sorted(answers)
    # the stored answers keep personalising the user's later requests
    later = client.get("/users/newbie/recommendations", params={"n": 5}).json()
    assert ids(later) == ids(body)


def test_onboarding_rejects_unknown_items_and_empty_answers(client, store):
    bad = {"answers": [{"item_id": "nope", "rating": 4}]}
    assert client.post("/users/x/onboarding", json=bad).status_code == 404
    assert client.post("/users/x/onboarding", json={"answers": []}).status_code == 422
    assert store.counts()["ratings"] == 0


def test_onboarding_answers_rating_one_item_twice_are_refused(client, store):
    """Two answers for one title in one form (5, then 1) were both taken, the store
    keeping one by its rules: a slip settled silently.  Now a 422 naming the item, and
    nothing is stored, as `latentrec onboard --answers` refuses it."""
    body = {"answers": [{"item_id": "100", "rating": 5}, {"item_id": "100", "rating": 1}]}
    r = client.post("/users/x/onboarding", json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == "the answers rate item '100' more than once"
    assert store.counts()["ratings"] == 0


def test_onboarding_answers_outside_the_training_ratings_are_refused_without_a_scale(
    make_client, store
):
    """As the library's onboard: a model fitted without a rating scale takes answers in
    the range its training ratings covered."""
    from latentrec import Interactions
    from latentrec.models import BiasedMF

    rng = np.random.default_rng(0)
    stars = rng.integers(1, 6, size=(12, 8)).astype(float)
    model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(Interactions.from_dense(stars))
    assert model.rating_scale_ is None
    client = make_client(model)
    r = client.post("/users/x/onboarding", json={"answers": [{"item_id": "3", "rating": 9}]})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "rating 9 for item '3' lies outside 1-5, the range of the served model's training ratings"
    )
    assert store.counts()["ratings"] == 0
    ok = client.post("/users/x/onboarding", json={"answers": [{"item_id": "3", "rating": 4.5}]})
    assert ok.status_code == 200, ok.text


# ---------------------------------------------------------------------- items
def test_catalogue_is_seeded_from_the_model_and_searchable(client):
    body = client.get("/items", params={"search": "Film 1", "n": 50}).json()
    found = set(ids(body))
    assert {"101", "110", "111"} <= found and "102" not in found
    assert all(row["in_model"] for row in body["items"])
    one = client.get("/items/104").json()
    assert one["title"] == "Film 4" and one["in_model"] is True
    assert one["model_version"] == "v-test"  # every body names its version, this one too
    assert client.get("/items/nope").status_code == 404
    assert client.get("/genres").json()["genres"] == []


def test_item_search_puts_titles_starting_with_the_text_first(client):
    """The page's search box: "star" lists Star Wars, then the titles with a word that
    starts with it, then any other match (it listed them by title alone: Bastard Out of
    Carolina, Evening Star, Frankie Starlight, Star Wars 4th)."""
    for k, title in enumerate(
        ["Bastard Out of Carolina", "Evening Star, The", "Frankie Starlight", "Star Wars"]
    ):
        body = {"item_id": f"s{k}", "title": title}
        assert client.post("/items", json=body).status_code == 201
    titles = [
        x["title"] for x in client.get("/items", params={"search": "star", "n": 3}).json()["items"]
    ]
    assert titles == ["Star Wars", "Evening Star, The", "Frankie Starlight"]
    page = client.get("/items", params={"search": "star", "n": 3, "offset": 3}).json()
    assert [x["title"] for x in page["items"]] == ["Bastard Out of Carolina"]


def test_post_item_without_features_is_added_with_a_zero_vector(client, store):
    r = client.post("/items", json={"item_id": "500", "title": "New Film", "genres": ["Drama"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["vector"] == "zero" and body["item"]["in_model"] is True
    assert store.get_item("500").genres == ("Drama",)
    # recommendable at once: a known user can be offered it
    rec = client.get("/users/3/recommendations", params={"items": ["500", "101"]}).json()
    assert "500" in ids(rec)
    assert client.get("/genres").json()["genres"] == ["Drama"]
    # an integer model cannot hold a text id: stored, but not recommendable yet
    text = client.post("/items", json={"item_id": "new-title", "title": "T"}).json()
    assert text["vector"] == "none" and text["item"]["in_model"] is False


def test_post_item_with_features_gets_its_feature_vector(make_client, hybrid_model):
    client = make_client(hybrid_model)
    r = client.post("/items", json={"item_id": "777", "title": "Space Film", "genres": ["Sci-Fi"]})
    assert r.json()["vector"] == "features"
    q, b = hybrid_model.item_vector_from_features({"genres": "Sci-Fi", "title": None})
    # user 5's score of the new title is b + p_u·q, as the model's feature vectors say
    body = client.get("/users/5/predictions", params={"items": ["777"]}).json()
    expected = b + float(hybrid_model.user_factors_[5] @ q)
    assert body["predictions"][0]["score"] == pytest.approx(expected, abs=1e-4)
    rec = client.get("/users/5/recommendations", params={"n": 30}).json()
    assert "777" in ids(rec)
    similar = client.get("/items/777/similar", params={"n": 3}).json()
    assert len(similar["items"]) == 3


# ---------------------------------------------------------------------- operations
def test_health_and_the_page(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model_version"] == "v-test"
    assert body["store"] == "sqlite" and body["worker_pid"] > 0
    page = client.get("/")
    assert page.status_code in (200, 404)
    if page.status_code == 404:
        assert "web page" in page.json()["detail"]
    else:
        assert "<html" in page.text.lower()


def test_openapi_lists_every_route(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {
        "/users/{user_id}/recommendations",
        "/users/{user_id}/predictions",
        "/users/{user_id}/explain/{item_id}",
        "/users/{user_id}/ratings",
        "/users/{user_id}/ratings/{item_id}",
        "/users/{user_id}",
        "/users/{user_id}/onboarding",
        "/onboarding/questions",
        "/ratings",
        "/items",
        "/items/{item_id}",
        "/items/{item_id}/similar",
        "/genres",
        "/health",
        "/metrics",
        "/admin/reload",
    } <= paths
    assert client.get("/docs").status_code == 200


def test_store_rows_are_seen_by_the_service(client, store):
    store.add_ratings([Rating("zed", "100", 5.0), Rating("zed", "101", 5.0)])
    assert client.get("/users/zed/recommendations").json()["fallback"] is False


def test_erasing_a_trained_user_with_nothing_stored_reaches_every_worker(
    make_client, explicit_model
):
    """User 3 exists only in the model's training data (the store is empty): the erasure
    still ends their personal answers, in this worker and in another one."""
    a, b = make_client(explicit_model), make_client(explicit_model)
    assert b.get("/users/3/recommendations").json()["fallback"] is False  # b caches them
    r = a.delete("/users/3")
    assert r.status_code == 200 and r.json()["deleted"] == 0
    for client in (a, b):
        assert client.get("/users/3/recommendations").json()["fallback"] is True
        assert client.get("/users/3/explain/100").json()["supporting_items"] == []


def test_item_search_lists_the_most_rated_of_equal_matches_first(client, explicit_model):
    """Among titles that match alike (here all start with the text), the one the served
    model saw rated most comes first; it listed them by title, the most-rated last."""
    counts = explicit_model.catalog_.item_popularity
    order = np.argsort(-counts, kind="stable")
    most, middle, least = (str(explicit_model.catalog_.items.ids[k]) for k in order[[0, 5, -1]])
    assert counts[order[0]] > counts[order[5]] > counts[order[-1]]
    titles = {least: "Zorro A", middle: "Zorro B", most: "Zorro C", "new": "Zorro 0"}
    for item_id, title in titles.items():
        assert client.post("/items", json={"item_id": item_id, "title": title}).status_code == 201
    page = client.get("/items", params={"search": "zorro", "n": 3}).json()
    assert [x["item_id"] for x in page["items"]] == [most, middle, least]
    # A title the model has no rating of counts 0: last among the equals, paged alike.
    page = client.get("/items", params={"search": "zorro", "n": 3, "offset": 3}).json()
    assert [x["item_id"] for x in page["items"]] == ["new"]
