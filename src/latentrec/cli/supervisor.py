"""How ``latentrec serve`` stops, and the supervisor of its ``--workers N`` processes.

SIGTERM or SIGINT stops ``serve`` gracefully and then ends it by that same signal,
whatever ``--workers`` (:func:`ends_by_stop_signal`); one server drains its requests for
:data:`DRAIN_SECONDS`, a second stop signal cancelling them (:func:`single_server`).
With several workers, uvicorn's supervisor is replaced by :func:`worker_supervisor`:
it hears a stop signal at any moment of the workers' start, stops workers that do not
stop in time (:func:`end_workers`, at once on a second signal), stops ``serve`` on a
worker that cannot start (its line read back by :func:`worker_failure`), replaces one
that dies within a limit (:class:`RecentEvents`), and leaves nothing of an ended worker
behind (:func:`forget_worker`).  :func:`clean_up` is ``serve``'s last step: the retrain
schedule stopped (at once on a stop signal) and its temporary folders removed.  Those
folders carry the pid of the ``serve`` that made them (:func:`make_temp_folder`), so the
next ``serve`` removes those of one killed before its clean-up (:func:`sweep_dead_folders`),
once none of its workers runs either (each holds them: :func:`hold_serve_folders`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the pid in a folder's name alone keeps it
    fcntl = None

# The folder where a worker that cannot build its app writes why, in a file named by its
# pid, for serve to say it as one worker does (the worker's output is only a log).
WORKER_FAILURES_ENV = "LATENTREC_WORKER_FAILURES"

# Where prometheus-client keeps the values of several worker processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The exit status of a server that did not start (uvicorn's own).
STARTUP_FAILURE = 3


# How long the worker supervisor waits on a worker's answer at a time, before it looks
# again whether that worker still runs and whether a signal came.
ANSWER_SLICE_SECONDS = 0.1

# How long a server, told to stop, lets the requests it is answering finish (uvicorn's
# timeout_graceful_shutdown; those still running then are cancelled).  Without it a
# client that never finishes its request kept the server from stopping.
DRAIN_SECONDS = 10

# How long the worker supervisor waits for its workers to exit after SIGTERM before it
# kills them: the drain, then the app's own shutdown (its refresher thread) and a margin.
# A worker still loading a big model, or stuck, kept the whole of serve alive.
WORKER_STOP_SECONDS = DRAIN_SECONDS + 5

# How long a killed worker may take to be reaped: SIGKILL ends it at once, unless the
# kernel holds it (a read from a dead network disk); the parent does not wait forever.
REAP_SECONDS = 5

# The signals that stop serve (and then end it, by the same signal).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# The signals that hurry serve's last clean-up (clean_up) rather than end it half-way.
CLEAN_UP_SIGNALS = (*STOP_SIGNALS, signal.SIGHUP)

# The temporary folders serve makes, latentrec-<kind>-<pid of that serve>-<random>: the
# kinds are the workers' metrics files and the lines of workers that could not start.
TEMP_KINDS = ("metrics", "workers")
OWNED_FOLDER = re.compile(r"latentrec-(?:metrics|workers)-([1-9][0-9]{0,9})-[a-z0-9_]+")

# The descriptors holding serve's folders locked (make_temp_folder, hold_serve_folders),
# by path.
_HELD: dict[str, int] = {}

# The folders make_temp_folder made in this process, by path: their (device, inode).
_MADE: dict[str, tuple[int, int]] = {}

# A worker that dies after it started (killed for memory, a crash) is replaced, but not
# in a loop without end: when workers die more than DEATHS_PER_WORKER times per worker
# within RESTART_WINDOW_SECONDS, something kills each one as it comes (a crash on every
# request, a memory limit below the model's size) and serve stops, saying so.
DEATHS_PER_WORKER = 5
RESTART_WINDOW_SECONDS = 60


class Stopped(SystemExit):
    """``serve`` was told to stop by signal ``signum``: raised through the command so
    that its clean-up runs, then :func:`ends_by_stop_signal` ends the process by the
    same signal.  A ``SystemExit``, so that no ``except Exception`` takes it for an error.

    Example:
        >>> stop = Stopped(signal.SIGTERM)
        >>> stop.signum == signal.SIGTERM, stop.code
        (True, 143)
    """

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


class _Again:
    """Whether a stop signal (or SIGHUP) came while a :class:`Stopped` unwound to
    ``serve``'s clean-up: set by :func:`note_again`, read by :func:`clean_up`."""

    seen = False


def note_again(signum, frame):
    """The handler :func:`raise_stopped` leaves behind it: a further stop signal (or
    SIGHUP) is noted as "hurry the clean-up" (:func:`stopped_again`), not raised.

    Example:
        >>> note_again(signal.SIGINT, None)
        >>> stopped_again()
        True
        >>> _Again.seen = False  # as ends_by_stop_signal starts each run
    """
    _Again.seen = True


