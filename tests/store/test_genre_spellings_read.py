"""What reads every item's genres counts each genre once, on SQLite and PostgreSQL.

Version 3 leaves a store in one spelling per genre, and its writers keep it so; but a
worker of an earlier version still running after the upgrade (or a program writing the
tables past the store) can write ``sci-fi`` where the catalogue says ``Sci-Fi``.  The
genre list and the filter already treated the two as one genre; the side table that
``interactions()`` gives to retraining had two columns' worth of genres, ``Sci-Fi`` and
``sci-fi``, so the model learned two.  Now it names each genre in the catalogue's
spelling."""

from __future__ import annotations

import json
import unicodedata

import sqlalchemy as sa

from latentrec.data.genres import genre_label_lists
from latentrec.store import Item, Rating
from latentrec.store.catalogue import one_spelling_each
from latentrec.store.records import GENRE_SEP
from latentrec.store.schema import item_genres, items


def write_past_the_store(store, item_id: str, genres: list[str]) -> None:
    """As a writer of an earlier version would: the names as given."""
    with store.db.write() as conn:
        one = items.c.item_id == item_id
        conn.execute(sa.update(items).where(one).values(genres=json.dumps(genres)))
        conn.execute(sa.delete(item_genres).where(item_genres.c.item_id == item_id))
        for name in genres:
            conn.execute(sa.insert(item_genres).values(item_id=item_id, genre=name))


def test_interactions_name_each_genre_in_the_catalogues_spelling(store):
    decomposed = unicodedata.normalize("NFD", "\u00c9b\u00e8ne")
    store.add_items(
        [
            Item("1", "A", ("Sci-Fi", "Drama")),
            Item("2", "B", ("Sci-Fi",)),
            Item("3", "C", ("\u00c9b\u00e8ne",)),
            Item("4", "D", ("Noir",)),
        ]
    )
    write_past_the_store(store, "4", ["sci-fi", "SCI-FI", decomposed, "drama"])
    store.add_ratings([Rating("u", str(i), 4.0, 1.0) for i in range(1, 5)])
    table = store.interactions().item_features
    by_item = dict(zip(table.index, genre_label_lists(table["genres"], GENRE_SEP), strict=True))
    assert by_item == {
        "1": ["Sci-Fi", "Drama"],
        "2": ["Sci-Fi"],
        "3": ["\u00c9b\u00e8ne"],
        "4": ["Sci-Fi", "\u00c9b\u00e8ne", "Drama"],
    }
    assert sorted({g for names in by_item.values() for g in names}) == store.genres()


def reference(lists):
    """Slowly: per genre (Unicode's canonical caseless match of the stripped name), the
    stripped composed spelling most lists hold, then code-point order."""

    def key(name):
        return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name.strip()).casefold())

    def form(name):
        return unicodedata.normalize("NFC", name.strip())

    spellings = {key(n) for names in lists for n in names}
    chosen = {}
    for k in spellings:
        held = sorted({form(n) for names in lists for n in names if key(n) == k})
        having = {s: sum(s in {form(n) for n in ns} for ns in lists) for s in held}
        most = max(having.values())
        chosen[k] = sorted(s for s in held if having[s] == most)[0]
    out = []
    for names in lists:
        row = []
        for n in names:
            if chosen[key(n)] not in row:
                row.append(chosen[key(n)])
        out.append(row)
    return out


def test_one_spelling_each_matches_the_reference():
    import random

    rnd = random.Random(5)
    words = [
        "Sci-Fi",
        "sci-fi",
        " SCI-FI",
        "\u00c9b\u00e8ne",
        "E\u0301be\u0300ne",
        "\u00e9b\u00e8ne",
        "Stra\u00dfe",
        "STRASSE",
        "b",
        "B",
    ]
    for _ in range(200):
        lists = [rnd.sample(words, rnd.randint(0, 4)) for _ in range(rnd.randint(0, 6))]
        assert one_spelling_each(lists) == reference(lists), lists


def test_greek_iota_subscript_typed_either_order_is_one_genre_and_one_search(store):
    """Unicode's canonical caseless match folds the decomposed text: the iota subscript
    (U+0345) casefolds to a letter, so folding ``ᾴ`` as typed, with the subscript before
    the accent, puts the accent on the wrong letter.  No test told the two apart."""
    typed = "\u03b1\u0345\u0301"  # canonically the same as U+1FB4
    store.add_items([Item("1", "\u03b1\u20d0\u0345", ("\u1fb4",)), Item("2", genres=(typed,))])
    assert store.genres() == ["\u1fb4"]
    assert store.get_item("2").genres == ("\u1fb4",)
    assert sorted(i.item_id for i in store.search_items(genre=typed)) == ["1", "2"]
    # A mark search keeps (U+20D0), typed before or after the subscript.
    assert [i.item_id for i in store.search_items("\u03b1\u0345\u20d0")] == ["1"]
