"""`RatingsStore`: the source of truth for ratings, events, user versions and the item
catalogue, on SQLite or PostgreSQL, and `open_store`, which opens one by URL or path.

Writes run in one transaction each and return only after it commits.  Every write that
changes a user's ratings takes the next number of one global write sequence (see
``schema.counters``) and records it as the user's version, which is how a worker learns
cheaply which users' cached vectors are stale (:meth:`RatingsStore.changes_since`).
"""

from __future__ import annotations

import threading
import time
import weakref

import numpy as np
import sqlalchemy as sa

from ..data import Interactions
from .bulk import import_cells, read_interactions
from .catalogue import (
    catalogue_page,
    catalogue_spellings,
    check_kept,
    genre_column,
    genre_spellings,
    insert_missing_items,
    item_from_row,
    search_statement,
    write_items,
)
from .engine import (
    UPGRADE_LIMIT_S,
    Database,
    StoreUnavailableError,
    WriteGate,
    WriteLockHeld,
    is_memory,
    resolve_url,
)
from .fastread import SqliteReader
from .group import GroupCommit
from .records import (
    ImportResult,
    Item,
    Rating,
    StoreError,
    WriteResult,
    check_id,
    check_items,
    check_ratings,
)
from .schema import (
    SCHEMA_VERSION,
    check_version,
    items,
    migrate,
    ratings,
    stored_version,
    users,
)
from .watch import ChangeWatch
from .writes import (
    CATALOGUE_COUNTER,
    CHUNK,
    IN_CHUNK,
    merge_batch,
    next_seq,
    read_counter,
    read_sequence,
    upsert_event,
    upsert_versions,
    write_explicit,
)


class NothingChanged(Exception):
    """Raised inside a write transaction to roll it back (the write changed nothing)."""


def lookup_id(value) -> str | None:
    """An id as stored, or ``None`` for one that cannot be stored (so is never found).

    Example:
        >>> lookup_id(42), lookup_id(""), lookup_id(None)
        ('42', None, None)
    """
    try:
        return check_id(value, "id")
    except StoreError:
        return None


