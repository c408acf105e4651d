"""Bulk moves between the store and training data: everything stored as an
``Interactions`` (:func:`read_interactions`) and an ``Interactions`` into the store
(:func:`import_cells`), through the driver's cursor so that neither builds a Python object
per row beyond the driver's own tuples.
"""

from __future__ import annotations

import time

import numpy as np
import sqlalchemy as sa

from ..data import DataError, Interactions
from ..data.build import TIME_MAX, TIME_MIN
from .catalogue import catalogue_items, side_table, write_items
from .engine import Database, describe, driver_executemany, driver_rows, is_read_only
from .records import (
    FUTURE_SLACK_S,
    KINDS,
    ImportResult,
    StoreError,
    check_id,
    rating_route,
    when,
)
from .schema import items, ratings
from .writes import CHUNK, next_seq, upsert_event, upsert_explicit, upsert_versions

# The range of a rating as training data holds it (float32).
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)


class StoredRatingsError(StoreError):
    """The store holds ratings that cannot be trained on: a value or a time that is no
    finite number (written into the database by hand, past the store's checks), or
    cells that do not make a table.  The message names a user and item at fault.

    Not "nothing to train on" (a plain :class:`StoreError`, which a retrain answers by
    publishing nothing): what the store holds is wrong, and a retrain fails on it as it
    does on a rating outside the current version's scale.

    Example:
        >>> isinstance(StoredRatingsError("x"), StoreError)
        True
    """


def read_interactions(db: Database, until, kind) -> Interactions:
    """What :meth:`RatingsStore.interactions <latentrec.store.RatingsStore.interactions>`
    returns (see there).

    Example:
        >>> from latentrec.store import Rating, open_store
        >>> store = open_store(":memory:")
        >>> _ = store.add_ratings([Rating("a", "x", 4.0, 1.0)])
        >>> read_interactions(store.db, None, None).nnz
        1
    """
    if kind is not None and kind not in KINDS:
        raise StoreError(f"kind must be one of {list(KINDS)} or None, got {kind!r}")
    if until is not None:
        try:
            until = float(until)
        except (TypeError, ValueError):
            raise StoreError(f"until must be a number (Unix seconds), got {until!r}") from None
    with db.read(snapshot=True) as conn:
        if kind is None:
            has_explicit = conn.execute(
                sa.select(ratings.c.kind).where(ratings.c.kind == "explicit").limit(1)
            ).first()
            kind = "explicit" if has_explicit else "event"
        stmt = sa.select(ratings.c.user_id, ratings.c.item_id, ratings.c.value, ratings.c.ts).where(
            ratings.c.kind == kind
        )
        if until is not None:
            stmt = stmt.where(ratings.c.ts <= until)
        batches = list(driver_rows(conn, stmt))
        catalogue = conn.execute(
            sa.select(items.c.item_id, items.c.title, items.c.genres, items.c.features)
        ).all()
    if not batches:
        when = "" if until is None else f" at or before {until:g}"
        raise StoreError(f"the store holds no {kind} ratings{when}: nothing to train on")
    columns = [list(zip(*batch, strict=True)) for batch in batches]
    user_ids, item_ids = (
        np.concatenate([np.array(c[k], dtype=object) for c in columns]) for k in (0, 1)
    )
    values, stamps = (
        _numbers([c[k] for c in columns], user_ids, item_ids, kind, what)
        for k, what in ((2, "value"), (3, "time"))
    )
    table = side_table(catalogue)
    try:
        return Interactions.from_arrays(
            user_ids,
            item_ids,
            values,
            timestamps=stamps,
            implicit=kind == "event",
            strip_ids=False,
            item_features=table,
        )
    except DataError as err:
        raise StoredRatingsError(f"the stored ratings do not make a table: {err}") from None


def _numbers(parts, user_ids, item_ids, kind: str, what: str) -> np.ndarray:
    """The stored column ``what`` (``"value"`` or ``"time"``; ``parts``: its batches) as
    float64, refused with a :class:`StoredRatingsError` naming the first user and item
    whose entry cannot be trained on: no finite number, a value float32 cannot hold, a
    time outside the years 1-9999.  The store's writes refuse them; a row written by hand
    (``UPDATE ... SET value = 'NaN'``) passed those checks, and reading it failed naming
    its position in the read ("at rows 100186"), a number no operator can find the
    rating by.

    Example:
        >>> ids = np.array(["a", "b"], dtype=object)
        >>> _numbers([(4.0, 2.0)], ids, ids, "explicit", "value")
        array([4., 2.])
        >>> try:
        ...     _numbers([(4.0,), (float("nan"),)], ids, ids[::-1], "explicit", "value")
        ... except StoredRatingsError as err:
        ...     print(str(err).split(":")[0])
        the store holds 1 explicit rating(s) that cannot be trained on, e.g. user 'b', item 'a'
    """
    column = np.concatenate([_as_floats(part) for part in parts])
    size = np.abs(column)
    with np.errstate(invalid="ignore"):
        if what == "time":
            bad = ~np.isfinite(column) | (column < TIME_MIN) | (column > TIME_MAX)
        else:
            bad = ~np.isfinite(column) | (size > FLOAT32_MAX)
            bad |= (column != 0) & (size < FLOAT32_TINY)
    where = np.flatnonzero(bad)
    if where.size:
        k = int(where[0])
        stored = _entry(parts, k)
        shown = f"{stored:g}" if isinstance(stored, float) else repr(stored)
        if not np.isfinite(column[k]):
            problem = "no finite number"
        elif what == "time":
            problem = "outside the years 1-9999"
        elif size[k] > FLOAT32_MAX:
            problem = "too large for a rating (float32)"
        else:
            problem = "too close to 0 for a rating (float32), which would make it 0"
        raise StoredRatingsError(
            f"the store holds {where.size} {kind} rating(s) that cannot be trained on, e.g. "
            f"user {user_ids[k]!r}, item {item_ids[k]!r}: its {what} {shown} is {problem}; "
            "written past the store's checks (by hand in the database?), they are not "
            f"skipped: delete or correct them ({rating_route(str(user_ids[k]), str(item_ids[k]))} "
            "for this one) and try again"
        )
    return column


