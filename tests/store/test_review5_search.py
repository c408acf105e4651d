"""Search edges found in review, on SQLite and PostgreSQL.

A search ignores accents, so a search of accents alone (a combining mark typed without its
letter) has nothing left to look for.  It used to match every title (the empty key is in
each) and, with popularity, read the whole catalogue to rank it; it now finds nothing."""

from __future__ import annotations

import pytest

from latentrec.store import Item

LONE_MARKS = ["\u0301", "\u0301\u0300", "\u1ab0\u1dc0\ufe20"]


@pytest.mark.parametrize("text", LONE_MARKS, ids=ascii)
def test_a_search_of_accents_alone_finds_nothing(store, text):
    store.add_items([Item("1", "Heat", ("Crime",)), Item("2", "Am\u00e9lie"), Item("\u00e9")])
    assert store.search_page(text) == ([], 0)
    assert store.search_page(text, popularity=lambda item_id: 1) == ([], 0)
    assert store.search_page(text, genre="crime") == ([], 0)
    # The accent with a letter still finds what the letter finds, ignoring the accent.
    found = [i.item_id for i in store.search_items("e" + text)]
    assert found == ["\u00e9", "2", "1"]