class RatingsStore:
    """Ratings, implicit events, per-user versions and the item catalogue in one database.

    Use :func:`open_store` to get one.  One engine, a connection per call: share one
    instance between threads; each process opens its own.  Ids are opaque text (an
    integer id is stored as its decimal text).  ``schema_version`` is the store's
    schema; ``upgraded`` says what opening it upgraded (one line per version, e.g.
    ``"schema version 2 to 3: 5 items' genres put in one spelling, ..."``; empty when
    the store was new or current), for a caller to tell its user.

    Example:
        >>> store = open_store(":memory:")
        >>> store.add_ratings([Rating("ann", "50", 5.0, timestamp=1.0)]).n_written
        1
        >>> store.add_ratings([Rating("ann", "50", 3.0, timestamp=2.0)]).versions
        {'ann': 2}
        >>> [r.value for r in store.user_ratings("ann")]
        [3.0]
        >>> store.close()
    """

    def __init__(self, database: Database):
        self.db = database
        # Per-request reads on a SQLite file skip SQLAlchemy (see fastread).
        self.reader = (
            SqliteReader(database)
            if database.dialect == "sqlite" and not is_memory(database.url)
            else None
        )
        # The watches made by watch(), which close() closes too (weak: a watch no one
        # holds closes itself).
        self.watches: weakref.WeakSet[ChangeWatch] = weakref.WeakSet()
        self.watches_lock = threading.Lock()  # a watch made while close() walks them
        # What this open upgraded, one line per version (empty when nothing was): an
        # upgrade rewrites data, which the opener should be able to say.
        self.upgraded: list[str] = []
        self.schema_version = self.open_schema()
        self.group = GroupCommit(self.db.write, self.write_batch)

    def open_schema(self) -> int:
        """The schema version, after creating or upgrading the schema where needed: what
        opening runs.  On PostgreSQL its every wait is bounded (:meth:`Database.bounded`)
        by the store's limit (``open_store(limit=)``), or :data:`~.engine.OPEN_LIMIT_S`
        without one; an upgrade (and a wait for another process's) by at least
        :data:`~.engine.UPGRADE_LIMIT_S`.  Past it, :class:`StoreUnavailableError`
        (transient) naming the store, the limit and the step, so that a server that
        takes the connection and then stops answering (or a table lock another session
        holds) fails the opening instead of holding it for ever.

        Example:
            >>> open_store(":memory:").open_schema()  # a current store: read only
            4
        """
        db = self.db
        seconds, step = db.open_limit, "reading its schema version"
        started = time.monotonic()
        try:
            # The version is read first, without the write lock: a current store (the
            # usual case) opens while another process writes (a long `store import`
            # holds the lock for its whole run, and `store info` is how an operator
            # watches it).  Only an upgrade takes the lock; migrate reads the version
            # again under it.
            with db.bounded(seconds), db.read() as conn:
                current = check_version(stored_version(conn))
            if current == SCHEMA_VERSION:
                return current
            if current == 0:
                step = "creating its schema"
            else:
                seconds, step = max(seconds, UPGRADE_LIMIT_S), "upgrading its schema"
            started = time.monotonic()
            with db.bounded(seconds), db.write() as conn:
                return migrate(conn, db.dialect, self.upgraded)
        except StoreUnavailableError as err:
            if db.dialect != "postgresql" or time.monotonic() - started < seconds:
                raise  # not the limit's doing (refused, closed): its own message
            raise StoreUnavailableError(
                f"opening the store {db.shown_url()} failed: it did not finish within the "
                f"opening's limit of {seconds:g} s while {step}: {past_limit(err, db)}",
                transient=True,
            ) from None

    # ------------------------------------------------------------------ identity
    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.db.shown_url()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.db.dialect

    def __repr__(self) -> str:
        return f"RatingsStore({self.url!r}, schema version {self.schema_version})"

    def close(self) -> None:
        """Close every connection this store opened (pooled, per-thread readers, and
        those of its :meth:`watch` es); the store cannot be used afterwards.

        Its watches' too: a watch outlives the store in what holds it (a service app,
        which FastAPI's callable caches keep alive), and while one SQLite connection to
        the file stays open, the file descriptors of the others closed before it stay
        open too (SQLite must not drop the process's locks on the file).  A closed
        store once held five descriptors for every app made over it.

        Example:
            >>> import tempfile, pathlib
            >>> store = open_store(pathlib.Path(tempfile.mkdtemp()) / "r.db")
            >>> watch = store.watch()
            >>> _ = watch.token()
            >>> store.close()
            >>> watch.conn is None
            True
        """
        # Marked closed first: a watch asked for a token between its close and the mark
        # opened its connection anew, which then outlived the store.
        self.db.close()
        with self.watches_lock:
            watches = list(self.watches)
        for watch in watches:
            watch.close()
        if self.reader is not None:
            self.reader.close()

    def __enter__(self) -> RatingsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ ratings
    def add_ratings(self, ratings_in) -> WriteResult:
        """Write ratings and events in one transaction; returns once it has committed.

        ``ratings_in`` is an iterable of :class:`Rating` or of mappings with its fields.
        An explicit rating replaces the stored one for its (user, item) if it is at least
        as recent (later timestamp; on equal timestamps the later write wins), else it
        is counted in the result's ``n_superseded``, not ``n_written``; an event
        adds its value to the stored weight (and keeps the latest timestamp).  Every row
        is checked first: an empty or over-long id, a NaN or infinite value or timestamp,
        an unknown kind, a timestamp outside the years 1-9999 or more than a day after
        the store's clock (a rating dated in the future would win over every later one)
        raises :class:`StoreError` naming the row and field, and nothing is written.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([{"user_id": "u", "item_id": "i", "kind": "event"}] * 2)
            >>> store.user_ratings("u")[0].value
            2.0
            >>> try:
            ...     store.add_ratings([Rating("u", "i", float("inf"))])
            ... except StoreError as err:
            ...     print(err)
            row 0: field 'value' must be finite, got inf
        """
        now = time.time()
        rows = check_ratings(ratings_in, now)
        if not rows:
            return WriteResult(0, {})
        stamps: dict = {}
        explicit, events = merge_batch(rows, now, stamps)
        touched = {user for user, *_ in rows}
        # Concurrent writers of this process share one transaction (see group.py).
        return self.group.submit((explicit, events, stamps, touched, len(rows)))

    def try_add_ratings(self, ratings_in) -> WriteResult | None:
        """:meth:`add_ratings` now, or ``None`` (nothing written) when another writer of
        this SQLite file holds its write lock (latentrec's gate, or SQLite's own lock
        taken by another program); never waits for one.

        For an event loop, which must not block while another process commits: it can
        retry later and answer other requests meanwhile.  Other stores write at once.
        Bad rows raise :class:`StoreError` as in :meth:`add_ratings`.

        Example:
            >>> store = open_store(":memory:")
            >>> store.try_add_ratings([Rating("ann", "50", 5.0)]).versions
            {'ann': 1}
        """
        gate = self.db.gate
        if not isinstance(gate, WriteGate):
            return self.add_ratings(ratings_in)
        rows = check_ratings(ratings_in, time.time())
        if not gate.try_enter():
            return None
        try:
            if not rows:
                return WriteResult(0, {})
            stamps: dict = {}
            explicit, events = merge_batch(rows, time.time(), stamps)
            batch = (explicit, events, stamps, {user for user, *_ in rows}, len(rows))
            # Straight through, not through the group: this thread holds the gate, and
            # a group's leader on another thread would wait for it.
            # nowait: a program that does not take the gate may hold SQLite's own lock.
            with self.db.write(nowait=True) as conn:
                return self.write_batch(conn, batch)
        except WriteLockHeld:
            return None
        finally:
            gate.exit()

    def write_batch(self, conn: sa.Connection, batch) -> WriteResult:
        """Write one merged batch inside the caller's write transaction (its own sequence
        number); the :class:`GroupCommit` of :meth:`add_ratings` calls this."""
        explicit, events, stamps, touched, n_rows = batch
        seq = next_seq(conn)
        lost = write_explicit(conn, self.dialect, explicit, stamps)
        stmt = upsert_event(self.dialect)
        for start in range(0, len(events), CHUNK):
            conn.execute(stmt, events[start : start + CHUNK])
        upsert_versions(conn, self.dialect, touched, seq)
        return WriteResult(n_rows - lost, {user: seq for user in sorted(touched)}, lost)

    def user_ratings(self, user_id) -> list[Rating]:
        """The user's current ratings and event weights, ordered by item id then kind.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "b", 4, 1.0), Rating("u", "a", 2, 1.0)])
            >>> [(r.item_id, r.value) for r in store.user_ratings("u")]
            [('a', 2.0), ('b', 4.0)]
            >>> store.user_ratings("nobody")
            []
        """
        user = lookup_id(user_id)
        if user is None:
            return []
        if self.reader is not None:
            rows = self.reader.user_ratings(user)
        else:
            stmt = sa.select(
                ratings.c.item_id, ratings.c.value, ratings.c.ts, ratings.c.kind
            ).where(ratings.c.user_id == user)
            with self.db.read() as conn:
                rows = conn.execute(stmt).all()
        return [
            Rating(user, item, float(value), float(ts), kind)
            for item, value, ts, kind in sorted(rows, key=lambda r: (r[0], r[3]))
        ]

    def user_cells(self, user_id) -> list[tuple[str, float, str]]:
        """The user's ``(item_id, value, kind)`` cells in no particular order: what
        :meth:`user_ratings` gives, as plain tuples, for a hot path that folds them in.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "b", 4, 1.0)])
            >>> store.user_cells("u"), store.user_cells("nobody")
            ([('b', 4.0, 'explicit')], [])
        """
        user = lookup_id(user_id)
        if user is None:
            return []
        if self.reader is not None:
            return [
                (item, float(value), kind)
                for item, value, _, kind in self.reader.user_ratings(user)
            ]
        return [(r.item_id, r.value, r.kind) for r in self.user_ratings(user)]

    def user_record(self, user_id) -> tuple[list[tuple[str, float, str]], bool]:
        """``(cells, erased)``: :meth:`user_cells`, and whether the user was erased
        (:meth:`delete_user`) at any time, read in one statement, so that they agree.

        A user with no cells left was erased only if ``erased`` says so: one who deleted
        their last rating (:meth:`delete_rating`) was not.  ``erased`` stays true when
        they rate again.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "b", 4, 1.0), Rating("e", "b", 2, 1.0)])
            >>> _ = store.delete_rating("u", "b"), store.delete_user("e")
            >>> store.user_record("u"), store.user_record("e"), store.user_record("nobody")
            (([], False), ([], True), ([], False))
            >>> _ = store.add_ratings([Rating("e", "c", 5, 2.0)])
            >>> store.user_record("e")
            ([('c', 5.0, 'explicit')], True)
        """
        user = lookup_id(user_id)
        if user is None:
            return [], False
        if self.reader is not None:
            rows = self.reader.user_record(user)
        else:
            stmt = (
                sa.select(users.c.erased, ratings.c.item_id, ratings.c.value, ratings.c.kind)
                .select_from(users.outerjoin(ratings, ratings.c.user_id == users.c.user_id))
                .where(users.c.user_id == user)
            )
            with self.db.read() as conn:
                rows = conn.execute(stmt).all()
        erased = bool(rows) and rows[0][0] is not None
        cells = [(item, float(value), kind) for _, item, value, kind in rows if item is not None]
        return cells, erased

    def user_snapshot(self, user_id) -> tuple[int, list[Rating]]:
        """``(version, ratings)`` of one user, for a cache keyed by version.

        The version is read first, so the ratings are at least as new as it: a write
        landing in between makes the cached entry look stale (refetched next time), never
        fresh with old ratings.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "i", 4.0, 1.0)])
            >>> store.user_snapshot("u")
            (1, [Rating(user_id='u', item_id='i', value=4.0, timestamp=1.0, kind='explicit')])
        """
        return self.user_version(user_id), self.user_ratings(user_id)

    def user_version(self, user_id) -> int:
        """The user's version: 0 if they never had a rating, else the sequence number of
        the last write or delete that changed their ratings (it only ever grows).

        Example:
            >>> store = open_store(":memory:")
            >>> store.user_version("u")
            0
            >>> v = store.add_ratings([Rating("u", "i")]).versions["u"]
            >>> _ = store.delete_user("u")
            >>> store.user_version("u") > v
            True
        """
        if self.reader is not None:
            user = lookup_id(user_id)
            return 0 if user is None else self.reader.user_version(user)
        return self.user_versions([user_id])[str(user_id)]

    def user_versions(self, user_ids) -> dict[str, int]:
        """:meth:`user_version` of many users in one read; keys are the ids as text.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "i")])
            >>> store.user_versions(["a", "b"])
            {'a': 1, 'b': 0}
        """
        if isinstance(user_ids, (str, bytes)):
            raise StoreError("user_versions takes a list of user ids, not one id")
        keys = {str(u): lookup_id(u) for u in user_ids}
        found = dict.fromkeys(keys, 0)
        valid = sorted({key for key in keys.values() if key is not None})
        with self.db.read() as conn:
            for start in range(0, len(valid), IN_CHUNK):
                stmt = sa.select(users.c.user_id, users.c.version).where(
                    users.c.user_id.in_(valid[start : start + IN_CHUNK])
                )
                for user, version in conn.execute(stmt):
                    found[user] = int(version)
        return found

    def sequence(self) -> int:
        """The newest write sequence number (0 for a store never written to).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "i")])
            >>> store.sequence()
            1
        """
        if self.reader is not None:
            return self.reader.sequence()
        with self.db.read() as conn:
            return read_sequence(conn)

    def watch(self) -> ChangeWatch:
        """A :class:`~latentrec.store.watch.ChangeWatch` of this store: a token that
        changes whenever a write has committed, far cheaper to read than any query.

        Example:
            >>> store = open_store(":memory:")
            >>> watch = store.watch()
            >>> first = watch.token()
            >>> _ = store.add_ratings([Rating("a", "i")])
            >>> watch.token() != first
            True
        """
        watch = ChangeWatch(self.db)
        with self.watches_lock:
            self.watches.add(watch)
        return watch

    def checkpoint(self) -> int:
        """Copy committed writes from a SQLite store's log into the database file now,
        without waiting for (or holding up) readers and writers; returns the log pages
        still to copy (0 for other stores).

        A long-running writer (the service) calls this from a background thread, so
        that no commit pays for the copy (see ``engine.AUTOCHECKPOINT_PAGES``).

        Example:
            >>> open_store(":memory:").checkpoint()
            0
        """
        if self.reader is None:
            return 0
        _, log, copied = self.reader.checkpoint()
        return max(0, log - copied)

    def changes_since(self, seq: int) -> tuple[int, list[tuple[str, int]]]:
        """``(newest, [(user_id, version), ...])``: the users changed after ``seq``.

        Pass the returned ``newest`` next time.  Sequence numbers follow commit order, so
        a change committed after this call always has a number above ``newest``: polling
        misses nothing.  The list is ordered by version.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "i"), Rating("b", "i")])
            >>> _ = store.add_ratings([Rating("b", "j")])
            >>> store.changes_since(0)
            (2, [('a', 1), ('b', 2)])
            >>> store.changes_since(2)
            (2, [])
        """
        if isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or seq < 0:
            raise StoreError(f"seq must be an integer >= 0, got {seq!r}")
        if self.reader is not None:
            newest, rows = self.reader.changes_since(int(seq))
        else:
            with self.db.read() as conn:
                # The sequence first: a write committing between the two reads then shows
                # in the rows, and newest covers it (numbers follow commit order).
                newest = read_sequence(conn)
                rows = conn.execute(
                    sa.select(users.c.user_id, users.c.version).where(users.c.version > int(seq))
                ).all()
        changed = sorted(((u, int(v)) for u, v in rows), key=lambda r: (r[1], r[0]))
        if changed:
            newest = max(newest, changed[-1][1])
        return newest, changed

    def delete_rating(self, user_id, item_id) -> int:
        """Remove the user's rating and event weight of one item; how many rows were
        removed (0: none was stored; 2: a rating and an event weight).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "i"), Rating("u", "i", kind="event")])
            >>> store.delete_rating("u", "i"), store.delete_rating("u", "i")
            (2, 0)
        """
        user, item = lookup_id(user_id), lookup_id(item_id)
        if user is None or item is None:
            return 0
        try:
            with self.db.write() as conn:
                seq = next_seq(conn)
                gone = conn.execute(
                    sa.delete(ratings).where(ratings.c.user_id == user, ratings.c.item_id == item)
                ).rowcount
                if not gone:
                    raise NothingChanged
                upsert_versions(conn, self.dialect, [user], seq)
        except NothingChanged:
            return 0
        return int(gone)

    def delete_user(self, user_id) -> int:
        """Erase the user's ratings and events; returns the number of rows removed.

        Only the id, its (new) version and the mark that they were erased remain, so
        that caches of the user learn of the erasure through :meth:`user_version` and
        :meth:`changes_since`, and tell it from a user who deleted their last rating
        (:meth:`user_record`).  The erasure
        takes a new version even when the store held nothing of the user: a cache may
        know them from elsewhere (a served model's training data).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("u", "i"), Rating("u", "j", kind="event")])
            >>> store.delete_user("u"), store.user_ratings("u")
            (2, [])
            >>> store.delete_user("trained-elsewhere"), store.user_version("trained-elsewhere")
            (0, 3)
        """
        user = lookup_id(user_id)
        if user is None:
            return 0
        with self.db.write() as conn:
            seq = next_seq(conn)
            gone = conn.execute(sa.delete(ratings).where(ratings.c.user_id == user)).rowcount
            upsert_versions(conn, self.dialect, [user], seq)
            conn.execute(sa.update(users).where(users.c.user_id == user).values(erased=seq))
        return int(gone)

    # ------------------------------------------------------------------ items
    def add_items(self, items_in, keep=()) -> int:
        """Insert or replace catalogue entries; returns how many were written.

        A replaced item takes the new title, genres and features, except the fields
        named in ``keep`` (of ``"title"``, ``"genres"``, ``"features"``), which an
        entry already stored keeps (a new one takes them as given): an edit of some
        details.  What is kept is never read and written back, so an edit of the
        genres by another writer meanwhile is not undone.  Its ``added_at`` stays
        unless the new one gives it.  A genre differing from one of the catalogue's only
        in case (or surrounding blanks) is written in the catalogue's spelling: genres
        are one genre whatever their case.

        Example:
            >>> store = open_store(":memory:")
            >>> store.add_items([Item("1", "Toy Story", ("Animation", "Comedy"))])
            1
            >>> store.get_item("1").title
            'Toy Story'
            >>> _ = store.add_items([Item("2", "Up", ("animation ",))])
            >>> store.get_item("2").genres
            ('Animation',)
            >>> _ = store.add_items([Item("1", "Toy Story (1995)")], keep=("genres",))
            >>> store.get_item("1").genres
            ('Animation', 'Comedy')
        """
        keep = check_kept(keep)
        checked = check_items(items_in)
        if not checked:
            return 0
        with self.db.write() as conn:
            write_items(conn, self.dialect, checked, time.time(), keep)
        return len(checked)

    def add_missing_items(self, items_in) -> list[str]:
        """Insert the catalogue entries whose ids are not stored yet, in one transaction;
        the ids inserted.  Entries already stored are left unchanged, so processes doing
        this at once (workers seeding the catalogue at start-up) add each id once between
        them, and never overwrite an entry another wrote meanwhile.

        Example:
            >>> store = open_store(":memory:")
            >>> store.add_missing_items([Item("1", "Toy Story"), Item("2", "Heat")])
            ['1', '2']
            >>> store.add_missing_items([Item("2", "Heat (1995)"), Item("3", "Up")])
            ['3']
            >>> store.get_item("2").title
            'Heat'
        """
        checked = check_items(items_in)
        if not checked:
            return []
        with self.db.write() as conn:
            return insert_missing_items(conn, self.dialect, checked, time.time())

    def catalogue_version(self) -> int:
        """A number that rises with every catalogue write (0 before the first): a cache
        of the catalogue is stale once it moved.

        Example:
            >>> store = open_store(":memory:")
            >>> before = store.catalogue_version()
            >>> _ = store.add_items([Item("1", "Heat", ("Crime",))])
            >>> store.catalogue_version() > before
            True
        """
        with self.db.read() as conn:
            return read_counter(conn, CATALOGUE_COUNTER)

    def get_item(self, item_id) -> Item | None:
        """The catalogue entry of ``item_id``, or ``None``.

        Example:
            >>> open_store(":memory:").get_item("nope") is None
            True
        """
        item = lookup_id(item_id)
        if item is None:
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(items).where(items.c.item_id == item)).first()
        return None if row is None else item_from_row(row)

    def get_items(self, item_ids) -> dict[str, Item]:
        """The catalogue entries of ``item_ids`` that are stored, by id, in one read
        (``IN`` lists of at most ``IN_CHUNK`` ids within one transaction): what one
        :meth:`get_item` per id would find, without a query per id.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("1", "Heat"), Item("2", "Up")])
            >>> {k: v.title for k, v in store.get_items(["2", "3"]).items()}
            {'2': 'Up'}
        """
        wanted = sorted({i for i in map(lookup_id, item_ids) if i is not None})
        found: dict[str, Item] = {}
        if not wanted:
            return found
        with self.db.read() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                for row in conn.execute(sa.select(items).where(items.c.item_id.in_(chunk))):
                    item = item_from_row(row)
                    found[item.item_id] = item
        return found

    def stored_item_ids(self, item_ids) -> set[str]:
        """Which of ``item_ids`` the catalogue has, in one read (``IN`` lists of at most
        ``IN_CHUNK`` ids within one transaction), however many are asked about.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("1", "Heat"), Item("2", "Up")])
            >>> sorted(store.stored_item_ids(["2", "3", "1", ""]))
            ['1', '2']
        """
        wanted = sorted({i for i in map(lookup_id, item_ids) if i is not None})
        found: set[str] = set()
        if not wanted:
            return found
        with self.db.read() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                query = sa.select(items.c.item_id).where(items.c.item_id.in_(chunk))
                found.update(conn.execute(query).scalars())
        return found

    def all_item_ids(self) -> list[str]:
        """The id of every catalogue entry, in id order, in one statement (one state of
        the catalogue): the ids :meth:`all_items` would list, without reading their
        titles, genres and features (a quarter of the time at 60,000 titles on SQLite).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("2", "Heat"), Item("1", "Up")])
            >>> store.all_item_ids()
            ['1', '2']
        """
        with self.db.read() as conn:
            stmt = sa.select(items.c.item_id).order_by(items.c.item_id)
            return list(conn.execute(stmt).scalars())

    def genre_lists(self, since: int | None = None) -> tuple[int, list[tuple[str, str]] | None]:
        """The catalogue's change counter (:meth:`catalogue_version`) and every entry's
        ``(item_id, genres as JSON text)`` in id order, of one state of the catalogue;
        ``None`` for the entries while the counter stands at ``since``
        (:func:`~.catalogue.genre_column`): what a copy of every item's genres needs to
        stay current, without reading titles and features or making an :class:`Item`
        per row.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("2", "Heat", ("Crime",)), Item("1", "Up")])
            >>> store.genre_lists()
            (1, [('1', '[]'), ('2', '["Crime"]')])
            >>> store.genre_lists(since=1)
            (1, None)
        """
        with self.db.read(snapshot=True) as conn:
            return genre_column(conn, since)

    def item_titles(self) -> dict[str, str | None]:
        """Every catalogue entry's title by id, in one statement (one state of the
        catalogue), without their genres and features: what a served model's titles
        follow, since the catalogue, not the model file, holds a title's current name.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("2", "Heat"), Item("1")])
            >>> store.item_titles()
            {'1': None, '2': 'Heat'}
        """
        with self.db.read() as conn:
            stmt = sa.select(items.c.item_id, items.c.title).order_by(items.c.item_id)
            return {item_id: title for item_id, title in conn.execute(stmt)}

    def all_items(self, page: int = 1000) -> list[Item]:
        """Every catalogue entry, in id order, as one state of the catalogue: read in
        one transaction (a snapshot: ``REPEATABLE READ`` on PostgreSQL, one read
        transaction on SQLite), ``page`` rows a statement along the primary key
        (:func:`~.catalogue.catalogue_page`).

        A title added, renamed or removed while it is read is in the copy as it was
        when the read began: none is missing or twice, as paging through
        :meth:`search_items` (a transaction a page, ordered by title) could leave it.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("2", "Heat"), Item("1", "Up"), Item("3", "Ran")])
            >>> [i.title for i in store.all_items(page=2)]
            ['Up', 'Heat', 'Ran']
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise StoreError(f"page must be a positive integer, got {page!r}")
        out: list[Item] = []
        after = None
        with self.db.read(snapshot=True) as conn:
            while True:
                rows = catalogue_page(conn, after, page)
                out.extend(item_from_row(row) for row in rows)
                if len(rows) < page:
                    return out
                after = rows[-1].item_id

    def search_items(
        self,
        search: str | None = None,
        genre: str | None = None,
        limit: int = 50,
        offset: int = 0,
        popularity=None,
    ) -> list[Item]:
        """Catalogue entries whose title or id contains ``search``, ignoring case, how an
        accent was typed and the accent itself (``amelie`` and an ``Amélie`` typed with
        ``e`` plus an accent find ``Amélie``; ``bjork`` finds ``Bjørk``, ``lodz``
        ``Łódź`` and ``aeon`` ``Æon``: :func:`~.records.search_key`), and
        which have the genre ``genre`` (ignoring case and surrounding blanks: ``sci-fi``
        finds every ``Sci-Fi`` title, in every spelling the catalogue holds): those whose
        title starts with ``search`` first, then those with a word starting with it, then
        the rest, each group by title then id (by title then id without ``search``).

        ``popularity`` (a function of an item id giving how often it was rated) orders
        each group of a search most popular first, title then id breaking ties: every
        match is read and ordered here, then the page cut.  ``%`` and ``_`` in
        ``search`` are ordinary characters; a search of accents alone finds nothing, and
        one over 4,000 characters is a :class:`StoreError`.  ``limit`` (at most 10,000)
        and ``offset`` page through the results.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("1", "Star Wars", ("Sci-Fi",)), Item("2", "Heat"),
            ...                      Item("3", "Evening Star"), Item("4", "Bastard"),
            ...                      Item("5", "Stargate")])
            >>> [i.title for i in store.search_items("STAR")]
            ['Star Wars', 'Stargate', 'Evening Star', 'Bastard']
            >>> rated = {"1": 583, "5": 89}
            >>> [i.title for i in store.search_items("star", popularity=lambda i: rated.get(i, 0))]
            ['Star Wars', 'Stargate', 'Evening Star', 'Bastard']
            >>> rated = {"1": 2, "5": 89}
            >>> [i.title for i in store.search_items("star", popularity=lambda i: rated.get(i, 0))]
            ['Stargate', 'Star Wars', 'Evening Star', 'Bastard']
            >>> [i.item_id for i in store.search_items(genre="sci-fi")]
            ['1']
            >>> _ = store.add_items([Item("6", "Am\u00e9lie")])
            >>> [i.title for i in store.search_items("amelie")]
            ['Amélie']
            >>> _ = store.add_items([Item("7", "Bj\u00f8rk")])
            >>> [i.title for i in store.search_items("BJORK")]
            ['Bjørk']
        """
        return self.search_page(search, genre, limit, offset, popularity)[0]

    def search_page(
        self,
        search: str | None = None,
        genre: str | None = None,
        limit: int = 50,
        offset: int = 0,
        popularity=None,
    ) -> tuple[list[Item], int]:
        """:meth:`search_items`'s page and how many entries match in all (read together,
        so the count is the one the page was cut from).

        A search ordered by ``popularity`` reads every match anyway, so its count costs
        nothing more; otherwise one ``COUNT`` over the same filter is added.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("1", "Star Wars"), Item("2", "Heat"),
            ...                      Item("3", "Evening Star"), Item("5", "Stargate")])
            >>> page, total = store.search_page("star", limit=2)
            >>> [i.title for i in page], total
            (['Star Wars', 'Stargate'], 3)
            >>> store.search_page("star", limit=2, popularity=lambda i: 0)[1]
            3
        """
        if genre is not None and not isinstance(genre, str):
            raise StoreError(f"genre must be text, got {type(genre).__name__}")
        ranked = popularity is not None and bool(search)
        stmt = search_statement(self.dialect, search, genre, limit, offset, whole=ranked)
        if stmt is None:
            return [], 0
        with self.db.read(snapshot=not ranked or genre is not None) as conn:
            if genre is not None:
                # Every spelling of the genre, read in the page's snapshot.
                genre = genre_spellings(conn, genre)
                if not genre:
                    return [], 0
                stmt = search_statement(self.dialect, search, genre, limit, offset, whole=ranked)
            rows = conn.execute(stmt).all()
            if not ranked:
                matching = search_statement(self.dialect, search, genre, 1, 0, whole=True)
                counted = sa.select(sa.func.count()).select_from(matching.order_by(None).subquery())
                total = int(conn.execute(counted).scalar_one())
        if not ranked:
            return [item_from_row(row) for row in rows], total
        # A stable sort: within a group and a count, the store's title-then-id order.
        rows.sort(key=lambda row: (row.match_group, -float(popularity(row.item_id) or 0)))
        return [item_from_row(row) for row in rows[offset : offset + limit]], len(rows)

    def genres(self) -> list[str]:
        """Every genre of the catalogue, sorted, each once in the spelling the catalogue
        writes it in (genres differing only in case are one genre).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_items([Item("1", "Heat", ("Crime", "Action"))])
            >>> _ = store.add_items([Item("2", "Ronin", ("crime",))])
            >>> store.genres(), store.get_item("2").genres
            (['Action', 'Crime'], ('Crime',))
        """
        with self.db.read() as conn:
            return sorted(catalogue_spellings(conn).values())

    def item_first_seen(self) -> dict[str, float]:
        """When each item appeared: the earliest timestamp among its stored ratings and
        events, or for a catalogue entry nobody rated, when it was added (Unix seconds).

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "x", 4, 5.0), Rating("b", "x", 2, 3.0)])
            >>> _ = store.add_items([Item("y", added_at=9.0)])
            >>> store.item_first_seen()
            {'y': 9.0, 'x': 3.0}
        """
        first = sa.select(ratings.c.item_id, sa.func.min(ratings.c.ts)).group_by(ratings.c.item_id)
        with self.db.read(snapshot=True) as conn:
            added = conn.execute(sa.select(items.c.item_id, items.c.added_at)).all()
            rated = conn.execute(first).all()
        out = {item: float(when) for item, when in added}
        out.update((item, float(when)) for item, when in rated)
        return out

    def newest_timestamp(self) -> float | None:
        """The newest timestamp among the stored ratings and events (Unix seconds);
        ``None`` when none is stored.

        Example:
            >>> store = open_store(":memory:")
            >>> store.newest_timestamp() is None
            True
            >>> _ = store.add_ratings([Rating("a", "x", 4, 5.0), Rating("b", "y", 2, 3.0)])
            >>> store.newest_timestamp()
            5.0
        """
        with self.db.read() as conn:
            newest = conn.execute(sa.select(sa.func.max(ratings.c.ts))).scalar()
        return None if newest is None else float(newest)

    def counts(self) -> dict:
        """``{"ratings", "users", "items"}``: stored (user, item, kind) values, users who
        have any, and catalogue entries.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "x"), Rating("b", "x")])
            >>> store.counts()
            {'ratings': 2, 'users': 2, 'items': 0}
        """
        with self.db.read() as conn:
            n_ratings = conn.execute(sa.select(sa.func.count()).select_from(ratings)).scalar_one()
            n_users = conn.execute(
                sa.select(sa.func.count(sa.distinct(ratings.c.user_id)))
            ).scalar_one()
            n_items = conn.execute(sa.select(sa.func.count()).select_from(items)).scalar_one()
        return {"ratings": int(n_ratings), "users": int(n_users), "items": int(n_items)}

    # ------------------------------------------------------------------ bulk
    def interactions(self, *, until: float | None = None, kind: str | None = None) -> Interactions:
        """Everything stored, as training data, with timestamps and the item side table.

        One kind of feedback per table: by default the explicit ratings when there are
        any (events are then left out: an explicit model is not trained on weights),
        else the events, as implicit data whose values are the summed weights.
        ``kind="explicit"`` or ``"event"`` chooses.  ``until`` keeps the values whose
        (latest) timestamp is at most ``until``.  The item side table (``title``,
        ``genres`` joined by ``|``, one column per numeric feature) covers every catalogue
        entry, so unrated items join the vocabulary with their features.  Raises
        :class:`StoreError` when nothing is selected.

        Example:
            >>> store = open_store(":memory:")
            >>> _ = store.add_ratings([Rating("a", "x", 4, 1.0), Rating("b", "x", 2, 5.0)])
            >>> store.interactions().nnz, store.interactions(until=2.0).nnz
            (2, 1)
        """
        return read_interactions(self.db, until, kind)

    def import_interactions(self, data: Interactions, *, kind: str = "explicit") -> ImportResult:
        """Seed the store from an :class:`Interactions`: its cells (with its timestamps,
        else the store's clock) and its item side table; returns the cells written and
        those superseded (:class:`~.records.ImportResult`: an explicit rating older than
        the one the store holds for its user and item leaves the stored one in place).

        One transaction, written in chunks.  The cells follow :meth:`add_ratings`' rules
        (explicit: latest wins; events: weights add); a rating dated more than a day
        after the store's clock is refused, and nothing is imported.  The side table's ``title`` and
        ``genres`` (``|``-joined) become each item's title and genres and its other
        numeric columns its features (missing values left out).

        Example:
            >>> import numpy as np
            >>> store = open_store(":memory:")
            >>> store.import_interactions(Interactions.from_dense(np.eye(3))).n_written
            3
            >>> store.counts()["users"]
            3
        """
        return import_cells(self.db, data, kind)


def open_store(target, on_wait=None, limit: float | None = None) -> RatingsStore:
    """Open (creating or migrating its schema) the ratings store at ``target``.

    ``target`` is a SQLite file path (``str`` or ``Path``), ``":memory:"``, or a URL:
    ``sqlite:///path/ratings.db`` or ``postgresql://user:password@host:5432/db`` (psycopg
    3; ``postgres://`` works too).  Use it as a context manager to close it.

    Opening a store whose schema is current never waits for another process's write.
    ``on_wait`` (a function of one line of text), when given, is called once a write
    of this store (an upgrade on open included) has waited :data:`~.engine.WAIT_NOTICE_S`
    seconds for another process's write to a SQLite file to end, so that a command can
    say why it is waiting; the write waits on until the other ends.

    ``limit`` (seconds; a service's ``store_timeout``) bounds every wait on a PostgreSQL
    server, the opening's included (:meth:`Database.limit_waits`); without it (a
    command, which may run long statements) only the opening's queries are bounded, by
    :data:`~.engine.OPEN_LIMIT_S` (:meth:`RatingsStore.open_schema`).

    Example:
        >>> with open_store(":memory:") as store:
        ...     store.dialect, store.schema_version
        ('sqlite', 4)
    """
    if limit is not None and not limit > 0:
        raise ValueError(f"a store's wait limit is a number of seconds over 0, got {limit!r}")
    db = Database(resolve_url(target), on_wait=on_wait, limit=limit)
    try:
        return RatingsStore(db)
    except BaseException:
        # A store that did not open leaves no pool (nor lock file) behind.
        db.close()
        raise


__all__ = ["Item", "Rating", "RatingsStore", "StoreError", "WriteResult", "open_store"]


# PostgreSQL's SQLSTATE for a statement cancelled at its statement_timeout.
PG_CANCELLED = "57014"


def past_limit(err: StoreUnavailableError, db) -> str:
    """Why an opening's query ended at its limit, true to what happened: a statement the
    server cancelled (it answered: the statement ran, or waited on a lock, that long) or
    a server that gave no answer at all (the driver's own limit).

    Example:
        >>> from latentrec.store.engine import Database, resolve_url
        >>> db = Database(resolve_url("postgresql://ann@127.0.0.1/recs"))
        >>> print(past_limit(StoreUnavailableError("x", sqlstate="57014"), db))
        ... # doctest: +NORMALIZE_WHITESPACE
        the server cancelled the statement at the limit (statement timeout); it may have
        been waiting on a lock another session holds on the store's tables
        >>> past_limit(StoreUnavailableError("the server did not answer within 3 s"), db)
        'the server did not answer within 3 s'
    """
    if err.sqlstate == PG_CANCELLED:
        return (
            "the server cancelled the statement at the limit (statement timeout); it may "
            "have been waiting on a lock another session holds on the store's tables"
        )
    reason = str(err)
    for said in (
        f"the store {db.shown_url()} failed: ",
        f"cannot connect to the store {db.shown_url()}: ",
    ):
        reason = reason.removeprefix(said)
    return reason
