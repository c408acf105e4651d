"""What a write answers is what it did, on SQLite and PostgreSQL: ratings that lose to a
newer stored one are counted as superseded (one by one, as writes one at a time would
have gone, against a slow reference), an import says the same, a delete counts the rows
it removed, an edit of some of a title's details keeps the others (under writers editing
other fields at once), and a read-only database is "unavailable", not the caller's fault.
"""

import random
import threading

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from latentrec.data import Interactions
from latentrec.store import Item, Rating, StoreError, StoreUnavailableError, open_store


def one_at_a_time(stored: dict, rows) -> int:
    """How many explicit rows lose when applied one by one (latest wins, ties to the
    later); ``stored`` maps (user, item) to the stored timestamp and is updated."""
    lost = 0
    for r in rows:
        key = (r.user_id, r.item_id)
        if key in stored and r.timestamp < stored[key]:
            lost += 1
        else:
            stored[key] = r.timestamp
    return lost


def test_an_older_rating_is_superseded_not_written(store):
    store.add_ratings([Rating("ann", "50", 5.0, timestamp=2000.0)])
    result = store.add_ratings([Rating("ann", "50", 1.0, timestamp=1000.0)])
    assert (result.n_written, result.n_superseded) == (0, 1)
    assert [r.value for r in store.user_ratings("ann")] == [5.0]
    # An event is never superseded (weights add), and an equal timestamp wins.
    result = store.add_ratings(
        [Rating("ann", "50", 2.0, timestamp=2000.0), Rating("ann", "50", 1.0, 10.0, "event")]
    )
    assert (result.n_written, result.n_superseded) == (2, 0)
    assert sorted((r.kind, r.value) for r in store.user_ratings("ann")) == [
        ("event", 1.0),
        ("explicit", 2.0),
    ]


def test_a_batch_repeating_a_key_counts_as_writes_one_at_a_time(store):
    # Stored at 10: of 5, 15, 12 only 15 is written (5 is older than 10, 12 than 15).
    store.add_ratings([Rating("u", "i", 3.0, timestamp=10.0)])
    rows = [Rating("u", "i", v, timestamp=t) for v, t in [(1.0, 5.0), (4.0, 15.0), (2.0, 12.0)]]
    result = store.add_ratings(rows)
    assert (result.n_written, result.n_superseded) == (1, 2)
    assert [(r.value, r.timestamp) for r in store.user_ratings("u")] == [(4.0, 15.0)]


@pytest.mark.parametrize("seed", range(2))
def test_superseded_counts_match_writes_one_at_a_time_on_random_batches(store, seed):
    rng = random.Random(seed)
    stored: dict = {}
    for _ in range(25):
        rows = [
            Rating(
                rng.choice("ab"),
                rng.choice("xyz"),
                float(rng.randint(1, 5)),
                float(rng.randint(0, 6)),  # few times: many ties and repeats
            )
            for _ in range(rng.randint(1, 7))
        ]
        lost = one_at_a_time(stored, rows)
        result = store.add_ratings(rows)
        assert (result.n_written, result.n_superseded) == (len(rows) - lost, lost), rows
    held = {(u, r.item_id): r.timestamp for u in "ab" for r in store.user_ratings(u)}
    assert held == stored


def test_an_import_counts_the_ratings_a_newer_stored_one_supersedes(store):
    store.add_ratings([Rating("old1", "50", 4.0, timestamp=2000.0)])
    frame = pd.DataFrame(
        {"user_id": ["old1", "old1", "new"], "item_id": ["50", "51", "50"], "r": [1.0, 2, 3]}
    )
    frame["ts"] = [1000.0, 1000.0, 1000.0]
    data = Interactions.from_frame(frame, rating="r", timestamp="ts")
    result = store.import_interactions(data)
    assert (result.n_written, result.n_superseded) == (2, 1)
    assert [(r.item_id, r.value) for r in store.user_ratings("old1")] == [("50", 4.0), ("51", 2.0)]
    # Events add, so none is superseded.
    events = store.import_interactions(data, kind="event")
    assert (events.n_written, events.n_superseded) == (3, 0)


