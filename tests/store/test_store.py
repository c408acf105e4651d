"""The store's behaviour on SQLite and PostgreSQL: writes, versions, validation, hostile
ids, the catalogue, and the hand-over to training."""

import math

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.store import Item, Rating, StoreError, WriteResult, open_store
from latentrec.store.engine import resolve_url
from latentrec.store.schema import SCHEMA_VERSION, schema_table

HOSTILE = [
    "'; DROP TABLE lr_ratings; --",
    'say "hi"',
    "back\\slash",
    "a/b/../c",
    "100%",
    "under_score",
    "%_%",
    "   padded   ",
    "tab\there",
    "new\nline",
    "ünïcödé ☃ 日本語 🎬",
    "\u200b",
    "x" * 1000,
    "é" * 500,  # 1000 bytes of UTF-8
    "42",
    "NULL",
    "None",
]


def test_latest_explicit_rating_wins_by_timestamp_then_arrival(store):
    store.add_ratings([Rating("u", "i", 4.0, timestamp=10.0)])
    store.add_ratings([Rating("u", "i", 2.0, timestamp=5.0)])  # older: ignored
    assert [r.value for r in store.user_ratings("u")] == [4.0]
    store.add_ratings([Rating("u", "i", 3.0, timestamp=10.0)])  # tie: the later write wins
    assert [(r.value, r.timestamp) for r in store.user_ratings("u")] == [(3.0, 10.0)]
    # Inside one batch too: latest timestamp, and on a tie the later row.
    store.add_ratings(
        [Rating("u", "j", 1.0, 7.0), Rating("u", "j", 5.0, 9.0), Rating("u", "j", 2.0, 9.0)]
    )
    assert {r.item_id: r.value for r in store.user_ratings("u")} == {"i": 3.0, "j": 2.0}


def test_events_add_up_and_keep_their_latest_time(store):
    store.add_ratings([{"user_id": "u", "item_id": "i", "kind": "event", "timestamp": 3.0}])
    store.add_ratings(
        [
            Rating("u", "i", 2.5, timestamp=1.0, kind="event"),
            Rating("u", "i", 0.5, timestamp=8.0, kind="event"),
        ]
    )
    (stored,) = store.user_ratings("u")
    assert (stored.value, stored.timestamp, stored.kind) == (4.0, 8.0, "event")
    # An explicit rating and an event weight of the same item are separate values.
    store.add_ratings([Rating("u", "i", 5.0, timestamp=2.0)])
    assert [(r.kind, r.value) for r in store.user_ratings("u")] == [
        ("event", 4.0),
        ("explicit", 5.0),
    ]


def test_missing_timestamp_is_the_write_time(store):
    import time

    before = time.time()
    store.add_ratings([Rating("u", "i", 3.0)])
    after = time.time()
    (stored,) = store.user_ratings("u")
    assert before <= stored.timestamp <= after


def test_write_result_and_versions(store):
    assert store.user_version("u") == 0
    first = store.add_ratings([Rating("u", "i"), Rating("v", "i"), Rating("u", "j")])
    assert isinstance(first, WriteResult)
    assert first.n_written == 3
    assert set(first.versions) == {"u", "v"} and len(set(first.versions.values())) == 1
    second = store.add_ratings([Rating("v", "k")])
    assert second.versions["v"] > first.versions["v"]
    assert store.user_versions(["u", "v", "w"]) == {
        "u": first.versions["u"],
        "v": second.versions["v"],
        "w": 0,
    }
    assert store.add_ratings([]) == WriteResult(0, {})


def test_deletes_bump_versions_when_they_change_something_erasures_always(store):
    v1 = store.add_ratings([Rating("u", "i"), Rating("u", "j", kind="event")]).versions["u"]
    assert store.delete_rating("u", "nope") == 0
    assert store.user_version("u") == v1
    assert store.delete_rating("u", "i") == 1
    v2 = store.user_version("u")
    assert v2 > v1
    assert store.delete_user("u") == 1
    v3 = store.user_version("u")
    assert v3 > v2
    assert store.user_ratings("u") == []
    # An erasure is recorded even with nothing stored: a worker may know the user from
    # its model's training data, and must learn that they are gone.
    assert store.delete_user("u") == 0 and store.user_version("u") > v3
    assert store.delete_user("never") == 0 and store.user_version("never") > v3
    assert store.counts() == {"ratings": 0, "users": 0, "items": 0}


