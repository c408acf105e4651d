"""A ranking model folds a live user in as its training read their ratings.

A ranking model trained on explicit stars (ImplicitALS fitted on MovieLens ratings, the
demo's case) learned from every star it was given; a training user whose stored ratings
are their training row must then be folded in from the same values, so the service's
list is the model's own.  Models trained on events, and model files that do not record
their kind, keep the 0/1 "likes" rule.  Every check runs on a real SQLite store in a
temporary folder; references are the model's own ``fold_in_idx`` and
``recommend_vectors``, computed here the slow obvious way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from latentrec import Interactions
from latentrec.models import ALS, BPR, HybridMF, ImplicitALS
from latentrec.pipeline import Pipeline
from latentrec.service.holder import Served
from latentrec.service.live import LiveUsers, like_threshold
from latentrec.service.retrain import trained_kind
from latentrec.store import Rating, open_store

from .conftest import client_maker, saved_without_kind
from .serving import worker_pids

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


def random_stars(seed: int, n_users: int, n_items: int, density: float) -> Interactions:
    """Random 1-5 stars (some half stars), every user with at least one; item ids 100..."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    stars = rng.integers(2, 11, u.size) / 2.0
    frame = pd.DataFrame({"user_id": u, "item_id": i + 100, "rating": stars})
    return Interactions.from_frame(frame, rating_scale=(1, 5))


def training_row(model, data: Interactions, u: int) -> tuple[np.ndarray, np.ndarray]:
    """User ``u``'s training cells: (model item indices, star values)."""
    m = data.matrix
    items = data.items.ids[m.indices[m.indptr[u] : m.indptr[u + 1]]]
    return model.items_.index(list(items)).astype(np.int64), m.data[m.indptr[u] : m.indptr[u + 1]]


def store_row(store, model, user_id: str, idx, values, kind: str = "explicit") -> None:
    store.add_ratings(
        [
            Rating(user_id, str(model.items_.ids[i]), float(v), kind=kind)
            for i, v in zip(idx, values, strict=True)
        ]
    )


def reference(model, idx, values, n: int, banned=None):
    """(bias, factors) folded in from (item indices, values), and its top-``n`` item ids
    leaving out ``banned`` (default: the folded items)."""
    order = np.argsort(idx)
    bias, factors = model.fold_in_idx([0, idx.size], idx[order], values[order])
    skip = np.zeros(model.n_items, dtype=bool)
    skip[idx if banned is None else banned] = True
    top, _ = model.recommend_vectors(bias, factors, n, filter_items=skip)
    ids = [str(model.items_.ids[i]) for i in top[0] if i >= 0]
    return float(bias[0]), factors[0], ids


def live_state(store, model, user_id: str):
    """The user's state as a request computes it, from a fresh cache."""
    served = Served.build(model, "v")
    return LiveUsers(store).resolve(served, user_id)


def listed(client, user_id: str, n: int) -> list[str]:
    r = client.get(f"/users/{user_id}/recommendations", params={"n": n})
    assert r.status_code == 200, r.text
    assert r.json()["fallback"] is False
    return [x["item_id"] for x in r.json()["items"]]


