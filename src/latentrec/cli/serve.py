"""``latentrec serve``: the recommendation service over HTTP (uvicorn).

The service itself is :mod:`latentrec.service`; this command turns options into its
:class:`~latentrec.service.settings.Settings`, checks them by building the app once (so
a bad model file or store URL is one line and exit 1, not a worker's traceback), and
runs uvicorn: in this process with one worker, or with ``--workers N`` through an app
factory that each worker process calls with the settings from the environment.
``--retrain-every`` starts :class:`~latentrec.service.schedule.RetrainSchedule` here.
SIGTERM or SIGINT stops it gracefully and then ends it by that same signal, whatever
``--workers`` (:func:`ends_by_stop_signal`); workers that do not stop in time are killed
(:func:`end_workers`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import webbrowser

import click

from ._common import Failure, fail_on_known_errors, main
from .store import refuse_folder, refuse_memory

FACTORY = "latentrec.service.app:app_from_env"

# Thread pools of the numeric libraries, each set to one thread in serving processes.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

# Where prometheus-client keeps the values of several worker processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# How long uvicorn waits for a worker process to answer its health check.
WORKER_STARTUP_SECONDS = 120

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


def raise_stopped(signum, frame):
    """The signal handler ``serve`` runs under: raises :class:`Stopped`.

    Example:
        >>> try:
        ...     raise_stopped(signal.SIGINT, None)
        ... except Stopped as stop:
        ...     print(signal.Signals(stop.signum).name)
        SIGINT
    """
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
    os._exit(128 + signum)  # not reached: the default action of both ends the process


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
    try:
        previous = {signum: signal.signal(signum, raise_stopped) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread of the main interpreter
        yield
        return
    try:
        yield
    except Stopped as stop:
        end_by_signal(stop.signum)
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def end_workers(processes, grace: float = WORKER_STOP_SECONDS) -> list[int]:
    """Stop worker ``processes`` (:class:`multiprocessing.Process`) within ``grace``
    seconds: SIGTERM to each that runs, a wait until ``grace`` has passed, then SIGKILL
    to each still running, with one logged line naming its pid; every one is reaped.
    The pids killed.

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
    deadline = time.monotonic() + grace
    for process in started:
        process.join(max(0.0, deadline - time.monotonic()))
    killed = []
    for process in started:
        if process.exitcode is None:
            process.kill()
            logger.warning(
                f"Child process [{process.pid}] still ran {grace:g} s after SIGTERM: "
                "killed it (SIGKILL)"
            )
            killed.append(process.pid)
    for process in started:
        process.join(REAP_SECONDS)
    return killed


