"""Ctrl-C in a Spark command: an error raised after it is the interrupt (no Spark needed).

A real SIGINT, sent to this process, runs the handler that ``spark_session`` installs; the
error that follows is py4j's own, as pyspark's clean-up raised it.  The end-to-end check,
SIGINT to a command's process group, is in ``test_spark_cli.py`` (``-m slow``).
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

py4j = pytest.importorskip("py4j.protocol", reason="pyspark (with py4j) is not installed")

from latentrec.spark import session  # noqa: E402


def empty_answer():
    return py4j.Py4JNetworkError("Answer from Java side is empty")


@pytest.fixture
def handler():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set in the main thread only")
    old = signal.signal(signal.SIGINT, session._interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        import logging

        logging.disable(logging.NOTSET)  # the handler silences logging for a command's end


def test_an_error_of_the_clean_up_as_the_interrupt_unwinds_is_the_interrupt(handler):
    """pyspark's job context called the JVM again as the KeyboardInterrupt unwound, on a
    connection the interrupt left unanswered: its Py4JNetworkError replaced the interrupt."""

    @session.interrupt_wins
    def job():
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in this thread
            signal.pause()  # not reached: the interrupt is raised first
        finally:
            raise empty_answer()

    with pytest.raises(KeyboardInterrupt) as caught:
        job()
    assert isinstance(caught.value.__cause__, py4j.Py4JNetworkError)


def test_an_error_after_an_interrupt_that_was_caught_is_the_interrupt(handler):
    """A Spark job fails when SIGINT to the process group kills its Python workers; the
    error need not be raised while the KeyboardInterrupt unwinds."""

    @session.interrupt_wins
    def job():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause()
        except KeyboardInterrupt:
            pass  # e.g. swallowed by a library between the handler and us
        raise empty_answer()

    with pytest.raises(KeyboardInterrupt):
        job()


def test_without_an_interrupt_errors_are_themselves(handler):
    @session.interrupt_wins
    def job(x, *, y):
        raise ValueError(f"no column {x!r} {y}")

    with pytest.raises(ValueError, match="no column 'user' 1"):
        job("user", y=1)
    assert job.__doc__ == session.interrupt_wins(job.__wrapped__).__doc__


def test_stop_session_raises_the_interrupt_not_the_failed_stop(handler):
    class Cut:
        """A session whose JVM connection Ctrl-C cut."""

        def stop(self):
            raise empty_answer()

    with pytest.raises(KeyboardInterrupt):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause()
        finally:
            session.stop_session(Cut())
    with pytest.raises(py4j.Py4JNetworkError):
        session.stop_session(Cut())  # no interrupt: the error is the stop's own


def test_the_functions_that_run_spark_jobs_read_a_late_error_as_the_interrupt():
    from latentrec.spark import fit_als, from_spark_als, read_ratings, recommend_all
    from latentrec.spark.reading import pair_lines

    for fn in (fit_als, from_spark_als, read_ratings, recommend_all, pair_lines):
        assert fn.__code__ is session.interrupt_wins(lambda: None).__code__, fn.__name__


@pytest.mark.slow
def test_a_start_that_fails_on_a_setting_leaves_the_jvm_for_the_next_start(tmp_path):
    """A start that fails on a bad setting: the JVM it started is stopped (as under
    Ctrl-C) and forgotten, so the next start launches one without the setting; it was
    killed but kept as pyspark's gateway, and the next start was refused
    (ConnectionRefusedError). Two JVM starts: a process of its own, marked slow."""
    import subprocess
    import sys

    script = (
        "from latentrec.spark import spark_session\n"
        f"log = open({str(tmp_path / 'jvm.log')!r}, 'w')\n"  # as the command line starts it
        "try:\n"
        "    spark_session('local[1]', jvm_log=log, **{'spark.scheduler.mode': 'BOGUS'})\n"
        "except Exception as err:\n"
        "    print('first start refused:', type(err).__name__)\n"
        "spark = spark_session('local[1]', jvm_log=log)\n"
        "print('second start counts', spark.range(3).count())\n"
        "spark.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert "first start refused" in done.stdout, done.stdout + done.stderr
    assert "second start counts 3" in done.stdout, done.stdout + done.stderr[-2000:]
