"""Retraining keeps the rating scale of the version it replaces, and refuses stored ratings
outside it.

The flow of docs/service.md with the real command line and a real SQLite store: a model
trained with ``--rating-scale 1 5``, published, then ``latentrec retrain --store``.  A
store keeps no scale; before, the retrained version had none, so the service took any
rating (-1e6 was acknowledged) and the next retrain diverged.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions, load
from latentrec.cli import main
from latentrec.models import BiasedMF, ImplicitALS
from latentrec.service.retrain import current_scale, retrain_on, with_current_scale
from latentrec.service.versions import ModelDirectory, read_retrain_status

from .retrain_helpers import as_data, timed_frame

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")

T_NEW = 2700  # ratings from here on arrive after the first version was trained


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def published(tmp_path):
    """``(store path, model directory)``: every rating stored, and v000001 trained by
    ``latentrec train --rating-scale 1 5`` on the older ones and published."""
    from latentrec.store import open_store

    frame = timed_frame()
    frame[frame["t"] < T_NEW].to_csv(tmp_path / "old.csv", index=False)
    db = tmp_path / "r.db"
    with open_store(db) as store:
        store.import_interactions(as_data(frame))
    r = run(
        "train", tmp_path / "old.csv", "--timestamp-col", "t", "--rating-scale", 1, 5,
        "-a", "biased-mf", "--factors", 4, "--seed", 0, "-q", "-o", tmp_path / "m.npz",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r = run("models", "publish", tmp_path / "m.npz", "--model-dir", tmp_path / "models")
    assert r.exit_code == 0, r.output
    return db, tmp_path / "models"


def retrain_cli(db, models, *extra):
    # A generous tolerance: these tests are about the scale, not the gate.
    return run(
        "retrain", "--store", db, "--model-dir", models, "--seed", 0, "--tolerance", 10, *extra
    )


def test_the_retrained_version_keeps_the_scale_and_the_service_refuses_off_scale(
    published,
):
    from fastapi.testclient import TestClient

    from latentrec.service.app import create_app
    from latentrec.service.holder import FixedSource
    from latentrec.service.settings import Settings
    from latentrec.store import open_store

    db, models = published
    r = retrain_cli(db, models)
    assert r.exit_code == 0, r.output
    assert "published v000002" in r.output
    md = ModelDirectory(models)
    model = load(md.version("v000002").path)
    assert model.rating_scale_ == (1.0, 5.0)
    # Predictions are clipped to it as before (the figures and the library's predict).
    users = np.repeat(model.users_.ids[:20], model.n_items)
    items = np.tile(model.items_.ids, 20)
    clipped = model.predict(users, items, clip=True)
    assert clipped.min() >= 1.0 and clipped.max() <= 5.0
    with open_store(db) as store:
        app = create_app(Settings(), store=store, source=FixedSource(model, "v000002"))
        with TestClient(app) as client:
            assert client.get("/health").json()["rating_scale"] == [1.0, 5.0]
            bad = client.post("/ratings", json={"user_id": "1", "item_id": "3", "rating": -1e6})
            assert bad.status_code == 422, bad.text
            assert all(value >= 1 for _, value, _ in store.user_cells("1"))  # not stored


def store_off_scale(db, value=-1e6):
    """A rating written while a version without a scale was served (its service took any)."""
    from latentrec.store import Rating, open_store

    with open_store(db) as store:
        store.add_ratings([Rating("7", "105", value, float(T_NEW + 500))])


def test_off_scale_stored_ratings_refuse_the_retrain_in_one_line(published):
    db, models = published
    store_off_scale(db)
    r = retrain_cli(db, models)
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    assert lines[0].startswith("Error: 1 stored rating(s) lie outside the rating scale [1, 5]")
    assert "of v000001, e.g. user '7', item '105', rating -1e+06" in lines[0]
    assert ModelDirectory(models).current().name == "v000001"
    status = read_retrain_status(models)
    assert status["ok"] is False and "user '7', item '105'" in status["reason"]
    # --json says the same, exit 1.
    r = retrain_cli(db, models, "--json")
    assert r.exit_code == 1 and "user '7', item '105'" in r.output


def test_a_scheduled_round_over_off_scale_ratings_is_a_logged_failure(published, caplog):
    from latentrec.service.hardening import ERROR_LOGGER
    from latentrec.service.schedule import RetrainSchedule

    db, models = published
    store_off_scale(db, 6.5)
    schedule = RetrainSchedule(str(db), str(models), every=60)
    with caplog.at_level(logging.ERROR, logger=ERROR_LOGGER):
        assert schedule.run_once() is None
    assert schedule.failures == 1
    assert any(
        "scheduled retrain failed" in rec.getMessage() and "rating 6.5" in rec.getMessage()
        for rec in caplog.records
    )
    status = read_retrain_status(models)
    assert status["ok"] is False and status["by"] == "scheduled"
    assert "user '7', item '105', rating 6.5" in status["reason"]
    assert ModelDirectory(models).current().name == "v000001"


def test_retrain_on_gives_data_without_a_scale_the_current_ones(tmp_path):
    frame = timed_frame()
    md = ModelDirectory(tmp_path / "models")
    first = retrain_on(as_data(frame[frame["t"] < T_NEW]), md, model=BiasedMF(n_factors=2))
    assert first.published and load(first.version.path).rating_scale_ == (1.0, 5.0)
    plain = Interactions.from_frame(frame, timestamp="t")  # as a store hands it: no scale
    again = retrain_on(plain, md, tolerance=10.0, random_state=0)
    assert again.published and load(again.version.path).rating_scale_ == (1.0, 5.0)


def test_the_scale_is_checked_at_its_float32_edges():
    scaled = Interactions.from_arrays([1], ["a"], [4.0], rating_scale=(1, 4.7))
    current = BiasedMF(n_factors=1, n_epochs=1).fit(scaled)
    edge = Interactions.from_arrays([1, 2], ["a", "b"], [1.0, 4.7])  # float32's 4.7
    assert with_current_scale(edge, current).rating_scale == (1.0, 4.7)
    with pytest.raises(ValueError, match=r"user '2', item 'b', rating 4.8"):
        with_current_scale(Interactions.from_arrays([1, 2], ["a", "b"], [1.0, 4.8]), current)


def test_events_and_unscaled_versions_are_left_as_they_are():
    plays = Interactions.from_arrays([1, 2], ["a", "b"], None)
    unscaled = ImplicitALS(n_factors=1, n_epochs=1).fit(plays)
    stars = Interactions.from_arrays([1, 2], ["a", "b"], [400.0, -3.0])
    assert current_scale(unscaled) is None
    assert with_current_scale(stars, unscaled) is stars
    scaled = BiasedMF(n_factors=1, n_epochs=1).fit(
        Interactions.from_arrays([1], ["a"], [4.0], rating_scale=(1, 5))
    )
    assert with_current_scale(plays, scaled) is plays


def store_by_hand(db, value_sql: str, ts_sql: str = str(T_NEW + 500)):
    """A rating written into the SQLite file past the store's checks, as an operator's
    ``INSERT`` would: SQLite keeps text in a REAL column, and 9e999 is infinity."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO lr_ratings (user_id, item_id, kind, value, ts) "
            f"VALUES ('7', '105', 'explicit', {value_sql}, {ts_sql})"
        )
    conn.close()


