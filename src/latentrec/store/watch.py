"""Cheap change detection for caches of the store: has anything been committed since I
last looked?

A worker's cache of the store (the service's folded-in users) must see every write,
whichever process made it, on its very next read; asking the store for the user's
version on every request costs a query (and SQLAlchemy's machinery around it) each time.
:class:`ChangeWatch` answers the cheaper question first.  Its :meth:`~ChangeWatch.token`
changes whenever any write has committed since the previous call; only then does a cache
need :meth:`RatingsStore.changes_since` to learn which users changed.

- SQLite file: ``PRAGMA data_version`` on a connection of the watch's own, which is never
  used for anything else.  SQLite changes that number for a connection whenever another
  connection (in this process or any other) has committed, and reading it costs no
  query plan and no disk read; the connection holds no transaction between calls.
- PostgreSQL and in-memory SQLite: the store's global write sequence (one primary-key
  read).  An in-memory database has a single connection, whose own writes would not
  change its ``data_version``.

Tokens are only comparable between calls of one watch.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref

from .engine import BUSY_TIMEOUT_S, Database, StoreUnavailableError, is_memory
from .writes import read_sequence


class ChangeWatch:
    """A token that changes whenever a write to the store has committed.

    Read the token *before* looking at the changes (:meth:`RatingsStore.changes_since`):
    a write that commits after the token was read then changes the next token, so it is
    never missed.  Safe to share between threads; a process that forks gets a connection
    of its own on its first call, whatever the parent's threads were doing at the fork.

    Example:
        >>> from latentrec.store import open_store, Rating
        >>> store = open_store(":memory:")
        >>> watch = store.watch()
        >>> before = watch.token()
        >>> watch.token() == before
        True
        >>> _ = store.add_ratings([Rating("ann", "50", 5.0)])
        >>> watch.token() == before
        False
        >>> watch.close()
    """

    def __init__(self, db: Database):
        self.db = db
        self.lock = threading.Lock()
        self.conn: sqlite3.Connection | None = None
        self.pid = os.getpid()
        self.generation = 0
        self.pragma = db.dialect == "sqlite" and not is_memory(db.url)
        _WATCHES.add(self)

    def after_fork_in_child(self) -> None:
        """Close the inherited connection if no parent thread was using it at the fork
        (see :meth:`Database.after_fork_in_child`: open here, it would leave the child's
        connections holding no lock of their own), else drop it unclosed; and a new
        lock: a parent's thread inside :meth:`token` at the fork holds the old one, and
        that thread is not in this process.  Called in a forked child only.

        Example:
            >>> import tempfile, pathlib
            >>> from latentrec.store import open_store
            >>> watch = open_store(pathlib.Path(tempfile.mkdtemp()) / "r.db").watch()
            >>> before = watch.token()
            >>> watch.after_fork_in_child()  # as in a child: a connection of its own next
            >>> watch.token() != before
            True
        """
        if self.conn is not None and not self.lock.locked():
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
        self.conn = None
        self.lock = threading.Lock()

    def token(self) -> int:
        """A number that differs from the previous call's when something was committed."""
        if not self.pragma:
            with self.db.read() as conn:
                return read_sequence(conn)
        with self.lock:
            if self.db.closed:
                # As every read of a closed store: no connection opened anew behind it.
                closed = StoreUnavailableError(f"the store {self.db.shown_url()} is closed")
                self.db.unavailable(closed)
                raise closed
            try:
                if self.conn is None or self.pid != os.getpid():
                    # An inherited connection was closed or dropped by the fork hook.
                    self.conn = sqlite3.connect(
                        self.db.url.database,
                        timeout=BUSY_TIMEOUT_S,
                        check_same_thread=False,
                        isolation_level=None,
                    )
                    self.pid = os.getpid()
                    # A new connection counts data_version afresh: the generation keeps
                    # its tokens apart from the old connection's.
                    self.generation += 1
                version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as err:
                self.conn = None
                failed = StoreUnavailableError(f"the store {self.db.shown_url()} failed: {err}")
                self.db.unavailable(failed)
                raise failed from None
        # As a transaction does (Database.answered): an outage's end is said here too.
        self.db.answered()
        return (self.generation << 40) + version

    def close(self) -> None:
        """Close the watch's own connection (a later :meth:`token` opens a new one)."""
        with self.lock:
            if self.conn is not None and self.pid == os.getpid():
                self.conn.close()
            self.conn = None

    def __del__(self):
        # Closed now, not whenever the cycle collector finds the driver's connection (it
        # references itself): a fork meanwhile would hand the child an open one that no
        # fork hook knows of (see after_fork_in_child).
        try:
            self.close()
        except Exception:
            pass


# Every watch of this process, so that a forked child can reset each (weak).
_WATCHES: weakref.WeakSet[ChangeWatch] = weakref.WeakSet()


def _reset_watches_in_child() -> None:
    for watch in list(_WATCHES):
        watch.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_watches_in_child)
