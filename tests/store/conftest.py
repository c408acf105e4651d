"""Fixtures of the store suite: every ``store`` test runs on SQLite and on a real
PostgreSQL server that the test run starts (``pgserver.py``; skipped only where the
server binaries are absent)."""

import pytest
from pgserver import postgres_server, postgres_url  # noqa: F401  (fixtures)

from latentrec.store import open_store

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path):
    """The URL of a new, empty store on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratings.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path):
    """A SQLite store, for checks that run before any SQL (the same on every engine)."""
    with open_store(tmp_path / "ratings.db") as opened:
        yield opened
