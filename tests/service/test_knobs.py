"""The re-ranking knobs of GET /users/{id}/recommendations (diversity, calibrate,
boost_new) and the genres in every listed item.

Each knob's list is checked against the pipeline's own re-ranker run by hand on the
model's plain candidate list (the slow obvious way), and on what the re-ranker promises:
a more varied list, genres closer to the user's, a new title brought up, no rated item
ever listed, and 422 with a message naming the knob for a bad value.
"""

import httpx
import numpy as np
import pytest

from latentrec.pipeline import calibrate, freshness, mmr
from latentrec.pipeline.stages import MMR_POOL
from latentrec.store import Item, Rating, open_store

from .conftest import GENRES, N_ITEMS, planted

USER = "3"


def item_genres(j: int) -> tuple[str, ...]:
    # Two genres for every fourth title, so that calibration has shares to weigh.
    first = GENRES[j % 3]
    return (first, GENRES[(j + 1) % 3]) if j % 4 == 0 else (first,)


@pytest.fixture
def genre_client(store, make_client, explicit_model):
    store.add_items([Item(str(100 + j), f"Film {j}", item_genres(j)) for j in range(N_ITEMS)])
    return make_client(explicit_model)


def listed(body):
    return [row["item_id"] for row in body["items"]]


def plain_pool(client, user=USER):
    """The model's whole candidate list for the user, with scores (what the knobs re-rank)."""
    body = client.get(f"/users/{user}/recommendations", params={"n": 100}).json()
    index = client.app.state.holder.current.item_index
    cands = np.array([index[x] for x in listed(body)])
    scores = np.array([row["score"] for row in body["items"]])
    return body, cands, scores


def rated_items(client, user=USER):
    rows = client.get(f"/users/{user}/ratings").json()["ratings"]
    return {row["item_id"] for row in rows}


def genre_matrix():
    m = np.zeros((N_ITEMS, len(GENRES)))
    for j in range(N_ITEMS):
        for g in item_genres(j):
            m[j, sorted(GENRES).index(g)] = 1.0
    return m


def test_every_listed_item_carries_its_genres(genre_client):
    for path, params in [
        (f"/users/{USER}/recommendations", {"n": 8}),
        ("/items/100/similar", {"n": 5}),
        (f"/users/{USER}/predictions", {"items": ["100", "104"]}),
    ]:
        body = genre_client.get(path, params=params).json()
        rows = body.get("items") or body["predictions"]
        assert rows
        for row in rows:
            assert row["genres"] == list(item_genres(int(row["item_id"]) - 100))


def test_items_without_catalogue_genres_have_an_empty_list(client):
    body = client.get(f"/users/{USER}/recommendations", params={"n": 3}).json()
    assert all(row["genres"] == [] for row in body["items"])


@pytest.mark.parametrize("diversity", [0.3, 0.8])
def test_diversity_is_mmr_over_the_models_candidates(genre_client, explicit_model, diversity):
    store_ratings = [Rating(USER, "105", 5.0), Rating(USER, "111", 1.0)]
    genre_client.app.state.store.add_ratings(store_ratings)
    _, cands, scores = plain_pool(genre_client)
    r = genre_client.get(f"/users/{USER}/recommendations", params={"n": 6, "diversity": diversity})
    assert r.status_code == 200
    body = r.json()
    expected = mmr(cands, scores, explicit_model.item_factors_, 6, 1.0 - diversity, pool=MMR_POOL)
    assert listed(body) == [str(100 + j) for j in expected]
    score_of = dict(zip(cands.tolist(), scores.tolist(), strict=True))
    assert np.allclose([row["score"] for row in body["items"]], [score_of[j] for j in expected])
    assert rated_items(genre_client) == {"105", "111"}
    assert not set(listed(body)) & rated_items(genre_client)

    # What MMR promises: the listed items are less alike than the plain top 6.
    def mean_cosine(items):
        v = explicit_model.item_factors_[items]
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        sim = v @ v.T
        return (sim.sum() - np.trace(sim)) / (len(items) * (len(items) - 1))

    assert mean_cosine(expected) < mean_cosine(cands[:6])


