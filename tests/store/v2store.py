"""A store as schema version 2 wrote it, for the tests of the version-3 upgrade: each
item's title keyed by casefolding as given, its genres as given (JSON and genre rows),
and the catalogue's change counter at 5."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from latentrec.store import open_store
from latentrec.store import schema as schema_module
from latentrec.store.engine import Database, resolve_url
from latentrec.store.schema import (
    add_erased_v2,
    create_v1,
    item_genres,
    items,
    schema_table,
    upgrade_v3,
)


def make_v2_store(url: str, held) -> None:
    """``held``: ``(item_id, title, genres, added_at)`` rows."""
    db = Database(resolve_url(url))
    try:
        with db.write() as conn:
            create_v1(conn)
            add_erased_v2(conn)
            conn.execute(sa.insert(schema_table).values(id=1, version=2))
            for item_id, title, genres, added in held:
                conn.execute(
                    sa.insert(items).values(
                        item_id=item_id,
                        title=title,
                        title_key=None if title is None else title.casefold(),
                        id_key=item_id.casefold(),
                        genres=json.dumps(genres, ensure_ascii=False),
                        added_at=added,
                    )
                )
                for genre in dict.fromkeys(genres):
                    conn.execute(sa.insert(item_genres).values(item_id=item_id, genre=genre))
            conn.execute(sa.text("INSERT INTO lr_counters (name, value) VALUES ('catalogue', 5)"))
    finally:
        db.close()


def stored_version(url: str) -> int:
    """The schema version the store records, read without opening (nor upgrading) it."""
    db = Database(resolve_url(url))
    try:
        with db.read() as conn:
            return conn.execute(sa.select(schema_table.c.version)).scalar()
    finally:
        db.close()


def check_a_failed_upgrade_changes_nothing(url: str, monkeypatch, read) -> None:
    """Open the version-2 store at ``url`` with an upgrade that fails once done: the store
    is still at version 2 and ``read(url)`` (what the upgrade rewrites) is as before."""
    before = read(url)

    def upgrade_then_fail(conn):
        upgrade_v3(conn)
        raise RuntimeError("power cut")

    monkeypatch.setitem(schema_module.MIGRATIONS, 3, upgrade_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        open_store(url)
    monkeypatch.undo()
    assert stored_version(url) == 2
    assert read(url) == before


def stored_rows(url: str) -> list[tuple]:
    """Every catalogue row's id, title and both search keys as stored, sorted."""
    db = Database(resolve_url(url))
    try:
        with db.read() as conn:
            columns = (items.c.item_id, items.c.title, items.c.title_key, items.c.id_key)
            return sorted(conn.execute(sa.select(*columns)).all())
    finally:
        db.close()
