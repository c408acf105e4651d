"""Schema version 3 on SQLite and PostgreSQL: a store written before genres were one genre
whatever their case and Unicode form kept every spelling it was given, so training
(``interactions()``), calibration and the genre list counted ``Sci-Fi`` and ``sci-fi``
(or a composed and a decomposed ``Ébène``) as two genres.  Opening it now rewrites each
genre in one spelling (the one most items have; on a tie, the earliest added item's),
in the transaction that records version 3."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest
import sqlalchemy as sa

from latentrec.store import Rating, StoreError, open_store
from latentrec.store.engine import Database, resolve_url
from latentrec.store.schema import (
    SCHEMA_VERSION,
    item_genres,
    items,
    one_spelling_per_genre_v3,
)

from . import v2store

COMPOSED, DECOMPOSED = "\u00c9b\u00e8ne", "E\u0301be\u0300ne"  # 'Ébène' both ways

# (item_id, genres as a version-2 store held them, added_at)
HELD = [
    ("1", ["Sci-Fi"], 1.0),
    ("2", ["Sci-Fi", "Drama"], 2.0),
    ("3", ["sci-fi", "drama"], 3.0),
    ("4", [" SCI-FI", "Sci-Fi", "noir"], 4.0),  # one genre twice, and untrimmed
    ("5", [COMPOSED, "Noir"], 9.0),
    ("6", [DECOMPOSED], 5.0),
    ("7", ["ÉBÈNE"], 6.0),
    ("8", [], 7.0),
]


def make_v2_store(url: str, held) -> None:
    """``held`` as above, each item titled after its id; one genre row per name given."""
    v2store.make_v2_store(url, [(i, f"Title {i}", genres, added) for i, genres, added in held])


def genre_rows(store) -> list[tuple[str, str]]:
    with store.db.read() as conn:
        return sorted(conn.execute(sa.select(item_genres.c.item_id, item_genres.c.genre)).all())


def test_a_version_2_store_holding_two_spellings_has_one_after_opening(store_url):
    make_v2_store(store_url, HELD)
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        store.add_ratings([Rating("u", item_id, 4.0, 1.0) for item_id, _, _ in HELD])
        table = store.interactions().item_features
        genres = table["genres"].fillna("").to_dict()
        # Sci-Fi: 3 items against 1 each. Drama and drama, noir and Noir: 1 each, so
        # the earliest added item's. Ébène: 2 items (one decomposed) against 1.
        assert genres == {
            "1": "Sci-Fi",
            "2": "Sci-Fi|Drama",
            "3": "Sci-Fi|Drama",
            "4": "Sci-Fi|noir",
            "5": f"{COMPOSED}|noir",
            "6": COMPOSED,
            "7": COMPOSED,
            "8": "",
        }
        labels = {g for cell in genres.values() for g in cell.split("|") if g}
        assert labels == {"Sci-Fi", "Drama", "noir", COMPOSED}
        assert store.genres() == ["Drama", "Sci-Fi", "noir", COMPOSED]
        assert store.get_item("4").genres == ("Sci-Fi", "noir")
        assert [i.item_id for i in store.search_items(genre="sci-fi")] == ["1", "2", "3", "4"]
        assert genre_rows(store) == sorted(
            (i, g) for i, cell in genres.items() for g in cell.split("|") if g
        )
        # Workers' copies of the catalogue are stale: its change counter rose.
        assert store.catalogue_version() == 6
        rows, version = genre_rows(store), store.catalogue_version()
        # Idempotent: run again, the step changes nothing (nor raises the counter).
        with store.db.write() as conn:
            one_spelling_per_genre_v3(conn)
        assert genre_rows(store) == rows and store.catalogue_version() == version
    with open_store(store_url) as again:
        assert again.schema_version == SCHEMA_VERSION
        assert genre_rows(again) == rows and again.catalogue_version() == version


def test_a_store_already_in_one_spelling_is_left_as_it_is(store_url):
    held = [("1", ["Sci-Fi", "Drama"], 1.0), ("2", ["Drama"], 2.0)]
    make_v2_store(store_url, held)
    with open_store(store_url) as store:
        assert store.catalogue_version() == 5
        assert store.get_item("1").genres == ("Sci-Fi", "Drama")
        assert genre_rows(store) == [("1", "Drama"), ("1", "Sci-Fi"), ("2", "Drama")]


def held_genres(url: str) -> tuple[dict, list]:
    """Each item's stored genres, and the genre rows, read without opening the store."""
    db = Database(resolve_url(url))
    try:
        with db.read() as conn:
            stored = dict(conn.execute(sa.select(items.c.item_id, items.c.genres)).all())
            rows = conn.execute(sa.select(item_genres.c.item_id, item_genres.c.genre)).all()
    finally:
        db.close()
    return {i: json.loads(g) for i, g in stored.items()}, sorted(rows)