def test_changes_since(store):
    assert store.changes_since(0) == (0, [])
    a = store.add_ratings([Rating("a", "i"), Rating("b", "i")]).versions["a"]
    c = store.add_ratings([Rating("c", "i")]).versions["c"]
    newest, changed = store.changes_since(0)
    assert newest == c and changed == [("a", a), ("b", a), ("c", c)]
    store.delete_user("a")
    newest2, changed2 = store.changes_since(newest)
    assert changed2 == [("a", newest2)] and newest2 > newest
    assert store.changes_since(newest2) == (newest2, [])
    with pytest.raises(StoreError, match="seq must be an integer"):
        store.changes_since(-1)


@pytest.mark.parametrize(
    "row, message",
    [
        (Rating("u", "i", float("nan")), "row 1: field 'value' must be finite"),
        (Rating("u", "i", float("inf")), "row 1: field 'value' must be finite"),
        (Rating("u", "i", "abc"), "row 1: field 'value' must be a number"),
        (Rating("", "i"), "row 1: field 'user_id' is empty"),
        (Rating("u", ""), "row 1: field 'item_id' is empty"),
        (Rating("u", None), "row 1: field 'item_id' must be text"),
        (Rating("u", "a\x00b"), "row 1: field 'item_id' contains a NUL"),
        (Rating("u", "x" * 1001), "row 1: field 'item_id' is 1001 bytes long"),
        (Rating("u", "\ud800"), "row 1: field 'item_id' is not valid unicode"),
        (Rating("u", "i", timestamp=float("nan")), "row 1: field 'timestamp' must be finite"),
        (Rating("u", "i", kind="star"), "row 1: field 'kind' must be one of"),
        ({"user_id": "u", "item_id": "i", "stars": 5}, r"row 1: unknown field\(s\) \['stars'\]"),
        ({"user_id": "u"}, "row 1: .*item_id"),
        ("u,i,5", "row 1: expected a Rating or a mapping"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(sqlite_store, row, message):
    store = sqlite_store
    with pytest.raises(StoreError, match=message):
        store.add_ratings([Rating("ok", "i", 4.0), row])
    assert store.counts()["ratings"] == 0 and store.user_version("ok") == 0


def test_a_bad_batch_writes_nothing(store):
    store.add_items([Item("i", "Kept")])
    with pytest.raises(StoreError, match="row 2: field 'value'"):
        store.add_ratings([Rating("a", "i"), Rating("b", "i"), Rating("c", "i", float("nan"))])
    with pytest.raises(StoreError, match="row 1: field 'genres'"):
        store.add_items([Item("i", "Replaced"), Item("j", genres=("x|y",))])
    assert store.counts() == {"ratings": 0, "users": 0, "items": 1}
    assert store.get_item("i").title == "Kept"


def test_one_rating_instead_of_a_list_is_refused(sqlite_store):
    store = sqlite_store
    with pytest.raises(StoreError, match="iterable of ratings"):
        store.add_ratings(Rating("u", "i"))


def test_hostile_ids_round_trip_exactly(store):
    rows = [Rating(u, i, 3.0, 1.0) for u in HOSTILE for i in HOSTILE[::-1][:3]]
    result = store.add_ratings(rows)
    assert set(result.versions) == set(HOSTILE)
    for user in HOSTILE:
        assert {r.item_id for r in store.user_ratings(user)} == set(HOSTILE[::-1][:3])
        assert store.user_version(user) == result.versions[user]
    assert store.counts() == {"ratings": len(rows), "users": len(HOSTILE), "items": 0}
    store.add_items([Item(i, f"title of {i}", ("g'; --", "100%")) for i in HOSTILE])
    for item_id in HOSTILE:
        assert store.get_item(item_id).item_id == item_id
    # Searching for a wildcard finds it literally, not everything.
    for text in ("%", "_", "\\", "'", "/", "☃", "\n"):
        expected = {i for i in HOSTILE if text in i}
        assert {i.item_id for i in store.search_items(text, limit=100)} == expected
    assert len(store.search_items("g'; --")) == 0
    assert len(store.search_items(genre="100%", limit=100)) == len(HOSTILE)
    data = store.interactions()
    assert set(data.users.ids.tolist()) == set(HOSTILE)
    assert store.delete_rating(HOSTILE[0], HOSTILE[-1]) == 1
    assert store.delete_user("'; DROP TABLE lr_ratings; --") == 2
    assert store.counts()["ratings"] == len(rows) - 3
    # Lookups of ids that cannot be stored find nothing rather than failing.
    assert store.user_ratings("a\x00b") == [] and store.get_item("") is None
    assert store.user_versions(["a\x00b", None]) == {"a\x00b": 0, "None": 0}


def test_integer_ids_are_stored_as_text(store):
    store.add_ratings([{"user_id": 7, "item_id": 50, "value": 4}])
    assert store.user_ratings("7")[0].item_id == "50"
    assert store.user_version(7) == store.user_version("7") > 0


def test_items_upsert_search_and_genres(store):
    store.add_items(
        [
            Item("1", "Star Wars", ("Action", "Sci-Fi"), {"year": 1977.0}, added_at=100.0),
            {"item_id": "2", "title": "Heat", "genres": ["Crime", "Action"]},
            Item("3", None),
            Item("4", "STARGATE", ("Sci-Fi",)),
            Item("5", "Amélie", ("Comedy",)),
        ]
    )
    assert store.get_item("1") == Item(
        "1", "Star Wars", ("Action", "Sci-Fi"), {"year": 1977.0}, 100.0
    )
    assert [i.item_id for i in store.search_items("star")] == ["1", "4"]
    assert [i.item_id for i in store.search_items("AMÉ")] == ["5"]
    assert [i.item_id for i in store.search_items("3")] == ["3"]  # by id
    assert [i.item_id for i in store.search_items(genre="Action")] == ["2", "1"]
    assert [i.item_id for i in store.search_items("a", genre="Sci-Fi")] == ["1", "4"]
    assert [i.item_id for i in store.search_items(limit=2, offset=1)] == ["5", "2"]
    # The genre filter ignores case, as the service's does.
    assert [i.item_id for i in store.search_items(genre="action")] == ["2", "1"]
    assert store.genres() == ["Action", "Comedy", "Crime", "Sci-Fi"]
    # Replacing an item replaces its genres and keeps its added_at.
    assert store.add_items([Item("1", "Star Wars IV", ("Adventure",))]) == 1
    updated = store.get_item("1")
    assert (updated.title, updated.genres, updated.features) == (
        "Star Wars IV",
        ("Adventure",),
        None,
    )
    assert updated.added_at == 100.0
    assert store.genres() == ["Action", "Adventure", "Comedy", "Crime", "Sci-Fi"]
    assert store.counts()["items"] == 5


@pytest.mark.parametrize(
    "row, message",
    [
        (Item("x", genres="Drama"), "field 'genres' must be a list"),
        (Item("x", genres=("a|b",)), "field 'genres' holds 'a|b'"),
        (Item("x", features={"title": 1.0}), "field 'features' has the name 'title'"),
        (Item("x", features={"w": float("nan")}), "field 'features' has 'w' = nan"),
        (Item("x", title=5), "field 'title' must be text"),
        (Item(""), "field 'item_id' is empty"),
    ],
)
def test_bad_items_are_named(sqlite_store, row, message):
    store = sqlite_store
    with pytest.raises(StoreError, match=f"row 1: {message}"):
        store.add_items([Item("fine"), row])
    assert store.counts()["items"] == 0


def test_search_bounds(sqlite_store):
    store = sqlite_store
    with pytest.raises(StoreError, match="limit must be between 0 and 10000"):
        store.search_items(limit=10_001)
    with pytest.raises(StoreError, match="offset must be >= 0"):
        store.search_items(offset=-1)


def test_interactions_equal_what_was_written(store):
    rng = np.random.default_rng(3)
    rows = [
        Rating(f"u{u}", f"i{i}", float(rng.integers(1, 6)), float(rng.integers(0, 1000)))
        for u in range(20)
        for i in rng.choice(15, 5, replace=False)
    ]
    store.add_ratings(rows)
    store.add_ratings([Rating("u0", "i99", 1.0, kind="event")])  # left out: explicit wins
    store.add_items([Item("i1", "One", ("A", "B"), {"year": 1990.0}), Item("cold", "Cold")])
    data = store.interactions()
    assert not data.implicit
    got = {
        (u, i): (r, t)
        for u, i, r, t in data.to_frame()[["user_id", "item_id", "rating", "timestamp"]].itertuples(
            index=False
        )
    }
    assert got == {(r.user_id, r.item_id): (r.value, r.timestamp) for r in rows}
    side = data.item_features
    assert side.loc["i1", "title"] == "One" and side.loc["i1", "genres"] == "A|B"
    assert pd.isna(side.loc["cold", "genres"])  # no genres: missing, not an empty label
    assert side.loc["i1", "year"] == 1990.0 and math.isnan(side.loc["i2", "year"])
    assert "cold" in data.items  # catalogue items join the vocabulary
    cut = store.interactions(until=500.0)
    assert cut.nnz == sum(r.timestamp <= 500.0 for r in rows)
    events = store.interactions(kind="event")
    assert events.implicit and events.nnz == 1


def test_interactions_of_events_only_are_implicit(store):
    store.add_ratings([Rating("u", "i", 2.0, kind="event"), Rating("u", "i", kind="event")])
    data = store.interactions()
    assert data.implicit and data.ratings.tolist() == [3.0]


def test_interactions_of_an_empty_store_is_an_error(store):
    with pytest.raises(StoreError, match="holds no event ratings"):
        store.interactions()
    store.add_ratings([Rating("u", "i", 3.0, 50.0)])
    with pytest.raises(StoreError, match="at or before 10"):
        store.interactions(until=10.0)


def test_import_interactions_round_trip(store):
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 3],
            "item_id": [10, 20, 10, 20, 30],
            "rating": [5.0, 3.0, 4.0, 1.0, 2.0],
            "timestamp": [1, 2, 3, 4, 5],
        }
    )
    titles = pd.DataFrame(
        {
            "title": ["Ten", "Twenty", None],
            "genres": ["A|B", "", "C"],
            "year": [1990, np.nan, 2000],
        },
        index=[10, 20, 40],
    )
    data = Interactions.from_frame(df, timestamp="timestamp", item_features=titles)
    assert store.import_interactions(data).n_written == 5
    back = store.interactions()
    expected = df.assign(user_id=df.user_id.astype(str), item_id=df.item_id.astype(str))
    got = back.to_frame().sort_values(["user_id", "item_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got, expected.astype({"rating": np.float32, "timestamp": np.float64}), check_dtype=False
    )
    assert store.get_item("10") == Item(
        "10", "Ten", ("A", "B"), {"year": 1990.0}, store.get_item("10").added_at
    )
    assert store.get_item("20").genres == () and store.get_item("20").features is None
    assert store.get_item("40").title is None and "40" in back.items
    assert store.user_versions(["1", "2", "3"]) == {"1": 1, "2": 1, "3": 1}
    # Importing again as events adds weights to a separate kind.
    store.import_interactions(data, kind="event")
    assert store.interactions(kind="event").ratings.sum() == pytest.approx(df.rating.sum())


def test_reopening_keeps_data_and_schema(store_url):
    with open_store(store_url) as store:
        store.add_ratings([Rating("u", "i", 4.0)])
        assert store.schema_version == SCHEMA_VERSION
    with open_store(store_url) as again:
        assert [r.value for r in again.user_ratings("u")] == [4.0]
        assert again.schema_version == SCHEMA_VERSION


def test_a_newer_schema_is_refused(store_url):
    import sqlalchemy as sa

    with open_store(store_url) as store:
        with store.db.write() as conn:
            conn.execute(sa.update(schema_table).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer than this latentrec"):
        open_store(store_url)


def test_urls_and_paths(tmp_path):
    path = tmp_path / "r.db"
    with open_store(path) as a, open_store(str(path)) as b, open_store(f"sqlite:///{path}") as c:
        a.add_ratings([Rating("u", "i")])
        assert b.user_version("u") == c.user_version("u") == 1
        assert a.dialect == "sqlite" and a.url == f"sqlite:///{path}"
    assert resolve_url("postgres://a:secret@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql+psycopg://a@h/db").drivername == "postgresql+psycopg"
    for bad, message in [
        ("mysql://a@h/db", "unsupported store URL"),
        ("postgresql+psycopg2://a@h/db", "unsupported store URL"),
        ("", "empty"),
        (tmp_path / "no" / "such" / "r.db", "no folder"),
    ]:
        with pytest.raises(StoreError, match=message):
            open_store(bad)


def test_memory_store_is_shared_between_threads():
    from concurrent.futures import ThreadPoolExecutor

    with open_store(":memory:") as store:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda k: store.add_ratings([Rating(f"u{k}", "i")]), range(40)))
        assert store.counts()["users"] == 40


