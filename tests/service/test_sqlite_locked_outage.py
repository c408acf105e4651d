"""Another program holding a SQLite store's write lock for longer than SQLite's busy
timeout, as seen from the service: the ratings POSTed meanwhile are answered 503 (never
201 before they are stored), ``/health`` answers throughout, the log holds one outage
(one line when it starts, one when the store answers again), and the first rating after
the lock is let go is stored and answered 201.

The busy timeout is cut to a fraction of a second (30 s in a service) and the loop's
retries to a few milliseconds, so the outage takes no longer than the test's requests."""

from __future__ import annotations

import logging
import subprocess
import sys

import httpx
import pytest

from latentrec.service import app as service_app
from latentrec.service.app import create_app
from latentrec.service.hardening import ERROR_LOGGER
from latentrec.service.settings import Settings
from latentrec.store import engine as store_engine
from latentrec.store import fastread

from .serving import served_in_thread

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # the test says when to let go (a stuck test: EOF)
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_S", 0.3)
    monkeypatch.setattr(fastread, "BUSY_TIMEOUT_S", 0.3)
    monkeypatch.setattr(service_app, "WRITE_WAIT_S", 0.05)


def test_a_lock_held_past_the_busy_timeout_is_one_outage(quick, model_files, tmp_path, caplog):
    db = tmp_path / "ratings.sqlite"
    settings = Settings(
        model_path=str(model_files["explicit"]),
        store_url=str(db),
        warm_users=False,
        access_log=False,
    )
    app = create_app(settings)
    with served_in_thread(app) as (url, _), httpx.Client(base_url=url, timeout=60) as client:
        first = client.post("/ratings", json={"user_id": "u", "item_id": "100", "rating": 4})
        assert first.status_code == 201, first.text
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
                for item in ("101", "102", "103"):
                    refused = client.post(
                        "/ratings", json={"user_id": "u", "item_id": item, "rating": 2}
                    )
                    assert refused.status_code == 503, refused.text
                    assert client.get("/health").status_code == 200
                    listed = client.get("/users/0/recommendations?n=3")
                    assert listed.status_code == 200, listed.text
                started = [r.getMessage() for r in caplog.records]
                holder.stdin.write("go\n")
                holder.stdin.flush()
                assert holder.stdout.readline().strip() == "released"
                holder.wait(30)
                after = client.post(
                    "/ratings", json={"user_id": "u", "item_id": "104", "rating": 5}
                )
                assert after.status_code == 201, after.text
        finally:
            if holder.poll() is None:
                holder.stdin.close()
                holder.wait(30)
        said = [r.getMessage() for r in caplog.records if r.name == ERROR_LOGGER]
        assert len(started) == 1 and "unavailable" in started[0], started
        assert len(said) == 2 and said[1].startswith("the ratings store answers again"), said
        assert "3 requests were answered 503" in said[1], said
        stored = client.get("/users/u/ratings").json()["ratings"]
        assert {r["item_id"]: r["rating"] for r in stored} == {"100": 4.0, "104": 5.0}
