"""``RatingsStore.genre_lists``: the catalogue's change counter and every entry's genres
as stored, for a copy of the catalogue's genres kept up to date (the service's item
facts), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json

from latentrec.store import Item


def test_genre_lists_give_the_genres_as_every_item_reads_them(store):
    assert store.genre_lists() == (0, [])
    store.add_items([Item("b", "Up", ("Sci-Fi", "Drama")), Item("a", "Heat")])
    store.add_items([Item("c", "Ran", ("sci-fi", "Épique"))])  # the catalogue's spelling
    version, rows = store.genre_lists()
    assert version == store.catalogue_version() == 2
    assert [item_id for item_id, _ in rows] == ["a", "b", "c"]
    read = {item_id: tuple(json.loads(text)) for item_id, text in rows}
    assert read == {item.item_id: item.genres for item in store.all_items()}
    assert read["c"] == ("Sci-Fi", "Épique")


def test_genre_lists_read_no_entry_while_the_counter_stands(store):
    store.add_items([Item("a", "Heat", ("Crime",))])
    version, _ = store.genre_lists()
    assert store.genre_lists(since=version) == (version, None)
    store.add_items([Item("a", "Heat", ("Drama",))])
    assert store.genre_lists(since=version) == (version + 1, [("a", '["Drama"]')])
