"""A retrain whose publish meets a full disk says which folder, that nothing was
published and which version stays current.

It said only "Error: [Errno 28] No space left on device", and ``/health``'s
``last_retrain.reason`` the same.  A full disk is made by making one write fail with
``ENOSPC`` (a tmpfs of a set size needs root and mount): the model file's members, the
version's record, or the directory's pointer; each is a step of the same publish.
"""

from __future__ import annotations

import errno
import json
import os
import zipfile

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.service import versions
from latentrec.service.versions import ModelDirectory, PublishWriteError, read_retrain_status

from .retrain_helpers import as_data, timed_frame

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")

T_NEW = 2700  # ratings from here on arrive after v000001 was trained


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def grown(tmp_path):
    """``(store, model directory)``: v000001 trained by ``retrain`` on the older ratings,
    then the newer ones stored, so the next retrain has a candidate to publish."""
    from latentrec.store import open_store

    frame = timed_frame()
    db = tmp_path / "r.db"
    with open_store(db) as store:
        store.import_interactions(as_data(frame[frame["t"] < T_NEW]))
    first = run("retrain", "--store", db, "--model-dir", tmp_path / "m", "-a", "biases")
    assert first.exit_code == 0 and "published v000001" in first.output, first.output
    with open_store(db) as store:
        store.import_interactions(as_data(frame[frame["t"] >= T_NEW]))
    return db, tmp_path / "m"


def fill_the_disk(monkeypatch, where: str) -> None:
    """Make one write of a publish fail as a full disk fails it."""
    if where == "model file":

        def writestr(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
        return
    real = versions.atomic_path
    name = {"version record": versions.VERSION_FILE, "pointer": versions.POINTER}[where]

    def full(path, **kwargs):
        if os.path.basename(path) == name:
            raise OSError(errno.ENOSPC, "No space left on device", f"{path}.k2x7.tmp")
        return real(path, **kwargs)

    monkeypatch.setattr(versions, "atomic_path", full)


@pytest.mark.parametrize("where", ["model file", "version record", "pointer"])
def test_a_full_disk_names_the_folder_and_what_stays_current(grown, monkeypatch, where):
    db, models = grown
    pointer = (models / "CURRENT").read_bytes()
    fill_the_disk(monkeypatch, where)
    said = (
        f"cannot write {models}: no space left on device; nothing was published; "
        "v000001 stays current"
    )
    # Tolerance: any candidate passes the gate, so the publish is reached.
    args = ["retrain", "--store", db, "--model-dir", models, "--tolerance", 10, "--min-holdout", 0]
    r = run(*args)
    assert r.exit_code == 1, r.output
    assert r.stderr.strip().splitlines()[-1] == f"Error: {said}"
    assert "Errno" not in r.output
    assert (models / "CURRENT").read_bytes() == pointer
    assert sorted(os.listdir(models / "versions")) == ["v000001"]  # no staging left
    status = read_retrain_status(models)
    assert status["ok"] is False and status["reason"] == said
    # --json (the schedule's child) says the same in its "error".
    r = run(*args, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout.strip())["error"] == said
    assert sorted(os.listdir(models / "versions")) == ["v000001"]


def test_the_library_raises_an_oserror_with_the_systems_errno(grown, monkeypatch):
    from latentrec.models import GlobalMean

    from .retrain_helpers import constant_data

    _, models = grown
    md = ModelDirectory(models)
    fill_the_disk(monkeypatch, "model file")
    with pytest.raises(PublishWriteError) as raised:
        md.publish(GlobalMean().fit(constant_data(3.0)))
    assert raised.value.errno == errno.ENOSPC and isinstance(raised.value, OSError)
    assert str(raised.value).startswith(f"cannot write {models}: no space left on device;")
    monkeypatch.undo()
    assert md.publish(GlobalMean().fit(constant_data(3.0))).name == "v000002"


def test_a_first_publish_says_no_version_is_current(tmp_path, monkeypatch):
    from latentrec.models import GlobalMean

    from .retrain_helpers import constant_data

    md = ModelDirectory(tmp_path / "fresh")
    fill_the_disk(monkeypatch, "model file")
    with pytest.raises(PublishWriteError, match="nothing was published; no version is current"):
        md.publish(GlobalMean().fit(constant_data(3.0)))


def test_a_failed_history_line_says_the_version_was_published(tmp_path, monkeypatch):
    """The pointer's switch is the publish: a history line that cannot be written after
    it does not make it "nothing was published"."""
    import builtins

    from latentrec.models import GlobalMean

    from .retrain_helpers import constant_data

    md = ModelDirectory(tmp_path / "m")
    md.publish(GlobalMean().fit(constant_data(3.0)))
    real_open = builtins.open

    def no_history(path, *args, **kwargs):
        if os.path.basename(str(path)) == versions.HISTORY:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_history)
    with pytest.raises(PublishWriteError) as raised:
        md.publish(GlobalMean().fit(constant_data(3.0)))
    monkeypatch.setattr(builtins, "open", real_open)
    assert str(raised.value) == (
        f"cannot write {md.path}: no space left on device; v000002 was published and is "
        "current, but history.jsonl may not list it"
    )
    assert md.read_pointer() == "v000002"
