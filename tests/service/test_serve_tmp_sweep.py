"""The temporary folders of a ``latentrec serve`` killed before its clean-up are removed
by the next ``serve`` start; those of a ``serve`` still running never are.

``serve --workers N`` makes two folders in the temporary directory (the workers' metrics
files, the lines of workers that cannot start) and removes them as it ends.  Killed
(SIGKILL, the out-of-memory killer) it cannot, and before, the folders stayed for good: a
service restarted every day gathered two a day, each with every worker's ``.db`` files.
Now each folder is named with its ``serve``'s pid and held locked while that ``serve``
lives, and each start removes this user's folders whose ``serve`` is gone
(:func:`~latentrec.cli.supervisor.sweep_dead_folders`).  The real tests start real
``serve`` processes on 127.0.0.1 port 0; their waits are bounds, not speed requirements.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from latentrec.cli.supervisor import clean_up, make_temp_folder, sweep_dead_folders
from service.serving import alive
from service.test_serve_exit import STOP_BOUND_SECONDS, start_serve, wait_all_gone
from service.test_serve_sigterm import answers, stop_group, wait_for

# Far above a serve's start (a few seconds), for the tests that wait for one.
START_BOUND_SECONDS = 90

# A process that makes a serve's temporary folder in TMPDIR, says its path, and waits.
MAKES_A_FOLDER = """
import sys, time
from latentrec.cli.supervisor import make_temp_folder
print(make_temp_folder(sys.argv[1]), flush=True)
time.sleep(120)
"""

# A process that holds the folder it is given locked, as a serve does, and waits.
HOLDS_A_LOCK = """
import fcntl, os, sys, time
held = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(held, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


def ended_pid() -> int:
    """The pid of a process that has ended and been reaped: no process has it now."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    return child.pid


def sleeper(*args: str, code: str = "import time; time.sleep(120)") -> subprocess.Popen:
    """A Python process running ``code`` (given ``args``), its output a pipe."""
    command = [sys.executable, "-c", code, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def end(process: subprocess.Popen) -> None:
    """``process`` killed (SIGKILL, as nothing can refuse) and reaped."""
    process.kill()
    process.wait(30)


def serve_folders(where: Path, pid: int | None = None) -> list[str]:
    """The names of the serve folders in ``where`` (those of ``pid`` when given)."""
    prefixes = ("latentrec-metrics-", "latentrec-workers-")
    names = sorted(name for name in os.listdir(where) if name.startswith(prefixes))
    if pid is None:
        return names
    return [name for name in names if name.split("-")[2] == str(pid)]


def test_the_folders_of_a_serve_that_has_ended_are_removed_with_their_files(tmp_path):
    dead = ended_pid()
    metrics = tmp_path / f"latentrec-metrics-{dead}-a1b2c3d4"
    (metrics / "nested").mkdir(parents=True)
    (metrics / "counter_4242.db").write_bytes(b"\0" * 1000)
    (metrics / "nested" / "gauge_live_4242.db").write_bytes(b"\0" * 10)
    workers = tmp_path / f"latentrec-workers-{dead}-_x9y8z7w"
    workers.mkdir()
    (workers / "4242").write_text("cannot read model.npz: damaged\n")
    removed = sweep_dead_folders(tmp_path)
    assert removed == [str(metrics), str(workers)]
    assert os.listdir(tmp_path) == []


def test_the_sweep_keeps_everything_but_a_dead_serves_folders(tmp_path, monkeypatch):
    """A live process's folders (this one's, another's), folders of the old names (no
    pid: nothing proves their serve ended), names of other forms, a file and a link of
    the form, all stay, and so does what the link points to.  (A folder with this
    process's pid that it did not make is an earlier process's: test_serve_tmp_folders_held.py.)"""
    dead = ended_pid()
    live = sleeper()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = make_temp_folder("metrics")
    try:
        folders = [
            os.path.basename(mine),
            f"latentrec-workers-{live.pid}-abcd1234",
            "latentrec-metrics-abcd1234",  # the old names
            "latentrec-workers-x_1y2z3a",
            f"latentrec-numba-{os.getuid()}",  # the kernels' cache
            f"latentrec-metrics-{dead}",
            f"latentrec-metrics-{dead}-ab.old",
            f"latentrec-metrics-0{dead}-abcd1234",
            f"latentrec-models-{dead}-abcd1234",
            f"my-latentrec-metrics-{dead}-abcd1234",
        ]
        for name in folders:
            (tmp_path / name).mkdir(exist_ok=name == os.path.basename(mine))
            (tmp_path / name / "kept.db").write_bytes(b"\0")
        (tmp_path / f"latentrec-metrics-{dead}-file1234").write_text("a file")
        target = tmp_path / "elsewhere"
        target.mkdir()
        (target / "precious").write_text("not the sweep's")
        (tmp_path / f"latentrec-workers-{dead}-link1234").symlink_to(target)
        before = sorted(os.listdir(tmp_path))
        assert sweep_dead_folders(tmp_path) == []
        assert sorted(os.listdir(tmp_path)) == before
        assert all((tmp_path / name / "kept.db").exists() for name in folders)
        assert (target / "precious").read_text() == "not the sweep's"
    finally:
        end(live)
        clean_up(None, [mine])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux's /proc")
def test_the_folders_of_a_serve_killed_but_not_yet_reaped_are_removed(tmp_path):
    """A zombie (a killed serve its parent has not waited for) holds nothing any more:
    taken for alive, its folders stayed as long as that parent did not reap it."""
    zombie = sleeper()
    try:
        folder = tmp_path / f"latentrec-metrics-{zombie.pid}-abcd1234"
        folder.mkdir()
        os.kill(zombie.pid, signal.SIGKILL)
        wait_for(lambda: not alive(zombie.pid), 30, "the zombie", tmp_path / "no.log")
        assert Path(f"/proc/{zombie.pid}").exists()  # not reaped
        assert sweep_dead_folders(tmp_path) == [str(folder)]
    finally:
        end(zombie)


@pytest.mark.skipif(not hasattr(os, "chown") or os.geteuid() != 0, reason="needs root to chown")
def test_another_users_folder_is_kept_even_when_its_serve_has_ended(tmp_path):
    import pwd

    nobody = pwd.getpwnam("nobody")
    dead = ended_pid()
    theirs = tmp_path / f"latentrec-metrics-{dead}-abcd1234"
    theirs.mkdir()
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    mine = tmp_path / f"latentrec-workers-{dead}-abcd1234"
    mine.mkdir()
    assert sweep_dead_folders(tmp_path) == [str(mine)]
    assert os.listdir(tmp_path) == [theirs.name]


def test_a_folder_held_locked_is_kept_whatever_its_pid(tmp_path):
    """A serve in another pid namespace (a container sharing the temporary folder) has a
    pid this one cannot see: its lock on the folder keeps it."""
    folder = tmp_path / f"latentrec-metrics-{ended_pid()}-abcd1234"
    folder.mkdir()
    holder = sleeper(str(folder), code=HOLDS_A_LOCK)
    try:
        assert holder.stdout.readline() == "held\n"
        assert sweep_dead_folders(tmp_path) == []
        assert folder.is_dir()
    finally:
        end(holder)
    assert sweep_dead_folders(tmp_path) == [str(folder)]


@pytest.mark.parametrize("kind", ["metrics", "workers"])
def test_a_folder_made_for_serve_stays_while_its_maker_lives_and_goes_once_it_is_killed(
    tmp_path, kind
):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-c", MAKES_A_FOLDER, kind]
    maker = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        folder = Path(maker.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.is_dir(), folder
        assert folder.name.startswith(f"latentrec-{kind}-{maker.pid}-")
        assert sweep_dead_folders(tmp_path) == []
        assert folder.is_dir()
    finally:
        end(maker)
    assert sweep_dead_folders(tmp_path) == [str(folder)]


def test_serve_removes_a_dead_serves_folders_as_it_starts(tmp_path, model_files):
    """A serve with one worker (it makes no folder of its own) sweeps at its start too."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    dead = ended_pid()
    left = [temporary / f"latentrec-{kind}-{dead}-abcd1234" for kind in ("metrics", "workers")]
    for folder in left:
        folder.mkdir()
    live = sleeper()
    kept = temporary / f"latentrec-metrics-{live.pid}-abcd1234"
    kept.mkdir()
    proc, log = start_serve(tmp_path, model_files["explicit"], 1, temporary=temporary)
    try:
        wait_for(lambda: "serving on" in log.read_text(), START_BOUND_SECONDS, "serve", log)
        assert serve_folders(temporary) == [kept.name]
        os.killpg(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
    finally:
        stop_group(proc)
        end(live)


def start_in(tmp_path: Path, name: str, model: Path, temporary: Path):
    """``serve --workers 2`` whose files are in ``tmp_path/name`` and whose temporary
    folder is ``temporary``, once it answers: the process and its log."""
    home = tmp_path / name
    home.mkdir()
    proc, log = start_serve(home, model, 2, "--no-access-log", temporary=temporary)
    try:
        wait_for(lambda: answers(log), START_BOUND_SECONDS, f"serve {name} to answer", log)
    except BaseException:
        stop_group(proc)
        raise
    return proc, log


@pytest.mark.slow  # three serves with two workers each, started one after another
def test_a_killed_serves_folders_go_at_the_next_start_and_a_running_ones_stay(
    tmp_path, model_files
):
    """``serve`` A is killed outright (its whole process group, as ``systemctl kill -s
    KILL`` does): its two folders stay.  B starts: they are gone, B's are there.  C
    starts and stops while B runs: B's folders stay (and B answers), C's are gone."""
    model = model_files["explicit"]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    started = []
    try:
        a, a_log = start_in(tmp_path, "a", model, temporary)
        started.append(a)
        os.killpg(a.pid, signal.SIGKILL)
        wait_all_gone(a, STOP_BOUND_SECONDS, a_log)
        left = serve_folders(temporary, a.pid)
        assert len(left) == 2 and serve_folders(temporary) == left

        b, b_log = start_in(tmp_path, "b", model, temporary)
        started.append(b)
        mine = serve_folders(temporary, b.pid)
        assert len(mine) == 2 and serve_folders(temporary) == mine

        c, c_log = start_in(tmp_path, "c", model, temporary)
        started.append(c)
        assert len(serve_folders(temporary, c.pid)) == 2
        os.killpg(c.pid, signal.SIGTERM)
        wait_all_gone(c, STOP_BOUND_SECONDS, c_log)
        assert c.wait(5) == -signal.SIGTERM
        assert serve_folders(temporary) == mine
        assert answers(b_log) and alive(b.pid)

        os.killpg(b.pid, signal.SIGTERM)
        wait_all_gone(b, STOP_BOUND_SECONDS, b_log)
        assert os.listdir(temporary) == []
    finally:
        for proc in started:
            stop_group(proc)


def test_sigquit_sigusr1_and_sigusr2_neither_stop_serve_nor_take_its_folders(tmp_path, model_files):
    """With ``--workers N`` the signals ``serve`` gives no meaning to are the worker
    supervisor's to ignore (uvicorn's): it goes on serving with its folders, which a
    SIGTERM afterwards still removes.  SIGTTIN, sent last, is handled after them (the
    supervisor takes its queue in order) and says so in the log."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    proc, log = start_in(tmp_path, "a", model_files["explicit"], temporary)
    try:
        folders = serve_folders(temporary, proc.pid)
        assert len(folders) == 2
        for signum in (signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN):
            os.kill(proc.pid, signum)
        wait_for(lambda: "Received SIGTTIN" in log.read_text(), STOP_BOUND_SECONDS, "SIGTTIN", log)
        assert proc.poll() is None and answers(log)
        assert serve_folders(temporary) == folders
        os.killpg(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(5) == -signal.SIGTERM
        assert os.listdir(temporary) == []
    finally:
        stop_group(proc)