def test_calibrate_pulls_the_lists_genres_toward_the_users(genre_client):
    store = genre_client.app.state.store
    # A user who rated Sci-Fi titles only, well and badly: their taste is all Sci-Fi.
    scifi = [j for j in range(N_ITEMS) if item_genres(j) == ("Sci-Fi",)]
    store.add_ratings([Rating("fan", str(100 + j), 4.0) for j in scifi[:3]])
    _, cands, scores = plain_pool(genre_client, "fan")
    body = genre_client.get("/users/fan/recommendations", params={"n": 5, "calibrate": 0.9}).json()
    taste = np.zeros(len(GENRES))
    taste[sorted(GENRES).index("Sci-Fi")] = 1.0
    expected = calibrate(cands, scores, taste, genre_matrix(), 5, 0.9)
    assert listed(body) == [str(100 + j) for j in expected]
    plain_scifi = sum("Sci-Fi" in item_genres(j) for j in cands[:5])
    assert sum("Sci-Fi" in row["genres"] for row in body["items"]) > plain_scifi
    assert not set(listed(body)) & {str(100 + j) for j in scifi[:3]}


DAY = 86_400.0


def store_training_ratings(client, day_of=lambda j: j):
    """The model's training ratings into the store (as a served store holds them), item
    ``100 + j``'s first one on day ``day_of(j)`` of 1970 and every later one up to a day
    after it; returns each item's first timestamp and the newest one."""
    frame, _ = planted()
    rows = []
    for u, i, r, t in frame[["user_id", "item_id", "rating", "timestamp"]].itertuples(index=False):
        rows.append(Rating(str(u), str(i), float(r), day_of(i - 100) * DAY + float(t)))
    client.app.state.store.add_ratings(rows)
    first: dict[str, float] = {}
    for row in rows:
        first[row.item_id] = min(first.get(row.item_id, np.inf), row.timestamp)
    return first, max(row.timestamp for row in rows)


def test_boost_new_ages_run_to_the_newest_rating_not_to_a_title_added_now(genre_client):
    """docs/service.md: an age runs from a title's first rating to the store's newest
    rating; a title added through the service now is 0 days old and leaves the ages
    of the rated titles as they were (they measured from it: every rated title was
    decades old, the boost ~0 for all, and boost_new answered the plain list)."""
    first, newest = store_training_ratings(genre_client, day_of=lambda j: 3 * j)
    params = {"n": 8, "boost_new": 1.0}
    before = genre_client.get(f"/users/{USER}/recommendations", params=params).json()
    plain = genre_client.get(f"/users/{USER}/recommendations", params={"n": 8}).json()
    assert listed(before) != listed(plain)
    added = genre_client.post("/items", json={"item_id": "9001", "title": "Brand New Film 2"})
    assert added.status_code == 201
    served = genre_client.app.state.holder.current
    ages = genre_client.app.state.facts.ages(served)
    by_hand = np.array([(newest - first[str(100 + j)]) / DAY for j in range(N_ITEMS)] + [0.0])
    assert ages.shape == by_hand.shape
    assert np.allclose(ages, by_hand)
    assert ages.max() > 80  # three days apart, from day 0 to day 87

    def check_every_weight():
        served = genre_client.app.state.holder.current
        assert np.allclose(genre_client.app.state.facts.ages(served), by_hand)
        for weight in (0.1, 1.0, 10.0):
            boosted = genre_client.get(
                f"/users/{USER}/recommendations", params={"n": 8, "boost_new": weight}
            ).json()
            _, cands, scores = plain_pool(genre_client)
            expected = freshness(cands, scores, by_hand, 8, weight, half_life=30.0)
            assert listed(boosted) == [served.item_ids[j] for j in expected]
            assert listed(boosted) != listed(plain) or weight < 1

    check_every_weight()
    assert genre_client.post("/admin/reload", params={"force": "true"}).status_code == 200
    check_every_weight()


