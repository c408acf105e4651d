"""A served pipeline answers the requests that queued while its thread was busy in one
batch (``Pipeline.recommend_histories``), and each answer is the one the request gets
alone.  A real server on 127.0.0.1 and a pipeline whose last stage waits on an Event (as
in test_pipeline_off_loop.py): the first list is held there, the others queue, then all
are released; the checks count calls, never time.  The queue itself (cancellation, a
failing batch, the cap) is checked directly under anyio."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import numpy as np
import pytest

from latentrec.pipeline.history import user_key
from latentrec.service import batching
from latentrec.service.app import create_app
from latentrec.service.batching import PipelineQueue
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import StoreUnavailableError

from .serving import wait_for
from .test_pipeline_off_loop import (
    WAIT_S,
    Gate,
    gated,
    ids,
    reload_to,
    running,
    training_users,
    wait_arrivals,
    warming,
)
from .test_pipeline_serve import small_pipeline


@pytest.fixture(scope="module")
def two_versions(planted_data):
    return small_pipeline(planted_data, 0), small_pipeline(planted_data, 1)


def counted(pipe, calls: list):
    """``pipe`` (a copy) recording the size of every ``recommend_histories`` batch of a
    request (the warm-up's are not counted)."""
    plain = pipe.recommend_histories

    def recording(batch, n=10):
        if not warming():
            calls.append(len(batch))
        return plain(batch, n)

    pipe.recommend_histories = recording
    return pipe


def get(url: str, user: str, **params) -> httpx.Response:
    return httpx.get(f"{url}/users/{user}/recommendations", params=params, timeout=WAIT_S)


def queued(app, count: int) -> None:
    queue = app.state.pipeline_queue
    wait_for(lambda: len(queue.waiting) >= count, WAIT_S, f"{count} waiting lists", every=0.01)


def same_answer(got: httpx.Response, alone: httpx.Response) -> None:
    """Equal bodies; scores equal up to float32 rounding (BLAS multiplies one user's
    vector and a batch's by different routes, a last-bit difference)."""
    assert got.status_code == alone.status_code == 200, (got.text, alone.text)
    a, b = got.json(), alone.json()
    assert ids(a) == ids(b)
    assert (a["model_version"], a["fallback"], a["user_id"]) == (
        b["model_version"],
        b["fallback"],
        b["user_id"],
    )
    np.testing.assert_allclose(
        [x["score"] for x in a["items"]], [x["score"] for x in b["items"]], rtol=1e-6
    )


def test_waiting_lists_are_ranked_in_one_batch_each_as_it_would_be_alone(store, two_versions):
    pipe, _ = two_versions
    calls: list[int] = []
    gate = Gate(threading.Semaphore(0), threading.Event())
    served_pipe = counted(gated(pipe, gate), calls)
    app = create_app(Settings(), store=store, source=FixedSource(served_pipe, "v1"))
    users = training_users(pipe, 8)
    first_items = [str(x) for x in pipe.recommend(int(users[0]), 6).ids]
    # Training users with nothing stored, a user who rated live, a stranger; different n
    # and exclude (ids of their own list, of nobody's, unknown ones), so nothing is shared
    # but the call.
    asks = [
        (users[1], {"n": 5}),
        (users[2], {"n": 3, "exclude": first_items[:2]}),
        ("newbie", {"n": 5}),
        (users[3], {"n": 8, "exclude": ["no-such-item"]}),
        ("stranger", {"n": 5}),
        (users[4], {"n": 5, "exclude": first_items}),
        (users[5], {"n": 3}),
        ("newbie", {"n": 8, "exclude": first_items[:3]}),
        (users[6], {"n": 5}),
    ]
    with running(app) as (url, _), ThreadPoolExecutor(len(asks) + 1) as pool:
        newbie = [{"user_id": "newbie", "item_id": i, "rating": 5} for i in ("100", "105", "117")]
        assert httpx.post(f"{url}/ratings", json={"ratings": newbie}).status_code == 201
        try:
            held = pool.submit(get, url, users[0], n=6)
            wait_arrivals(gate, 1)
            pending = [pool.submit(get, url, u, **p) for u, p in asks]
            queued(app, len(asks))
        finally:
            gate.release.set()
        answers = [f.result() for f in pending]
        assert held.result().status_code == 200
        batched_calls = list(calls)
        # The same requests one at a time: each alone in its batch.
        alone = [get(url, u, **p) for u, p in asks]
    queue = app.state.pipeline_queue
    # The held list, then the nine in one batch: one ranking call per n asked (3, 5, 8).
    assert batched_calls[0] == 1 and sorted(batched_calls[1:]) == [2, 2, 5]
    assert len(batched_calls) < 1 + len(asks)
    assert calls[len(batched_calls) :] == [1] * len(asks)
    assert queue.batches == 2 + len(asks) and not queue.waiting
    for got, one in zip(answers, alone, strict=True):
        same_answer(got, one)
    for (user, params), got in zip(asks, answers, strict=True):
        body = got.json()
        assert body["model_version"] == "v1" and len(body["items"]) <= params["n"]
        assert not set(ids(body)) & set(params.get("exclude", []))
        if user.isdigit() and "exclude" not in params:
            want = pipe.recommend(int(user), params["n"])
            assert ids(body) == [str(x) for x in want.ids] and body["fallback"] is False
    assert answers[4].json()["fallback"] is True  # the stranger


def test_the_first_refresh_round_leaves_the_waiting_lists_one_batch(store, two_versions):
    """A worker seeds the catalogue with the model's titles as it starts; the served
    model was built before, so the first refresh round took the seed in by replacing
    it, and lists waiting then went in two batches, one per served model.  Here that
    round (the refresher's thread never runs one itself) comes while six lists wait."""
    pipe, _ = two_versions
    calls: list[int] = []
    gate = Gate(threading.Semaphore(0), threading.Event())
    source = FixedSource(counted(gated(pipe, gate), calls), "v1")
    app = create_app(Settings(poll_seconds=3600), store=store, source=source)
    users = training_users(pipe, 7)
    with running(app) as (url, _), ThreadPoolExecutor(7) as pool:
        try:
            held = pool.submit(get, url, users[0], n=6)
            wait_arrivals(gate, 1)
            pending = [pool.submit(get, url, u, n=5) for u in users[1:4]]
            queued(app, 3)
            app.state.refresher.tick()  # as the refresher's first round may come now
            pending += [pool.submit(get, url, u, n=5) for u in users[4:7]]
            queued(app, 6)
        finally:
            gate.release.set()
        assert [f.result().status_code for f in pending] == [200] * 6
        assert held.result().status_code == 200
    assert calls == [1, 6]


def test_a_reload_while_lists_wait_never_mixes_versions_in_a_batch(store, two_versions):
    first, second = two_versions
    calls: list[int] = []
    gate = Gate(threading.Semaphore(0), threading.Event())
    app = create_app(
        Settings(), store=store, source=FixedSource(counted(gated(first, gate), calls), "v1")
    )
    users = training_users(first, 20)
    # Users whose lists differ between the versions, so a mix would show.
    differ = [
        u
        for u in users
        if list(first.recommend(int(u), 5).ids) != list(second.recommend(int(u), 5).ids)
    ][:4]
    assert len(differ) == 4
    with running(app) as (url, _), ThreadPoolExecutor(8) as pool:
        try:
            held = pool.submit(get, url, users[0], n=5)
            wait_arrivals(gate, 1)
            old = [pool.submit(get, url, u, n=5) for u in differ[:2]]
            queued(app, 2)
            reload_to(app, second, "v2")
            # A refresh round after the reload, as the app's own (every poll_seconds)
            # makes on a loaded machine: it must keep v2.
            app.state.refresher.follow_source()
            new = [pool.submit(get, url, u, n=5) for u in differ[2:]]
            # An old-version request after the new ones still waits in the same queue.
            queued(app, 4)
        finally:
            gate.release.set()
        assert held.result().json()["model_version"] == "v1"
        old_answers = [f.result().json() for f in old]
        new_answers = [f.result().json() for f in new]
    # Held list, the two v1 lists in one call, the two v2 lists in another.
    assert calls == [1, 2] and app.state.pipeline_queue.batches == 3
    for user, body in zip(differ[:2], old_answers, strict=True):
        assert body["model_version"] == "v1"
        assert ids(body) == [str(x) for x in first.recommend(int(user), 5).ids]
    for user, body in zip(differ[2:], new_answers, strict=True):
        assert body["model_version"] == "v2"
        assert ids(body) == [str(x) for x in second.recommend(int(user), 5).ids]


def test_one_users_error_in_a_batch_fails_only_that_user(store, two_versions, monkeypatch):
    pipe, _ = two_versions
    calls: list[int] = []
    gate = Gate(threading.Semaphore(0), threading.Event())
    served_pipe = counted(gated(pipe, gate), calls)
    plain = served_pipe.recommend_histories
    poison = user_key("poison", pipe.n_users)
    tried: list[int] = []

    def refusing(batch, n=10):
        if not warming():
            tried.append(len(batch))
        if poison in batch.keys.tolist():
            raise RuntimeError("this user's list cannot be ranked")
        return plain(batch, n)

    served_pipe.recommend_histories = refusing
    app = create_app(Settings(), store=store, source=FixedSource(served_pipe, "v1"))
    live = app.state.live
    plain_resolve = live.resolve

    def resolve(served, user_id, version=None):
        if user_id == "unreachable":
            raise StoreUnavailableError("the store went away for this user")
        return plain_resolve(served, user_id, version)

    monkeypatch.setattr(live, "resolve", resolve)
    users = training_users(pipe, 5)
    asks = [users[1], "poison", users[2], "unreachable", users[3]]
    with running(app) as (url, _), ThreadPoolExecutor(len(asks) + 1) as pool:
        try:
            held = pool.submit(get, url, users[0], n=5)
            wait_arrivals(gate, 1)
            pending = [pool.submit(get, url, u, n=5) for u in asks]
            queued(app, len(asks))
        finally:
            gate.release.set()
        answers = dict(zip(asks, [f.result() for f in pending], strict=True))
        assert held.result().status_code == 200
        # The service goes on answering after both errors.
        after = get(url, users[4], n=5)
    assert answers["poison"].status_code == 500
    assert answers["unreachable"].status_code == 503
    for user in (users[1], users[2], users[3]):
        assert answers[user].status_code == 200
        assert ids(answers[user].json()) == [str(x) for x in pipe.recommend(int(user), 5).ids]
    assert after.status_code == 200
    # The batch of the four resolved users failed whole, then each was ranked alone.
    assert tried == [1, 4, 1, 1, 1, 1, 1] and calls == [1, 1, 1, 1, 1]


# ------------------------------------------------------------------ the queue itself
class Blocking:
    """A ``compute`` that records each batch's users and waits on ``release`` inside the
    first one."""

    def __init__(self):
        self.release = threading.Event()
        self.inside = threading.Event()
        self.batches: list[list[str]] = []

    def __call__(self, served, asks):
        self.batches.append([a.user_id for a in asks])
        if len(self.batches) == 1:
            self.inside.set()
            if not self.release.wait(WAIT_S):
                raise RuntimeError("the test never released the batch")
        for ask in asks:
            if ask.user_id == "bad":
                ask.error = ValueError("bad user")
            else:
                ask.body = {"user_id": ask.user_id, "served": served, "n": ask.n}


async def until(condition) -> None:
    with anyio.fail_after(WAIT_S):
        while not condition():
            await anyio.sleep(0.001)


def test_the_queue_skips_a_cancelled_request_and_caps_its_batches():
    compute = Blocking()
    queue = PipelineQueue(compute, threads=1, cap=2)
    got: dict = {}

    async def ask(user, served="v1"):
        try:
            got[user] = await queue.answer(served, user, 3, None)
        except ValueError as err:
            got[user] = err

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "first")
            await until(compute.inside.is_set)
            with anyio.CancelScope() as gone:
                tg.start_soon(ask, "a")
                await until(lambda: len(queue.waiting) == 1)
            cancelled = anyio.CancelScope()

            async def leaver():
                with cancelled:
                    await queue.answer("v1", "leaver", 3, None)

            tg.start_soon(leaver)
            for user in ("b", "bad", "c"):
                tg.start_soon(ask, user)
            tg.start_soon(ask, "other", "v2")
            await until(lambda: len(queue.waiting) == 6)
            cancelled.cancel()  # its client went away while it waited
            await until(lambda: len(queue.waiting) == 5)
            compute.release.set()
        assert not gone.cancel_called

    anyio.run(main)
    # Arrival order, one version per batch, at most two per batch, the leaver skipped.
    assert compute.batches == [["first"], ["a", "b"], ["bad", "c"], ["other"]]
    assert got["other"]["served"] == "v2" and got["c"] == {"user_id": "c", "served": "v1", "n": 3}
    assert isinstance(got["bad"], ValueError) and "leaver" not in got
    assert queue.batches == 4 and not queue.waiting and queue.running == 0


def test_a_failing_batch_answers_each_request_with_the_error_and_the_queue_goes_on():
    broken = {"yes": True}

    def compute(served, asks):
        if broken["yes"]:
            raise RuntimeError("the pipeline broke")
        for ask in asks:
            ask.body = {"user_id": ask.user_id}

    queue = PipelineQueue(compute)

    async def main():
        with pytest.raises(RuntimeError, match="the pipeline broke"):
            await queue.answer("v1", "ann", 3, None)
        broken["yes"] = False
        return await queue.answer("v1", "bob", 3, None)

    assert anyio.run(main) == {"user_id": "bob"}
    assert queue.running == 0 and not queue.waiting


def test_the_batch_cap_is_the_services():
    assert batching.PIPELINE_BATCH >= 2 and PipelineQueue(None).cap == batching.PIPELINE_BATCH
