"""A served pipeline's lists are computed in threads of their own, off the event loop,
so the loop answers other requests (health checks, writes) while they run, and however
many are waiting they never take every thread of the pool the plain-function routes
run in; a plain model's list stays on the loop.  A real server on 127.0.0.1 (uvicorn in
a thread of the test), and a pipeline whose last stage waits on an Event inside the
list computation: the checks hold the lists there and look at what answers meanwhile,
never at how long anything took."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from latentrec.pipeline import Reranker
from latentrec.service import app as app_module
from latentrec.service import batching
from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import served_in_thread
from .test_pipeline_serve import small_pipeline

# A generous bound on every wait, so that a failing check fails instead of hanging.
WAIT_S = 30.0


# More requests than anyio's default thread pool has threads (40), which the service's
# plain-function routes share.
MANY = 41

# The worker's warm-up thread (the refresher's), which ranks made-up users through the
# pipeline, this gate included, before /health says warm.
WARM_UP_THREAD = "latentrec-refresh"


def warming() -> bool:
    """Whether this thread is the worker's warm-up: the gates and counters of these
    checks let its lists through unseen, as they are about requests."""
    return threading.current_thread().name == WARM_UP_THREAD


class Gate(Reranker):
    """A last stage that keeps each list it sees (the pipeline's, passed through) until
    ``release`` is set; ``arrived`` is released once per list that reached it,
    ``threads`` holds the thread each ran on and ``most`` the most lists inside at once.
    The warm-up's lists pass at once, unrecorded."""

    def __init__(self, arrived: threading.Semaphore, release: threading.Event):
        self.arrived = arrived
        self.release = release
        self.threads: list[int] = []
        self.inside = self.most = 0
        self.lock = threading.Lock()

    def rerank(self, context, user, candidates, scores, n):
        if warming():
            return np.asarray(candidates)[:n]
        with self.lock:
            self.threads.append(threading.get_ident())
            self.inside += 1
            self.most = max(self.most, self.inside)
        self.arrived.release()
        try:
            if not self.release.wait(WAIT_S):
                raise RuntimeError("the test never opened the gate")
        finally:
            with self.lock:
                self.inside -= 1
        return np.asarray(candidates)[:n]


def gated(pipe, gate: Gate):
    """``pipe`` with ``gate`` as its last stage (a shallow copy; ``pipe`` is unchanged)."""
    out = copy.copy(pipe)
    out.rerankers = [*pipe.rerankers, gate]
    return out


def running(app):
    """``app`` served in a thread once warm: yields (url, the event loop's thread)."""
    return served_in_thread(app, WAIT_S, warm=True)


def wait_arrivals(gate: Gate, count: int) -> None:
    for k in range(count):
        assert gate.arrived.acquire(timeout=WAIT_S), f"only {k} of {count} lists reached the gate"


def ids(body) -> list[str]:
    return [x["item_id"] for x in body["items"]]


@pytest.fixture(scope="module")
def two_pipelines(planted_data):
    return small_pipeline(planted_data, 0), small_pipeline(planted_data, 1)


def training_users(pipe, count: int) -> list[str]:
    ctx = pipe.context_
    rows = np.flatnonzero(ctx.has_history(np.arange(pipe.n_users)))[:count]
    return [str(pipe.users_.ids[u]) for u in rows]


def test_health_and_writes_answer_while_pipeline_lists_are_held(store, two_pipelines):
    pipe, _ = two_pipelines
    gate = Gate(threading.Semaphore(0), threading.Event())
    app = create_app(Settings(), store=store, source=FixedSource(gated(pipe, gate), "v1"))
    users = training_users(pipe, 3)
    rated = ["100", "105", "117"]
    asked = [[*users, "newbie"][k % 4] for k in range(MANY)]
    with running(app) as (url, loop_thread), ThreadPoolExecutor(MANY) as pool:
        newbie = [{"user_id": "newbie", "item_id": i, "rating": 5} for i in rated]
        assert httpx.post(f"{url}/ratings", json={"ratings": newbie}).status_code == 201
        try:
            pending = [
                pool.submit(
                    httpx.get, f"{url}/users/{u}/recommendations", params={"n": 5}, timeout=WAIT_S
                )
                for u in asked
            ]
            # Lists inside the pipeline at once, as many as the service computes at a
            # time: on the loop, the first would hold it and no other would start.
            wait_arrivals(gate, batching.PIPELINE_THREADS)
            # Every request in flight, most waiting their turn: /health (a plain
            # function, in the thread pool) still finds a thread.
            health = httpx.get(f"{url}/health", timeout=WAIT_S)
            assert health.status_code == 200 and health.json()["model_version"] == "v1"
            # POST /ratings runs on the event loop itself.
            one = {"user_id": "writer", "item_id": "101", "rating": 4}
            assert httpx.post(f"{url}/ratings", json=one, timeout=WAIT_S).status_code == 201
            assert not any(f.done() for f in pending)
        finally:
            gate.release.set()
        answers = [f.result() for f in pending]
    assert gate.most == batching.PIPELINE_THREADS and len(gate.threads) == MANY
    assert loop_thread.ident not in gate.threads
    want = {u: [str(x) for x in pipe.recommend(int(u), 5).ids] for u in users}
    for user, answer in zip(asked, answers, strict=True):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model_version"] == "v1" and body["fallback"] is False
        if user == "newbie":
            assert len(body["items"]) == 5 and not set(ids(body)) & set(rated)
        else:
            assert ids(body) == want[user]


def reload_to(app, model, version: str) -> None:
    """What a reload does: the source has a new model, and the holder's one reference is
    swapped whole to it.  A model swapped in by hand, its source still on the old one,
    was put back by the app's own refresh round when the test ran past its poll."""
    app.state.holder.source = FixedSource(model, version)
    assert app.state.holder.reload()


def test_a_reload_during_a_pipeline_list_answers_from_the_version_it_started_with(
    store, two_pipelines
):
    first, second = two_pipelines
    gate = Gate(threading.Semaphore(0), threading.Event())
    app = create_app(Settings(), store=store, source=FixedSource(gated(first, gate), "v1"))
    # A user whose lists differ between the two versions, so a mix would show.
    user = next(
        u
        for u in training_users(first, 20)
        if list(first.recommend(int(u), 5).ids) != list(second.recommend(int(u), 5).ids)
    )
    with running(app) as (url, _), ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(
                httpx.get, f"{url}/users/{user}/recommendations", params={"n": 5}, timeout=WAIT_S
            )
            wait_arrivals(gate, 1)
            # A reload, here while the list of the version before is being computed.
            reload_to(app, second, "v2")
        finally:
            gate.release.set()
        during = pending.result()
        # A refresh round between the reload and the next request, as the app's own
        # (every poll_seconds) makes on a loaded machine: it must keep v2.
        app.state.refresher.follow_source()
        after = httpx.get(f"{url}/users/{user}/recommendations", params={"n": 5})
    assert during.status_code == 200 and after.status_code == 200
    assert during.json()["model_version"] == "v1"
    assert ids(during.json()) == [str(x) for x in first.recommend(int(user), 5).ids]
    assert after.json()["model_version"] == "v2"
    assert ids(after.json()) == [str(x) for x in second.recommend(int(user), 5).ids]


def test_a_plain_models_list_stays_on_the_event_loop(store, explicit_model, monkeypatch):
    threads = []
    plain_recommend = app_module.recommend

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return plain_recommend(*args, **kwargs)

    monkeypatch.setattr(app_module, "recommend", recording)
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v1"))
    with running(app) as (url, loop_thread):
        for user in ("3", "stranger"):
            r = httpx.get(f"{url}/users/{user}/recommendations", params={"n": 5})
            assert r.status_code == 200 and len(r.json()["items"]) == 5, r.text
    assert threads == [loop_thread.ident] * 2


def test_health_answers_while_every_pool_thread_is_busy(store, explicit_model, monkeypatch):
    # A load balancer's probe must not queue behind slow plain-function routes: with all
    # of the pool's threads held inside GET /items/{id}, /health still answers.
    arrived, release = threading.Semaphore(0), threading.Event()
    plain_item_out = app_module.item_out

    def held(*args, **kwargs):
        arrived.release()
        if not release.wait(WAIT_S):
            raise RuntimeError("the test never released the item reads")
        return plain_item_out(*args, **kwargs)

    monkeypatch.setattr(app_module, "item_out", held)
    app = create_app(Settings(), store=store, source=FixedSource(explicit_model, "v1"))
    item = str(explicit_model.items_.ids[0])
    with running(app) as (url, _), ThreadPoolExecutor(MANY) as pool:
        try:
            reads = [
                pool.submit(httpx.get, f"{url}/items/{item}", timeout=WAIT_S) for _ in range(MANY)
            ]
            for k in range(MANY - 1):  # the pool's 40 threads are all held
                assert arrived.acquire(timeout=WAIT_S), f"only {k} item reads started"
            health = httpx.get(f"{url}/health", timeout=WAIT_S)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert not any(r.done() for r in reads)
        finally:
            release.set()
        assert all(r.result().status_code == 200 for r in reads)
