"""How the store talks to a database: URL resolution, the SQLAlchemy engine per dialect,
SQLite's pragmas, and the two kinds of transaction (read, write).

SQLite: WAL mode (readers never wait for the writer), ``synchronous=FULL`` (a commit is on
disk before it returns), a busy timeout (a second process waits for the write lock instead
of failing), and write transactions opened with ``BEGIN IMMEDIATE`` (they take the write
lock first, so two writers queue rather than deadlock on a lock upgrade), and latentrec's
writers queue on a file lock beside the database first (:class:`WriteGate`), which wakes
them as soon as it is free where SQLite's busy handler would poll.  PostgreSQL:
psycopg 3, with ``postgresql://`` URLs normalised to ``postgresql+psycopg://``.
"""

from __future__ import annotations

import contextvars
import fcntl
import functools
import math
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from .records import StoreError

# Seconds a SQLite writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 30.0

# While a SQLite file refuses writes (another process holds its write lock), at most one
# probe of the write lock (Database.write_probe) per this many seconds: reads go on in
# WAL mode and each would otherwise probe.
WRITE_PROBE_EVERY_S = 1.0

# Seconds a PostgreSQL connection attempt may take, and about how long a silent peer
# (TCP keepalives unanswered, data unacknowledged) keeps a connection, for a store opened
# without a limit (a command).  The service sets its own (Settings.store_timeout,
# Database.limit_waits).
PG_CONNECT_TIMEOUT_S = 10.0
PG_SILENT_PEER_S = 30.0

# Seconds past a PostgreSQL store's limit that a wait for the server lasts before the
# connection is closed (BoundedConnection), so that the server's own cancel comes first.
CANCEL_GRACE_S = 0.5

# Pooled connections kept open, and how many more a burst may open: a service's thread
# pool (FastAPI runs 40 threads) should not queue for connections.  PostgreSQL's default
# server limit is 100 connections, so two workers at the maximum stay well below it.
POOL_SIZE = 8
POOL_OVERFLOW = 24

# Seconds a background read (Database.background_reads: a worker's warm-up reading every
# rating) may take on a PostgreSQL store whose waits are bounded: it is no request, and
# a full read of a large store takes longer than a request's limit.
BACKGROUND_READ_S = 600.0

# Seconds the queries that open a store (its schema version read; RatingsStore) may
# wait on a PostgreSQL server when the store has no limit of its own (a command): a
# server that accepts the connection and then stops answering, or a table lock held by
# another session, fails the opening with a line saying so instead of holding it for ever.
OPEN_LIMIT_S = 30.0

# Seconds an upgrade of the schema on opening (its statements, and the wait for another
# process's upgrade of the same store) may take on a PostgreSQL server, at least: an
# upgrade rewrites every item, far more than one request's limit.
UPGRADE_LIMIT_S = 600.0

# Log pages after which a commit also checkpoints (SQLite's default is 1000).
AUTOCHECKPOINT_PAGES = 10_000

# Seconds a fork waits for the SQLite write transactions of other threads to end (a
# child cannot write while one is open at the fork: Database.before_fork).
FORK_WAIT_S = 10.0

# Seconds a write waits for another process's write to a SQLite file before the
# store's on_wait hook is told (a command then says why it is waiting): long enough
# that the usual wait, one other write of milliseconds, says nothing.
WAIT_NOTICE_S = 1.0

# Execution option that marks a connection's next transaction as a write.
WRITE_OPTION = "latentrec_write"
# And one that makes that write's BEGIN IMMEDIATE wait for no other SQLite writer.
NOWAIT_OPTION = "latentrec_write_nowait"


class WriteLockHeld(Exception):
    """A write that may not wait (``Database.write(nowait=True)``) found the SQLite
    file's write lock held by another connection, one that does not take latentrec's
    :class:`WriteGate` (another program: a ``sqlite3`` shell, a backup, a migration).
    Nothing was written, and it is no outage: the caller tries again later.

    Example:
        >>> isinstance(WriteLockHeld("locked"), StoreError)
        False
    """


class StoreUnavailableError(StoreError):
    """The database cannot be reached or used now (down, locked too long, refused).

    A :class:`StoreError`, so one ``except`` catches both; the service can answer 503
    for this one and 4xx for the others.  ``transient`` says whether waiting may cure
    it (:func:`is_transient`): True for a server that refuses connections, is not
    accepting them, is starting up or shutting down, and for a SQLite file busy or
    locked by another writer; False for what stays as it is until someone changes it
    (a SQLite path that is a folder or cannot be opened, a read-only database, a
    closed store), and where the store cannot tell.  ``sqlstate`` is PostgreSQL's
    code for the error where the server gave one (``"57014"``: a statement cancelled
    at its time limit), so that a caller can say what happened in its own words.

    Example:
        >>> isinstance(StoreUnavailableError("the server refused"), StoreError)
        True
        >>> StoreUnavailableError("busy", transient=True).transient
        True
    """

    def __init__(self, message: str, transient: bool = False, sqlstate: str | None = None):
        super().__init__(message)
        self.transient = transient
        self.sqlstate = sqlstate

    def __reduce__(self):
        # Pickled (a process pool's result) with its flags: args hold the message only.
        return (type(self), (str(self), self.transient, self.sqlstate))


def resolve_url(target) -> sa.URL:
    """The SQLAlchemy URL for a store target: a URL, a file path, or ``":memory:"``.

    Example:
        >>> resolve_url("postgresql://ann@127.0.0.1:5432/recs").drivername
        'postgresql+psycopg'
        >>> resolve_url("ratings.db").render_as_string()
        'sqlite:///ratings.db'
        >>> resolve_url(":memory:").render_as_string()
        'sqlite://'
    """
    if isinstance(target, Path) or (isinstance(target, str) and "://" not in target):
        text = str(target)
        if not text:
            raise StoreError("the store location is empty; give a file path or a database URL")
        if text == ":memory:":
            return sa.make_url("sqlite://")
        return sa.URL.create("sqlite", database=str(Path(text).expanduser()))
    if not isinstance(target, (str, sa.URL)):
        raise StoreError(f"a store is a path or a URL, got {type(target).__name__}")
    try:
        url = sa.make_url(target)
    except sa.exc.ArgumentError:
        raise StoreError(f"cannot read {target!r} as a database URL") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        problem = sqlite_uri_problem(url, target)
        if problem:
            raise StoreError(problem)
        return url
    raise StoreError(
        f"unsupported store URL {url.render_as_string(hide_password=True)!r}: use "
        "sqlite:///path/to/ratings.db (or a plain file path) or postgresql://user@host/db"
    )


