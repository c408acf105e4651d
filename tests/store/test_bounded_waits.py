"""Every wait on a PostgreSQL server is bounded once a limit is set
(:meth:`Database.limit_waits`, what the service does): a statement the server runs too
long is cancelled by the server, a server that stops answering (its backend stopped
with SIGSTOP: its kernel still takes the bytes) is given up on this side, and either way
the caller gets :class:`StoreUnavailableError` (transient: waiting may cure it), the
transaction is rolled back and the store works again once the server answers.

Before, a store had only a connect timeout: a stopped server held the calling thread
until it was continued.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from latentrec.store import Rating, StoreUnavailableError, open_store
from latentrec.store.engine import pg_connect_args

from .freezing import stopped

pytestmark = pytest.mark.postgres

LIMIT_S = 1.0
# The backend is continued after this long at the latest: a statement waiting for ever,
# as before, then ends and the test fails instead of hanging.
THAW_S = 20.0


@pytest.fixture
def pg_store(postgres_url):
    with open_store(postgres_url) as store:
        store.db.limit_waits(LIMIT_S)
        with store.db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE probe (x integer)")
        yield store


def probe_rows(store) -> list[int]:
    with store.db.read() as conn:
        return [x for (x,) in conn.exec_driver_sql("SELECT x FROM probe ORDER BY x")]


def test_a_statement_a_stopped_backend_never_answers_fails_and_is_rolled_back(pg_store):
    with pytest.raises(StoreUnavailableError, match="did not answer") as caught:
        with pg_store.db.write() as conn:
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with stopped([pid], THAW_S) as thawed:
                conn.exec_driver_sql("INSERT INTO probe VALUES (2)")
    assert not thawed.is_set(), "the statement ended only once the server was continued"
    assert caught.value.transient
    # Neither row: the server saw the connection end inside the transaction.
    assert probe_rows(pg_store) == []
    pg_store.add_ratings([Rating("ann", "1", 4.0)])
    assert [r.item_id for r in pg_store.user_ratings("ann")] == ["1"]


def test_a_statement_running_past_the_limit_is_cancelled_by_the_server(pg_store):
    with pytest.raises(StoreUnavailableError, match="statement timeout") as caught:
        with pg_store.db.write() as conn:
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
            conn.exec_driver_sql(f"SELECT pg_sleep({LIMIT_S * 3})")
    assert caught.value.transient
    assert probe_rows(pg_store) == []


def test_the_connection_settings_bound_each_wait_by_the_limit():
    for limit in (0.2, 1.0, 5.0, 30.0, 3600.0):
        args = pg_connect_args(limit)
        # libpq takes whole seconds, at least 2; the TCP timers find a dead peer within
        # about the limit (idle + count * interval), never sooner than a second.
        assert args["connect_timeout"] == max(2, -(-limit // 1))
        dead_after = (
            args["keepalives_idle"] + args["keepalives_count"] * args["keepalives_interval"]
        )
        assert dead_after <= max(4, 1.5 * limit + 1)
        assert args["tcp_user_timeout"] == max(1000, int(limit * 1000))
    # A parameter the URL gives is the user's.
    url = sa.make_url("postgresql://ann@db/recs?connect_timeout=30&keepalives=0")
    assert set(pg_connect_args(5.0, url)).isdisjoint({"connect_timeout", "keepalives"})


def test_the_server_cancels_past_the_limit_whatever_the_urls_options(postgres_url):
    url = postgres_url + "?options=-c%20application_name%3Dmine"
    with open_store(url) as store:
        store.db.limit_waits(LIMIT_S)
        with store.db.read() as conn:
            shown = conn.exec_driver_sql(
                "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            ).scalar()
            name = conn.exec_driver_sql("SHOW application_name").scalar()
    assert (shown, name) == (str(int(LIMIT_S * 1000)), "mine")  # pg_settings says ms
