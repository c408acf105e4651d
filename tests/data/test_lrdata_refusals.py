"""A .lrdata file round-trips exactly; a truncated, foreign or damaged one is refused with
one DataError naming the file (never an AttributeError, a KeyError or a pickle load), and
the CLI says it in one line with exit code 1."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions
from latentrec.data.lrdata import read_lrdata, write_lrdata


@pytest.fixture
def data():
    return Interactions.from_arrays(
        ["ann", "bob", "ann", "007", "7"],
        [3, 1, 1, 2, 2],
        [4.0, 2.0, 5.0, 1.0, 3.5],
        timestamps=[10.0, 20.0, 30.0, 40.0, 50.0],
        rating_scale=(1, 5),
    )


@pytest.fixture
def written(tmp_path, data):
    return write_lrdata(data, tmp_path / "r.lrdata")


def _rewrite(path, out, members: dict) -> None:
    """A copy of ``path`` with the given members' bytes replaced (``None``: left out)."""
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            name = info.filename[: -len(".npy")]
            if name not in members:
                zout.writestr(info.filename, zin.read(info))
            elif members[name] is not None:
                zout.writestr(info.filename, members[name])


def _npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _meta(obj) -> bytes:
    return _npy(np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8))


@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_keeps_every_field(written, data, mmap):
    back = read_lrdata(Interactions, written, mmap=mmap)
    assert back.fingerprint() == data.fingerprint()
    assert back.users.ids.tolist() == data.users.ids.tolist()  # "007" and "7" both kept
    assert back.items.ids.tolist() == data.items.ids.tolist()
    assert np.array_equal(back.matrix.toarray(), data.matrix.toarray())
    assert np.array_equal(back.timestamps, data.timestamps)
    assert back.rating_scale == (1.0, 5.0) and back.implicit is False
    assert back.load_report.rows_read == 5


@pytest.mark.parametrize("mmap", [True, False])
def test_every_truncation_is_one_clear_refusal(tmp_path, written, mmap):
    raw = written.read_bytes()
    cut = tmp_path / "cut.lrdata"
    for n in sorted({0, 1, 10, 100, len(raw) // 3, len(raw) // 2, len(raw) - 22, len(raw) - 1}):
        cut.write_bytes(raw[:n])
        with pytest.raises(DataError) as err:
            read_lrdata(Interactions, cut, mmap=mmap)
        assert str(cut) in str(err.value)
        assert "not a complete .lrdata file" in str(err.value), (n, str(err.value))


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"meta": None}, "is not a latentrec .lrdata file: it is a zip archive without"),
        ({"meta": _meta([1, 2])}, "is not a latentrec .lrdata file"),
        ({"meta": _meta({"format": "something-else"})}, "is not a latentrec .lrdata file"),
        (
            {"meta": _meta({"format": "latentrec-interactions", "version": "1"})},
            "its meta has no version number",
        ),
        (
            {"meta": _meta({"format": "latentrec-interactions", "version": 1})},
            "its meta has no shape of two counts",
        ),
        (
            {"meta": _meta({"format": "latentrec-interactions", "version": 1, "shape": [3]})},
            "its meta has no shape of two counts",
        ),
        ({"meta": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)}, "pickled"),
        ({"user_ids": _npy(np.array(["a", None], dtype=object), allow_pickle=True)}, "pickled"),
        ({"data": _npy(np.array([1, 2, np.nan, 4, 5], np.float32))}, "NaN or infinite (cell 2)"),
        ({"data": _npy(np.array([1, 2, 3, 4, np.inf], np.float32))}, "NaN or infinite (cell 4)"),
        ({"data": _npy(np.arange(5, dtype=np.int32))}, "not floating-point ratings"),
        ({"timestamps": _npy(np.array([1, np.nan, 3, 4, 5.0]))}, "timestamp that is NaN"),
        ({"user_ids": _npy(np.array(["a", "a", "b", "c"]))}, "damaged: user ids must be unique"),
    ],
)
@pytest.mark.parametrize("mmap", [True, False])
def test_a_foreign_or_damaged_member_is_named(tmp_path, written, members, says, mmap):
    bad = tmp_path / "bad.lrdata"
    _rewrite(written, bad, members)
    with pytest.raises(DataError) as err:
        read_lrdata(Interactions, bad, mmap=mmap)
    assert says in str(err.value) and str(bad) in str(err.value)


def test_a_meta_with_wrong_entries_is_damaged(tmp_path, written):
    with zipfile.ZipFile(written) as z:
        meta = json.loads(np.lib.format.read_array(io.BytesIO(z.read("meta.npy"))).tobytes())
    for key, value, says in [
        ("rating_scale", "1-5", "rating_scale that is not (low, high)"),
        ("implicit", "no", "implicit='no'"),
        ("load_report", {"source": "x"}, "load_report without the fields"),
        ("load_notes", "a note", "load_notes that are not a list"),
    ]:
        bad = tmp_path / "bad.lrdata"
        _rewrite(written, bad, {"meta": _meta({**meta, key: value})})
        with pytest.raises(DataError, match="is damaged: its meta") as err:
            read_lrdata(Interactions, bad)
        assert says in str(err.value)


def test_unsorted_rows_are_damage_not_a_bare_value_error(tmp_path, written):
    bad = tmp_path / "bad.lrdata"
    # ann's two items written in falling order.
    indices = read_lrdata(Interactions, written, mmap=False).matrix.indices.copy()
    row = read_lrdata(Interactions, written, mmap=False).users.index(["ann"])[0]
    indptr = read_lrdata(Interactions, written, mmap=False).matrix.indptr
    a, b = indptr[row], indptr[row + 1]
    indices[a:b] = indices[a:b][::-1]
    _rewrite(written, bad, {"indices": _npy(indices)})
    with pytest.raises(DataError, match="is damaged: matrix must have sorted"):
        read_lrdata(Interactions, bad)


@pytest.mark.parametrize("what", ["truncated", "text", "foreign"])
def test_the_cli_says_it_in_one_line(tmp_path, written, what):
    bad = tmp_path / "bad.lrdata"
    if what == "truncated":
        bad.write_bytes(written.read_bytes()[:-40])
    elif what == "text":
        bad.write_text("user_id,item_id,rating\n1,2,3\n")
    else:
        np.savez(tmp_path / "x.npz", a=np.arange(3))
        bad.write_bytes((tmp_path / "x.npz").read_bytes())
    for args in (["data", "info", str(bad)], ["train", str(bad), "-o", str(tmp_path / "m.npz")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert str(bad) in lines[0] and ".lrdata" in lines[0], lines[0]
        assert "unexpected" not in lines[0].lower(), lines[0]
