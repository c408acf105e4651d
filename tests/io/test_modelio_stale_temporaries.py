"""A save killed outright (SIGKILL, the out-of-memory killer) left its temporary file
(``.model.npz.XXXXXXXX.tmp``: hidden, as big as the model) for good, one more for every
killed save.  The next save to that file removes it now; a temporary file a live save is
writing is never removed, however old, nor one just made, nor any other file.

The children are real processes, each stopped with its temporary file complete, just
before its rename (a marker file says so: no timing guess); ages are set with utime.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import latentrec
from latentrec import Interactions
from latentrec.io.atomic import STALE_AFTER, atomic_path, sweep
from latentrec.models import Popularity

SRC = str(Path(latentrec.__file__).resolve().parents[1])

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from latentrec import Interactions
    from latentrec.models import Popularity

    folder = os.path.realpath(sys.argv[1])
    real_fsync = os.fsync

    def fsync(fd):
        where, name = os.path.split(os.readlink(f"/proc/self/fd/{fd}"))
        if where == folder and name.endswith(".tmp"):
            open(os.path.join(folder, f"stopped-{os.getpid()}"), "w").write(name)
            time.sleep(120)
        return real_fsync(fd)

    os.fsync = fsync
    Popularity().fit(Interactions.from_dense(np.eye(3) + 1)).save(
        os.path.join(folder, "model.npz"))
    """
)

LONG_AGO = time.time() - 10 * STALE_AFTER


def stopped_saves(folder: Path, n: int) -> tuple[list[subprocess.Popen], dict[int, str]]:
    """``n`` children saving folder/model.npz, each stopped before its rename; their
    temporary files' names by pid."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(n)
    ]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("stopped-*"))) < n:
        for child in children:
            assert child.poll() is None, child.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the saves never reached their renames"
        time.sleep(0.02)
    names = {int(p.name.split("-")[1]): p.read_text() for p in folder.glob("stopped-*")}
    for p in folder.glob("stopped-*"):
        p.unlink()
    return children, names


def test_the_next_save_removes_what_a_killed_save_left_and_spares_a_live_one(tmp_path):
    (killed, alive), names = stopped_saves(tmp_path, 2)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        left, writing = tmp_path / names[killed.pid], tmp_path / names[alive.pid]
        for path in (left, writing):
            assert path.stat().st_size > 0
            os.utime(path, (LONG_AGO, LONG_AGO))
        Popularity().fit(Interactions.from_dense(np.eye(4) + 1)).save(tmp_path / "model.npz")
        assert not left.exists()
        assert writing.exists()  # its save is alive: it holds the file
        assert latentrec.load(tmp_path / "model.npz").n_users == 4
    finally:
        for child in (killed, alive):
            if child.poll() is None:
                child.kill()
            child.wait(10)
    # Once its save is gone too, the next save removes it.
    Popularity().fit(Interactions.from_dense(np.eye(2) + 1)).save(tmp_path / "model.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_only_old_unheld_temporary_files_of_that_name_are_removed(tmp_path):
    target = tmp_path / "m.npz"
    names = {
        ".m.npz.k2x8q0z1.tmp": True,  # a killed save's
        ".m.npz.abcd_123.tmp": True,
        ".m.npz.young000.tmp": False,  # just made: its writer may not hold it yet
        ".other.npz.k2x8q0z1.tmp": False,  # another file's
        ".m.npz.tmp": False,  # not a name a save makes
        "m.npz.k2x8q0z1.tmp": False,
        ".m.npz.k2x8q0z1.tmp.bak": False,
        ".m.npz.K2X8Q0Z1.tmp": False,
    }
    for name in names:
        (tmp_path / name).write_text("x")
        if "young" not in name:
            os.utime(tmp_path / name, (LONG_AGO, LONG_AGO))
    (tmp_path / ".m.npz.folder00.tmp").mkdir()
    os.utime(tmp_path / ".m.npz.folder00.tmp", (LONG_AGO, LONG_AGO))
    removed = sweep(target)
    assert removed == sorted(n for n, gone in names.items() if gone)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [n for n, gone in names.items() if not gone] + [".m.npz.folder00.tmp"]
    )


def test_a_write_holds_its_own_temporary_file_while_it_lasts(tmp_path):
    target = tmp_path / "t.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("partial")
        os.utime(tmp, (LONG_AGO, LONG_AGO))
        assert sweep(target) == []  # held by this write
        assert tmp.exists()
    assert target.read_text() == "partial"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
