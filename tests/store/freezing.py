"""Processes of a test's PostgreSQL server stopped with SIGSTOP for a bounded time: what
a server that stops answering looks like to its clients (a network black hole after
connecting, a host frozen under a live network stack): its kernel still takes the bytes,
nothing answers them.

The processes are always continued: on leaving the block, however it is left, and by a
timer after ``at_most`` seconds, so that a client that waits for ever (the bug a test
looks for) is released and the test fails instead of hanging the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import contextmanager


def server_pids(server) -> list[int]:
    """The postmaster's PID and its children's (backends and helper processes) of a
    :class:`~store.pgserver.PostgresServer`."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *(int(pid) for pid in children)]


@contextmanager
def stopped(pids, at_most: float):
    """``pids`` stopped (SIGSTOP) inside the block; continued (SIGCONT) on leaving it or
    after ``at_most`` seconds, whichever comes first.  Yields an event set once they
    were continued by the timer."""
    done = []
    lock = threading.Lock()
    thawed_early = threading.Event()

    def cont(early: bool) -> None:
        with lock:
            if early and done:
                thawed_early.set()
            while done:
                pid = done.pop()
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    timer = threading.Timer(at_most, cont, [True])
    timer.daemon = True
    try:
        with lock:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
                done.append(pid)
        timer.start()
        yield thawed_early
    finally:
        timer.cancel()
        cont(False)