def test_boost_new_lists_a_title_added_since_training_from_outside_the_pool(
    genre_client, monkeypatch
):
    """A title added through the service has a zero vector and an average score, so it
    is not among the model's top candidates; with boost_new it joins them at the floor
    of their relevance, so boost_new brings it up: the list is freshness over the
    candidates plus that title (the slow obvious way), and without the knob nothing
    changes."""
    import latentrec.service.knobs as knobs

    # A pool of 5 of the 30 titles (100 of ML-100K's 1,682, where the reviewer saw it).
    monkeypatch.setattr(knobs, "POOL", 5)
    monkeypatch.setattr(knobs, "POOL_PER_SLOT", 1)
    store_training_ratings(genre_client)
    plain_before = genre_client.get(f"/users/{USER}/recommendations", params={"n": 3}).json()
    assert genre_client.post("/items", json={"item_id": "999", "title": "New"}).status_code == 201
    plain = genre_client.get(f"/users/{USER}/recommendations", params={"n": 3}).json()
    assert listed(plain) == listed(plain_before) and "999" not in listed(plain)
    served = genre_client.app.state.holder.current
    new = served.item_index["999"]
    _, everything, all_scores = plain_pool(genre_client)
    assert new not in everything[:5].tolist()
    ages = genre_client.app.state.facts.ages(served)
    assert ages[new] == 0.0
    for weight in (0.5, 2.0, 10.0):
        body = genre_client.get(
            f"/users/{USER}/recommendations", params={"n": 3, "boost_new": weight}
        ).json()
        cands = np.append(everything[:5], new)
        rel = np.append(all_scores[:5], all_scores[:5].min())
        expected = freshness(cands, rel, ages, 3, weight, half_life=30.0)
        assert listed(body) == [served.item_ids[j] for j in expected]
        row = {r["item_id"]: r for r in body["items"]}.get("999")
        if row is not None:  # the model's own score, as for every listed item
            assert row["score"] == pytest.approx(all_scores[everything.tolist().index(new)])
    top = genre_client.get(f"/users/{USER}/recommendations", params={"n": 3, "boost_new": 10})
    assert listed(top.json())[0] == "999"
    # Excluded or rated, it never joins.
    for params in ({"exclude": ["999"]}, {"items": ["100", "101", "102"]}):
        body = genre_client.get(
            f"/users/{USER}/recommendations", params={"n": 3, "boost_new": 10, **params}
        ).json()
        assert "999" not in listed(body)
    genre_client.post("/ratings", json={"user_id": USER, "item_id": "999", "rating": 2})
    body = genre_client.get(f"/users/{USER}/recommendations", params={"n": 3, "boost_new": 10})
    assert "999" not in listed(body.json())


def test_titles_the_model_learned_do_not_join_from_outside_the_pool(genre_client, monkeypatch):
    """Only titles the model has no rating of join: a learned title outside the top
    candidates is out for its score, and boost_new re-ranks the candidates alone."""
    import latentrec.service.knobs as knobs

    monkeypatch.setattr(knobs, "POOL", 5)
    monkeypatch.setattr(knobs, "POOL_PER_SLOT", 1)
    # The titles outside the user's top 5 are the youngest: they would win a boost.
    _, everything, _ = plain_pool(genre_client)
    rank = {str(100 + j): k for k, j in enumerate(everything.tolist())}
    store_training_ratings(genre_client, day_of=lambda j: rank.get(str(100 + j), 0))
    _, cands, scores = plain_pool(genre_client)
    ages = genre_client.app.state.facts.ages(genre_client.app.state.holder.current)
    body = genre_client.get(
        f"/users/{USER}/recommendations", params={"n": 3, "boost_new": 10}
    ).json()
    expected = freshness(cands[:5], scores[:5], ages, 3, 10.0, half_life=30.0)
    assert listed(body) == [str(100 + j) for j in expected]


def test_knobs_apply_to_the_popularity_fallback_too(genre_client):
    body = genre_client.get(
        "/users/someone-new/recommendations", params={"n": 4, "diversity": 0.5}
    ).json()
    assert body["fallback"] is True and len(body["items"]) == 4


