"""Files written under a temporary name get the permissions a plain ``open(path, "w")``
would: the process's umask for a new file, the old file's mode when it replaces one
(``mkstemp``'s private 0600 and ``mkdtemp``'s 0700 must not leak into the models, data and
recommendation files others read)."""

from __future__ import annotations

import os
import stat

import pytest

from latentrec.data import Interactions
from latentrec.data.lrdata import write_lrdata
from latentrec.io.atomic import atomic_path
from latentrec.models import Popularity
from latentrec.service.versions import ModelDirectory

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    def set_to(value: int) -> None:
        os.umask(value)

    old = os.umask(0o022)
    yield set_to
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask):
    umask(mask)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("done")
    assert mode(tmp_path / "out.txt") == mode(plain) == 0o666 & ~mask


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    target = tmp_path / "model.npz"
    target.write_text("old")
    os.chmod(target, 0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and mode(target) == 0o640


def test_converted_data_and_published_versions_are_readable_by_others(tmp_path, umask):
    umask(0o022)
    data = Interactions.from_arrays([1, 2, 2], [5, 5, 6], [4.0, 3.0, 5.0])
    lrdata = write_lrdata(data, tmp_path / "ratings.lrdata")
    assert mode(lrdata) == 0o644
    md = ModelDirectory(tmp_path / "models")
    version = md.publish(Popularity().fit(data))
    assert mode(version.path.parent) == 0o755
    assert mode(version.path) == 0o644
    assert all(mode(p) == 0o644 for p in version.path.parent.iterdir())