@functools.cache
def worker_supervisor() -> type:
    """uvicorn's supervisor of worker processes (``Multiprocess``), made to stop at once
    on SIGTERM or SIGINT, whatever moment of the workers' start it comes at.

    uvicorn's own pings each worker and waits for the answer in one blocking call as long
    as the health-check timeout (``WORKER_STARTUP_SECONDS``).  A SIGTERM sent to the
    whole process group ends a worker that is still starting (it has no handler yet)
    before it can answer; the pipe never closes (the supervisor holds both its ends), so
    the supervisor sat in that call for two minutes with the signal only queued, and
    then started a new worker.  This one waits in short slices, gives up on a worker
    that has exited, and handles a queued signal before it judges or restarts a worker.

    It notes the signal that stopped it (``stopped_by``: SIGTERM or SIGINT, ``None``
    when none did), so that ``serve`` ends by it as with one worker; and it stops its
    workers within :data:`WORKER_STOP_SECONDS` (:func:`end_workers`), also when its loop
    fails (a worker that cannot be spawned), so no worker outlives it.

    Example:
        >>> [base.__name__ for base in worker_supervisor().__bases__]
        ['Multiprocess']
    """
    import pickle

    from uvicorn.config import STARTUP_FAILURE as FAILED_TO_START
    from uvicorn.supervisors.multiprocess import Multiprocess, logger

    class Supervisor(Multiprocess):
        stopped_by: int | None = None

        def handle_int(self) -> None:
            self.stopped_by = self.stopped_by or signal.SIGINT
            super().handle_int()

        def handle_term(self) -> None:
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
                end_workers([process.process for process in self.processes])
                for process in self.processes:
                    process.parent_conn.close()
                    process.child_conn.close()
            logger.info(f"Stopping parent process [{os.getpid()}]")

        def signalled(self) -> bool:
            return bool(self.signal_queue) or self.should_exit.is_set()

        def answers(self, process, timeout: float) -> bool | None:
            """Whether ``process`` answered a ping within ``timeout`` seconds; ``None``
            when a signal came first."""
            if not process.process.is_alive():
                return False
            try:
                process.parent_conn.send(b"ping")
            except OSError:
                return False
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if process.parent_conn.poll(ANSWER_SLICE_SECONDS):
                        process.parent_conn.recv()
                        return True
                except (OSError, EOFError, pickle.UnpicklingError):
                    return False
                if self.signalled():
                    return None
                if not process.process.is_alive() or time.monotonic() >= deadline:
                    return False

        def keep_subprocess_alive(self) -> None:
            for idx, process in enumerate(self.processes):
                if self.signalled():
                    return
                alive = self.answers(process, self.config.timeout_worker_healthcheck)
                if alive is None:
                    return
                if alive:
                    continue
                process.kill()
                process.join()
                # A signal to the process group ends the workers too: that is not a crash
                # to make up for, and the next round stops them all.
                if self.signalled():
                    return
                if process.exitcode == FAILED_TO_START:
                    # As uvicorn's: the app is broken and would fail each restart alike.
                    logger.error(
                        f"Child process [{process.pid}] failed to start, stopping the "
                        "parent process."
                    )
                    self.should_exit.set()
                    return
                logger.info(f"Child process [{process.pid}] died")
                self.processes[idx] = replacement = type(process)(self.config, self.sockets)
                replacement.start()

    return Supervisor


def page_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a service bound to ``host``.

    A wildcard address (every interface) is reached through loopback.

    Example:
        >>> page_url("0.0.0.0", 8000), page_url("::", 8080), page_url("10.0.0.5", 80)
        ('http://127.0.0.1:8000/', 'http://[::1]:8080/', 'http://10.0.0.5:80/')
    """
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def banner(host: str, port: int) -> str:
    """The line ``serve`` prints once it listens: the address and the port it listens on,
    and for a wildcard address (every interface) the loopback URL to open here.

    Example:
        >>> banner("127.0.0.1", 8000)
        'serving on http://127.0.0.1:8000/ (API: /docs)'
        >>> line = banner("0.0.0.0", 41234)
        >>> line.startswith("serving on all interfaces (0.0.0.0) port 41234: open ")
        True
        >>> "http://127.0.0.1:41234/" in line
        True
    """
    if host in WILDCARD_HOSTS:
        which = "all IPv6 interfaces (::)" if host == "::" else "all interfaces (0.0.0.0)"
        return f"serving on {which} port {port}: open {page_url(host, port)} here (API: /docs)"
    return f"serving on {page_url(host, port)} (API: /docs)"


def open_writes_warning(host: str, port: int, token) -> str | None:
    """The warning ``serve`` prints when anyone who can reach it can write: a
    non-loopback address and no token.  ``None`` when there is nothing to say.

    Example:
        >>> open_writes_warning("0.0.0.0", 8000, None).startswith(
        ...     "warning: no --token, and 0.0.0.0 port 8000 is reachable from other machines"
        ... )
        True
        >>> open_writes_warning("127.0.0.1", 80, None), open_writes_warning("::", 80, "s3cret-1")
        (None, None)
    """
    if token or is_loopback(host):
        return None
    return (
        f"warning: no --token, and {host or '0.0.0.0'} port {port} is reachable from other "
        "machines: anyone who can reach it can write and delete ratings "
        "(give --token or LATENTREC_TOKEN)"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``): only this machine reaches it.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_any_port(host: str) -> socket.socket:
    """A socket bound to ``host`` at a port the system picks (``--port 0``), for the
    server to listen on, so that the port it says is the port it listens on.

    Bound as the server binds its own: IPv6 for an address with a colon (IPv6 only, as
    asyncio's are), ``SO_REUSEADDR``, inheritable by worker processes.

    Example:
        >>> with bind_any_port("127.0.0.1") as sock:
        ...     sock.getsockname()[1] > 0
        True
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, 0))
    except OSError as err:
        sock.close()
        raise Failure(f"cannot listen on {host}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


def open_when_ready(url: str, timeout: float = WORKER_STARTUP_SECONDS) -> threading.Thread:
    """Open ``url`` in the browser once its ``/health`` answers (in a background thread).

    The browser is the one Python's :mod:`webbrowser` picks (``BROWSER`` chooses it).
    When none can be opened (no display, no browser installed, or it fails), one line
    on standard error says ``open URL in a browser`` instead.  Nothing opens if the
    service does not answer within ``timeout`` seconds.

    Example:
        >>> open_when_ready("http://127.0.0.1:9/", timeout=0).join()  # nothing listens
    """

    def wait_then_open():
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "health", timeout=2) as answer:
                    if answer.status == 200:
                        open_or_say(url)
                        return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                return
            time.sleep(0.2)

    thread = threading.Thread(target=wait_then_open, name="open-browser", daemon=True)
    thread.start()
    return thread


