"""``latentrec serve`` of a saved pipeline: lists through the pipeline for training users
and for users who rate live, knobs refused, per-model routes through the first
candidate and reloads (retraining a pipeline: test_retrain_pipeline.py)."""

import dataclasses
import os
import zipfile

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from latentrec import Interactions, ModelFileError
from latentrec.cli import main
from latentrec.evaluation import time_slices
from latentrec.models import BiasedMF, FactorModel, GlobalMean, ImplicitALS, ItemKNN, Popularity
from latentrec.pipeline import MMR, LearnedRanker, Pipeline
from latentrec.pipeline.history import Histories, UserHistory, as_history, user_key
from latentrec.service.app import create_app
from latentrec.service.holder import DirectorySource, FileSource, Served
from latentrec.service.live import UserState, fold_cells, pipeline_state
from latentrec.service.settings import Settings
from latentrec.service.versions import ModelDirectory
from latentrec.store import Rating

from .conftest import planted

# A served pipeline's first list may compile its kernels (numba, on a cold cache: a fresh
# clone); httpx's default 5 s would call that a hang.
http = httpx.Client(timeout=120.0)


def small_pipeline(data, seed=0, first=None):
    """BiasedMF + Popularity candidates, a small LightGBM ranker, MMR; fitted on the
    earlier cells, the ranker on the later ones."""
    slices = time_slices(data, 0.2, 0.25)
    early, valid = slices[0], slices[1]
    candidates = [BiasedMF(n_factors=3, n_epochs=30, random_state=seed), Popularity()]
    if first is not None:
        candidates = [first, *candidates]
    ranker = LearnedRanker(n_estimators=10, num_leaves=4, min_child_samples=5, num_threads=1)
    pipe = Pipeline(candidates, ranker, [MMR(0.7)], n_candidates=15 + seed)
    return pipe.fit(early, valid)


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory, planted_data):
    """Two fitted pipeline versions over the planted data, and the file the first is in."""
    folder = tmp_path_factory.mktemp("pipelines")
    first, second = small_pipeline(planted_data, 0), small_pipeline(planted_data, 1)
    first.save(folder / "pipe.npz")
    return first, second, folder / "pipe.npz"


def ids(body) -> list[str]:
    return [x["item_id"] for x in body["items"]]


def test_serve_answers_through_the_pipeline_and_reloads_a_new_one(serve, pipelines, tmp_path):
    first, second, path = pipelines
    served_file = tmp_path / "pipe.npz"
    served_file.write_bytes(path.read_bytes())
    server = serve("--model", str(served_file), "--store", str(tmp_path / "ratings.sqlite"))
    url = server.url
    ctx = first.context_
    user = int(np.flatnonzero(ctx.has_history(np.arange(first.n_users)))[3])
    raw = str(first.users_.ids[user])

    # A training user with nothing stored: the pipeline's own list.
    body = http.get(f"{url}/users/{raw}/recommendations", params={"n": 5}).json()
    want = first.recommend(first.users_.ids[user], 5)
    assert ids(body) == [str(x) for x in want.ids]
    assert body["fallback"] is False and body["model_version"].startswith("pipe.npz@")
    np.testing.assert_allclose([x["score"] for x in body["items"]], want.scores, rtol=1e-5)
    params = {"n": 5, "exclude": ids(body)[:2]}
    less = http.get(f"{url}/users/{raw}/recommendations", params=params).json()
    assert less["items"] and not set(ids(less)) & set(ids(body)[:2])

    # A user who rates live gets a personal list without what they rated.
    rated = ["100", "105", "117"]
    ratings = [{"user_id": "newbie", "item_id": i, "rating": 5} for i in rated]
    assert http.post(f"{url}/ratings", json={"ratings": ratings}).status_code == 201
    body = http.get(f"{url}/users/newbie/recommendations", params={"n": 8}).json()
    assert body["fallback"] is False and len(body["items"]) == 8
    assert not set(ids(body)) & set(rated)
    # Exactly the pipeline's list for that history with the vector its factor model folds.
    items = first.items_.index([int(i) for i in rated])
    bias, factors = first.models[0].fold_in_idx([0, 3], np.sort(items), np.full(3, 5.0))
    newbie = UserHistory(items, np.full(3, 5.0), items, key=user_key("newbie", first.n_users))
    batch = Histories.of(ctx, [newbie], ((bias, factors, np.ones(1, bool)), None))
    top, _, fallback = first.recommend_histories(batch, 8)
    assert ids(body) == [str(first.items_.ids[i]) for i in top[0]] and not fallback[0]
    stranger = http.get(f"{url}/users/stranger/recommendations", params={"n": 8}).json()
    assert stranger["fallback"] is True
    answers = {"answers": [{"item_id": "103", "rating": 4}, {"item_id": "111", "rating": 2}]}
    first_page = http.post(f"{url}/users/asked/onboarding", json=answers).json()
    assert first_page["fallback"] is False and first_page["items"]
    assert not set(ids(first_page)) & {"103", "111"}

    # A training user who rates live: neither that item nor their training items.
    had = {str(first.items_.ids[i]) for i in ctx.seen_items(user)}
    fresh = next(str(x) for x in first.items_.ids if str(x) not in had)
    rating = {"user_id": raw, "item_id": fresh, "rating": 4}
    assert http.post(f"{url}/ratings", json=rating).status_code == 201
    body = http.get(f"{url}/users/{raw}/recommendations", params={"n": 8}).json()
    assert body["fallback"] is False and body["items"]
    assert not set(ids(body)) & (had | {fresh})

    # Knobs and a candidate list: 422, saying why.
    for params in ({"diversity": 0.5}, {"calibrate": 0.3}, {"boost_new": 1}, {"items": "101"}):
        r = http.get(f"{url}/users/{raw}/recommendations", params=params)
        assert r.status_code == 422 and "this version is a pipeline" in r.json()["detail"]

    # Per-model routes: through the first candidate, a factor model.
    similar = http.get(f"{url}/items/101/similar", params={"n": 4}).json()
    assert ids(similar) == [str(x) for x in first.models[0].similar_items(101, n=4).ids]
    assert http.get(f"{url}/users/newbie/predictions", params={"items": "101"}).status_code == 200

    # A new pipeline written over the file: reloaded, and its lists served.
    second.save(served_file)
    reloaded = http.post(f"{url}/admin/reload").json()
    # The server also polls the file (every second), so the poll may have swapped it in
    # just before this request ("reloaded": false); either way the new version is current.
    assert reloaded["model_version"] != body["model_version"], reloaded
    other = int(np.flatnonzero(ctx.has_history(np.arange(first.n_users)))[5])
    body = http.get(f"{url}/users/{first.users_.ids[other]}/recommendations").json()
    assert body["model_version"] == reloaded["model_version"]
    assert ids(body) == [str(x) for x in second.recommend(first.users_.ids[other], 10).ids]


