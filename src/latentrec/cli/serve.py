"""``latentrec serve``: the recommendation service over HTTP (uvicorn).

The service itself is :mod:`latentrec.service`; this command turns options into its
:class:`~latentrec.service.settings.Settings`, checks them by building the app once (so
a bad model file or store URL is one line and exit 1, not a worker's traceback), and
runs uvicorn: in this process with one worker, or with ``--workers N`` through an app
factory that each worker process calls with the settings from the environment.
``--retrain-every`` starts :class:`~latentrec.service.schedule.RetrainSchedule` here.
SIGTERM or SIGINT stops it gracefully and then ends it by that same signal, whatever
``--workers``; how it stops, and the supervisor of the worker processes, are
:mod:`latentrec.cli.supervisor`.  A worker that cannot build its app stops ``serve``
with its one-line error (:func:`worker_app`); a worker ends when ``serve`` dies, even
killed outright (:func:`follow_supervisor`).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
import traceback
import urllib.request
import webbrowser
from pathlib import Path

import click

from ._common import DEBUG_ENV, Failure, fail_on_known_errors, failure_message, main
from .store import check_store_writable, refuse_folder, refuse_memory
from .supervisor import (
    DRAIN_SECONDS,
    MULTIPROC_ENV,
    STARTUP_FAILURE,
    WORKER_FAILURES_ENV,
    clean_up,
    ends_by_stop_signal,
    hold_serve_folders,
    make_temp_folder,
    raise_stopped,
    single_server,
    sweep_dead_folders,
    worker_supervisor,
)

# What each worker process of `serve --workers N` runs to build its app.
FACTORY = "latentrec.cli.serve:worker_app"

# Thread pools of the numeric libraries, each set to one thread in serving processes.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

# How long uvicorn waits for a worker process to answer its health check.
WORKER_STARTUP_SECONDS = 120


def worker_app():
    """The app of one ``serve --workers N`` worker process (uvicorn's factory,
    :data:`FACTORY`): the service with the settings ``serve`` put in the environment
    (:func:`latentrec.service.app.app_from_env`).

    A worker that cannot build it (its model file damaged or replaced since ``serve``
    checked it, its store not opening) writes the one line ``serve`` would have said
    with one worker into the folder :data:`WORKER_FAILURES_ENV` names, and exits with
    :data:`STARTUP_FAILURE`: ``serve`` then stops every worker and says that line
    (``Error: ...``, exit 1).  Before, the exception ended the worker with a traceback
    and status 1, a crash uvicorn made up for by starting it again, without end.  It
    follows ``serve`` (:func:`follow_supervisor`) and holds ``serve``'s temporary folders
    while it runs (:func:`~latentrec.cli.supervisor.hold_serve_folders`).

    Example (builds the service from the environment, so not run here)::

        uvicorn latentrec.cli.serve:worker_app --factory --workers 2
    """
    from ..service.app import app_from_env

    follow_supervisor()
    # serve's folders stay while this worker writes there, even once serve is killed.
    hold_serve_folders()
    try:
        return app_from_env()
    except Exception as err:
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        reason = failure_message(err)
        folder = os.environ.get(WORKER_FAILURES_ENV)
        try:
            if not folder:
                raise FileNotFoundError(WORKER_FAILURES_ENV)
            (Path(folder) / str(os.getpid())).write_text(reason, encoding="utf-8")
        except OSError:
            # Run by uvicorn itself, or the folder is gone: the log is the place left.
            logging.getLogger("uvicorn.error").error(
                f"Worker [{os.getpid()}] cannot start: {reason}"
            )
        raise SystemExit(STARTUP_FAILURE) from None


def follow_supervisor() -> bool:
    """In a worker process of ``serve --workers N`` (any process ``multiprocessing``
    started): have the kernel end it (SIGTERM: a graceful stop) when the process that
    started it dies, even by SIGKILL, which leaves that one no clean-up to run.
    Whether it is set up: on Linux (``prctl(PR_SET_PDEATHSIG)``,
    :func:`latentrec.service.schedule.follow_parent`), in such a child.

    Before, the workers of a ``serve`` killed outright went on serving without it,
    holding the port, so a ``serve`` started again in its place could not listen.

    Example:
        >>> follow_supervisor()  # not a worker: no parent to follow
        False
    """
    import multiprocessing

    from ..service.schedule import PARENT_ENV, follow_parent

    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return False
    return follow_parent({PARENT_ENV: str(parent.pid)})


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

    from ..service.versions import VERSIONS, ModelDirectory

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise Failure(f"--model-dir {folder} is a file, not a model directory")
    if not folder.is_dir():
        raise Failure(
            f"no model directory {folder}: publish a model into it first "
            "(latentrec models publish MODEL_FILE --model-dir DIR)"
        )
    # Without its versions folder, opening it made one (or, in a folder serve may not
    # write, failed "Permission denied"): nothing is published there either way.
    if not (folder / VERSIONS).is_dir() or ModelDirectory(folder).read_pointer() is None:
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
    # Not click.Path(dir_okay=False) (three lines, exit 2): refused below in one line.
    metavar="FILE",
    help="A model file to serve (`latentrec train ... -o FILE`).",
)
@click.option(
    "--model-dir",
    # Not click.Path(file_okay=False): check_model_dir refuses a file in one line, exit 1.
    metavar="DIR",
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
@click.option(
    "--store-timeout",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds a request may wait on a PostgreSQL store (connecting, a statement, a "
    "silent server); past it the answer is 503 with Retry-After and a write is not "
    "acknowledged.",
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
    store_timeout,
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
    if model_path and os.path.isdir(model_path):
        raise Failure(
            f"--model {model_path} is a folder, not a model file; a model directory is "
            "served with --model-dir"
        )
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
    if not 0 < store_timeout <= 3600:  # NaN included
        raise Failure(f"--store-timeout must lie in (0, 3600] seconds, got {store_timeout:g}")
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
        store_timeout=store_timeout,
        access_log=not no_access_log,
    ).check()
    # Every rating posted is written there: a store serve may not read or write is said
    # now, by name, not as "unable to open database file".
    check_store_writable(settings.store_location())
    # Before the model is loaded and "serving on" is said: a busy port or a host that is
    # not this machine's is one line, not the server's log of its failed start.
    check_listen(host, port)
    # The retrain child gets the machine's threads, which the serving processes give up.
    retrain_env = dict(os.environ)
    from ..service.app import create_app

    # Built here first: a bad model or store fails now, as one line, before any worker.
    app = create_app(settings)
    # A serve killed before its clean-up (SIGKILL, the out-of-memory killer) left its
    # temporary folders; only those of serves no longer running go.
    sweep_dead_folders()
    # SIGTERM and SIGINT raise Stopped (ends_by_stop_signal), so the clean-up below runs
    # (uvicorn re-raises the signal once it has shut down) and the retrain child is ended
    # rather than left training and publishing on its own.
    schedule = None
    metrics_dir = None  # the folder of the workers' metrics files, when this made it
    failures_dir = None  # where a worker that cannot build its app says why
    server = supervisor = None
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
            # As uvicorn.run does, with a server that a second SIGTERM hurries too.
            server = single_server()(uvicorn.Config(app, **options))
            server.run(sockets=None if listener is None else [listener])
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
            # Named with this pid and held locked: should this process be killed before
            # its clean-up, the next serve removes them (sweep_dead_folders).
            if not os.environ.get(MULTIPROC_ENV):
                metrics_dir = make_temp_folder("metrics")
                os.environ[MULTIPROC_ENV] = metrics_dir
            os.environ[SETTINGS_ENV] = settings.to_json()
            failures_dir = make_temp_folder("workers")
            os.environ[WORKER_FAILURES_ENV] = failures_dir
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
                # Raised as its handler raises it (the supervisor gave its handlers back),
                # so that a further stop signal or SIGHUP on the way to the clean-up
                # hurries it (note_again) rather than skip it or end serve half-way.
                raise_stopped(supervisor.stopped_by, None)
            if supervisor.failure is not None:
                # A worker could not start (its line is the one a single worker's
                # failure gives: exit 1; its startup failed: uvicorn's 3, as with one
                # worker), or workers kept dying.
                status, reason = supervisor.failure
                if reason:
                    raise Failure(reason)
                raise SystemExit(status)
    finally:
        # The folders are ours, and the workers have exited.  Two stop signals already
        # (a forced stop): the retrain child is not given its grace either.  Asked once
        # clean_up has its handlers: the supervisor queues a signal that comes before.
        def forced() -> bool:
            return server.force_exit if server else bool(supervisor and supervisor.forced())

        clean_up(schedule, (metrics_dir, failures_dir), hurry=forced)
