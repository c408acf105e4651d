"""A genre is one genre whatever its case, on SQLite and PostgreSQL alike.  The catalogue
used to keep each spelling as its own genre: an item written with ``sci-fi`` where
``Sci-Fi`` existed was found by neither ``genre="sci-fi"`` nor ``genre="Sci-Fi"`` together
with the others, and ``genres()`` listed both.  Now a genre differing from the
catalogue's only in case (or surrounding blanks) is written in the catalogue's spelling,
the filter finds every spelling (one a store written before may hold),
and ``genres()`` names each genre once."""

from __future__ import annotations

import threading
import time
import unicodedata

import numpy as np
import pytest
import sqlalchemy as sa

from latentrec.store import Item, StoreError
from latentrec.store.catalogue import write_items
from latentrec.store.schema import item_genres, items


def found(store, genre) -> list[str]:
    return sorted(i.item_id for i in store.search_items(genre=genre))


def test_a_genre_posted_in_another_case_joins_the_catalogues(store):
    store.add_items([Item("1", "One", ("Sci-Fi",)), Item("2", "Two", ("Drama",))])
    store.add_items([Item("3", "Three", ("sci-fi", "DRAMA "))])
    assert store.get_item("3").genres == ("Sci-Fi", "Drama")
    assert store.genres() == ["Drama", "Sci-Fi"]
    for asked in ("sci-fi", "Sci-Fi", "SCI-FI", " sci-fi "):
        assert found(store, asked) == ["1", "3"]
    assert found(store, "drama") == ["2", "3"]
    # Written in one spelling, the exact name finds them all too.
    assert [i.item_id for i in store.search_items(genre="Sci-Fi")] == ["1", "3"]
    page, total = store.search_page("o", genre="SCI-fi", limit=1)
    assert [i.item_id for i in page] == ["1"] and total == 1  # "Two" is no Sci-Fi
    page, total = store.search_page(genre="sci-fi", limit=1, offset=1)
    assert [i.item_id for i in page] == ["3"] and total == 2
    assert found(store, "Western") == []


def test_the_library_filter_ignores_case_as_the_service_does(store):
    """``search_items(genre="action")`` matched the exact name unless asked otherwise, so
    a library user found nothing where the service listed every Action title."""
    store.add_items([Item("1", "Heat", ("Action",)), Item("2", "Up", ("Animation",))])
    assert [i.item_id for i in store.search_items(genre="action")] == ["1"]
    page, total = store.search_page("h", genre=" ACTION ")
    assert [i.item_id for i in page] == ["1"] and total == 1
    assert store.search_page(genre="action", popularity=lambda i: 0)[1] == 1
    with pytest.raises(StoreError, match="genre must be text, got list"):
        store.search_items(genre=["Action"])


def test_one_item_or_one_batch_naming_a_genre_twice_has_it_once(store):
    store.add_items(
        [
            Item("1", genres=("war", "War", " WAR")),
            Item("2", genres=("WAR", "Noir")),
            Item("3", genres=("noir",)),
        ]
    )
    # A genre new to the catalogue takes its first spelling in the batch.
    assert store.get_item("1").genres == ("war",)
    assert store.get_item("2").genres == ("war", "Noir")
    assert store.get_item("3").genres == ("Noir",)
    assert store.genres() == ["Noir", "war"]
    assert found(store, "War") == ["1", "2"]


def test_non_ascii_names_fold_as_python_folds_them(store):
    """SQLite's lower() folds ASCII only, and PostgreSQL's depends on the server's
    locale: the store folds in Python, the same everywhere."""
    store.add_items([Item("1", genres=("Ébène",)), Item("2", genres=("Straße",))])
    store.add_items([Item("3", genres=("ÉBÈNE", "STRASSE")), Item("4", genres=("ébène",))])
    assert store.get_item("3").genres == ("Ébène", "Straße")
    assert store.get_item("4").genres == ("Ébène",)
    assert store.genres() == ["Straße", "Ébène"]
    assert found(store, "ébène") == ["1", "3", "4"]
    assert found(store, "strasse") == ["2", "3"]


