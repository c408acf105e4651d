"""A write that may not wait (``Database.write(nowait=True)``, what ``try_add_ratings``
runs on the service's event loop) after SQLite refused its ``BEGIN IMMEDIATE``: the
pooled connection keeps its busy timeout, the next write on the thread is one real
transaction (SQLAlchemy's "begin" event raised: no autocommit after it), and forked
workers retrying around another program's lock lose no write.

Checked with another process holding SQLite's write lock (no latentrec write gate)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa

from latentrec.store import Rating, StoreUnavailableError, open_store
from latentrec.store.engine import BUSY_TIMEOUT_S

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # the test says when to let go (a stuck test: EOF)
conn.execute("ROLLBACK")
conn.close()
"""

WORKERS = 3
WRITES_EACH = 15


class Holder:
    """Another program's write transaction on the file until :meth:`release`."""

    def __init__(self, path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            # A line, not EOF: forked workers hold a copy of this pipe's end.
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
        self.proc.wait(timeout=30)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "ratings.db") as opened:
        opened.add_ratings([Rating("bob", "1", 3.0)])  # the tables exist
        yield opened


def pooled_busy_timeouts(store) -> set:
    """The busy timeout of every connection the pool holds (checked out together, so
    each is a different one)."""
    conns = [store.db.engine.connect() for _ in range(3)]
    try:
        return {c.exec_driver_sql("PRAGMA busy_timeout").scalar() for c in conns}
    finally:
        for c in conns:
            c.close()


def test_the_next_write_after_a_refused_begin_is_one_transaction(store, tmp_path):
    holder = Holder(tmp_path / "ratings.db")
    try:
        assert store.try_add_ratings([Rating("ann", "1", 4.0)]) is None
    finally:
        holder.release()
    with pytest.raises(RuntimeError):
        with store.db.write() as conn:
            conn.exec_driver_sql("UPDATE lr_ratings SET value = 1.0 WHERE user_id = 'bob'")
            # The write lock is this transaction's: another connection cannot take it.
            other = sqlite3.connect(tmp_path / "ratings.db", timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
            raise RuntimeError("the caller fails mid-write")
    # Rolled back whole: in autocommit the UPDATE would have stayed.
    assert [r.value for r in store.user_ratings("bob")] == [3.0]
    assert pooled_busy_timeouts(store) == {int(BUSY_TIMEOUT_S * 1000)}


def test_a_begin_refused_for_another_reason_keeps_the_busy_timeout(store):
    # A real refusal that is not a held lock: the connection may not write (query_only).
    def read_only(dbapi_connection, _record, _proxy):
        dbapi_connection.execute("PRAGMA query_only = 1")

    sa.event.listen(store.db.engine, "checkout", read_only)
    try:
        with pytest.raises(StoreUnavailableError, match="read-only") as refused:
            store.try_add_ratings([Rating("ann", "1", 4.0)])
        assert not refused.value.transient
    finally:
        sa.event.remove(store.db.engine, "checkout", read_only)
    with store.db.read() as conn:
        conn.exec_driver_sql("PRAGMA query_only = 0")
    assert pooled_busy_timeouts(store) == {int(BUSY_TIMEOUT_S * 1000)}
    assert store.try_add_ratings([Rating("ann", "1", 4.0)]) is not None


def write_events(store, worker: int, started) -> None:
    started.release()
    done = 0
    while done < WRITES_EACH:
        if store.try_add_ratings([Rating(f"w{worker}", "7", 1.0, kind="event")]) is not None:
            done += 1


def test_forked_workers_retrying_around_another_programs_lock_lose_no_write(store, tmp_path):
    holder = Holder(tmp_path / "ratings.db")
    fork = multiprocessing.get_context("fork")
    started = fork.Semaphore(0)
    workers = [fork.Process(target=write_events, args=(store, w, started)) for w in range(WORKERS)]
    try:
        for proc in workers:
            proc.start()
        for _ in workers:
            assert started.acquire(timeout=60)
        # Each worker is inside its retries while the lock is held; none has written.
        assert store.counts()["ratings"] == 1
    finally:
        holder.release()
    for proc in workers:
        proc.join(120)
        assert proc.exitcode == 0
    for w in range(WORKERS):
        assert [r.value for r in store.user_ratings(f"w{w}")] == [float(WRITES_EACH)]
    # One sequence number per write, none shared.
    assert store.sequence() == 1 + WORKERS * WRITES_EACH