def _as_floats(part) -> np.ndarray:
    """One batch of a stored column as float64; text that is no number (SQLite keeps what
    it is given in any column) becomes NaN, for :func:`_numbers` to name."""
    try:
        return np.array(part, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([_number_or_nan(x) for x in part], dtype=np.float64)


def _entry(parts, k: int):
    """The ``k``-th entry of a column read in batches ``parts``, as the driver gave it."""
    for part in parts:
        if k < len(part):
            return part[k]
        k -= len(part)
    raise IndexError(k)


def _number_or_nan(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def batch_refused(db: Database, err: sa.exc.DBAPIError, params, start: int, total: int) -> str:
    """What an import says when the database refused one of its batches of rows (a
    constraint or trigger added by hand, a value the column cannot hold): the batch by
    its rows' positions in the import and its first and last cell, and the database's
    reason (which may name the row: a bulk write does not know which it was), its
    closing period dropped so that the sentence goes on cleanly (PostgreSQL's detail
    ends with one: "... Failing row contains (...).").

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> rows = [{"user_id": "a", "item_id": "x"}, {"user_id": "b", "item_id": "y"}]
        >>> refused = sa.exc.IntegrityError("INSERT", {}, Exception("CHECK constraint failed"))
        >>> print(batch_refused(store.db, refused, rows, 5000, 5002))
        ... # doctest: +NORMALIZE_WHITESPACE
        the store sqlite:// refused the import's rows 5001-5002 of 5002 (from user 'a', item
        'x' to user 'b', item 'y'): CHECK constraint failed; nothing was imported
    """
    first, last = params[0], params[-1]
    return (
        f"the store {db.shown_url()} refused the import's rows {start + 1}-"
        f"{start + len(params)} of {total} (from user {first['user_id']!r}, item "
        f"{first['item_id']!r} to user {last['user_id']!r}, item {last['item_id']!r}): "
        f"{describe(err).rstrip('.')}; nothing was imported"
    )


def import_cells(db: Database, data: Interactions, kind: str) -> ImportResult:
    """What :meth:`RatingsStore.import_interactions
    <latentrec.store.RatingsStore.import_interactions>` does (see there).

    Example:
        >>> from latentrec.store import open_store
        >>> store = open_store(":memory:")
        >>> import_cells(store.db, Interactions.from_arrays(["a"], ["x"], [4.0]), "explicit")
        ImportResult(n_written=1, n_superseded=0)
    """
    if not isinstance(data, Interactions):
        raise StoreError(f"import_interactions takes an Interactions, got {type(data).__name__}")
    if kind not in KINDS:
        raise StoreError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    now = time.time()
    user_text = [check_id(u, "user_id") for u in data.users.ids.tolist()]
    item_text = [check_id(i, "item_id") for i in data.items.ids.tolist()]
    uidx, iidx = data.user_idx, data.item_idx
    values = data.ratings.astype(np.float64).tolist()
    if data.timestamps is None:
        stamps = [now] * data.nnz
    else:
        stamps = data.timestamps.tolist()
        if not np.isfinite(data.timestamps).all():
            raise StoreError("the interactions' timestamps include NaN or infinite values")
        ahead = np.flatnonzero(data.timestamps > now + FUTURE_SLACK_S)
        if ahead.size:
            k = int(ahead[0])
            raise StoreError(
                f"{ahead.size} rating(s) dated more than a day after the store's clock "
                f"({when(now)}), e.g. user {user_text[uidx[k]]!r}, item "
                f"{item_text[iidx[k]]!r} at {when(float(data.timestamps[k]))}: a rating "
                "dated in the future would win over every later rating of its user and "
                "item until then (a clock set wrong?); nothing imported"
            )
    catalogue = catalogue_items(data, item_text)
    stmt = upsert_explicit(db.dialect) if kind == "explicit" else upsert_event(db.dialect)
    order = np.lexsort((iidx, uidx))
    written = 0
    with db.write() as conn:
        seq = next_seq(conn)
        for start in range(0, order.size, CHUNK):
            params = [
                {
                    "user_id": user_text[uidx[k]],
                    "item_id": item_text[iidx[k]],
                    "kind": kind,
                    "value": values[k],
                    "ts": stamps[k],
                }
                for k in order[start : start + CHUNK].tolist()
            ]
            try:
                # An Interactions holds each cell once, so the rows the upsert changed
                # are the cells written; an explicit one older than the stored is not.
                written += driver_executemany(conn, stmt, params)
            except sa.exc.DBAPIError as err:
                if isinstance(err, sa.exc.OperationalError) or is_read_only(err):
                    raise  # the store cannot be used now: StoreUnavailableError
                raise StoreError(batch_refused(db, err, params, start, order.size)) from None
        active = np.unique(uidx).tolist()
        upsert_versions(conn, db.dialect, [user_text[u] for u in active], seq)
        if catalogue:
            write_items(conn, db.dialect, catalogue, now)
    return ImportResult(written, data.nnz - written)
