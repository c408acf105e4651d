"""The store's per-request reads on SQLite, straight through the driver.

A service asks the store for one user's version, one user's ratings and the users written
since a sequence number many times a second.  Through SQLAlchemy each of those costs a
pool checkout, a ``BEGIN`` issued by an event listener, the statement, a ``COMMIT`` and
the pool's reset, several times the cost of the indexed lookup itself.
:class:`SqliteReader` runs the same statements on one plain ``sqlite3`` connection per
thread (opened on first use, again after a fork, closed when the thread ends), each a
fixed SQL text that the driver prepares once and caches, with every value a bound
parameter.  A read of several
statements runs in one read transaction, so it sees one state of the database, as
:meth:`Database.read` does.  Writes never come here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager

from .engine import BUSY_TIMEOUT_S, Database, StoreUnavailableError
from .records import StoreError
from .schema import counters, ratings, users

USER_VERSION = f"SELECT version FROM {users.name} WHERE user_id = ?"
USER_RATINGS = f"SELECT item_id, value, ts, kind FROM {ratings.name} WHERE user_id = ?"
# The user's erasure mark and cells in one statement: every user with ratings has a row.
USER_RECORD = (
    f"SELECT u.erased, r.item_id, r.value, r.kind FROM {users.name} AS u "
    f"LEFT JOIN {ratings.name} AS r ON r.user_id = u.user_id WHERE u.user_id = ?"
)
SEQUENCE = f"SELECT value FROM {counters.name} WHERE name = 'writes'"
CHANGED = f"SELECT user_id, version FROM {users.name} WHERE version > ?"


class SqliteReader:
    """Read-only statements on a SQLite file through one driver connection per thread.

    Example:
        >>> import tempfile, pathlib
        >>> from latentrec.store import open_store, Rating
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.db"
        >>> store = open_store(path)
        >>> _ = store.add_ratings([Rating("ann", "50", 4.0, timestamp=1.0)])
        >>> reader = SqliteReader(store.db)
        >>> reader.user_version("ann"), reader.user_ratings("ann")
        (1, [('50', 4.0, 1.0, 'explicit')])
        >>> reader.changes_since(0)
        (1, [('ann', 1)])
    """

    def __init__(self, db: Database):
        self.db = db
        self.local = threading.local()
        # Every connection opened and still held, so that close() reaches those of other
        # threads too.  Weak: a thread's connection closes when the thread ends (a
        # server's pool ends idle threads and starts new ones).
        self.opened: weakref.WeakSet[HeldConnection] = weakref.WeakSet()
        self.lock = threading.Lock()
        _READERS.add(self)

    def after_fork_in_child(self) -> None:
        """Close the connections inherited idle and forget them all (see
        :meth:`Database.after_fork_in_child`: while one is open here, the child's own
        connections would share its lock bookkeeping and hold no lock of their own); one
        that a parent thread was reading on at the fork is dropped unclosed.  Called in
        a forked child only, before anything else runs there.

        Example:
            >>> import tempfile, pathlib
            >>> from latentrec.store import open_store
            >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "r.db")
            >>> first = store.reader.connection()
            >>> store.reader.after_fork_in_child()  # as in a child: closed, then a new one
            >>> store.reader.connection() is first, store.reader.sequence()
            (False, 0)
        """
        for held in list(self.opened):
            if not held.busy:
                try:
                    held.conn.close()
                except sqlite3.Error:
                    pass
        self.opened = weakref.WeakSet()
        self.local = threading.local()
        self.lock = threading.Lock()  # a parent thread may have held it at the fork

    def connection(self) -> sqlite3.Connection:
        return self.held().conn

    def held(self) -> HeldConnection:
        """The thread's connection (opened on first use, again in a forked child)."""
        if self.db.closed:
            raise StoreUnavailableError(f"the store {self.db.shown_url()} is closed")
        local = self.local
        held = getattr(local, "held", None)
        if held is None or held.pid != os.getpid():
            conn = sqlite3.connect(
                self.db.url.database,
                timeout=BUSY_TIMEOUT_S,
                check_same_thread=False,
                isolation_level=None,
            )
            held = HeldConnection(conn)
            with self.lock:
                # Again, under the lock close() takes its list under (the store is marked
                # closed before): a connection opened while the store closed is either
                # in that list or refused here, never left open after close().
                closed = self.db.closed
                if not closed:
                    self.opened.add(held)
            if closed:
                held.close()
                raise StoreUnavailableError(f"the store {self.db.shown_url()} is closed")
            local.held = held
        return held

    @contextmanager
    def reading(self):
        """The thread's connection inside one read transaction; driver errors translated.
        The store's outage bookkeeping is told of the outcome, as a transaction tells it
        (:meth:`Database.unavailable`, :meth:`Database.answered`)."""
        try:
            held = self.held()
            # Marked in use until the read transaction ends: a forked child must not
            # close a connection a parent thread is inside (see after_fork_in_child).
            held.busy += 1
            try:
                conn = held.conn
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            finally:
                held.busy -= 1
        except sqlite3.OperationalError as err:
            self.local.held = None
            failed = StoreUnavailableError(f"the store {self.db.shown_url()} failed: {err}")
            self.db.unavailable(failed)
            raise failed from None
        except StoreUnavailableError as err:  # closed
            self.db.unavailable(err)
            raise
        except sqlite3.Error as err:
            self.local.held = None
            raise StoreError(f"the store {self.db.shown_url()} refused: {err}") from None
        self.db.answered()

    def user_version(self, user_id: str) -> int:
        """The stored version of one (valid) user id, 0 when none."""
        with self.reading() as conn:
            row = conn.execute(USER_VERSION, (user_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def user_ratings(self, user_id: str) -> list[tuple]:
        """``(item_id, value, ts, kind)`` rows of one (valid) user id, unordered."""
        with self.reading() as conn:
            return conn.execute(USER_RATINGS, (user_id,)).fetchall()

    def user_record(self, user_id: str) -> list[tuple]:
        """``(erased, item_id, value, kind)`` rows of one (valid) user id (see
        ``RatingsStore.user_record``): none for a user never written, one with a NULL
        item for a user with no ratings."""
        with self.reading() as conn:
            return conn.execute(USER_RECORD, (user_id,)).fetchall()

    def sequence(self) -> int:
        """The newest write sequence number."""
        with self.reading() as conn:
            return int(conn.execute(SEQUENCE).fetchone()[0])

    def changes_since(self, seq: int) -> tuple[int, list[tuple]]:
        """The newest sequence number and the ``(user_id, version)`` rows above ``seq``,
        both read in one transaction (the sequence first)."""
        with self.reading() as conn:
            newest = int(conn.execute(SEQUENCE).fetchone()[0])
            return newest, conn.execute(CHANGED, (int(seq),)).fetchall()

    def checkpoint(self) -> tuple[int, int, int]:
        """A passive checkpoint on the thread's connection: ``(busy, log pages, pages
        copied)``, as ``PRAGMA wal_checkpoint(PASSIVE)`` reports them."""
        try:
            held = self.held()
            held.busy += 1
            try:
                row = held.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                held.busy -= 1
        except sqlite3.OperationalError as err:
            self.local.held = None
            failed = StoreUnavailableError(f"the store {self.db.shown_url()} failed: {err}")
            self.db.unavailable(failed)
            raise failed from None
        except StoreUnavailableError as err:  # closed
            self.db.unavailable(err)
            raise
        # A service checkpoints each refresher round: on SQLite, this is what tells the
        # store's outage bookkeeping that it answers again when no request comes.
        self.db.answered()
        return int(row[0]), int(row[1]), int(row[2])

    def close(self) -> None:
        """Close every connection this process opened (the store is being closed)."""
        with self.lock:
            opened, self.opened = list(self.opened), weakref.WeakSet()
        for held in opened:
            held.close()
        self.local = threading.local()


class HeldConnection:
    """One thread's reading connection, closed once nothing holds it (its thread ended)
    or by :meth:`close`; in this process only.

    Example:
        >>> held = HeldConnection(sqlite3.connect(":memory:"))
        >>> held.close(), held.close()  # closing twice is harmless
        (None, None)
    """

    __slots__ = ("conn", "pid", "busy", "__weakref__")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.pid = os.getpid()
        self.busy = 0  # reads in progress on it

    def close(self) -> None:
        # An inherited connection is closed (if idle) by the fork hook, never here: one
        # in use at the fork may be mid-statement on a thread the child lacks.
        if self.pid == os.getpid():
            self.conn.close()

    def __del__(self):
        self.close()


# Every reader of this process, so that a forked child can reset each (weak).
_READERS: weakref.WeakSet[SqliteReader] = weakref.WeakSet()


def _reset_readers_in_child() -> None:
    for reader in list(_READERS):
        reader.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_readers_in_child)
