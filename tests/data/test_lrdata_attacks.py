"""A damaged or hostile .lrdata file is one DataError naming the file: never a MemoryError
for a forged size, a memory map reaching into the next member, or an error zipfile raises
for an entry it cannot decode."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest

from latentrec.data import DataError, Interactions
from latentrec.data.lrdata import read_lrdata, write_lrdata


@pytest.fixture
def written(tmp_path):
    data = Interactions.from_arrays(
        ["a", "b", "c", "a"], [1, 2, 3, 3], [1.0, 2.0, 4.0, 5.0], timestamps=[1.0, 2, 3, 4]
    )
    return write_lrdata(data, tmp_path / "r.lrdata")


def _header(descr: str, shape: tuple) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def _replace_header(src, out, member: str, shape: tuple) -> None:
    """A copy of ``src`` whose ``member`` declares ``shape`` (its bytes left as they are)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename == member:
                fh = io.BytesIO(raw)
                np.lib.format.read_magic(fh)
                _, _, dtype = np.lib.format.read_array_header_1_0(fh)
                raw = _header(dtype.str, shape) + raw[fh.tell() :]
            zout.writestr(info.filename, raw)


@pytest.mark.parametrize("member", ["meta.npy", "indptr.npy", "data.npy", "user_ids.npy"])
@pytest.mark.parametrize("mmap", [True, False])
def test_a_member_declaring_a_huge_size_is_refused_before_allocating(
    tmp_path, written, member, mmap
):
    bad = tmp_path / "bad.lrdata"
    _replace_header(written, bad, member, (10**13,))
    with pytest.raises(DataError, match="declares") as err:
        read_lrdata(Interactions, bad, mmap=mmap)
    assert str(bad) in str(err.value)


def test_a_mapped_member_cannot_reach_into_the_next_one(tmp_path, written):
    """``indices`` says it holds one more value than it does: mapping it would read the
    first bytes of the member after it."""
    bad = tmp_path / "bad.lrdata"
    _replace_header(written, bad, "indices.npy", (5,))
    with pytest.raises(DataError, match="indices.npy declares 5 int32 values") as err:
        read_lrdata(Interactions, bad, mmap=True)
    assert str(bad) in str(err.value)


def test_an_entry_zipfile_cannot_decode_is_a_data_error(tmp_path, written):
    raw = bytearray(written.read_bytes())
    # The "version needed to extract" of every entry in the zip directory set to 17.3, as
    # a flipped byte can: zipfile raises NotImplementedError for it.
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<H", raw, at + 6, 173)
        at = raw.find(b"PK\x01\x02", at + 4)
    bad = tmp_path / "bad.lrdata"
    bad.write_bytes(bytes(raw))
    for mmap in (True, False):
        with pytest.raises(DataError) as err:
            read_lrdata(Interactions, bad, mmap=mmap)
        assert str(bad) in str(err.value)


def test_a_folder_in_place_of_the_file_says_so(tmp_path):
    (tmp_path / "r.lrdata").mkdir()
    with pytest.raises(DataError, match="is a folder, not a .lrdata file"):
        read_lrdata(Interactions, tmp_path / "r.lrdata")


def test_every_flipped_byte_is_a_data_error_or_loads_intact(tmp_path, written):
    raw = written.read_bytes()
    bad = tmp_path / "bad.lrdata"
    for at in range(0, len(raw), 5):
        flipped = bytearray(raw)
        flipped[at] ^= 0x10
        bad.write_bytes(bytes(flipped))
        for mmap in (True, False):
            try:
                back = read_lrdata(Interactions, bad, mmap=mmap)
            except DataError as err:
                assert str(bad) in str(err), (at, str(err))
            else:
                # A byte that no reader checks (padding, a timestamp, a header's spare
                # space, a mapped member's CRC): what loads is what was written, or a
                # table that passed every check (a changed rating or timestamp).
                assert back.shape == (3, 3), at
                del back


def _rewrite(src, out, members: dict) -> None:
    """A copy of ``src`` with members' arrays (or the meta dict) changed by functions."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            name, raw = info.filename[: -len(".npy")], zin.read(info)
            if name in members:
                arr = np.lib.format.read_array(io.BytesIO(raw))
                if name == "meta":
                    meta = members[name](json.loads(arr.tobytes()))
                    arr = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
                else:
                    arr = members[name](arr)
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr)
                raw = buf.getvalue()
            zout.writestr(info.filename, raw)


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"indptr": lambda a: a.astype(float)}, "indptr holds float64 values, not integers"),
        ({"indices": lambda a: a + 0.5}, "indices holds float64 values, not integers"),
        ({"meta": lambda m: {**m, "rating_scale": [5, 1]}}, "low < high: (5.0, 1.0)"),
        ({"meta": lambda m: {**m, "rating_scale": [1, float("inf")]}}, "low < high: (1.0, inf)"),
        ({"meta": lambda m: {**m, "version": 2}}, "is .lrdata version 2; this latentrec reads"),
    ],
)
@pytest.mark.parametrize("mmap", [True, False])
def test_meta_and_index_kinds_are_checked(tmp_path, written, members, says, mmap):
    bad = tmp_path / "bad.lrdata"
    _rewrite(written, bad, members)
    with pytest.raises(DataError) as err:
        read_lrdata(Interactions, bad, mmap=mmap)
    assert says in str(err.value) and str(bad) in str(err.value), str(err.value)


def test_a_deeply_nested_meta_is_a_data_error(tmp_path, written):
    bad = tmp_path / "bad.lrdata"
    nested = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8)
    with zipfile.ZipFile(written) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename == "meta.npy":
                buf = io.BytesIO()
                np.lib.format.write_array(buf, nested)
                raw = buf.getvalue()
            zout.writestr(info.filename, raw)
    with pytest.raises(DataError) as err:
        read_lrdata(Interactions, bad)
    assert str(bad) in str(err.value)


def test_ids_that_would_need_a_pickle_are_never_written(tmp_path, monkeypatch):
    from latentrec.data.vocabulary import Vocabulary

    data = Interactions.from_arrays(["a", "b"], [1, 2], [1.0, 2.0])
    monkeypatch.setattr(Vocabulary, "to_array", lambda self: np.array(self.ids, dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        write_lrdata(data, tmp_path / "r.lrdata")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary
