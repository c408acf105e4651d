"""A watch asked for its token while its store closes does not reopen a connection
that outlives the store.

``RatingsStore.close`` closed its watches before it marked the store closed: a thread
asking a watch for its token in between (the service's cache syncs on every request)
found the store still open and opened the watch's connection anew, after ``close`` had
closed it, and that connection (and with it every descriptor SQLite keeps for the file)
stayed open for the watch's life.
"""

from __future__ import annotations

import contextlib

from latentrec.store import StoreError, open_store


def test_a_token_asked_while_the_store_closes_leaves_no_connection(store_dir):
    store = open_store(store_dir / "ratings.db")
    watch = store.watch()
    watch.token()
    closing = watch.close

    def close_then_ask():
        # Another thread's sync, at the moment right after close() closed the watch.
        closing()
        with contextlib.suppress(StoreError):
            watch.token()

    watch.close = close_then_ask
    store.close()
    assert watch.conn is None
    # And a token asked later still refuses, rather than opening one.
    with contextlib.suppress(StoreError):
        watch.token()
    assert watch.conn is None
