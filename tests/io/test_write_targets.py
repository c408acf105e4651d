"""Saving to a path that cannot take the file fails before anything is written, with an
error naming that path (not the temporary file a save writes first): a folder in the
file's place, a file in the folder's place, a folder that cannot be created.  Model files
create a missing folder; a .lrdata file does not (the command line checks it first)."""

from __future__ import annotations

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.models import Popularity


@pytest.fixture
def data():
    return Interactions.from_dense(np.eye(3) + 1)


def _save(kind, data, path):
    if kind == "model":
        Popularity().fit(data).save(path)
    else:
        data.to_lrdata(path)


@pytest.mark.parametrize("kind", ["model", "lrdata"])
def test_a_folder_in_the_files_place_is_refused_by_name(tmp_path, data, kind):
    target = tmp_path / "out.npz"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder, not a file") as err:
        _save(kind, data, target)
    assert err.value.filename == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]  # no temporary left


@pytest.mark.parametrize("kind", ["model", "lrdata"])
def test_a_file_in_the_folders_place_is_refused_by_name(tmp_path, data, kind):
    (tmp_path / "models").write_text("not a folder")
    target = tmp_path / "models" / "sub" / "out.npz"
    with pytest.raises(NotADirectoryError, match="models is a file, not a folder") as err:
        _save(kind, data, target)
    assert err.value.filename == str(target)


def test_a_missing_folder_is_made_for_a_model_and_named_for_lrdata(tmp_path, data):
    _save("model", data, tmp_path / "new" / "m.npz")
    assert (tmp_path / "new" / "m.npz").is_file()
    target = tmp_path / "other" / "r.lrdata"
    with pytest.raises(FileNotFoundError, match="cannot write a file in") as err:
        _save("lrdata", data, target)
    assert err.value.filename == str(target) and ".tmp" not in str(err.value)


@pytest.mark.parametrize("kind", ["model", "lrdata"])
def test_a_folder_that_refuses_new_files_is_named_with_the_target(
    tmp_path, data, kind, monkeypatch
):
    """A read-only folder (simulated: the tests may run as root, whom modes do not stop)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".out.npz.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    target = tmp_path / "out.npz"
    with pytest.raises(PermissionError) as err:
        _save(kind, data, target)
    assert err.value.filename == str(target)
    assert f"cannot write a file in {tmp_path} (Permission denied)" in str(err.value)
    assert ".tmp" not in str(err.value)