@pytest.mark.parametrize(
    "value_sql, ts_sql, said",
    [
        ("'NaN'", str(T_NEW + 500), "its value 'NaN' is no finite number"),
        ("9e999", str(T_NEW + 500), "its value inf is no finite number"),
        ("1e300", str(T_NEW + 500), "its value 1e+300 is too large for a rating (float32)"),
        ("4.0", "'nan'", "its time 'nan' is no finite number"),
    ],
    ids=["nan-text", "infinity", "too-large", "nan-time"],
)
def test_a_rating_no_training_can_take_refuses_the_retrain_naming_user_and_item(
    published, value_sql, ts_sql, said
):
    """Before, the read named the rating by its position in the read ("at rows 1203"),
    and the retrain took that for "nothing to train on": exit 0, ``ok: true``."""
    from latentrec.store import StoreError, open_store

    db, models = published
    store_by_hand(db, value_sql, ts_sql)
    r = retrain_cli(db, models)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert lines[0].startswith(
        "Error: the store holds 1 explicit rating(s) that cannot be trained on, "
        "e.g. user '7', item '105': "
    ), lines[0]
    assert said in lines[0] and "they are not skipped" in lines[0]
    assert "at rows" not in lines[0]
    # The route that deletes it, for this user and item (it said the route's template).
    assert "(DELETE /users/7/ratings/105 for this one)" in lines[0], lines[0]
    md = ModelDirectory(models)
    assert md.current().name == "v000001" and [v.name for v in md.versions()] == ["v000001"]
    status = read_retrain_status(models)
    assert status["ok"] is False and status["published"] is False
    assert "user '7', item '105'" in status["reason"]
    r = retrain_cli(db, models, "--json")
    assert r.exit_code == 1 and "user '7', item '105'" in r.output
    # The store's own read says the same, as a StoreError.
    with open_store(db) as store, pytest.raises(StoreError, match="user '7', item '105'"):
        store.interactions(kind="explicit")


def test_a_too_small_stored_value_is_named_too(published):
    """1e-50 would be 0 as float32: a rating that silently became no rating."""
    db, models = published
    store_by_hand(db, "1e-50")
    r = retrain_cli(db, models)
    assert r.exit_code == 1, r.output
    assert "user '7', item '105': its value 1e-50 is too close to 0" in r.output
