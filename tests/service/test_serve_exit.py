"""How ``latentrec serve`` ends: by the signal that stopped it, whatever ``--workers``,
and within a bounded time even when a worker does not stop.

Before, SIGTERM ended ``--workers 1`` with exit status 143 and SIGINT with 1 (click's
"Aborted!"), while ``--workers 2`` exited 0 on either; and the worker supervisor waited
for its workers without a limit, so one that did not stop (still loading a big model, or
stuck) kept ``serve`` alive.  The real tests start real ``serve`` processes on
127.0.0.1 port 0; their waits are bounds far above a clean stop, not speed requirements.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from latentrec.cli.supervisor import (
    DRAIN_SECONDS,
    WORKER_STOP_SECONDS,
    end_workers,
    worker_supervisor,
)
from service.lifetime import dies_with_the_test_run
from service.test_serve_sigterm import answers, group_members, stop_group, wait_for, workers_of

# Far above a clean stop (about a second), for processes that stop by themselves.
STOP_BOUND_SECONDS = 30


def hears_ctrl_c() -> None:
    """In the child before it runs Python: SIGINT back to its default action (a shell's
    background job, ``make test &``, inherits it ignored; a terminal never does)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(
    tmp_path: Path, model: Path, workers: int, *options: str, temporary: Path | None = None
) -> tuple[subprocess.Popen, Path]:
    """``latentrec serve --workers N`` on a free port, in a process group of its own (as
    a terminal's foreground job or a service is), its temporary folder ``temporary``
    (made: ``tmp_path/tmp``, by default); the process and its log."""
    log = tmp_path / "serve.log"
    if temporary is None:
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
            preexec_fn=dies_with_the_test_run(hears_ctrl_c),
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


@pytest.mark.slow  # waits out the grace period: WORKER_STOP_SECONDS
def test_a_worker_that_does_not_stop_is_killed_and_serve_ends(tmp_path, model_files):
    """A worker that cannot act on SIGTERM (stopped by SIGSTOP: as stuck as a worker
    can be) is killed once the grace period has passed; SIGTERM to the parent alone
    (``kill PID``) then ends every process, the parent by SIGTERM."""
    proc, log = start_serve(tmp_path, model_files["explicit"], workers=2)
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        workers = workers_of(proc.pid)
        assert len(workers) == 2
        stuck = min(workers)
        os.kill(stuck, signal.SIGSTOP)
        os.kill(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, WORKER_STOP_SECONDS + STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} left behind"
        killed = [line for line in log.read_text().splitlines() if "SIGKILL" in line]
        assert len(killed) == 1 and f"[{stuck}]" in killed[0], log.read_text()[-3000:]
    finally:
        stop_group(proc)


@contextlib.contextmanager
def half_sent_request(log: Path):
    """A connection to the served port (read from ``log``) that sends a POST's headers and
    one byte of its 1,000-byte body, then nothing: a request that never ends."""
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", log.read_text()).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(
            b"POST /ratings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        yield client


@pytest.mark.slow  # waits out the drain: DRAIN_SECONDS
def test_a_request_that_never_ends_does_not_keep_serve_from_stopping(tmp_path, model_files):
    """A client that sends part of a request's body and then nothing (its deadline an
    hour away here) kept the server waiting for that request to end; the drain now
    cancels it, and the server ends by SIGTERM."""
    proc, log = start_serve(
        tmp_path, model_files["explicit"], 1, "--request-timeout", "3600", "--no-access-log"
    )
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        with half_sent_request(log):
            # The server reads the sockets in one event loop: once it has answered a
            # later connection, it has read this one's headers and started the request.
            assert answers(log)
            os.killpg(proc.pid, signal.SIGTERM)
            wait_all_gone(proc, DRAIN_SECONDS + STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert "timeout graceful shutdown exceeded" in log.read_text()
    finally:
        stop_group(proc)


def sleep_ignoring_sigterm(ready) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(120)


def sleep_until_sigterm(ready) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ready.set()
    time.sleep(120)


def started(target):
    """A forked process running ``target``, once it has set its SIGTERM handler."""
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(target=target, args=(ready,))
    process.start()
    assert ready.wait(30), "the child did not start"
    return process


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def supervisor_log():
    """The messages uvicorn's supervisor logger gets (whatever logging an earlier test
    configured for it)."""
    logger = logging.getLogger("uvicorn.error")
    lines, level = Lines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    yield lines.lines
    logger.removeHandler(lines)
    logger.setLevel(level)


def test_end_workers_kills_what_sigterm_did_not_stop_and_reaps_all(supervisor_log):
    stubborn, polite = started(sleep_ignoring_sigterm), started(sleep_until_sigterm)
    try:
        never_started = multiprocessing.get_context("fork").Process()
        killed = end_workers([stubborn, polite, never_started], grace=1.0)
        assert killed == [stubborn.pid]
        assert stubborn.exitcode == -signal.SIGKILL
        assert polite.exitcode == -signal.SIGTERM
        named = [line for line in supervisor_log if "SIGKILL" in line]
        assert len(named) == 1 and f"[{stubborn.pid}]" in named[0]
    finally:
        for process in (stubborn, polite):
            if process.is_alive():
                process.kill()
            process.join(10)


def test_the_supervisor_ends_its_workers_when_its_loop_fails(supervisor_log):
    """An error in the supervisor's loop (here: a worker that cannot be spawned) left
    the workers started so far running after the parent had gone."""
    workers = []

    class CannotSpawn(worker_supervisor()):
        def init_processes(self):
            for _ in range(2):
                process = started(sleep_until_sigterm)
                workers.append(process)
                parent_conn, child_conn = multiprocessing.Pipe()
                self.processes.append(
                    SimpleNamespace(process=process, parent_conn=parent_conn, child_conn=child_conn)
                )
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    from uvicorn.supervisors.multiprocess import SIGNALS

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    try:
        supervisor = CannotSpawn(SimpleNamespace(workers=3), sockets=[])
        with pytest.raises(OSError):
            supervisor.run()
        assert [process.exitcode for process in workers] == [-signal.SIGTERM] * 2
        assert supervisor.stopped_by is None
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for process in workers:
            if process.is_alive():
                process.kill()
            process.join(10)


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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_stop_signal_ends_the_drain_of_one_worker_at_once(tmp_path, model_files, signum):
    """A request that never ends holds the drain; a second signal (Ctrl-C again, or a
    second SIGTERM: uvicorn heard only SIGINT) cancels it at once rather than after
    DRAIN_SECONDS, and the server ends by the signal."""
    proc, log = start_serve(
        tmp_path, model_files["explicit"], 1, "--request-timeout", "3600", "--no-access-log"
    )
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        with half_sent_request(log):
            assert answers(log)  # the request above has started (see the test before)
            os.killpg(proc.pid, signum)
            wait_for(lambda: "Waiting for connections" in log.read_text(), 30, "no drain", log)
            os.killpg(proc.pid, signum)
            wait_all_gone(proc, DRAIN_SECONDS + STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signum
        assert "timeout graceful shutdown exceeded" not in log.read_text()
    finally:
        stop_group(proc)