def sqlite_uri_problem(url: sa.URL, given=None) -> str | None:
    """Why the store refuses a SQLite URL with query parameters or a ``file:`` name
    (``sqlite:///r.db?mode=ro&uri=true``), or ``None`` for one it takes; ``given`` is
    the text the user wrote, to quote.

    The driver passed such a URL on as a plain file name: ``?mode=ro`` did not open
    ``r.db`` read-only but created an empty store in a file called ``r.db?mode=ro``,
    which read as holding nothing.  Nor can the store open a file read-only: it keeps a
    write-ahead log and a writer's lock file beside it, even to read.  An in-memory
    URL (``mode=memory``) is refused too: every command and worker would get its own
    empty database.

    Example:
        >>> sqlite_uri_problem(sa.make_url("sqlite:///r.db")) is None
        True
        >>> print(sqlite_uri_problem(sa.make_url("sqlite:///r.db?mode=ro&uri=true")))
        ... # doctest: +NORMALIZE_WHITESPACE
        the store URL 'sqlite:///r.db?mode=ro&uri=true' has query parameters (mode, uri),
        which a SQLite store does not take; a store cannot be opened read-only (it keeps
        a write-ahead log and a lock file beside its file, even to read); give the file
        alone: sqlite:///r.db or r.db
        >>> print(sqlite_uri_problem(sa.make_url("sqlite:///my?.db"), "sqlite:///my?.db"))
        ... # doctest: +NORMALIZE_WHITESPACE
        the store URL 'sqlite:///my?.db' has a query string ('?.db'), its '?' not a file
        name's, which a SQLite store does not take; give the file alone: sqlite:///my or
        my, or a file whose name holds a '?' as a plain path
    """
    database = url.database or ""
    # A query string without a "name=value" pair ("sqlite:///r.db?a", "sqlite:///my?.db")
    # parses to no parameters: the store opened "r.db" or "my" without a word.
    bare = isinstance(given, str) and "?" in given and not url.query
    if not url.query and not bare and not database.startswith("file:"):
        return None
    shown = given if isinstance(given, str) else url.render_as_string(hide_password=True)
    path = database.removeprefix("file:").split("?", 1)[0] or "PATH"
    if url.query:
        what = f"has query parameters ({', '.join(url.query)})"
    elif bare:
        what = f"has a query string ({given[given.index('?') :]!r}), its '?' not a file name's"
        return (
            f"the store URL {shown!r} {what}, which a SQLite store does not take; give the "
            f"file alone: sqlite:///{path} or {path}, or a file whose name holds a '?' as a "
            "plain path"
        )
    else:
        what = "names a SQLite URI (file:...)"
    why = (
        "; a store cannot be opened read-only (it keeps a write-ahead log and a lock file "
        "beside its file, even to read)"
        if url.query.get("mode") == "ro"
        else ""
    )
    return (
        f"the store URL {shown!r} {what}, which a SQLite store does not take{why}; "
        f"give the file alone: sqlite:///{path} or {path}"
    )


def is_memory(url: sa.URL) -> bool:
    """Whether a SQLite URL names an in-memory database.

    Example:
        >>> is_memory(resolve_url(":memory:")), is_memory(resolve_url("r.db"))
        (True, False)
    """
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def pg_connect_args(limit: float | None, url: sa.URL | None = None) -> dict:
    """libpq's connection parameters for a PostgreSQL store whose every wait is bounded
    by ``limit`` seconds (``None``: a command's, which may run long statements); a
    parameter the store's ``url`` gives (``?connect_timeout=30``) is left to it.

    Always: a connect timeout, TCP keepalives and a TCP user timeout, so that a server
    gone silent (a network black hole, a machine switched off) ends a connection in
    about :data:`PG_SILENT_PEER_S` seconds instead of the kernel's two hours.  With a
    limit, the connect timeout is the limit and the TCP timers find a dead peer within
    about it; the server also cancels a statement running longer (``statement_timeout``,
    set by :func:`bounded_connector`), and a server that takes the bytes but does not
    answer (a stopped process, whose kernel still acknowledges them) is given up on
    this side (:class:`BoundedConnection`).

    Example:
        >>> pg_connect_args(5.0)["connect_timeout"], pg_connect_args(5.0)["tcp_user_timeout"]
        (5, 5000)
        >>> pg_connect_args(None)["connect_timeout"]
        10
        >>> "connect_timeout" in pg_connect_args(None, sa.make_url("postgresql://h/d?connect_timeout=3"))
        False
    """
    silent = PG_SILENT_PEER_S if limit is None else limit
    args = {
        # libpq takes whole seconds, and treats 1 as 2.
        "connect_timeout": max(2, math.ceil(PG_CONNECT_TIMEOUT_S if limit is None else limit)),
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(silent / 2)),
        "keepalives_interval": max(1, math.ceil(silent / 6)),
        "keepalives_count": 3,
        "tcp_user_timeout": max(1000, int(silent * 1000)),
    }
    given = url.query if url is not None else {}
    return {name: value for name, value in args.items() if name not in given}


def create_engine(url: sa.URL, limit: float | None = None) -> sa.Engine:
    """An engine for ``url`` with the store's connection settings (module docstring);
    ``limit``: the seconds any one wait on a PostgreSQL server may take
    (:func:`pg_connect_args`, :class:`BoundedConnection`).

    Example:
        >>> create_engine(resolve_url(":memory:")).dialect.name
        'sqlite'
    """
    if url.get_backend_name() == "postgresql":
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            connect_args=pg_connect_args(limit, url),
            # A thread waiting for a free connection waits no longer than for the server
            # (SQLAlchemy's default is 30 s, which the store's limit did not bound).
            **({} if limit is None else {"pool_timeout": limit}),
        )
        # Also without a limit: a store's opening bounds its waits (Database.bounded).
        sa.event.listen(engine, "do_connect", bounded_connector(limit))
        return engine
    if is_memory(url):
        # One shared connection: each new connection would be a new, empty database.
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        folder = Path(url.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise StoreError(f"cannot create the store {url.database}: no folder {folder}")
        engine = sa.create_engine(
            url,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
        )
    sa.event.listen(engine, "connect", sqlite_on_connect)
    sa.event.listen(engine, "begin", sqlite_on_begin)
    return engine


def bounded_connector(limit: float | None):
    """A ``do_connect`` listener that opens PostgreSQL connections as
    :class:`BoundedConnection` waiting at most ``limit`` seconds for the server, whose
    sessions have a ``statement_timeout`` of ``limit``, unless the URL sets its own
    (``?options=-c statement_timeout=60000``): that one wins, and the wait for the
    server is then as long as it (a frozen server is still given up on).  With no
    ``limit`` (a command's store), a connection waits without one except inside
    :meth:`Database.bounded` (a store's opening)."""

    def connect(_dialect, _record, cargs, cparams):
        conn = bounded_connection_class().connect(*cargs, **cparams)
        if limit is None:
            return conn
        if "statement_timeout" in str(cparams.get("options", "")):
            conn.wait_limit = limit + CANCEL_GRACE_S
            row = conn.execute(
                "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'"
            ).fetchone()
            conn.commit()
            own = row[0] / 1000 if row else 0
            # 0 is "no limit" to the server; the wait on a frozen one stays bounded.
            conn.wait_limit = max(limit, own) + CANCEL_GRACE_S
            return conn
        # Longer than the server's statement_timeout: a live server's cancel arrives
        # first and leaves the connection usable.
        conn.wait_limit = limit + CANCEL_GRACE_S
        # Set for the session (committed: the pool's rollback would undo it), not as a
        # startup option: a pooler such as PgBouncer refuses those.
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            (f"{max(1, int(limit * 1000))}ms",),
        )
        conn.commit()
        return conn

    return connect