# ----------------------------------------------------------------- stars-trained ALS
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(seed=981, n_users=4, n_items=5, density=0.4375, n_factors=3)  # a near tie
@given(
    seed=st.integers(0, 2**16),
    n_users=st.integers(4, 14),
    n_items=st.integers(5, 12),
    density=st.floats(0.2, 0.7),
    n_factors=st.integers(1, 3),
)
def test_a_stars_trained_implicit_als_folds_in_the_stars_it_learned_from(
    seed, n_users, n_items, density, n_factors
):
    """For every training user whose stored ratings are their training row, the live
    vector is ``fold_in_idx`` of that row with its stars (so, ALS's last half-step being
    the users' solve, their training vector), on the request path and the warm-up alike,
    and the served list is the one from that vector: the model's own ``recommend``."""
    data = random_stars(seed, n_users, n_items, density)
    model = ImplicitALS(n_factors=n_factors, n_epochs=4, random_state=seed).fit(data)
    assert trained_kind(model) == "explicit" and not model.predicts_ratings
    n = 4
    rng = np.random.default_rng(seed + 1)
    stored = sorted(rng.choice(data.n_users, size=max(1, data.n_users // 2), replace=False))
    with tempfile.TemporaryDirectory() as folder:
        with open_store(Path(folder) / "ratings.sqlite") as store:
            rows = {}
            for u in stored:
                user_id = str(data.users.ids[u])
                rows[user_id] = training_row(model, data, u)
                store_row(store, model, user_id, *rows[user_id])
            served = Served.build(model, "v")
            warm = LiveUsers(store)
            warm.warm(served)
            with client_maker(store) as make:
                client = make(model)
                for user_id, (idx, stars) in rows.items():
                    bias, factors, ids = reference(model, idx, stars, n)
                    u = model.users_.index([int(user_id)])[0]
                    np.testing.assert_allclose(factors, model.user_factors_[u], atol=1e-4)
                    state = live_state(store, model, user_id)
                    assert state.source == "store"
                    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)
                    assert state.bias == pytest.approx(bias, abs=1e-6)
                    np.testing.assert_allclose(
                        warm.cache[user_id].factors, factors, rtol=1e-5, atol=1e-6
                    )
                    got = listed(client, user_id, n)
                    assert got == ids
                    # The training vector equals the folded one to ~1e-4, so two items
                    # whose scores differ by less may swap: the lists must agree up to
                    # such ties (seed 981 has one).
                    want = [str(x) for x in model.recommend(int(user_id), n=n).ids]
                    scores = model.item_factors_ @ model.user_factors_[u]
                    at = model.items_.index
                    np.testing.assert_allclose(
                        scores[at([int(x) for x in got])],
                        scores[at([int(x) for x in want])],
                        atol=1e-3,
                    )


def test_a_stars_trained_implicit_als_takes_events_by_weight_and_clips_to_the_scale(store):
    """Events keep their rule (the weight, clipped to the scale); a star is clipped too."""
    data = random_stars(3, 12, 10, 0.4)
    model = ImplicitALS(n_factors=2, n_epochs=4, random_state=0).fit(data)
    store.add_ratings(
        [
            Rating("new", "100", 2.5),
            Rating("new", "101", 0.5),  # below the scale: folded in as 1
            Rating("new", "102", 3.0, kind="event"),
            Rating("new", "102", 4.0, kind="event"),  # stored weight 7: clipped to 5
            Rating("new", "103", 0.25, kind="event"),  # clipped to 1
        ]
    )
    idx = model.items_.index([100, 101, 102, 103]).astype(np.int64)
    bias, factors, _ = reference(model, idx, np.array([2.5, 1.0, 5.0, 1.0]), 3)
    state = live_state(store, model, "new")
    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ other ranking families
def test_a_stars_trained_bpr_takes_every_star_as_a_positive(store):
    """BPR's training reads which cells are stored, never their values: every star is a
    positive, a low one included (the likes rule would have left it out)."""
    data = random_stars(5, 12, 10, 0.4)
    model = BPR(n_factors=3, n_epochs=20, random_state=0).fit(data)
    assert trained_kind(model) == "explicit" and like_threshold(Served.build(model, "v")) > 1.5
    store.add_ratings([Rating("new", "100", 5.0), Rating("new", "101", 1.5)])
    idx = model.items_.index([100, 101]).astype(np.int64)
    _, factors, _ = reference(model, idx, np.ones(2), 3)
    state = live_state(store, model, "new")
    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)
    _, liked_only, _ = reference(model, idx[:1], np.ones(1), 3)
    assert not np.allclose(state.factors, liked_only)


def test_a_stars_trained_hybrid_counts_the_stars_its_min_rating_kept(store):
    """HybridMF's positives are the cells at or above ``min_rating`` (every cell when
    None), each a positive whatever its value: the same stars fold in, with weight 1."""
    data = random_stars(7, 14, 10, 0.5)
    store.add_ratings(
        [Rating("new", "100", 5.0), Rating("new", "101", 3.5), Rating("new", "102", 2.0)]
    )
    for min_rating, kept in [(None, [100, 101, 102]), (3.5, [100, 101])]:
        model = HybridMF(n_factors=3, n_epochs=10, min_rating=min_rating, random_state=0)
        model.fit(data)
        assert trained_kind(model) == "explicit"
        idx = model.items_.index(kept).astype(np.int64)
        _, factors, _ = reference(model, idx, np.ones(idx.size), 3)
        state = live_state(store, model, "new")
        np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)
        assert state.rated.size == 3  # every stored item is seen, folded in or not


