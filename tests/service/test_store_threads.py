"""While a PostgreSQL server stops answering, the requests waiting for it hold threads of
the store's own (as many as its connection pool), not the thread pool that every
plain-function route shares: a route that needs no store still answers.

Before, the store-bound routes ran in AnyIO's default thread pool (40 threads): 40
requests waiting on a frozen server left none for ``GET /items/{id}/similar``, which
waited with them for the whole outage.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from store.freezing import server_pids, stopped

from latentrec.service.app import STORE_THREADS, create_app
from latentrec.service.settings import Settings

from .serving import served_in_thread

# Long, so that the store-bound requests are still waiting when the probe is sent (the
# server is continued as soon as the probe is answered).
LIMIT_S = 30.0
# More store-bound requests than the shared pool's 40 threads and the store's own.
WAITING = 48
# A generous bound for an answer from memory (it takes a millisecond), far below what
# the waiting requests hold a thread (the limit).
MEMORY_ANSWER_S = 10.0
THAW_S = 60.0


@pytest.mark.postgres
def test_routes_that_need_no_store_answer_while_the_store_is_frozen(
    postgres_server, pg_url, model_files
):
    assert WAITING > max(40, STORE_THREADS)
    settings = Settings(
        model_path=str(model_files["explicit"]),
        store_url=pg_url,
        store_timeout=LIMIT_S,
        warm_users=False,
        access_log=False,
    )
    app = create_app(settings)
    with served_in_thread(app) as (url, _):
        client = httpx.Client(base_url=url, timeout=THAW_S * 2)
        assert client.get("/users/0/recommendations?n=3").status_code == 200
        answers: list = []

        def read(user: int) -> None:
            try:
                answers.append(client.get(f"/users/{user}/recommendations?n=3").status_code)
            except httpx.HTTPError as err:
                answers.append(err)

        with stopped(server_pids(postgres_server), THAW_S) as thawed:
            waiting = [threading.Thread(target=read, args=(u % 5,)) for u in range(WAITING)]
            for thread in waiting:
                thread.start()
            time.sleep(1.0)  # let them reach the server (no answer can come from it)
            probe = httpx.get(url + "/items/104/similar?n=3", timeout=MEMORY_ANSWER_S)
            assert probe.status_code == 200, probe.text
            assert not thawed.is_set()
            assert len(answers) == 0, "a store-bound request was answered by a frozen server"
        for thread in waiting:
            thread.join()
        # Continued: every waiting request got an answer (200, or 503 for one whose
        # connection was given up on), none a 500.
        assert len(answers) == WAITING
        assert set(answers) <= {200, 503}, answers
        client.close()
