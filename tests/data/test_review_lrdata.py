"""A damaged .lrdata file is a DataError naming what is wrong, never a wrong matrix."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from latentrec import Interactions
from latentrec.data.lrdata import read_lrdata, write_lrdata
from latentrec.data.report import DataError


def _rewrite(path, out, name, arr):
    """A copy of the .lrdata file at ``path`` with member ``name`` replaced by ``arr``."""
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if info.filename == f"{name}.npy":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr)
                zout.writestr(info.filename, buf.getvalue())
            else:
                zout.writestr(info.filename, zin.read(info))


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize(
    ("name", "arr", "says"),
    [
        ("indices", np.array([0, 1, 7], np.int32), "item 7, outside [0, 2)"),
        ("indices", np.array([0, -1, 1], np.int32), "item -1, outside [0, 2)"),
        ("indices", np.array([0, 1], np.int32), "indices has 2 entries for 3 ratings"),
        ("indptr", np.array([0, 2, 1], np.int64), "indptr does not start at 0"),
        ("indptr", np.array([0, 3], np.int64), "indptr has 2 entries for 2 users"),
        ("timestamps", np.array([1.0]), "timestamps has 1 entries for 3 ratings"),
        ("user_ids", np.array([1, 2, 3]), "user_ids has 3 ids for 2 users"),
    ],
)
def test_a_damaged_file_is_refused_naming_the_array(tmp_path, name, arr, says, mmap):
    path = tmp_path / "r.lrdata"
    data = Interactions.from_arrays([1, 1, 2], [5, 6, 5], [3.0, 4.0, 5.0], timestamps=[1, 2, 3])
    write_lrdata(data, path)
    assert read_lrdata(Interactions, path, mmap=mmap).fingerprint() == data.fingerprint()
    bad = tmp_path / "bad.lrdata"
    _rewrite(path, bad, name, arr)
    with pytest.raises(DataError, match="damaged") as err:
        read_lrdata(Interactions, bad, mmap=mmap)
    assert says in str(err.value) and str(bad) in str(err.value)
