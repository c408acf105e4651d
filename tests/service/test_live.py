"""Live updates: a rating re-folds the user at once; the store, not a worker, is the truth.

References are the model's own fold-in (``fold_in`` with a dict of ratings) and top-n
for a vector (``recommend_vectors``), computed here the slow obvious way.
"""

import threading

import numpy as np
import pytest

from latentrec.store import Rating


def top_for(model, ratings: dict, n: int, exclude=()):
    """The top-n item ids for a user folded in from ``ratings`` (the reference)."""
    vec = model.fold_in(ratings)
    banned = np.zeros(model.n_items, dtype=bool)
    banned[model.items_.index(list(ratings) + list(exclude))] = True
    top, scores = model.recommend_vectors([vec.bias], vec.factors[None], n, filter_items=banned)
    keep = top[0] >= 0
    return [str(model.items_.ids[i]) for i in top[0][keep]], scores[0][keep]


def rate(client, user, item, value, kind="explicit"):
    r = client.post(
        "/ratings", json={"user_id": user, "item_id": str(item), "rating": value, "kind": kind}
    )
    assert r.status_code == 201, r.text
    return r.json()


def recs(client, user, n=8):
    return client.get(f"/users/{user}/recommendations", params={"n": n}).json()


def test_a_new_user_exists_from_their_first_rating(client, explicit_model):
    assert recs(client, "newcomer")["fallback"] is True
    rate(client, "newcomer", 100, 5)
    body = recs(client, "newcomer")
    expected, scores = top_for(explicit_model, {100: 5.0}, 8)
    assert body["fallback"] is False
    assert [x["item_id"] for x in body["items"]] == expected
    assert np.allclose([x["score"] for x in body["items"]], scores, atol=1e-4)


def test_each_rating_changes_the_next_answer(client, explicit_model):
    given = {}
    previous = None
    for item, value in [(100, 5.0), (103, 1.0), (107, 4.0), (112, 2.0)]:
        rate(client, "ann", item, value)
        given[item] = value
        body = recs(client, "ann", n=10)
        expected, _ = top_for(explicit_model, given, 10)
        ranked = [x["item_id"] for x in body["items"]]
        assert ranked == expected
        assert str(item) not in ranked  # a rated item is never recommended back
        assert ranked != previous
        previous = ranked


def test_a_rerated_item_keeps_the_latest_value(client, explicit_model):
    rate(client, "bo", 100, 1.0)
    rate(client, "bo", 100, 5.0)
    expected, _ = top_for(explicit_model, {100: 5.0}, 5)
    assert [x["item_id"] for x in recs(client, "bo", 5)["items"]] == expected


def test_deleting_a_rating_refolds_without_it(client, explicit_model):
    rate(client, "cy", 100, 5.0)
    rate(client, "cy", 101, 1.0)
    client.delete("/users/cy/ratings/101")
    expected, _ = top_for(explicit_model, {100: 5.0}, 6)
    assert [x["item_id"] for x in recs(client, "cy", 6)["items"]] == expected


def test_a_trained_users_new_rating_joins_their_training_row(client, explicit_model):
    """The store lacks user 3's training ratings: their row joins the fold-in, valued at
    the model's own predictions, and the new rating overrides nothing it shares."""
    trained = explicit_model.seen_[3].indices
    new_item = next(i for i in range(explicit_model.n_items) if i not in set(trained))
    new_id = int(explicit_model.items_.ids[new_item])
    rated_ids = [int(x) for x in explicit_model.items_.ids[trained]]
    predicted = np.clip(explicit_model.predict([3] * len(rated_ids), rated_ids), 1, 5)
    reference = dict(zip(rated_ids, predicted.tolist(), strict=True))
    reference[new_id] = 1.0
    rate(client, "3", new_id, 1.0)
    expected, _ = top_for(explicit_model, reference, 6)
    assert [x["item_id"] for x in recs(client, "3", 6)["items"]] == expected


def unrated_item(model, user: int) -> int:
    """The id of the first item outside the training row of ``user`` (a model index)."""
    trained = set(model.seen_[user].indices.tolist())
    return int(model.items_.ids[next(i for i in range(model.n_items) if i not in trained)])


