"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, pg_ctl
start on 127.0.0.1 at a free port (and a Unix socket in the folder), stop and remove.

PostgreSQL refuses to run as root, so when the tests run as root the server binaries run
as the ``postgres`` system user (``runuser``), with the folder handed to it.  The
binaries are found on ``PATH`` or under Debian's ``/usr/lib/postgresql/<version>/bin``;
:func:`shared_server` raises :class:`ServerUnavailable` (tests skip on it) only when they
are absent.

Other test folders reuse the one server of a test run: in their ``conftest.py`` (``tests/``
is on ``sys.path`` under pytest, and ``tests/store`` is a package)::

    from store.pgserver import postgres_server, postgres_url  # noqa: F401  (the fixtures)

A test folder with its own ``conftest.py`` needs an ``__init__.py`` too, as here:
otherwise its conftest is imported as ``conftest`` and hides ``tests/conftest.py`` from
the modules that do ``from conftest import ...``.

The server never outlives the test run, however the run ends: a watchdog process
(:func:`when_this_process_ends`) stops it and removes its folder once the run is gone,
also when ``timeout`` or CI's own limit killed the run before its clean-up could run
(SIGTERM runs no ``atexit`` hook, SIGKILL nothing at all).

``ENGINES`` is the parameter list of a fixture that runs each test on both engines.
``postgres_server`` (session) is the running :class:`PostgresServer`; ``postgres_url``
(function) is the URL of a fresh, empty database dropped after the test.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SERVER_USER = "postgres"  # the system account that runs the server when we are root
DB_USER = "latentrec"  # the database superuser initdb creates
# The engines a test parametrised over them runs on (PostgreSQL's runs carry the marker).
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# A RAM-backed folder for the server's files where there is one (Linux): faster.
RAM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


# The watchdog: waits for the end of its standard input, whose writing end only the
# process that started it holds (and that process's forked children), then runs the
# command it was given.  Its own session: the signal that ends a process group (Ctrl-C,
# ``timeout``) must not end it before its clean-up.
WATCHDOG = """
import subprocess, sys
sys.stdin.buffer.read()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


def when_this_process_ends(command: list[str]) -> subprocess.Popen:
    """Start a process that runs ``command`` once this process has ended, whatever ended
    it (an exit, SIGTERM, SIGKILL), and every child it forked holding the pipe to the
    watchdog has ended too; killing the returned process cancels it."""
    return subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for folder in versions:
        if (Path(folder) / "pg_ctl").exists() and (Path(folder) / "initdb").exists():
            return Path(folder)
    raise ServerUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
        "/usr/lib/postgresql/*/bin; install Debian's 'postgresql' package"
    )


# Starts tried on fresh ports when the one picked was taken before the server bound it.
PORT_TRIES = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One server in a temporary folder; :meth:`stop` ends it and removes the folder."""

    def __init__(self):
        self.bin = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="latentrec-pg-", dir=RAM_DIR))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.counter = itertools.count()
        self.running = False
        self.watchdog: subprocess.Popen | None = None
        if self.as_root:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ServerUnavailable(
                    f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.start()

    def run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
                f"\n{log}"
            )

    def stop_command(self) -> list[str]:
        """A shell command that stops the server (if it runs) and removes its folder."""
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        if self.as_root:
            stop = ["runuser", "-u", SERVER_USER, "--", *stop]
        script = f"{shlex.join(stop)}; rm -rf -- {shlex.quote(str(self.root))}"
        return ["sh", "-c", script]

    def start(self) -> None:
        # Before the server exists: a run killed while it starts leaves nothing either.
        self.watchdog = when_this_process_ends(self.stop_command())
        self.run(
            "initdb", "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        # fsync=off: the tests kill clients, never the server or the machine, and
        # commits a client saw acknowledged are committed either way.
        # PostgreSQL cannot bind port 0 and say which port it got: the port picked here is
        # free now, but another process (a parallel run) may bind it before the server
        # does, which then cannot start.  A fresh port is tried then, a few times.
        for attempt in range(PORT_TRIES):
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c full_page_writes=off -c max_connections=100"
            )
            start = ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options]
            try:
                self.run(*start, "-w", "start")
                break
            except RuntimeError as err:
                if attempt + 1 == PORT_TRIES or "Address already in use" not in str(err):
                    raise
                # Its lines would make the next failure, whatever it is, look like this one.
                self.log.unlink(missing_ok=True)
                self.port = free_port()
        self.running = True

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"test_{os.getpid()}_{next(self.counter)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.running:
            self.running = False
            try:
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            finally:
                shutil.rmtree(self.root, ignore_errors=True)
        if self.watchdog is not None:
            # Nothing left for it to do.  Killed rather than told through its input: a
            # forked child of the run that still lives holds that pipe open too.
            self.watchdog.kill()
            self.watchdog.wait(timeout=60)
            self.watchdog.stdin.close()
            self.watchdog = None


SERVER: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """The test run's server, started on first use and stopped at exit at the latest."""
    global SERVER
    if SERVER is None or not SERVER.running:
        SERVER = PostgresServer()
        atexit.register(SERVER.stop)
    return SERVER


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = shared_server()
    except ServerUnavailable as err:
        pytest.skip(f"PostgreSQL tests skipped: {err}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
