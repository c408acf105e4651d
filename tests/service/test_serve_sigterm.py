"""SIGTERM to ``latentrec serve --workers 2`` (its whole process group, as a service
manager or a container runtime sends it) ends every process of it, whatever moment of
the start it comes at.

It did not while the workers were starting: SIGTERM ended a worker that had no handler
yet, and the parent (uvicorn's supervisor) waited two minutes for that worker's answer
to a ping, with the signal only queued, then started a new worker.  Each process is
checked by pid; 30 seconds is a bound far above a clean stop (about a second), not a
speed requirement."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.lifetime import dies_with_the_test_run

# Far above a clean stop; far below the two minutes the parent used to wait.
STOP_BOUND_SECONDS = 30


def group_members(pgid: int) -> set[int]:
    """The pids of the processes in process group ``pgid`` that have not exited (a
    zombie has exited)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # After the command, which may hold spaces and parentheses: state ppid pgrp ...
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            found.add(int(entry.name))
    return found


def workers_of(pid: int) -> set[int]:
    """The pids of the worker processes ``pid`` spawned (the resource tracker aside)."""
    workers = set()
    for member in group_members(pid):
        try:
            command = Path(f"/proc/{member}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in command or b"--multiprocessing-fork" in command:
            workers.add(member)
    return workers


def waits_on_a_worker(pid: int) -> bool:
    """Whether ``pid`` has two workers and its main thread waits in ``poll``: the
    supervisor waiting for a worker's answer to its ping (between pings it waits on a
    lock, a futex)."""
    try:
        waits_in = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
    return waits_in.startswith("poll_schedule") and len(workers_of(pid)) >= 2


def wait_for(condition, seconds: float, what: str, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.005)
    pytest.fail(f"{what} within {seconds} s: {log.read_text()[-3000:]}")


def answers(log: Path) -> bool:
    found = re.search(r"serving on (http://127\.0\.0\.1:\d+/)", log.read_text())
    if not found:
        return False
    try:
        return httpx.get(found.group(1) + "health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_serve(tmp_path: Path, model: Path, log: Path) -> subprocess.Popen:
    """``latentrec serve --workers 2`` on a free port, in a process group of its own,
    its output in ``log``."""
    command = [sys.executable, "-m", "latentrec.cli", "serve", "--model", str(model)]
    command += ["--store", str(tmp_path / "s.db"), "--host", "127.0.0.1", "--port", "0"]
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*command, "--workers", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with_the_test_run(),
        )


def stop_group(proc: subprocess.Popen) -> None:
    """Whatever of ``proc``'s group a failed test left running: killed."""
    if proc.poll() is None or group_members(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


@pytest.mark.parametrize(
    "moment",
    [
        "right after spawn",
        # The workers exist but run no code of uvicorn's yet.
        "workers starting",
        # The first pings go out while the workers still start (import), and wait.
        "supervisor awaits a worker",
        pytest.param("ready", marks=pytest.mark.slow),
    ],
)
def test_sigterm_ends_every_process(tmp_path, model_files, moment):
    log = tmp_path / "serve.log"
    proc = start_serve(tmp_path, model_files["explicit"], log)
    try:
        if moment == "workers starting":
            wait_for(lambda: len(workers_of(proc.pid)) >= 2, 90, "no two workers", log)
        elif moment == "supervisor awaits a worker":
            wait_for(lambda: waits_on_a_worker(proc.pid), 90, "no ping awaited", log)
        elif moment == "ready":
            wait_for(lambda: answers(log), 90, "no answer to /health", log)
        members = group_members(proc.pid) | {proc.pid}
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_BOUND_SECONDS
        # Workers started after the signal count too.
        while time.monotonic() < deadline:
            proc.poll()
            alive = group_members(proc.pid)
            members |= alive
            if not alive:
                break
            time.sleep(0.05)
        still = sorted(group_members(proc.pid))
        assert not still, (
            f"SIGTERM at {moment!r}: pids {still} of {sorted(members)} still run after "
            f"{STOP_BOUND_SECONDS} s: {log.read_text()[-3000:]}"
        )
        assert proc.wait(timeout=5) is not None
        assert "Traceback" not in log.read_text()
    finally:
        stop_group(proc)


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_sigterm_still_ends_all(tmp_path, model_files):
    """The supervisor still makes up for a worker that crashed (SIGKILL: out of memory)
    with a new one, and SIGTERM then ends them all."""
    log = tmp_path / "serve.log"
    proc = start_serve(tmp_path, model_files["explicit"], log)
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        first = workers_of(proc.pid)
        assert len(first) == 2
        crashed = min(first)
        os.kill(crashed, signal.SIGKILL)

        def replaced():
            found = workers_of(proc.pid)
            return found if len(found) == 2 and crashed not in found else None

        now = wait_for(replaced, STOP_BOUND_SECONDS, "no worker in place of the dead one", log)
        assert first - {crashed} < now
        wait_for(lambda: answers(log), 90, "no answer to /health after the crash", log)
        os.killpg(proc.pid, signal.SIGTERM)
        wait_for(lambda: not group_members(proc.pid), STOP_BOUND_SECONDS, "processes left", log)
        assert proc.wait(timeout=5) is not None
    finally:
        stop_group(proc)
