"""`--store` naming an existing SQLite file that is not a store (another program's
database, an empty file): it used to be turned into an empty store in place, and retrain
said the store held no ratings."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from latentrec.cli import main

pytest.importorskip("sqlalchemy", reason="the ratings store needs the 'serve' extra")


def tables(path):
    with sqlite3.connect(path) as conn:
        return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]


@pytest.mark.parametrize("command", [["store", "info"], ["retrain", "--model-dir", "models"]])
def test_another_programs_database_is_refused_and_left_alone(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect("app.db") as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    result = CliRunner().invoke(main, [*command, "--store", "app.db"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: app.db is not a latentrec store")
    assert "(it holds orders)" in result.output
    assert tables("app.db") == ["orders"]
    assert not (tmp_path / "models").exists()


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "ratings.db").touch()
    result = CliRunner().invoke(main, ["store", "info", "--store", str(tmp_path / "ratings.db")])
    assert result.exit_code == 1 and "it is empty" in result.output
    assert (tmp_path / "ratings.db").stat().st_size == 0


def test_a_store_still_opens(tmp_path):
    from latentrec.store import Rating, open_store

    with open_store(tmp_path / "ratings.db") as store:
        store.add_ratings([Rating("ann", "1", 4.0)])
    result = CliRunner().invoke(main, ["store", "info", "--store", str(tmp_path / "ratings.db")])
    assert result.exit_code == 0, result.output
    assert "ratings: 1 of 1 users" in result.output