def test_knobs_at_zero_are_the_plain_list(genre_client):
    plain = genre_client.get(f"/users/{USER}/recommendations", params={"n": 7}).json()
    zero = genre_client.get(
        f"/users/{USER}/recommendations",
        params={"n": 7, "diversity": 0, "calibrate": 0.0, "boost_new": 0},
    ).json()
    assert zero == plain


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"diversity": 1.5}, "diversity"),
        ({"diversity": -0.1}, "diversity"),
        ({"diversity": "nan"}, "diversity"),
        ({"diversity": "lots"}, "diversity"),
        ({"calibrate": 2}, "calibrate"),
        ({"calibrate": "inf"}, "calibrate"),
        ({"boost_new": -1}, "boost_new"),
        ({"boost_new": 11}, "boost_new"),
    ],
)
def test_bad_knob_values_are_422_naming_the_knob(genre_client, params, named):
    r = genre_client.get(f"/users/{USER}/recommendations", params=params)
    assert r.status_code == 422
    assert named in r.json()["detail"]


def test_calibrate_without_genres_is_422_saying_why(client):
    r = client.get(f"/users/{USER}/recommendations", params={"calibrate": 0.5})
    assert r.status_code == 422
    assert "genres" in r.json()["detail"]


def test_the_knobs_are_documented_in_openapi(genre_client):
    spec = genre_client.get("/openapi.json").json()
    params = spec["paths"]["/users/{user_id}/recommendations"]["get"]["parameters"]
    documented = {p["name"]: p for p in params}
    for knob in ("diversity", "calibrate", "boost_new"):
        assert documented[knob]["description"]
        assert documented[knob]["schema"]["minimum"] == 0


@pytest.mark.parametrize(
    "knobs",
    [
        {"diversity": 0.5},
        {"calibrate": 0.5},
        {"boost_new": 1.0},
        {"diversity": 0.3, "calibrate": 0.3},
    ],
)
def test_knobs_rerank_a_ranking_models_popularity_list_by_its_order(
    store, make_client, hybrid_model, knobs
):
    """A ranking model's popularity fallback has no scores (null): the knobs take each
    title's number of users as the relevance, as a Pipeline's fallback does."""
    store.add_items([Item(str(100 + j), f"Film {j}", item_genres(j)) for j in range(N_ITEMS)])
    store.add_ratings([Rating("someone", "101", 4.0, 1000.0)])
    client = make_client(hybrid_model)
    body, cands, scores = plain_pool(client, "someone-new")
    assert body["fallback"] is True and all(s is None for s in scores)
    r = client.get("/users/someone-new/recommendations", params={"n": 5, **knobs})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["fallback"] is True and all(row["score"] is None for row in got["items"])
    users = hybrid_model.catalog_.item_popularity[cands].astype(np.float64)
    if set(knobs) == {"diversity"}:
        expected = mmr(
            cands, users, hybrid_model.item_factors_, 5, 1.0 - knobs["diversity"], pool=MMR_POOL
        )
        assert listed(got) == [str(100 + j) for j in expected]
    assert len(set(listed(got))) == 5 and set(listed(got)) <= set(listed(body))


def test_genres_changed_through_another_worker_arrive_with_its_refresh(
    store, make_client, explicit_model
):
    """A title's genres edited through worker a (or by any writer of the store) reach
    worker b's answers and calibration within its refresher's catalogue check."""
    from latentrec.service.refresh import ITEM_CHECK_TICKS

    store.add_items([Item(str(100 + j), f"Film {j}", item_genres(j)) for j in range(N_ITEMS)])
    a, b = make_client(explicit_model), make_client(explicit_model)

    def genres_of(client, item):
        body = client.get("/users/someone/predictions", params={"items": [item]}).json()
        return body["predictions"][0]["genres"]

    assert genres_of(b, "101") == list(item_genres(1))
    r = a.post("/items", json={"item_id": "101", "title": "Film 1", "genres": ["Western"]})
    assert r.status_code == 201
    assert genres_of(a, "101") == ["Western"]
    for _ in range(ITEM_CHECK_TICKS):
        b.app.state.refresher.tick()
    assert genres_of(b, "101") == ["Western"]
    assert "Western" in b.app.state.facts.get(b.app.state.holder.current).genre_names


