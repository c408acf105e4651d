"""Closing a store releases every file descriptor it opened on its SQLite file, even
while a watch of it (the service's cache of folded-in users holds one) lives on.

SQLite keeps the descriptor of a closed connection open while another connection of
the process holds the file (closing it would drop that connection's locks): a watch
left open after its store closed kept the reader's and the pool's descriptors open too.
FastAPI keeps an app's callables (and through them its store and watch) in caches of
4,096 entries, so a test run that made an app per test held five descriptors for each,
past 1,024 by the end of the suite.
"""

from __future__ import annotations

import gc
import os
import threading

import pytest

from latentrec.store import Rating, StoreError, open_store

FD_DIR = "/proc/self/fd"
pytestmark = pytest.mark.skipif(not os.path.isdir(FD_DIR), reason="needs Linux's /proc")


def descriptors_on(path) -> int:
    """How many of this process's descriptors are open on ``path`` or its -wal/-shm."""
    count = 0
    for fd in os.listdir(FD_DIR):
        try:
            target = os.readlink(os.path.join(FD_DIR, fd))
        except OSError:  # the listing's own descriptor, closed meanwhile
            continue
        if target.startswith(str(path)):
            count += 1
    return count


def test_a_closed_store_holds_no_descriptor_while_its_watch_lives(store_dir):
    path = store_dir / "ratings.db"
    store = open_store(path)
    store.add_ratings([Rating("ann", "50", 4.0, timestamp=1.0)])
    watch = store.watch()
    first = watch.token()
    # Readers on the main thread and on another one, as the service's are.
    assert store.user_ratings("ann")
    reader = threading.Thread(target=store.sequence)
    reader.start()
    reader.join()
    assert descriptors_on(path) > 0
    store.close()
    assert descriptors_on(path) == 0
    # Kept alive by its holder, the watch does not reopen the closed store behind it.
    with pytest.raises(StoreError, match="is closed"):
        watch.token()
    assert descriptors_on(path) == 0
    assert first is not None


def test_stores_opened_and_closed_in_turn_hold_nothing_between_them(store_dir):
    kept = []  # watches that outlive their stores, as a long-lived app's do
    for k in range(5):
        path = store_dir / f"r{k}.db"
        with open_store(path) as store:
            store.add_ratings([Rating("ann", "50", 4.0, timestamp=1.0)])
            kept.append(store.watch())
            kept[-1].token()
            store.sequence()
        gc.collect()
        assert descriptors_on(store_dir) == 0, k


def test_a_watch_still_sees_writes_while_its_store_is_open(store_dir):
    with open_store(store_dir / "ratings.db") as store:
        watch = store.watch()
        before = watch.token()
        store.add_ratings([Rating("ann", "50", 4.0, timestamp=1.0)])
        assert watch.token() != before
        watch.close()  # closed by its holder first: the store's close is still fine
    assert descriptors_on(store_dir) == 0