# --------------------------------------------------------- unchanged: events, old files
def likes_reference(model, served, stored: dict, events: dict):
    """Today's rule: explicit ratings at or above the like threshold with weight 1,
    events with their weight (clipped to the scale when there is one)."""
    lo, hi = served.rating_scale or (-np.inf, np.inf)
    cells = {k: 1.0 for k, v in stored.items() if v >= like_threshold(served)}
    for k, v in events.items():
        cells[k] = max(cells.get(k, -np.inf), float(np.clip(v, lo, hi)))
    idx = model.items_.index(list(cells)).astype(np.int64)
    return reference(model, idx, np.array(list(cells.values()), dtype=np.float64), 3)


def test_an_event_trained_model_keeps_the_likes_rule(store):
    events = random_stars(9, 12, 10, 0.4)
    frame = events.to_frame().drop(columns="rating")
    model = ImplicitALS(n_factors=2, n_epochs=4, random_state=0)
    model.fit(Interactions.from_frame(frame, rating=None))
    assert trained_kind(model) == "event" and model.rating_scale_ is None
    stored, plays = {100: 5.0, 101: 2.0}, {102: 3.0}
    store.add_ratings([Rating("new", str(k), v) for k, v in stored.items()])
    store.add_ratings([Rating("new", str(k), v, kind="event") for k, v in plays.items()])
    _, factors, _ = likes_reference(model, Served.build(model, "v"), stored, plays)
    state = live_state(store, model, "new")
    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)


