"""``/health`` answers anyone: it names the model source and its reasons relative to the
model directory (or the model file's name), never with the server's absolute paths."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from latentrec.service.app import create_app
from latentrec.service.holder import DirectorySource, FileSource, public_text
from latentrec.service.settings import Settings
from latentrec.service.versions import ModelDirectory, write_retrain_status


@pytest.fixture
def deep(tmp_path):
    """A folder whose absolute path is distinctive, to look for in the answers."""
    folder = tmp_path / "srv-secret-layout" / "app"
    folder.mkdir(parents=True)
    return folder


def health_of(app) -> tuple[dict, str]:
    r = TestClient(app).get("/health")  # not started: the worker's rounds run by hand
    assert r.status_code == 200, r.text
    return r.json(), r.text


def test_a_model_directory_is_shown_by_its_name(deep, explicit_model, store):
    md = ModelDirectory(deep / "models")
    md.publish(explicit_model)
    app = create_app(Settings(), store=store, source=DirectorySource(md))
    health, text = health_of(app)
    assert health["model_source"] == "model directory models"
    assert "srv-secret-layout" not in text

    # A damaged pointer (reload_error) and a failed retrain naming files: relative too.
    (md.path / "CURRENT").write_text("{cut", encoding="utf-8")
    app.state.refresher.follow_source()
    write_retrain_status(md.path, False, f"{md.path.resolve()}/versions/v000001/x is gone")
    app.state.refresher.follow_retrain()
    health, text = health_of(app)
    assert "srv-secret-layout" not in text
    assert health["reload_error"].startswith("models/CURRENT is damaged")
    assert health["last_retrain"]["reason"] == "models/versions/v000001/x is gone"
    assert health["model_version"] == "v000001"


def test_a_model_file_is_shown_by_its_name(deep, explicit_model, store):
    path = deep / "model.npz"
    explicit_model.save(path)
    app = create_app(Settings(), store=store, source=FileSource(path))
    health, text = health_of(app)
    assert health["model_source"] == "model file model.npz"
    assert "srv-secret-layout" not in text
    path.write_bytes(b"not a model")
    app.state.refresher.follow_source()
    health, text = health_of(app)
    assert health["reload_error"] and "srv-secret-layout" not in text, json.dumps(health)


def test_a_retrain_naming_files_outside_the_model_directory_shows_their_names(
    deep, explicit_model, store
):
    """A hand-run `latentrec retrain` whose store was not found: its reason named the
    store's absolute path, and /health showed it to anyone."""
    from click.testing import CliRunner

    from latentrec.cli import main
    from latentrec.service.versions import read_retrain_status

    md = ModelDirectory(deep / "models")
    md.publish(explicit_model)
    app = create_app(Settings(), store=store, source=DirectorySource(md))
    typo = deep / "data" / "typo.db"
    r = CliRunner().invoke(main, ["retrain", "--store", str(typo), "--model-dir", str(md.path)])
    assert r.exit_code == 1 and str(typo) in r.output
    assert str(typo) in read_retrain_status(md.path)["reason"]  # kept in full on disk
    app.state.refresher.follow_retrain()
    health, text = health_of(app)
    assert "srv-secret-layout" not in text
    assert health["last_retrain"]["reason"].startswith("no store at typo.db")


def test_a_refused_reload_names_files_as_health_does(deep, explicit_model, store, caplog):
    """POST /admin/reload answers anyone where no token is set: its 409 named the damaged
    pointer by the server's absolute path."""
    md = ModelDirectory(deep / "models")
    md.publish(explicit_model)
    app = create_app(Settings(), store=store, source=DirectorySource(md))
    (md.path / "CURRENT").write_text("{cut", encoding="utf-8")
    with caplog.at_level("WARNING"):
        r = TestClient(app).post("/admin/reload", params={"force": True})
    assert r.status_code == 409, r.text
    assert "srv-secret-layout" not in r.text
    assert "still serving v000001: models/CURRENT is damaged" in r.json()["detail"]
    assert "srv-secret-layout" in caplog.text  # in full where only the operator reads it


def test_a_path_that_merely_holds_the_model_folders_path_is_not_cut_into(
    deep, explicit_model, store
):
    """The model directory's path was replaced wherever it occurred, inside another path
    too: a store at /data/<models' path>/r.db read "/datar.db" (a file that is nowhere),
    one in a folder beside models named "models2" read "models2"."""
    md = ModelDirectory(deep / "models")
    md.publish(explicit_model)
    app = create_app(Settings(), store=store, source=DirectorySource(md))
    inside = f"/backup{md.path.resolve()}/r.db"
    beside = f"{md.path.resolve()}2/r.db"
    write_retrain_status(md.path, False, f"no store at {inside} nor {beside}")
    app.state.refresher.follow_retrain()
    health, text = health_of(app)
    assert "srv-secret-layout" not in text
    assert health["last_retrain"]["reason"] == "no store at r.db nor r.db"

    path = deep / "model.npz"
    explicit_model.save(path)
    assert public_text(f"no store at /data{deep}/r.db", path.parent, "") == (
        f"no store at /data{deep}/r.db"
    )
    assert public_text(f"model file {path} is cut short", path.parent, "") == (
        "model file model.npz is cut short"
    )
