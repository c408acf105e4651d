"""The test run's PostgreSQL server never outlives the run.

Before, a run ended by ``timeout`` (SIGTERM: no ``atexit`` hook runs) or by SIGKILL left
its server running and its folder in ``/dev/shm`` (``latentrec-pg-*``), one more per
killed run.  Each check here kills a real process that started something, with SIGKILL
(the signal after which nothing of the process runs), and waits for the clean-up;
the waits are bounds against a hang, not speed requirements.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .pgserver import find_binaries, when_this_process_ends

# Far above what a clean-up takes on a loaded machine (a fraction of a second).
HANG_S = 60

TESTS = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}


def started(code: str, *args: str) -> tuple[subprocess.Popen, str]:
    """``code`` run by a new Python process, and the first line it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    line = proc.stdout.readline()
    if not line:
        proc.wait(HANG_S)
        pytest.fail(f"the process printed nothing: {proc.stderr.read()}")
    return proc, line.strip()


def killed(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(HANG_S)
    proc.stdout.close()
    proc.stderr.close()


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {HANG_S} s"
        time.sleep(0.05)


def test_the_watchdog_runs_its_command_once_its_process_is_killed(tmp_path):
    marker = tmp_path / "ran"
    proc, line = started(
        """
        import sys, time
        from store.pgserver import when_this_process_ends
        when_this_process_ends(["touch", sys.argv[1]])
        print("armed", flush=True)
        time.sleep(600)
        """,
        str(marker),
    )
    try:
        assert line == "armed"
        assert not marker.exists()  # not while its process lives
    finally:
        killed(proc)
    wait_until(marker.exists, "the watchdog's command did not run")


def test_a_killed_watchdog_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    watchdog = when_this_process_ends(["touch", str(marker)])
    watchdog.kill()
    watchdog.wait(HANG_S)
    watchdog.stdin.close()
    assert watchdog.returncode == -signal.SIGKILL
    assert not marker.exists()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.postgres
def test_a_killed_test_run_leaves_no_server_behind():
    try:
        find_binaries()
    except Exception as err:
        pytest.skip(f"PostgreSQL tests skipped: {err}")
    proc, line = started(
        """
        import time
        from store.pgserver import PostgresServer
        server = PostgresServer()
        print(server.root, flush=True)
        time.sleep(600)
        """
    )
    folder = Path(line)
    try:
        assert folder.name.startswith("latentrec-pg-"), line
        server = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert alive(server)
    finally:
        killed(proc)
    wait_until(lambda: not alive(server), f"the server (pid {server}) still runs")
    wait_until(lambda: not folder.exists(), f"{folder} is still there")


@pytest.mark.postgres
def test_the_server_starts_when_its_picked_port_is_taken_before_it_binds(monkeypatch):
    """Before, the picked port taken by another process before PostgreSQL bound it made
    the whole run's server fail to start (every PostgreSQL test errored)."""
    try:
        find_binaries()
    except Exception as err:
        pytest.skip(f"PostgreSQL tests skipped: {err}")
    from . import pgserver

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        held = taken.getsockname()[1]
        picks = iter([held])
        fresh = pgserver.free_port
        monkeypatch.setattr(pgserver, "free_port", lambda: next(picks, None) or fresh())
        server = pgserver.PostgresServer()
        try:
            assert server.port != held
            server.admin("SELECT 1")
        finally:
            server.stop()