def stopped_again() -> bool:
    """Whether :func:`note_again` has heard a signal since :func:`ends_by_stop_signal`
    began.

    Example:
        >>> stopped_again()
        False
    """
    return _Again.seen


def raise_stopped(signum, frame):
    """The signal handler ``serve`` runs under: raises :class:`Stopped`.  Installed
    (not called by hand, as below), it first hands the stop signals and SIGHUP to
    :func:`note_again`: a second Ctrl-C while the first unwinds to the clean-up (uvicorn
    gives the first back only once its server has ended, and the event loop then still
    waits for its threads) hurries that clean-up.  Raised, it cut the unwinding short
    and the clean-up then waited out the retrain child's grace, or never ran; SIGHUP's
    default action ended the process half-way.  ``serve --workers N`` raises the stop
    its worker supervisor noted through it too (the supervisor gives this handler back),
    so that the same holds there.

    Example:
        >>> try:
        ...     raise_stopped(signal.SIGINT, None)
        ... except Stopped as stop:
        ...     print(signal.Signals(stop.signum).name)
        SIGINT
    """
    if signal.getsignal(signum) is raise_stopped:
        # Off the main thread (called by hand there) no handler can be set: the Stopped
        # is raised all the same, not a ValueError in its stead.
        with contextlib.suppress(ValueError):
            for other in CLEAN_UP_SIGNALS:
                signal.signal(other, note_again)
    raise Stopped(signum)


