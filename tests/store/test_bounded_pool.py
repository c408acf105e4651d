"""The store's limit bounds the wait for a pooled connection too, and a URL's own
``statement_timeout`` wins over the limit's.

Before: a thread waiting for a free connection waited SQLAlchemy's default 30 s whatever
the limit, then got a raw ``TimeoutError`` (a 500 in the service); and the limit
overwrote ``?options=-c statement_timeout=...`` with its own.
"""

from __future__ import annotations

import pytest

from latentrec.store import StoreUnavailableError, open_store
from latentrec.store.engine import POOL_OVERFLOW, POOL_SIZE

pytestmark = pytest.mark.postgres

LIMIT_S = 0.5


def test_a_wait_for_a_pooled_connection_is_bounded_and_said_as_unavailable(postgres_url):
    with open_store(postgres_url) as store:
        store.db.limit_waits(LIMIT_S)
        held = [store.db.engine.connect() for _ in range(POOL_SIZE + POOL_OVERFLOW)]
        try:
            with pytest.raises(StoreUnavailableError, match="no free connection") as caught:
                with store.db.read() as conn:
                    conn.exec_driver_sql("SELECT 1")
            assert caught.value.transient
            assert store.db.engine.pool.timeout() == LIMIT_S
        finally:
            for conn in held:
                conn.close()
        with store.db.read() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_a_urls_own_statement_timeout_wins_over_the_limit(postgres_url):
    url = postgres_url + "?options=-c%20statement_timeout%3D60000"
    with open_store(url) as store:
        store.db.limit_waits(LIMIT_S)
        with store.db.read() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "1min"
            # Longer than the limit, shorter than the URL's: the server lets it run.
            conn.exec_driver_sql(f"SELECT pg_sleep({LIMIT_S * 3})")
    with open_store(postgres_url) as store:
        store.db.limit_waits(LIMIT_S)
        with store.db.read() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "500ms"
