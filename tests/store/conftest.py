"""Fixtures of the store suite: every ``store`` test runs on SQLite and on a real
PostgreSQL server that the test run starts (``pgserver.py``; skipped only where the
server binaries are absent)."""

import shutil
import tempfile
from pathlib import Path

import pytest

from latentrec.store import open_store

from .pgserver import ENGINES, RAM_DIR, postgres_server, postgres_url  # noqa: F401  (fixtures)


@pytest.fixture
def store_dir(tmp_path):
    """A folder for SQLite files, in RAM where the machine has one: every commit is an
    fsync, and the suite commits thousands of times (the SIGKILL tests need no disk)."""
    if RAM_DIR is None:
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="latentrec-store-", dir=RAM_DIR))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=ENGINES)
def store_url(request, store_dir):
    """The URL of a new, empty store on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{store_dir / 'ratings.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(store_dir):
    """A SQLite store, for checks that run before any SQL (the same on every engine)."""
    with open_store(store_dir / "ratings.db") as opened:
        yield opened
