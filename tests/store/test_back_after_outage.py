"""The store says it answers again (``Database.on_back``, which ends a service's outage
log with one line) at the first call it answers after one that found it unavailable,
whichever way the calls reach the database, on both engines.

Before, on a SQLite file only a SQLAlchemy transaction counted: the per-request reads
(fastread), the change watch and the checkpoint, which a service's refresher runs each
round, went past the bookkeeping.  An outage that such a read met was never marked, so
its "answers again" line never came, and one a transaction met ended only at the next
transaction, however long the store had answered the requests meanwhile.
"""

from __future__ import annotations

import itertools

import pytest

from latentrec.store import Rating, StoreUnavailableError


def calls(store) -> dict:
    """Every way a service reaches the store, by name: what each does on this engine."""
    watch = store.watch()
    ways = {
        "user_ratings": lambda: store.user_ratings("ann"),  # fastread on a SQLite file
        "user_version": lambda: store.user_version("ann"),
        "sequence": store.sequence,
        "changes_since": lambda: store.changes_since(0),
        "watch token": watch.token,  # a connection of its own on a SQLite file
        "counts": store.counts,  # a SQLAlchemy transaction
        "add_ratings": lambda: store.add_ratings([Rating("bob", "1", 3.0)]),
    }
    if store.dialect == "sqlite":
        ways["checkpoint"] = store.checkpoint  # the refresher's every round
    return ways


def test_the_first_call_answered_after_an_outage_says_so_once(store):
    store.add_ratings([Rating("ann", "1", 4.0)])
    backs: list[int] = []
    store.db.on_back = lambda: backs.append(1)
    ways = calls(store)
    for (failed, failing), (answered, answering) in itertools.product(ways.items(), repeat=2):
        store.db.closed = True  # as a store that cannot be used now
        with pytest.raises(StoreUnavailableError):
            failing()
        store.db.closed = False
        assert backs == [], f"{answered} said so before the store answered"
        answering()
        assert backs == [1], f"failed in {failed}, then {answered} answered: {backs}"
        answering()
        assert backs == [1], f"{answered} said it twice"
        backs.clear()


def test_nothing_is_said_without_an_outage(store):
    backs: list[int] = []
    store.db.on_back = lambda: backs.append(1)
    for call in calls(store).values():
        call()
    assert backs == []
