"""Search text and the genre filter are literal on every engine: LIKE's wildcards (``%``,
``_``), its escape character, quotes and SQL reach the database as bound text and match
only themselves ("contains", as the service's docs say)."""

import pytest

from latentrec.store import Item

TITLES = {
    "pct": "100% Love",
    "no-pct": "100 Love",
    "under": "a_b",
    "any": "axb",
    "slash": "50/50",
    "slash-pct": "5/%",
    "back": "back\\slash",
    "quote": "O'Brien",
    "dquote": 'say "hi"',
    "sql": "x'); DROP TABLE lr_items; --",
}
GENRES = {"pct": ("Rom'Com",), "under": ("Sci_Fi",), "any": ("SciXFi",)}


@pytest.fixture
def catalogue(store):
    store.add_items([Item(i, t, GENRES.get(i, ())) for i, t in TITLES.items()])
    return store


@pytest.mark.parametrize(
    "text, expected",
    [
        ("%", {"pct", "slash-pct"}),
        ("_", {"under", "sql"}),
        ("a_b", {"under"}),
        ("/", {"slash", "slash-pct"}),
        ("/%", {"slash-pct"}),
        ("\\", {"back"}),
        ("'", {"quote", "sql"}),
        ('"', {"dquote"}),
        ("0% l", {"pct"}),
        ("'); drop", {"sql"}),
        ("' or '1'='1", set()),
    ],
)
def test_search_text_matches_literally(catalogue, text, expected):
    found = {it.item_id for it in catalogue.search_items(text, limit=100)}
    assert found == expected
    assert catalogue.counts()["items"] == len(TITLES)


def test_genre_filter_matches_literally(catalogue):
    assert {it.item_id for it in catalogue.search_items(genre="Sci_Fi", limit=100)} == {"under"}
    assert {it.item_id for it in catalogue.search_items(genre="Rom'Com", limit=100)} == {"pct"}
    assert catalogue.search_items(genre="Sci%", limit=100) == []
    assert catalogue.search_items(genre="' OR '1'='1", limit=100) == []