def open_or_say(url: str) -> bool:
    """Open ``url`` in a browser; if none can be opened, print ``open URL in a browser``
    on standard error instead.  Whether a browser opened.

    Example (starts a browser where one is available, so not run here)::

        open_or_say("http://127.0.0.1:8000/")  # a headless machine: the line is printed
    """
    try:
        opened = webbrowser.open(url)
    except Exception:  # webbrowser.Error, or OSError from a browser command that cannot run
        opened = False
    if not opened:
        click.echo(f"open {url} in a browser", err=True)
    return bool(opened)


def check_model_dir(path) -> None:
    """Raise :class:`Failure` unless ``path`` is a model directory with a current version.

    Checked before the directory is opened: opening one creates its folder, which a
    mistyped path should not get.

    Example:
        >>> import tempfile
        >>> try:
        ...     check_model_dir(tempfile.mkdtemp())
        ... except Failure as err:
        ...     print(err.message.split(" in ")[0])
        no model version published
    """
    from pathlib import Path

    from ..service.versions import ModelDirectory

    folder = Path(path)
    if not folder.is_dir():
        raise Failure(
            f"no model directory {folder}: publish a model into it first "
            "(latentrec models publish MODEL_FILE --model-dir DIR)"
        )
    if ModelDirectory(folder).read_pointer() is None:
        raise Failure(
            f"no model version published in {folder}; publish one first "
            "(latentrec models publish MODEL_FILE --model-dir DIR)"
        )


