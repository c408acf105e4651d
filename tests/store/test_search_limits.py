"""Search edges found in review, on SQLite and PostgreSQL.

A search ignores accents, so a search of accents alone (a combining mark typed without its
letter) has nothing left to look for.  It used to match every title (the empty key is in
each) and, with popularity, read the whole catalogue to rank it; it now finds nothing."""

from __future__ import annotations

import pytest

from latentrec.store import Item, StoreError
from latentrec.store.catalogue import MAX_SEARCH

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


def test_a_search_too_long_is_refused_naming_the_limit_on_both_engines(store):
    """SQLite refused a LIKE pattern over 50,000 bytes as the store failing
    (StoreUnavailableError, "pattern too complex"); PostgreSQL searched.  Now both
    search up to MAX_SEARCH characters, even of the longest keys, and refuse more."""
    longest = "\U0001d160"  # its key, escaped, is the longest of any character: 12 bytes
    store.add_items([Item("1", longest * MAX_SEARCH), Item("2", "a" * (MAX_SEARCH + 1))])
    assert [i.item_id for i in store.search_items(longest * MAX_SEARCH)] == ["1"]
    assert [i.item_id for i in store.search_items("A" * MAX_SEARCH)] == ["2"]
    for text in ("a" * (MAX_SEARCH + 1), "%" * 60_000):
        with pytest.raises(
            StoreError, match=f"search is {len(text)} characters long; the limit is {MAX_SEARCH}"
        ):
            store.search_page(text)
        with pytest.raises(StoreError, match="the limit is"):
            store.search_page(text, popularity=lambda item_id: 0)
