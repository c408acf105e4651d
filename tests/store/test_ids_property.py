"""Any storable id round-trips exactly (hypothesis over unicode text), and search finds
exactly the titles that contain the search text ignoring case, how an accent was typed,
the accent, and strokes and ligatures (``ø`` as ``o``, ``æ`` as ``ae``), against Python's
``in`` over the reference keys."""

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latentrec.store import Item, Rating, open_store
from latentrec.store.records import MAX_ID_BYTES

from .letters import reference_key

ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: len(s.encode()) <= MAX_ID_BYTES)


@pytest.fixture(scope="module")
def shared_store():
    """One store for every example (a fresh one each would be most of the run time)."""
    folder = Path(tempfile.mkdtemp(prefix="latentrec-ids-"))
    with open_store(folder / "ids.db") as store:
        yield store
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user=ids, items=st.lists(ids, min_size=1, max_size=4, unique=True))
def test_ids_round_trip(shared_store, user, items):
    shared_store.delete_user(user)
    shared_store.add_ratings([Rating(user, item, 3.0, 1.0) for item in items])
    assert sorted(r.item_id for r in shared_store.user_ratings(user)) == sorted(items)
    assert shared_store.user_version(user) > 0


@settings(max_examples=40, deadline=None)
@given(titles=st.lists(ids, min_size=1, max_size=5), search=ids)
def test_search_is_a_substring_match_of_the_keys(titles, search):
    with open_store(":memory:") as store:
        store.add_items([Item(f"#{k}", title) for k, title in enumerate(titles)])
        found = {i.item_id for i in store.search_items(search, limit=100)}
    key = reference_key(search)
    expected = {
        f"#{k}" for k, title in enumerate(titles) if key in reference_key(title) or key in f"#{k}"
    }
    assert found == expected
