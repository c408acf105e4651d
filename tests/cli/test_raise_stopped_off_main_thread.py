"""``raise_stopped`` called by hand off the main thread (``serve`` raises its worker
supervisor's stop through it) raises ``Stopped``, even while the main thread runs
under it: handing the signals on (``signal.signal``) is possible on the main thread
only, and raised ``ValueError`` there instead."""

from __future__ import annotations

import signal
import threading

from latentrec.cli.supervisor import Stopped, ends_by_stop_signal, raise_stopped


def test_raise_stopped_off_the_main_thread_raises_stopped():
    seen = []

    def run():
        try:
            raise_stopped(signal.SIGTERM, None)
        except BaseException as err:  # noqa: BLE001 - what was raised is the point
            seen.append(err)

    with ends_by_stop_signal():
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        # The main thread's handlers are left as they were.
        assert signal.getsignal(signal.SIGINT) is raise_stopped
    assert len(seen) == 1 and isinstance(seen[0], Stopped), seen
    assert seen[0].signum == signal.SIGTERM