# Seconds each wait for a PostgreSQL server may take in this context (a thread inside
# Database.bounded), whatever the connection's own wait_limit; None: the connection's.
_WAIT_FOR: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "latentrec_wait_for", default=None
)


@functools.cache
def bounded_connection_class():
    """:class:`BoundedConnection`, defined on first use (psycopg is an extra)."""
    import psycopg

    class BoundedConnection(psycopg.Connection):
        """A psycopg connection whose every wait for the server (a statement, its rows,
        a commit, a rollback, the pool's ping) ends after ``wait_limit`` seconds.

        The server's ``statement_timeout`` ends a slow statement, and TCP's timeouts a
        dead peer; neither ends a wait on a server that is stopped but whose kernel
        still takes the bytes (a process stopped or stuck, a host frozen under a live
        network stack): the driver would wait forever, holding a thread.  Here the wait
        ends, the connection is closed (its conversation with the server is cut in the
        middle) and the caller gets an ``OperationalError`` saying so, which the store
        reports as :class:`StoreUnavailableError`.  A transaction whose connection is
        closed before its commit was sent is rolled back by the server.
        """

        wait_limit: float | None = None

        def wait(self, gen, *args, **kwargs):
            # Database.bounded's, inside one (a store's opening), else the connection's.
            limit = _WAIT_FOR.get()
            if limit is None:
                limit = self.wait_limit
            if limit is None or args[1:] or kwargs.get("timeout") is not None:
                return super().wait(gen, *args, **kwargs)
            started = time.monotonic()
            try:
                return super().wait(gen, *args, timeout=limit, **kwargs)
            except psycopg.OperationalError:
                if time.monotonic() - started < limit:
                    raise
                # Not close(): it takes the lock that the statement's caller holds.
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the server did not answer within {limit:g} s (timeout expired); "
                    "the connection was closed"
                ) from None

    return BoundedConnection


def sqlite_on_connect(dbapi_connection, _record) -> None:
    """SQLite's per-connection settings; transactions are left to :func:`sqlite_on_begin`."""
    # The driver's own implicit BEGIN would defeat BEGIN IMMEDIATE (SQLAlchemy's recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous = FULL")
    # SQLite copies the log into the database (a checkpoint, two flushes) inside the
    # commit that grows the log past this many pages, so that one write waits for it: up
    # to 200 ms on a 150 MB store.  A service checkpoints from a background thread instead
    # (RatingsStore.checkpoint); this bound (40 MB of log) only catches other writers.
    cursor.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    cursor.close()


