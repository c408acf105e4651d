"""Servers the tests start end with the test run (:func:`dies_with_the_test_run`).

Kept apart from ``conftest.py`` and light to import: a stand-in for a test run imports it
in the checks of ``test_servers_end_with_the_run.py``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

# prctl(2): the signal a process gets once the thread that started it has ended.
PR_SET_PDEATHSIG = 1
# Loaded here, never in a forked child (loading takes locks another thread may hold).
LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def dies_with_the_test_run(then=None):
    """A ``preexec_fn`` for a server started in a session of its own: the server gets
    SIGTERM (its clean stop) once this test process has ended, however it ended; and it
    runs ``then()`` (another ``preexec_fn``) first.

    Why: a server in a session of its own escapes the signal that ends the test run's
    process group, so a run killed by ``timeout`` or CI's limit left every server it
    had started running (with their workers) for good.  Only from the main thread (the
    signal comes when the *thread* that started the server ends) and on Linux.
    """
    parent = os.getpid()
    follow = LIBC is not None and threading.current_thread() is threading.main_thread()

    def setup() -> None:
        if then is not None:
            then()
        if follow and LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0:
            if os.getppid() != parent:  # ended before prctl: no signal will come
                os.kill(os.getpid(), signal.SIGTERM)

    return setup
