"""``--store`` naming a folder is refused in one line that says so, by every command that
takes it, before anything is read or written.

``--store .`` said "Error: PosixPath('.') has an empty name" (pathlib's words, from the
store's writer lock beside the file), and ``--store /some/folder`` "cannot connect to the
store ...: unable to open database file".
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec.cli import main

COMMANDS = {
    "store import": ["store", "import", "ratings.csv"],
    "store info": ["store", "info"],
    "retrain": ["retrain", "--model-dir", "versions"],
    "serve": ["serve", "--model", "model.npz"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("folder", [".", "..", "sub", "sub/", "sqlite:///sub"])
def test_a_folder_as_the_store_is_named_as_one(command, folder, tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "ratings.csv").write_text("user_id,item_id,rating\n1,2,5\n")
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = CliRunner().invoke(main, [*COMMANDS[command], "--store", folder])
    assert out.exit_code == 1, out.output
    assert out.output.splitlines()[-1].startswith(f"Error: --store {folder} is a folder; ")
    assert len([line for line in out.output.splitlines() if line.strip()]) == 1, out.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("blank", ["", " "])
def test_a_blank_store_is_named_empty_not_a_folder(command, blank, tmp_path, monkeypatch):
    """``--store ""`` was called a folder ("--store  is a folder"); before that check,
    ``--store " "`` made a SQLite file named " " and its -wal, -shm and .writer."""
    (tmp_path / "ratings.csv").write_text("user_id,item_id,rating\n1,2,5\n")
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(main, [*COMMANDS[command], "--store", blank])
    assert out.exit_code == 1, out.output
    assert out.output.strip() == (
        "Error: --store is empty; give a file path or a database URL, e.g. --store ratings.db"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.csv"]
