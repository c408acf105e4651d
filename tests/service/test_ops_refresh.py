"""A model directory the worker cannot read (its pointer damaged): the worker keeps
serving, says so once, and goes on with the rest of its round.

Before, the failed reload ended every round early, so the store's SQLite checkpoint
and the catalogue checks stopped for as long as the pointer stayed damaged, and the same
warning was logged every second."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from latentrec.models import FactorModel
from latentrec.service.hardening import ERROR_LOGGER
from latentrec.service.holder import DirectorySource, ModelHolder
from latentrec.service.metrics import ServiceMetrics
from latentrec.service.refresh import Refresher
from latentrec.service.versions import ModelDirectory

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


class CountingStore:
    """The store, counting checkpoints."""

    def __init__(self, store):
        self.store, self.checkpoints = store, 0

    def checkpoint(self):
        self.checkpoints += 1
        return self.store.checkpoint()

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_damaged_pointer_is_logged_once_and_the_round_goes_on(tmp_path, caplog):
    from latentrec.store import open_store

    md = ModelDirectory(tmp_path / "models")
    for _ in range(2):
        md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    holder = ModelHolder(DirectorySource(md))
    with open_store(tmp_path / "ratings.db") as opened:
        store = CountingStore(opened)
        refresher = Refresher(holder, store, ServiceMetrics(), every=1.0)
        md.pointer_path.write_text("garbage\n")
        with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
            for _ in range(4):
                refresher.tick()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "keeping the served model v000002" in warnings[0].getMessage()
        assert "CURRENT is damaged" in warnings[0].getMessage()
        assert store.checkpoints == 4
        assert holder.current.version == "v000002"

        caplog.clear()
        md.rollback("v000001")
        with caplog.at_level(logging.INFO, logger=ERROR_LOGGER):
            refresher.tick()
        assert holder.current.version == "v000001"
        assert any("reads again" in r.getMessage() for r in caplog.records)


def test_health_says_why_the_model_source_does_not_read(tmp_path):
    """/health said "ok" and nothing more while every reload failed; the reason was in
    the log only.  It now carries ``reload_error`` (the worker still serves, so the status
    stays "ok"), and null again once the source reads."""
    from fastapi.testclient import TestClient

    from latentrec.service import create_app
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    md = ModelDirectory(tmp_path / "models")
    for _ in range(2):
        md.publish(FactorModel.from_factors(([1], [7]), np.eye(1)))
    settings = Settings(model_dir=str(md.path), poll_seconds=3600, warm_users=False)
    with open_store(tmp_path / "ratings.db") as store:
        app = create_app(settings, store=store, source=DirectorySource(md))
        with TestClient(app) as client:
            assert client.get("/health").json()["reload_error"] is None
            md.pointer_path.write_text("garbage\n")
            app.state.refresher.tick()
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["model_version"] == "v000002"
            assert "CURRENT is damaged" in health["reload_error"]
            md.rollback("v000001")
            app.state.refresher.tick()
            health = client.get("/health").json()
            assert health["reload_error"] is None and health["model_version"] == "v000001"
