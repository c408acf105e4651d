"""`add_items` refuses a malformed catalogue entry by name, before writing any of the batch."""

import pytest

from latentrec.store import Item, StoreError


@pytest.mark.parametrize(
    ("batch", "words"),
    [
        # One Item, not a list of them: iterating it would walk its fields.
        (Item("9", "Heat"), "add_items takes an iterable of items (a list), not one item"),
        (
            [Item("ok", "Fine"), Item("9", "Heat", ("Crime", " "))],
            "row 1: field 'genres' holds ' '; a genre is a non-empty name",
        ),
        (
            [Item("ok", "Fine"), Item("9", "Heat", ("Crime", ""))],
            "row 1: field 'genres' holds ''; a genre is a non-empty name",
        ),
        (
            [Item("ok", "Fine"), Item("9", "Heat", ("Crime|Drama",))],
            "row 1: field 'genres' holds 'Crime|Drama'; a genre name cannot contain '|'",
        ),
        (
            [Item("ok", "Fine"), Item("9", "Heat", features=[("year", 1995)])],
            "row 1: field 'features' must be a mapping of name to number, got list",
        ),
    ],
    ids=["one-item", "blank-genre", "empty-genre", "genre-with-bar", "features-not-mapping"],
)
def test_a_malformed_item_is_named_and_nothing_is_written(sqlite_store, batch, words):
    with pytest.raises(StoreError) as caught:
        sqlite_store.add_items(batch)
    assert str(caught.value) == words
    # The good entry ahead of the bad one is not written either: the batch is checked whole.
    assert sqlite_store.get_item("ok") is None
    assert sqlite_store.get_item("9") is None
