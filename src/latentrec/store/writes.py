"""The write side of the store: the global write sequence, the upserts that give each kind
of feedback its rule (explicit ratings: latest wins; events: weights add), and the merge
of one batch by the same rules before it is written.

Every write transaction takes the next sequence number first (:func:`next_seq`), which
holds the sequence row's lock until commit: writers are serialised, their numbers follow
commit order, and no two can deadlock on the rows they touch afterwards.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .schema import counters, ratings, users

# Rows per executemany call in bulk writes: bounds the parameter lists held at once.
CHUNK = 5_000
# Ids per IN (...) list: SQLite's default limit on bound parameters is far above this.
IN_CHUNK = 500

RATING_KEY = (ratings.c.user_id, ratings.c.item_id, ratings.c.kind)


def insert(dialect: str, table: sa.Table):
    """The dialect's INSERT, which has ``on_conflict_do_update`` on both databases.

    Example:
        >>> type(insert("sqlite", ratings)).__module__
        'sqlalchemy.dialects.sqlite.dml'
    """
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


# Built once per dialect: SQLAlchemy then finds each compiled statement in its cache
# without building the statement (and its cache key) again on every write.
@functools.cache
def upsert_explicit(dialect: str):
    """Latest wins: a stored rating is replaced by one at least as recent (on equal
    timestamps the later write, which runs later, wins).

    Example:
        >>> sql = str(upsert_explicit("sqlite").compile(dialect=sqlite.dialect()))
        >>> sql[sql.index("ON CONFLICT"):].split("WHERE")[1].strip()
        'excluded.ts >= lr_ratings.ts'
    """
    ins = insert(dialect, ratings)
    return ins.on_conflict_do_update(
        index_elements=list(RATING_KEY),
        set_={"value": ins.excluded.value, "ts": ins.excluded.ts},
        where=ins.excluded.ts >= ratings.c.ts,
    )


@functools.cache
def upsert_event(dialect: str):
    """Events add up inside the database (never read, add, write back), so concurrent
    writers lose none; the stored timestamp is the latest event's.

    Example:
        >>> sql = str(upsert_event("postgresql").compile(dialect=postgresql.dialect()))
        >>> "value = (lr_ratings.value + excluded.value)" in sql
        True
    """
    ins = insert(dialect, ratings)
    return ins.on_conflict_do_update(
        index_elements=list(RATING_KEY),
        set_={
            "value": ratings.c.value + ins.excluded.value,
            "ts": sa.case((ins.excluded.ts > ratings.c.ts, ins.excluded.ts), else_=ratings.c.ts),
        },
    )


@functools.cache
def upsert_version(dialect: str):
    """A user's version row, inserted or set (see :func:`upsert_versions`).

    Example:
        >>> "ON CONFLICT (user_id) DO UPDATE" in str(upsert_version("sqlite").compile(
        ...     dialect=sqlite.dialect()))
        True
    """
    ins = insert(dialect, users)
    return ins.on_conflict_do_update(
        index_elements=[users.c.user_id], set_={"version": ins.excluded.version}
    )


def upsert_versions(conn: sa.Connection, dialect: str, user_ids, seq: int) -> None:
    """Set the version of ``user_ids`` to ``seq`` (creating their rows).

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> with store.db.write() as conn:
        ...     upsert_versions(conn, "sqlite", ["ann", "bo"], 7)
        >>> store.user_versions(["ann", "bo", "cy"])
        {'ann': 7, 'bo': 7, 'cy': 0}
    """
    stmt = upsert_version(dialect)
    rows = [{"user_id": u, "version": seq} for u in sorted(user_ids)]
    for start in range(0, len(rows), CHUNK):
        conn.execute(stmt, rows[start : start + CHUNK])


NEXT_SEQ = (
    sa.update(counters)
    .where(counters.c.name == "writes")
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)


def next_seq(conn: sa.Connection) -> int:
    """Take the next write sequence number (and the sequence's lock until commit).

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> with store.db.write() as conn:
        ...     next_seq(conn), next_seq(conn), read_sequence(conn)
        (1, 2, 2)
    """
    return int(conn.execute(NEXT_SEQ).scalar_one())


# The counters row that every catalogue write raises: a worker's copy of the catalogue
# (each item's genres) is stale once it moved.  Created by the first catalogue write.
CATALOGUE_COUNTER = "catalogue"


def bump_catalogue(conn: sa.Connection, dialect: str) -> None:
    """Raise the catalogue's change counter (inside the caller's write transaction).

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> with store.db.write() as conn:
        ...     bump_catalogue(conn, "sqlite"), bump_catalogue(conn, "sqlite")
        (None, None)
        >>> store.catalogue_version()
        2
    """
    ins = insert(dialect, counters).values(name=CATALOGUE_COUNTER, value=1)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[counters.c.name], set_={"value": counters.c.value + 1}
        )
    )


def read_counter(conn: sa.Connection, name: str) -> int:
    """The value of one counter, 0 while it has no row.

    Example:
        >>> from latentrec.store import open_store
        >>> with open_store(":memory:").db.read() as conn:
        ...     read_counter(conn, CATALOGUE_COUNTER)
        0
    """
    stmt = sa.select(counters.c.value).where(counters.c.name == name)
    return int(conn.execute(stmt).scalar() or 0)


def read_sequence(conn: sa.Connection) -> int:
    """The newest write sequence number.

    Example:
        >>> from latentrec.store import open_store
        >>> with open_store(":memory:").db.read() as conn:
        ...     read_sequence(conn)
        0
    """
    stmt = sa.select(counters.c.value).where(counters.c.name == "writes")
    return int(conn.execute(stmt).scalar_one())


def merge_batch(rows, now: float) -> tuple[list[dict], list[dict]]:
    """One batch of checked ``(user, item, kind, value, ts)`` rows as the explicit and the
    event parameter lists, one entry per key, sorted by key.

    One statement may not touch a row twice (PostgreSQL refuses), so repeats in a batch
    are merged by the store's rules first, arrival order being the batch order; a missing
    timestamp is ``now``.  Sorted keys make concurrent PostgreSQL writers lock rows in
    one order.

    Example:
        >>> rows = [("u", "i", "explicit", 4.0, 2.0), ("u", "i", "explicit", 1.0, 2.0),
        ...         ("u", "i", "event", 1.0, None), ("u", "i", "event", 2.0, 5.0)]
        >>> explicit, events = merge_batch(rows, now=9.0)
        >>> [(p["value"], p["ts"]) for p in explicit], [(p["value"], p["ts"]) for p in events]
        ([(1.0, 2.0)], [(3.0, 9.0)])
    """
    explicit: dict[tuple[str, str], tuple[float, float]] = {}
    events: dict[tuple[str, str], list[float]] = {}
    for user, item, kind, value, ts in rows:
        ts = now if ts is None else ts
        key = (user, item)
        if kind == "explicit":
            held = explicit.get(key)
            if held is None or ts >= held[1]:
                explicit[key] = (value, ts)
        else:
            held = events.get(key)
            if held is None:
                events[key] = [value, ts]
            else:
                held[0] += value
                held[1] = max(held[1], ts)
    return tuple(
        [
            {"user_id": u, "item_id": i, "kind": kind, "value": v, "ts": t}
            for (u, i), (v, t) in sorted(table.items())
        ]
        for table, kind in ((explicit, "explicit"), (events, "event"))
    )
