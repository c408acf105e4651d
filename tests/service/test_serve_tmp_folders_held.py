"""``serve``'s temporary folders and the sweep of a dead ``serve``'s, after review.

* A ``serve`` that has the pid of the ``serve`` before it (pid 1 of a container that its
  restart policy started again, its files kept, after the out-of-memory killer ended it)
  took that one's folders for its own and never removed them.
* The workers of a ``serve`` killed outright go on for their graceful stop (and, where
  nothing ends them with it, for good), writing their metrics in its folder; held locked
  by ``serve`` alone, that folder went to the next ``serve``'s sweep meanwhile.
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
    MULTIPROC_ENV,
    OWNED_FOLDER,
    WORKER_FAILURES_ENV,
    clean_up,
    hold_serve_folders,
    locked_by_another,
    make_temp_folder,
    sweep_dead_folders,
)
from latentrec.service.settings import SETTINGS_ENV, Settings
from service.test_serve_tmp_sweep import end, ended_pid

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

# A worker of serve as serve starts it: builds its app (worker_app), says so, and serves
# on (here: waits).
A_WORKER = """
import time
from latentrec.cli.serve import worker_app
worker_app()
print("ready", flush=True)
time.sleep(120)
"""

# Far above a process's start with the service's imports.
READY_BOUND_SECONDS = 60


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
    folder = make_temp_folder("metrics")
    assert locked_by_another(folder)
    held = descriptors_in(tmp_path)
    assert held  # the lock's descriptor, on the folder or a file in it
    clean_up(None, [folder])
    assert not os.path.exists(folder)
    # The lock's descriptor closed.  Only those on the test's own folder are counted:
    # the whole process's count also moves with other threads and the collector.
    assert descriptors_in(tmp_path) == []


def descriptors_in(where) -> list[str]:
    """What this process's open descriptors point at under ``where`` (deleted included)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed meanwhile
            continue
        if target.startswith(str(where)):
            found.append(target)
    return found


def serve_folders_of(pid: int, where) -> dict[str, str]:
    """The environment a worker of a serve ``pid`` gets, naming its two folders (made)."""
    env = {}
    for name, kind in ((MULTIPROC_ENV, "metrics"), (WORKER_FAILURES_ENV, "workers")):
        folder = where / f"latentrec-{kind}-{pid}-abcd1234"
        folder.mkdir()
        env[name] = str(folder)
    return env


def test_a_killed_serves_folders_stay_while_one_of_its_workers_runs(tmp_path, model_files):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    folders = serve_folders_of(ended_pid(), temporary)
    settings = Settings(model_path=str(model_files["explicit"]), store_url=str(tmp_path / "s.db"))
    env = {**os.environ, **folders, SETTINGS_ENV: settings.to_json()}
    worker = subprocess.Popen(
        [sys.executable, "-c", A_WORKER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout.readline() == "ready\n"
        assert sweep_dead_folders(temporary) == []
        assert sorted(os.listdir(temporary)) == sorted(
            os.path.basename(f) for f in folders.values()
        )
    finally:
        end(worker)
    assert sweep_dead_folders(temporary) == sorted(folders.values())


def test_a_worker_holds_only_the_folders_serve_made(tmp_path):
    mine = tmp_path / "my-metrics"
    mine.mkdir()
    assert hold_serve_folders({MULTIPROC_ENV: str(mine)}) == []
    assert not locked_by_another(str(mine))
    assert hold_serve_folders({}) == []


def test_where_the_file_system_refuses_flock_the_pid_alone_decides(tmp_path, monkeypatch):
    """TMPDIR on a file system that takes no lock (NFS mounted without locks: ENOLCK):
    serve still makes its folders, keeps its own, and sweeps a dead serve's."""
    import errno

    def refused(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(supervisor.fcntl, "flock", refused)
    left = tmp_path / f"latentrec-workers-{ended_pid()}-abcd1234"
    left.mkdir()
    made = make_temp_folder("metrics")
    try:
        assert not locked_by_another(made)
        assert sweep_dead_folders(tmp_path) == [str(left)]
        assert os.listdir(tmp_path) == [os.path.basename(made)]
    finally:
        clean_up(None, [made])


def test_a_new_folder_has_a_name_the_sweep_reads_only_once_it_is_locked(tmp_path, monkeypatch):
    """Made under its name and locked after, a new folder was open to the sweep of a
    serve in another pid namespace (this pid says nothing there) in between."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    hold = supervisor.hold_folder
    seen = []

    def watched(folder):
        seen.append(sorted(n for n in os.listdir(tmp_path) if OWNED_FOLDER.fullmatch(n)))
        return hold(folder)

    monkeypatch.setattr(supervisor, "hold_folder", watched)
    made = make_temp_folder("workers")
    try:
        assert seen == [[]]
        assert os.listdir(tmp_path) == [os.path.basename(made)]
        assert OWNED_FOLDER.fullmatch(os.path.basename(made))
        assert locked_by_another(made)
    finally:
        clean_up(None, [made])
    assert os.listdir(tmp_path) == []