def test_delete_rating_counts_the_rows_it_removed(store):
    store.add_ratings([Rating("bt1", "50", 4.0), Rating("bt1", "50", 1.0, kind="event")])
    store.add_ratings([Rating("bt1", "51", 4.0)])
    assert store.delete_rating("bt1", "50") == 2
    assert store.delete_rating("bt1", "51") == 1
    assert store.delete_rating("bt1", "51") == 0
    assert store.user_ratings("bt1") == []


def test_an_edit_keeps_the_fields_it_names(store):
    store.add_items([Item("100", "Fargo", ("Crime", "Drama"), {"year": 1996.0})])
    store.add_items([Item("100", "Fargo (1996)")], keep=("genres", "features"))
    item = store.get_item("100")
    assert (item.title, item.genres, item.features) == (
        "Fargo (1996)",
        ("Crime", "Drama"),
        {"year": 1996.0},
    )
    # The genre rows stay too: the filter still finds it.
    assert [i.item_id for i in store.search_items(genre="crime")] == ["100"]
    store.add_items([Item("100", genres=("Thriller",))], keep=("title", "features"))
    item = store.get_item("100")
    assert (item.title, item.genres, item.features) == (
        "Fargo (1996)",
        ("Thriller",),
        {"year": 1996.0},
    )
    assert store.search_items(genre="Crime") == []
    # Given empty, a field is replaced; a new entry takes what it was given.
    store.add_items([Item("100", "Fargo", (), None)], keep=())
    assert store.get_item("100").genres == () and store.get_item("100").features is None
    store.add_items([Item("101", "Heat", ("crime",))], keep=("genres", "features", "title"))
    assert store.get_item("101") == Item(
        "101", "Heat", ("crime",), None, store.get_item("101").added_at
    )
    with pytest.raises(StoreError, match="unknown field 'year'"):
        store.add_items([Item("100")], keep=("year",))


def test_edits_of_different_fields_at_once_lose_none(store_url):
    """Two writers, one renaming the title and one changing the genres, in threads with
    their own stores (connections): what each wrote last survives the other's writes."""
    with open_store(store_url) as first:
        first.add_items([Item("7", "t0", ("g0",), {"year": 1.0})])
    rounds = 30
    errors = []

    def edit(field: str) -> None:
        try:
            with open_store(store_url) as mine:
                for k in range(1, rounds + 1):
                    if field == "title":
                        item, keep = Item("7", f"t{k}"), ("genres", "features")
                    else:
                        item, keep = Item("7", genres=(f"g{k}",)), ("title", "features")
                    mine.add_items([item], keep=keep)
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=edit, args=(f,)) for f in ("title", "genres")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with open_store(store_url) as after:
        item = after.get_item("7")
        assert (item.title, item.genres, item.features) == (
            f"t{rounds}",
            (f"g{rounds}",),
            {"year": 1.0},
        )
        assert [i.item_id for i in after.search_items(genre=f"g{rounds}")] == ["7"]


def test_a_read_only_sqlite_store_is_unavailable_for_writes(store_dir):
    with open_store(store_dir / "ratings.db") as store:
        store.add_ratings([Rating("u", "i", 3.0)])

        @sa.event.listens_for(store.db.engine, "connect")
        def query_only(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA query_only = 1")

        store.db.engine.dispose()  # new connections, each read-only
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.add_ratings([Rating("u", "j", 3.0)])
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.add_items([Item("j", "Jay")])
        assert [r.item_id for r in store.user_ratings("u")] == ["i"]


@pytest.mark.postgres
def test_a_read_only_postgresql_is_unavailable_for_writes(postgres_url):
    import psycopg

    open_store(postgres_url).close()
    name = postgres_url.rsplit("/", 1)[1]
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with open_store(postgres_url) as store:
        assert store.user_ratings("u") == []  # reads still work
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.add_ratings([Rating("u", "i", 3.0)])
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.delete_user("u")
        with pytest.raises(StoreUnavailableError, match="read-only"):
            store.import_interactions(Interactions.from_dense(np.eye(2)))
