"""How ``latentrec serve`` ends: by the signal that stopped it, whatever ``--workers``.

Before, SIGTERM ended ``--workers 1`` with exit status 143 and SIGINT with 1 (click's
"Aborted!"), while ``--workers 2`` exited 0 on either.  The real tests start real
``serve`` processes on 127.0.0.1 port 0; their waits are bounds far above a clean stop,
not speed requirements.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from latentrec.cli.serve import worker_supervisor
from service.test_serve_sigterm import answers, group_members, stop_group, wait_for

# Far above a clean stop (about a second), for processes that stop by themselves.
STOP_BOUND_SECONDS = 30


def hears_ctrl_c() -> None:
    """In the child before it runs Python: SIGINT back to its default action (a shell's
    background job, ``make test &``, inherits it ignored; a terminal never does)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(
    tmp_path: Path, model: Path, workers: int, *options: str
) -> tuple[subprocess.Popen, Path]:
    """``latentrec serve --workers N`` on a free port, in a process group of its own (as
    a terminal's foreground job or a service is), its temporary folder ``tmp_path/tmp``;
    the process and its log."""
    log = tmp_path / "serve.log"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "latentrec.cli", "serve", "--model", str(model)]
    command += ["--store", str(tmp_path / "s.db"), "--host", "127.0.0.1", "--port", "0"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*command, "--workers", str(workers), *options],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=hears_ctrl_c,
            env={**os.environ, "TMPDIR": str(temporary)},
        )
    return proc, log


def wait_all_gone(proc: subprocess.Popen, seconds: float, log: Path) -> None:
    """Until no process of ``proc``'s group runs (``proc`` reaped meanwhile)."""

    def gone():
        proc.poll()
        return not group_members(proc.pid)

    wait_for(gone, seconds, f"pids {sorted(group_members(proc.pid))} still run", log)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_signal_ends_serve_by_that_signal_whatever_the_workers(
    tmp_path, model_files, workers, signum
):
    """Sent to the process group, as a terminal's Ctrl-C or a service manager sends it:
    a graceful stop, then the parent dies by the same signal (``-signum`` from Popen; a
    shell's 128 + n), after its clean-up (the workers' metrics folder removed)."""
    proc, log = start_serve(tmp_path, model_files["explicit"], workers)
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        os.killpg(proc.pid, signum)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signum, log.read_text()[-3000:]
        text = log.read_text()
        assert "Traceback" not in text and "Aborted" not in text, text[-3000:]
        assert not list((tmp_path / "tmp").glob("latentrec-metrics-*"))
    finally:
        stop_group(proc)


def test_the_supervisor_notes_the_signal_that_stopped_it():
    from uvicorn.supervisors.multiprocess import SIGNALS

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    try:
        supervisor = worker_supervisor()(SimpleNamespace(workers=1), sockets=[])
        supervisor.signal_queue += [signal.SIGINT, signal.SIGTERM]
        supervisor.handle_signals()
        assert supervisor.stopped_by == signal.SIGINT and supervisor.should_exit.is_set()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