def test_a_failed_upgrade_leaves_the_store_at_version_2(store_url, monkeypatch):
    """The rewrite and the new version commit together, or neither does."""
    make_v2_store(store_url, HELD)
    v2store.check_a_failed_upgrade_changes_nothing(store_url, monkeypatch, held_genres)
    assert held_genres(store_url)[0] == {i: g for i, g, _ in HELD}


def reference_spellings(held) -> dict[str, list[str]]:
    """The slow obvious reading of the rule: group names by Unicode's canonical caseless
    match; per group, count the items holding each stripped composed spelling; the most
    items win, then the earliest added item, then code-point order."""

    def key(name):
        return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name.strip()).casefold())

    def form(name):
        return unicodedata.normalize("NFC", name.strip())

    candidates: dict[str, set[str]] = {}
    for _, names, _ in held:
        for name in names:
            candidates.setdefault(key(name), set()).add(form(name))
    chosen = {}
    for k, spellings in candidates.items():

        def rank(s, k=k):
            having = [added for _, names, added in held if s in {form(n) for n in names}]
            return (-len(having), min(having), s)

        chosen[k] = sorted(spellings, key=rank)[0]
    out = {}
    for item_id, names, _ in held:
        written: list[str] = []
        for name in names:
            if chosen[key(name)] not in written:
                written.append(chosen[key(name)])
        out[item_id] = written
    return out


@pytest.mark.parametrize("seed", range(3))
def test_random_version_2_catalogues_migrate_as_the_reference_says(store_url, seed):
    rng = np.random.default_rng(seed)
    words = ["Sci-Fi", "Drama", "Film-Noir", COMPOSED, "Straße"]

    def variant(word):
        return [
            word,
            word.upper(),
            word.lower(),
            " " + word.swapcase(),
            unicodedata.normalize("NFD", word),
        ][rng.integers(0, 5)]

    held = []
    for n in range(int(rng.integers(5, 20))):
        chosen = rng.choice(words, size=rng.integers(0, 4))
        # Few distinct times, so ties on the earliest added item happen too.
        held.append((str(n), [variant(w) for w in chosen], float(rng.integers(0, 4))))
    make_v2_store(store_url, held)
    want = reference_spellings(held)
    with open_store(store_url) as store:
        for item_id, genres in want.items():
            assert list(store.get_item(item_id).genres) == genres
        assert genre_rows(store) == sorted((i, g) for i, gs in want.items() for g in gs)
        assert store.genres() == sorted({g for gs in want.values() for g in gs})


def test_genres_that_are_no_json_list_stop_the_upgrade_naming_the_item(store_url):
    make_v2_store(store_url, [("1", ["Drama"], 1.0), ("2", ["Crime"], 2.0)])
    db = Database(resolve_url(store_url))
    try:
        with db.write() as conn:  # a store edited by hand
            conn.execute(sa.update(items).where(items.c.item_id == "2").values(genres="Crime"))
    finally:
        db.close()
    with pytest.raises(StoreError, match="item '2': its stored genres 'Crime' are not a JSON"):
        open_store(store_url)
