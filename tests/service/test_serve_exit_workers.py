"""``latentrec serve --workers N`` and its workers: one that cannot start, ones that keep
dying, SIGHUP and SIGTTOU with a worker that does not stop, a second stop signal.

Before: a worker whose app could not be built (its model file damaged after ``serve``
had checked it) died with a traceback and status 1, and was started again, forever; one
whose startup failed stopped ``serve`` with exit status 0.  A worker that died after it
started was replaced without a limit.  SIGHUP and SIGTTOU waited for the worker they
stopped without a limit (SIGTERM was not even handled meanwhile), and a second Ctrl-C
during the stop changed nothing.  Real ``serve`` processes on 127.0.0.1 port 0; a worker
made "stuck" with SIGSTOP; the waits are bounds far above what they wait for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from latentrec.cli.supervisor import WORKER_STOP_SECONDS, RecentEvents
from service.lifetime import dies_with_the_test_run
from service.test_serve_exit import STOP_BOUND_SECONDS, hears_ctrl_c, start_serve, wait_all_gone
from service.test_serve_sigterm import answers, stop_group, wait_for, workers_of

TESTS = Path(__file__).resolve().parents[1]

# `latentrec serve` with some of its modules' names replaced (its workers' app factory,
# its supervisor's restart limit): a real serve process, with apps that fail on cue.
PATCHED_SERVE = """
import sys
import latentrec.cli.serve as serve
import latentrec.cli.supervisor as supervisor
for name, value in {patch!r}.items():
    owners = [module for module in (serve, supervisor) if hasattr(module, name)]
    assert owners, name
    for module in owners:
        setattr(module, name, value)
from latentrec.cli import main
main(sys.argv[1:], prog_name="latentrec")
"""


def starlette_app(lifespan):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def health(request):
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/health", health)], lifespan=lifespan)


def app_whose_startup_fails():
    """A worker's app whose startup fails, as one whose store cannot be reached would."""

    @asynccontextmanager
    async def lifespan(app):
        raise ConnectionRefusedError("the store refused the connection")
        yield

    return starlette_app(lifespan)


def app_killed_once_started():
    """A worker's app that starts and then dies by SIGKILL (the kernel's OOM killer)."""

    @asynccontextmanager
    async def lifespan(app):
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGKILL)).start()
        yield

    return starlette_app(lifespan)


def run_patched_serve(tmp_path, model, patch: dict, timeout: float) -> tuple[int, str]:
    """``latentrec serve --workers 2`` with ``patch`` applied to its modules; its exit
    status and output, once it has ended by itself."""
    command = [sys.executable, "-c", PATCHED_SERVE.format(patch=patch), "serve"]
    command += ["--model", str(model), "--store", str(tmp_path / "s.db")]
    command += ["--host", "127.0.0.1", "--port", "0", "--workers", "2"]
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=dies_with_the_test_run(hears_ctrl_c),
        env={**os.environ, "PYTHONPATH": path},
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        stop_group(proc)
    return proc.returncode, out.decode()


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Error:")]


