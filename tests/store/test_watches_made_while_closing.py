"""Watches made by other threads while the store closes: close() never fails on them
("Set changed size during iteration"), and none keeps a connection afterwards."""

from __future__ import annotations

import sys
import threading

import pytest

from latentrec.store import StoreError, open_store


def close_while_threads_make_watches(path, before: int = 20_000):
    """Close the store once ``before`` watches exist, while four threads go on making
    more; switching threads as often as the interpreter can, so that one adds a watch
    while close() walks them."""
    store = open_store(path)
    made, errors = [], []
    enough, closed = threading.Event(), threading.Event()

    def make():
        while not closed.is_set():
            made.append(store.watch())
            if len(made) >= before:
                enough.set()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    enough.wait(60)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        store.close()
    except RuntimeError as err:  # what the test looks for
        errors.append(err)
    finally:
        sys.setswitchinterval(interval)
        closed.set()
        for thread in threads:
            thread.join()
    return made, errors


def test_watches_made_during_close_are_all_closed_or_refused(store_dir):
    for attempt in range(3):
        made, errors = close_while_threads_make_watches(store_dir / f"r{attempt}.db")
        assert errors == []
        # Whether made before the store was marked closed or after, none reopens it.
        for watch in (made[0], made[-1]):
            with pytest.raises(StoreError, match="is closed"):
                watch.token()
        assert all(watch.conn is None for watch in made), attempt
