"""A title search finds a title however its accents were typed, on SQLite and PostgreSQL.

It used to compare the casefolded text as given, so ``Amélie`` stored with a composed
``é`` (as MovieLens writes it) was not found by ``Ame\u0301lie`` typed as ``e`` plus an
accent (a macOS keyboard, some web forms), nor the other way round, and ``amelie`` found
neither.  Search now compares :func:`~latentrec.store.records.search_key` of the text, the
title and the id: case, how an accent was typed and the accent itself are ignored, and
the titles and ids stay as given.  Schema version 3 makes a store's older keys again.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from latentrec.store import Item, Rating, open_store
from latentrec.store.catalogue import MAX_LIMIT
from latentrec.store.schema import (
    SCHEMA_VERSION,
    search_keys_v3,
)

from . import v2store
from .letters import named_spelling, reference_key

COMPOSED, DECOMPOSED = "Am\u00e9lie", "Ame\u0301lie"  # 'Amélie' both ways
WORD_STARTS = (" ", "(", "-", "/", '"')


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def found(store, search, **kw) -> list[str]:
    return [i.item_id for i in store.search_items(search, limit=MAX_LIMIT, **kw)]


def test_a_title_is_found_however_its_accent_was_typed(store):
    store.add_items([Item("1", COMPOSED), Item("2", f"{DECOMPOSED} (2001)"), Item("3", "Heat")])
    for search in (COMPOSED, DECOMPOSED, "AM\u00c9LIE", "AME\u0301LIE", "m\u00e9l"):
        assert found(store, search) == ["1", "2"], ascii(search)
    # Stored as given: the search compares keys, it rewrites nothing.
    assert store.get_item("1").title == COMPOSED
    assert store.get_item("2").title == f"{DECOMPOSED} (2001)"


def test_a_search_without_accents_finds_the_accented_titles(store):
    store.add_items(
        [
            Item("1", COMPOSED),
            Item("2", "Amelie"),
            Item("3", "Noe\u0308l"),
            Item("4", "Die Stra\u00dfe"),
            Item("5", "\u0130stanbul"),
            Item("6", "\u0386\u03bb\u03c6\u03b1"),  # Greek with a tonos
            Item("7", "Vi\u1ec7t"),  # two accents on one letter
        ]
    )
    assert found(store, "amelie") == ["1", "2"]  # equal keys: by id
    assert found(store, "Amélie") == ["1", "2"]  # accent-blind both ways
    assert found(store, "noel") == ["3"]
    assert found(store, "strasse") == ["4"]
    assert found(store, "istanbul") == ["5"]
    assert found(store, "\u03b1\u03bb\u03c6") == ["6"]
    assert found(store, "viet") == found(store, "Vi\u1ec7t") == found(store, nfd("VI\u1ec6T"))
    assert found(store, "viet") == ["7"]


def test_marks_that_make_another_letter_are_kept(store):
    """Only Latin, Greek and Cyrillic accents are ignored: the voicing mark of ``が``
    makes another syllable than ``か``; composed or not, it is the same one."""
    store.add_items([Item("1", "\u304b\u3089\u3066"), Item("2", "\u304c\u3089\u3066")])
    assert found(store, "\u304b") == ["1"]
    assert found(store, "\u304c") == found(store, "\u304b\u3099") == ["2"]


def test_an_id_is_found_however_typed_and_kept_as_given(store):
    store.add_items([Item(nfd("caf\u00e9-7"), "Brunch"), Item("plain", "Other")])
    assert found(store, "caf\u00e9") == found(store, "CAFE") == [nfd("caf\u00e9-7")]
    # An id is an id: a rating names it exactly, the composed text is another id.
    assert store.get_item(nfd("caf\u00e9-7")).title == "Brunch"
    assert store.get_item("caf\u00e9-7") is None


def test_the_ranking_rules_hold_for_accented_titles(store):
    store.add_items(
        [
            Item("a", "L'\u00e9t\u00e9 meurtrier"),  # any match (after an apostrophe)
            Item("b", nfd("\u00c9t\u00e9 indien")),  # starts with it
            Item("c", "Un \u00e9t\u00e9"),  # a word starts with it
            Item("d", "Ete"),  # starts with it
            Item("e", "Pet\u00e9"),  # any match
        ]
    )
    assert found(store, "\u00e9t\u00e9") == ["d", "b", "c", "a", "e"]
    count = {"b": 5, "a": 1}.get
    assert found(store, "ete", popularity=lambda i: count(i, 0)) == ["b", "d", "c", "a", "e"]


def test_browsing_orders_an_accented_title_among_its_letter(store):
    store.add_items([Item("1", "Zorro"), Item("2", "\u00c9mile"), Item("3", "Eve")])
    assert found(store, None) == ["2", "3", "1"]


# -- the reference ------------------------------------------------------------------
# reference_key (letters.py): letter by letter, each decomposed, casefolded and
# decomposed again, Latin, Greek and Cyrillic accents dropped, and the Latin letters
# Unicode does not decompose spelled as their names say (ø as o, æ as ae).


def reference(catalogue, search, popularity=None) -> list[str]:
    key = reference_key(search)
    if not key:  # accents alone: nothing left to look for
        return []
    rows = []
    for item in catalogue:
        title = None if item.title is None else reference_key(item.title)
        name = title if title is not None else reference_key(item.item_id)
        if key not in (title or "") and key not in reference_key(item.item_id):
            continue
        if name.startswith(key):
            group = 0
        elif any(c + key in name for c in WORD_STARTS):
            group = 1
        else:
            group = 2
        count = 0 if popularity is None else popularity(item.item_id)
        rows.append((group, -count, name, item.item_id))
    return [row[3] for row in sorted(rows)]


WORDS = [
    "Am\u00e9lie",
    "Caf\u00e9",
    "No\u00ebl",
    "Stra\u00dfe",
    "\u00c9mile",
    "Zo\u00eb",
    "\u01c4emal",
    "\u0130stanbul",
    "\u0386\u03bb\u03c6\u03b1\u03c2",
    "Jalape\u00f1o",
    "Vi\u1ec7t",
    "Bj\u00f8rk",
    "\u0141\u00f3d\u017a",
    "\u00c6on",
    "\u00de\u00f3r",
    "\u304c\u3089",
    "star",
    "(war)",
    "-e",
]


def variant(rng, word: str) -> str:
    plain = "".join(c for c in nfd(word) if not 0x300 <= ord(c) <= 0x36F)
    # Bjørk as Bjork, Þór as Thor: the letters Unicode does not decompose as typed.
    typed = "".join(c if c.isascii() else named_spelling(c.lower()) or c for c in plain)
    forms = [word, nfd(word), word.upper(), word.lower(), plain, nfd(word.upper()), plain.upper()]
    forms.append(typed)
    return forms[int(rng.integers(0, len(forms)))]


@pytest.mark.parametrize("seed", range(3))
def test_random_searches_match_the_reference(store, seed):
    rng = np.random.default_rng(seed)
    catalogue = []
    for k in range(60):
        words = rng.choice(WORDS, size=int(rng.integers(1, 4)))
        title = " ".join(variant(rng, w) for w in words)
        item_id = f"{k:02d}" if k % 5 else f"{variant(rng, str(rng.choice(WORDS)))}{k}"
        catalogue.append(Item(item_id, None if k % 11 == 0 else title))
    store.add_items(catalogue)
    counts = {it.item_id: int(rng.integers(0, 3)) for it in catalogue}
    searches = ["e", "ete", "\u00e9", "\u0301", "E\u0301", "a s", "(w", "-e"]
    for _ in range(40):
        text = variant(rng, " ".join(rng.choice(WORDS, size=2)))
        start = int(rng.integers(0, len(text)))
        searches.append(text[start : start + int(rng.integers(1, 6))])
    for search in searches:
        assert found(store, search) == reference(catalogue, search), ascii(search)
        ranked = found(store, search, popularity=counts.get)
        assert ranked == reference(catalogue, search, counts.get), ascii(search)
        page, total = store.search_page(search, limit=3, offset=1)
        assert [i.item_id for i in page] == reference(catalogue, search)[1:4]
        assert total == len(reference(catalogue, search))


# -- the upgrade --------------------------------------------------------------------

# (item_id, title) as a version-2 store held them, keyed by casefolding as given.
HELD = [
    ("1", COMPOSED),
    ("2", DECOMPOSED),
    ("3", "Heat"),
    (nfd("caf\u00e9"), None),
    ("5", "Die Stra\u00dfe"),
]


def make_v2_store(url: str, held) -> None:
    v2store.make_v2_store(url, [(i, title, [], float(n)) for n, (i, title) in enumerate(held)])


def test_a_version_2_store_finds_its_titles_however_typed_after_opening(store_url):
    make_v2_store(store_url, HELD)
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        for search in (COMPOSED, DECOMPOSED, "amelie"):
            assert found(store, search) == ["1", "2"], ascii(search)
        assert found(store, "cafe") == [nfd("caf\u00e9")]
        assert found(store, "strasse") == ["5"]
        # Titles and ids as they were; a rating still names the id it named.
        assert [(i, t) for i, t, _, _ in v2store.stored_rows(store_url)] == sorted(HELD)
        store.add_ratings([Rating("u", nfd("caf\u00e9"), 4.0, 1.0)])
        ids = store.interactions().items.ids.tolist()
        assert nfd("caf\u00e9") in ids and "caf\u00e9" not in ids
        # Nothing a worker keeps a copy of changed: the counter stays.
        assert store.catalogue_version() == 5
        # Run again, the step finds nothing to do.
        with store.db.write() as conn:
            assert search_keys_v3(conn) == 0


def test_a_store_keyed_already_is_left_as_it_is(store):
    store.add_items([Item("1", COMPOSED), Item(nfd("caf\u00e9"), DECOMPOSED), Item("3")])
    version = store.catalogue_version()
    with store.db.write() as conn:
        assert search_keys_v3(conn) == 0
    assert store.catalogue_version() == version


def test_a_failed_upgrade_leaves_the_keys_and_version_2(store_url, monkeypatch):
    make_v2_store(store_url, HELD)
    v2store.check_a_failed_upgrade_changes_nothing(store_url, monkeypatch, v2store.stored_rows)