def test_a_background_refresh_never_undoes_an_edit_made_meanwhile():
    """The refresher reads the catalogue in its thread while a request of this worker
    edits a title (and forgets the facts): the refresh's older read is not swapped in."""
    import threading

    from latentrec.models import FactorModel
    from latentrec.service.holder import Served
    from latentrec.service.knobs import FactsCache

    served = Served.build(FactorModel.from_factors(([1], ["a"]), np.eye(1)), "v")
    catalogue = [Item("a", "Aye", ("Drama",))]
    reading, release = threading.Event(), threading.Event()

    def read_catalogue():
        snapshot = list(catalogue)
        if threading.current_thread().name == "refresher":
            reading.set()
            release.wait(10)  # the edit lands while this older read is in hand
        return snapshot

    cache = FactsCache(read_catalogue, dict)
    assert cache.get(served).genres == [["Drama"]]
    refresher = threading.Thread(target=cache.refresh, args=(served,), name="refresher")
    refresher.start()
    assert reading.wait(10)
    catalogue[0] = Item("a", "Aye", ("Western",))  # the request's edit, then forget()
    cache.forget()
    release.set()
    refresher.join(10)
    assert cache.get(served).genres == [["Western"]]


def test_newcomers_and_their_join_match_the_slow_obvious_way():
    """newcomers: the n youngest of known age outside the pool, banned and items, by a
    sort of every item; and a list with them joined is the list that every such item
    would give as a candidate at the floor of the relevance (random inputs)."""
    from latentrec.models import FactorModel
    from latentrec.service.holder import Served
    from latentrec.service.knobs import ItemFacts, newcomers, rerank

    rng = np.random.default_rng(7)
    for _ in range(200):
        n_items = int(rng.integers(1, 40))
        ages = rng.choice([np.nan, 0.0, 3.0], n_items) + rng.random(n_items) * 90
        order = rng.permutation(n_items)
        pool = order[: int(rng.integers(0, n_items + 1))]
        banned = rng.choice(n_items, int(rng.integers(0, 4)))
        items = rng.choice(n_items, int(rng.integers(0, n_items + 1)), replace=False)
        if rng.random() < 0.3:
            items = None
        n = int(rng.integers(1, 8))
        allowed = range(n_items) if items is None else set(items.tolist())
        slow = sorted(
            (ages[j], j)
            for j in allowed
            if not np.isnan(ages[j]) and j not in set(pool.tolist()) | set(banned.tolist())
        )
        got = newcomers(ages, pool, n, banned=banned, items=items)
        assert got.tolist() == [j for _, j in slow[:n]]

        # The join: freshness over the pool and every allowed outsider at the floor.
        if pool.size == 0 or np.isnan(ages).all():
            continue
        vectors = rng.normal(size=(n_items, 2))
        served = Served.build(FactorModel.from_factors(([1], list(range(n_items))), vectors), "v")
        scores = np.sort(rng.normal(size=pool.size))[::-1]
        weight = float(rng.uniform(0.1, 10))
        fast = rerank(
            served,
            ItemFacts.build(served, []),
            pool,
            scores,
            n,
            rated=np.empty(0, int),
            boost_new=weight,
            ages=ages,
            joining=got,
        )
        every = np.array([j for _, j in slow], dtype=np.int64)
        cands = np.concatenate([pool, every])
        rel = np.concatenate([scores, np.full(every.size, scores.min())])
        assert fast.tolist() == freshness(cands, rel, ages, n, weight).tolist()