def test_a_pipeline_led_by_popularity_refuses_the_per_model_routes(make_client, planted_data):
    pipe = small_pipeline(planted_data, first=Popularity())
    client = make_client(pipe)
    assert client.get("/users/3/recommendations").status_code == 200
    for route in ("/items/101/similar", "/users/3/predictions?items=101", "/users/3/explain/101"):
        r = client.get(route)
        assert r.status_code == 409 and "not a factor model" in r.json()["detail"], route


def test_a_pipeline_led_by_a_global_mean_refuses_the_per_model_routes(make_client, planted_data):
    """GlobalMean first, a BiasedMF beside it: served (a candidate ranks), but the
    per-model routes went through the GlobalMean: every prediction the mean, marked
    personal, and every item's similar items an empty list, with 200."""
    pipe = small_pipeline(planted_data, first=GlobalMean())
    client = make_client(pipe)
    assert client.get("/users/3/recommendations").json()["items"]
    for route in ("/items/101/similar", "/users/3/predictions?items=101", "/users/3/explain/101"):
        r = client.get(route)
        assert r.status_code == 409, (route, r.text)
        assert r.json()["detail"] == (
            "this version is a pipeline whose first candidate is a GlobalMean, which gives "
            "every item the same score; this route answers only through a factor model "
            "whose scores order items"
        )


def test_a_pipeline_without_a_factor_model_is_refused(make_client, planted_data):
    pipe = Pipeline(Popularity(), n_candidates=5).fit(planted_data)
    with pytest.raises(ValueError, match="needs a factor model among a pipeline's candidates"):
        make_client(pipe)


def test_a_new_title_waits_for_the_next_pipeline(make_client, pipelines):
    first, _, _ = pipelines
    client = make_client(first)
    r = client.post("/items", json={"item_id": "999", "title": "Brand new"})
    assert r.status_code == 201 and r.json()["vector"] == "none"
    assert r.json()["item"]["in_model"] is False
    body = client.get("/users/3/recommendations", params={"n": 30}).json()
    assert body["items"] and "999" not in ids(body)


def late_user_data(user) -> Interactions:
    """The planted ratings with every rating of ``user`` after everyone else's: the
    candidate models' slice lacks them, the ranker's (validation) slice holds them."""
    frame, items = planted()
    late = frame["user_id"] == user
    frame.loc[late, "timestamp"] = 7000 + np.arange(late.sum())
    return Interactions.from_frame(
        frame, timestamp="timestamp", rating_scale=(1, 5), item_features=items[["title"]]
    )


