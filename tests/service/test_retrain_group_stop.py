"""Stopping ``latentrec serve --retrain-every`` by its whole process group (systemd's
default ``KillMode=control-group``, a terminal's Ctrl-C) records no failed retrain.

The retrain child gets the stop signal too, and died of it before serve, still draining
its requests, had told the schedule it was stopping: ``last-retrain.json`` said
``{"ok": false, "reason": "exit code -15"}``, and after a restart ``/health`` showed a
failed retrain that nobody's retrain had had.  A child killed by a signal while the
service goes on is still recorded, by the signal's name, never a bare negative code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from latentrec import load
from latentrec.service.schedule import RetrainSchedule
from latentrec.service.versions import RETRAIN_STATUS, ModelDirectory, read_retrain_status

from .serving import alive, wait_for
from .test_retrain_shutdown import HOLD, HOLD_IN_TRAINING, held

LINUX_PROC = pytest.mark.skipif(
    not os.path.exists("/proc/self/cmdline"), reason="needs Linux's /proc"
)


@LINUX_PROC
@pytest.mark.parametrize(
    "sig, workers, hold",
    [
        (signal.SIGTERM, 1, HOLD),
        (signal.SIGTERM, 1, HOLD_IN_TRAINING),
        (signal.SIGINT, 1, HOLD_IN_TRAINING),
        (signal.SIGTERM, 2, HOLD),
    ],
    ids=["sigterm-loading", "sigterm-training", "sigint-training", "sigterm-2-workers"],
)
def test_a_stop_of_the_whole_group_records_no_failed_retrain(
    serve, model_files, tmp_path, sig, workers, hold
):
    """``hold`` keeps the child while it loads (SIGTERM kills it outright) or once it
    trains (SIGTERM and SIGINT unwind it, exit status 143 or 1)."""
    models = ModelDirectory(tmp_path / "models")
    models.publish(load(model_files["explicit"]))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(hold)
    pids_file = tmp_path / "retrain.pids"
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    server = serve(
        "--model-dir", str(models.path), "--retrain-every", "1s", "--no-access-log",
        "--retrain-min-holdout", "0", "--workers", str(workers),
        env={"PYTHONPATH": path, "RETRAIN_PIDS": str(pids_file)},
    )  # fmt: skip
    children = []
    try:
        wait_for(lambda: held(pids_file), 60, "a retrain child to be held")
        children = [int(x) for x in pids_file.read_text().split()]
        server.kill(sig)  # the whole group: serve, its workers and the retrain child
        assert server.proc.returncode == -sig
        wait_for(lambda: not alive(children[0]), 20, "the retrain child to end")
        assert not (models.path / RETRAIN_STATUS).exists(), read_retrain_status(models.path)
    finally:
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def sleeper(tmp_path) -> tuple[list[str], object]:
    """A retrain stand-in that writes its pid and sleeps; its pid file."""
    pid_file = tmp_path / "child.pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    return [sys.executable, "-c", code, str(pid_file)], pid_file


def child_pid(pid_file) -> int:
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), 30, "the child to start")
    return int(pid_file.read_text())


def test_a_child_killed_while_the_service_goes_on_is_recorded_by_the_signals_name(tmp_path):
    command, pid_file = sleeper(tmp_path)
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=0.2)
    ran = threading.Thread(target=schedule.run_once)
    ran.start()
    os.kill(child_pid(pid_file), signal.SIGTERM)
    ran.join(30)
    record = read_retrain_status(tmp_path)
    assert record["ok"] is False and record["by"] == "scheduled"
    assert record["reason"] == "stopped by SIGTERM", record
    assert schedule.failures == 1


def test_a_child_killed_by_the_signal_that_stops_the_service_is_not_recorded(tmp_path):
    """The group's signal reaches the child first; serve tells the schedule only once it
    has drained its requests (here: a second later)."""
    command, pid_file = sleeper(tmp_path)
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=30)
    ran = threading.Thread(target=schedule.run_once)
    ran.start()
    os.kill(child_pid(pid_file), signal.SIGTERM)
    time.sleep(1.0)
    schedule.stop()
    ran.join(30)
    assert not ran.is_alive()
    assert read_retrain_status(tmp_path) is None and schedule.failures == 0


def test_a_child_that_exits_143_on_sigterm_is_recorded_as_stopped_by_it(tmp_path):
    """The command line turns SIGTERM into exit status 143 (its clean-ups run)."""
    command = [sys.executable, "-c", "import sys; sys.exit(143)"]
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=0.1)
    assert schedule.run_once() is None
    assert read_retrain_status(tmp_path)["reason"] == "stopped by SIGTERM"


def test_an_interrupted_child_is_recorded_as_stopped_by_sigint(tmp_path):
    """Ctrl-C in a retrain ends it with click's "Aborted!" and exit status 1."""
    command = [sys.executable, "-c", "import sys; sys.stderr.write('\\nAborted!\\n'); sys.exit(1)"]
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=0.1)
    assert schedule.run_once() is None
    assert read_retrain_status(tmp_path)["reason"] == "stopped by SIGINT"


def test_a_timed_out_child_is_still_said_as_a_timeout(tmp_path):
    command, _ = sleeper(tmp_path)
    schedule = RetrainSchedule(
        "r.db", str(tmp_path), every=60, command=command, timeout=1, stop_notice=30
    )
    assert schedule.run_once() is None
    assert "timed out after 1 seconds" in read_retrain_status(tmp_path)["reason"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_a_child_killed_by_a_signal_no_stop_sends_is_recorded_at_once(tmp_path, sig):
    """An OOM kill (SIGKILL) or a crash (SIGSEGV) is no stop of the service's group: the
    round waited a minute for a stop notice that never came, the schedule stalled, and a
    serve that stopped meanwhile never recorded the killed retrain."""
    command, pid_file = sleeper(tmp_path)
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=30)
    ran = threading.Thread(target=schedule.run_once)
    ran.start()
    os.kill(child_pid(pid_file), sig)
    # No stop() within the notice would return; the record must be there long before.
    wait_for(lambda: read_retrain_status(tmp_path) is not None, 10, "the round's record")
    ran.join(10)
    assert not ran.is_alive()
    record = read_retrain_status(tmp_path)
    assert record["ok"] is False and record["reason"] == f"killed by {sig.name}", record
    assert schedule.failures == 1


def test_a_child_killed_by_sigkill_as_the_service_stops_is_not_a_failure(tmp_path):
    """stop() itself ends a child that outlives its grace with SIGKILL: no failed round."""
    command, pid_file = sleeper(tmp_path)
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=30)
    ran = threading.Thread(target=schedule.run_once)
    ran.start()
    pid = child_pid(pid_file)
    schedule.stopping.set()
    os.kill(pid, signal.SIGKILL)
    ran.join(30)
    assert not ran.is_alive()
    assert read_retrain_status(tmp_path) is None and schedule.failures == 0


def test_a_shell_exit_for_sigkill_is_recorded_at_once(tmp_path):
    """Status 137 (128 + SIGKILL), as a wrapping shell reports an OOM kill."""
    command = [sys.executable, "-c", "import sys; sys.exit(137)"]
    schedule = RetrainSchedule("r.db", str(tmp_path), every=60, command=command, stop_notice=30)
    started = threading.Thread(target=schedule.run_once)
    started.start()
    wait_for(lambda: read_retrain_status(tmp_path) is not None, 10, "the round's record")
    started.join(10)
    assert read_retrain_status(tmp_path)["reason"] == "killed by SIGKILL"
