"""A worker whose ratings store does not answer while it starts.

Before, a store error during the start-up take-in (the store's new titles added to the
served model, the model's titles seeded into the store's catalogue) failed the worker's
start; and a worker of ``serve --workers 2`` replaced while the database refused
connections could not open its store, exited "failed to start", and the supervisor then
stopped every worker: one worker's crash during a database restart took the service down.

Now the take-in is put off to the refresher's rounds (the worker serves its model, the
store's routes answer 503, ``/health`` says why), and a worker of a running ``serve``
waits for a store it cannot reach.  ``serve``'s own start still fails on a store it
cannot reach, with one line: a wrong host or port reads the same as a database that is
down, and the operator starting it is there to read it.

Real stores made unavailable: a SQLite file whose write lock another program holds (its
busy timeout shortened, so that a refused write takes half a second, not 30), and a
PostgreSQL database that refuses connections (``ALLOW_CONNECTIONS false``).  Waits are
bounded polls, never timings.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from latentrec.service.app import create_app, open_store_waiting
from latentrec.service.hardening import ERROR_LOGGER
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import Item, StoreError, StoreUnavailableError, open_store
from latentrec.store import engine as store_engine
from service.test_serve_sigterm import workers_of

# A program other than latentrec holding the SQLite file's write lock (it knows nothing
# of latentrec's own write gate) until told to let go.
LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("holding", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    conn.close()
    print("released", flush=True)
    """
)

# Bounds on waits for what happens within a round or two, or a process's start: far
# above what they wait for, so that only a defect reaches them.
ROUNDS_BOUND_S = 30
START_BOUND_S = 120


