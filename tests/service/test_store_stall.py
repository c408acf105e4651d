"""A PostgreSQL server that stops answering costs a request seconds and a 503, never the
worker: the store-bound routes wait for it in the thread pool, every wait on it is
bounded (``Settings.store_timeout``), and ``/health`` answers from memory meanwhile.

The server is frozen with SIGSTOP (its postmaster and every backend), which stands for a
network black hole after connecting: its kernel still takes the bytes, so only a limit
on the client's side ends the wait.  Before, the hot read waited on the event loop with
no limit, and every request of the worker, ``/health`` included, waited with it.

Also: while the store is down, the refusals are logged once and then counted, not one
line each.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
from store.freezing import server_pids, stopped

from latentrec.service.app import create_app
from latentrec.service.hardening import ERROR_LOGGER, QUIET_OUTAGE_ENDS, STORE_DOWN_LOG_S
from latentrec.service.settings import Settings

from .serving import served_in_thread

# The store's limit in these tests: small, so that each check takes seconds.
LIMIT_S = 1.0
# A generous bound for answers that come from memory: far above what they take (under a
# millisecond), far below what a frozen store would hold them (for ever, before).
MEMORY_ANSWER_S = 10.0
# The server is continued after this long at the latest (a request waiting for ever, as
# before, then ends and the test fails instead of hanging).
THAW_S = 30.0


def rating(user: str, item: str, value: float) -> dict:
    return {"user_id": user, "item_id": item, "rating": value}


@pytest.mark.postgres
def test_a_frozen_postgres_costs_a_request_a_503_not_the_worker(
    postgres_server, pg_url, model_files
):
    settings = Settings(
        model_path=str(model_files["explicit"]),
        store_url=pg_url,
        store_timeout=LIMIT_S,
        warm_users=False,
        access_log=False,
    )
    app = create_app(settings)
    with served_in_thread(app) as (url, _):
        client = httpx.Client(base_url=url, timeout=60)
        assert client.get("/users/0/recommendations?n=3").status_code == 200
        acked = client.post("/ratings", json=rating("stall-u", "100", 4.0))
        assert acked.status_code == 201, acked.text

        answers: dict = {}

        def ask(name, method, path, **kw):
            try:
                answers[name] = client.request(method, path, **kw)
            except httpx.HTTPError as err:  # reported by the asserts below
                answers[name] = err

        with stopped(server_pids(postgres_server), THAW_S) as thawed:
            stuck = [
                threading.Thread(target=ask, args=("read", "GET", "/users/0/recommendations?n=3")),
                threading.Thread(
                    target=ask,
                    args=("write", "POST", "/ratings"),
                    kwargs={"json": rating("stall-u", "101", 2.0)},
                ),
            ]
            for thread in stuck:
                thread.start()
            # /health answers from memory while both requests wait for the store.
            health = []
            while any(thread.is_alive() for thread in stuck):
                waiting = any(thread.is_alive() for thread in stuck)
                probe = httpx.get(url + "/health", timeout=MEMORY_ANSWER_S)
                assert probe.status_code == 200
                health.append(waiting)
                time.sleep(0.05)
            # The requests end on their own, the server still frozen: within the limit
            # (a pooled connection's check, then a new connection's), not at SIGCONT.
            for thread in stuck:
                thread.join()
            assert not thawed.is_set(), "the requests ended only once the server was continued"
            assert any(health), "no /health was asked while a request waited for the store"
            for name in ("read", "write"):
                answer = answers[name]
                assert isinstance(answer, httpx.Response), f"{name}: {answer!r}"
                assert answer.status_code == 503, (name, answer.text)
                assert answer.headers["retry-after"]
                assert "unavailable" in answer.json()["detail"]

        # Back: the refused write was not stored, the acknowledged one was, and the
        # service writes again.
        stored = client.get("/users/stall-u/ratings")
        assert stored.status_code == 200, stored.text
        assert {r["item_id"]: r["rating"] for r in stored.json()["ratings"]} == {"100": 4.0}
        again = client.post("/ratings", json=rating("stall-u", "102", 5.0))
        assert again.status_code == 201, again.text
        client.close()


def test_store_timeout_is_checked():
    for bad in (0, -1.0, float("nan"), True, "5", 7200):
        with pytest.raises(ValueError, match="store_timeout"):
            Settings(model_path="m.npz", store_timeout=bad).check()
    assert Settings(model_path="m.npz", store_timeout=2.5).check().store_timeout == 2.5


def test_serve_takes_the_store_timeout(monkeypatch, model_files, tmp_path):
    """``latentrec serve --store-timeout S`` reaches the service's settings (it had no
    option for it); a value outside (0, 3600] is one line, before anything starts."""
    from click.testing import CliRunner

    import latentrec.service.app as app_module
    from latentrec.cli import main

    seen = []

    def refuse(settings, **_):
        seen.append(settings)
        raise RuntimeError("settings seen")

    monkeypatch.setattr(app_module, "create_app", refuse)
    args = ["serve", "--model", str(model_files["explicit"]), "--store", str(tmp_path / "s.db")]
    CliRunner().invoke(main, [*args, "--port", "0", "--store-timeout", "2.5"])
    assert [s.store_timeout for s in seen] == [2.5]
    for bad in ("0", "nan", "7200"):
        out = CliRunner().invoke(main, [*args, "--store-timeout", bad])
        assert out.exit_code == 1 and out.output == (
            f"Error: --store-timeout must lie in (0, 3600] seconds, got {float(bad):g}\n"
        ), out.output


def test_refusals_while_the_store_is_down_are_logged_once_then_counted(
    store, make_client, explicit_model, caplog
):
    client = make_client(explicit_model)
    assert client.get("/users/1/ratings").status_code == 200
    now = [1000.0]
    client.app.state.store_refusals.clock = lambda: now[0]
    store.close()

    def refusal_lines():
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == ERROR_LOGGER and "unavailable" in r.getMessage()
        ]

    with caplog.at_level(logging.ERROR, logger=ERROR_LOGGER):
        for _ in range(30):
            now[0] += 0.1
            assert client.get("/users/1/ratings").status_code == 503
        lines = refusal_lines()
        assert len(lines) == 1, lines
        assert "answered 503" in lines[0] and "is closed" in lines[0]
        # A line with the count once the interval has passed, the reason with it.
        now[0] += STORE_DOWN_LOG_S
        assert client.get("/users/1/ratings").status_code == 503
        lines = refusal_lines()
        assert len(lines) == 2, lines
        assert "still unavailable: 30 requests answered 503" in lines[1], lines[1]
        # Refused again after a quiet spell as long: a new outage, said at once, with
        # the refusals no line counted yet.
        now[0] += 0.1
        assert client.get("/users/1/ratings").status_code == 503
        now[0] += QUIET_OUTAGE_ENDS * STORE_DOWN_LOG_S
        assert client.get("/users/1/ratings").status_code == 503
        lines = refusal_lines()
        assert len(lines) == 3, lines
        assert "1 more were refused" in lines[2], lines[2]
