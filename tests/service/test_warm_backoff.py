"""A worker's warm-up reads every stored rating: on PostgreSQL with a request's time limit
(``store_timeout``) that read is no request, so the limit does not cancel it; when the
store does fail it, the error is the store's (said on one line, no traceback) and the
next try waits, twice as long each time.

Before: ``serve --store-timeout 0.05`` over ml-100k in PostgreSQL logged "the refresher's
warm failed" with a raw ``QueryCanceled`` traceback about once a second, for ever, each
retry a full read of the ratings (the bulk read bypassed the store's error translation).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from latentrec.models import FactorModel
from latentrec.service.hardening import ERROR_LOGGER
from latentrec.service.holder import FixedSource, ModelHolder
from latentrec.service.live import LiveUsers
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.refresh import Refresher
from latentrec.store import Rating, StoreUnavailableError, open_store
from latentrec.store.schema import ratings

pytestmark = pytest.mark.postgres

LIMIT_S = 0.3
ITEMS = ["1", "2", "3", "4"]


class TableLock:
    """Another session holding an exclusive lock on the ratings table, so that a full
    read of it waits (the way a long read of a large table outlasts a small limit)."""

    def __init__(self, url):
        import psycopg

        self.conn = psycopg.connect(url.replace("+psycopg", ""))
        self.conn.execute(f"LOCK TABLE {ratings.name} IN ACCESS EXCLUSIVE MODE")
        self.guard = threading.Lock()

    def release(self) -> None:
        # Once, from whichever thread comes first: a timer's release racing the test's
        # own clean-up rolled back a connection the other had just closed.
        with self.guard:
            if not self.conn.closed:
                self.conn.rollback()
                self.conn.close()


@pytest.fixture
def pg_bounded(pg_url):
    with open_store(pg_url) as store:
        store.add_ratings([Rating("ann", "1", 4.0), Rating("bob", "2", 2.0)])
        store.db.limit_waits(LIMIT_S)
        yield store, pg_url


def test_a_background_read_is_not_held_to_the_limit_and_its_errors_are_the_stores(pg_bounded):
    store, url = pg_bounded
    lock = TableLock(url)
    try:
        # A request's read: cancelled past the limit, said as the store's error.
        with pytest.raises(StoreUnavailableError, match="statement timeout"):
            store.interactions(kind="explicit")
        # A background read: it waits for the lock (released after four limits).
        timer = threading.Timer(4 * LIMIT_S, lock.release)
        timer.start()
        with store.db.background_reads() as reads:
            data = store.interactions(kind="explicit")
        assert data.nnz == 2 and reads.failures == []
        timer.join()
    finally:
        lock.release()
    # The session's own limit is back for the next transaction on that connection.
    with store.db.read() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "300ms"


def test_a_failed_warm_up_says_one_line_and_backs_off(pg_bounded, caplog):
    store, url = pg_bounded
    model = FactorModel.from_factors((["ann", "bob"], ITEMS), np.eye(4, 2), np.ones((2, 2)))
    holder = ModelHolder(FixedSource(model))
    refresher = Refresher(holder, store, ServiceMetrics(), every=1.0, live=LiveUsers(store))
    now = [0.0]
    refresher.clock = lambda: now[0]
    refresher.background_read_s = LIMIT_S  # so that the lock outlasts it
    lock = TableLock(url)
    tries = []
    try:
        with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
            for step in (0.0, 0.5, 0.6, 1.0, 1.9, 2.1):
                now[0] += step
                before = len(caplog.records)
                refresher.guarded(refresher.warm)
                tries.append([r.getMessage() for r in caplog.records[before:]])
            failed = [r for r in caplog.records if "warming" in r.getMessage()]
            assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
            # Tried at 0 s (next at 1), 1.1 (next at 3.1), 4.0 (next at 8); skipped
            # between: not a full read every round.
            assert [len(t) for t in tries] == [1, 0, 1, 0, 1, 0], tries
            assert "trying again in 1 s" in failed[0].getMessage()
            assert "trying again in 2 s" in failed[1].getMessage()
            assert "trying again in 4 s" in failed[2].getMessage()
            assert "statement timeout" in failed[0].getMessage()
            assert refresher.warmed_serial is None
            lock.release()
            now[0] += 4.0
            refresher.guarded(refresher.warm)
        assert refresher.warmed_serial == holder.current.serial
        assert any("folded in 2 stored users" in r.getMessage() for r in caplog.records)
    finally:
        lock.release()
