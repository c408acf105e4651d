"""The worker supervisor of ``latentrec serve --workers N``: the signal handlers it found
are given back whatever its last step does.

Before, had ``end_workers`` raised in ``run``'s last step, uvicorn's signal handlers
(which only queue a signal for a loop that no longer runs) were left behind.
"""

from __future__ import annotations

import signal
from types import SimpleNamespace

import pytest

import latentrec.cli.supervisor as supervisor_module
from latentrec.cli.supervisor import worker_supervisor


def test_the_signal_handlers_are_given_back_when_ending_the_workers_fails(monkeypatch):
    """Had ending the workers raised in the supervisor's last step, its handlers (they
    only queue a signal for its loop, which no longer runs) were left behind."""
    from uvicorn.supervisors.multiprocess import SIGNALS

    def mine(signum, frame):
        pass

    def cannot_end(processes, **options):
        raise OSError("ending the workers failed")

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    try:
        for signum in SIGNALS:
            signal.signal(signum, mine)
        monkeypatch.setattr(supervisor_module, "end_workers", cannot_end)
        supervisor = worker_supervisor()(SimpleNamespace(workers=0), sockets=[])
        supervisor.should_exit.set()
        with pytest.raises(OSError, match="ending the workers failed"):
            supervisor.run()
        assert {signal.getsignal(signum) for signum in SIGNALS} == {mine}
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