def test_a_user_known_only_from_the_rankers_slice_gets_the_pipelines_list(make_client):
    # User 0 rated only inside the ranker's (validation) slice: the candidate models never
    # saw them, so the pipeline folds them in from that slice (a personal list, not the
    # popularity one) and never shows their items back; the service gives the same list.
    data = late_user_data(0)
    pipe = small_pipeline(data)
    had = {str(pipe.items_.ids[i]) for i in pipe.context_.seen_items(0)}
    assert had and not pipe.context_.has_history(np.array([0]))[0]
    body = make_client(pipe).get("/users/0/recommendations", params={"n": 30}).json()
    assert not set(ids(body)) & had
    assert body["fallback"] is False and pipe.recommend(0, 30).fallback is False
    assert ids(body) == [str(x) for x in pipe.recommend(0, 30).ids]


def test_a_user_known_only_from_the_rankers_slice_with_stored_ratings_gets_the_same_list(
    make_client, store
):
    # The same user with their validation cells in the store: they are folded in from
    # the store, and no candidate reads the training row they do not have (ItemKNN has
    # no vector for them and is skipped, as in Pipeline.recommend).
    data = late_user_data(0)
    pipe = small_pipeline(data, first=ItemKNN(k=10))
    assert pipe.validation_users(np.array([0]))[0].size == 1
    m = pipe.context_.later
    cells = m.indices[m.indptr[0] : m.indptr[1]]
    store.add_ratings(
        [
            Rating("0", str(pipe.items_.ids[i]), float(v))
            for i, v in zip(cells, m.data[m.indptr[0] : m.indptr[1]], strict=True)
        ]
    )
    body = make_client(pipe).get("/users/0/recommendations", params={"n": 20}).json()
    want = pipe.recommend(0, 20)
    assert body["fallback"] is False and want.fallback is False
    assert ids(body) == [str(x) for x in want.ids]


def test_factors_of_unknown_kind_fold_the_rankers_slice_as_the_service_folds_the_store(
    serve, tmp_path
):
    # Factors made elsewhere (as imported from Spark: their training kind unknown) lead a
    # pipeline whose ranker's slice holds stars of user 2, whom the factors never saw.
    # Such a model folds a star in as a like (1 at or above 60 % of the scale, else seen
    # only), in the pipeline as in a live fold-in, so Pipeline.recommend, the slow
    # reference below and a real server (nothing stored, then the same cells stored) agree.
    data = late_user_data(2)
    early, valid = time_slices(data, 0.2, 0.25)[:2]
    als = ImplicitALS(n_factors=3, random_state=0, num_threads=1).fit(early)
    catalog = dataclasses.replace(als.catalog_, implicit=None)
    made = FactorModel.from_factors(
        catalog, als.item_factors_, als.user_factors_, predicts_ratings=False
    )
    ranker = LearnedRanker(n_estimators=10, num_leaves=4, min_child_samples=5, num_threads=1)
    pipe = Pipeline([made, Popularity()], ranker, [MMR(0.7)], n_candidates=15).fit(early, valid)
    u = int(data.users.index([2])[0])
    assert pipe.validation_users(np.array([u]))[0].size == 1
    row = valid.matrix.tocsr()[u]
    liked = row.data >= 1 + 0.6 * (5 - 1)
    assert liked.any() and not liked.all()  # the likes rule and the raw stars differ here

    # The slow reference: the liked cells with weight 1, every cell in the history.
    ctx = pipe.context_
    bias, factors = made.fold_in_idx(
        [0, int(liked.sum())], row.indices[liked], np.ones(int(liked.sum()))
    )
    who = UserHistory(row.indices, row.data.astype(float), ctx.seen_items(u), key=u)
    batch = Histories.of(ctx, [(-1, who)], [(bias, factors, np.array([True])), None])
    idx, _, fallback = pipe.recommend_histories(batch, 20)
    want = [str(x) for x in pipe.items_.ids[idx[0][idx[0] >= 0]]]
    got = pipe.recommend(2, 20)
    assert not fallback[0] and not got.fallback
    assert [str(x) for x in got.ids] == want

    path = tmp_path / "pipe.npz"
    pipe.save(path)
    server = serve("--model", str(path), "--store", str(tmp_path / "ratings.sqlite"))
    body = http.get(f"{server.url}/users/2/recommendations", params={"n": 20}).json()
    assert body["fallback"] is False and ids(body) == want  # nothing stored: the slice
    for i, v in zip(row.indices, row.data, strict=True):
        posted = {"user_id": "2", "item_id": str(pipe.items_.ids[i]), "rating": float(v)}
        assert http.post(f"{server.url}/ratings", json=posted).status_code == 201
    body = http.get(f"{server.url}/users/2/recommendations", params={"n": 20}).json()
    assert body["fallback"] is False and ids(body) == want  # the same cells, from the store