def test_a_worker_that_cannot_load_the_model_stops_serve_with_the_error_of_one_worker(
    tmp_path, model_files
):
    """The model file is replaced by a damaged one after ``serve`` has checked it and
    before its workers load it (the whole process group held by SIGSTOP meanwhile):
    every worker stops, no traceback, and ``serve`` exits 1 with the line ``--workers 1``
    gives for that file."""
    model = tmp_path / "model.npz"
    model.write_bytes(model_files["explicit"].read_bytes())
    proc, log = start_serve(tmp_path, model, 2)
    try:
        # Said once the parent has loaded the model, before it spawns the workers (which
        # take far longer than this to import what they need before they load it).
        wait_for(lambda: "serving on" in log.read_text(), 90, "no 'serving on'", log)
        os.killpg(proc.pid, signal.SIGSTOP)
        damaged = tmp_path / "damaged.npz"
        damaged.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
        os.replace(damaged, model)
        os.killpg(proc.pid, signal.SIGCONT)
        wait_all_gone(proc, STOP_BOUND_SECONDS + 60, log)
        text = log.read_text()
        assert proc.wait(timeout=5) == 1, text[-3000:]
        assert "Traceback" not in text and "died" not in text, text[-3000:]
        one = subprocess.run(
            [sys.executable, "-m", "latentrec.cli", "serve", "--model", str(model)]
            + ["--store", str(tmp_path / "s.db"), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert one.returncode == 1
        assert error_lines(text) == error_lines(one.stderr), text[-3000:]
        assert "is not a latentrec model file" in error_lines(text)[0]
        assert not list((tmp_path / "tmp").glob("latentrec-*"))
    finally:
        stop_group(proc)


def test_a_worker_whose_startup_fails_ends_serve_with_status_3(tmp_path, model_files):
    """As uvicorn ends one worker whose startup failed (it exited 0 with several)."""
    factory = "service.test_serve_exit_workers:app_whose_startup_fails"
    status, out = run_patched_serve(
        tmp_path, model_files["explicit"], {"FACTORY": factory}, timeout=120
    )
    assert status == 3, out[-3000:]
    assert "Application startup failed" in out and "failed to start" in out, out[-3000:]
    assert "died" not in out, out[-3000:]


def test_workers_that_keep_dying_are_given_up_on(tmp_path, model_files):
    """Each worker is killed (SIGKILL) just after it starts: replaced at first, then,
    past the limit (here one death per worker within the window), ``serve`` stops and
    says why in one line, exit 1."""
    patch = {
        "FACTORY": "service.test_serve_exit_workers:app_killed_once_started",
        "DEATHS_PER_WORKER": 1,
    }
    status, out = run_patched_serve(tmp_path, model_files["explicit"], patch, timeout=120)
    assert status == 1, out[-3000:]
    [line] = error_lines(out)
    assert line.startswith("Error: worker processes died 3 times within 60 s"), line
    assert "killed by SIGKILL" in line
    assert out.count("died (killed by SIGKILL)") == 3, out[-3000:]


@pytest.mark.parametrize("seed", range(3))
def test_recent_events_counts_those_within_the_window(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.choice([0.0, 0.5, 1.0, 7.0, 30.0], size=200))
    now = [0.0]
    events = RecentEvents(10.0, clock=lambda: now[0])
    for index, at in enumerate(times):
        now[0] = at
        expected = sum(1 for earlier in times[: index + 1] if at - 10.0 < earlier)
        assert events.add() == expected


def log_has(log: Path, text: str):
    return lambda: text in log.read_text()


def stuck_workers(proc, log) -> set[int]:
    """Once ``proc`` (``serve --workers 2``) answers: its two workers, stopped by SIGSTOP."""
    wait_for(lambda: answers(log), 90, "no answer to /health", log)
    workers = workers_of(proc.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    return workers


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_stop_signal_kills_what_is_left_at_once(tmp_path, model_files, signum):
    """Ctrl-C (the process group) while a worker does not stop: the supervisor waits for
    it; a second Ctrl-C kills it at once, and ``serve`` ends by the signal."""
    proc, log = start_serve(tmp_path, model_files["explicit"], 2)
    try:
        wait_for(lambda: answers(log), 90, "no answer to /health", log)
        stuck = min(workers_of(proc.pid))
        os.kill(stuck, signal.SIGSTOP)
        os.killpg(proc.pid, signum)
        wait_for(log_has(log, f"Terminated child process [{stuck}]"), 30, "no stop", log)
        os.killpg(proc.pid, signum)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signum
        # The other worker too, if it was still stopping: whatever is left.
        killed = [line for line in log.read_text().splitlines() if "SIGKILL" in line]
        assert all("still ran at a second stop signal" in line for line in killed), killed
        assert any(f"[{stuck}]" in line for line in killed), log.read_text()[-3000:]
    finally:
        stop_group(proc)


@pytest.mark.parametrize("retiring", ["SIGHUP", "SIGTTOU"])
def test_sigterm_is_heard_while_sighup_or_sigttou_waits_for_a_worker(
    tmp_path, model_files, retiring
):
    """SIGHUP (a new worker for each, then the old one stopped) and SIGTTOU (one worker
    fewer) waited for the old worker without a limit, with no signal handled: a stuck
    worker kept ``serve`` up for good.  Now a stop signal during that wait is heard (and
    a second one ends the stop at once)."""
    proc, log = start_serve(tmp_path, model_files["explicit"], 2)
    try:
        workers = stuck_workers(proc, log)
        os.kill(proc.pid, getattr(signal, retiring))
        wait_for(
            lambda: any(f"Terminated child process [{pid}]" in log.read_text() for pid in workers),
            90,
            "no worker stopped",
            log,
        )
        os.kill(proc.pid, signal.SIGTERM)
        wait_for(log_has(log, "Received SIGTERM"), 30, "SIGTERM not heard", log)
        os.kill(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} left behind"
        # Killed at the second SIGTERM, not after a wait that heard nothing: both would
        # end within the bound above.
        killed = [line for line in log.read_text().splitlines() if "SIGKILL" in line]
        assert killed and all("at a second stop signal" in line for line in killed), killed
    finally:
        stop_group(proc)


@pytest.mark.slow  # waits out WORKER_STOP_SECONDS
def test_sigttou_kills_a_worker_that_does_not_stop_and_serving_goes_on(tmp_path, model_files):
    """SIGTTOU's worker, stuck, is killed once the grace period has passed (it waited
    for good); the other worker goes on serving, and SIGTERM then ends it all."""
    proc, log = start_serve(tmp_path, model_files["explicit"], 2)
    try:
        workers = stuck_workers(proc, log)
        os.kill(proc.pid, signal.SIGTTOU)
        wait_for(log_has(log, "s after SIGTERM: killed it"), WORKER_STOP_SECONDS + 30, "", log)
        [killed] = [line for line in log.read_text().splitlines() if "SIGKILL" in line]
        [left] = [pid for pid in workers if f"[{pid}]" not in killed]
        os.kill(left, signal.SIGCONT)
        assert wait_for(lambda: answers(log), 30, "no answer after SIGTTOU", log)
        assert workers_of(proc.pid) == {left}
        os.kill(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        stop_group(proc)


def test_a_sighup_whose_new_worker_cannot_start_keeps_the_old_ones_serving(tmp_path, model_files):
    """The model file damaged since the start: SIGHUP's new worker cannot load it, so
    the old workers go on serving, and the log says why (not only "not ready in time")."""
    model = tmp_path / "model.npz"
    model.write_bytes(model_files["explicit"].read_bytes())
    proc, log = start_serve(tmp_path, model, 2)
    try:
        started = lambda: log.read_text().count("Application startup complete") == 2  # noqa: E731
        wait_for(started, 90, "no two workers started", log)
        workers = workers_of(proc.pid)
        model.write_bytes(b"not a model")
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(log_has(log, "keeping worker"), 90, "no end to the restart", log)
        [line] = [line for line in log.read_text().splitlines() if "keeping worker" in line]
        assert "could not start" in line and "is not a latentrec model file" in line, line
        assert answers(log) and workers_of(proc.pid) == workers
        os.killpg(proc.pid, signal.SIGTERM)
        wait_all_gone(proc, STOP_BOUND_SECONDS, log)
        assert proc.wait(timeout=5) == -signal.SIGTERM
    finally:
        stop_group(proc)
