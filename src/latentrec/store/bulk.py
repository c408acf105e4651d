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
from .catalogue import catalogue_items, side_table, write_items
from .engine import Database, driver_executemany, driver_rows
from .records import FUTURE_SLACK_S, KINDS, ImportResult, StoreError, check_id, when
from .schema import items, ratings
from .writes import CHUNK, next_seq, upsert_event, upsert_explicit, upsert_versions


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
        np.concatenate([np.array(c[k], dtype=np.float64) for c in columns]) for k in (2, 3)
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
        raise StoreError(f"the stored ratings do not make a table: {err}") from None


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
            # An Interactions holds each cell once, so the rows the upsert changed are
            # the cells written; an explicit one older than the stored rating is not.
            written += driver_executemany(conn, stmt, params)
        active = np.unique(uidx).tolist()
        upsert_versions(conn, db.dialect, [user_text[u] for u in active], seq)
        if catalogue:
            write_items(conn, db.dialect, catalogue, now)
    return ImportResult(written, data.nnz - written)
