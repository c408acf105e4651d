"""A worker's per-user memory is bounded (``Settings.cache_users``, least recently used
out first), and a user out of the cache is folded in again from the store: never a stale
vector, whether they were written before, during or after their eviction.

References are the model's own fold-in of the user's stored ratings (``fold_in``) and
top-n for that vector (``recommend_vectors``), as in test_live.py.
"""

import threading

import numpy as np

from latentrec.service.holder import Served
from latentrec.service.live import LiveUsers
from latentrec.store import Rating

from .test_live import rate, recs, top_for


def per_user_entries(live: LiveUsers) -> int:
    """The most entries any container of ``live`` holds (what grows with the users seen)."""
    sizes = [len(v) for v in vars(live).values() if isinstance(v, (dict, set, list))]
    return max(sizes, default=0)


def test_the_cache_keeps_the_least_recently_used_out_and_nothing_else_grows(store, explicit_model):
    served = Served.build(explicit_model, "v")
    live = LiveUsers(store, capacity=3)
    for k in range(4):
        store.add_ratings([Rating(f"u{k}", str(100 + k), 4.0)])
    for user in ("u0", "u1", "u2", "u0", "u3"):  # u0 used again: u1 is the least recent
        live.resolve(served, user)
    assert list(live.cache) == ["u2", "u0", "u3"]
    # Many users written and read since: every per-user structure stays at the bound.
    for k in range(200):
        store.add_ratings([Rating(f"w{k}", str(100 + k % 30), 1.0 + k % 5)])
        live.resolve(served, f"w{k}")
    assert len(live.cache) == 3
    assert per_user_entries(live) <= 3


def test_an_evicted_user_is_folded_in_again_from_the_store(make_client, explicit_model):
    client = make_client(explicit_model, cache_users=2)
    given = {"ann": {100: 5.0, 103: 1.0, 107: 4.0}, "bob": {101: 2.0}, "cy": {110: 5.0}}
    for user, ratings in given.items():
        for item, value in ratings.items():
            rate(client, user, item, value)
    live = client.app.state.live
    client.app.state.refresher.warm_done.wait(30)
    first = recs(client, "ann")
    for user in ("bob", "cy"):
        recs(client, user)
    assert "ann" not in live.cache and len(live.cache) == 2
    again = recs(client, "ann")
    expected, scores = top_for(explicit_model, given["ann"], 8)
    assert (
        [x["item_id"] for x in again["items"]] == expected == [x["item_id"] for x in first["items"]]
    )
    assert np.allclose([x["score"] for x in again["items"]], scores, atol=1e-4)


def test_a_write_through_another_worker_after_an_eviction_is_reflected(make_client, explicit_model):
    a = make_client(explicit_model)
    b = make_client(explicit_model, cache_users=2)
    rate(a, "ann", 100, 5.0)
    assert recs(b, "ann")["fallback"] is False  # cached in b
    for user in ("bob", "cy"):
        rate(a, user, 101, 3.0)
        recs(b, user)  # ann is evicted from b
    rate(a, "ann", 103, 1.0)
    rate(a, "ann", 112, 4.0)
    expected, _ = top_for(explicit_model, {100: 5.0, 103: 1.0, 112: 4.0}, 8)
    assert [x["item_id"] for x in recs(b, "ann")["items"]] == expected


def test_readers_and_a_writer_on_a_tiny_cache_never_leave_a_stale_vector(
    make_client, explicit_model
):
    """Real threads: a writer (worker a) keeps rating while readers (worker b, two users
    of cache) churn through the same users, so folds, evictions and syncs interleave.
    Once the writer stops, every user's answer at b is the fold-in of all they rated."""
    a = make_client(explicit_model)
    b = make_client(explicit_model, cache_users=2)
    users = [f"r{k}" for k in range(6)]
    given = {user: {} for user in users}
    rng = np.random.default_rng(0)
    plan = [(users[rng.integers(6)], 100 + int(rng.integers(30)), float(rng.integers(1, 6)))
            for _ in range(120)]  # fmt: skip
    stop, errors = threading.Event(), []

    def reader(seed):
        order = np.random.default_rng(seed)
        while not stop.is_set():
            r = b.get(f"/users/{users[order.integers(6)]}/recommendations", params={"n": 8})
            if r.status_code != 200:
                errors.append(r.text)

    readers = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in readers:
        t.start()
    try:
        for user, item, value in plan:
            rate(a, user, item, value)
            given[user][item] = value
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
    assert errors == []
    for user in users:
        expected, scores = top_for(explicit_model, given[user], 8)
        body = recs(b, user)
        assert [x["item_id"] for x in body["items"]] == expected, user
        assert np.allclose([x["score"] for x in body["items"]], scores, atol=1e-4)
    assert per_user_entries(b.app.state.live) <= 2


def test_serve_refuses_a_cache_of_no_users(model_files):
    from click.testing import CliRunner

    from latentrec.cli import main

    result = CliRunner().invoke(
        main, ["serve", "--model", str(model_files["explicit"]), "--cache-users", "0"]
    )
    # click refuses it as the option is read, naming the option (usage error, exit 2).
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--cache-users': 0 is not in the range x>=1." in result.output
    assert "Traceback" not in result.output


class PausedReads:
    """A store whose ``user_record`` of one user returns what it read only once released:
    a fold-in that read the store just before a write to that user commits."""

    def __init__(self, store, user):
        self.store, self.user = store, user
        self.read, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def user_record(self, user_id):
        record = self.store.user_record(user_id)
        if user_id == self.user and not self.release.is_set():
            self.read.set()
            assert self.release.wait(30)
        return record


def test_a_fold_in_overtaken_by_a_write_is_not_cached(store, explicit_model):
    served = Served.build(explicit_model, "v")
    paused = PausedReads(store, "ann")
    live = LiveUsers(paused, capacity=10)
    store.add_ratings([Rating("ann", "100", 5.0)])
    first = []
    folding = threading.Thread(target=lambda: first.append(live.resolve(served, "ann")))
    folding.start()
    try:
        assert paused.read.wait(30)  # ann's fold-in has read {100: 5}
        store.add_ratings([Rating("ann", "103", 1.0)])
        live.resolve(served, "bob")  # a request meanwhile: its sync sees ann's write
    finally:
        paused.release.set()
        folding.join(timeout=30)
    assert first[0].rated.size == 1  # what that request answered: the store as it read it
    now = live.resolve(served, "ann")
    expected = LiveUsers(store).compute(served, "ann", store.user_version("ann"))
    assert now.version == expected.version and now.rated.size == 2
    assert np.allclose(now.factors, expected.factors, atol=1e-6)
    assert per_user_entries(live) <= 2
