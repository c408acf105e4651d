"""``models list`` hashes only the files that changed since a listing found them intact.

Before, every listing hashed every version's model file (fifty versions of a large model:
gigabytes read for a table).  A listing now remembers each intact file's identity (device,
inode, size, modification and change times) in ``DIR/.checked.json`` and hashes a file
again only when that moved; these tests check that every change the hashing caught
before is still caught, and that the unchanged files are not read.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import Interactions
from latentrec.cli import main
from latentrec.models import Biases
from latentrec.service import versions as versions_module
from latentrec.service.versions import ChangedVersionError, ModelDirectory

DATA = Interactions.from_dense(np.array([[5, 3, 0], [4, 1, 2], [0, 2, 5]]))
# The settling time the tests use instead of two seconds: still many ticks of the clock
# the file system stamps times with (a jiffy, at most 10 ms), so the tests keep its sense.
SETTLE_S = 0.1


@pytest.fixture
def hashed(monkeypatch):
    """The model files hashed, in order, with the settling time shortened."""
    monkeypatch.setattr(versions_module, "SETTLED_NS", int(SETTLE_S * 1e9))
    seen: list[str] = []
    digest = versions_module.file_digest
    monkeypatch.setattr(
        versions_module, "file_digest", lambda path: seen.append(os.fspath(path)) or digest(path)
    )
    return seen


def published(tmp_path, hashed, n=3) -> ModelDirectory:
    """A model directory of ``n`` versions, settled, its publishes' hashes forgotten."""
    md = ModelDirectory(tmp_path / "models")
    for r in range(n):
        md.publish(Biases(regularization=float(r + 1)).fit(DATA))
    time.sleep(2 * SETTLE_S)
    hashed.clear()
    return md


def listed(md: ModelDirectory, *options) -> dict[str, dict]:
    args = ["models", "list", "--model-dir", str(md.path), "--json", *options]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    return {row["name"]: row for row in json.loads(out.stdout)}


def names(paths) -> list[str]:
    return [os.path.basename(os.path.dirname(p)) for p in paths]


def test_a_second_listing_hashes_nothing_unchanged(tmp_path, hashed):
    md = published(tmp_path, hashed)
    first = listed(md)
    assert names(hashed) == ["v000001", "v000002", "v000003"]
    hashed.clear()
    assert listed(md) == first
    assert hashed == []
    # A load still hashes the whole file, whatever a listing remembers.
    md.load_current()
    assert names(hashed) == ["v000003"]
    hashed.clear()
    listed(md, "--rehash")
    assert names(hashed) == ["v000001", "v000002", "v000003"]


@pytest.mark.parametrize("how", ["replaced", "in place, mtime put back", "same bytes copied"])
def test_a_file_changed_after_a_listing_is_hashed_again_and_caught(tmp_path, hashed, how):
    md = published(tmp_path, hashed)
    listed(md)
    v2 = md.version("v000002")
    if how == "replaced":  # another model saved over it (a new file renamed into place)
        Biases(regularization=9.0).fit(DATA).save(v2.path)
    elif how == "in place, mtime put back":  # same size, same mtime: only ctime moves
        before = os.stat(v2.path)
        raw = bytearray(v2.path.read_bytes())
        raw[-100] ^= 0xFF
        with open(v2.path, "r+b") as fh:
            fh.write(raw)
        os.utime(v2.path, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(v2.path)
        assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    else:  # the same bytes under a new inode: hashed again, and found intact
        copy = tmp_path / "copy.npz"
        shutil.copy2(v2.path, copy)
        os.replace(copy, v2.path)
    hashed.clear()
    rows = listed(md)
    assert names(hashed) == ["v000002"]
    if how == "same bytes copied":
        assert rows["v000002"]["damaged"] is None
    else:
        assert "has changed since v000002 was published" in rows["v000002"]["damaged"]
        with pytest.raises(ChangedVersionError):
            md.load_version("v000002")
    assert rows["v000001"]["damaged"] is None and rows["v000003"]["damaged"] is None


def test_a_damaged_file_is_never_remembered(tmp_path, hashed):
    md = published(tmp_path, hashed)
    Biases(regularization=9.0).fit(DATA).save(md.version("v000001").path)
    time.sleep(2 * SETTLE_S)
    for _ in range(2):
        hashed.clear()
        assert listed(md)["v000001"]["damaged"]
        assert "v000001" in names(hashed)


def test_a_file_changed_too_recently_is_not_remembered(tmp_path):
    """A write in the same tick of the file system's clock as the last one could leave
    every time as it was: a file is remembered only once it has settled (2 s)."""
    md = ModelDirectory(tmp_path / "models")
    md.publish(Biases().fit(DATA))
    listed(md)
    remembered = tmp_path / "models" / ".checked.json"
    assert not remembered.exists() or json.loads(remembered.read_text()) == {}


def test_a_copied_directory_hashes_again(tmp_path, hashed):
    md = published(tmp_path, hashed, n=2)
    listed(md)
    copy = ModelDirectory(shutil.copytree(md.path, tmp_path / "copy", copy_function=shutil.copy2))
    hashed.clear()
    listed(copy)
    assert names(hashed) == ["v000001", "v000002"]


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"v000001": 3}'])
def test_a_damaged_memory_only_costs_a_hash(tmp_path, hashed, content):
    md = published(tmp_path, hashed, n=2)
    (md.path / ".checked.json").write_text(content)
    rows = listed(md)
    assert names(hashed) == ["v000001", "v000002"]
    assert [r["damaged"] for r in rows.values()] == [None, None]
    hashed.clear()
    listed(md)
    assert hashed == []


def test_a_version_published_before_digests_is_hashed_until_it_has_one(tmp_path, hashed):
    md = published(tmp_path, hashed, n=1)
    record = md.path / "versions" / "v000001" / "version.json"
    info = json.loads(record.read_text())
    del info["sha256"]
    record.write_text(json.dumps(info))
    with md.locked():  # the digest cannot be recorded: the listing must not trust its memory
        listed(md)
        listed(md)
    assert names(hashed) == ["v000001", "v000001"]
    assert "sha256" not in json.loads(record.read_text())
    listed(md)  # the lock is free: recorded now
    assert json.loads(record.read_text())["sha256"]