def test_a_model_file_that_does_not_record_its_kind_keeps_the_likes_rule(store, tmp_path):
    """A stars-trained ImplicitALS saved before the kind was recorded (the manifest's
    ``implicit`` entry absent): its kind is unknown, so stars fold in as likes."""
    model = ImplicitALS(n_factors=2, n_epochs=4, random_state=0).fit(random_stars(11, 12, 10, 0.4))
    assert trained_kind(model) == "explicit"
    old = saved_without_kind(model, tmp_path / "old.npz")
    assert trained_kind(old) is None and old.rating_scale_ == (1.0, 5.0)
    stored, plays = {100: 5.0, 101: 2.0, 103: 4.0}, {102: 9.0}
    store.add_ratings([Rating("new", str(k), v) for k, v in stored.items()])
    store.add_ratings([Rating("new", str(k), v, kind="event") for k, v in plays.items()])
    served = Served.build(old, "v")
    _, factors, ids = likes_reference(old, served, stored, plays)
    state = live_state(store, old, "new")
    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)
    # The same model with its kind recorded folds the stars in instead.
    idx = model.items_.index([100, 101, 103, 102]).astype(np.int64)
    _, by_stars, _ = reference(model, idx, np.array([5.0, 2.0, 4.0, 5.0]), 3)
    np.testing.assert_allclose(
        live_state(store, model, "new").factors, by_stars, rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(by_stars, factors, atol=1e-3)


# ----------------------------------------------------------------------- pipelines
def test_a_pipeline_folds_each_candidate_in_by_its_own_training_kind(store):
    """A pipeline of an explicit ALS and a stars-trained ImplicitALS: each candidate's vector
    is that model's fold-in of the stored stars (the ALS as its first candidate too),
    and a training user whose stored ratings are their training row gets their training
    vectors, so the service lists what ``Pipeline.recommend`` lists."""
    data = random_stars(13, 16, 12, 0.45)
    als = ImplicitALS(n_factors=2, n_epochs=4, random_state=0)
    mf = ALS(n_factors=2, n_epochs=10, random_state=0)
    pipes = [Pipeline([mf, als], n_candidates=8), Pipeline([als.clone()], n_candidates=8)]
    for u, pipe in zip((2, 3), pipes, strict=True):
        pipe.fit(data)
        assert trained_kind(pipe) == "explicit"
        user_id = str(data.users.ids[u])
        idx, stars = training_row(pipe.models[0], data, u)
        store_row(store, pipe.models[0], user_id, idx, stars)
        state = LiveUsers(store).resolve(Served.build(pipe, "v"), user_id)
        for j, model in enumerate(pipe.models):
            _, factors, _ = reference(model, idx, stars, 3)
            np.testing.assert_allclose(state.vectors[j][1], factors, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(factors, model.user_factors_[u], atol=1e-4)
        with client_maker(store) as make:
            got = listed(make(pipe), user_id, 5)
        assert got == [str(x) for x in pipe.recommend(int(user_id), 5).ids]


def test_latentrec_serve_of_a_stars_trained_implicit_als_lists_its_own_recommend(serve, tmp_path):
    """The demo's case through a real ``latentrec serve``: an ImplicitALS fitted on stars,
    its training users' stars in the store; each of them is listed what the model's own
    ``recommend`` lists, by every worker."""
    data = random_stars(17, 20, 14, 0.4)
    model = ImplicitALS(n_factors=3, n_epochs=5, random_state=0).fit(data)
    model.save(tmp_path / "als.npz")
    db = tmp_path / "ratings.sqlite"
    users = [str(x) for x in data.users.ids[:6]]
    with open_store(db) as store:
        for u, user_id in enumerate(users):
            store_row(store, model, user_id, *training_row(model, data, u))
    server = serve("--model", str(tmp_path / "als.npz"), "--store", str(db), "--workers", "2")
    pids = worker_pids(server.url)
    for user_id in users:
        want = [str(x) for x in model.recommend(int(user_id), n=5).ids]
        seen = set()
        for _ in range(20):
            r = httpx.get(f"{server.url}/users/{user_id}/recommendations", params={"n": 5})
            assert r.status_code == 200, r.text
            assert [x["item_id"] for x in r.json()["items"]] == want, user_id
            seen.add(int(r.headers["x-worker-pid"]))
            if seen == pids:
                break


def test_an_event_trained_hybrid_folds_in_the_events_its_min_rating_kept(store):
    """Trained on events with ``min_rating=3``, HybridMF learned only from weights of 3 or
    more, each as a positive: stored events fold in the same way (a weight-2 play is seen
    only), not as raw weights."""
    rng = np.random.default_rng(9)
    u = np.repeat(np.arange(14), 5)
    i = rng.integers(0, 10, u.size) + 100
    plays = Interactions.from_arrays(
        u, i, rng.integers(1, 6, u.size).astype(float), implicit=True, duplicates="sum"
    )
    model = HybridMF(n_factors=3, n_epochs=10, min_rating=3, random_state=0).fit(plays)
    assert trained_kind(model) == "event"
    store.add_ratings(
        [
            Rating("new", "100", 5.0, kind="event"),
            Rating("new", "101", 2.0, kind="event"),
            Rating("new", "102", 4.0, kind="event"),
        ]
    )
    idx = model.items_.index([100, 102]).astype(np.int64)
    _, factors, _ = reference(model, idx, np.ones(2), 3)
    state = live_state(store, model, "new")
    np.testing.assert_allclose(state.factors, factors, rtol=1e-5, atol=1e-6)
    assert state.rated.size == 3
