"""A disk that fills while a model is saved: one line naming the model file and the
system's reason, the old model intact under its name, no temporary file left."""

from __future__ import annotations

import errno
import zipfile

import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

import latentrec
from latentrec.cli import main
from latentrec.cli._common import COMPILE_MESSAGE


@pytest.mark.parametrize("when", ["first member", "a later member"])
def test_a_full_disk_mid_save_keeps_the_old_model_and_says_why(tmp_path, monkeypatch, when):
    csv = tmp_path / "r.csv"
    cli_ratings_frame(times=False).to_csv(csv, index=False)
    target = tmp_path / "out" / "m.npz"
    first = CliRunner().invoke(main, ["train", str(csv), "-a", "biases", "-q", "-o", str(target)])
    assert first.exit_code == 0, first.output
    before = target.read_bytes()
    real = zipfile.ZipFile.writestr
    calls = []

    def writestr(self, name, data, *args, **kwargs):
        calls.append(name)
        if len(calls) >= (1 if when == "first member" else 3):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    out = CliRunner().invoke(main, ["train", str(csv), "-a", "svd", "-q", "-o", str(target)])
    assert out.exit_code == 1, out.output
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    assert lines == [f"Error: cannot write {target}: No space left on device"]
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["m.npz"]
    monkeypatch.undo()
    assert type(latentrec.load(target)).__name__ == "Biases"
