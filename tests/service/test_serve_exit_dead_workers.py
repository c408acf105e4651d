"""What ``latentrec serve --workers N``'s supervisor leaves of a worker that has ended
(died, or retired by SIGHUP or SIGTTOU): neither its metrics, nor its pipe, nor the
line it wrote on why it could not start.

Before, a dead worker's live gauges stayed in the metrics folder, so ``/metrics`` went
on reporting them beside the live workers' (its ``latentrec_model_info`` series, its
frozen model age taken as the youngest); and a worker that had died before SIGHUP
retired it kept its pipe's two descriptors open in the parent; a failed worker's line
waited for the next worker with its pid.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from types import SimpleNamespace

import httpx

from latentrec.cli.supervisor import WORKER_FAILURES_ENV, worker_failure, worker_supervisor
from service.test_serve_exit import STOP_BOUND_SECONDS, start_serve, wait_all_gone
from service.test_serve_sigterm import answers, stop_group, wait_for, workers_of

# Far above a worker's start (a few seconds), for a test that waits for one.
START_BOUND_SECONDS = 90


def metric_pids(url: str) -> set[int]:
    """The worker pids ``/metrics`` reports a ``latentrec_model_info`` series for."""
    text = httpx.get(url + "metrics", timeout=10).text
    return {int(pid) for pid in re.findall(r'^latentrec_model_info\{[^}]*pid="(\d+)"', text, re.M)}


def test_a_dead_workers_gauges_leave_metrics(tmp_path, model_files):
    proc, log = start_serve(tmp_path, model_files["explicit"], 2, "--no-access-log")
    try:
        wait_for(lambda: answers(log), START_BOUND_SECONDS, "no answer to /health", log)
        url = re.search(r"serving on (http://127\.0\.0\.1:\d+/)", log.read_text()).group(1)
        first = wait_for(
            lambda: workers_of(proc.pid) if len(workers_of(proc.pid)) == 2 else None,
            START_BOUND_SECONDS,
            "two workers",
            log,
        )
        wait_for(lambda: metric_pids(url) == first, START_BOUND_SECONDS, "both in /metrics", log)
        dead = min(first)
        os.kill(dead, signal.SIGKILL)
        # Its replacement has started and set its gauges.
        wait_for(
            lambda: len(metric_pids(url) - first) == 1, START_BOUND_SECONDS, "a new worker", log
        )
        assert metric_pids(url) == workers_of(proc.pid) and dead not in metric_pids(url)
        os.killpg(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
    finally:
        stop_group(proc)


def test_retiring_a_worker_that_had_died_closes_its_pipe():
    from uvicorn.supervisors.multiprocess import SIGNALS, Process

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    dead = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    dead.start()
    dead.join(30)
    parent_conn, child_conn = multiprocessing.Pipe()
    worker = SimpleNamespace(process=dead, parent_conn=parent_conn, child_conn=child_conn)
    # uvicorn's own: it closes the pipe only to a worker still running.
    worker.terminate = lambda: Process.terminate(worker)
    try:
        supervisor = worker_supervisor()(SimpleNamespace(workers=1), sockets=[])
        supervisor.retire(worker)
        assert parent_conn.closed and child_conn.closed
        assert supervisor.others == []
    finally:
        parent_conn.close()
        child_conn.close()
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def test_a_workers_failure_is_said_once(tmp_path, monkeypatch):
    """The file a worker that could not start wrote outlived it: after a SIGHUP whose new
    worker could not start (serve goes on), a later worker given the same pid whose
    start failed otherwise (it wrote nothing) was said to have failed for that reason."""
    monkeypatch.setenv(WORKER_FAILURES_ENV, str(tmp_path))
    (tmp_path / "4242").write_text("cannot read model.npz: damaged\n", encoding="utf-8")
    assert worker_failure(4242) == "cannot read model.npz: damaged"
    assert worker_failure(4242) is None
    assert list(tmp_path.iterdir()) == []
