"""A server the tests start in a session of its own ends with the test run that started it.

Before, a test run ended by ``timeout`` or CI's limit (SIGTERM to its process group,
or SIGKILL) left every ``latentrec serve`` it had started running, with its workers, for
good: in a session of its own, a server escapes the signal to the run's group, and
nothing else ends it.  Here a stand-in for the test run (a Python process) starts the
server with the tests' own helper and is SIGKILLed; the server must end.  The waits are
bounds against a hang, not speed requirements.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from service.lifetime import dies_with_the_test_run
from service.serving import alive
from service.test_serve_sigterm import group_members

# Far above the stop of a server that has been told to stop (a second or two).
HANG_S = 60

TESTS = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the signal comes from Linux's prctl"
)


def killed_after_starting(code: str, *args: str) -> int:
    """Run ``code`` in a stand-in test run, which prints the pid of what it started;
    SIGKILL the stand-in once it has, and return that pid."""
    run = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])},
    )
    try:
        line = run.stdout.readline()
        assert line.strip().isdigit(), line or run.communicate(timeout=HANG_S)[1]
    finally:
        run.kill()
        run.wait(HANG_S)
        run.stdout.close()
        run.stderr.close()
    return int(line)


def ended(pgid: int) -> None:
    """Wait until no process of group ``pgid`` runs; kill those left if one still does."""
    deadline = time.monotonic() + HANG_S
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = sorted(group_members(pgid))
    if left:
        os.killpg(pgid, signal.SIGKILL)
    assert not left, f"pids {left} still run after the test run was killed"


def test_a_process_started_with_the_helper_ends_with_the_run():
    pid = killed_after_starting(
        """
        import subprocess, sys
        from service.lifetime import dies_with_the_test_run
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            start_new_session=True,
            preexec_fn=dies_with_the_test_run(),
        )
        print(child.pid, flush=True)
        child.wait()
        """
    )
    ended(pid)
    assert not alive(pid)


def test_the_helper_runs_the_preexec_it_is_given_first():
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('SET_BEFORE_EXEC'))"],
        preexec_fn=dies_with_the_test_run(lambda: os.putenv("SET_BEFORE_EXEC", "yes")),
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "yes"), done.stderr


@pytest.mark.slow  # starts a real serve with two workers (seconds)
def test_a_real_serve_ends_with_the_run_that_started_it(model_files, tmp_path):
    pid = killed_after_starting(
        """
        import sys
        from pathlib import Path
        from service.conftest import Server
        model, folder = sys.argv[1], Path(sys.argv[2])
        server = Server(
            ["--model", model, "--store", str(folder / "s.db"), "--workers", "2"],
            folder / "serve.log",
        )
        server.wait_ready(timeout=120)
        print(server.proc.pid, flush=True)
        server.proc.wait()
        """,
        str(model_files["explicit"]),
        str(tmp_path),
    )
    ended(pid)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log[-3000:]