def test_a_closed_store_says_so(tmp_path):
    store = open_store(tmp_path / "r.db")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.counts()


def test_sqlite_connections_are_durable_and_concurrent(store_dir):
    with open_store(store_dir / "r.db") as store:
        with store.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_user_snapshot_reads_the_version_first(store):
    assert store.user_snapshot("u") == (0, [])
    version = store.add_ratings([Rating("u", "i", 4.0, 1.0)]).versions["u"]
    assert store.user_snapshot("u") == (version, [Rating("u", "i", 4.0, 1.0)])


def test_missing_server_binaries_skip_with_a_clear_message(monkeypatch):
    from . import pgserver

    monkeypatch.setattr(pgserver.shutil, "which", lambda name: None)
    monkeypatch.setattr(pgserver.glob, "glob", lambda pattern: [])
    with pytest.raises(pgserver.ServerUnavailable, match="install Debian's 'postgresql'"):
        pgserver.find_binaries()


def test_every_catalogue_write_raises_the_catalogue_version(store):
    assert store.catalogue_version() == 0
    store.add_items([Item("1", "Heat", ("Crime",))])
    first = store.catalogue_version()
    store.add_items([Item("1", "Heat", ("Crime", "Drama"))])  # an edit, no new row
    second = store.catalogue_version()
    side = pd.DataFrame({"title": ["Up"], "genres": ["Animation"]}, index=[7])
    store.import_interactions(
        Interactions.from_arrays([1], [7], [4.0], item_features=side, timestamps=np.ones(1))
    )
    assert 0 < first < second < store.catalogue_version()
    store.add_ratings([Rating("u", "1", 4.0)])  # not a catalogue write
    assert store.catalogue_version() == 3