COMPOSED, DECOMPOSED = "\u00c9b\u00e8ne", "E\u0301be\u0300ne"  # 'Ébène' both ways


def test_a_composed_and_a_decomposed_accent_are_one_genre(store):
    """An ``É`` typed as one character and one typed as ``E`` plus an accent were two
    genres: two entries in ``genres()``, and each spelling's filter missed the other."""
    store.add_items([Item("1", genres=(COMPOSED,)), Item("2", genres=(DECOMPOSED,))])
    assert store.genres() == [COMPOSED]
    assert store.get_item("2").genres == (COMPOSED,)
    store.add_items([Item("3", genres=(" e\u0301be\u0300ne", "\u00e9b\u00e8ne"))])
    assert store.get_item("3").genres == (COMPOSED,)
    for asked in (COMPOSED, DECOMPOSED, "e\u0301BE\u0300NE", " \u00e9b\u00e8ne"):
        assert found(store, asked) == ["1", "2", "3"]
    # A genre new to the catalogue is stored composed, however it was typed.
    store.add_items([Item("4", genres=("Cine\u0301ma",)), Item("5", genres=("CIN\u00c9MA",))])
    assert store.get_item("4").genres == store.get_item("5").genres == ("Cin\u00e9ma",)
    assert store.genres() == ["Cin\u00e9ma", COMPOSED]


def test_a_decomposed_spelling_a_store_holds_is_shown_and_written_composed(store):
    """One written decomposed before names were normalised counts as the composed one."""
    store.add_items([Item("1", genres=("Other",))])
    with store.db.write() as conn:  # as an earlier version wrote it
        conn.execute(sa.update(item_genres).values(genre=DECOMPOSED))
        conn.execute(sa.update(items).values(genres=f'["{DECOMPOSED}"]'))
    assert store.genres() == [COMPOSED]
    assert found(store, COMPOSED) == found(store, "\u00e9b\u00e8ne") == ["1"]
    store.add_items([Item("2", genres=("\u00e9b\u00e8ne",))])
    assert store.get_item("2").genres == (COMPOSED,)
    assert found(store, DECOMPOSED) == ["1", "2"]


def test_an_import_and_the_seeding_path_spell_genres_as_the_catalogue(store):
    store.add_items([Item("1", genres=("Sci-Fi",))])
    assert store.add_missing_items([Item("1", genres=("x",)), Item("2", genres=("sci-fi",))]) == [
        "2"
    ]
    assert store.get_item("2").genres == ("Sci-Fi",)
    assert store.genres() == ["Sci-Fi"]
    # An entry left as it is (already stored) gives no spelling to those inserted.
    store.add_items([Item("3")])
    assert store.add_missing_items([Item("3", genres=("noir",)), Item("4", genres=("Noir",))]) == [
        "4"
    ]
    assert store.get_item("4").genres == ("Noir",) and store.get_item("3").genres == ()


def test_a_store_holding_two_spellings_lists_one_and_finds_both(store):
    """Spellings written before genres were matched ignoring case: the one most items
    have is shown (and given to what is written next), the filter finds them all."""
    store.add_items([Item(str(i), genres=("Sci-Fi",)) for i in range(1, 4)])
    store.add_items([Item("4", genres=("Other",))])
    with store.db.write() as conn:  # as an earlier version wrote it
        conn.execute(
            sa.update(item_genres).where(item_genres.c.item_id == "4").values(genre="sci-fi")
        )
        conn.execute(sa.update(items).where(items.c.item_id == "4").values(genres='["sci-fi"]'))
    assert store.genres() == ["Sci-Fi"]
    assert found(store, "SCI-FI") == ["1", "2", "3", "4"]
    store.add_items([Item("5", genres=("sci-FI",))])
    assert store.get_item("5").genres == ("Sci-Fi",)


