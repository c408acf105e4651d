"""``RatingsStore.all_items``: the whole catalogue as one state of it, walked by id in
pages within one snapshot, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from latentrec.store import Item, StoreError, open_store
from latentrec.store.schema import item_genres, items

# Ids whose order differs between code points and a locale's collation (case, accents,
# digits, blanks): the walk must meet each once whatever order the database keeps.
IDS = ["a", "B", "b", "\u00e9", "E", "e", "10", "9", "a b", "a-b", "ab", "\u00c9mile", "z"]


@pytest.mark.parametrize("page", [1, 2, 3, len(IDS), len(IDS) + 1, 1000])
def test_every_entry_once_whatever_the_page(store, page):
    store.add_items([Item(i, f"title {i}", ("Drama",), {"n": float(k)}) for k, i in enumerate(IDS)])
    got = store.all_items(page=page)
    assert sorted(it.item_id for it in got) == sorted(IDS)
    by_id = {it.item_id: it for it in got}
    assert by_id == {it.item_id: it for it in store.get_items(IDS).values()}


def test_an_empty_catalogue(store):
    assert store.all_items(page=2) == []


@pytest.mark.parametrize("page", [0, -1, 1.5, True, "2"])
def test_a_bad_page_is_refused(sqlite_store, page):
    with pytest.raises(StoreError, match="page must be a positive integer"):
        sqlite_store.all_items(page=page)


def changes(other):
    def add():
        other.add_items([Item("0", "new")])

    def rename():
        other.add_items([Item("9", "renamed", ("Western",))])

    def remove():
        with other.db.write() as conn:
            conn.execute(sa.delete(item_genres).where(item_genres.c.item_id == "5"))
            conn.execute(sa.delete(items).where(items.c.item_id == "5"))

    return {"add": add, "rename": rename, "remove": remove}


@pytest.mark.parametrize("change", ["add", "rename", "remove"])
def test_writes_between_pages_are_not_seen(store, store_url, change):
    before = [Item(str(i), f"t{i}", ("Drama",)) for i in range(1, 10)]
    store.add_items(before)
    expected = {it.item_id: (it.title, it.genres) for it in store.all_items()}
    reads = []
    with open_store(store_url) as other:
        write = changes(other)[change]

        def hook(conn, cursor, statement, *args):
            if "lr_items.genres" in statement.lower():
                reads.append(statement)
                if len(reads) == 1:
                    write()

        sa.event.listen(store.db.engine, "after_cursor_execute", hook)
        got = store.all_items(page=2)
        sa.event.remove(store.db.engine, "after_cursor_execute", hook)
    assert len(reads) == 5  # the write landed between the first page and the others
    assert [it.item_id for it in got] == sorted(expected)
    assert {it.item_id: (it.title, it.genres) for it in got} == expected
    # A later copy is the catalogue after the write.
    after = {it.item_id: (it.title, it.genres) for it in store.all_items(page=2)}
    assert after != expected