def test_newest_timestamp_and_first_seen(store):
    """The two facts boost_new's ages come from: the newest rating or event, and each
    item's first one (a catalogue entry nobody rated: when it was added)."""
    assert store.newest_timestamp() is None
    store.add_items([Item("new", "New", added_at=9_000.0)])
    assert store.newest_timestamp() is None  # a catalogue time is no rating
    store.add_ratings(
        [
            Rating("a", "x", 4.0, 100.0),
            Rating("b", "x", 2.0, 50.0),
            Rating("a", "y", 1.0, 700.0, kind="event"),
        ]
    )
    assert store.newest_timestamp() == 700.0
    assert store.item_first_seen() == {"new": 9_000.0, "x": 50.0, "y": 700.0}


def test_search_ranks_title_starts_then_word_starts_then_the_rest(store):
    """A search box's order: "star" finds Star Wars before Evening Star before Bastard Out
    of Carolina (it sorted them by title alone), each group by title, pages included."""
    store.add_items(
        [
            Item("1", "Bastard Out of Carolina"),
            Item("2", "Evening Star, The"),
            Item("3", "Frankie Starlight"),
            Item("4", "Star Wars"),
            Item("5", "Stargate"),
            Item("6", "Lone Star (1996)"),
            Item("7", "Mustard (Star edition)"),
            Item("8", "Heat"),
            Item("star-9", None),  # no title: its id stands in
            Item("10", "Co-Star"),
        ]
    )
    found = [i.item_id for i in store.search_items("STAR")]
    # Code-point order within a group: "star wars" < "star-9" < "stargate".
    assert found == ["4", "star-9", "5", "10", "2", "3", "6", "7", "1"]
    page = store.search_items("star", limit=3, offset=2)
    assert [i.item_id for i in page] == ["5", "10", "2"]
    assert [i.item_id for i in store.search_items("carolina")] == ["1"]


def test_search_order_matches_the_slow_obvious_way(store):
    """Random titles of a few syllables: the order is (starts with it, a word starts with
    it, anywhere) then title then id, computed by hand."""
    rng = np.random.default_rng(3)
    parts = ["st", "ar", "a", "star", "r", " ", "(", "-", "/", '"', ",", ".", "'"]
    catalogue = []
    for k in range(120):
        title = "".join(rng.choice(parts, int(rng.integers(1, 7))))
        catalogue.append(Item(f"i{k:03d}", None if k % 17 == 0 else title))
    store.add_items(catalogue)
    for query in ["st", "star", "ar", "a", "r s", "(a", "-", "a'"]:
        key = query.casefold()
        expected = []
        for item in catalogue:
            name = (item.title if item.title is not None else item.item_id).casefold()
            title_key = "" if item.title is None else item.title.casefold()
            if key not in title_key and key not in item.item_id.casefold():
                continue
            if name.startswith(key):
                tier = 0
            elif any(c + key in name for c in (" ", "(", "-", "/", '"')):
                tier = 1
            else:
                tier = 2
            expected.append((tier, name, item.item_id))
        got = [i.item_id for i in store.search_items(query, limit=1000)]
        assert got == [x[2] for x in sorted(expected)], query
