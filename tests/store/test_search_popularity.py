"""A title search orders equal matches by popularity when the caller knows it: the most
rated first within each group (title starts with the text, a word does, any other match),
title then id breaking ties; checked against a slow obvious ordering on random
catalogues, on SQLite and PostgreSQL."""

import numpy as np

from latentrec.store import Item

from .test_title_search_nfc import reference as search_reference


def reference(catalogue, popularity, search, offset, limit):
    """The search's slow reference (keys ignoring case and accents), one page of it."""
    return search_reference(catalogue, search, popularity.get)[offset : offset + limit]


def test_search_order_matches_a_slow_reference(store):
    rng = np.random.default_rng(7)
    words = ["star", "war", "tar", "start", "a", "s"]
    catalogue = []
    for k in range(120):
        title = " ".join(rng.choice(words, size=rng.integers(1, 4)))
        title = title.title() if k % 3 else title
        catalogue.append(Item(f"i{k:03d}", None if k % 17 == 0 else title))
    store.add_items(catalogue)
    popularity = {it.item_id: int(rng.integers(0, 4)) for it in catalogue}  # many ties
    for search in ["star", "tar", "a", "war s", "I01", "zzz"]:
        for offset, limit in [(0, 1000), (0, 7), (5, 9), (200, 5)]:
            got = store.search_items(
                search, limit=limit, offset=offset, popularity=lambda i: popularity.get(i, 0)
            )
            expected = reference(catalogue, popularity, search, offset, limit)
            assert [it.item_id for it in got] == expected, (search, offset, limit)


def test_without_popularity_or_search_the_order_is_by_title(store):
    store.add_items([Item("1", "Star B"), Item("2", "Star A"), Item("3", "Heat")])
    count = {"1": 9, "2": 1}.get
    assert [i.item_id for i in store.search_items("star")] == ["2", "1"]
    assert [i.item_id for i in store.search_items("star", popularity=count)] == ["1", "2"]
    # Browsing (no text) stays alphabetical whatever the counts.
    assert [i.item_id for i in store.search_items(popularity=count)] == ["3", "2", "1"]
