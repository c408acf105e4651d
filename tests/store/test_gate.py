"""The write gate of a SQLite store: a writer that must not wait (try_add_ratings) gets
``None`` while another process holds the lock and writes once it is free; nested entries
on one thread hold it until the last exit."""

import subprocess
import sys

import pytest

from latentrec.store import Rating
from latentrec.store.engine import WriteGate

HOLDER = """
import fcntl, os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
select.select([sys.stdin], [], [], 20)  # until the test lets go (a stuck test: 20 s)
"""


@pytest.fixture
def held(sqlite_store):
    """Another process holding the store's write gate until the test lets go."""
    path = sqlite_store.db.gate.path
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_a_writer_that_cannot_wait_is_told_so_and_writes_later(sqlite_store, held):
    assert sqlite_store.try_add_ratings([Rating("ann", "1", 4.0)]) is None
    assert sqlite_store.user_ratings("ann") == []
    held.stdin.close()
    held.wait(timeout=10)
    result = sqlite_store.try_add_ratings([Rating("ann", "1", 4.0)])
    assert result is not None and result.versions == {"ann": sqlite_store.sequence()}
    assert [r.value for r in sqlite_store.user_ratings("ann")] == [4.0]


def test_bad_rows_are_refused_before_the_lock_is_tried(sqlite_store, held):
    from latentrec.store import StoreError

    with pytest.raises(StoreError, match="finite"):
        sqlite_store.try_add_ratings([Rating("ann", "1", float("nan"))])


def test_nested_entries_hold_the_gate_until_the_last_exit(tmp_path):
    gate, other = WriteGate(tmp_path / "r.writer"), WriteGate(tmp_path / "r.writer")
    with gate:
        assert gate.try_enter()  # the same thread again
        gate.exit()
        assert not other.try_enter()
    assert other.try_enter()
    other.exit()
    gate.close(), other.close()


def test_stores_without_a_gate_write_at_once(store):
    """PostgreSQL (row locks, no file gate) and SQLite with the gate free both write."""
    result = store.try_add_ratings([Rating("ann", "1", 4.0), Rating("bob", "1", 2.0)])
    assert result is not None and set(result.versions) == {"ann", "bob"}
    assert store.user_version("ann") == store.user_version("bob") == result.versions["ann"]
    assert store.checkpoint() == 0


@pytest.fixture
def sqlite_locked(sqlite_store):
    """Another program's write transaction on the store's file: SQLite's own lock, held
    without latentrec's gate (a sqlite3 shell, a backup, a migration)."""
    import sqlite3

    sqlite_store.add_ratings([Rating("bob", "1", 3.0)])  # the tables exist
    other = sqlite3.connect(sqlite_store.db.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def test_a_writer_that_cannot_wait_is_told_so_when_another_program_holds_sqlites_lock(
    sqlite_store, sqlite_locked
):
    # It took the (free) gate and then waited out SQLite's 30 s busy timeout on the
    # caller's thread: on the service's event loop, /health and every request waited too.
    assert sqlite_store.try_add_ratings([Rating("ann", "1", 4.0)]) is None
    db = sqlite_store.db
    assert not db.failing and not db.writes_refused  # a busy lock, no outage
    assert sqlite_store.user_ratings("ann") == []
    sqlite_locked.execute("ROLLBACK")
    result = sqlite_store.try_add_ratings([Rating("ann", "1", 4.0)])
    assert result is not None and [r.value for r in sqlite_store.user_ratings("ann")] == [4.0]
    # Only that BEGIN went without waiting: the connection waits as before for the rest.
    with db.write() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
