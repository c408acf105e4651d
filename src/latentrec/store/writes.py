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


def merge_batch(rows, now: float, stamps: dict | None = None) -> tuple[list[dict], list[dict]]:
    """One batch of checked ``(user, item, kind, value, ts)`` rows as the explicit and the
    event parameter lists, one entry per key, sorted by key.

    One statement may not touch a row twice (PostgreSQL refuses), so repeats in a batch
    are merged by the store's rules first, arrival order being the batch order; a missing
    timestamp is ``now``.  Sorted keys make concurrent PostgreSQL writers lock rows in
    one order.  ``stamps``, when given, is filled with each explicit key's timestamps in
    batch order (what :func:`count_superseded` needs).

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
            if stamps is not None:
                stamps.setdefault(key, []).append(ts)
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


def superseded_in_order(stored_ts: float | None, stamps) -> int:
    """How many explicit ratings of one (user, item), given in this order after the
    stored one (timestamp ``stored_ts``, ``None`` when none is stored), leave a newer
    rating in place: latest wins, so each one older than the newest before it.

    Example:
        >>> superseded_in_order(10.0, [5.0, 15.0, 12.0]), superseded_in_order(None, [3.0, 3.0])
        (2, 0)
    """
    newest, lost = stored_ts, 0
    for ts in stamps:
        if newest is not None and ts < newest:
            lost += 1
        else:
            newest = ts
    return lost


def stored_stamps(conn: sa.Connection, keys) -> dict[tuple[str, str], float]:
    """The timestamps of the stored explicit ratings of ``keys`` ((user, item) pairs).

    Example:
        >>> from latentrec.store import Rating, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_ratings([Rating("u", "i", 4.0, 7.0)])
        >>> with store.db.read() as conn:
        ...     stored_stamps(conn, [("u", "i"), ("u", "j")])
        {('u', 'i'): 7.0}
    """
    keys = list(keys)
    out: dict[tuple[str, str], float] = {}
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        stmt = sa.select(ratings.c.user_id, ratings.c.item_id, ratings.c.ts).where(
            ratings.c.kind == "explicit",
            sa.tuple_(ratings.c.user_id, ratings.c.item_id).in_(chunk),
        )
        out.update({(u, i): float(t) for u, i, t in conn.execute(stmt)})
    return out


def write_explicit(conn: sa.Connection, dialect: str, params: list[dict], stamps: dict) -> int:
    """Upsert merged explicit ratings (:func:`merge_batch`, which filled ``stamps``: each
    key's timestamps in batch order) inside the caller's write transaction; how many of
    the batch's explicit rows were superseded: older than the rating of their user and
    item already stored, or given before them in the batch, which therefore stays.

    A key given once was written unless the upsert's condition kept the stored rating,
    which ``RETURNING`` tells (the row comes back only when written).  For a key given
    several times the stored timestamp is read first (under the write sequence's lock,
    so no other writer moves it meanwhile) and the rows counted as one-by-one writes
    would have gone.
    """
    repeated = {key: ts for key, ts in stamps.items() if len(ts) > 1}
    lost = 0
    if repeated:
        held = stored_stamps(conn, repeated)
        lost += sum(superseded_in_order(held.get(key), ts) for key, ts in repeated.items())
    stmt = upsert_explicit(dialect).returning(ratings.c.user_id, ratings.c.item_id)
    written: set[tuple[str, str]] = set()
    for start in range(0, len(params), CHUNK):
        written.update(tuple(row) for row in conn.execute(stmt, params[start : start + CHUNK]))
    lost += sum(
        1
        for p in params
        if (p["user_id"], p["item_id"]) not in written
        and (p["user_id"], p["item_id"]) not in repeated
    )
    return lost
