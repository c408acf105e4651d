import json
import zipfile

import numpy as np
import pytest

import latentrec
from latentrec import ModelFileError
from latentrec.io.modelfile import FORMAT_VERSION, read_archive, read_manifest, write_archive
from latentrec.models import BiasedMF, NotFittedError


@pytest.fixture
def saved(small_data, tmp_path):
    model = BiasedMF(n_factors=3, n_epochs=3, random_state=0).fit(small_data)
    path = tmp_path / "model.npz"
    model.save(path)
    return model, path


def test_manifest_describes_model_and_data(saved, small_data):
    model, path = saved
    m = read_manifest(path)
    assert m["format_version"] == FORMAT_VERSION
    assert m["algorithm"] == "BiasedMF"
    assert m["params"]["n_factors"] == 3
    assert m["data"]["fingerprint"] == small_data.fingerprint()
    assert m["data"] == {
        **m["data"],
        "n_users": small_data.n_users,
        "n_items": small_data.n_items,
        "n_interactions": small_data.nnz,
    }
    assert m["state"]["global_mean_"] == pytest.approx(model.global_mean_)
    assert len(m["history"]["train_rmse"]) == 3


def test_round_trip_keeps_ids_of_both_kinds(saved, small_data):
    model, path = saved
    loaded = latentrec.load(path)
    assert loaded.users_ == small_data.users and loaded.items_ == small_data.items
    assert loaded.users_.ids.dtype == object and loaded.items_.ids.dtype == np.int64
    assert loaded.history_ == model.history_
    assert loaded.rating_scale_ == (1.0, 5.0)


def test_no_temporary_files_are_left(saved):
    _, path = saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_truncated_file_is_a_clear_error(saved):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated|damaged|not a latentrec"):
        latentrec.load(path)


def test_tampered_array_fails_its_checksum(saved, tmp_path):
    _, path = saved
    tampered = tmp_path / "tampered.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            raw = src.read(info.filename)
            if info.filename == "state.item_bias_.npy":
                raw = raw[:-4] + b"\x00\x00\x80\x3f"
            dst.writestr(info, raw)
    with pytest.raises(ModelFileError, match="checksum"):
        latentrec.load(tampered)


def test_newer_format_and_foreign_files_are_refused(saved, tmp_path):
    _, path = saved
    newer = tmp_path / "newer.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(newer, "w") as dst:
        for info in src.infolist():
            raw = src.read(info.filename)
            if info.filename == "manifest.json":
                m = json.loads(raw)
                m["format_version"] = FORMAT_VERSION + 1
                raw = json.dumps(m).encode()
            dst.writestr(info, raw)
    with pytest.raises(ModelFileError, match="upgrade"):
        latentrec.load(newer)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.arange(3))
    with pytest.raises(ModelFileError, match="not a latentrec model"):
        latentrec.load(plain)
    with pytest.raises(ModelFileError, match="no model file"):
        latentrec.load(tmp_path / "missing.npz")


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        BiasedMF().save(tmp_path / "x.npz")


def test_generator_seed_is_not_stored_as_object(small_data, tmp_path):
    model = BiasedMF(n_factors=2, n_epochs=1, random_state=np.random.default_rng(0))
    model.fit(small_data).save(tmp_path / "g.npz")
    assert read_manifest(tmp_path / "g.npz")["params"]["random_state"] is None


def test_arrays_of_any_shape_round_trip_non_contiguous_and_zero_d_included(tmp_path):
    """A 0-d array keeps its shape (np.ascontiguousarray made it (1,), so reading it back
    failed its check), and a strided view is stored as its C-order copy."""
    arrays = {
        "flag": np.array(True),
        "scalar": np.float32(2.5) * np.ones(()),
        "empty": np.zeros((0, 3), np.int64),
        "strided": np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2],
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    path = tmp_path / "a.npz"
    write_archive(path, {"algorithm": "Demo"}, arrays)
    _, got = read_archive(path)
    for name, arr in arrays.items():
        assert got[name].shape == arr.shape and got[name].dtype == arr.dtype, name
        np.testing.assert_array_equal(got[name], arr)
