"""On a SQLite file, an outage of writes (another process holds the write lock) ends,
for the store's "answers again" (``Database.on_back``, which ends a service's outage log
with one line), only when a write could go through again: a write that commits, or a
read whose probe of the write lock (``BEGIN IMMEDIATE; ROLLBACK``, no waiting) gets it.

Before, any read ended it: in WAL mode reads go on beside the lock, so while another
process held ``BEGIN IMMEDIATE`` for 75 s, the service's log said "the ratings store
answers again, 0.3 s after the outage's first refusal" after each refused write (the next
request's read, or the refresher's checkpoint), a start and an end per write instead of
one outage with its count lines every 10 s.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from latentrec.service.hardening import RefusalLog
from latentrec.store import Rating, StoreUnavailableError, fastread, open_store
from latentrec.store import engine as store_engine

# The holder's own guard against outliving a test that failed before releasing it.
HOLD_MAX_S = 60
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # the test says when to let go
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


@pytest.fixture
def quick(monkeypatch):
    # A refused write gives up after 0.2 s instead of 30, and every read may probe.
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(fastread, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(store_engine, "WRITE_PROBE_EVERY_S", 0.0, raising=False)


class Holder:
    """Another process holding the SQLite file's write lock until :meth:`release`."""

    def __init__(self, path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "released"
        self.proc.wait(HOLD_MAX_S)


def reads(store) -> None:
    """What a service does between writes: requests' reads, the refresher's round."""
    store.user_ratings("ann")  # fastread
    store.counts()  # a SQLAlchemy read transaction
    store.watch().token()
    store.checkpoint()


def test_a_write_outage_on_sqlite_lasts_as_long_as_the_lock(quick, tmp_path, caplog):
    path = tmp_path / "ratings.db"
    with open_store(str(path)) as store:
        store.add_ratings([Rating("ann", "1", 4.0)])
        log = RefusalLog(logging.getLogger("test.outage"), every=3600)
        store.db.on_back = log.answered
        holder = Holder(path)
        try:
            with caplog.at_level(logging.INFO, logger="test.outage"):
                for k in range(3):
                    with pytest.raises(StoreUnavailableError, match="locked") as caught:
                        store.add_ratings([Rating("bob", str(k), 3.0)])
                    log.refused(str(caught.value))
                    reads(store)  # answered, while the lock is still held
                said = [r.getMessage() for r in caplog.records]
                assert len(said) == 1 and "is unavailable" in said[0], said
                holder.release()
                reads(store)
                reads(store)
        finally:
            holder.release()
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 2, said
        assert said[1].startswith("the ratings store answers again"), said
        assert "3 requests were answered 503 in it" in said[1], said
        store.add_ratings([Rating("bob", "9", 3.0)])
        assert store.counts()["ratings"] == 2


def test_a_write_that_commits_ends_a_write_outage(quick, tmp_path):
    path = tmp_path / "ratings.db"
    with open_store(str(path)) as store:
        backs: list[int] = []
        store.db.on_back = lambda: backs.append(1)
        holder = Holder(path)
        try:
            with pytest.raises(StoreUnavailableError):
                store.add_ratings([Rating("bob", "1", 3.0)])
            reads(store)
            assert backs == []
        finally:
            holder.release()
        store.add_ratings([Rating("bob", "1", 3.0)])
        assert backs == [1]
        reads(store)
        assert backs == [1]


def test_the_probe_leaves_a_missing_file_missing(quick, tmp_path):
    # The probe opens the file for reading and writing only: a store whose file is gone
    # is not given an empty one by it.
    path = tmp_path / "ratings.db"
    with open_store(str(path)) as store:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.rename(f"{path}{suffix}", f"{path}.away{suffix}")
        assert store.db.write_probe() is False
        assert not path.exists()
