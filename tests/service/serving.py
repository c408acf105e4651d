"""Checks on a real ``latentrec serve`` (started by the ``serve`` fixture), written once
for any store: the workers share the store, and a SIGKILL loses no acknowledged rating.

``store`` arguments are what ``--store`` was given (a SQLite path or a database URL), so
the same check runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import uvicorn

from latentrec.store import open_store

from .conftest import free_port


def wait_for(condition, timeout: float, what: str, every: float = 0.1):
    """Poll ``condition`` until it returns something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@contextmanager
def served_in_thread(app, timeout: float = 30.0, warm: bool = False):
    """``app`` served by uvicorn on a free loopback port, in a thread of this process:
    yields (its URL, the thread that runs the event loop).  With ``warm``, only once the
    app's warm-up list is done, so none runs beside the checks' requests."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout, "the server to start", every=0.02)
        if warm:
            done = app.state.refresher.warm_done
            wait_for(done.is_set, timeout, "the warm-up", every=0.02)
        yield f"http://127.0.0.1:{config.port}", thread
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def client_of(app):
    """An ``httpx.Client`` on ``app`` served over real HTTP (:func:`served_in_thread`),
    following no redirects, so a check sees the service's own 307s."""
    with served_in_thread(app) as (url, _):
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
            yield client


def refused(response, detail: str) -> None:
    """``response`` is a 422 whose one line is ``detail``."""
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.json()["detail"] == detail


def worker_pids(url: str, count: int = 2, timeout: float = 60.0) -> set[int]:
    """The PIDs of ``count`` workers that answered ``/health`` (fresh connections spread
    over the workers); fewer only if the time ran out."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(pids) < count and time.monotonic() < deadline:
        pids.add(httpx.get(url + "/health").json()["worker_pid"])
    return pids


def check_rating_reaches_every_worker(url: str, user: str, pids: set[int], item: str = "100"):
    """Every worker answers ``user`` as unknown (and caches that); a rating posted through
    one of them is then reflected in every worker's next answer.  Returns the writer's
    PID."""
    path = f"{url}/users/{quote(user, safe='')}/recommendations"
    deadline = time.monotonic() + 60
    answered: set[int] = set()
    while answered != pids and time.monotonic() < deadline:
        r = httpx.get(path)
        assert r.json()["fallback"] is True
        answered.add(int(r.headers["x-worker-pid"]))
    assert answered == pids, "not every worker answered before the rating"
    r = httpx.post(url + "/ratings", json={"user_id": user, "item_id": item, "rating": 5})
    assert r.status_code == 201, r.text
    writer = int(r.headers["x-worker-pid"])
    answered = set()
    for _ in range(200):
        r = httpx.get(path)
        body = r.json()
        assert body["fallback"] is False, f"worker {r.headers['x-worker-pid']} missed it"
        assert item not in [x["item_id"] for x in body["items"]]
        answered.add(int(r.headers["x-worker-pid"]))
        if answered == pids:
            break
    assert answered == pids and writer in pids
    return writer


class RatingBurst:
    """Writer threads posting ratings as fast as they can until the service goes away.

    ``acked`` holds every (user, item, value) answered 2xx, in order; ``in_flight`` the
    last rating of each writer that got no answer (it may or may not have committed).
    """

    def __init__(self, url: str, writers: int = 4):
        self.url = url
        self.writers = writers
        self.acked: list[tuple[str, str, float]] = []
        self.in_flight: dict[int, dict] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def write(self, w: int) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            k = 0
            while not self.stopping.is_set():
                rating = {"user_id": f"w{w}", "item_id": str(100 + k % 30), "rating": 1 + k % 5}
                k += 1
                self.in_flight[w] = rating
                try:
                    r = http.post("/ratings", json=rating)
                except httpx.HTTPError:
                    return  # the service is gone
                if 200 <= r.status_code < 300:
                    with self.lock:
                        self.acked.append((rating["user_id"], rating["item_id"], rating["rating"]))
                    self.in_flight.pop(w, None)

    def run_until_acked(self, count: int, then, timeout: float = 20.0) -> None:
        """Write until ``count`` ratings are acknowledged (or ``timeout``), call ``then()``
        (which kills the service), and wait for every writer to stop."""
        with ThreadPoolExecutor(self.writers) as pool:
            futures = [pool.submit(self.write, w) for w in range(self.writers)]
            deadline = time.monotonic() + timeout
            while len(self.acked) < count and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                then()
            finally:
                self.stopping.set()
                for f in futures:
                    f.result()

    def check_stored(self, store) -> dict:
        """Every acknowledged rating is in ``store`` with its latest acknowledged value
        (or the value of that writer's unanswered last post, which may have committed just
        before the kill).  Returns the latest acknowledged value per (user, item)."""
        latest = {}
        for user, item, value in self.acked:
            latest[(user, item)] = value
        with open_store(store) as opened:
            held = {
                (r.user_id, r.item_id): r.value
                for user in {u for u, _ in latest}
                for r in opened.user_ratings(user)
            }
        unanswered = {(r["user_id"], r["item_id"]): r["rating"] for r in self.in_flight.values()}
        for key, value in latest.items():
            assert key in held, f"acknowledged rating {key} was lost"
            assert held[key] in {value, unanswered.get(key)}, key
        return latest
