"""A publisher or prune killed outright leaves a hidden folder as big as a model in
``versions/``; the next publish or prune removes it, never a live publisher's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

import latentrec
from latentrec.models import GlobalMean
from latentrec.service.versions import ModelDirectory

# A child that publishes into argv[1] and stops inside its model save: killed by its own
# SIGKILL ("kill"), or waiting ("wait") until argv[2] appears while it holds its staging.
CHILD = """
import os, signal, sys, time
from pathlib import Path
import numpy as np, latentrec
from latentrec.models import GlobalMean
from latentrec.service.versions import ModelDirectory

model = GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))
real_save = type(model).save

def save(path):
    real_save(model, path)
    print("saving", flush=True)
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.02)

model.save = save
ModelDirectory(sys.argv[1]).publish(model)
print("published", flush=True)
"""


def model():
    return GlobalMean().fit(latentrec.Interactions.from_dense(np.eye(2) + 1))


def hidden(md):
    return sorted(n for n in os.listdir(md.path / "versions") if n.startswith("."))


def child(md, go, how):
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(md.path), str(go), how],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "saving"
    return proc


def age(md, name, seconds=3600):
    folder = md.path / "versions" / name
    past = time.time() - seconds
    os.utime(folder, (past, past))


def test_a_killed_publishers_folder_is_removed_by_the_next_publish(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    md.publish(model())
    proc = child(md, tmp_path / "never", "kill")
    assert proc.wait(timeout=60) == -signal.SIGKILL
    (left,) = hidden(md)
    assert left.startswith(".staging-")
    assert (md.path / "versions" / left / "model.npz").exists()  # as big as a model

    md.publish(model())  # too fresh yet: a folder made an instant ago may be a live one's
    assert hidden(md) == [left]
    age(md, left)
    assert md.publish(model()).name == "v000003"
    assert hidden(md) == []
    assert [v.name for v in md.versions()] == ["v000001", "v000002", "v000003"]


def test_a_live_publishers_folder_is_kept_however_old(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    go = tmp_path / "go"
    proc = child(md, go, "wait")
    try:
        (live,) = hidden(md)
        age(md, live)
        md.publish(model())
        assert md.prune(1) == []  # the current one is the only one
        assert hidden(md) == [live]
    finally:
        go.touch()
    assert proc.communicate(timeout=60)[0].strip() == "published"
    assert proc.returncode == 0
    assert hidden(md) == []
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]
    assert "version.json" in os.listdir(md.path / "versions" / "v000002")
    assert ".held" not in os.listdir(md.path / "versions" / "v000002")


def test_a_killed_prunes_trash_is_removed_by_the_next_prune(tmp_path):
    md = ModelDirectory(tmp_path / "models")
    for _ in range(3):
        md.publish(model())
    trash = md.path / "versions" / ".trash-v000001-4242"
    os.rename(md.path / "versions" / "v000001", trash)  # a prune killed mid-delete
    assert md.prune(1) == ["v000002"]
    assert hidden(md) == []


def test_a_publish_whose_pointer_cannot_be_written_leaves_no_version(tmp_path, monkeypatch):
    """A full disk while CURRENT is replaced: the version folder was already in place,
    listed and never current (one more each retrain round)."""
    import errno

    from latentrec.service import versions

    md = ModelDirectory(tmp_path / "models")
    md.publish(model())
    real = versions.atomic_path

    def full(path, **kwargs):
        if os.path.basename(path) == "CURRENT":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, **kwargs)

    monkeypatch.setattr(versions, "atomic_path", full)
    try:
        md.publish(model())
    except OSError as err:
        assert err.errno == errno.ENOSPC
    else:
        raise AssertionError("the publish said it succeeded")
    assert [v.name for v in md.versions()] == ["v000001"]
    assert md.read_pointer() == "v000001" and hidden(md) == []
    monkeypatch.setattr(versions, "atomic_path", real)
    assert md.publish(model()).name == "v000002"  # the number was not used up


def test_a_publish_whose_history_line_fails_is_still_the_current_version(tmp_path, monkeypatch):
    """Once CURRENT names the new version the publish happened: it is not taken back."""
    import builtins

    md = ModelDirectory(tmp_path / "models")
    md.publish(model())
    real_open = builtins.open

    def no_history(path, *args, **kwargs):
        if os.path.basename(str(path)) == "history.jsonl":
            raise OSError(28, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_history)
    try:
        md.publish(model())
    except OSError:
        pass
    monkeypatch.setattr(builtins, "open", real_open)
    assert md.read_pointer() == "v000002"
    assert [v.name for v in md.versions()] == ["v000001", "v000002"]