def test_a_pipeline_user_who_deletes_their_last_rating_is_not_erased(make_client, pipelines):
    """A training user posts a rating and deletes it: the pipeline's own list again, none
    of what they had; only DELETE /users/{id} drops their training history."""
    first, _, _ = pipelines
    ctx = first.context_
    user = int(np.flatnonzero(ctx.has_history(np.arange(first.n_users)))[3])
    raw = str(first.users_.ids[user])
    had = {str(first.items_.ids[i]) for i in ctx.seen_items(user)}
    want = [str(x) for x in first.recommend(first.users_.ids[user], 10).ids]
    a, b = make_client(first), make_client(first)
    assert ids(b.get(f"/users/{raw}/recommendations", params={"n": 10}).json()) == want
    new = next(str(x) for x in first.items_.ids if str(x) not in had)
    body = {"user_id": raw, "item_id": new, "rating": 4}
    assert a.post("/ratings", json=body).status_code == 201
    assert a.delete(f"/users/{raw}/ratings/{new}").status_code == 200
    for client in (a, b):
        body = client.get(f"/users/{raw}/recommendations", params={"n": 10}).json()
        assert body["fallback"] is False and ids(body) == want
        assert not set(ids(body)) & had
    assert a.delete(f"/users/{raw}").status_code == 200
    for client in (a, b):
        body = client.get(f"/users/{raw}/recommendations", params={"n": 10}).json()
        assert body["fallback"] is True


def test_a_truncated_pipeline_file_is_refused_in_one_line(pipelines, tmp_path, monkeypatch):
    # A pipeline file holds its candidates' files whole, so its first half holds a
    # complete model file: read as a zip, it looked like that candidate alone.
    _, _, path = pipelines
    cut = tmp_path / "cut.npz"
    raw = path.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        FileSource(cut).load()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["serve", "--model", str(cut)],
        env={**os.environ, "LATENTREC_STORE": str(tmp_path / "r.sqlite")},
    )
    assert result.exit_code == 1, result.output
    assert "cut.npz" in result.output and "truncated" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_pipeline_file_with_a_damaged_array_header_is_a_clear_error(pipelines, tmp_path):
    _, _, path = pipelines
    damaged = tmp_path / "damaged.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(damaged, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "ranker.model.npy":  # the .npy header's dict left unclosed
                data = data[:60] + b"x" * (len(data) - 60)
            out.writestr(name, data)
    with pytest.raises(ModelFileError, match="damaged.npz is damaged or truncated"):
        FileSource(damaged).load()


def test_items_for_a_pipeline_is_refused_as_such_whatever_the_ids(make_client, pipelines):
    # Refused before the ids are looked up: an unknown id is not the reason it fails.
    first, _, _ = pipelines
    client = make_client(first)
    for params in ({"items": "nope"}, {"items": ["101", "nope"], "diversity": 0.5}):
        r = client.get("/users/3/recommendations", params=params)
        assert r.status_code == 422 and "this version is a pipeline" in r.json()["detail"]


def test_reloading_a_pipeline_the_service_cannot_serve_is_a_409_naming_why(
    pipelines, planted_data, store, tmp_path
):
    # `models publish` takes any pipeline; one without a factor model is kept out.
    first, _, _ = pipelines
    md = ModelDirectory(tmp_path / "models")
    md.publish(first)
    app = create_app(Settings(), store=store, source=DirectorySource(md))
    with TestClient(app, raise_server_exceptions=False) as client:
        md.publish(Pipeline(Popularity(), n_candidates=5).fit(planted_data))
        r = client.post("/admin/reload")
        assert r.status_code == 409, r.text
        assert "needs a factor model" in r.json()["detail"] and "v000001" in r.json()["detail"]
        body = client.get("/users/3/recommendations").json()
        assert body["model_version"] == "v000001" and body["items"]


def test_a_stored_item_from_the_rankers_slice_keeps_the_training_row_in_the_history(pipelines):
    # The training row joins the history when the store shares none of its items, as it
    # joins the fold-in: an item the user had in the ranker's slice is not one of them.
    first, _, _ = pipelines
    ctx = first.context_
    served = Served.build(first, "v")
    history = {u: set(as_history(ctx, u).items.tolist()) for u in range(first.n_users)}
    u = next(u for u in range(first.n_users) if history[u] and set(ctx.seen_items(u)) - history[u])
    later = min(set(ctx.seen_items(u).tolist()) - history[u])
    cells = [(str(first.items_.ids[later]), 4.0, "explicit")]
    bias, factors, rated = fold_cells(served, u, cells)
    assert set(rated.tolist()) == history[u] | {later}  # the fold-in kept the row
    raw = str(first.users_.ids[u])
    state = pipeline_state(
        served, UserState(raw, 1, served.serial, bias, factors, rated, "store"), cells
    )
    assert set(state.history.items.tolist()) == history[u] | {later}
