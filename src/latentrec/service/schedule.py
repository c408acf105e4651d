"""The retrain schedule of ``latentrec serve --retrain-every 24h``.

Owns :class:`RetrainSchedule`: a thread in the serving process that, every interval,
runs ``latentrec retrain --model-dir ... --json`` (the store in ``LATENTREC_STORE``)
in a child process (training must not take the serving process's interpreter lock, and
it gets the machine's threads, which the serving processes give up), then waits for the
next round.
Each round reads the directory afresh, so a version published while the service runs,
a model or a pipeline, is the one retrained (a pipeline with its own recipe, see
:mod:`latentrec.service.retrain`).
How each round ended (its time, whether it ran to its end, its one-line reason, the
version it published; ``by`` "scheduled") is written to ``last-retrain.json`` in the
model directory
(:func:`~latentrec.service.versions.write_retrain_status`), which every worker's
``/health`` shows as ``last_retrain``: the workers are other processes than this one,
and a failure only in this process's log went unseen.
Publishing is the retrain's job (only a candidate that is not worse becomes current);
every worker follows the directory's pointer and swaps the new version in without
dropping a request (:class:`~latentrec.service.refresh.Refresher`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time

from .hardening import ERROR_LOGGER
from .versions import write_retrain_status

# The variable ``latentrec retrain --store`` is read from (see cli/store.py).
STORE_ENV = "LATENTREC_STORE"

# The pid of the serving process that started a retrain; the retrain ends with it.
PARENT_ENV = "LATENTREC_PARENT_PID"

# prctl(2): have the kernel send this process a signal when its parent dies.
_PR_SET_PDEATHSIG = 1

# A retrain that runs longer than this is stopped (and the round counted as failed).
RETRAIN_TIMEOUT = 6 * 3600

# How long a stopped retrain child has to exit after SIGTERM before it is killed.
CHILD_GRACE = 5.0

# How long a round whose child a signal ended waits for the service's own stop before it
# records the round as failed.  A stop sent to the whole process group (systemd's
# KillMode=control-group, Ctrl-C in a terminal) reaches the child at once, but the
# schedule hears of it only once serve has drained its requests and stopped its workers
# (serve's DRAIN_SECONDS, then up to WORKER_STOP_SECONDS and the reaping): a round ended
# by the service's stop is no failed retrain.
STOP_NOTICE = 60.0

# What click writes on standard error when Ctrl-C ends a command (then exit status 1).
ABORTED = "Aborted!"

# The signals a stop of the service's process group sends (systemd, a terminal's Ctrl-C,
# a closed terminal): only a child ended by one of these may be the service's stop.
STOP_SIGNALS = frozenset({int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIGHUP)})

# The longest wait a thread can make (about 292 years): a longer interval would kill the
# schedule's thread with an OverflowError at its first wait, after the service started.
LONGEST_INTERVAL = threading.TIMEOUT_MAX


def check_interval(seconds, what: str = "the retrain interval") -> float:
    """``seconds`` as a float, if it is a finite wait a thread can make; else a ValueError.

    Example:
        >>> check_interval(90)
        90.0
        >>> check_interval(0)
        Traceback (most recent call last):
        ...
        ValueError: the retrain interval must be more than 0 seconds, got 0
    """
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of seconds, got {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be more than 0 seconds, got {seconds!r}")
    if value > LONGEST_INTERVAL:
        raise ValueError(
            f"{what} is {value:.0f} seconds, longer than the longest wait a thread can make "
            f"({LONGEST_INTERVAL:.0f} seconds)"
        )
    return value


def retrain_command(model_dir: str, min_holdout: int | None = None) -> list[str]:
    """The command line of one retrain; the store comes in its environment
    (:data:`STORE_ENV`), since a command line is visible to every user (``ps``) and a
    database URL may hold a password.  ``min_holdout`` is its ``--min-holdout`` (``None``:
    retrain's default).  ``--scheduled`` tells the command that the schedule records the
    round itself (by "scheduled"; it also sees a child that dies without a word), on its
    command line rather than in an environment variable, which a hand-run retrain could
    inherit and then record nothing.

    Example:
        >>> retrain_command("models")[-5:]
        ['retrain', '--model-dir', 'models', '--json', '--scheduled']
        >>> retrain_command("models", min_holdout=20)[-2:]
        ['--min-holdout', '20']
    """
    command = [
        sys.executable, "-m", "latentrec.cli", "retrain", "--model-dir", model_dir, "--json",
        "--scheduled",
    ]  # fmt: skip
    if min_holdout is not None:
        command += ["--min-holdout", str(int(min_holdout))]
    return command


class RetrainSchedule:
    """Run a retrain every ``every`` seconds in a child process, until :meth:`stop`.

    ``command`` (default :func:`retrain_command`, with ``min_holdout``: the fewest
    held-out ratings a round's comparison is trusted on, ``None`` for retrain's default)
    runs with environment ``env`` (default:
    this process's) and ``store_url`` in :data:`STORE_ENV`; its JSON output is kept in
    ``last`` and logged.  A failed round (exit code not 0, or no JSON) is logged and
    counted in ``failures``, and the next round runs on time.  Each round's outcome is
    recorded in ``model_dir`` (:func:`~latentrec.service.versions.write_retrain_status`),
    for the workers' ``/health``.  ``first_after`` delays the
    first round (default: one interval).  A child ended by a signal a group stop sends
    (SIGTERM, SIGINT, SIGHUP: sent to the whole process group, it reaches the child
    before serve tells the schedule to stop) is recorded only if :meth:`stop` does not
    come within ``stop_notice`` seconds, as "stopped by SIGTERM"; one ended by any
    other (an OOM kill, a crash) at once, as "killed by SIGKILL".  ``every`` and
    ``first_after`` are checked here (:func:`check_interval`), so a bad one fails when
    the schedule is made, not later in its thread.  :meth:`stop` ends a retrain in
    progress too: a serving process that is told to stop leaves no child training and
    publishing behind it.

    Example:
        >>> schedule = RetrainSchedule("ratings.sqlite", "models", every=3600)
        >>> schedule.every, schedule.runs, schedule.command[-1]
        (3600.0, 0, '--scheduled')
        >>> schedule.env["LATENTREC_STORE"], "ratings.sqlite" in schedule.command
        ('ratings.sqlite', False)
    """

    def __init__(
        self,
        store_url: str,
        model_dir: str,
        every: float,
        *,
        command: list[str] | None = None,
        env: dict | None = None,
        first_after: float | None = None,
        timeout: float = RETRAIN_TIMEOUT,
        min_holdout: int | None = None,
        stop_notice: float = STOP_NOTICE,
    ):
        self.command = command or retrain_command(model_dir, min_holdout)
        self.model_dir = model_dir
        self.env = {**(os.environ if env is None else env), STORE_ENV: str(store_url)}
        self.every = check_interval(every)
        if first_after is None:
            self.first_after = self.every
        elif first_after == 0:
            self.first_after = 0.0
        else:
            self.first_after = check_interval(first_after, "first_after")
        self.timeout = timeout
        self.stop_notice = stop_notice
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.runs = 0
        self.failures = 0
        self.last: dict | None = None
        self.logger = logging.getLogger(ERROR_LOGGER)
        # The running retrain, guarded so that stop() never misses a child being started.
        self.child: subprocess.Popen | None = None
        self.child_lock = threading.Lock()

    def start(self) -> RetrainSchedule:
        """Start the schedule's thread (a daemon: it never keeps the process alive)."""
        if self.thread is None:
            self.stopping.clear()
            self.thread = threading.Thread(target=self.loop, name="latentrec-retrain", daemon=True)
            self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the schedule, ending a retrain in progress (SIGTERM, then SIGKILL after
        :data:`CHILD_GRACE` seconds); no round starts after this.

        A retrain ended before its publish switched the directory's pointer publishes
        nothing (a version becomes current only by that atomic switch, once its files
        are complete); the next retrain trains on everything stored again.
        """
        self.stopping.set()
        with self.child_lock:
            child = self.child
        if child is not None:
            end_child(child)
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None

    def loop(self) -> None:
        wait = self.first_after
        while not self.stopping.wait(wait):
            started = time.monotonic()
            self.run_once()
            wait = max(0.0, self.every - (time.monotonic() - started))

    def run_once(self) -> dict | None:
        """One retrain in a child process; its JSON summary, or ``None`` when it failed."""
        try:
            with self.child_lock:
                if self.stopping.is_set():
                    return None
                self.runs += 1
                child = subprocess.Popen(
                    self.command,
                    env={**self.env, PARENT_ENV: str(os.getpid())},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                self.child = child
            try:
                stdout, stderr = child.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired as err:
                end_child(child)
                return self.failed(str(err))
            finally:
                with self.child_lock:
                    self.child = None
        except OSError as err:
            return self.failed(str(err))
        signum = ending_signal(child.returncode, stderr)
        if signum is not None:
            if self.stopping.is_set():
                return None  # ended by the service's stop: not a failure of the retrain
            if signum not in STOP_SIGNALS:
                # An OOM kill or a crash: no stop of the group sends it, so no stop
                # notice is coming; waiting for one stalled the schedule a minute.
                return self.failed(f"killed by {signal_name(signum)}")
            # Sent to the service's whole group, the signal reached the child before
            # serve, still draining its requests, called stop(): wait for it.
            if self.stopping.wait(self.stop_notice):
                return None
            return self.failed(f"stopped by {signal_name(signum)}")
        summary = last_json(stdout)
        if child.returncode != 0:
            # `retrain --json` says why on standard output; anything else (a crash
            # before it ran) on standard error.
            error = summary.get("error") if summary else None
            last = (stderr.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
            return self.failed(error or last)
        if summary is None:
            return self.failed(f"no JSON summary in its output: {stdout[-200:]!r}")
        self.last = summary
        self.logger.info(
            "scheduled retrain: %s",
            json.dumps({k: summary.get(k) for k in ("published", "version", "reason")}),
        )
        published = bool(summary.get("published"))
        self.record(
            True,
            str(summary.get("reason") or ""),
            published=published,
            version=summary.get("version") if published else None,
        )
        return summary

    def failed(self, why) -> None:
        self.failures += 1
        self.logger.error("scheduled retrain failed: %s", why)
        self.record(False, str(why))
        return None

    def record(self, ok: bool, reason: str, **outcome) -> None:
        """Write the round's outcome for the workers' ``/health``; a record that cannot
        be written (the directory gone, a full disk) is logged, and the schedule goes on."""
        try:
            write_retrain_status(self.model_dir, ok, reason, by="scheduled", **outcome)
        except OSError as err:
            self.logger.error("recording the scheduled retrain's outcome failed: %s", err)


def last_json(output: str) -> dict | None:
    """The JSON object on the last line of ``output``; ``None`` when there is none.

    Example:
        >>> last_json('compiling...\\n{"published": false}\\n'), last_json("Error: x")
        ({'published': False}, None)
    """
    lines = output.strip().splitlines()
    try:
        value = json.loads(lines[-1])
    except (IndexError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def ending_signal(returncode: int, stderr: str = "") -> int | None:
    """The signal that ended a ``latentrec retrain`` child, from its exit status and its
    standard error; ``None`` when none did.  Killed outright, it has a negative status;
    SIGTERM during a command exits 143 (128 + 15, the command line's clean exit on it);
    Ctrl-C (SIGINT) is click's "Aborted!" and status 1.

    Example:
        >>> ending_signal(-9), ending_signal(143), ending_signal(1, "\\nAborted!\\n")
        (9, 15, 2)
        >>> ending_signal(0), ending_signal(1, "Error: no store at r.db")
        (None, None)
    """
    if returncode < 0:
        return -returncode
    if returncode > 128 and returncode - 128 in {int(s) for s in signal.Signals}:
        return returncode - 128
    lines = stderr.strip().splitlines()
    if returncode == 1 and lines and lines[-1].strip() == ABORTED:
        return int(signal.SIGINT)
    return None


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15; a number no signal has is said as one.

    Example:
        >>> signal_name(15), signal_name(99)
        ('SIGTERM', 'signal 99')
    """
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def follow_parent(env=None) -> bool:
    """In a retrain started by a :class:`RetrainSchedule`: end this process (SIGTERM)
    when the serving process that started it dies, even by SIGKILL, which it cannot
    catch to end its child itself.  Returns whether it is set up: only where
    :data:`PARENT_ENV` names the parent, and on Linux (``prctl(PR_SET_PDEATHSIG)``);
    elsewhere an orphaned retrain finishes its round.  A parent already gone ends this
    process at once.

    The signal comes when the parent's *thread* that started this process ends; the
    schedule's thread waits on its child, so that is the serving process's end.

    Example:
        >>> follow_parent({})  # not started by a schedule: nothing to follow
        False
    """
    env = os.environ if env is None else env
    parent = env.get(PARENT_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != int(parent):
        # The parent died before prctl took effect: the signal will never come.
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def end_child(child: subprocess.Popen, grace: float = CHILD_GRACE) -> None:
    """End ``child`` (SIGTERM; SIGKILL if it is still running ``grace`` seconds later) and
    reap it.

    Example:
        >>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        >>> end_child(child)
        >>> child.returncode
        -15
    """
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
    child.wait()