def check_rating_posted_and_deleted_leaves_the_training_list(a, b, model):
    """Training user 3 posts a rating and deletes it: both workers (``b`` cached them
    first) answer the model's own list again, personal, none of their training items."""
    expected = [str(x) for x in model.recommend(3, n=8).ids]
    assert [x["item_id"] for x in recs(b, "3")["items"]] == expected
    new_id = unrated_item(model, 3)
    rate(a, "3", new_id, 1.0)
    assert a.delete(f"/users/3/ratings/{new_id}").status_code == 200
    trained = {str(x) for x in model.items_.ids[model.seen_[3].indices]}
    for client in (a, b):
        body = recs(client, "3")
        assert body["fallback"] is False
        assert [x["item_id"] for x in body["items"]] == expected
        assert not trained & {x["item_id"] for x in body["items"]}


def check_an_erased_users_new_rating_is_folded_in_alone(a, b, model):
    """After ``DELETE /users/3`` their training row is never used again: a rating they
    post afterwards is folded in on its own, in every worker."""
    assert recs(b, "3")["fallback"] is False
    assert a.delete("/users/3").status_code == 200
    new_id = unrated_item(model, 3)
    rate(a, "3", new_id, 4.0)
    expected, _ = top_for(model, {new_id: 4.0}, 8)
    for client in (a, b):
        assert [x["item_id"] for x in recs(client, "3")["items"]] == expected
    assert a.delete(f"/users/3/ratings/{new_id}").status_code == 200
    for client in (a, b):
        assert recs(client, "3")["fallback"] is True


def test_a_rating_posted_and_deleted_leaves_a_training_user_as_they_were(
    make_client, explicit_model
):
    a, b = make_client(explicit_model), make_client(explicit_model)
    check_rating_posted_and_deleted_leaves_the_training_list(a, b, explicit_model)


def test_an_erased_training_users_new_rating_is_folded_in_alone(make_client, explicit_model):
    a, b = make_client(explicit_model), make_client(explicit_model)
    check_an_erased_users_new_rating_is_folded_in_alone(a, b, explicit_model)


def test_events_mark_seen_but_do_not_move_a_rating_model(client, explicit_model):
    rate(client, "dee", 100, 5.0)
    before = recs(client, "dee", 10)["items"]
    target = before[0]["item_id"]
    rate(client, "dee", target, 1.0, kind="event")
    after = [x["item_id"] for x in recs(client, "dee", 10)["items"]]
    assert target not in after
    assert after == [x["item_id"] for x in before[1:]] + after[9:]


def test_a_stars_trained_hybrid_counts_every_star_and_events_as_positives(
    make_client, hybrid_model
):
    # Trained on stars with no min_rating, HybridMF took every star as a positive, a low
    # one too; so does its fold-in (other kinds and families: test_live_kind.py).
    client = make_client(hybrid_model)
    rate(client, "fan", 100, 5.0)
    rate(client, "fan", 101, 2.0)
    rate(client, "fan", 102, 3.0, kind="event")
    body = recs(client, "fan", 6)
    vec = hybrid_model.fold_in({100: 1.0, 101: 1.0, 102: 3.0})
    banned = np.zeros(hybrid_model.n_items, bool)
    banned[hybrid_model.items_.index([100, 101, 102])] = True
    top, _ = hybrid_model.recommend_vectors([vec.bias], vec.factors[None], 6, filter_items=banned)
    assert [x["item_id"] for x in body["items"]] == [
        str(hybrid_model.items_.ids[i]) for i in top[0]
    ]


def test_a_cached_user_is_not_folded_again(client):
    rate(client, "gus", 100, 4.0)
    live = client.app.state.live
    folds = live.fold_ins
    for _ in range(5):
        recs(client, "gus")
    assert live.fold_ins == folds
    rate(client, "gus", 101, 4.0)
    recs(client, "gus")
    assert live.fold_ins == folds + 1


