"""A bulk import the database refuses, or that finds the database unusable, fails with
the store's own errors, as a single rating's write does: :class:`StoreError` naming the
batch of rows it refused, :class:`StoreUnavailableError` for a store that cannot be used
now; nothing is imported, and ``store import`` says it in one line and exits 1.

Before, the import's rows went through the driver's ``executemany`` unwrapped, and the
driver's own exceptions (``sqlite3.IntegrityError``, ``psycopg.errors.QueryCanceled``)
escaped: a service answered 500, and the command called its refusal a bug in latentrec.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from latentrec.data import Interactions
from latentrec.store import StoreError, StoreUnavailableError, open_store

N_USERS, N_ITEMS = 90, 80  # 7,200 cells: two of the import's batches (writes.CHUNK)


def refuse_item(store, item_id: str) -> None:
    """A rule added in the database by hand, refusing one item's ratings."""
    with store.db.write() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER no_item BEFORE INSERT ON lr_ratings "
                f"WHEN NEW.item_id = '{item_id}' BEGIN SELECT RAISE(ABORT, 'item banned'); END"
            )
        else:
            conn.exec_driver_sql(
                f"ALTER TABLE lr_ratings ADD CONSTRAINT no_item CHECK (item_id <> '{item_id}')"
            )


def allow_items(store) -> None:
    """The rule of :func:`refuse_item` taken away."""
    with store.db.write() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER no_item"
            if store.dialect == "sqlite"
            else "ALTER TABLE lr_ratings DROP CONSTRAINT no_item"
        )


def full_table(shift: int = 0) -> Interactions:
    users = np.repeat(np.arange(N_USERS), N_ITEMS)
    items = np.tile(np.arange(N_ITEMS), N_USERS)
    values = 1.0 + (users + items + shift) % 5
    return Interactions.from_arrays(
        [f"u{u:03d}" for u in users], [f"i{i:03d}" for i in items], values
    )


def test_a_refused_batch_is_a_store_error_naming_the_rows(store_url):
    with open_store(store_url) as store:
        refuse_item(store, "i050")
        with pytest.raises(StoreError) as caught:
            store.import_interactions(full_table())
        err = caught.value
        assert not isinstance(err, StoreUnavailableError)  # the data, not the server
        text = str(err)
        # The first batch holds user u000's i050: rows 1-5000 of the 7,200, sorted by
        # user then item.
        assert "refused the import's rows 1-5000 of 7200" in text, text
        assert "from user 'u000', item 'i000' to user 'u062', item 'i039'" in text, text
        assert "nothing was imported" in text and "\n" not in text
        assert store.counts()["ratings"] == 0
        # A refusal in a later batch is named by its rows too.
        allow_items(store)
        refuse_item(store, "i079")
        data = Interactions.from_arrays(
            [f"u{u:03d}" for u in range(N_USERS) for _ in range(79)] + ["u089"],
            [f"i{i:03d}" for _ in range(N_USERS) for i in range(79)] + ["i079"],
            np.ones(N_USERS * 79 + 1),
        )
        with pytest.raises(StoreError, match="rows 5001-7111 of 7111"):
            store.import_interactions(data)
        assert store.counts()["ratings"] == 0
        # Nothing else stands in the way: the import goes in whole.
        allow_items(store)
        assert store.import_interactions(data).n_written == 7111


def fill_the_disk(store) -> None:
    """Every connection the store's pool hands out may not grow the file: as a full disk."""
    with store.db.read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @sa.event.listens_for(store.db.engine, "checkout")
    def full(dbapi_connection, _record, _proxy):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")


def test_an_import_on_a_store_that_cannot_be_used_now_is_unavailable(store_url):
    with open_store(store_url) as store:
        store.db.limit_waits(1.0)  # as a service bounds its waits (no change on SQLite)
        if store.dialect == "sqlite":
            fill_the_disk(store)
            with pytest.raises(StoreUnavailableError, match="full"):
                store.import_interactions(full_table())
        else:
            with psycopg.connect(store_url) as locker:
                # Another session keeps the ratings still: the import waits past the limit.
                locker.execute("LOCK TABLE lr_ratings IN SHARE MODE")
                with pytest.raises(StoreUnavailableError, match="statement timeout") as caught:
                    store.import_interactions(full_table())
                locker.rollback()
            assert caught.value.transient
    with open_store(store_url) as store:
        assert store.counts()["ratings"] == 0


def test_store_import_says_a_refused_batch_in_one_line(store_url, tmp_path):
    # Run as an operator runs it (its own process, logging unconfigured), on a file big
    # enough that PostgreSQL refuses a row while psycopg's pipeline still has rows to
    # send: closing that pipeline failed again, and psycopg's warning about it ("error
    # ignored terminating <psycopg.Pipeline ...>: pipeline aborted") came on stderr
    # before our line.  PostgreSQL's reason ends with a period, which was followed by
    # "; nothing was imported".
    with open_store(store_url) as store:
        refuse_item(store, "i007")
    path = tmp_path / "ratings.csv"
    users = np.repeat(np.arange(60), 50)
    items = np.tile(np.arange(50), 60)
    pd.DataFrame(
        {
            "user_id": [f"u{u:03d}" for u in users],
            "item_id": [f"i{i:03d}" for i in items],
            "rating": 1 + (users + items) % 5,
            "timestamp": 1_600_000_000 + np.arange(users.size),
        }
    ).to_csv(path, index=False)
    command = [sys.executable, "-m", "latentrec", "store", "import", str(path)]
    done = subprocess.run(
        [*command, "--store", store_url, "--timestamp-col", "timestamp"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=120,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and done.stdout == "", (done.stdout, done.stderr)
    line = lines[0]
    assert line.startswith("Error: the store ") and "unexpected" not in line, line
    assert "refused the import's rows 1-3000 of 3000" in line, line
    assert ("item banned" if store_url.startswith("sqlite") else '"no_item"') in line, line
    assert ".;" not in line and line.endswith("; nothing was imported"), line
    with open_store(store_url) as store:
        assert store.counts()["ratings"] == 0
