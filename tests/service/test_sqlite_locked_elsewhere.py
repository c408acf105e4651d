"""Another program holding a SQLite store's write lock (a ``sqlite3`` shell, a backup, a
migration: anything that does not take latentrec's write gate) costs a rating write a
wait, never the worker: ``/health`` and the reads answer meanwhile, and the write is
stored and acknowledged once the lock is free.

Before, the write's BEGIN IMMEDIATE waited out SQLite's busy timeout (30 s) on the event
loop, and every request of the worker, ``/health`` included, waited with it.
"""

from __future__ import annotations

import sqlite3
import threading

import httpx

from latentrec.service.app import create_app
from latentrec.service.settings import Settings

from .serving import served_in_thread, wait_for

# A generous bound for answers from memory: far above what they take, far below the 30 s
# a blocked loop held them.
MEMORY_ANSWER_S = 10.0


def test_a_write_waiting_on_another_programs_lock_leaves_the_loop_free(model_files, tmp_path):
    db = tmp_path / "ratings.sqlite"
    settings = Settings(
        model_path=str(model_files["explicit"]),
        store_url=str(db),
        warm_users=False,
        access_log=False,
    )
    app = create_app(settings)
    store = app.state.store
    refusals: list[int] = []
    real_try = store.try_add_ratings

    def counted_try(ratings):
        # The real call, counting the times it came back with nothing written.
        result = real_try(ratings)
        if result is None:
            refusals.append(1)
        return result

    store.try_add_ratings = counted_try
    with served_in_thread(app) as (url, _):
        client = httpx.Client(base_url=url, timeout=60)
        first = client.post("/ratings", json={"user_id": "u", "item_id": "100", "rating": 4})
        assert first.status_code == 201, first.text

        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        answers: dict = {}

        def write():
            answers["write"] = client.post(
                "/ratings", json={"user_id": "u", "item_id": "101", "rating": 2}
            )

        writer = threading.Thread(target=write)
        writer.start()
        try:
            # The write has found the lock taken and the loop came back to try again
            # (before, its first try waited inside BEGIN IMMEDIATE, on the loop).
            wait_for(lambda: len(refusals) >= 2, MEMORY_ANSWER_S, "a refused try")
            for _ in range(3):
                probe = httpx.get(url + "/health", timeout=MEMORY_ANSWER_S)
                assert probe.status_code == 200
                listed = httpx.get(url + "/users/0/recommendations?n=3", timeout=MEMORY_ANSWER_S)
                assert listed.status_code == 200, listed.text
            # The lock is still held: the write cannot have been stored yet.
            assert writer.is_alive(), answers
        finally:
            other.execute("ROLLBACK")
            other.close()
            writer.join(60)
        assert answers["write"].status_code == 201, answers["write"].text
        stored = client.get("/users/u/ratings").json()["ratings"]
        assert {r["item_id"]: r["rating"] for r in stored} == {"100": 4.0, "101": 2.0}
        client.close()