def switch_to_wal(cursor, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """``PRAGMA journal_mode = WAL``, retried while the file is locked, for up to
    ``timeout_s`` seconds.

    Why retry: on a new file (still in rollback mode) the switch reads the header, then
    takes the write lock to change it; two connections doing so at once would each wait
    for the other, so SQLite answers "database is locked" at once instead of calling the
    busy handler.  Threads or processes opening a new store together met it.

    Example:
        >>> import sqlite3
        >>> conn = sqlite3.connect(":memory:")
        >>> switch_to_wal(conn.cursor())  # a memory database keeps its own mode
        >>> conn.execute("PRAGMA journal_mode").fetchone()
        ('memory',)
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def sqlite_on_begin(conn: sa.Connection) -> None:
    """``BEGIN IMMEDIATE`` for a write transaction, a plain (snapshot) ``BEGIN`` for a read;
    a write marked ``nowait`` raises :class:`WriteLockHeld` at once where the write lock
    is taken, instead of waiting the busy timeout for it."""
    options = conn.get_execution_options()
    write = options.get(WRITE_OPTION, False)
    if not (write and options.get(NOWAIT_OPTION, False)):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
        return
    # Only the BEGIN may not wait: once it holds the lock, the write runs as any other.
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except sa.exc.OperationalError as err:
        if not is_transient(err):
            raise
        raise WriteLockHeld(
            f"the write lock is held by another connection: {describe(err)}"
        ) from None
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")


class WriteGate:
    """Writers to one SQLite file take turns here, across threads and processes, before
    SQLite's own write lock.

    SQLite makes a writer that finds the database locked poll: its busy handler sleeps
    1, 2, 5, ... up to 100 ms between tries, so under a steady stream of writes from two
    worker processes a write waited hundreds of milliseconds for a lock held for a few.
    An exclusive ``flock`` on a file beside the database (``<database>.writer``) blocks
    instead and wakes the next writer as soon as the lock is released.  Writers that do
    not take the gate (other programs) still meet SQLite's busy timeout, so the gate
    only orders latentrec's own writers; it never replaces SQLite's locking.

    Across ``os.fork()`` the child gets a gate of its own, free in the child whatever
    the parent's threads held at the fork: it opens the lock file afresh on its first
    write (a descriptor inherited over fork shares its lock with the parent's), so parent
    and child still take turns, and it closes the inherited descriptor at once, so that a
    parent that dies inside the gate releases it even while the child lives on.

    Example:
        >>> import tempfile, pathlib
        >>> gate = WriteGate(pathlib.Path(tempfile.mkdtemp()) / "r.db.writer")
        >>> with gate:
        ...     gate.path.exists()
        True
    """

    def __init__(self, path: Path):
        self.path = path
        # Reentrant: a caller that took the gate with try_enter() then runs its write
        # transaction, which enters the gate again on the same thread.
        self.lock = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        self.pid = os.getpid()
        _GATES.add(self)

    def after_fork_in_child(self) -> None:
        """Forget the parent's hold (its threads are not in this process) and close the
        inherited descriptor: while open here it would keep the parent's flock alive
        after the parent's death.  Called in a forked child only, before anything else
        runs there."""
        self.lock = threading.RLock()
        self.depth = 0
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None
        self.pid = os.getpid()

    def __enter__(self):
        self.enter(blocking=True)
        return self

    def __exit__(self, *exc):
        self.exit()
        return False

    def try_enter(self) -> bool:
        """Take the gate if no other thread or process holds it; never waits.

        Example:
            >>> import tempfile, pathlib
            >>> gate = WriteGate(pathlib.Path(tempfile.mkdtemp()) / "r.db.writer")
            >>> other = WriteGate(gate.path)       # as another process would hold it
            >>> with other:
            ...     gate.try_enter()
            False
            >>> gate.try_enter(), gate.exit()
            (True, None)
        """
        return self.enter(blocking=False)

    def enter(self, blocking: bool) -> bool:
        if not self.lock.acquire(blocking=blocking):
            return False
        if self.depth:
            self.depth += 1
            return True
        try:
            if self.fd is None or self.pid != os.getpid():
                # A descriptor inherited over fork shares its lock with the parent's.
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                self.pid = os.getpid()
            if blocking:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            else:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self.lock.release()
                    return False
        except OSError:
            self.lock.release()
            raise
        self.depth = 1
        return True

    def exit(self) -> None:
        """Leave the gate (the last exit of a thread's nested entries releases it)."""
        self.depth -= 1
        try:
            if self.depth == 0:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()

    def close(self) -> None:
        """Close this process's descriptor of the lock file (reopened on the next write)."""
        with self.lock:
            if self.fd is not None and self.pid == os.getpid():
                os.close(self.fd)
            self.fd = None


# Every gate of this process, so that a forked child can reset each (weak: a closed
# store's gate goes away with it).
_GATES: weakref.WeakSet[WriteGate] = weakref.WeakSet()
# Every database of this process, for the same reason (Database.after_fork_in_child).
_DATABASES: weakref.WeakSet[Database] = weakref.WeakSet()


def _reset_gates_in_child() -> None:
    for gate in list(_GATES):
        gate.after_fork_in_child()
    for db in list(_DATABASES):
        db.after_fork_in_child()


# The databases whose write transactions a fork in progress holds off.
_FORKING: list[Database] = []


def _before_fork() -> None:
    _FORKING[:] = list(_DATABASES)
    for db in _FORKING:
        db.before_fork()


def _after_fork_in_parent() -> None:
    for db in _FORKING:
        db.after_fork_in_parent()
    _FORKING.clear()


def _after_fork_in_child() -> None:
    _FORKING.clear()
    _reset_gates_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def describe(err: sa.exc.DBAPIError) -> str:
    """The driver's message for a database error, on one line and without SQL.

    Example:
        >>> err = sa.exc.OperationalError("SELECT 1", {}, Exception("database is\\nlocked"))
        >>> describe(err)
        'database is locked'
    """
    text = str(getattr(err, "orig", None) or err)
    # Split on any whitespace: PostgreSQL's "DETAIL:  ..." has two spaces after the colon.
    return " ".join(text.split())


# PostgreSQL's SQLSTATE for a write in a read-only transaction (a hot standby, or
# default_transaction_read_only set): the server, not the request, is the cause.
PG_READ_ONLY = "25006"


def is_read_only(err: sa.exc.DBAPIError) -> bool:
    """Whether a database error says the database takes no writes now: PostgreSQL's
    SQLSTATE 25006, SQLite's ``SQLITE_READONLY`` codes (extended ones included).

    Example:
        >>> err = sqlite3.OperationalError("attempt to write a readonly database")
        >>> err.sqlite_errorcode = sqlite3.SQLITE_READONLY
        >>> is_read_only(sa.exc.OperationalError("INSERT", {}, err))
        True
    """
    orig = getattr(err, "orig", None)
    if getattr(orig, "sqlstate", None) == PG_READ_ONLY:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_READONLY


# PostgreSQL's SQLSTATEs for a server that cannot serve now and may soon: a connection
# exception (class 08), the server shutting down or starting (57P01-57P03), too many
# connections (53300), a statement cancelled past statement_timeout (57014: a server too
# slow or a lock held too long now).  Each ends once the server is back.
PG_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "57014"})

# What libpq says (in lower case) when a connection attempt fails for a server that is
# down or not yet up: such an error carries no SQLSTATE, so its text is all there is.
# "does not exist" (a wrong database or role) and a host name that does not resolve are
# not here: they stay wrong until someone changes the URL.
PG_TRANSIENT_TEXT = (
    "connection refused",
    "accepting connections",  # ALLOW_CONNECTIONS false; libpq's hint for a socket not there
    "starting up",
    "shutting down",
    "in recovery mode",
    "too many clients",
    "server closed the connection",
    "connection reset",
    "timeout expired",
    "terminating connection",
)


def is_transient(err: sa.exc.DBAPIError) -> bool:
    """Whether a database error may go away by waiting (the server down, starting up or
    shutting down, a SQLite file busy or locked), as opposed to one that stays until
    someone changes something (a path that is a folder, a file that cannot be opened, a
    read-only database, a wrong database name or role).

    Example:
        >>> busy = sqlite3.OperationalError("database is locked")
        >>> busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
        >>> is_transient(sa.exc.OperationalError("SELECT 1", {}, busy))
        True
        >>> cant = sqlite3.OperationalError("unable to open database file")
        >>> cant.sqlite_errorcode = sqlite3.SQLITE_CANTOPEN
        >>> is_transient(sa.exc.OperationalError("SELECT 1", {}, cant))
        False
    """
    orig = getattr(err, "orig", None)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    if is_read_only(err):
        return False
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith("08") or state in PG_TRANSIENT_STATES
    text = describe(err).lower()
    return any(words in text for words in PG_TRANSIENT_TEXT)


def cannot_open_reason(path) -> str:
    """Why SQLite cannot open the file at ``path``, where its own "unable to open
    database file" does not say: a folder there, or no permission to read and write it.
    Empty when neither is the cause.

    Example:
        >>> import tempfile
        >>> cannot_open_reason(tempfile.mkdtemp())
        '; the path is a folder, not a database file'
    """
    path = Path(path)
    if path.is_dir():
        return "; the path is a folder, not a database file"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "; this process may not read and write the file"
    return ""


class Database:
    """One engine and its transactions: a connection per call, safe across threads.

    A process that forks after opening gets fresh connections in the child (the parent's
    are never used there).  On a SQLite file the child first closes the connections it
    inherited idle (:meth:`after_fork_in_child`).  An in-memory SQLite database has a
    single connection, so its calls are serialised by a lock.

    Example:
        >>> db = Database(resolve_url(":memory:"))
        >>> with db.read() as conn:
        ...     conn.exec_driver_sql("select 1").scalar()
        1
        >>> db.close()
    """

    def __init__(self, url: sa.URL, on_wait=None, limit: float | None = None):
        self.url = url
        # Told (one line) when a write has waited WAIT_NOTICE_S for another's (gate_entered).
        self.on_wait = on_wait
        self.dialect = url.get_backend_name()
        # Seconds any one wait on a PostgreSQL server may take (limit_waits).
        self.limit = limit
        self.engine = create_engine(url, limit)
        self.pid = os.getpid()
        self.guard = threading.RLock() if is_memory(url) else nullcontext()
        file = self.dialect == "sqlite" and not is_memory(url)
        self.gate = (
            WriteGate(Path(url.database).with_name(Path(url.database).name + ".writer"))
            if file
            else nullcontext()
        )
        self.closed = False
        # Called (no arguments) by the first call that the store answers after one that
        # found it unavailable (answered, unavailable): a service says then that the
        # store is back.
        self.on_back = None
        self.failing = False
        # A SQLite file's write found it locked (another process holds its write lock):
        # reads go on in WAL mode, so only a write, or a probe that takes the write lock
        # (write_probe), ends the outage.
        self.writes_refused = False
        self.failures = 0  # calls that found the store unavailable, ever
        self.probed = -math.inf  # when write_probe last ran (time.monotonic)
        self.back_lock = threading.Lock()  # on_back called once per outage
        # The calling thread's background_reads(), if it is inside one.
        self.local = threading.local()
        # The pool's connection records, and those checked out (in use by a thread), so
        # that a forked child knows which inherited connections it may close.
        self.records: weakref.WeakSet = weakref.WeakSet()
        self.checked_out: weakref.WeakSet = weakref.WeakSet()
        self.sqlite_file = file
        # Threads inside a SQLite write transaction (ident -> depth), so that a fork can
        # wait for them (before_fork).
        self.writing = threading.Condition()
        self.writers: dict[int, int] = {}
        if file:
            sa.event.listen(self.engine, "connect", self._opened)
            sa.event.listen(self.engine, "checkout", self._checked_out)
            sa.event.listen(self.engine, "checkin", self._checked_in)
        _DATABASES.add(self)

    def _opened(self, _dbapi_connection, record) -> None:
        # In use from its first statement (the connect listener's pragmas) to its checkin.
        self.records.add(record)
        self.checked_out.add(record)

    def _checked_out(self, _dbapi_connection, record, _proxy) -> None:
        self.checked_out.add(record)

    def _checked_in(self, _dbapi_connection, record) -> None:
        if record is not None:
            self.checked_out.discard(record)

    def before_fork(self) -> None:
        """Wait (up to :data:`FORK_WAIT_S`) until no other thread is inside a write
        transaction, and hold off new ones until the fork is done (the lock is released
        by :meth:`after_fork_in_parent` and replaced in the child).

        A connection that a parent thread is writing on at the fork cannot be closed in
        the child (a close would roll the parent's transaction back in the shared log
        index, or wait forever on the mutex that thread holds), and while it stays open
        there, SQLite's per-process bookkeeping shows the log's write lock taken: every
        write of the child would fail with "database is locked".  A write transaction
        lasts milliseconds; the wait is bounded so that a stuck one cannot stop a fork.

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> db.before_fork(), db.after_fork_in_parent()  # as os.fork calls them
            (None, None)
        """
        if not self.sqlite_file:
            return
        me = threading.get_ident()
        self.writing.acquire()
        self.writing.wait_for(
            lambda: all(thread == me for thread in self.writers), timeout=FORK_WAIT_S
        )

    def after_fork_in_parent(self) -> None:
        """Let write transactions start again (see :meth:`before_fork`)."""
        if self.sqlite_file:
            self.writing.release()

    @contextmanager
    def writing_transaction(self):
        """Counts the calling thread as inside a write transaction (see
        :meth:`before_fork`); entered before ``BEGIN IMMEDIATE``, left after the commit."""
        me = threading.get_ident()
        with self.writing:
            self.writers[me] = self.writers.get(me, 0) + 1
        try:
            yield
        finally:
            with self.writing:
                if self.writers[me] == 1:
                    del self.writers[me]
                else:
                    self.writers[me] -= 1
                self.writing.notify_all()

    def after_fork_in_child(self) -> None:
        """Give the child a pool of its own; on a SQLite file, close every connection
        inherited idle first.  Called in a forked child, before anything else runs there
        (and by :meth:`connect` after a fork that skipped the at-fork hooks).

        Why close them: SQLite keeps per-process bookkeeping of the locks its connections
        hold on each file, and a child inherits the parent's.  While an inherited
        connection is open there, the child's own connections count as holding locks the
        child never took (POSIX record locks are per process and not inherited), so a
        parent that closes its last connection finds no other reader, checkpoints and
        deletes the log under the child.  Closing is safe for a connection that was idle
        at the fork (SQLite's own fork test says so for any connection without a pending
        write): closing a descriptor releases only this process's locks, and the close
        checkpoints only if it gets an exclusive lock, which a live parent's shared lock
        prevents.  A connection that a parent thread was using at the fork is dropped
        unclosed: its thread may have held the connection's mutex (a close would wait
        forever) or a write transaction (a close would roll it back in the shared index).

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> db.after_fork_in_child()  # as the fork hook calls it; a fresh pool
            >>> with db.read() as conn:
            ...     conn.exec_driver_sql("select 1").scalar()
            1
        """
        if self.sqlite_file:
            for record in list(self.records):
                connection = record.dbapi_connection
                if record not in self.checked_out and connection is not None:
                    try:
                        connection.close()
                    except Exception:  # closing is best effort: a fresh pool follows
                        pass
            self.records = weakref.WeakSet()
            self.checked_out = weakref.WeakSet()
            # The parent's fork held this lock, and its writers are not in this process.
            self.writing = threading.Condition()
            self.writers = {}
        # close=False: PostgreSQL's connections share their sockets with the parent's
        # (closing would end the parent's sessions), and the SQLite ones left are in use.
        self.engine.dispose(close=False)
        # A parent thread may have held it at the fork: the child's would stay taken.
        self.back_lock = threading.Lock()
        self.pid = os.getpid()

    def connect(self) -> sa.Connection:
        if self.closed:
            raise StoreUnavailableError(f"the store {self.shown_url()} is closed")
        if os.getpid() != self.pid:
            # A fork that skipped the at-fork hook (os.fork runs it): the parent's
            # connections must not be used here.
            self.after_fork_in_child()
        try:
            return self.engine.connect()
        except sa.exc.TimeoutError:
            # Every pooled connection is in use (threads waiting on a slow server).
            raise StoreUnavailableError(
                f"the store {self.shown_url()} is busy: no free connection within "
                f"{self.engine.pool.timeout():g} s (all {POOL_SIZE + POOL_OVERFLOW} in use)",
                transient=True,
            ) from None
        except sa.exc.DBAPIError as err:
            why = describe(err)
            code = getattr(err.orig, "sqlite_errorcode", None)
            if self.sqlite_file and code is not None and code & 0xFF == sqlite3.SQLITE_CANTOPEN:
                why += cannot_open_reason(self.url.database)
            raise StoreUnavailableError(
                f"cannot connect to the store {self.shown_url()}: {why}",
                transient=is_transient(err),
            ) from None

    def shown_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def wait_limit(self) -> float | None:
        """The seconds each wait on the server is bounded to (:meth:`limit_waits`), or
        ``None``: unbounded, or a SQLite store (bounded by its busy timeout instead).

        Example:
            >>> db = Database(resolve_url("postgresql://ann@127.0.0.1/recs"), limit=2.0)
            >>> db.wait_limit, Database(resolve_url(":memory:"), limit=2.0).wait_limit
            (2.0, None)
        """
        return self.limit if self.dialect == "postgresql" else None

    def limit_waits(self, seconds: float) -> None:
        """Bound every wait on a PostgreSQL server to ``seconds``: connecting, each
        statement (cancelled by the server past it), each wait for an answer (the
        connection closed past it, :class:`BoundedConnection`), a silent peer (TCP
        keepalives and user timeout); past it the call raises
        :class:`StoreUnavailableError`.  What a service sets, so that a server that
        stops answering costs a request seconds, not a thread for good.  The pool's
        connections are replaced; call it before the store is shared between threads.
        A SQLite store already bounds its waits (:data:`BUSY_TIMEOUT_S`): no change.

        Example:
            >>> db = Database(resolve_url("postgresql://ann@127.0.0.1/recs"))
            >>> db.limit_waits(5.0)
            >>> db.limit
            5.0
        """
        if not seconds > 0:
            raise ValueError(f"a store's wait limit is a number of seconds over 0, got {seconds!r}")
        self.limit = float(seconds)
        if self.dialect == "postgresql":
            old, self.engine = self.engine, create_engine(self.url, self.limit)
            old.dispose()

    @contextmanager
    def gate_entered(self):
        """Inside the write gate; when another process holds it (a long ``store import``
        holds it for its whole run), ``on_wait`` is told after :data:`WAIT_NOTICE_S`
        seconds of waiting, once, and the wait goes on until the gate is free.

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.db"
            >>> db = Database(resolve_url(str(path)), on_wait=print)
            >>> with db.gate_entered():  # free: no wait, nothing said
            ...     db.gate.depth
            1
            >>> db.close()
        """
        if not self.gate.try_enter():
            timer = None
            if self.on_wait is not None:
                message = (
                    f"waiting for another process's write to the store {self.shown_url()} "
                    "to end (a `latentrec store import`?)"
                )
                timer = threading.Timer(WAIT_NOTICE_S, self.on_wait, [message])
                timer.daemon = True
                timer.start()
            try:
                self.gate.enter(blocking=True)
            finally:
                if timer is not None:
                    timer.cancel()
        try:
            yield
        finally:
            self.gate.exit()

    @contextmanager
    def transaction(self, write: bool, snapshot: bool = False, nowait: bool = False):
        gate = self.gate_entered() if write and isinstance(self.gate, WriteGate) else nullcontext()
        counted = self.writing_transaction() if write and self.sqlite_file else nullcontext()
        try:
            with self.guard, gate, self.translated(), self.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True, NOWAIT_OPTION: nowait})
                elif snapshot and self.dialect == "postgresql":
                    # PostgreSQL's default (read committed) gives each statement its own view.
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with counted, conn.begin(), self.background_limit(conn):
                    yield conn
        except StoreUnavailableError as err:
            self.unavailable(err, write=write)
            raise
        self.answered(write=write)

    def unavailable(self, err: StoreUnavailableError, write: bool = False) -> None:
        """Note that a call found the store unavailable (``err``), whichever way it
        reached the database: a transaction, or on a SQLite file the driver's own
        connections (fastread's reads, a checkpoint, a change watch).  The next call
        that the store answers then calls ``on_back`` (:meth:`answered`).  A ``write``
        that found a SQLite file locked (``err.transient``: another process holds its
        write lock) is an outage of writes, which reads do not end.

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> db.on_back = lambda: print("back")
            >>> db.unavailable(StoreUnavailableError("down"))
            >>> with db.read() as conn:  # said once the transaction has ended
            ...     conn.exec_driver_sql("select 1").scalar()
            1
            back
        """
        with self.back_lock:
            self.failing = True
            self.failures += 1
            if write and self.sqlite_file and err.transient:
                # Busy or locked: another process holds the write lock.
                self.writes_refused = True
        background = getattr(self.local, "background", None)
        if background is not None:
            background.failures.append(err)

    def answered(self, write: bool = False) -> None:
        """Note that the store answered a call (a ``write`` transaction committed, or
        a read): the first after one that found it unavailable calls ``on_back`` (no
        arguments), once.

        So the service's "answers again" line ends an outage on both back ends alike:
        at the first call the store answers, a request's or the service's own rounds'
        (a SQLite store's checkpoint each round, a PostgreSQL store's catalogue
        check), where on a SQLite file it waited for the next SQLAlchemy transaction,
        which the requests' reads (fastread) never open.

        On a SQLite file whose writes failed, a read answering says nothing of writes:
        in WAL mode reads go on while another process holds the write lock, and the
        "answers again" line came a moment after each refused write while the lock was
        still held, a start and an end per write instead of one outage.  There a read
        ends the outage only when :meth:`write_probe` gets the write lock.

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> db.on_back = lambda: print("back")
            >>> db.answered()  # nothing failed: nothing said
            >>> db.unavailable(StoreUnavailableError("down"))
            >>> db.answered(), db.answered()
            back
            (None, None)
        """
        if not self.failing:
            return
        failures = self.failures
        if self.writes_refused and not write and not self.write_probe():
            return
        with self.back_lock:
            if not self.failing or self.failures != failures:
                return  # said already, or a call failed meanwhile: the next answer decides
            self.failing = self.writes_refused = False
        if self.on_back is not None:
            self.on_back()

    def write_probe(self) -> bool:
        """Whether this process can take the SQLite file's write lock now: ``BEGIN
        IMMEDIATE`` and ``ROLLBACK`` on a connection of its own that waits for no one
        (a busy timeout of 0), at most once per :data:`WRITE_PROBE_EVERY_S` (False
        between).  It writes nothing; the lock is held for no longer than the two
        statements, which a real write waiting on it (busy timeout) outlasts.

        Example:
            >>> import tempfile
            >>> db = Database(resolve_url(f"{tempfile.mkdtemp()}/ratings.db"))
            >>> db.write_probe()  # no file yet: none is made
            False
            >>> db.probed = -math.inf  # as WRITE_PROBE_EVERY_S later
            >>> with db.write() as conn:
            ...     _ = conn.exec_driver_sql("CREATE TABLE t (x)")
            >>> db.write_probe()
            True
            >>> db.close()
        """
        now = time.monotonic()
        with self.back_lock:
            if now - self.probed < WRITE_PROBE_EVERY_S:
                return False
            self.probed = now
        # mode=rw: a file that is gone is not created anew (an empty database) by a probe.
        target = Path(self.url.database).absolute().as_uri() + "?mode=rw"
        # Counted as a write (before_fork): a fork must not copy the lock it holds.
        with self.writing_transaction():
            try:
                conn = sqlite3.connect(target, uri=True, timeout=0, isolation_level=None)
            except sqlite3.Error:
                return False
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                return True
            except sqlite3.Error:
                return False
            finally:
                conn.close()

    @contextmanager
    def background_reads(self, seconds: float = BACKGROUND_READ_S):
        """The calling thread's transactions inside the block are no request's: on a
        PostgreSQL store whose waits are bounded (:meth:`limit_waits`), each statement
        and wait may take up to ``seconds`` instead of the limit.  Yields a record whose
        ``failures`` list the :class:`StoreUnavailableError` raised meanwhile, so that
        the caller hears of them even where a callee caught them.

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> with db.background_reads() as reads:
            ...     with db.read() as conn:
            ...         conn.exec_driver_sql("select 1").scalar()
            1
            >>> reads.failures
            []
        """
        record = BackgroundReads(float(seconds))
        previous = getattr(self.local, "background", None)
        self.local.background = record
        try:
            yield record
        finally:
            self.local.background = previous

    @property
    def open_limit(self) -> float:
        """The seconds each query that opens the store may wait on a PostgreSQL server
        (:meth:`bounded`): the store's limit, or :data:`OPEN_LIMIT_S` without one.

        Example:
            >>> Database(resolve_url("postgresql://ann@127.0.0.1/recs"), limit=2.0).open_limit
            2.0
        """
        return self.limit if self.limit is not None else OPEN_LIMIT_S

    @contextmanager
    def bounded(self, seconds: float):
        """The calling thread's waits on a PostgreSQL server inside the block bounded to
        ``seconds``, whatever the store's own limit (a command's store has none): each
        statement is cancelled by the server past it (``SET LOCAL statement_timeout``,
        a lock wait included), and each wait for an answer is given up on past it
        (:class:`BoundedConnection`), those of a new connection's first queries
        included; either raises :class:`StoreUnavailableError`.  What a store's opening
        runs under (:class:`~latentrec.store.ratings.RatingsStore`), so that a server
        that accepts the connection and then stops answering fails it instead of
        holding it for ever.  A SQLite store: no change (its busy timeout bounds it).

        Example:
            >>> db = Database(resolve_url(":memory:"))
            >>> with db.bounded(5.0), db.read() as conn:
            ...     conn.exec_driver_sql("select 1").scalar()
            1
        """
        if self.dialect != "postgresql":
            yield
            return
        previous = getattr(self.local, "bound", None)
        self.local.bound = float(seconds)
        token = _WAIT_FOR.set(float(seconds) + CANCEL_GRACE_S)
        try:
            yield
        finally:
            _WAIT_FOR.reset(token)
            self.local.bound = previous

    @contextmanager
    def background_limit(self, conn: sa.Connection):
        """Inside :meth:`bounded` on a PostgreSQL store: this transaction's statement
        timeout set to its seconds (the wait for the server is bounded there).  Inside
        :meth:`background_reads` on a bounded PostgreSQL store: this transaction's
        statement timeout and wait for the server lifted to the record's."""
        bound = getattr(self.local, "bound", None)
        if bound is not None and self.dialect == "postgresql":
            # SET LOCAL: undone with the transaction, whatever ends it.
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(bound * 1000))}")
            yield
            return
        background = getattr(self.local, "background", None)
        if background is None or self.dialect != "postgresql" or self.limit is None:
            yield
            return
        dbapi = conn.connection.dbapi_connection
        kept = getattr(dbapi, "wait_limit", None)
        # SET LOCAL: undone with the transaction, whatever ends it.
        conn.exec_driver_sql(
            f"SET LOCAL statement_timeout = {max(1, int(background.seconds * 1000))}"
        )
        dbapi.wait_limit = background.seconds + CANCEL_GRACE_S
        try:
            yield
        finally:
            dbapi.wait_limit = kept

    def read(self, snapshot: bool = False):
        """A read transaction; with ``snapshot`` its statements all see one state of the
        database (SQLite's read transactions always do)."""
        return self.transaction(write=False, snapshot=snapshot)

    def write(self, nowait: bool = False):
        """A write transaction: committed when the block ends, rolled back on an error.

        ``nowait``: on a SQLite file, raise :class:`WriteLockHeld` at once (nothing
        written, no outage noted) where another connection holds the write lock, instead
        of waiting up to the busy timeout for it: an event loop must not block there.
        Elsewhere it is an ordinary write.

        Example:
            >>> import sqlite3, tempfile
            >>> path = f"{tempfile.mkdtemp()}/r.db"
            >>> db = Database(resolve_url(path))
            >>> with db.write() as conn:
            ...     _ = conn.exec_driver_sql("CREATE TABLE t (x)")
            >>> other = sqlite3.connect(path, isolation_level=None)
            >>> _ = other.execute("BEGIN IMMEDIATE")  # another program's write
            >>> try:
            ...     with db.write(nowait=True) as conn:
            ...         _ = conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            ... except WriteLockHeld:
            ...     print("held")
            held
            >>> _ = other.execute("ROLLBACK")
            >>> with db.write(nowait=True) as conn:
            ...     conn.exec_driver_sql("INSERT INTO t VALUES (1)").rowcount
            1
            >>> db.close(); other.close()
        """
        return self.transaction(write=True, nowait=nowait)

    @contextmanager
    def translated(self):
        """Database errors as :class:`StoreError` / :class:`StoreUnavailableError`: the
        latter for a database that cannot be used now, a read-only one included (a
        PostgreSQL standby, ``default_transaction_read_only``, a SQLite file that
        cannot be written), which is no fault of what was written."""
        try:
            yield
        except sa.exc.DBAPIError as err:
            if is_read_only(err):
                raise StoreUnavailableError(
                    f"the store {self.shown_url()} takes no writes now (read-only): {describe(err)}"
                ) from None
            if isinstance(err, sa.exc.OperationalError):
                raise StoreUnavailableError(
                    f"the store {self.shown_url()} failed: {describe(err)}",
                    transient=is_transient(err),
                    sqlstate=getattr(getattr(err, "orig", None), "sqlstate", None),
                ) from None
            raise StoreError(f"the store {self.shown_url()} refused: {describe(err)}") from None

    def close(self) -> None:
        self.closed = True
        self.engine.dispose()
        if isinstance(self.gate, WriteGate):
            self.gate.close()


