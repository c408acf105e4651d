"""Timestamps a writer gets wrong: milliseconds, and clocks set in the future."""

import time

import pytest

from latentrec.store import Rating, StoreError, open_store


def test_millisecond_timestamp_is_refused_and_the_store_stays_readable():
    # Stored, a timestamp past the year 9999 made every later read of the store
    # (retrain's included) fail, for all users.
    with open_store(":memory:") as store:
        store.add_ratings([Rating("bob", "2", 3.0, timestamp=1_700_000_000)])
        with pytest.raises(StoreError, match=r"row 0: field 'timestamp' .*milliseconds"):
            store.add_ratings([Rating("ann", "1", 5.0, timestamp=time.time() * 1000)])
        frame = store.interactions().to_frame()
    assert list(frame["user_id"]) == ["bob"]


def test_future_rating_is_refused_so_a_later_rating_is_not_lost():
    # Latest wins: a rating dated a year ahead was kept over the user's next rating,
    # which was acknowledged (n_written=1) and silently lost.
    with open_store(":memory:") as store:
        with pytest.raises(StoreError, match="more than a day after the store's clock"):
            store.add_ratings([Rating("ann", "1", 5.0, timestamp=time.time() + 365 * 86400)])
        assert store.try_add_ratings([Rating("ann", "1", 2.0)]).n_written == 1
        with pytest.raises(StoreError, match="more than a day after"):
            store.try_add_ratings([Rating("ann", "1", 5.0, timestamp=time.time() + 2 * 86400)])
        assert [r.value for r in store.user_ratings("ann")] == [2.0]


def test_small_clock_skew_is_accepted():
    with open_store(":memory:") as store:
        ahead = time.time() + 3600
        store.add_ratings([Rating("ann", "1", 5.0, timestamp=ahead)])
        assert store.user_ratings("ann")[0].timestamp == ahead


def test_import_of_future_ratings_is_refused_whole():
    from latentrec import Interactions

    later = time.time() + 30 * 86400
    data = Interactions.from_arrays(
        ["ann", "bob"], ["1", "2"], [4.0, 3.0], timestamps=[1_700_000_000.0, later]
    )
    with open_store(":memory:") as store:
        with pytest.raises(StoreError, match=r"1 rating\(s\) dated .* user 'bob', item '2'"):
            store.import_interactions(data)
        assert store.user_ratings("ann") == []
