"""The worker supervisor of ``latentrec serve --workers N`` on forked stub workers: a
hung worker does not hide a dead one, an answer left in the pipe is not taken for the
next one, and the signal handlers it found are given back whatever its last step does.

Before: the check pinged the workers one after another and waited for each as long as
the health-check timeout (120 s in serve), so a stopped worker (SIGSTOP, a deadlock)
held back the replacement of a dead one behind it that long; a ping whose wait a signal
ended left its answer in the pipe, and the next check read it as the answer to its own
ping, so a worker that had hung meanwhile passed for alive; and had ``end_workers``
raised in ``run``'s last step, uvicorn's signal handlers (which only queue a signal for
a loop that no longer runs) were left behind.  The stubs answer pings as uvicorn's
workers do (one answer to each ping, in the same pipe); the waits are bounds far above
what they wait for.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from types import SimpleNamespace

import pytest

import latentrec.cli.supervisor as supervisor_module
from latentrec.cli.supervisor import worker_supervisor

FORK = multiprocessing.get_context("fork")

# A health-check timeout far above what a stub takes to answer (at once).
HEALTH_CHECK_SECONDS = 30


def answer_each_ping(conn) -> None:
    """A started worker: answers each ping that its server has started."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        conn.recv()
        conn.send(True)


def answer_once_then_die(conn) -> None:
    """A worker that answers one ping and then dies (killed for memory, a crash)."""
    conn.recv()
    conn.send(True)
    os.kill(os.getpid(), signal.SIGKILL)


def stub_worker(target):
    """A started forked worker running ``target`` on its end of a pipe, with the
    methods of uvicorn's ``Process`` the supervisor uses."""
    from uvicorn.supervisors.multiprocess import Process

    class Stub(Process):
        def __init__(self):
            self.config, self._server = None, None
            self.parent_conn, self.child_conn = multiprocessing.Pipe()
            self.process = FORK.Process(target=target, args=(self.child_conn,), daemon=True)

    worker = Stub()
    worker.start()
    return worker


def ping_and_interrupt(supervisor, worker) -> None:
    """Ping ``worker`` (stopped: it cannot answer) and end the wait for its answer as a
    signal does."""
    try:
        supervisor.ask(worker, HEALTH_CHECK_SECONDS, interrupt=lambda: True)
    except Exception as error:  # the supervisor's own class, local to its factory
        assert type(error).__name__ == "Interrupted"
    else:
        raise AssertionError("the wait for the answer went on")


@pytest.fixture
def supervisor_on_stubs():
    """Make a supervisor of ``workers`` (stub workers, its new ones answering each
    ping), its health-check timeout ``timeout``; on leaving, every worker started is
    killed and the signal handlers it found are put back."""
    from uvicorn.supervisors.multiprocess import SIGNALS

    handlers = {signum: signal.getsignal(signum) for signum in SIGNALS}
    started = []

    def make(workers, timeout=HEALTH_CHECK_SECONDS, on_spawn=None):
        class OnStubs(worker_supervisor()):
            def spawn(self):
                new = stub_worker(answer_each_ping)
                started.append(new)
                if on_spawn is not None:
                    on_spawn(self, new)
                return new

        config = SimpleNamespace(workers=len(workers), timeout_worker_healthcheck=timeout)
        supervisor = OnStubs(config, sockets=[])
        supervisor.processes = list(workers)
        started.extend(workers)
        return supervisor

    try:
        yield make
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for worker in started:
            if worker.process.is_alive():
                os.kill(worker.pid, signal.SIGKILL)  # a stopped one too
            worker.process.join(10)


def test_a_hung_worker_does_not_hold_back_the_replacement_of_a_dead_one(supervisor_on_stubs):
    """Worker A is stopped (it will not answer for the whole timeout); worker B answers
    the check's ping and dies while the check still waits for A.  B is replaced within
    that same wait.  The first replacement queues a signal, which ends the check: before,
    the check waited the whole timeout for A, killed it as hung, and only then (the
    replacement of A) got there, with B still dead and not even looked at."""
    hung = stub_worker(answer_each_ping)
    dying = stub_worker(answer_once_then_die)
    replaced = []

    def a_signal_after_the_first(supervisor, new):
        replaced.append(new)
        supervisor.signal_queue.append(signal.SIGUSR1)

    supervisor = supervisor_on_stubs([hung, dying], on_spawn=a_signal_after_the_first)
    os.kill(hung.pid, signal.SIGSTOP)
    supervisor.keep_subprocess_alive()

    assert dying.exitcode == -signal.SIGKILL
    assert supervisor.processes == [hung, *replaced] and len(replaced) == 1
    assert hung.process.is_alive()  # still waited for: not yet judged hung


def test_a_dead_worker_is_replaced_whatever_a_hung_one_before_it_does(supervisor_on_stubs):
    """The reviewer's case: worker A stopped, worker B already dead when the check
    comes; B is replaced without waiting out A's timeout first."""
    hung, dead = stub_worker(answer_each_ping), stub_worker(answer_each_ping)
    os.kill(hung.pid, signal.SIGSTOP)
    os.kill(dead.pid, signal.SIGKILL)
    dead.process.join(10)

    def a_signal_after_the_first(supervisor, new):
        supervisor.signal_queue.append(signal.SIGUSR1)

    supervisor = supervisor_on_stubs([hung, dead], on_spawn=a_signal_after_the_first)
    supervisor.keep_subprocess_alive()

    assert supervisor.processes[0] is hung and hung.process.is_alive()
    assert supervisor.processes[1] is not dead


def test_an_answer_left_by_an_interrupted_ping_is_not_taken_for_the_next(supervisor_on_stubs):
    """A ping whose wait a signal ended is answered later; the worker then hangs.  The
    next check waits for the answer to its own ping, gets none, and replaces the worker
    as hung; before, it read the old answer and took the hung worker for alive."""
    worker = stub_worker(answer_each_ping)
    supervisor = supervisor_on_stubs([worker], timeout=1)
    os.kill(worker.pid, signal.SIGSTOP)
    ping_and_interrupt(supervisor, worker)
    os.kill(worker.pid, signal.SIGCONT)
    assert worker.parent_conn.poll(HEALTH_CHECK_SECONDS)  # its late answer, unread
    os.kill(worker.pid, signal.SIGSTOP)

    supervisor.keep_subprocess_alive()

    assert worker.exitcode == -signal.SIGKILL
    assert supervisor.processes[0] is not worker


def test_a_worker_that_answered_late_is_asked_again_and_its_answer_taken(supervisor_on_stubs):
    """The other side of the test above: the late answer is dropped, not the worker's
    answer to the next ping (a worker that runs is not taken for hung)."""
    worker = stub_worker(answer_each_ping)
    supervisor = supervisor_on_stubs([worker])
    os.kill(worker.pid, signal.SIGSTOP)
    ping_and_interrupt(supervisor, worker)
    os.kill(worker.pid, signal.SIGCONT)

    assert supervisor.ask(worker, HEALTH_CHECK_SECONDS, interrupt=lambda: False) is True
    supervisor.keep_subprocess_alive()

    assert supervisor.processes == [worker] and worker.process.is_alive()
    assert not worker.parent_conn.poll(0)  # every answer read


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
