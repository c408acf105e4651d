"""A damaged or hostile model file is one ModelFileError naming the file: never a
MemoryError for a forged size, a zipfile NotImplementedError, an AttributeError for a
manifest that is not an object, or an unpickled array."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np
import pytest

import latentrec
from latentrec import ModelFileError
from latentrec.io.modelfile import digest, read_archive, write_archive


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.npz"
    write_archive(path, {"algorithm": "Demo"}, {"x": np.arange(6.0), "y": np.ones(3, np.int32)})
    return path


def _with_member(src, out, name: str, raw: bytes, manifest=None) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == name:
                data = raw
            elif info.filename == "manifest.json" and manifest is not None:
                data = manifest(json.loads(data))
            zout.writestr(info.filename, data)


def _header(descr: str, shape: tuple) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def test_an_array_declaring_a_huge_size_is_refused_before_allocating(saved, tmp_path):
    bad = tmp_path / "bad.npz"
    _with_member(saved, bad, "x.npy", _header("<f8", (10**13,)) + np.arange(6.0).tobytes())
    with pytest.raises(ModelFileError, match="damaged") as err:
        read_archive(bad)
    assert str(bad) in str(err.value) and "declares" in str(err.value)


def test_a_forged_member_size_in_the_zip_directory_is_refused(saved, tmp_path):
    """The central directory says the member holds 10^13 bytes (and so does the header)."""
    bad = tmp_path / "bad.npz"
    _with_member(saved, bad, "x.npy", _header("<f8", (10**12,)) + np.arange(6.0).tobytes())
    raw = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("x.npy")
    # Patch the sizes of x.npy's central-directory entry (a forged directory).
    at = raw.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + name_len] == b"x.npy":
            break
        at = raw.index(b"PK\x01\x02", at + 4)
    struct.pack_into("<II", raw, at + 20, 0xFFFFFFF0, 0xFFFFFFF0)
    bad.write_bytes(bytes(raw))
    assert info.file_size < 1000
    with pytest.raises(ModelFileError) as err:
        read_archive(bad)
    assert str(bad) in str(err.value)


def test_an_unknown_compression_method_is_a_model_file_error(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    # The compression method of every entry, local and central, set to 99 (AES).
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = raw.find(sig)
        while at >= 0:
            struct.pack_into("<H", raw, at + offset, 99)
            at = raw.find(sig, at + 4)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError) as err:
        read_archive(bad)
    assert str(bad) in str(err.value)


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        (b"[1, 2]", "not a latentrec model file"),
        (b'{"format": "latentrec-model", "format_version": 1}\xff\xfe', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"format": "latentrec-model"}', "has no format version"),
        (b'{"format": "latentrec-model", "format_version": true}', "has no format version"),
        (b'{"format": "latentrec-model", "format_version": 1, "arrays": 3}', "no list"),
    ],
)
def test_a_damaged_manifest_is_named(saved, tmp_path, manifest, says):
    bad = tmp_path / "bad.npz"
    _with_member(saved, bad, "manifest.json", manifest)
    with pytest.raises(ModelFileError, match=says) as err:
        read_archive(bad)
    assert str(bad) in str(err.value)


def test_an_object_array_is_refused_unread(saved, tmp_path, monkeypatch):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = tmp_path / "bad.npz"
    _with_member(saved, bad, "y.npy", buf.getvalue())
    import pickle

    def refuse(*args, **kwargs):  # pragma: no cover - the test fails if it is reached
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(pickle, "load", refuse)
    with pytest.raises(ModelFileError, match="pickled") as err:
        read_archive(bad)
    assert str(bad) in str(err.value)


def test_a_folder_in_place_of_the_file_says_so(tmp_path):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        latentrec.load(tmp_path / "m.npz")


def test_a_symlink_to_a_model_file_loads_and_a_dangling_one_is_no_file(saved, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(saved)
    assert read_archive(link)[1]["x"].tolist() == list(np.arange(6.0))
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "nowhere.npz")
    with pytest.raises(ModelFileError, match="no model file"):
        read_archive(dangling)


def test_every_cut_and_every_flipped_byte_is_a_model_file_error_or_loads_intact(saved, tmp_path):
    raw = saved.read_bytes()
    bad = tmp_path / "bad.npz"
    x = np.arange(6.0)
    for cut in range(0, len(raw), 7):
        bad.write_bytes(raw[:cut])
        with pytest.raises(ModelFileError):
            read_archive(bad)
    for at in range(0, len(raw), 7):
        flipped = bytearray(raw)
        flipped[at] ^= 0x10
        bad.write_bytes(bytes(flipped))
        try:
            _, arrays = read_archive(bad)
        except ModelFileError as err:
            assert str(bad) in str(err)
        else:  # a byte zip does not read (padding, a timestamp): the arrays are intact
            assert digest(arrays["x"]) == digest(x)


def test_a_ratings_file_given_as_a_model_and_the_reverse_say_what_they_are(tmp_path):
    from latentrec import Interactions
    from latentrec.data import DataError
    from latentrec.data.lrdata import read_lrdata
    from latentrec.models import Popularity

    data = Interactions.from_dense(np.eye(3) + 1)
    ratings = data.to_lrdata(tmp_path / "r.lrdata")
    model = tmp_path / "m.npz"
    Popularity().fit(data).save(model)
    with pytest.raises(
        ModelFileError, match=r"is a converted ratings file \(\.lrdata\), not a model"
    ):
        latentrec.load(ratings)
    with pytest.raises(DataError, match="is a latentrec model file, not a .lrdata ratings file"):
        read_lrdata(Interactions, model)
