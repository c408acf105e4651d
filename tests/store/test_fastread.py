"""The driver-level reads of a SQLite store (fastread.SqliteReader) answer exactly as the
SQLAlchemy statements do, on random writes with hostile ids, from several threads."""

import gc
import os
import random
import threading
from pathlib import Path

import pytest

from latentrec.store import Rating, open_store

IDS = ["ann", "O'Brien", 'say "hi"', "a/b", "x; DROP TABLE lr_ratings;--", "ünï", "7", "07"]


def answers(store, users, seqs):
    return (
        [store.user_version(u) for u in users],
        [store.user_ratings(u) for u in users],
        [sorted(store.user_cells(u)) for u in users],
        [store.changes_since(s) for s in seqs],
        store.sequence(),
    )


def test_the_driver_reads_match_sqlalchemys(sqlite_store):
    rng = random.Random(0)
    for _ in range(40):
        batch = [
            Rating(
                rng.choice(IDS),
                rng.choice(IDS),
                float(rng.randint(1, 5)),
                float(rng.randint(0, 3)),
                rng.choice(["explicit", "event"]),
            )
            for _ in range(rng.randint(1, 4))
        ]
        sqlite_store.add_ratings(batch)
        if rng.random() < 0.2:
            sqlite_store.delete_user(rng.choice(IDS))
    assert sqlite_store.reader is not None
    users = [*IDS, "never", "", "a\x00b"]
    seqs = [0, 1, 17, sqlite_store.sequence(), 10**6]
    fast = answers(sqlite_store, users, seqs)
    reader, sqlite_store.reader = sqlite_store.reader, None
    try:
        slow = answers(sqlite_store, users, seqs)
    finally:
        sqlite_store.reader = reader
    assert fast == slow
    cells = [sorted((r.item_id, r.value, r.kind) for r in rows) for rows in fast[1]]
    assert fast[2] == cells
    assert any(fast[1]) and fast[4] > 0


def test_each_thread_reads_on_its_own_connection(store_dir):
    with open_store(store_dir / "r.db") as store:
        store.add_ratings([Rating(f"u{i}", "x", 3.0) for i in range(8)])
        seen, errors = [], []

        def read(i):
            try:
                for _ in range(50):
                    assert store.user_ratings(f"u{i}")[0].item_id == "x"
                seen.append(store.reader.connection())  # kept alive: ids stay unique
            except Exception as err:  # reported below with the thread's number
                errors.append((i, err))

        threads = [threading.Thread(target=read, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert len({id(conn) for conn in seen}) == 8


def test_a_memory_store_reads_through_sqlalchemy():
    with open_store(":memory:") as store:
        assert store.reader is None
        store.add_ratings([Rating("a", "x")])
        assert store.changes_since(0) == (1, [("a", 1)])


def test_a_checkpoint_copies_the_log_into_the_database(store_dir):
    path = store_dir / "c.db"
    with open_store(path) as store:
        store.add_ratings([Rating(f"u{i}", f"i{i}", 3.0) for i in range(500)])
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size > 0
        assert store.checkpoint() == 0
        # The next write starts the log again from its beginning.
        store.add_ratings([Rating("u0", "i1", 4.0)])
        assert store.checkpoint() == 0
        assert [r.value for r in store.user_ratings("u0")] == [3.0, 4.0]


def open_files(path) -> int:
    """How many of this process's file descriptors are open on ``path`` (Linux)."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:  # closed since the listing
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_finished_threads_connection_is_closed(store_dir):
    """A server's thread pool ends idle threads and starts new ones (anyio after 10 s
    idle): a connection left open for each would run the process out of descriptors."""
    path = (store_dir / "t.db").resolve()
    with open_store(path) as store:
        store.add_ratings([Rating("u", "x", 3.0)])

        def read():
            assert store.user_version("u") == 1

        def threads_come_and_go(count):
            for _ in range(count):
                t = threading.Thread(target=read)
                t.start()
                t.join()
            gc.collect()
            return open_files(path)

        after_few = threads_come_and_go(2)
        after_many = threads_come_and_go(40)
        assert after_many == after_few
        assert store.user_ratings("u")[0].value == 3.0  # this thread's own still reads
