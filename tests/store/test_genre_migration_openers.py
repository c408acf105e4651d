"""The version-3 upgrade with others at the store, on SQLite and PostgreSQL: openers at
once upgrade it once between them and all see the new version; a write of an earlier version
still open when the upgrade starts is waited for, and its spelling folded too."""

from __future__ import annotations

import json
import logging
import threading
import time

import numpy as np
import sqlalchemy as sa
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.models import FactorModel
from latentrec.service import Settings, create_app
from latentrec.store import open_store
from latentrec.store import schema as schema_module
from latentrec.store.engine import Database, resolve_url
from latentrec.store.schema import SCHEMA_VERSION, item_genres, items

from . import v2store
from .test_genre_migration import HELD, make_v2_store


def test_openers_at_once_upgrade_once_and_all_see_the_new_version(store_url, monkeypatch):
    make_v2_store(store_url, HELD)
    upgrades = []
    upgrade = schema_module.MIGRATIONS[3]

    def counted(conn):
        upgrades.append(1)
        upgrade(conn)

    monkeypatch.setitem(schema_module.MIGRATIONS, 3, counted)
    start = threading.Barrier(4)
    seen, failed = [], []

    def opener():
        start.wait()
        try:
            with open_store(store_url) as store:
                seen.append((store.schema_version, store.genres()))
        except Exception as err:  # noqa: BLE001  (reported below)
            failed.append(err)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failed
    assert upgrades == [1]
    assert seen == [(SCHEMA_VERSION, ["Drama", "Sci-Fi", "noir", "\u00c9b\u00e8ne"])] * 4


def test_a_write_of_an_earlier_version_open_at_the_upgrade_is_folded(store_url):
    """The upgrade waits for it (PostgreSQL: the tables locked; SQLite: its write lock),
    then reads it: no second spelling is left behind."""
    make_v2_store(store_url, HELD)
    db = Database(resolve_url(store_url))
    opened = []
    try:
        with db.write() as conn:  # as a worker of version 2 writes a title
            conn.execute(
                sa.insert(items).values(
                    item_id="9",
                    title="T",
                    title_key="t",
                    id_key="9",
                    genres=json.dumps(["SCI-FI"]),
                    added_at=10.0,
                )
            )
            conn.execute(sa.insert(item_genres).values(item_id="9", genre="SCI-FI"))
            upgrader = threading.Thread(target=lambda: opened.append(open_store(store_url)))
            upgrader.start()
            time.sleep(0.3)  # time for the upgrade to read the catalogue, were it not held
        upgrader.join(timeout=60)
    finally:
        db.close()
    (store,) = opened
    with store:
        assert store.get_item("9").genres == ("Sci-Fi",)
        assert store.genres() == ["Drama", "Sci-Fi", "noir", "\u00c9b\u00e8ne"]


def test_the_opener_is_told_what_the_upgrade_changed(store_url):
    """An upgrade rewrites data (genres' spellings, search keys); it used to do so
    without a word to whoever opened the store (``latentrec store info`` too)."""
    make_v2_store(store_url, HELD)
    with open_store(store_url) as store:
        # 3, 4, 5, 6 and 7 held another spelling; every title and id is ASCII.
        assert store.upgraded == [
            "schema version 2 to 3: 5 items' genres put in one spelling, "
            "0 items' search keys made again",
            "schema version 3 to 4: 0 items' search keys made again",
        ]
    with open_store(store_url) as again:
        assert again.upgraded == []


def test_a_new_store_reports_no_upgrade(store_url):
    with open_store(store_url) as store:
        assert store.schema_version == SCHEMA_VERSION == 4 and store.upgraded == []


def test_an_id_held_composed_is_found_by_its_letters_after_the_upgrade(store_url):
    """A version-2 key of an id typed composed (``café``) is ``café``; only the upgrade's
    new key finds it by ``cafe`` (no test had such an id: a decomposed one's old key
    holds ``cafe`` already)."""
    v2store.make_v2_store(store_url, [("caf\u00e9", None, [], 1.0), ("2", "Heat", [], 2.0)])
    with open_store(store_url) as store:
        assert [i.item_id for i in store.search_items("cafe")] == ["caf\u00e9"]


def test_latentrec_store_info_says_what_opening_upgraded(store_url):
    # The store kept what its upgrade changed, but no command said it: `store info` on a
    # version-2 store printed "schema version 3" alone, its spellings already rewritten.
    make_v2_store(store_url, HELD)
    result = CliRunner().invoke(main, ["store", "info", "--store", store_url])
    assert result.exit_code == 0, result.output
    assert (
        "upgraded the store: schema version 2 to 3: 5 items' genres put in one spelling, "
        "0 items' search keys made again"
    ) in result.stderr
    again = CliRunner().invoke(main, ["store", "info", "--store", store_url])
    assert again.exit_code == 0 and "upgraded" not in again.stderr


def test_the_service_logs_what_opening_its_store_upgraded(store_url, tmp_path, caplog):
    make_v2_store(store_url, HELD)
    # Distinct item rows: a model whose items all score alike is not served.
    items = np.arange(2.0 * len(HELD)).reshape(-1, 2)
    model = FactorModel.from_factors(
        ([0], [item_id for item_id, *_ in HELD]), items, np.ones((1, 2))
    )
    model.save(tmp_path / "m.npz")
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        create_app(Settings(model_path=str(tmp_path / "m.npz"), store_url=store_url))
    said = [r.getMessage() for r in caplog.records if "upgraded the store" in r.getMessage()]
    assert said == [
        "upgraded the store: schema version 2 to 3: 5 items' genres put in one spelling, "
        "0 items' search keys made again",
        "upgraded the store: schema version 3 to 4: 0 items' search keys made again",
    ]


def test_the_service_logs_that_opening_its_store_waits_for_another_write(
    store_url, tmp_path, caplog, monkeypatch
):
    # serve opened its store without a word while an upgrade waited behind another
    # process's write (a long `store import`); the store's waiting line is now logged.
    import latentrec.service.app as app_module

    opened = {}

    def open_and_wait(location, on_wait=None, limit=None):
        opened["on_wait"] = on_wait
        on_wait("waiting for another process's write to the store to end")
        return open_store(location, limit=limit)

    monkeypatch.setattr(app_module, "open_store", open_and_wait)
    model = FactorModel.from_factors(([0], ["1"]), np.zeros((1, 2)), np.zeros((1, 2)))
    model.save(tmp_path / "m.npz")
    with caplog.at_level(logging.WARNING, logger="latentrec.service"):
        create_app(Settings(model_path=str(tmp_path / "m.npz"), store_url=store_url))
    said = [r.getMessage() for r in caplog.records if r.name == "latentrec.service"]
    assert "waiting for another process's write to the store to end" in said