def check_listen(host: str, port: int) -> None:
    """Raise :class:`Failure` unless a server could listen on ``host`` at ``port`` now.

    Each address ``host`` resolves to is bound by a probe socket, with the options the
    server's own sockets use (``SO_REUSEADDR``; IPv6 sockets IPv6 only), and closed at
    once.  A port in use on any of them is refused, and so is a host that resolves to
    nothing or to no address of this machine.  The server binds again after this: a
    port taken in between is still reported, by the server.

    Example:
        >>> with socket.socket() as busy:
        ...     busy.bind(("127.0.0.1", 0)); busy.listen()
        ...     port = busy.getsockname()[1]
        ...     try:
        ...         check_listen("127.0.0.1", port)
        ...     except Failure as err:
        ...         print(err.message.replace(str(port), "PORT"))
        port PORT on 127.0.0.1 is in use: stop what listens there or give another --port
        >>> check_listen("127.0.0.1", 0)  # any free port: fine
    """
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, UnicodeError) as err:  # socket.gaierror is an OSError
        raise Failure(f"cannot listen on {host}: {getattr(err, 'strerror', None) or err}") from None
    problems = []
    for family, kind, proto, _, address in dict.fromkeys(found):
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise Failure(
                    f"port {port} on {host} is in use: stop what listens there or give "
                    "another --port"
                ) from None
            problems.append(err)
    # Like the server, an address of a family this machine lacks is skipped, as long as
    # another one can be bound.
    if problems and (len(problems) == len(found) or problems[0].errno != errno.EADDRNOTAVAIL):
        err = problems[0]
        raise Failure(f"cannot listen on {host} port {port}: {err.strerror or err}")


