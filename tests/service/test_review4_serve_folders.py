"""``serve``'s temporary folders and the sweep of a dead ``serve``'s, after review.

* A ``serve`` that has the pid of the ``serve`` before it (pid 1 of a container that its
  restart policy started again, its files kept, after the out-of-memory killer ended it)
  took that one's folders for its own and never removed them.
* ``make_temp_folder``'s lock and its release had no test: taking none, or never
  letting go of it, passed every test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from latentrec.cli import supervisor
from latentrec.cli.supervisor import (
    clean_up,
    locked_by_another,
    make_temp_folder,
    sweep_dead_folders,
)

# Makes serve's two folders, then becomes (exec: the same pid, nothing of the first
# program left) a process that sweeps and says what it removed and what is left.
SAME_PID_AGAIN = """
import os, sys
from latentrec.cli.supervisor import make_temp_folder
make_temp_folder("metrics"), make_temp_folder("workers")
sweep = (
    "import json, os, tempfile; from latentrec.cli.supervisor import sweep_dead_folders; "
    "removed = sweep_dead_folders(); "
    "print(json.dumps([len(removed), os.listdir(tempfile.gettempdir())]))"
)
os.execv(sys.executable, [sys.executable, "-c", sweep])
"""


def test_a_folder_with_this_process_pid_that_it_did_not_make_is_swept(tmp_path):
    left = tmp_path / f"latentrec-metrics-{os.getpid()}-abcd1234"
    left.mkdir()
    (left / "counter_7.db").write_bytes(b"\0")
    assert sweep_dead_folders(tmp_path) == [str(left)]
    assert os.listdir(tmp_path) == []


def test_a_serve_with_the_pid_of_the_one_before_it_removes_that_ones_folders(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-c", SAME_PID_AGAIN]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [2, []]


def test_the_folders_this_process_made_stay_even_where_nothing_can_be_locked(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(supervisor, "fcntl", None)
    made = [make_temp_folder("metrics"), make_temp_folder("workers")]
    try:
        assert not any(locked_by_another(folder) for folder in made)
        assert sweep_dead_folders(tmp_path) == []
        assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(f) for f in made)
    finally:
        clean_up(None, made)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_a_made_folder_is_held_locked_until_clean_up_lets_go_of_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = len(os.listdir("/proc/self/fd"))
    folder = make_temp_folder("metrics")
    assert locked_by_another(folder)
    clean_up(None, [folder])
    assert not os.path.exists(folder)
    assert len(os.listdir("/proc/self/fd")) == before  # the lock's descriptor closed
