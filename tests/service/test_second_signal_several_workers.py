"""``serve --workers N``: a stop signal or SIGHUP that comes after the worker
supervisor has stopped on a first one, on the way to ``serve``'s clean-up.

With one worker the first ``Stopped`` is raised by its handler, which hands the stop
signals and SIGHUP to ``note_again``; with several ``serve`` raised it itself, so the
handlers the supervisor gave back stayed: a second Ctrl-C there was raised as a second
``Stopped`` and the clean-up never ran, and a SIGHUP ended ``serve`` by its default
action, half-way; either way the workers' temporary folders stayed behind (and a
retrain child went unstopped).  The child process here runs the real ``serve`` with a
supervisor stub that stops at once as a SIGINT stops it, and sends itself the second
signal just before the clean-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

CHILD = """
import signal, sys
import latentrec.cli.serve as serve
import latentrec.service.app as app_module

second = getattr(signal, sys.argv[1])


class Supervisor:
    stopped_by = None
    failure = None

    def __init__(self, config, sockets):
        pass

    def run(self):
        # As uvicorn's stopped by a first SIGINT, its handlers given back.
        self.stopped_by = signal.SIGINT

    def forced(self):
        return False


real_clean_up = serve.clean_up


def clean_up(schedule, folders, hurry=False):
    signal.raise_signal(second)  # on the way to the clean-up
    print("cleaning", flush=True)
    real_clean_up(schedule, folders, hurry)


serve.worker_supervisor = lambda: Supervisor
serve.clean_up = clean_up
serve.sweep_dead_folders = lambda: None
app_module.create_app = lambda settings: object()  # no model is loaded
serve.serve.main(
    ["--model", sys.argv[2], "--store", sys.argv[3], "--host", "127.0.0.1", "--port", "0",
     "--workers", "2", "--no-access-log"],
)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX signals")
@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_second_signal_on_the_way_to_the_clean_up_with_several_workers(tmp_path, second):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    model = tmp_path / "model.npz"
    model.touch()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, second, str(model), str(tmp_path / "s.db")],
        env=dict(os.environ, PYTHONPATH=SRC, TMPDIR=str(temporary)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout == "cleaning\n", child.stderr
    # Ended by the first signal, as one worker's serve ends, its folders removed.
    assert child.returncode == -signal.SIGINT, child.stderr
    assert sorted(os.listdir(temporary)) == []
