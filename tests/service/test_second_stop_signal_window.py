"""A second stop signal that comes while the first one unwinds to ``serve``'s clean-up.

uvicorn gives the first SIGINT back (raises it again) only once its server has ended,
and the event loop then still waits for its threads before the exception reaches
``serve``'s ``finally``.  A second Ctrl-C in that window was raised as a second
``Stopped`` through the unwinding: the clean-up then ran un-hurried and left the retrain
child its whole grace (a CI run saw ``serve`` outlive a 30 s bound), or, raised in the
``finally`` itself, never ran.  A SIGHUP there (the terminal closing) ended the process
by its default action, half-way.  Each case here runs in a child process, which sends
itself both signals at the very moments in question.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

# The first signal is raised in the block, the second one on the way to clean_up (in
# the finally, before clean_up has its own handlers); the schedule's child records
# whether it was killed, and stop() says what it saw.
CHILD = """
import signal, sys
from types import SimpleNamespace
from latentrec.cli.supervisor import clean_up, ends_by_stop_signal

second = getattr(signal, sys.argv[1])
killed = []
schedule = SimpleNamespace(
    child=SimpleNamespace(kill=lambda: killed.append("killed")),
    stop=lambda: print("stopped", killed, flush=True),
)
with ends_by_stop_signal():
    try:
        signal.raise_signal(signal.SIGINT)
    finally:
        signal.raise_signal(second)
        print("on to the clean-up", flush=True)
        clean_up(schedule, [])
print("not reached", flush=True)
"""


@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_second_signal_before_the_clean_up_hurries_it(second):
    child = subprocess.run(
        [sys.executable, "-c", CHILD, second],
        env=dict(os.environ, PYTHONPATH=SRC),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.stdout == "on to the clean-up\nstopped ['killed']\n", child.stderr
    # Ended by the first signal, as serve ends, with nothing on standard error.
    assert child.returncode == -signal.SIGINT, child.stderr
    assert child.stderr == ""


# No stop signal at all: the clean-up is not hurried, and a later run starts afresh.
QUIET = """
from types import SimpleNamespace
from latentrec.cli.supervisor import clean_up, ends_by_stop_signal, note_again

killed = []
schedule = SimpleNamespace(
    child=SimpleNamespace(kill=lambda: killed.append("killed")),
    stop=lambda: print("stopped", killed, flush=True),
)
note_again(None, None)  # an earlier run's note
with ends_by_stop_signal():
    clean_up(schedule, [])
"""


def test_without_a_second_signal_the_clean_up_is_not_hurried():
    child = subprocess.run(
        [sys.executable, "-c", QUIET],
        env=dict(os.environ, PYTHONPATH=SRC),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (child.returncode, child.stdout, child.stderr) == (0, "stopped []\n", "")


def test_handlers_are_put_back_after_the_block_sighup_included():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    from latentrec.cli.supervisor import ends_by_stop_signal, raise_stopped

    with ends_by_stop_signal():
        assert signal.getsignal(signal.SIGINT) is raise_stopped
        assert signal.getsignal(signal.SIGHUP) is before[signal.SIGHUP]
    assert {s: signal.getsignal(s) for s in before} == before
