"""A Netflix-prize file in a zip of its own (as a browser download of one file comes)
reads as the file it holds, as a one-file zip of a table does; the prize's whole
archive (several files) and a damaged zip are refused by name."""

from __future__ import annotations

import zipfile

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions, netflix
from latentrec.datasets import read_netflix

TEXT = b"1:\r\n7,3,2005-09-06\r\n9,5,2005-05-13\r\n2:\r\n7,4,2005-10-19\r\n"


def zipped(path, members: dict):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_one_file_zip_reads_as_its_file(tmp_path):
    plain = tmp_path / "combined_data_1.txt"
    plain.write_bytes(TEXT)
    packed = zipped(tmp_path / "combined_data_1.zip", {"combined_data_1.txt": TEXT})
    want = read_netflix(plain).to_frame()
    assert read_netflix(packed).to_frame().equals(want)
    assert Interactions.read(packed).to_frame().equals(want)
    assert netflix.is_netflix_file(packed)
    out = tmp_path / "n.lrdata"
    result = CliRunner().invoke(main, ["data", "convert", str(packed), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Interactions.read(out).nnz == 3
    # The file and its zip together would read every rating twice.
    with pytest.raises(DataError, match="is .*combined_data_1.txt packed with zip"):
        read_netflix([plain, packed])


def test_bad_line_in_zip_named(tmp_path):
    packed = zipped(tmp_path / "c.zip", {"c.txt": TEXT + b"7,9,2005-10-19\r\n"})
    with pytest.raises(DataError, match=r"line 6 of .*c.zip has a rating 9 outside"):
        read_netflix(packed)


def test_whole_archive_and_damaged_zip_refused(tmp_path):
    archive = zipped(
        tmp_path / "archive.zip",
        {"combined_data_1.txt": TEXT, "probe.txt": b"1:\n7\n", "movie_titles.csv": b"1,2003,X\n"},
    )
    result = CliRunner().invoke(main, ["data", "info", str(archive)])
    assert result.exit_code == 1
    assert "archive.zip holds 3 files" in result.output and "Traceback" not in result.output
    # A rating changed inside a stored (uncompressed) zip, past the first 64 KiB that
    # tell the format: the data no longer matches the CRC-32 the zip holds.
    body = b"1:\n" + b"".join(b"%d,3,2005-09-06\n" % c for c in range(1, 20000))
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(damaged, "w", zipfile.ZIP_STORED) as z:
        z.writestr("c.txt", body)
    raw = bytearray(damaged.read_bytes())
    at = raw.rfind(b"19999,3")
    raw[at] = ord("2")
    damaged.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"damaged.zip is a damaged or truncated zip file"):
        read_netflix(damaged)


def test_zip_of_no_file_or_several_named_by_the_reader(tmp_path):
    """Read by the library, such a zip was read as its own bytes: 'a rating before any
    movie line' (its header) or 'NUL bytes: a download cut short'."""
    several = zipped(tmp_path / "two.zip", {"a.txt": TEXT, "b.txt": TEXT})
    with pytest.raises(DataError, match=r"two.zip is a zip of 2 files: a.txt, b.txt; expected"):
        read_netflix(several)
    folder_only = tmp_path / "folder.zip"
    with zipfile.ZipFile(folder_only, "w") as archive:
        archive.writestr(zipfile.ZipInfo("d/"), b"")
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    for path in (folder_only, empty):
        with pytest.raises(DataError, match=rf"{path.name} is a zip of no files; expected"):
            read_netflix(path)
    with pytest.raises(DataError, match=r"two.zip is a zip of 2 files"):
        netflix.probe_split(read_netflix(zipped(tmp_path / "c.zip", {"c.txt": TEXT})), several)
    with pytest.raises(DataError, match=r"two.zip is a zip of 2 files"):
        netflix.read_netflix_titles(several)
    # A folder beside the one file is no second file.
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        archive.writestr(zipfile.ZipInfo("d/"), b"")
        archive.writestr("d/c.txt", TEXT)
    assert read_netflix(nested).nnz == 3


def test_large_member_read_in_bounded_memory(tmp_path, monkeypatch):
    """A member with no line end (a zip bomb, a NUL-padded tail) was gathered whole
    before a line was looked at: memory as large as what it unpacks to."""
    import tracemalloc

    monkeypatch.setattr(netflix, "BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(netflix, "LINE_BYTES", 1 << 16)
    for name, filler in (("bomb.zip", b"7"), ("padded.zip", b"\0")):
        packed = zipped(tmp_path / name, {"c.txt": TEXT + filler * (8 << 20)})
        tracemalloc.start()
        try:
            with pytest.raises(DataError, match=r"line 6 of .* runs past 0.0625 MiB with"):
                read_netflix(packed)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20, peak  # the member is 8 MiB
    # Files read whole are read up to a bound.
    monkeypatch.setattr(netflix, "PAIRS_BYTES", 1 << 16)
    monkeypatch.setattr(netflix, "TITLES_BYTES", 1 << 16)
    probe = zipped(tmp_path / "probe.zip", {"probe.txt": b"1:\n" + b"7\n" * (1 << 16)})
    with pytest.raises(DataError, match=r"probe.zip unpacks to more than 0.0625 MiB, where"):
        netflix.read_netflix_pairs(probe)
    titles = zipped(tmp_path / "t.zip", {"t.csv": b"1,2000,A" + b"a" * (1 << 16) + b"\n"})
    with pytest.raises(DataError, match=r"t.zip unpacks to more than 0.0625 MiB, where"):
        netflix.read_netflix_titles(titles)
