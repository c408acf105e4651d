"""Who waits when opening the store hits its limit at start (a session holding the
schema table locked), as ``docs/service.md`` says it.

``latentrec serve`` builds its app before any worker starts, with ``store_wait`` off: it
fails in one line, exit 1, and waits for nothing (the page said its worker tried again).
The app factory's opening (``app_from_env`` -> ``create_app(store_wait=True)``, through
:func:`open_store_waiting`) takes the failure as a store not reachable for now: it logs
the wait and opens the store once the lock is let go.
"""

from __future__ import annotations

import logging
import subprocess
import sys

import psycopg
import pytest

from latentrec.service.hardening import ERROR_LOGGER
from latentrec.store import open_store
from service.test_store_down_at_start import (
    ROUNDS_BOUND_S,
    START_BOUND_S,
    poll,
    waiting_in_a_thread,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def locked(pg_url):
    """``(store URL, locker)``: a current schema whose table a session holds locked
    until ``locker.rollback()``."""
    open_store(pg_url).close()
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as locker:
        locker.execute("LOCK TABLE lr_schema IN ACCESS EXCLUSIVE MODE")
        yield pg_url, locker
        locker.rollback()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_says_the_limit_in_one_line_and_exits_1(locked, model_files, workers):
    url, _ = locked
    done = subprocess.run(
        [sys.executable, "-m", "latentrec", "serve", "--model", str(model_files["explicit"])]
        + ["--store", url, "--store-timeout", "1", "--port", "0", "--workers", workers],
        capture_output=True,
        text=True,
        timeout=START_BOUND_S,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: opening the store postgresql+psycopg://"), lines
    assert "opening's limit of 1 s while reading its schema version" in lines[0], lines


def test_the_factory_opening_waits_for_the_lock(locked, caplog):
    url, locker = locked
    caplog.set_level(logging.INFO, logger=ERROR_LOGGER)
    thread, outcome = waiting_in_a_thread(url, limit=1.0)
    said = poll(
        lambda: [r.getMessage() for r in caplog.records if "waits for it" in r.getMessage()],
        ROUNDS_BOUND_S,
        "the wait is logged",
    )
    assert "opening's limit of 1 s" in said[0], said
    assert thread.is_alive() and not outcome
    locker.rollback()
    thread.join(ROUNDS_BOUND_S)
    assert not thread.is_alive() and "store" in outcome, outcome
    outcome["store"].close()
    assert "the ratings store answers; this worker starts" in [
        r.getMessage() for r in caplog.records
    ]
