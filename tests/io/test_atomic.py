"""``atomic_path``: the target is the old file or the whole new one, and no temporary file
outlives the block, whatever ends it (an error, Ctrl-C, or the ``SystemExit`` the command
line turns SIGTERM into)."""

from __future__ import annotations

import pytest

from latentrec.io import atomic
from latentrec.io.atomic import atomic_path

ENDINGS = [ValueError("bad chunk"), KeyboardInterrupt(), SystemExit(143)]


def test_success_replaces_the_file_and_leaves_nothing_else(tmp_path):
    (tmp_path / "out.txt").write_text("old")
    with atomic_path(tmp_path / "out.txt") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.")
        tmp.write_text("new")
    assert (tmp_path / "out.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda e: type(e).__name__)
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, ending):
    (tmp_path / "out.txt").write_text("old")
    with pytest.raises(type(ending)):
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("half")
            raise ending
    assert (tmp_path / "out.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("ending", ENDINGS, ids=lambda e: type(e).__name__)
def test_an_interruption_before_the_block_leaves_no_temporary(tmp_path, monkeypatch, ending):
    """Between creating the temporary file and handing it over (while its mode is set)."""

    def interrupted(path):
        raise ending

    monkeypatch.setattr(atomic, "creation_mode", interrupted)
    with pytest.raises(type(ending)):
        with atomic_path(tmp_path / "new.txt"):
            pytest.fail("the block must not run")  # pragma: no cover
    assert list(tmp_path.iterdir()) == []