def log_config(level: str = "INFO") -> dict:
    """Logging for uvicorn and the service: one JSON object per line on standard error.

    Example:
        >>> sorted(log_config()["loggers"])[:2]
        ['latentrec.access', 'latentrec.service']
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    named = ("latentrec.access", "latentrec.service", "uvicorn", "uvicorn.error")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "latentrec.service.hardening.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level, "propagate": False} for name in named
        },
    }


def hosts_to_allow(host: str, given) -> tuple[str, ...]:
    """The ``Host`` names the service answers to (empty: any): on a loopback ``host``
    the loopback names plus those ``given`` (``--allowed-host``), elsewhere those given
    (none: any); ``*`` among them: any.

    Example:
        >>> hosts_to_allow("127.0.0.1", ())
        ('127.0.0.1', 'localhost', '::1')
        >>> hosts_to_allow("0.0.0.0", ()), hosts_to_allow("10.0.0.5", ["rec.example.org"])
        ((), ('rec.example.org',))
        >>> hosts_to_allow("localhost", ["*"])
        ()
    """
    from ..service.hardening import LOOPBACK_HOSTS

    if "*" in given:
        return ()
    names = (*LOOPBACK_HOSTS, *given) if is_loopback(host) else tuple(given)
    return tuple(dict.fromkeys(names))


WORKERS_PER_CPU = 4


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which a container's CPU set
    narrows; the machine's count where there is no affinity).

    Example:
        >>> usable_cpus() >= 1
        True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def max_workers() -> int:
    """The most ``--workers`` ``serve`` starts: ``WORKERS_PER_CPU`` per usable CPU, and
    at least 8.

    Example:
        >>> max_workers() >= 8
        True
    """
    return max(8, WORKERS_PER_CPU * usable_cpus())


@main.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    help="A model file to serve (`latentrec train ... -o FILE`).",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False),
    help="A model directory (`latentrec retrain`): its current version is served and followed.",
)
@click.option(
    "--store",
    "store_url",
    envvar="LATENTREC_STORE",
    help="Ratings store: a SQLite path or a database URL (postgresql://...), or env "
    "LATENTREC_STORE (keeps a password off the command line). "
    "Default: ratings.sqlite beside the model.",
    callback=lambda ctx, param, value: refuse_folder(refuse_memory(value)),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--token",
    envvar="LATENTREC_TOKEN",
    help="Bearer token required on write and admin routes (or env LATENTREC_TOKEN).",
)
@click.option(
    "--retrain-every",
    help="Retrain from the store on this schedule (90s, 30m, 24h, 7d, 1w; at least 1s); "
    "needs --model-dir.",
)
@click.option(
    "--retrain-min-holdout",
    type=click.IntRange(min=0),
    default=None,
    help="Each scheduled retrain's --min-holdout: the fewest held-out ratings its "
    "comparison is trusted on [default: retrain's, 100]; needs --retrain-every.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Allow browser pages from this origin (repeatable); none by default.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Also answer requests whose Host header names this host (repeatable; * for "
    "any).  On a loopback --host only the loopback names (127.0.0.1, localhost, ::1) are "
    "answered by default, so a page on another site cannot reach the service by DNS "
    "rebinding; on other addresses every name is, unless this option lists some.",
)
@click.option(
    "--max-n",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Longest list a client may ask for.",
)
@click.option(
    "--cache-users",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="Users whose vectors a worker keeps (least recently used out first; a user out "
    "of it is folded in again from the store).",
)
@click.option(
    "--request-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a client has to send a request's headers, and again its body; a "
    "connection that is slower is closed (408 for a late body).",
)
@click.option("--no-access-log", is_flag=True, help="Do not log each request.")
@click.option(
    "--open", "open_page", is_flag=True, help="Open the page in a browser once it answers."
)
@fail_on_known_errors
@ends_by_stop_signal()
def serve(
    model_path,
    model_dir,
    store_url,
    host,
    port,
    workers,
    token,
    retrain_every,
    retrain_min_holdout,
    cors_origins,
    allowed_hosts,
    max_n,
    cache_users,
    request_timeout,
    no_access_log,
    open_page,
):
    """Serve recommendations over HTTP, with a ratings store and live updates.

    Every rating posted is stored (acknowledged once committed) and reflected in that
    user's next answer; the page is at / and the API at /docs.

    \f
    Example: ``latentrec serve --model out/model.npz --port 8000 --open``
    """
    if bool(model_path) == bool(model_dir):
        raise Failure("give exactly one of --model FILE and --model-dir DIR")
    if workers < 1:
        raise Failure(f"--workers must be at least 1, got {workers}")
    most = max_workers()
    if workers > most:
        # Each worker is a process holding its own copy of the model: hundreds of them on
        # a few CPUs exhaust memory long before they add throughput.
        raise Failure(
            f"--workers {workers} is too many for {usable_cpus()} CPU(s): each worker holds "
            f"its own copy of the model; give at most {most}"
        )
    if not 0 < request_timeout <= 3600:  # NaN included
        raise Failure(f"--request-timeout must lie in (0, 3600] seconds, got {request_timeout}")
    if not 0 <= port <= 65535:
        raise Failure(f"--port must lie in 0-65535, got {port}")
    # `is not None`: an empty value (`--retrain-every ""`) is a bad interval, not "never".
    if retrain_every is not None and not model_dir:
        raise Failure("--retrain-every needs --model-dir (retraining publishes new versions)")
    if retrain_min_holdout is not None and retrain_every is None:
        raise Failure("--retrain-min-holdout applies to --retrain-every's rounds; give both")

    import uvicorn

    from ..service.metrics import check_multiprocess_env
    from ..service.protocol import protocol_with_deadline
    from ..service.settings import SETTINGS_ENV, Settings, parse_interval

    try:
        # Present but empty, prometheus-client would write its files into the working
        # folder (and /metrics would read none of them): refused before anything starts.
        check_multiprocess_env()
    except ValueError as err:
        raise Failure(str(err)) from None

    every = None
    if retrain_every is not None:
        from ..service.schedule import check_interval

        every = check_interval(parse_interval(retrain_every), f"--retrain-every {retrain_every!r}")
    if model_dir:
        check_model_dir(model_dir)
    settings = Settings(
        model_path=model_path,
        model_dir=model_dir,
        store_url=store_url,
        token=token or None,
        cors_origins=tuple(cors_origins),
        allowed_hosts=hosts_to_allow(host, allowed_hosts),
        max_n=max_n,
        cache_users=cache_users,
        request_timeout=request_timeout,
        access_log=not no_access_log,
    ).check()
    # Before the model is loaded and "serving on" is said: a busy port or a host that is
    # not this machine's is one line, not the server's log of its failed start.
    check_listen(host, port)
    # The retrain child gets the machine's threads, which the serving processes give up.
    retrain_env = dict(os.environ)
    from ..service.app import create_app

    # Built here first: a bad model or store fails now, as one line, before any worker.
    app = create_app(settings)
    # SIGTERM and SIGINT raise Stopped (ends_by_stop_signal), so the clean-up below runs
    # (uvicorn re-raises the signal once it has shut down) and the retrain child is ended
    # rather than left training and publishing on its own.
    schedule = None
    metrics_dir = None  # the folder of the workers' metrics files, when this made it
    try:
        if every is not None:
            import logging.config

            from ..service.schedule import RetrainSchedule

            # The schedule's thread logs from now on; uvicorn configures logging only once
            # it runs, and a round's lines before that would be lost.
            logging.config.dictConfig(log_config())
            schedule = RetrainSchedule(
                settings.store_location(),
                model_dir,
                every,
                env=retrain_env,
                min_holdout=retrain_min_holdout,
            ).start()
        # --port 0: the system picks the port, here, so that the line below names the
        # port the server listens on (uvicorn would pick its own, after the line).
        listener = bind_any_port(host) if port == 0 else None
        if listener is not None:
            port = listener.getsockname()[1]
        click.echo(banner(host, port), err=True)
        warning = open_writes_warning(host, port, settings.token)
        if warning:
            click.echo(warning, err=True)
        if open_page:
            open_when_ready(page_url(host, port))
        # One request is small (one user's scores): parallelism comes from the workers, and
        # BLAS or numba threads in each would only fight over the cores.  Set only now that
        # the app was built: the variables reach the spawned workers, threadpoolctl limits
        # this process's BLAS (numba reads its variable once, at import).
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        if workers == 1:
            options = dict(
                host=host,
                port=port,
                log_config=log_config(),
                access_log=False,
                # uvicorn's own connection, with a deadline for each request's headers.
                http=protocol_with_deadline(settings.request_timeout),
                timeout_graceful_shutdown=DRAIN_SECONDS,
            )
            if listener is None:
                uvicorn.run(app, **options)
            else:
                server = uvicorn.Server(uvicorn.Config(app, **options))
                server.run(sockets=[listener])
                if not server.started:
                    raise SystemExit(STARTUP_FAILURE)
        else:
            del app
            for name in THREAD_VARIABLES:
                os.environ.setdefault(name, "1")
            # The workers' metrics live in files here, so /metrics adds up every worker.
            # Set only now: prometheus-client picks file-backed values when it is first
            # imported, and the app this process built (only to check the options) must
            # not leave its values there, where /metrics would show them as a live worker's
            # (the workers are spawned, so each imports it afresh).
            if not os.environ.get(MULTIPROC_ENV):
                metrics_dir = tempfile.mkdtemp(prefix="latentrec-metrics-")
                os.environ[MULTIPROC_ENV] = metrics_dir
            os.environ[SETTINGS_ENV] = settings.to_json()
            options = dict(
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_config=log_config(),
                access_log=False,
                http=protocol_with_deadline(settings.request_timeout),
                timeout_graceful_shutdown=DRAIN_SECONDS,
                # A worker loads the model before it answers uvicorn's pings; a big
                # model on a busy machine takes longer than the default 5 s.
                timeout_worker_healthcheck=WORKER_STARTUP_SECONDS,
            )
            config = uvicorn.Config(FACTORY, **options)
            # As uvicorn.run does for its workers, with a supervisor that SIGTERM stops
            # during the workers' start too (worker_supervisor).
            sockets = [config.bind_socket() if listener is None else listener]
            supervisor = worker_supervisor()(config, sockets=sockets)
            supervisor.run()
            if supervisor.stopped_by is not None:
                # Through the clean-up below, then ends_by_stop_signal: as one worker ends.
                raise Stopped(supervisor.stopped_by)
    finally:
        if schedule is not None:
            schedule.stop()
        if metrics_dir is not None:  # ours, and the workers have exited
            shutil.rmtree(metrics_dir, ignore_errors=True)
