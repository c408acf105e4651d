"""Saving a model onto a path that is a symbolic link is refused, naming the link and its
target: the rename a save ends with replaced the link by a plain file (the user's
``model.npz -> models/v3.npz`` was silently no link any more), and writing through the
link would overwrite the version it points to.  Nothing is written either way."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import cli_ratings_frame

import latentrec
from latentrec import Interactions
from latentrec.cli import main, train
from latentrec.cli._common import COMPILE_MESSAGE
from latentrec.models import Biases, Popularity
from latentrec.pipeline import Pipeline


@pytest.fixture
def layout(tmp_path):
    """``model.npz -> models/v3.npz``, the kept version a Popularity model."""
    data = Interactions.from_dense(np.eye(3) + 1)
    (tmp_path / "models").mkdir()
    Popularity().fit(data).save(tmp_path / "models" / "v3.npz")
    (tmp_path / "model.npz").symlink_to("models/v3.npz")
    return tmp_path, data


def unchanged(folder, before: bytes) -> None:
    assert (folder / "model.npz").is_symlink()
    assert (folder / "model.npz").readlink().as_posix() == "models/v3.npz"
    assert (folder / "models" / "v3.npz").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["model.npz", "models"]  # no temporary
    assert [p.name for p in (folder / "models").iterdir()] == ["v3.npz"]


@pytest.mark.parametrize("kind", ["model", "pipeline"])
def test_a_save_onto_a_link_is_refused_naming_it_and_its_target(layout, kind):
    folder, data = layout
    before = (folder / "models" / "v3.npz").read_bytes()
    fitted = (
        Biases().fit(data) if kind == "model" else Pipeline(Popularity(), n_candidates=2).fit(data)
    )
    with pytest.raises(OSError, match="it is a symbolic link to models/v3.npz") as err:
        fitted.save(folder / "model.npz")
    assert err.value.filename == str(folder / "model.npz")
    unchanged(folder, before)
    assert type(latentrec.load(folder / "model.npz")).__name__ == "Popularity"


def test_a_dangling_link_is_refused_too(tmp_path):
    (tmp_path / "model.npz").symlink_to("models/v4.npz")
    with pytest.raises(OSError, match="symbolic link to models/v4.npz"):
        Popularity().fit(Interactions.from_dense(np.eye(2) + 1)).save(tmp_path / "model.npz")
    assert (tmp_path / "model.npz").is_symlink() and not (tmp_path / "models").exists()


def test_a_link_to_the_folder_above_is_followed_as_any_folder(tmp_path):
    """Only the file's own name is checked: a linked folder on the way is where it goes."""
    (tmp_path / "disk").mkdir()
    (tmp_path / "models").symlink_to("disk")
    Popularity().fit(Interactions.from_dense(np.eye(2) + 1)).save(tmp_path / "models" / "m.npz")
    assert (tmp_path / "disk" / "m.npz").is_file()


def test_train_refuses_a_link_as_its_output_before_reading_the_data(layout, monkeypatch):
    folder, _ = layout
    before = (folder / "models" / "v3.npz").read_bytes()
    csv = folder.parent / f"{folder.name}-ratings.csv"
    cli_ratings_frame(times=False).to_csv(csv, index=False)
    calls = []
    real = train.load_data
    monkeypatch.setattr(train, "load_data", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = CliRunner().invoke(
        main, ["train", str(csv), "--epochs", "1", "-q", "-o", str(folder / "model.npz")]
    )
    assert out.exit_code == 1, out.output
    lines = [x for x in out.stderr.splitlines() if x.strip() and x != COMPILE_MESSAGE]
    assert lines == [
        f"Error: cannot write {folder / 'model.npz'}: it is a symbolic link to models/v3.npz; "
        "save to that file, or to a new file and point the link at it"
    ]
    assert calls == []
    unchanged(folder, before)
