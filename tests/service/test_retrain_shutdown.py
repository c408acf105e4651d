"""A plain kill of ``latentrec serve --retrain-every`` ends the retrain child it started.

The real CLI serves on 127.0.0.1 with a one-second schedule; its retrain child is held
(before it trains) by a ``sitecustomize`` put on its ``PYTHONPATH``, which records the
child's pid and sleeps: a retrain that takes long.  SIGTERM or SIGINT to the serving
process alone (not its process group, as ``kill PID`` or a service manager's stop does)
must end that child too: no orphan keeps training and publishing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from latentrec import load
from latentrec.service.schedule import PARENT_ENV
from latentrec.service.versions import ModelDirectory

from .serving import alive, wait_for

# Stands for a long training: only in a `latentrec retrain` process, before it starts.
HOLD = """
import os, time
with open("/proc/self/cmdline", "rb") as f:
    args = f.read().split(b"\\0")
if b"latentrec.cli" in args and b"retrain" in args:
    with open(os.environ["RETRAIN_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(90)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    "sig, workers",
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)],
    ids=["sigterm", "sigint", "sigterm-2-workers"],
)
def test_a_kill_of_serve_ends_its_retrain_child(serve, model_files, tmp_path, sig, workers):
    kill_serve_with_a_held_child(serve, model_files, tmp_path, HOLD, sig, workers)


def held(pids_file) -> bool:
    """Whether a held child has written its whole line to ``pids_file``."""
    return pids_file.exists() and pids_file.read_text().endswith("\n")


def kill_serve_with_a_held_child(serve, model_files, tmp_path, hold, sig, workers=1):
    """Serve with a one-second retrain schedule and ``hold`` as the children's
    ``sitecustomize``; once a child is held, send ``sig`` to the serving process only
    (not its group) and check that the child ends and no round starts after."""
    models = ModelDirectory(tmp_path / "models")
    models.publish(load(model_files["explicit"]))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(hold)
    pids_file = tmp_path / "retrain.pids"
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    server = serve(
        "--model-dir", str(models.path), "--retrain-every", "1s", "--no-access-log",
        "--workers", str(workers),
        env={"PYTHONPATH": path, "RETRAIN_PIDS": str(pids_file)},
    )  # fmt: skip
    children = []
    try:
        # The file exists a moment before its line is written: wait for the whole line.
        wait_for(lambda: held(pids_file), 60, "a retrain child to be held")
        children = [int(x) for x in pids_file.read_text().split()]
        assert len(children) == 1 and alive(children[0])
        os.kill(server.proc.pid, sig)
        server.proc.wait(timeout=60)
        wait_for(lambda: not alive(children[0]), 20, "the retrain child to end")
        assert [int(x) for x in pids_file.read_text().split()] == children
    finally:
        for pid in children:  # never leave a held child behind, even when this fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# Stands for a long training that has started: the hold is at the call of the service's
# retrain, after the command's own set-up (where it learns to follow its parent).
HOLD_IN_TRAINING = """
import os, sys, time
with open("/proc/self/cmdline", "rb") as f:
    args = f.read().split(b"\\0")
if b"latentrec.cli" in args and b"retrain" in args:
    where = os.path.join("latentrec", "service", "retrain.py")

    def hold(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "retrain" and (
            frame.f_code.co_filename.endswith(where)
        ):
            sys.setprofile(None)
            with open(os.environ["RETRAIN_PIDS"], "a") as f:
                f.write(f"{os.getpid()}\\n")
            time.sleep(90)

    sys.setprofile(hold)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs Linux's /proc")
def test_sigkill_of_serve_ends_its_retrain_child(serve, model_files, tmp_path):
    """SIGKILL cannot be caught, so serve cannot end its child; the kernel does."""
    kill_serve_with_a_held_child(serve, model_files, tmp_path, HOLD_IN_TRAINING, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_retrain_whose_parent_is_already_gone_ends_at_once():
    code = "from latentrec.service.schedule import follow_parent; follow_parent(); print('ran')"
    gone = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, PARENT_ENV: "1"},  # not this child's parent
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == -signal.SIGTERM and "ran" not in gone.stdout
    kept = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, PARENT_ENV: str(os.getpid())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert kept.returncode == 0 and kept.stdout.strip() == "ran"
