"""A published version's model file is checked against the SHA-256 recorded at its publish.

Before, a version's ``model.npz`` written over after its publish (``latentrec train ... -o
models/versions/v000001/model.npz``) was loaded by the service, by rollback and by a
retrain under the old version's name and figures, without a word.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.errors import ModelFileError
from latentrec.models import Biases, GlobalMean
from latentrec.service import versions as versions_module
from latentrec.service.versions import ChangedVersionError, ModelDirectory, inside_versions

DATA = Interactions.from_dense(np.array([[5, 3, 0], [4, 1, 2], [0, 2, 5]]))


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def record_of(md: ModelDirectory, name: str) -> dict:
    return json.loads((md.path / "versions" / name / "version.json").read_text())


def strip_digest(md: ModelDirectory, name: str) -> None:
    """Make a version look as a publish before digests were recorded left it."""
    info = record_of(md, name)
    del info["sha256"]
    (md.path / "versions" / name / "version.json").write_text(json.dumps(info))


def test_publish_records_the_files_digest_and_loads_check_it(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(Biases().fit(DATA))
    assert v1.sha256 == record_of(md, "v000001")["sha256"] == sha256(v1.path)
    version, model = md.load_current()
    assert version.sha256 == v1.sha256 and type(model).__name__ == "Biases"

    # Another model saved over it: refused wherever the directory loads it.
    GlobalMean().fit(DATA).save(v1.path)
    for load in (md.load_current, lambda: md.load_version("v000001"), lambda: md.verify(v1)):
        with pytest.raises(ChangedVersionError, match="v000001/model.npz has changed since"):
            load()
    md.publish(Biases(regularization=3.0).fit(DATA))
    with pytest.raises(ChangedVersionError, match="v000001"):
        md.rollback()
    assert md.read_pointer() == "v000002"


def test_a_missing_model_file_is_named(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(Biases().fit(DATA))
    os.unlink(v1.path)
    with pytest.raises(ModelFileError, match="no model file at .*v000001/model.npz"):
        md.load_current()


def test_a_version_published_before_digests_loads_and_gets_one(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(Biases().fit(DATA))
    strip_digest(md, "v000001")
    assert md.version("v000001").sha256 == ""

    listed = CliRunner().invoke(main, ["models", "list", "--model-dir", str(md.path)])
    assert listed.exit_code == 0 and "warning" not in listed.stderr, listed.output
    # The listing recorded it; the rest of the record is as it was.
    assert record_of(md, "v000001")["sha256"] == sha256(v1.path)
    assert record_of(md, "v000001")["created"] == v1.created
    version, _ = md.load_current()
    assert version.sha256 == sha256(v1.path)

    GlobalMean().fit(DATA).save(v1.path)  # from now on a change is caught
    with pytest.raises(ChangedVersionError):
        md.load_current()


def test_recording_a_digest_never_waits_for_a_writer(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(Biases().fit(DATA))
    strip_digest(md, "v000001")
    held, release = threading.Event(), threading.Event()

    def writer():
        with md.locked():  # a publish or prune in another thread holds the lock
            held.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(30)
        version, _ = md.load_current()  # would hang here if it waited for the lock
        assert version.sha256 == sha256(v1.path)
        assert "sha256" not in record_of(md, "v000001")  # left for a later load
    finally:
        release.set()
        thread.join(30)
    md.load_current()
    assert record_of(md, "v000001")["sha256"] == sha256(v1.path)


def test_a_file_replaced_during_the_load_is_refused(tmp_path, monkeypatch):
    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(Biases().fit(DATA))
    real_load = versions_module.load

    def load_then_overwritten(path):
        model = real_load(path)
        GlobalMean().fit(DATA).save(path)  # a write landing after the digest was checked
        return model

    monkeypatch.setattr(versions_module, "load", load_then_overwritten)
    with pytest.raises(ChangedVersionError, match="replaced while v000001 was being loaded"):
        md.load_version(v1)


def test_readers_never_refuse_versions_published_and_pruned_meanwhile(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    md.publish(Biases().fit(DATA))
    problems: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                version, model = ModelDirectory(md.path).load_current()
                assert len(version.sha256) == 64 and model.is_fitted
            except BaseException as err:  # reported below, from the main thread
                problems.append(err)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for r in range(6):
            md.publish(Biases(regularization=float(r + 1)).fit(DATA))
            md.prune(keep=2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert problems == []


def test_inside_versions(tmp_path, monkeypatch):
    md = ModelDirectory(tmp_path / "models")
    assert not inside_versions(md.path / "versions" / "v000001" / "model.npz")  # never written
    v1 = md.publish(Biases().fit(DATA))
    assert inside_versions(v1.path)
    assert inside_versions(md.path / "versions" / "v000002" / "model.npz")  # not there yet
    assert inside_versions(md.path / "versions" / ".staging-x" / "model.npz")
    assert not inside_versions(md.path / "versions")
    assert not inside_versions(md.path / "model.npz")
    assert not inside_versions(tmp_path / "elsewhere" / "versions" / "v1" / "m.npz")

    # Through a link to a version's file or folder, and as a relative path.
    link = tmp_path / "latest.npz"
    link.symlink_to(v1.path)
    assert inside_versions(link)
    (tmp_path / "v1").symlink_to(v1.folder)
    assert inside_versions(tmp_path / "v1" / "model.npz")
    monkeypatch.chdir(md.path)
    assert inside_versions("versions/v000001/model.npz")
    assert not inside_versions("model.npz")


def test_the_service_hashes_a_refused_current_file_once_until_it_changes(tmp_path, monkeypatch):
    """The holder asks its source again every poll round while CURRENT names a version
    it does not serve: a file refused for its digest is not read again (a model of
    gigabytes would keep every worker hashing) until CURRENT or the file changes."""
    from latentrec.models import FactorModel
    from latentrec.service.holder import DirectorySource

    def model(scale):
        return FactorModel.from_factors(([1, 2], [7, 8]), scale * np.eye(2), np.eye(2))

    md = ModelDirectory(tmp_path / "models")
    md.publish(model(1.0))
    source = DirectorySource(md)
    assert source.load().version == "v000001"
    v2 = md.publish(model(2.0))
    model(3.0).save(v2.path)  # written over after its publish
    hashed = []
    digest = versions_module.file_digest
    monkeypatch.setattr(
        versions_module, "file_digest", lambda path: hashed.append(path) or digest(path)
    )
    for _ in range(4):
        with pytest.raises(ChangedVersionError, match="v000002/model.npz has changed"):
            source.load()
    assert len(hashed) == 1
    model(4.0).save(v2.path)  # the file changes again: checked again
    with pytest.raises(ChangedVersionError):
        source.load()
    assert len(hashed) == 2
    md.rollback(to="v000001")  # checks its target (a hash); CURRENT changes: loaded
    assert source.load().version == "v000001" and len(hashed) == 4


def test_the_refusal_kept_neither_grows_nor_outlives_a_file_put_back(tmp_path):
    """The refusal raised again carries no older rounds' frames; and a file damaged and
    put back in place with its old mtime (ctime moves) is loaded, not refused from memory."""
    import traceback

    from latentrec.models import FactorModel
    from latentrec.service.holder import DirectorySource

    md = ModelDirectory(tmp_path / "models")
    v1 = md.publish(FactorModel.from_factors(([1, 2], [7, 8]), np.eye(2), np.eye(2)))
    source = DirectorySource(md)
    good = v1.path.read_bytes()
    stat = v1.path.stat()
    damaged = bytearray(good)
    damaged[-100] ^= 0xFF  # same size, another digest
    v1.path.write_bytes(bytes(damaged))
    os.utime(v1.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    depths = []
    for _ in range(5):
        with pytest.raises(ModelFileError) as info:
            source.load()
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert len(set(depths[1:])) == 1, depths  # no pile of frames round after round
    v1.path.write_bytes(good)
    os.utime(v1.path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.load().version == "v000001"