def reference_key(name: str) -> str:
    """Unicode's canonical caseless match, by its definition: NFD(fold(NFD(name)))."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name.strip()).casefold())


def reference_catalogue(batches):
    """The slow obvious reading of the rules: a batch's repeated ids, the last wins (in
    the order of their last place); a genre is written in the spelling the catalogue
    holds before the batch (the one most items have, then code-point order), else in
    its first spelling in the batch, composed (NFC); each item has each genre once."""
    catalogue: dict[str, tuple[str, ...]] = {}
    for batch in batches:
        latest: dict[str, list[str]] = {}
        for item_id, names in batch:
            latest.pop(item_id, None)
            latest[item_id] = names
        counts: dict[str, dict[str, int]] = {}
        for genres in catalogue.values():
            for g in genres:
                held = counts.setdefault(reference_key(g), {})
                held[g] = held.get(g, 0) + 1
        spelling = {k: min(c, key=lambda g, c=c: (-c[g], g)) for k, c in counts.items()}
        for item_id, names in latest.items():
            out = []
            for name in names:
                stored = unicodedata.normalize("NFC", name.strip())
                written = spelling.setdefault(reference_key(name), stored)
                if written not in out:
                    out.append(written)
            catalogue[item_id] = tuple(out)
    return catalogue


@pytest.mark.parametrize("seed", range(3))
def test_random_spellings_match_the_reference(store, seed):
    rng = np.random.default_rng(seed)
    words = ["Sci-Fi", "Drama", "Film-Noir", "Ébène", "Straße", "war"]

    def variant(word):
        pick = rng.integers(0, 5)
        if pick == 4:
            return unicodedata.normalize("NFD", word.swapcase())
        if pick == 0:
            return word.upper()
        if pick == 1:
            return word.lower()
        if pick == 2:
            return " " + word.swapcase()
        return word

    batches = []
    for _ in range(5):
        batch = []
        for _ in range(rng.integers(1, 6)):
            item_id = str(rng.integers(0, 12))
            chosen = rng.choice(words, size=rng.integers(0, 4))
            batch.append((item_id, [variant(w) for w in chosen]))
        batches.append(batch)
        store.add_items([Item(i, genres=tuple(g)) for i, g in batch])
    catalogue = reference_catalogue(batches)
    for item_id, genres in catalogue.items():
        assert store.get_item(item_id).genres == genres
    by_key: dict[str, set[str]] = {}
    for genres in catalogue.values():
        for g in genres:
            by_key.setdefault(reference_key(g), set()).add(g)
    # Written by this version, every genre has one spelling.
    assert all(len(names) == 1 for names in by_key.values())
    assert store.genres() == sorted(name for (name,) in by_key.values())
    for word in words:
        want = sorted(
            i for i, gs in catalogue.items() if reference_key(word) in map(reference_key, gs)
        )
        assert found(store, word.swapcase()) == want


@pytest.mark.parametrize("seeding", [False, True], ids=["add_items", "add_missing_items"])
def test_writers_at_once_give_a_new_genre_one_spelling(store, seeding):
    """A writer that starts while another's write is open waits for it (PostgreSQL: the
    catalogue's advisory lock; SQLite: its write lock), then reads its spelling; the
    same for the workers' seeding writer."""
    write = store.add_missing_items if seeding else store.add_items
    done = []
    with store.db.write() as conn:
        write_items(conn, store.dialect, [Item("1", genres=("sci-fi",))], now=1.0)
        other = threading.Thread(target=lambda: done.append(write([Item("2", genres=("SCI-FI",))])))
        other.start()
        time.sleep(0.3)  # time for the other writer to read spellings, were it not held
        assert not done
    other.join(timeout=30)
    assert done == [["2"] if seeding else 1]
    assert store.get_item("2").genres == ("sci-fi",)
    assert store.genres() == ["sci-fi"]
