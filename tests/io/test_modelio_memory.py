"""A model file whose arrays need more memory than is free is one ModelFileError naming
the file, before anything is allocated: a deflated member of zeros (a zip bomb) declares,
honestly, about a thousand times its compressed size, so a file of megabytes loaded as
gigabytes (a MemoryError, which the command line called "out of memory; try fewer
factors", or the system killing the process).  A MemoryError while reading names the
file too."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec import ModelFileError
from latentrec.cli import main
from latentrec.io import modelfile
from latentrec.io.modelfile import read_archive, write_archive

MiB = 1 << 20


def bomb(folder, n_bytes: int):
    """A model-file archive whose ``x.npy`` is ``n_bytes`` of zeros, deflated, and listed
    in the manifest with its true shape (its digest is the old array's: it is never read
    that far)."""
    src, out = folder / "src.npz", folder / "bomb.npz"
    write_archive(src, {"algorithm": "Demo"}, {"x": np.arange(6.0)})
    header = io.BytesIO()
    n = n_bytes // 8
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (n,)}
    )
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        manifest = json.loads(zin.read("manifest.json"))
        manifest["arrays"]["x"]["shape"] = [n]
        zout.writestr("manifest.json", json.dumps(manifest))
        info = zipfile.ZipInfo("x.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zout.open(info, "w") as fh:
            fh.write(header.getvalue())
            fh.write(bytes(n * 8))
    src.unlink()
    return out


@pytest.fixture
def no_reads(monkeypatch):
    """Fail the test if an array is read (allocated) at all."""

    def refuse(*args, **kwargs):  # pragma: no cover - reached only by a failing test
        raise AssertionError("an array was allocated and read")

    monkeypatch.setattr(modelfile, "read_npy", refuse)


def test_a_zip_bomb_is_refused_naming_the_file_before_any_array_is_read(
    tmp_path, monkeypatch, no_reads
):
    path = bomb(tmp_path, 64 * MiB)
    assert path.stat().st_size < MiB  # 64 MiB of zeros deflate to ~64 KiB
    monkeypatch.setattr(modelfile, "free_memory", lambda: 16 * MiB, raising=False)
    with pytest.raises(ModelFileError) as err:
        read_archive(path)
    text = str(err.value)
    assert text.startswith(f"{path}: its arrays take 64.0 MiB unpacked, more than the 16.0 MiB")
    assert "damaged or hostile" in text


def test_a_stored_model_too_big_for_the_memory_free_says_so(tmp_path, monkeypatch, no_reads):
    path = tmp_path / "m.npz"
    write_archive(path, {"algorithm": "Demo"}, {"x": np.zeros(MiB // 8 * 3)})
    monkeypatch.setattr(modelfile, "free_memory", lambda: 2 * MiB, raising=False)
    with pytest.raises(ModelFileError, match="take 3.0 MiB, more than the 2.0 MiB") as err:
        read_archive(path)
    assert "too big for this machine" in str(err.value) and str(path) in str(err.value)


def test_files_that_fit_load_and_an_unknown_free_memory_checks_nothing(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    write_archive(path, {"algorithm": "Demo"}, {"x": np.arange(4.0)})
    monkeypatch.setattr(modelfile, "free_memory", lambda: 1024, raising=False)
    assert read_archive(path)[1]["x"].tolist() == [0, 1, 2, 3]
    monkeypatch.setattr(modelfile, "free_memory", lambda: None, raising=False)
    assert read_archive(path)[1]["x"].tolist() == [0, 1, 2, 3]


def test_free_memory_reads_what_the_system_says():
    free = modelfile.free_memory()
    assert free is None or 0 <= free < 1 << 60


def test_a_memory_error_while_reading_names_the_file_and_the_array(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    write_archive(path, {"algorithm": "Demo"}, {"x": np.arange(4.0)})

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(modelfile, "read_npy", out_of_memory)
    with pytest.raises(ModelFileError) as err:
        read_archive(path)
    assert str(err.value).startswith(f"{path}: not enough memory to load array 'x'")


def test_the_command_line_says_it_in_one_line(tmp_path, monkeypatch):
    path = bomb(tmp_path, 8 * MiB)
    monkeypatch.setattr(modelfile, "free_memory", lambda: MiB, raising=False)
    out = CliRunner().invoke(main, ["recommend", str(path), "--user", "1"])
    assert out.exit_code == 1, out.output
    assert out.stderr.splitlines() == [
        f"Error: {path}: its arrays take 8.0 MiB unpacked, more than the 1.0 MiB of memory "
        f"free here (a compressed file of {modelfile._size(path.stat().st_size)} that is "
        "damaged or hostile, or a model too big for this machine)"
    ]


def test_a_bomb_is_refused_by_its_expansion_whatever_memory_is_free(
    tmp_path, monkeypatch, no_reads
):
    path = bomb(tmp_path, 8 * MiB)
    monkeypatch.setattr(modelfile, "free_memory", lambda: 1 << 50, raising=False)
    monkeypatch.setattr(modelfile, "_SMALL_MEMBER", MiB, raising=False)
    with pytest.raises(ModelFileError) as err:
        read_archive(path)
    assert str(err.value).startswith(f"{path}: array 'x' unpacks from ")
    assert "to 8.0 MiB, more than any model's arrays expand" in str(err.value)


def test_a_model_file_deflated_by_hand_still_loads(tmp_path, monkeypatch):
    """Ids and learned values deflate a few-fold: far from the bomb's thousand."""
    from latentrec.datasets import synthetic
    from latentrec.models import BiasedMF

    monkeypatch.setattr(modelfile, "_SMALL_MEMBER", 0, raising=False)  # every member checked
    model = BiasedMF(n_factors=4, n_epochs=2, random_state=0).fit(
        synthetic(200, 100, 3000, random_state=0)
    )
    model.save(tmp_path / "m.npz")
    deflated = tmp_path / "deflated.npz"
    with (
        zipfile.ZipFile(tmp_path / "m.npz") as zin,
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    assert deflated.stat().st_size < (tmp_path / "m.npz").stat().st_size
    import latentrec

    loaded = latentrec.load(deflated)
    assert np.array_equal(loaded.predict([0, 1], [2, 3]), model.predict([0, 1], [2, 3]))
