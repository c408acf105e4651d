"""Store URLs the command line refuses in one line, exit 1, leaving nothing behind: an
in-memory SQLite database (each command is a process of its own, so it would hold
nothing), and, for ``retrain``, a store file that does not exist."""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main

MEMORY_URLS = [
    ":memory:",
    "sqlite://",
    "sqlite:///",
    "sqlite:///:memory:",
    "sqlite+pysqlite:///:memory:",
    "sqlite:///file::memory:?uri=true",
    "sqlite:///r.db?mode=memory&uri=true",
]


@pytest.fixture
def ratings_csv(tmp_path):
    path = tmp_path / "ratings.csv"
    n = 40
    pd.DataFrame(
        {
            "user_id": [f"u{k % 8}" for k in range(n)],
            "item_id": [k % 5 for k in range(n)],
            "rating": [1 + k % 5 for k in range(n)],
            "ts": range(n),
        }
    ).drop_duplicates(["user_id", "item_id"]).to_csv(path, index=False)
    return path


def commands(url: str, csv_path) -> list[list[str]]:
    """Every command that takes a store, with ``url`` as its store."""
    return [
        ["store", "info", "--store", url],
        ["store", "import", str(csv_path), "--store", url],
        ["retrain", "--store", url, "--model-dir", "models", "-a", "biases"],
        ["serve", "--model", "m.npz", "--store", url],
    ]


def one_line_failure(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith("Error: ")
    for word in words:
        assert word in result.output, result.output


@pytest.mark.parametrize("url", MEMORY_URLS)
def test_an_in_memory_store_is_refused_by_every_command(tmp_path, monkeypatch, url, ratings_csv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.npz").write_bytes(b"")  # never read: the store is refused first
    for args in commands(url, ratings_csv):
        result = CliRunner().invoke(main, args)
        one_line_failure(result, f"--store {url} is an in-memory database")
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "ratings.csv"]


@pytest.mark.parametrize("url", MEMORY_URLS[:3])
def test_an_in_memory_store_from_the_environment_is_refused(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["store", "info"], env={"LATENTREC_STORE": url})
    one_line_failure(result, "in-memory database")


@pytest.mark.parametrize("spelling", ["{path}", "sqlite:///{path}"])
def test_retrain_on_a_missing_store_creates_nothing(tmp_path, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    url = spelling.format(path="typo.db")
    args = ["retrain", "--store", url, "--model-dir", "rdx", "-a", "biased-mf"]
    result = CliRunner().invoke(main, args)
    one_line_failure(result, "no store at typo.db", "latentrec store import")
    # No store, no lock file beside it, no model directory.
    assert os.listdir(tmp_path) == []
    info = CliRunner().invoke(main, ["store", "info", "--store", url])
    assert info.output.splitlines()[-1] == result.output.splitlines()[-1]  # the same words


def test_retrain_on_a_store_that_exists_still_runs(tmp_path, monkeypatch, ratings_csv):
    monkeypatch.chdir(tmp_path)
    imported = CliRunner().invoke(
        main, ["store", "import", str(ratings_csv), "--store", "r.db", "--timestamp-col", "ts"]
    )
    assert imported.exit_code == 0, imported.output
    args = ["retrain", "--store", "r.db", "--model-dir", "rdx", "-a", "biases", "--seed", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "published v000001" in result.output


def test_retrain_on_a_store_in_a_missing_folder_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["retrain", "--store", "nosuch/typo.db", "--model-dir", "rdx", "-a", "biases"]
    result = CliRunner().invoke(main, args)
    one_line_failure(result, "no store at nosuch/typo.db: no folder nosuch")
    assert os.listdir(tmp_path) == []  # the model directory is not made either


# A read-only URL opened an empty store in a new file named "r.db?mode=ro", which
# `store info` showed as holding nothing (and `store import` filled instead of r.db).
QUERY_URLS = [
    ("sqlite:///r.db?mode=ro&uri=true", "cannot be opened read-only"),
    ("sqlite:///r.db?mode=ro", "cannot be opened read-only"),
    ("sqlite:///file:r.db?mode=ro&uri=true", "cannot be opened read-only"),
    ("sqlite:///r.db?timeout=3", "has query parameters (timeout)"),
    ("sqlite:///file:r.db", "names a SQLite URI"),
    # No "name=value": parsed as no parameters, so r.db was opened, "?a" dropped unsaid.
    ("sqlite:///r.db?a", "has a query string ('?a')"),
]


@pytest.mark.parametrize("url, why", QUERY_URLS)
def test_a_sqlite_url_with_query_parameters_is_refused_naming_it(
    tmp_path, monkeypatch, url, why, ratings_csv
):
    monkeypatch.chdir(tmp_path)
    imported = CliRunner().invoke(
        main, ["store", "import", str(ratings_csv), "--store", "r.db", "--timestamp-col", "ts"]
    )
    assert imported.exit_code == 0, imported.output
    before = sorted(os.listdir(tmp_path))
    (tmp_path / "m.npz").write_bytes(b"")
    for args in commands(url, ratings_csv):
        result = CliRunner().invoke(main, args)
        one_line_failure(result, f"the store URL {url!r}", why, "sqlite:///r.db or r.db")
    assert sorted(os.listdir(tmp_path)) == sorted([*before, "m.npz"])  # no odd file


@pytest.mark.parametrize("url, why", QUERY_URLS)
def test_the_library_refuses_them_too(tmp_path, monkeypatch, url, why):
    from latentrec.store import StoreError, open_store

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=re.escape(why)):
        open_store(url)
    assert os.listdir(tmp_path) == []


def test_a_question_mark_in_a_url_never_opens_another_file(tmp_path, monkeypatch):
    """sqlite:///my?.db created and filled a store called "my" (the driver read "?.db"
    as an empty query); the plain path keeps the '?' as part of the file's name."""
    from latentrec.store import StoreError, open_store

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=re.escape("has a query string ('?.db')")):
        open_store("sqlite:///my?.db")
    assert os.listdir(tmp_path) == []
    with open_store("my?.db"):
        pass
    assert "my?.db" in os.listdir(tmp_path)


def test_other_databases_keep_their_query_parameters():
    from latentrec.store.engine import resolve_url

    url = resolve_url("postgresql://ann@127.0.0.1:5432/recs?sslmode=require")
    assert url.query == {"sslmode": "require"}
