"""The API answers the web page leans on: search paging, genre matching, genres on every
list, and the rating scale the page clips scores to (TestClient)."""

import numpy as np
import pytest

from latentrec.store import Item

from .conftest import GENRES, N_ITEMS


@pytest.fixture
def genre_client(store, make_client, explicit_model):
    store.add_items([Item(str(100 + j), f"Film {j}", (GENRES[j % 3],)) for j in range(N_ITEMS)])
    return make_client(explicit_model)


def test_search_says_whether_another_page_follows(genre_client):
    client = genre_client
    first = client.get("/items", params={"search": "Film", "n": 20}).json()
    assert len(first["items"]) == 20 and first["has_more"] is True
    last = client.get("/items", params={"search": "Film", "n": 20, "offset": 20}).json()
    assert len(last["items"]) == N_ITEMS - 20 and last["has_more"] is False
    seen = [x["item_id"] for x in first["items"] + last["items"]]
    assert len(set(seen)) == N_ITEMS  # the two pages together: every match once
    exact = client.get("/items", params={"search": "Film", "n": N_ITEMS}).json()
    assert exact["has_more"] is False


def test_search_total_counts_every_match_on_all_pages(store, make_client, explicit_model):
    # Short titles over a tiny alphabet, so that most searches match many titles, some
    # titles missing (the id is searched), and zero to two genres each.
    rng = np.random.default_rng(7)
    letters = np.array(list("abAB "))
    added = []
    for j in range(240):
        title = "".join(rng.choice(letters, size=int(rng.integers(1, 7))))
        genres = tuple(sorted(set(rng.choice(GENRES, size=int(rng.integers(0, 3))).tolist())))
        added.append(Item(f"x{j}", None if rng.random() < 0.1 else title, genres))
    store.add_items(added)
    client = make_client(explicit_model)
    # The whole catalogue (the model's titles were added at start-up), as the slow reference.
    catalogue = store.search_items(limit=10_000)
    assert len(catalogue) == len(added) + N_ITEMS

    def brute_force(search, genre):
        key = (search or "").casefold()
        return {
            it.item_id
            for it in catalogue
            if (key in (it.title or "").casefold() or key in it.item_id.casefold())
            and (genre is None or genre in it.genres)
        }

    searches = [None, "a", "B", "ab", "a b", "bbb", "x1", "Film", "zz"]
    searches += ["".join(rng.choice(letters, size=int(rng.integers(1, 4)))) for _ in range(6)]
    for search in searches:
        for genre in [None, *GENRES]:
            want = brute_force(search, genre)
            params = {"n": 25, **({"search": search} if search else {})}
            params.update({"genre": genre} if genre else {})
            seen = []
            while True:
                body = client.get("/items", params={**params, "offset": len(seen)}).json()
                assert body["total"] == len(want), (search, genre)
                seen += [x["item_id"] for x in body["items"]]
                assert body["has_more"] is (len(seen) < len(want)), (search, genre)
                if not body["has_more"]:
                    break
            assert sorted(seen) == sorted(want), (search, genre)
    past = client.get("/items", params={"search": "a", "offset": 10_000}).json()
    assert past["items"] == [] and past["total"] == len(brute_force("a", None))


def test_genre_filter_ignores_case_and_names_the_known_genres(genre_client):
    client = genre_client
    canonical = client.get("/items", params={"genre": "Sci-Fi", "n": 50}).json()["items"]
    lower = client.get("/items", params={"genre": "sci-fi", "n": 50}).json()["items"]
    assert canonical and lower == canonical
    assert all(x["genres"] == ["Sci-Fi"] for x in lower)
    r = client.get("/items", params={"genre": "Western"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "Western" in detail and all(g in detail for g in GENRES)


def test_questions_and_stored_ratings_carry_genres(genre_client):
    client = genre_client
    questions = client.get("/onboarding/questions", params={"n": 4}).json()["questions"]
    assert questions and all(len(q["genres"]) == 1 for q in questions)
    q = questions[0]
    expected = client.get(f"/items/{q['item_id']}").json()["genres"]
    assert q["genres"] == expected
    body = {"ratings": [{"user_id": "g", "item_id": q["item_id"], "rating": 4}]}
    assert client.post("/ratings", json=body).status_code == 201
    rated = client.get("/users/g/ratings").json()["ratings"]
    assert [r["genres"] for r in rated] == [expected]


def test_health_gives_the_rating_scale_for_clipping(client):
    body = client.get("/health").json()
    assert body["rating_scale"] == [1.0, 5.0]
    assert body["predicts_ratings"] is True
