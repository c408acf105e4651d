"""A reading connection opened while the store closes is not left open after close():
the store is checked again, under the lock close() takes the connections under."""

from __future__ import annotations

import os
import sqlite3

import pytest

import latentrec.store.fastread as fastread
from latentrec.store import StoreError, open_store

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


def descriptors_on(path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(path))
        except OSError:
            continue
    return count


def test_a_connection_opened_as_the_store_closes_is_closed_and_the_read_refused(
    store_dir, monkeypatch
):
    path = store_dir / "ratings.db"
    store = open_store(path)
    real = sqlite3.connect

    def connect_then_close(*args, **kwargs):
        # Another thread's close() runs to its end between this thread's check of
        # the store and its note of the new connection.
        conn = real(*args, **kwargs)
        store.close()
        return conn

    monkeypatch.setattr(fastread.sqlite3, "connect", connect_then_close)
    with pytest.raises(StoreError, match="is closed"):
        store.sequence()
    monkeypatch.undo()
    assert descriptors_on(path) == 0
    with pytest.raises(StoreError, match="is closed"):
        store.sequence()
