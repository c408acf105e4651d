"""Fixtures for the service tests: small fitted models saved to disk, a store, clients.

Models are fitted once per session on planted low-rank data built here (titles for the
explicit model, genres for the hybrid one) and saved with ``.save()``; each test gets a
fresh SQLite store in its own temporary folder.  The ``pg_*`` fixtures give the same on
PostgreSQL: one server per test run (``tests/store/pgserver.py``, shared with the store
suite), a fresh database per test; tests using them are marked ``postgres``.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

# The store suite's server fixtures (module `store.pgserver`: tests/ is on sys.path under
# pytest), so the whole run shares one PostgreSQL server.
from store.pgserver import postgres_server, postgres_url  # noqa: F401  (fixtures)

from latentrec import Interactions, load
from latentrec.io.modelfile import read_archive, write_archive
from latentrec.models import BiasedMF, HybridMF
from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings
from latentrec.store import open_store

from .lifetime import dies_with_the_test_run

N_USERS, N_ITEMS = 60, 30
GENRES = ["Drama", "Comedy", "Sci-Fi"]


def planted(seed=0):
    """Ratings 1-5 from a planted rank-3 model; int user ids 0.., int item ids 100..."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 1, (N_USERS, 3))
    Q = rng.normal(0, 1, (N_ITEMS, 3))
    full = np.clip(np.round(3 + P @ Q.T), 1, 5)
    mask = rng.random((N_USERS, N_ITEMS)) < 0.35
    mask[np.arange(N_USERS), rng.integers(0, N_ITEMS, N_USERS)] = True
    u, i = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "user_id": u,
            "item_id": i + 100,
            "rating": full[u, i],
            "timestamp": rng.integers(0, 10_000, u.size),
        }
    )
    items = pd.DataFrame(
        {
            "title": [f"Film {j}" for j in range(N_ITEMS)],
            "genres": [GENRES[j % 3] for j in range(N_ITEMS)],
        },
        index=100 + np.arange(N_ITEMS),
    )
    return frame, items


@pytest.fixture(scope="session")
def planted_data():
    """The planted ratings with timestamps and titles, as an Interactions."""
    frame, items = planted()
    return Interactions.from_frame(
        frame, timestamp="timestamp", rating_scale=(1, 5), item_features=items[["title"]]
    )


@pytest.fixture(scope="session")
def model_files(tmp_path_factory):
    """Paths of a fitted BiasedMF (titles) and a fitted HybridMF (genres), saved."""
    folder = tmp_path_factory.mktemp("models")
    frame, items = planted()
    data = Interactions.from_frame(
        frame, timestamp="timestamp", rating_scale=(1, 5), item_features=items[["title"]]
    )
    explicit = BiasedMF(n_factors=3, n_epochs=60, random_state=0).fit(data)
    explicit.save(folder / "explicit.npz")
    hybrid_data = Interactions.from_frame(
        frame, timestamp="timestamp", rating_scale=(1, 5), item_features=items
    )
    # Every column named, the title included ("auto" never takes a title): tests count
    # on a model with titles as a one-hot feature.
    hybrid = HybridMF(
        n_factors=4,
        n_epochs=40,
        random_state=0,
        user_features=None,
        item_features=list(items.columns),
    )
    hybrid.fit(hybrid_data).save(folder / "hybrid.npz")
    return {"explicit": folder / "explicit.npz", "hybrid": folder / "hybrid.npz"}


@pytest.fixture
def explicit_model(model_files):
    return load(model_files["explicit"])


@pytest.fixture
def hybrid_model(model_files):
    return load(model_files["hybrid"])


def saved_without_kind(model, path):
    """``model`` written as a model file from before models recorded the kind of feedback
    they learned from (the manifest's ``implicit`` entry absent), and loaded back."""
    model.save(path)
    manifest, arrays = read_archive(path)
    del manifest["data"]["implicit"]
    write_archive(path, manifest, arrays)
    return load(path)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "ratings.sqlite") as s:
        yield s


@contextmanager
def client_maker(store):
    """``make(model, version="v-test", **settings)``: started TestClients over ``store``,
    all closed on leaving the block."""
    from fastapi.testclient import TestClient

    clients = []

    def make(model, version="v-test", **options):
        app = create_app(Settings(**options), store=store, source=FixedSource(model, version))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture
def make_client(store):
    """``make_client(model, **settings)``: a TestClient over ``model`` and the test's store."""
    with client_maker(store) as make:
        yield make


@pytest.fixture
def pg_url(request):
    """A fresh, empty PostgreSQL database, as the ``postgresql+psycopg://`` URL a user
    would give ``--store``."""
    url = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def pg_store(pg_url):
    with open_store(pg_url) as s:
        yield s


@pytest.fixture
def make_pg_client(pg_store):
    """``make_pg_client(model, **settings)``: a TestClient over ``model`` and a PostgreSQL
    store (``pg_store``)."""
    with client_maker(pg_store) as make:
        yield make


@pytest.fixture
def client(make_client, explicit_model):
    return make_client(explicit_model)


# ---------------------------------------------------------------------- real servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BANNER = re.compile(rb"serving on http://127\.0\.0\.1:(\d+)/")


class Server:
    """``latentrec serve`` in a subprocess on 127.0.0.1, stopped (or killed) by the test.

    It listens on ``--port 0``, and its port is read from the line serve prints once it
    listens: a port picked here and closed before serve binds it could be taken in
    between (another test's server, a parallel run), and this test would then talk to
    that other server or see serve fail to start.
    """

    def __init__(self, args, log_path: Path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        # Tests start several servers on one log: this server's line comes after here.
        self.log_start = self.log.tell()
        self._port = None
        command = [
            sys.executable,
            "-m",
            "latentrec.cli",
            "serve",
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        self.proc = subprocess.Popen(
            command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=dies_with_the_test_run(),
        )

    @property
    def port(self) -> int:
        """The port serve listens on (waits for its line, up to a minute)."""
        if self._port is None:
            self._port = self.wait_port(60.0)
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_start)
                found = BANNER.search(log.read())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"latentrec serve exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("latentrec serve did not say which port it listens on")
            time.sleep(0.05)

    def wait_ready(self, timeout=60.0) -> None:
        deadline = time.monotonic() + timeout
        if self._port is None:
            self._port = self.wait_port(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"latentrec serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("latentrec serve did not answer /health in time")

    def kill(self, sig) -> None:
        """Send ``sig`` to the server and its worker processes (its own session)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def serve(tmp_path):
    """``serve(*args)``: a started, ready ``latentrec serve``; stopped after the test."""
    started = []

    def start(*args, env=None, ready=True):
        server = Server(args, tmp_path / "serve.log", env)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
