"""A process killed (SIGKILL: no handler runs) while it saves over an existing model,
pipeline or .lrdata file leaves the old file intact under its name (its temporary file
stays behind: nothing runs in the killed process to remove it; the next save to a model
or pipeline file does, tests/io/test_modelio_stale_temporaries.py); and a save flushes
the new file and then its folder to disk around the rename, so an acknowledged save
survives a power cut."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import latentrec
from latentrec import Interactions
from latentrec.data.lrdata import read_lrdata
from latentrec.models import Biases, Popularity

SRC = str(Path(latentrec.__file__).resolve().parents[1])
KINDS = {"model": "model.npz", "pipeline": "pipe.npz", "lrdata": "data.lrdata"}

# The child saves the three files at once, one thread each.  Each save stops when its
# temporary file is complete, just before the rename (the moment a non-atomic save would
# have the target half replaced), and the child is killed with all three stopped there.
CHILD = textwrap.dedent(
    """
    import os, sys, threading, time
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import Biases, Popularity
    from latentrec.pipeline import Pipeline

    folder = os.path.realpath(sys.argv[1])
    real_fsync = os.fsync

    def fsync(fd):
        where, name = os.path.split(os.readlink(f"/proc/self/fd/{fd}"))
        # (The pipeline's candidate is saved to a temporary folder first: not stopped.)
        if where == folder and name.startswith(".") and name.endswith(".tmp"):
            open(os.path.join(folder, "stopped-" + name), "w").close()
            time.sleep(60)
        return real_fsync(fd)

    os.fsync = fsync
    data = Interactions.from_dense(np.arange(1, 21, dtype=float).reshape(4, 5))
    saves = [
        lambda: Biases().fit(data).save(os.path.join(folder, "model.npz")),
        lambda: Pipeline(Popularity(), n_candidates=3).fit(data).save(
            os.path.join(folder, "pipe.npz")),
        lambda: data.to_lrdata(os.path.join(folder, "data.lrdata")),
    ]
    for save in saves:
        threading.Thread(target=save, daemon=True).start()
    time.sleep(60)
    """
)


def test_saves_killed_before_their_rename_leave_the_old_files(tmp_path):
    from latentrec.pipeline import Pipeline

    old = Interactions.from_dense(np.eye(3) + 1)
    Biases().fit(old).save(tmp_path / "model.npz")
    Pipeline(Popularity(), n_candidates=2).fit(old).save(tmp_path / "pipe.npz")
    old.to_lrdata(tmp_path / "data.lrdata")
    before = {name: (tmp_path / name).read_bytes() for name in KINDS.values()}
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("stopped-*"))) < len(KINDS):
            assert child.poll() is None, child.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the saves never reached their renames"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    # Each new file was complete under its temporary name: the kill came mid-save.
    stopped = sorted(p.name[len("stopped-") :] for p in tmp_path.glob("stopped-*"))
    assert all((tmp_path / name).stat().st_size > 0 for name in stopped), stopped
    for name in KINDS.values():
        assert (tmp_path / name).read_bytes() == before[name], name
    assert latentrec.load(tmp_path / "model.npz").n_users == old.n_users
    assert latentrec.load(tmp_path / "pipe.npz").n_users == old.n_users
    assert read_lrdata(Interactions, tmp_path / "data.lrdata").fingerprint() == old.fingerprint()


@pytest.mark.parametrize("kind", ["model", "lrdata"])
def test_a_save_flushes_the_file_then_renames_then_flushes_the_folder(tmp_path, monkeypatch, kind):
    path = tmp_path / ("out.lrdata" if kind == "lrdata" else "out.npz")
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        events.append(("fsync-folder" if os.path.isdir(target) else "fsync-file", target))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    data = Interactions.from_dense(np.eye(3) + 1)
    if kind == "model":
        Popularity().fit(data).save(path)
    else:
        data.to_lrdata(path)
    steps = [e[0] for e in events]
    assert steps == ["fsync-file", "replace", "fsync-folder"], events
    assert events[1][1] == str(path) and events[2][1] == str(tmp_path)
    assert Path(events[0][1]).parent == tmp_path and events[0][1] != str(path)
