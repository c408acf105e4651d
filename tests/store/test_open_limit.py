"""Opening a PostgreSQL store is bounded like every other wait on the server: its queries
(the schema version read, the schema's creation) fail with :class:`StoreUnavailableError`
naming the store and the limit, by the store's limit (``open_store(limit=)``, a
service's ``store_timeout``) or, without one (a command), by ``engine.OPEN_LIMIT_S``.

Before, only connecting was bounded: a server that took the connection and then stopped
answering (its backend stopped with SIGSTOP), or a lock on ``lr_schema`` held by another
session, held the opening, and the worker or command that ran it, for ever.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

import psycopg
import pytest
import sqlalchemy as sa

from latentrec.store import StoreUnavailableError, open_store
from latentrec.store import engine as store_engine
from latentrec.store.engine import Database, resolve_url
from latentrec.store.ratings import RatingsStore
from latentrec.store.schema import MIGRATION_LOCK_KEY

from .freezing import stopped

pytestmark = pytest.mark.postgres

LIMIT_S = 1.0
# A guard against hanging the suite (the defect makes an opening wait for the lock or
# the stopped backend, which the test releases after this long): never a measure.
HANG_S = 30.0


def outcome_within(open_it, seconds: float) -> dict:
    """Run ``open_it`` in a thread; what it returned or raised, or ``{}`` when it was
    still waiting after ``seconds``."""
    got: dict = {}

    def run():
        try:
            got["store"] = open_it()
        except Exception as err:  # the test looks at it
            got["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return dict(got) if not thread.is_alive() else {}


def bounded_by(limit, monkeypatch) -> float | None:
    """The ``limit`` to open with; without one, the default opening limit made short."""
    if limit is None:
        monkeypatch.setattr(store_engine, "OPEN_LIMIT_S", LIMIT_S, raising=False)
    return limit


def check_refusal(got: dict, url: str, step: str, locked: bool) -> None:
    assert got, "the opening was still waiting: its queries are not bounded"
    err = got.get("error")
    assert isinstance(err, StoreUnavailableError), got
    text = str(err)
    assert "opening the store" in text and sa.make_url(url).database in text, text
    assert f"did not finish within the opening's limit of {LIMIT_S:g} s" in text, text
    assert step in text, text
    if locked:
        # The server answered: it cancelled the statement, which waited on another
        # session's lock.  Before, the message said the server "did not answer".
        assert "did not answer" not in text, text
        assert "cancelled the statement" in text and "lock another session holds" in text
    else:
        assert "did not answer" in text and "lock" not in text, text
    assert "\n" not in text
    assert err.transient  # a service worker waits for the store and tries again


@pytest.mark.parametrize("limit", [LIMIT_S, None], ids=["store-limit", "no-limit"])
def test_an_opening_behind_a_held_lock_fails_naming_the_store_and_limit(
    postgres_url, limit, monkeypatch
):
    open_store(postgres_url).close()  # the schema, current
    limit = bounded_by(limit, monkeypatch)
    with psycopg.connect(postgres_url) as locker:
        # As a session running a long ALTER or a hand-taken lock on the schema table.
        locker.execute("LOCK TABLE lr_schema IN ACCESS EXCLUSIVE MODE")
        got = outcome_within(lambda: open_store(postgres_url, limit=limit), HANG_S)
        locker.rollback()
    check_refusal(got, postgres_url, "reading its schema version", locked=True)
    # The lock gone, the store opens as ever.
    with open_store(postgres_url, limit=limit) as store:
        assert store.counts()["ratings"] == 0


@pytest.mark.parametrize("limit", [LIMIT_S, None], ids=["store-limit", "no-limit"])
def test_an_opening_on_a_server_that_stopped_answering_fails(postgres_url, limit, monkeypatch):
    open_store(postgres_url).close()
    limit = bounded_by(limit, monkeypatch)
    db = Database(resolve_url(postgres_url), limit=limit)
    with ExitStack() as thawing:

        @sa.event.listens_for(db.engine, "connect")
        def stop_its_backend(dbapi_connection, _record):
            # The server took the connection; then its backend stops answering (its
            # kernel still takes the bytes), continued when the test ends at the latest.
            thawing.enter_context(stopped([dbapi_connection.info.backend_pid], HANG_S))

        got = outcome_within(lambda: RatingsStore(db), HANG_S)
    db.close()
    check_refusal(got, postgres_url, "", locked=False)
    with open_store(postgres_url, limit=limit) as store:
        assert store.schema_version == 4


def test_creating_the_schema_is_bounded_too(postgres_url, monkeypatch):
    monkeypatch.setattr(store_engine, "OPEN_LIMIT_S", LIMIT_S, raising=False)
    with psycopg.connect(postgres_url) as other:
        # Another opener creating the schema holds the migration lock (schema.migrate).
        other.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        got = outcome_within(lambda: open_store(postgres_url), HANG_S)
        other.rollback()
    check_refusal(got, postgres_url, "creating its schema", locked=True)


def test_a_limit_that_is_no_number_of_seconds_is_refused(postgres_url):
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="seconds over 0"):
            open_store(postgres_url, limit=bad)