def end_by_signal(signum: int) -> None:
    """End this process by signal ``signum``, with its default action (no handler runs,
    no exit status is made up): output and logs are flushed first.

    Example (ends the process, so not run here)::

        end_by_signal(signal.SIGTERM)  # the parent sees "killed by SIGTERM" (-15, 143)
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
            pass
    signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    signal.raise_signal(signum)
    # Not reached: the default action of SIGTERM and SIGINT ends the process.  Were the
    # signal still held off, a shell's status for it is the next best thing.
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def ends_by_stop_signal():
    """Within it, SIGTERM and SIGINT raise :class:`Stopped`; when one ends the block
    (its ``finally`` clean-ups done), the process ends by that same signal.

    ``serve`` stops on these signals gracefully (uvicorn drains the requests, then gives
    the signal back), and then ends as uvicorn's own single process does and as a Unix
    daemon should: by the signal, whatever ``--workers``.  systemd counts death by
    SIGTERM or SIGINT as a clean stop (its ``SuccessExitStatus`` default) where it counts
    an exit status of 143 as a failure; a shell sees 128 + the signal's number.  Before,
    one worker exited 143 on SIGTERM and 1 on SIGINT, and several workers exited 0.
    Outside the main thread (where Python cannot set a handler) nothing changes.  Used
    as a decorator each call makes its own.

    Example:
        >>> before = signal.getsignal(signal.SIGINT)
        >>> with ends_by_stop_signal():
        ...     signal.getsignal(signal.SIGINT) is raise_stopped
        True
        >>> signal.getsignal(signal.SIGINT) is before
        True
    """
    # Off the main thread too: an earlier run's note would hurry this one's clean-up.
    _Again.seen = False
    try:
        previous = {signum: signal.signal(signum, raise_stopped) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread of the main interpreter
        yield
        return
    # raise_stopped may hand SIGHUP to note_again: it is put back too.
    previous[signal.SIGHUP] = signal.getsignal(signal.SIGHUP)
    try:
        yield
    except Stopped as stop:
        end_by_signal(stop.signum)
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def kill_retrain(schedule) -> None:
    """SIGKILL the retrain child ``schedule`` (a
    :class:`~latentrec.service.schedule.RetrainSchedule`) runs now, if any: a second
    stop signal does not wait out its grace.  Safe in a signal handler: it takes no lock
    (the interrupted code may hold the schedule's).

    Example:
        >>> from types import SimpleNamespace
        >>> kill_retrain(SimpleNamespace(child=None))  # no retrain runs: nothing to do
    """
    child = schedule.child
    if child is not None:
        with contextlib.suppress(OSError):  # ended and reaped meanwhile
            child.kill()


def clean_up(schedule, folders, hurry: bool | Callable[[], bool] = False) -> None:
    """``serve``'s last steps: stop the retrain ``schedule`` (when not ``None``), then
    remove each of ``folders`` that is not ``None``.  A stop signal meanwhile (or
    ``hurry``: one came during the workers' stop; a callable is asked once this has its
    handlers, so that no signal falls between; or one that :func:`note_again` heard on
    the way here) kills the retrain child at once (:func:`kill_retrain`) rather than cut
    the clean-up short; the process then ends as it was going to.

    A second Ctrl-C is "stop now", not "skip the clean-up": raised through it, it left
    the temporary folders behind and the retrain child to its own grace; ignored (the
    handlers of uvicorn's supervisor left behind), it waited out that grace.  SIGHUP (a
    terminal that closes) hurries it too, rather than end the process by its default
    action half-way.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> clean_up(None, [folder, None])
        >>> os.path.exists(folder)
        False
    """

    def hurried(signum, frame):
        if schedule is not None:
            kill_retrain(schedule)

    try:
        previous = {signum: signal.signal(signum, hurried) for signum in CLEAN_UP_SIGNALS}
    except ValueError:  # not the main thread: no handler can be set there
        previous = {}
    try:
        if schedule is not None:
            if (hurry() if callable(hurry) else hurry) or stopped_again():
                kill_retrain(schedule)
            schedule.stop()
    finally:
        for folder in folders:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
                release(folder)
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def make_temp_folder(kind: str) -> str:
    """A new temporary folder for ``serve`` (``kind``: one of :data:`TEMP_KINDS`), named
    ``latentrec-KIND-PID-XXXXXXXX`` with this process's pid, and held locked
    (:func:`hold_folder`) until :func:`clean_up` removes it: while this process lives,
    neither its pid nor the lock lets :func:`sweep_dead_folders` take it.  It has that
    name only once it is locked (it is made as ``.latentrec-...``, which the sweep does
    not read).

    Example:
        >>> folder = make_temp_folder("metrics")
        >>> os.path.basename(folder).startswith(f"latentrec-metrics-{os.getpid()}-")
        True
        >>> clean_up(None, [folder])
        >>> os.path.exists(folder)
        False
    """
    if kind not in TEMP_KINDS:
        raise ValueError(f"no temporary folder of kind {kind!r}: one of {TEMP_KINDS}")
    # Made under a name the sweep does not read, locked, and only then named: a serve in
    # another pid namespace (where this pid says nothing) sweeping in between found the
    # new folder neither alive nor locked, and removed it as this serve started.
    staging = tempfile.mkdtemp(prefix=f".latentrec-{kind}-{os.getpid()}-")
    hold_folder(staging)
    folder = os.path.join(os.path.dirname(staging), os.path.basename(staging)[1:])
    try:
        os.rename(staging, folder)
    except OSError:
        release(staging)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if staging in _HELD:
        _HELD[folder] = _HELD.pop(staging)  # the lock is the inode's: it moved with it
    made = os.stat(folder)
    _MADE[folder] = (made.st_dev, made.st_ino)
    return folder


def hold_folder(folder: str) -> bool:
    """Hold ``folder`` locked (a shared ``flock``) until :func:`release` or the end of
    this process, so that :func:`sweep_dead_folders` leaves it; whether it is held (not
    where the file system takes no lock).

    ``serve`` holds its folders so, and each of its workers holds them too
    (:func:`hold_serve_folders`): a shared lock, so that they all can.

    Example:
        >>> folder = tempfile.mkdtemp()
        >>> hold_folder(folder), locked_by_another(folder)
        (True, True)
        >>> release(folder); locked_by_another(folder)
        False
        >>> os.rmdir(folder)
    """
    if fcntl is None:
        return False
    if folder in _HELD:
        return True
    try:
        held = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(held, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # a file system without flock: the pid in its name still keeps it
        os.close(held)
        return False
    _HELD[folder] = held
    return True


def hold_serve_folders(env=None) -> list[str]:
    """In a worker of ``serve --workers N``: hold the temporary folders its ``serve``
    made and named in the environment ``env`` (default ``os.environ``) locked
    (:func:`hold_folder`) for as long as the worker runs.  The folders held.

    A ``serve`` killed outright leaves its workers their graceful stop (the requests
    they answer, up to :data:`DRAIN_SECONDS`, then their shutdown; where they do not
    follow ``serve``, they serve on), and they go on writing their metrics there.
    Held by ``serve`` alone, the folders went to the sweep of the next ``serve``
    meanwhile, and a worker's ``/metrics`` failed from then on.

    Example:
        >>> hold_serve_folders({})  # not a worker of serve: nothing to hold
        []
    """
    env = os.environ if env is None else env
    held = []
    for name in (MULTIPROC_ENV, WORKER_FAILURES_ENV):
        folder = env.get(name)
        # A metrics folder the user chose is not serve's to sweep, nor to hold.
        if folder and OWNED_FOLDER.fullmatch(os.path.basename(folder)) and hold_folder(folder):
            held.append(folder)
    return held


def release(folder: str) -> None:
    """Let go of the lock this process holds on ``folder`` (nothing when it holds none),
    and forget that it made it.

    Example:
        >>> release("/no/such/folder")
    """
    _MADE.pop(folder, None)
    held = _HELD.pop(folder, None)
    if held is not None:
        with contextlib.suppress(OSError):
            os.close(held)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs: another user's too (this one may not signal it),
    but not a zombie (ended, its parent yet to reap it: it holds nothing any more).  A
    number that cannot be a pid is taken for alive: nothing is removed on a guess.

    Example:
        >>> pid_alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return True
    except PermissionError:
        pass
    # A serve killed under a parent that does not reap it (yet) is a zombie for so long.
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            return stat_file.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc here, or reaped just now: the next sweep sees
        return True


def locked_by_another(folder: str) -> bool:
    """Whether some process holds ``folder`` locked (:func:`make_temp_folder`); ``False``
    where locks cannot be taken at all (the lock then says nothing).

    Example:
        >>> locked_by_another(tempfile.mkdtemp())
        False
    """
    if fcntl is None:
        return False
    try:
        probe = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:  # removed meanwhile, or not ours to open
        return False
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        return err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    finally:
        os.close(probe)  # the lock, if taken, goes with it
    return False


def sweep_dead_folders(where: str | os.PathLike | None = None) -> list[str]:
    """Remove the temporary folders (:func:`make_temp_folder`) in ``where`` (default:
    the temporary directory, ``TMPDIR``) that a ``serve`` no longer running left: those
    of this user, whose pid is not a running process and which nobody holds locked.
    The folders removed.

    A ``serve`` killed (SIGKILL, the out-of-memory killer) cannot run its clean-up, and a
    service restarted every day gathered one metrics and one workers folder per run,
    each holding every worker's ``.db`` files.  Kept: a live ``serve``'s (its pid runs:
    two on one machine; the lock covers one whose pid this process cannot see, in
    another pid namespace sharing the folder), one whose workers still run (each holds
    it locked: :func:`hold_serve_folders`), another user's, anything not a folder of
    that name (a link, a file), and folders named before the pid was in the name
    (``latentrec-metrics-XXXXXXXX``): nothing proves their ``serve`` has ended.  A dead
    ``serve``'s pid taken by a new process keeps its folders until that one ends, unless
    that process is this one (a ``serve`` that has the pid of the one before it, as pid 1
    of a restarted container has): it knows the folders it made.

    Example:
        >>> where = tempfile.mkdtemp()
        >>> os.mkdir(os.path.join(where, "latentrec-metrics-999999999-abc"))  # no such pid
        >>> os.mkdir(os.path.join(where, f"latentrec-workers-{os.getppid()}-abc"))  # alive
        >>> [os.path.basename(path) for path in sweep_dead_folders(where)]
        ['latentrec-metrics-999999999-abc']
        >>> os.listdir(where) == [f"latentrec-workers-{os.getppid()}-abc"]
        True
    """
    where = os.fspath(tempfile.gettempdir() if where is None else where)
    try:
        entries = sorted(os.scandir(where), key=lambda entry: entry.name)
    except OSError:  # no such folder, or not ours to read: nothing to sweep
        return []
    removed = []
    for entry in entries:
        named = OWNED_FOLDER.fullmatch(entry.name)
        if named is None:
            continue
        try:
            found = entry.stat(follow_symlinks=False)
        except OSError:  # removed meanwhile
            continue
        mine = found.st_uid == os.getuid() if hasattr(os, "getuid") else True
        if not stat.S_ISDIR(found.st_mode) or not mine:
            continue
        pid = int(named.group(1))
        if pid == os.getpid():
            # Two running processes never share a pid: a folder with this one's that it
            # did not make was left by an earlier process with that pid (serve as pid 1 of
            # a container restarted with its files after the out-of-memory killer ended
            # it).  Taken for this process's own, it stayed for good.
            alive = (found.st_dev, found.st_ino) in _MADE.values()
        else:
            alive = pid_alive(pid)
        if alive or locked_by_another(entry.path):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(entry.path)
    return removed


def wait_exits(processes, deadline: float, interrupt=None) -> bool:
    """Wait until each of ``processes`` (started :class:`multiprocessing.Process`) has
    exited or ``time.monotonic()`` reaches ``deadline``, looking every
    :data:`ANSWER_SLICE_SECONDS` whether ``interrupt()`` (when given) has come true: then
    it stops waiting at once.  Whether ``interrupt`` ended the wait.

    A process's ``join`` with a timeout goes on waiting after a signal's handler has run,
    so a signal that should end the wait has to be looked for between short waits.

    Example:
        >>> wait_exits([], time.monotonic() + 60)  # nothing runs: no wait
        False
    """
    while True:
        running = [process for process in processes if process.exitcode is None]
        if not running:
            return False
        if interrupt is not None and interrupt():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        running[0].join(min(ANSWER_SLICE_SECONDS, left))


def kill_left(processes, why: str) -> list[int]:
    """SIGKILL each of ``processes`` (started :class:`multiprocessing.Process`) still
    running, with one logged line naming its pid and ``why``; then reap every one (each
    within :data:`REAP_SECONDS`).  The pids killed.

    Example:
        >>> kill_left([], "still ran 15 s after SIGTERM")
        []
    """
    from uvicorn.supervisors.multiprocess import logger

    killed = []
    for process in processes:
        if process.exitcode is None:
            process.kill()
            logger.warning(f"Child process [{process.pid}] {why}: killed it (SIGKILL)")
            killed.append(process.pid)
    for process in processes:
        process.join(REAP_SECONDS)
    return killed


def end_workers(processes, grace: float = WORKER_STOP_SECONDS, hurry=None) -> list[int]:
    """Stop worker ``processes`` (:class:`multiprocessing.Process`) within ``grace``
    seconds: SIGTERM to each that runs, a wait until ``grace`` has passed, then SIGKILL
    to each still running, with one logged line naming its pid; every one is reaped.
    When ``hurry()`` (if given) comes true during the wait (a second stop signal: "press
    Ctrl-C again to force"), those still running are killed at once.  The pids killed.

    The default grace is :data:`WORKER_STOP_SECONDS`: a few seconds more than a graceful
    drain of the requests (:data:`DRAIN_SECONDS`, uvicorn's ``timeout_graceful_shutdown``
    in each worker).  uvicorn's supervisor waited for its workers without a limit, so a
    worker still loading a large model, or stuck, kept ``serve`` alive.  A process never
    started is skipped.

    Example:
        >>> import multiprocessing
        >>> end_workers([multiprocessing.Process()], grace=0)  # never started: nothing to do
        []
    """
    from uvicorn.supervisors.multiprocess import logger

    started = [process for process in processes if process.pid is not None]
    for process in started:
        if process.exitcode is None:
            process.terminate()
            logger.info(f"Terminated child process [{process.pid}]")
    hurried = wait_exits(started, time.monotonic() + grace, hurry)
    why = "still ran at a second stop signal" if hurried else f"still ran {grace:g} s after SIGTERM"
    return kill_left(started, why)


def forget_worker(process) -> None:
    """Drop the live gauges (``multiprocess_mode`` ``live*``) that worker ``process``
    (:class:`multiprocessing.Process`) left in :data:`MULTIPROC_ENV`'s folder, once it
    has exited and been reaped; nothing when it has not, or without that folder.

    prometheus-client leaves this to the parent (its ``mark_process_dead``): without it
    ``/metrics`` went on reporting a dead or retired worker's gauges beside the live
    ones (its ``latentrec_model_info`` series, its frozen ``latentrec_model_age_seconds``
    taken as the youngest), and a new worker given the same pid took its stale series.

    Example:
        >>> import multiprocessing
        >>> forget_worker(multiprocessing.Process())  # never started: nothing to drop
    """
    if process.exitcode is None or not os.environ.get(MULTIPROC_ENV):
        return
    from prometheus_client.multiprocess import mark_process_dead

    with contextlib.suppress(OSError):  # the folder gone: nothing left to report
        mark_process_dead(process.pid)


def how_it_ended(exitcode: int | None) -> str:
    """How a process with ``exitcode`` (:attr:`multiprocessing.Process.exitcode`) ended,
    in words.

    Example:
        >>> how_it_ended(-9), how_it_ended(1), how_it_ended(None)
        ('killed by SIGKILL', 'exit status 1', 'not reaped')
    """
    if exitcode is None:
        return "not reaped"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


class RecentEvents:
    """When something happened, kept for the last ``window`` seconds (of ``clock``): how
    many times it happened within them.

    Example:
        >>> now = [0.0]
        >>> events = RecentEvents(60, clock=lambda: now[0])
        >>> events.add(), events.add()
        (1, 2)
        >>> now[0] = 61.0
        >>> events.add()  # the first two are more than 60 s old
        1
    """

    def __init__(self, window: float, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self.times: deque[float] = deque()

    def add(self) -> int:
        """Note one more now; how many within the last ``window`` seconds, this one too."""
        now = self.clock()
        self.times.append(now)
        while self.times[0] <= now - self.window:
            self.times.popleft()
        return len(self.times)


def worker_failure(pid: int) -> str | None:
    """Why worker ``pid`` could not build its app, as it wrote it (:func:`worker_app`);
    ``None`` when it wrote nothing (it failed elsewhere: uvicorn logged why).  Read
    once: the file is removed, so that a later worker given the same pid (after a
    SIGHUP whose new worker could not start, serve goes on) is not told its error.

    Example:
        >>> worker_failure(-1) is None
        True
    """
    folder = os.environ.get(WORKER_FAILURES_ENV)
    if not folder:
        return None
    written = Path(folder) / str(pid)
    try:
        return written.read_text(encoding="utf-8").strip() or None
    except (OSError, ValueError):  # none written, or unreadable: say nothing made up
        return None
    finally:
        with contextlib.suppress(OSError):
            written.unlink()


@functools.cache
def single_server() -> type:
    """uvicorn's ``Server``, for ``serve`` with one worker: a second stop signal during
    its stop (SIGTERM as well as SIGINT) ends the drain at once, cancelling the requests
    still running.

    uvicorn's own takes only a second SIGINT so (its "Ctrl-C to force quit"); a second
    SIGTERM waited out the drain (:data:`DRAIN_SECONDS`).  With several workers, the
    supervisor does the same (:func:`end_workers`' ``hurry``).

    Example:
        >>> [base.__name__ for base in single_server().__bases__]
        ['Server']
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            if self.should_exit and sig in STOP_SIGNALS:
                self.force_exit = True
            super().handle_exit(sig, frame)

    return Server


@functools.cache
def worker_supervisor() -> type:
    """uvicorn's supervisor of worker processes (``Multiprocess``), made to stop at once
    on SIGTERM or SIGINT, whatever moment of the workers' start it comes at, to stop on
    a worker that cannot start, and to wait for no worker without a limit.

    uvicorn's own pings each worker and waits for the answer in one blocking call as long
    as the health-check timeout (``WORKER_STARTUP_SECONDS``).  A SIGTERM sent to the
    whole process group ends a worker that is still starting (it has no handler yet)
    before it can answer; the pipe never closes (the supervisor holds both its ends), so
    the supervisor sat in that call for two minutes with the signal only queued, and
    then started a new worker.  This one waits in short slices, gives up on a worker
    that has exited, and handles a queued signal before it judges or restarts a worker.
    It pings all its workers at once and awaits their answers together, watching the
    end of each meanwhile: one after another, a worker that hung held back the
    replacement of a dead one by the whole timeout.  And it counts the pings a worker
    has not answered, so that a late answer (to a ping whose wait a signal ended) is
    not taken for the answer to the next ping.

    It notes the signal that stopped it (``stopped_by``: SIGTERM or SIGINT, ``None``
    when none did), so that ``serve`` ends by it as with one worker; and it stops its
    workers within :data:`WORKER_STOP_SECONDS` (:func:`end_workers`), at once on a
    second stop signal, also when its loop fails (a worker that cannot be spawned), so
    no worker outlives it.  SIGHUP (a new worker for each, then the old one stopped) and
    SIGTTOU (one worker fewer) stop a worker within the same bound, and a stop signal
    ends their waits.

    A worker that exits with :data:`STARTUP_FAILURE` (its app cannot be built, its
    startup failed) stops it, with ``failure`` (the exit status for ``serve``, and the
    worker's one line when it wrote one): that worker would fail each restart alike.  A
    worker that dies otherwise is replaced, until workers have died more than
    :data:`DEATHS_PER_WORKER` times per worker within :data:`RESTART_WINDOW_SECONDS`:
    then it stops, with a ``failure`` that says so.

    Example:
        >>> [base.__name__ for base in worker_supervisor().__bases__]
        ['Multiprocess']
    """
    import pickle

    from uvicorn.config import STARTUP_FAILURE as FAILED_TO_START
    from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess, Process, logger

    class Interrupted(Exception):
        """A signal came while the supervisor waited for a worker's answer."""

    class Supervisor(Multiprocess):
        stopped_by: int | None = None
        # Why it stopped by itself: serve's exit status, and its line (None: the log's).
        failure: tuple[int, str | None] | None = None

        def __init__(self, config, sockets):
            # uvicorn's handlers only queue a signal for the loop: once it has ended they
            # are given back (run), or a Ctrl-C during serve's clean-up went unheard.
            self.found = {signum: signal.getsignal(signum) for signum in SIGNALS}
            super().__init__(config, sockets)
            self.stops = 0  # stop signals handled
            # Workers that may run outside self.processes: SIGHUP's replacement while it
            # starts, and a worker retired (SIGHUP, SIGTTOU) while it stops.
            self.others: list = []
            self.deaths = RecentEvents(RESTART_WINDOW_SECONDS)

        def handle_int(self) -> None:
            self.stops += 1
            self.stopped_by = self.stopped_by or signal.SIGINT
            super().handle_int()

        def handle_term(self) -> None:
            self.stops += 1
            self.stopped_by = self.stopped_by or signal.SIGTERM
            super().handle_term()

        def run(self) -> None:
            # As uvicorn's, but its terminate_all and join_all (no limit on the wait,
            # skipped when the loop raises) are end_workers.
            logger.info(f"Started parent process [{os.getpid()}]")
            try:
                self.init_processes()
                while not self.should_exit.wait(0.5):
                    self.handle_signals()
                    self.keep_subprocess_alive()
            finally:
                # The handlers go back even when ending the workers fails: left behind,
                # they queued each signal for a loop that no longer runs.
                try:
                    everyone = self.processes + self.others
                    end_workers([process.process for process in everyone], hurry=self.forced)
                    for process in everyone:
                        process.parent_conn.close()
                        process.child_conn.close()
                        forget_worker(process.process)
                finally:
                    for signum, handler in self.found.items():
                        # None: a handler not set from Python, which cannot be put back.
                        signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            logger.info(f"Stopping parent process [{os.getpid()}]")

        def signalled(self) -> bool:
            return bool(self.signal_queue) or self.should_exit.is_set()

        def stop_asked(self) -> bool:
            queued = any(signum in STOP_SIGNALS for signum in self.signal_queue)
            return queued or self.should_exit.is_set()

        def forced(self) -> bool:
            # Once the loop has ended nothing handles the queue: a stop signal in it came
            # after the one that stopped the loop (or during a stop for a failure).
            queued = any(signum in STOP_SIGNALS for signum in self.signal_queue)
            return queued or self.stops >= 2

        def spawn(self):
            """A new worker, started.  One place for it, so that a test may start
            stubs in its stead."""
            process = Process(self.config, self.sockets)
            process.start()
            return process

        def ping(self, process) -> bool:
            """Ping worker ``process`` if it runs; whether the ping went.  The pings it
            has not answered yet are counted on it (``unanswered``): a worker answers
            each ping once, and only the last answer is the one to this ping."""
            if not process.process.is_alive():
                return False
            try:
                self.take_answers(process)  # read now what is there, not later
                process.parent_conn.send(b"ping")
            except (OSError, EOFError, pickle.UnpicklingError):
                return False
            process.unanswered = getattr(process, "unanswered", 0) + 1
            return True

        @staticmethod
        def take_answers(process) -> bool | None:
            """Read the answers waiting in worker ``process``'s pipe: its answer to the
            last ping (whether its server has started) when it is among them, else
            ``None``.  An answer to an earlier ping (a signal ended the wait for it)
            is dropped: taken for the answer to the next ping, it made a worker that
            had hung meanwhile pass for alive.  Raises what reading the pipe raises."""
            latest = None
            while process.parent_conn.poll(0):
                answer = process.parent_conn.recv()
                left = getattr(process, "unanswered", 0) - 1
                process.unanswered = max(0, left)
                if left == 0:
                    latest = bool(answer)
            return latest

        def ask(self, process, timeout: float, interrupt) -> bool | None:
            """The worker's answer to a ping within ``timeout`` seconds: whether its
            server has started; ``None`` when it gives none (it has exited, or is
            silent that long).  Raises :class:`Interrupted` when ``interrupt()`` comes
            true first."""
            if not self.ping(process):
                return None
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if process.parent_conn.poll(ANSWER_SLICE_SECONDS):
                        answer = self.take_answers(process)
                        if answer is not None:
                            return answer
                except (OSError, EOFError, pickle.UnpicklingError):
                    return None
                if interrupt():
                    raise Interrupted
                if not process.process.is_alive() or time.monotonic() >= deadline:
                    return None

        def keep_subprocess_alive(self) -> None:
            # Every worker is pinged at once and the answers awaited together, the end
            # of every worker watched meanwhile.  Pinged one after another, a worker that
            # had hung (stopped, deadlocked) held the check for the whole health-check
            # timeout (120 s) before a dead worker after it was even looked at.
            if self.signalled():
                return
            deadline = time.monotonic() + self.config.timeout_worker_healthcheck
            waiting = [process for process in self.processes if self.ping(process)]
            ended = [process for process in self.processes if process not in waiting]
            while True:
                for process in ended:
                    if not self.replace(process):
                        return
                if not waiting or self.signalled():
                    return
                left = deadline - time.monotonic()
                if left <= 0:  # those still silent have hung
                    ended, waiting = waiting, []
                    continue
                ended = self.await_answers(waiting, min(ANSWER_SLICE_SECONDS, left))

        def await_answers(self, waiting: list, timeout: float) -> list:
            """Wait up to ``timeout`` seconds for an answer from the pinged workers in
            ``waiting`` (each that answers is taken out of it) or the end of any worker.
            The workers found ended, or whose pipe failed (taken out of ``waiting``)."""
            from multiprocessing.connection import wait

            pipes = {process.parent_conn: process for process in waiting}
            ends = {process.process.sentinel: process for process in self.processes}
            ended = []
            for ready in wait([*pipes, *ends], timeout):
                if ready in pipes:
                    process = pipes[ready]
                    try:
                        if self.take_answers(process) is None:
                            continue  # only an answer to an earlier ping
                    except (OSError, EOFError, pickle.UnpicklingError):
                        if process not in ended:
                            ended.append(process)
                else:
                    process = ends[ready]
                    if process not in ended:  # its pipe may have failed too
                        ended.append(process)
                if process in waiting:
                    waiting.remove(process)
            return ended

        def replace(self, process) -> bool:
            """Kill worker ``process`` (it has ended, or hung), and start one in its
            place unless it could not start or workers die in a loop (the supervisor
            then stops, with its ``failure``).  Whether the check goes on: neither
            that, nor a signal meanwhile."""
            process.kill()
            process.process.join(REAP_SECONDS)
            forget_worker(process.process)
            # A signal to the process group ends the workers too: that is not a crash
            # to make up for, and the next round stops them all.
            if self.signalled():
                return False
            if process.exitcode == FAILED_TO_START:
                # As uvicorn's: the app is broken and would fail each restart alike.
                reason = worker_failure(process.pid)
                logger.error(
                    f"Child process [{process.pid}] failed to start"
                    f"{f' ({reason})' if reason else ''}, stopping the parent process."
                )
                self.failure = (STARTUP_FAILURE, reason)
                self.should_exit.set()
                return False
            ended = how_it_ended(process.exitcode)
            logger.info(f"Child process [{process.pid}] died ({ended})")
            deaths = self.deaths.add()
            if deaths > DEATHS_PER_WORKER * self.processes_num:
                reason = (
                    f"worker processes died {deaths} times within "
                    f"{RESTART_WINDOW_SECONDS} s (the last, [{process.pid}], {ended}): "
                    "stopped rather than start them again; the log says how each ended"
                )
                logger.error(f"Stopping the parent process: {reason}")
                self.failure = (1, reason)
                self.should_exit.set()
                return False
            self.processes[self.processes.index(process)] = self.spawn()
            return True

        def wait_ready(self, process, timeout: float) -> bool:
            """Whether ``process`` answers that its server has started within
            ``timeout`` seconds.  Raises :class:`Interrupted` on a stop signal."""
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                started = self.ask(process, max(0.0, min(1.0, left)), self.stop_asked)
                if started:
                    return True
                if not process.process.is_alive() or time.monotonic() >= deadline:
                    return False
                if started is False:  # it answers, but still starts: not a busy loop
                    time.sleep(ANSWER_SLICE_SECONDS)

        def retire(self, process) -> None:
            """Stop ``process`` (SIGTERM), within :data:`WORKER_STOP_SECONDS`, then
            SIGKILL.  A stop signal ends the wait: ``run`` then stops it with the
            rest, within its own bound (uvicorn's joined it without a limit, and the
            supervisor handled no signal meanwhile)."""
            self.others.append(process)
            process.terminate()
            deadline = time.monotonic() + WORKER_STOP_SECONDS
            if wait_exits([process.process], deadline, self.stop_asked):
                return
            kill_left([process.process], f"still ran {WORKER_STOP_SECONDS:g} s after SIGTERM")
            self.others.remove(process)
            # uvicorn's terminate closes the pipe only to a worker still running: one
            # that had died meanwhile kept its two descriptors open.
            process.parent_conn.close()
            process.child_conn.close()
            forget_worker(process.process)

        def restart_all(self) -> None:
            # As uvicorn's (each worker's replacement serves before it is retired), but a
            # stop signal ends the waits, and the old worker's stop is bounded (retire).
            for idx, old in enumerate(self.processes):
                if self.stop_asked():
                    return
                new = self.spawn()
                self.others.append(new)  # a stop meanwhile ends it with the rest
                try:
                    ready = self.wait_ready(new, self.config.timeout_worker_healthcheck)
                except Interrupted:
                    return
                self.others.remove(new)
                if not ready:
                    new.kill()
                    new.process.join(REAP_SECONDS)
                    forget_worker(new.process)
                    reason = worker_failure(new.pid) if new.exitcode == FAILED_TO_START else None
                    logger.error(
                        f"New child process [{new.pid}] "
                        f"{f'could not start ({reason})' if reason else 'was not ready in time'}"
                        f"; keeping worker [{old.pid}] and aborting the restart."
                    )
                    return
                self.processes[idx] = new
                self.retire(old)

        def handle_ttou(self) -> None:
            # As uvicorn's, with retire's bounded stop in place of a join without limit.
            logger.info("Received SIGTTOU, decreasing number of processes.")
            if self.processes_num <= 1:
                logger.info(
                    "Already reached one process, cannot decrease the number of processes anymore."
                )
                return
            self.processes_num -= 1
            self.retire(self.processes.pop())

    return Supervisor