def test_two_apps_on_one_store_see_each_others_ratings(make_client, explicit_model):
    """Two apps (as two workers would be) over one store: a rating through one shows in
    the other's next answer, though the other had the user cached."""
    a = make_client(explicit_model)
    b = make_client(explicit_model)
    rate(a, "hal", 100, 5.0)
    assert recs(b, "hal")["fallback"] is False
    first = [x["item_id"] for x in recs(b, "hal")["items"]]
    rate(a, "hal", 104, 1.0)
    expected, _ = top_for(explicit_model, {100: 5.0, 104: 1.0}, 8)
    assert [x["item_id"] for x in recs(b, "hal")["items"]] == expected != first
    a.delete("/users/hal")
    assert recs(b, "hal")["fallback"] is True


def test_ratings_written_outside_the_api_are_read_on_the_next_request(client, store):
    recs(client, "ivy")
    store.add_ratings([Rating("ivy", "100", 5.0)])
    assert recs(client, "ivy")["fallback"] is False


def test_concurrent_writers_and_readers(client, explicit_model):
    """Threads rate and read at once; every answer is 2xx and each user ends folded from
    all their ratings."""
    users = [f"t{k}" for k in range(4)]
    items = [100 + j for j in range(6)]
    errors = []

    def writer(user):
        for j, item in enumerate(items):
            r = client.post(
                "/ratings", json={"user_id": user, "item_id": str(item), "rating": 1 + j % 5}
            )
            if r.status_code != 201:
                errors.append(r.text)

    def reader(user):
        for _ in range(15):
            r = client.get(f"/users/{user}/recommendations")
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=f, args=(u,)) for u in users for f in (writer, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for user in users:
        expected, _ = top_for(explicit_model, {i: 1 + j % 5 for j, i in enumerate(items)}, 8)
        assert [x["item_id"] for x in recs(client, user)["items"]] == expected


@pytest.mark.parametrize("n", [1, 3])
def test_fallback_list_leaves_out_what_the_user_rated(client, explicit_model, n):
    """A user whose only stored ratings are events on a rating model has no vector yet:
    the popularity list, without the items they touched."""
    popular = [str(x) for x in explicit_model.recommend("nobody", n=n).ids]
    for item in popular:
        rate(client, "jo", item, 1.0, kind="event")
    body = recs(client, "jo", n)
    assert body["fallback"] is True
    assert not set(popular) & {x["item_id"] for x in body["items"]}


@pytest.mark.parametrize("which", ["explicit", "hybrid"])
def test_warming_folds_in_every_stored_user_as_a_request_would(
    which, explicit_model, hybrid_model, store
):
    """The bulk warm-up gives each user exactly the state the per-request path computes."""
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers

    model = explicit_model if which == "explicit" else hybrid_model
    served = Served.build(model, "v")
    trained = [str(x) for x in model.items_.ids[model.seen_[3].indices[:2]]]
    store.add_ratings(
        [
            Rating("ann", "100", 5.0),
            Rating("ann", "101", 2.0),
            Rating("ann", "101", 3.0, kind="event"),
            Rating("bob", "102", 4.0, kind="event"),
            Rating("bob", "unknown-item", 4.0),
            # Stored values that do not cover the training row: the merge needs the
            # user's erasure mark, so both are left to the request path.
            Rating("3", trained[0], 1.0),
            Rating("4", "129", 5.0),
            *[Rating(f"u{k}", str(100 + k), 1.0 + k % 5) for k in range(20)],
        ]
    )
    warm = LiveUsers(store)
    count = warm.warm(served)
    reference = LiveUsers(store)
    users = ["ann", "bob", "3", "4", *[f"u{k}" for k in range(20)]]
    assert count == len(warm.cache) == len(users) - 2
    for user in users:
        expected = reference.compute(served, user, store.user_version(user))
        got = warm.cache.get(user)
        if got is None:
            assert user in {"3", "4"}
            continue
        assert got.version == expected.version and got.source == expected.source
        assert np.array_equal(got.rated, expected.rated), user
        if expected.factors is None:
            assert got.factors is None
        else:
            assert got.bias == pytest.approx(expected.bias, abs=1e-5)
            assert np.allclose(got.factors, expected.factors, atol=1e-5), user


def test_health_says_when_a_worker_is_warm(make_client, explicit_model, store):
    store.add_ratings([Rating(f"w{k}", str(100 + k), 4.0) for k in range(5)])
    client = make_client(explicit_model)
    client.app.state.refresher.warm_done.wait(30)
    body = client.get("/health").json()
    assert body["warm"] is True and body["cached_users"] == 5


def test_a_title_added_through_another_worker_arrives_with_the_next_refresh(
    make_client, hybrid_model
):
    a = make_client(hybrid_model)
    # Its rounds run when the test says (only every ITEM_CHECK_TICKS-th round looks for
    # titles: one of its own before a's post would leave the next one blind to it).
    b = make_client(hybrid_model, poll_seconds=3600.0)
    r = a.post("/items", json={"item_id": "900", "title": "Later", "genres": ["Comedy"]})
    assert r.json()["vector"] == "features"
    assert b.get("/users/5/predictions", params={"items": ["900"]}).status_code == 404
    b.app.state.refresher.tick()
    body = b.get("/users/5/predictions", params={"items": ["900"]}).json()
    mine = a.get("/users/5/predictions", params={"items": ["900"]}).json()
    assert body["predictions"][0]["score"] == pytest.approx(mine["predictions"][0]["score"])
    served = b.app.state.holder.current
    b.app.state.refresher.tick()  # nothing new: the served model stays as it is
    assert b.app.state.holder.current is served


def test_event_weights_outside_a_ranking_models_scale_are_clipped_to_it(
    make_client, hybrid_model, store
):
    """HybridMF here ranks, but was trained on 1-5 stars: its fold-in refuses values
    outside 1-5, and an event's stored weight (a sum of weights) can be anything above 0."""
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers

    assert not hybrid_model.predicts_ratings and hybrid_model.rating_scale_ == (1.0, 5.0)
    client = make_client(hybrid_model)
    rate(client, "heavy", 102, 4.0, kind="event")
    rate(client, "heavy", 102, 4.0, kind="event")  # stored weight 8
    rate(client, "light", 103, 0.25, kind="event")
    for user, ratings in [("heavy", {102: 5.0}), ("light", {103: 1.0})]:
        r = client.get(f"/users/{user}/recommendations", params={"n": 6})
        assert r.status_code == 200, r.text
        vec = hybrid_model.fold_in(ratings)
        banned = np.zeros(hybrid_model.n_items, bool)
        banned[hybrid_model.items_.index(list(ratings))] = True
        top, _ = hybrid_model.recommend_vectors(
            [vec.bias], vec.factors[None], 6, filter_items=banned
        )
        assert r.json()["fallback"] is False
        assert [x["item_id"] for x in r.json()["items"]] == [
            str(hybrid_model.items_.ids[i]) for i in top[0]
        ]
    # The bulk warm-up takes the same values (a refused value failed it for everyone).
    served = Served.build(hybrid_model, "v")
    warm = LiveUsers(store)
    assert warm.warm(served) == 2
    reference = LiveUsers(store)
    for user in ("heavy", "light"):
        expected = reference.compute(served, user, store.user_version(user))
        assert np.allclose(warm.cache[user].factors, expected.factors, atol=1e-5)


def test_a_committed_rating_is_acknowledged_though_its_refold_fails(
    client, store, explicit_model, monkeypatch
):
    """The store failing between the commit and the re-fold: the rating is durable, so
    the answer is 201 (a client retrying a 503 would add an event's weight twice), and
    the user's next request folds it in."""
    from latentrec.store import StoreUnavailableError

    real = store.user_record

    def down(user_id):
        raise StoreUnavailableError("the store went away")

    monkeypatch.setattr(store, "user_record", down)
    r = client.post("/ratings", json={"user_id": "kim", "item_id": "100", "rating": 5})
    assert r.status_code == 201, r.text
    assert [(x.item_id, x.value) for x in store.user_ratings("kim")] == [("100", 5.0)]
    assert client.get("/users/kim/recommendations").status_code == 503
    monkeypatch.setattr(store, "user_record", real)
    expected, _ = top_for(explicit_model, {100: 5.0}, 8)
    assert [x["item_id"] for x in recs(client, "kim")["items"]] == expected


def unscaled_ranking_model():
    """A ranking model with no rating scale: its fold-in takes any finite weight, and
    one of 1e300 overflows its float32 solve (FloatingPointError)."""
    from latentrec.models import FactorModel

    rng = np.random.default_rng(0)
    ids = [str(100 + j) for j in range(8)]
    return FactorModel.from_factors(
        (["a", "b"], ids), rng.normal(size=(8, 2)), rng.normal(size=(2, 2)), predicts_ratings=False
    )


# The fold-in's cast of 1e300 to float32 warns before its solve fails.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_user_whose_values_break_the_solve_falls_back_alone(make_client, store):
    model = unscaled_ranking_model()
    store.add_ratings(
        [Rating("huge", "101", 1e300, kind="event"), Rating("fine", "102", 2.0, kind="event")]
    )
    client = make_client(model)
    assert client.app.state.refresher.warm_done.wait(10)
    assert client.app.state.refresher.thread.is_alive()
    body = recs(client, "huge", n=8)
    assert body["fallback"] is True and "101" not in [x["item_id"] for x in body["items"]]
    fine = recs(client, "fine", n=3)
    vec = model.fold_in({"102": 2.0})
    banned = np.zeros(model.n_items, bool)
    banned[model.items_.index(["102"])] = True
    top, _ = model.recommend_vectors([vec.bias], vec.factors[None], 3, filter_items=banned)
    assert fine["fallback"] is False
    assert [x["item_id"] for x in fine["items"]] == [str(model.items_.ids[i]) for i in top[0]]


def test_the_refresher_outlives_an_unexpected_error(
    make_client, explicit_model, store, monkeypatch
):
    """Any error in a round is logged and the next round runs: a dead refresher would
    never load a new model version again."""
    client = make_client(explicit_model, poll_seconds=0.05)
    refresher = client.app.state.refresher
    assert refresher.warm_done.wait(10)
    rounds = []

    def broken():
        rounds.append(1)
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(store, "checkpoint", broken)
    deadline = threading.Event()
    for _ in range(200):
        if len(rounds) >= 3:
            break
        deadline.wait(0.05)
    assert len(rounds) >= 3 and refresher.thread.is_alive()


def test_warming_says_why_it_skips_stored_ratings_no_fold_can_take(
    store, explicit_model, tmp_path, caplog
):
    """A NaN written into the store by hand makes the bulk read refuse (as a retrain
    does); warming skipped those ratings without a word.  It now logs why and warms
    nobody: it went on with the other kind, and cached a user holding both kinds from
    their events alone, so a request finding them cached got their rated titles
    recommended back (``test_ratings_not_finite_listed`` failed when the warm-up won
    the race).  Each user is folded in when asked for, from everything stored."""
    import logging
    import sqlite3

    from latentrec.service.hardening import ERROR_LOGGER
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers

    store.add_ratings(
        [
            Rating("ann", "100", 5.0),
            Rating("ann", "101", 3.0),
            Rating("ann", "102", 2.0, kind="event"),
            Rating("bob", "102", 4.0, kind="event"),
        ]
    )
    with sqlite3.connect(tmp_path / "ratings.sqlite") as conn:
        conn.execute(
            "UPDATE lr_ratings SET value = 'NaN' WHERE user_id = 'ann' AND item_id = '100'"
        )
    conn.close()
    served = Served.build(explicit_model, "v")
    live = LiveUsers(store)
    with caplog.at_level(logging.WARNING, logger=ERROR_LOGGER):
        count = live.warm(served)
    assert count == 0 and not live.cache
    said = [r.getMessage() for r in caplog.records if r.name == ERROR_LOGGER]
    assert len(said) == 1 and said[0].startswith("not warming the user cache"), said
    assert "'ann'" in said[0] and "'100'" in said[0], said
    # Asked for, ann counts every stored title as rated, the NaN one included.
    state = live.compute(served, "ann", store.user_version("ann"))
    assert state.rated.tolist() == sorted(served.item_index[x] for x in ("100", "101", "102"))


@pytest.mark.parametrize("bad", ["Infinity", "NaN"])
def test_a_stored_rating_that_is_not_finite_is_left_out_and_said(
    store, make_client, explicit_model, tmp_path, caplog, bad
):
    """A rating written into the store by hand as Infinity made every request of its
    user a 500 (the fold-in refuses it), and a NaN was read as "seen only" without a
    word.  Either is now left out of the fold-in (its item still counts as seen), the
    user is answered, and a warning names user, item and value once per user version."""
    import logging
    import sqlite3

    from latentrec.service.hardening import ERROR_LOGGER

    store.add_ratings(
        [Rating("infu", "100", 5.0), Rating("infu", "103", 1.0), Rating("infu", "107", 4.0)]
    )
    with sqlite3.connect(tmp_path / "ratings.sqlite") as conn:
        conn.execute(
            "UPDATE lr_ratings SET value = ? WHERE user_id = 'infu' AND item_id = '107'", (bad,)
        )
    conn.close()
    client = make_client(explicit_model)
    with caplog.at_level(logging.WARNING, logger=ERROR_LOGGER):
        bodies = [client.get("/users/infu/recommendations", params={"n": 8}) for _ in range(3)]
    assert all(r.status_code == 200 for r in bodies), bodies[0].text
    expected, scores = top_for(explicit_model, {100: 5.0, 103: 1.0}, 8, exclude=[107])
    body = bodies[-1].json()
    assert body["fallback"] is False
    assert [x["item_id"] for x in body["items"]] == expected
    assert np.allclose([x["score"] for x in body["items"]], scores, atol=1e-4)
    said = [
        r.getMessage()
        for r in caplog.records
        if r.name == ERROR_LOGGER and "not finite" in r.getMessage()
    ]
    assert len(said) == 1, said
    assert "'infu'" in said[0] and "'107'" in said[0] and ("inf" in said[0] or "nan" in said[0])
    # Explained by its finite stars: the bad one is no supporting title.
    why = client.get("/users/infu/explain/120")
    assert why.status_code == 200, why.text
    cited = {x["item_id"]: x["rating"] for x in why.json()["supporting_items"]}
    assert cited == {"100": 5.0}, why.json()
    assert client.get("/users/infu/predictions", params={"items": ["120"]}).status_code == 200


def test_the_service_refuses_a_rating_that_is_not_finite(client):
    """What the store above holds only by hand: POST /ratings refuses it."""
    for value in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"user_id": "u", "item_id": "100", "rating": {value}}}'
        r = client.post("/ratings", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (value, r.text)
    assert client.get("/users/u/ratings").json().get("ratings", []) == []


def test_a_stored_event_weight_that_is_infinite_gives_no_500(
    store, make_client, hybrid_model, tmp_path, caplog
):
    """An infinite event weight reached the fold-in's check, so each request of its
    user answered 500; the user is now answered from their other events."""
    import logging
    import sqlite3

    from latentrec.service.hardening import ERROR_LOGGER

    store.add_ratings(
        [Rating("evu", "100", 2.0, kind="event"), Rating("evu", "103", 1.0, kind="event")]
    )
    with sqlite3.connect(tmp_path / "ratings.sqlite") as conn:
        conn.execute("UPDATE lr_ratings SET value = 'Infinity' WHERE item_id = '103'")
    conn.close()
    client = make_client(hybrid_model)
    with caplog.at_level(logging.WARNING, logger=ERROR_LOGGER):
        r = client.get("/users/evu/recommendations", params={"n": 5})
        again = client.get("/users/evu/recommendations", params={"n": 5})
    assert r.status_code == 200 and again.json() == r.json(), r.text
    ranked = [x["item_id"] for x in r.json()["items"]]
    assert "100" not in ranked and "103" not in ranked
    said = [m for m in caplog.messages if "not finite" in m and "'evu'" in m]
    assert len(said) == 1 and "'103'" in said[0], said


def test_warming_over_an_unavailable_store_fails_rather_than_warming_nobody(store, explicit_model):
    """A store that is down or past its time limit raised a StoreError, which warming
    took for "no rating of this kind": it warmed nobody and said it was done.  It now
    fails, so the refresher logs it and tries again later."""
    from latentrec.service.holder import Served
    from latentrec.service.live import LiveUsers
    from latentrec.store import StoreUnavailableError

    store.add_ratings([Rating("ann", "100", 5.0)])

    class TimingOut:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def interactions(self, **_):
            raise StoreUnavailableError("the store did not answer within 5 s")

    with pytest.raises(StoreUnavailableError):
        LiveUsers(TimingOut(store)).warm(Served.build(explicit_model, "v"))