def poll(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def locked_sqlite(tmp_path, monkeypatch):
    """A SQLite store (schema made, one title the model lacks) whose write lock another
    program holds; ``(path, release)``."""
    # Each write waits this long for the lock before the store says it is unavailable.
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_S", 0.5)
    path = tmp_path / "ratings.sqlite"
    with open_store(path) as store:
        # Added while the model was trained: the model lacks it.
        store.add_items([Item("999", "Added After Training")])
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "holding"

    def release():
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        assert proc.wait(timeout=ROUNDS_BOUND_S) == 0

    yield path, release
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_worker_starts_and_serves_while_its_store_cannot_write(
    locked_sqlite, explicit_model, caplog
):
    from fastapi.testclient import TestClient

    path, release = locked_sqlite
    caplog.set_level(logging.INFO, logger=ERROR_LOGGER)
    with open_store(path) as store:
        app = create_app(
            Settings(poll_seconds=0.05), store=store, source=FixedSource(explicit_model, "v1")
        )
        with TestClient(app, raise_server_exceptions=False) as client:
            health = client.get("/health").json()
            assert health["status"] == "ok"
            assert "locked" in health["store_takein_error"], health
            said = [r.getMessage() for r in caplog.records if "take-in" in r.getMessage()]
            assert len(said) == 1 and "unavailable at start" in said[0], said
            # The model answers for the users it knows (the store still reads).
            body = client.get("/users/0/recommendations", params={"n": 5})
            assert body.status_code == 200, body.text
            expected = [str(x) for x in explicit_model.recommend(0, n=5).ids]
            assert [x["item_id"] for x in body.json()["items"]] == expected
            # The store's titles were read before the seed failed: served already.
            assert client.get("/users/0/predictions", params={"items": "999"}).status_code == 200
            # The routes that write answer 503, as when the store goes away later.
            rating = {"user_id": "0", "item_id": "100", "rating": 4}
            assert client.post("/ratings", json=rating).status_code == 503
            # Not seeded yet: the store lacks the model's titles.
            assert client.get("/items", params={"search": "Film"}).json()["items"] == []

            release()
            poll(
                lambda: client.get("/health").json()["store_takein_error"] is None,
                ROUNDS_BOUND_S,
                "the take-in done once the store writes again",
            )
            titles = client.get("/items", params={"search": "Film", "n": 100}).json()["items"]
            assert sorted(x["item_id"] for x in titles) == sorted(
                str(x) for x in explicit_model.items_.ids
            )
            assert client.post("/ratings", json=rating).status_code == 201
            assert any("answers again" in r.getMessage() for r in caplog.records)
            # Once, then not again: the take-in is not tried after it is done.
            assert [r.getMessage() for r in caplog.records].count(said[0]) == 1


def test_a_store_that_cannot_be_read_still_fails_the_start_with_its_error(tmp_path, explicit_model):
    """Only the take-in is put off: a store that does not open (here a file that is not
    a database: a wrong path, not a store that is down) still fails the app's build with
    the store's error, which ``serve`` says as one line."""
    bad = tmp_path / "not-a-store.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        create_app(Settings(store_url=str(bad)), source=FixedSource(explicit_model, "v1"))


# ------------------------------------------------------------------ PostgreSQL, real serve
def pg_admin(pg_url: str, sql: str) -> None:
    import psycopg

    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    admin = plain.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def refuse_connections(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    pg_admin(pg_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    pg_admin(
        pg_url,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )


def allow_connections(pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    pg_admin(pg_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture
def down_pg(pg_url):
    """The URL of a PostgreSQL store (schema made); connections are allowed again after
    the test, so that its database can be dropped."""
    open_store(pg_url).close()
    yield pg_url
    allow_connections(pg_url)


@pytest.mark.postgres
def test_serve_refuses_to_start_on_a_database_it_cannot_reach(down_pg, model_files):
    refuse_connections(down_pg)
    done = subprocess.run(
        [sys.executable, "-m", "latentrec", "serve", "--model", str(model_files["explicit"])]
        + ["--store", down_pg, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=START_BOUND_S,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot connect to the store"), lines
    assert "not currently accepting connections" in lines[0]


@pytest.mark.postgres
def test_a_worker_replaced_while_the_database_is_down_waits_for_it(down_pg, model_files, serve):
    server = serve("--model", str(model_files["explicit"]), "--store", down_pg, "--workers", "2")
    # Both workers answering, not just forked: a worker still opening the store when the
    # database goes away waits for it too, and killing the other left none to answer.
    answered: set[int] = set()

    def both_answer():
        answered.add(httpx.get(server.url + "/health", timeout=10).json()["worker_pid"])
        return len(answered) == 2

    poll(both_answer, START_BOUND_S, "both workers answer /health")
    first = workers_of(server.proc.pid)
    assert answered == first, (answered, first)
    refuse_connections(down_pg)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    log = server.log_path
    poll(
        lambda: "this worker waits for it" in log.read_text(),
        START_BOUND_S,
        "the replacement says it waits for the store",
    )
    # serve goes on, the worker left answering.
    assert server.proc.poll() is None, log.read_text()[-3000:]
    assert httpx.get(server.url + "/health", timeout=10).json()["worker_pid"] in first
    # Needs the store: 503, not a dead service.
    assert httpx.get(server.url + "/metrics", timeout=10).status_code == 503

    allow_connections(down_pg)
    replacement = poll(
        lambda: (workers_of(server.proc.pid) - first) or None, START_BOUND_S, "a new worker"
    )
    seen: set[int] = set()

    def new_worker_answers():
        seen.add(httpx.get(server.url + "/health", timeout=10).json()["worker_pid"])
        return seen & replacement

    poll(new_worker_answers, START_BOUND_S, "the new worker answers /health")
    assert httpx.get(server.url + "/users/0/recommendations", timeout=10).status_code == 200
    assert server.proc.poll() is None
    text = log.read_text()
    assert "Traceback" not in text and "failed to start" not in text, text[-3000:]
    assert "the ratings store answers; this worker starts" in text


def test_the_wait_for_a_store_ends_on_sigterm():
    """A worker waiting for its store stops when ``serve`` stops it: the wait ends on
    SIGTERM, in a real process whose store URL points at a port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql+psycopg://nobody@127.0.0.1:{port}/none"
    script = textwrap.dedent(
        f"""
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
        from latentrec.service.app import open_store_waiting
        open_store_waiting({url!r}, retry_s=0.05)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        line = proc.stdout.readline().decode()
        assert "this worker waits for it" in line, line
        proc.send_signal(signal.SIGTERM)
        # Its default action, as without the wait (uvicorn's handler notes it instead).
        assert proc.wait(timeout=ROUNDS_BOUND_S) == -signal.SIGTERM
        rest = proc.stdout.read().decode()
        assert "Traceback" not in rest and rest.count("waits for it") == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_waiting_for_a_store_takes_only_unavailability(tmp_path):
    """A store that is wrong rather than down (no such folder) is refused at once."""
    with pytest.raises(Exception, match="no folder") as caught:
        open_store_waiting(str(tmp_path / "missing" / "r.db"))
    assert not isinstance(caught.value, StoreUnavailableError)


def test_the_take_in_put_off_replaces_the_served_model_once(locked_sqlite, explicit_model):
    """Done later, under requests, the take-in swaps the served model once (a pipeline's
    waiting lists go in one batch per served model), with the seed counted in it: the
    next round finds nothing to take in."""
    from latentrec.service.holder import ModelHolder
    from latentrec.service.refresh import TakeIn, add_store_items

    path, release = locked_sqlite
    with open_store(path) as store:
        holder = ModelHolder(
            FixedSource(explicit_model, "v1"),
            prepare=lambda served: add_store_items(store, served),
            prepare_first=False,
        )
        take_in = TakeIn(store, holder)
        assert take_in.run() is False and "locked" in take_in.pending
        assert "999" in holder.current.item_index  # read before the seed failed
        served = [holder.current]
        real_update = holder.update

        def update(change):
            out = real_update(change)
            if out is not served[-1]:
                served.append(out)
            return out

        holder.update = update
        assert take_in.run() is False  # still locked: nothing swapped
        assert len(served) == 1
        release()
        # Written once the store answers again: the take-in finds it with the seed.
        store.add_items([Item("998", "Added While The Store Was Down")])
        assert take_in.run() is True and take_in.pending is None
        assert len(served) == 2 and "998" in holder.current.item_index
        assert holder.current.store_catalogue_seen == store.catalogue_version()
        assert add_store_items(store, holder.current) is holder.current
        assert take_in.run() is True and len(served) == 2


# ------------------------------------------------------------------ what is waited for
def waiting_in_a_thread(location, **kwargs):
    """``open_store_waiting(location)`` in a thread: ``(thread, outcome)``, the outcome
    a dict holding ``store`` or ``error`` once it ends (a wait that should not happen
    fails the test at a bound instead of hanging it)."""
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["store"] = open_store_waiting(location, retry_s=0.05, **kwargs)
        except Exception as err:  # the test looks at which
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_sqlite_path_that_is_a_folder_is_refused_at_once_not_waited_for(tmp_path, caplog):
    """Before, SQLite's "unable to open database file" was a StoreUnavailableError like a
    database that is down, and a worker (``uvicorn ...:app_from_env --factory``) waited
    for it for ever."""
    caplog.set_level(logging.INFO, logger=ERROR_LOGGER)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    thread, outcome = waiting_in_a_thread(str(folder))
    thread.join(ROUNDS_BOUND_S)
    assert not thread.is_alive(), "still waiting for a folder to become a database"
    err = outcome["error"]
    assert isinstance(err, StoreUnavailableError) and err.transient is False
    text = str(err)
    assert "\n" not in text and "unable to open database file" in text, text
    assert "the path is a folder, not a database file" in text, text
    assert not any("waits for it" in r.getMessage() for r in caplog.records)


def test_a_busy_sqlite_file_is_unavailable_for_a_while(locked_sqlite):
    """Its write lock held by another program past the busy timeout: a wait cures it."""
    path, release = locked_sqlite
    with open_store(path) as store:
        with pytest.raises(StoreUnavailableError, match="locked") as caught:
            store.add_items([Item("1", "Heat")])
        assert caught.value.transient is True
        release()
        store.add_items([Item("1", "Heat")])


def test_the_transient_flag_survives_pickling():
    """A process pool hands errors back pickled: the flag goes with the message."""
    import pickle

    back = pickle.loads(pickle.dumps(StoreUnavailableError("busy", transient=True)))
    assert isinstance(back, StoreUnavailableError) and back.transient and str(back) == "busy"


@pytest.mark.postgres
def test_a_database_refusing_connections_is_waited_for_until_it_answers(down_pg, caplog):
    caplog.set_level(logging.INFO, logger=ERROR_LOGGER)
    refuse_connections(down_pg)
    thread, outcome = waiting_in_a_thread(down_pg)
    poll(
        lambda: any("this worker waits for it" in r.getMessage() for r in caplog.records),
        ROUNDS_BOUND_S,
        "the wait is logged",
    )
    assert thread.is_alive() and not outcome
    allow_connections(down_pg)
    thread.join(ROUNDS_BOUND_S)
    assert not thread.is_alive() and "store" in outcome, outcome
    outcome["store"].close()
    said = [r.getMessage() for r in caplog.records]
    assert "the ratings store answers; this worker starts" in said
    assert any("not currently accepting connections" in m for m in said), said


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_refused_at_once(pg_url):
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    thread, outcome = waiting_in_a_thread(missing)
    thread.join(ROUNDS_BOUND_S)
    assert not thread.is_alive(), "still waiting for a database that does not exist"
    err = outcome["error"]
    assert isinstance(err, StoreUnavailableError) and err.transient is False
    assert 'database "no_such_database" does not exist' in str(err)


@pytest.mark.postgres
def test_a_read_only_database_is_refused_at_once(pg_url):
    """A new store on a database that takes no writes (its schema cannot be made)."""
    name = pg_url.rsplit("/", 1)[1]
    pg_admin(pg_url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    thread, outcome = waiting_in_a_thread(pg_url)
    thread.join(ROUNDS_BOUND_S)
    assert not thread.is_alive(), "still waiting for a read-only database"
    err = outcome["error"]
    assert isinstance(err, StoreUnavailableError) and err.transient is False
    assert "read-only" in str(err), str(err)