def test_diversity_reorders_only_the_models_best_fifty(make_client):
    """The knob runs MMR's validated setting (``MMR_POOL``), as ``recommend --diversity``
    does: even at diversity 1 every listed item is among the model's best 50, where MMR
    over all 100+ candidates reaches far down the list."""
    from latentrec.models import FactorModel

    rng = np.random.default_rng(5)
    ids = [str(j) for j in range(150)]
    model = FactorModel.from_factors(
        (["u"], ids), rng.normal(size=(150, 4)), rng.normal(size=(1, 4))
    )
    client = make_client(model)
    _, cands, scores = plain_pool(client, "u")
    assert cands.size == 100 > MMR_POOL
    best = {str(j) for j in cands[:MMR_POOL]}
    r = client.get("/users/u/recommendations", params={"n": 10, "diversity": 1.0})
    assert r.status_code == 200, r.text
    got = listed(r.json())
    assert got == [str(j) for j in mmr(cands, scores, model.item_factors_, 10, 0.0, pool=MMR_POOL)]
    assert set(got) <= best
    # The check has teeth: over every candidate, MMR leaves the best 50.
    assert not {str(j) for j in mmr(cands, scores, model.item_factors_, 10, 0.0)} <= best


def test_users_new_to_the_model_get_knobs_over_their_own_list_on_a_real_server(
    serve, model_files, tmp_path
):
    """A user the model does not know, onboarded (``POST /users/{id}/onboarding``) or
    rating (``POST /ratings``) through a running ``latentrec serve`` with two workers,
    gets each knob's list from their folded-in candidates, the ones they get without a
    knob: no fallback, and each listed item with their own score, not the popularity
    list's (μ + b_i)."""
    store_path = tmp_path / "ratings.sqlite"
    with open_store(store_path) as stored:
        stored.add_items([Item(str(100 + j), f"Film {j}", item_genres(j)) for j in range(N_ITEMS)])
    model = str(model_files["explicit"])
    url = serve("--model", model, "--store", str(store_path), "--workers", "2").url
    answers = [{"item_id": "104", "rating": 5}, {"item_id": "107", "rating": 1}]
    first = httpx.post(f"{url}/users/asked/onboarding", json={"answers": answers, "n": 5})
    assert first.status_code == 200 and first.json()["fallback"] is False
    rating = {"user_id": "rater", "item_id": "112", "rating": 5}
    assert httpx.post(f"{url}/ratings", json=rating).status_code == 201
    stranger = httpx.get(f"{url}/users/stranger/recommendations", params={"n": 30}).json()
    popular = {row["item_id"]: row["score"] for row in stranger["items"]}
    every = {"diversity": 0.5, "calibrate": 0.5, "boost_new": 1.0}
    settings = [{k: v} for k, v in every.items()] + [every]
    for user in ("asked", "rater"):
        plain = httpx.get(f"{url}/users/{user}/recommendations", params={"n": 30}).json()
        assert plain["fallback"] is False
        own = {row["item_id"]: row["score"] for row in plain["items"]}
        assert any(not np.isclose(own[x], popular[x]) for x in own)  # a list of their own
        for knobs in settings:
            for _ in range(4):  # new connections: both workers answer
                r = httpx.get(f"{url}/users/{user}/recommendations", params={"n": 8, **knobs})
                body = r.json()
                assert r.status_code == 200 and body["fallback"] is False, (user, knobs, body)
                assert len(listed(body)) == 8 and set(listed(body)) <= set(own)
                got = [row["score"] for row in body["items"]]
                assert np.allclose(got, [own[x] for x in listed(body)]), (user, knobs)


@pytest.mark.parametrize("user", [USER, "nobody"])
def test_the_service_and_the_command_give_one_list(make_client, model_files, user):
    """`latentrec recommend --diversity` on a model file and the service's
    query parameters on the same model give the same list, for a user the model knows
    (its own candidates and scores) and for one it does not (the popularity list, each
    title's number of users as relevance), at an n past the 200 candidates' 5 per slot."""
    import json

    from click.testing import CliRunner

    from latentrec import load
    from latentrec.cli import main

    path = model_files["hybrid"]
    client = make_client(load(path))
    for n in (10, 45):
        params = {"n": n, "diversity": 0.6}
        args = ["recommend", str(path), "--user", user, "-n", str(n), "--diversity", "0.6"]
        r = CliRunner().invoke(main, [*args, "--json"])
        assert r.exit_code == 0, r.output
        rows = json.loads(r.stdout)
        got = client.get(f"/users/{user}/recommendations", params=params).json()
        assert [str(row["item_id"]) for row in rows] == listed(got)
        assert got["fallback"] is (user == "nobody")