class BackgroundReads:
    """What :meth:`Database.background_reads` yields: its time limit and the failures
    (:class:`StoreUnavailableError`) its transactions met."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.failures: list[StoreUnavailableError] = []


def driver_rows(conn: sa.Connection, stmt: sa.Select, batch: int = 100_000):
    """The rows of ``stmt`` as plain tuples in lists of ``batch``, from the driver's cursor.

    For bulk reads: SQLAlchemy's result rows cost more than the query itself at millions
    of rows.  The statement is compiled by SQLAlchemy and its values stay bound
    parameters; the cursor belongs to ``conn``, so it runs inside its transaction.

    Example:
        >>> db = Database(resolve_url(":memory:"))
        >>> with db.read() as conn:
        ...     list(driver_rows(conn, sa.select(sa.literal(7).label("x"))))
        [[(7,)]]
    """
    compiled = stmt.compile(dialect=conn.dialect)
    cursor = conn.connection.dbapi_connection.cursor()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        try:
            cursor.execute(str(compiled), driver_params(compiled, compiled.params))
            while rows := cursor.fetchmany(batch):
                yield rows
        except dbapi_error as err:
            # As SQLAlchemy wraps the driver's errors, so that Database.translated says
            # them as the store's (a cancelled statement: StoreUnavailableError).
            raise sa.exc.DBAPIError.instance(
                str(compiled), None, err, dbapi_error, dialect=conn.dialect
            ) from err
    finally:
        cursor.close()


def driver_executemany(conn: sa.Connection, stmt, rows: list[dict]) -> int:
    """Run ``stmt`` once per parameter dict of ``rows`` through the driver's executemany;
    the number of rows the statements changed (the sum over ``rows``: both drivers add
    them up, and an upsert whose condition kept the stored row changed none).

    For bulk writes (the same statement over many rows; values stay bound parameters):
    SQLAlchemy's per-row parameter processing costs more than SQLite's insert.  The
    driver's errors are raised as SQLAlchemy's (:func:`driver_rows`), so that
    :meth:`Database.translated` says them as the store's.

    Example:
        >>> db = Database(resolve_url(":memory:"))
        >>> with db.write() as conn:
        ...     _ = conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        ...     driver_executemany(conn, sa.text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])
        2
        >>> try:
        ...     with db.write() as conn:
        ...         driver_executemany(conn, sa.text("INSERT INTO t VALUES (:x)"), [{"x": 1}])
        ... except StoreError as err:
        ...     print(err)
        the store sqlite:// refused: UNIQUE constraint failed: t.x
    """
    if not rows:
        return 0
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
    dbapi_connection = conn.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with own_pipeline(dbapi_connection, dbapi_error) as failed:
            try:
                cursor.executemany(str(compiled), [driver_params(compiled, row) for row in rows])
            except dbapi_error as err:
                failed.append(err)
        if failed:
            raise failed[0]
        return max(int(cursor.rowcount), 0)
    except dbapi_error as err:
        raise sa.exc.DBAPIError.instance(
            str(compiled), None, err, dbapi_error, dialect=conn.dialect
        ) from err
    finally:
        cursor.close()


@contextmanager
def own_pipeline(dbapi_connection, dbapi_error):
    """A psycopg pipeline around the block, where the driver uses one, closed by us: the
    block appends the driver's error it caught to the yielded list instead of raising it,
    and the first error stays the one raised (by the caller).

    psycopg's ``executemany`` runs in a pipeline of its own; when the server refused a
    row before the end, closing that pipeline failed again ("pipeline aborted") and
    psycopg logged that second failure as a warning, on stderr where nothing configured
    logging: ``store import`` said one refusal in two lines.  Closing the pipeline with
    no exception in flight raises the closing failure instead of logging it, and the
    first failure (the refusal) is the one that counts.  Elsewhere (SQLite) a plain block.

    Example:
        >>> import sqlite3
        >>> with own_pipeline(sqlite3.connect(":memory:"), sqlite3.Error) as failed:
        ...     failed.append(sqlite3.IntegrityError("refused"))
        >>> failed
        [IntegrityError('refused')]
    """
    failed: list = []
    pipeline = getattr(dbapi_connection, "pipeline", None)
    if pipeline is None or not pipeline_supported():
        yield failed
        return
    try:
        with pipeline():
            yield failed
    except dbapi_error:
        if not failed:
            raise  # the block's statements' own failure, reported at the pipeline's end


def pipeline_supported() -> bool:
    """Whether psycopg and its libpq run pipelines (libpq 14 or later)."""
    import psycopg

    return psycopg.Pipeline.is_supported()


def driver_params(compiled, params: dict):
    """Parameters in the compiled statement's style: a tuple (SQLite) or a dict.

    Example:
        >>> from sqlalchemy.dialects import sqlite
        >>> stmt = sa.select(sa.bindparam("a"), sa.bindparam("b"))
        >>> driver_params(stmt.compile(dialect=sqlite.dialect()), {"b": 2, "a": 1})
        (1, 2)
    """
    if compiled.positional:
        return tuple(params[name] for name in compiled.positiontup)
    return params
