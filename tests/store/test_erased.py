"""Erasures on SQLite and PostgreSQL: ``user_record`` tells a user erased by
``delete_user`` from one who deleted their last rating, and a version-1 store (which
could not) migrates to version 2."""

import random

import sqlalchemy as sa

from latentrec.store import Rating, open_store
from latentrec.store.engine import Database, resolve_url
from latentrec.store.schema import SCHEMA_VERSION, counters, create_v1, ratings, schema_table, users


def test_deleting_the_last_rating_is_no_erasure(store):
    store.add_ratings([Rating("u", "i", 4.0, 1.0), Rating("u", "j", 2.0, 1.0, kind="event")])
    cells, erased = store.user_record("u")
    assert sorted(cells) == [("i", 4.0, "explicit"), ("j", 2.0, "event")] and not erased
    store.delete_rating("u", "i")
    store.delete_rating("u", "j")
    assert store.user_record("u") == ([], False)
    assert store.user_version("u") > 0


def test_an_erasure_is_recorded_and_outlives_new_ratings(store):
    store.add_ratings([Rating("e", "i", 4.0, 1.0)])
    store.delete_user("e")
    assert store.user_record("e") == ([], True)
    store.add_ratings([Rating("e", "k", 5.0, 2.0)])
    assert store.user_record("e") == ([("k", 5.0, "explicit")], True)
    # An erasure of a user the store never held (known from a model's training data).
    store.delete_user("trained-elsewhere")
    assert store.user_record("trained-elsewhere") == ([], True)
    assert store.user_record("never") == ([], False)
    assert store.user_record("") == ([], False)


def test_user_record_matches_a_reference_over_random_writes(store):
    """Random ratings, deletes and erasures against a dict of what each user has."""
    rng = random.Random(7)
    people, things = ["a", "b", "o'c", "ü"], ["1", "2", "3"]
    held: dict[str, dict] = {u: {} for u in people}
    erased = dict.fromkeys(people, False)
    for step in range(60):
        user, item = rng.choice(people), rng.choice(things)
        op = rng.random()
        if op < 0.55:
            kind = rng.choice(["explicit", "event"])
            store.add_ratings([Rating(user, item, 3.0, float(step), kind=kind)])
            cell = held[user].get((item, kind))
            value = 3.0 if kind == "explicit" or cell is None else cell + 3.0
            held[user][(item, kind)] = value
        elif op < 0.9:
            store.delete_rating(user, item)
            held[user] = {k: v for k, v in held[user].items() if k[0] != item}
        else:
            store.delete_user(user)
            held[user], erased[user] = {}, True
        for who in people:
            cells, was_erased = store.user_record(who)
            assert sorted(cells) == sorted((i, v, k) for (i, k), v in held[who].items())
            assert was_erased is erased[who]


def make_v1_store(url: str) -> None:
    """A store as version 1 of the schema wrote it: "kept" has a rating, "gone" only a
    users row (v1 could not say whether erased or left with nothing)."""
    db = Database(resolve_url(url))
    try:
        with db.write() as conn:
            create_v1(conn)
            conn.execute(sa.insert(schema_table).values(id=1, version=1))
            conn.execute(sa.update(counters).values(value=3))
            conn.execute(
                sa.insert(ratings).values(
                    user_id="kept", item_id="i", kind="explicit", value=4.0, ts=1.0
                )
            )
            # Text, not the users table: today's table has a column v1 lacks.
            conn.execute(
                sa.text(f"INSERT INTO {users.name} (user_id, version) VALUES (:u, :v)"),
                [{"u": "kept", "v": 1}, {"u": "gone", "v": 3}],
            )
    finally:
        db.close()


def columns(url: str) -> list[str]:
    db = Database(resolve_url(url))
    try:
        with db.read() as conn:
            return sorted(c["name"] for c in sa.inspect(conn).get_columns(users.name))
    finally:
        db.close()


def test_a_version_1_store_migrates_to_version_2(store_url):
    make_v1_store(store_url)
    assert columns(store_url) == ["user_id", "version"]
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        assert store.user_ratings("kept")[0].value == 4.0
        assert store.user_record("kept") == ([("i", 4.0, "explicit")], False)
        # v1 served a user with nothing stored as erased: the upgrade keeps it so.
        assert store.user_record("gone") == ([], True)
        assert store.user_versions(["kept", "gone"]) == {"kept": 1, "gone": 3}
        store.delete_rating("kept", "i")
        assert store.user_record("kept") == ([], False)
        store.delete_user("kept")
        assert store.user_record("kept") == ([], True)
        assert store.sequence() == 5
    with open_store(store_url) as again:
        assert again.schema_version == SCHEMA_VERSION
        assert again.user_record("kept") == ([], True)
    # The migrated table is the one a new store gets.
    assert columns(store_url) == ["erased", "user_id", "version"]


def test_a_new_store_has_the_erased_column(store_url):
    open_store(store_url).close()
    assert columns(store_url) == ["erased", "user_id", "version"]
