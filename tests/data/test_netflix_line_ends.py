"""Line ends and padding the prize files do not have but damaged copies do: "\\r" alone
(old Mac), "\\r\\r\\n" (a CRLF file converted twice), NUL bytes (a download cut short
into a file made full size first). Each is refused naming file, line and cause, the
same at any block size, where before a stray "\\r" before "\\r\\n" was read by the
block parser and refused by the line checks, and a first line "1:\\r" sent the file
to the table reader ("the header has columns ['1:']")."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions, netflix
from latentrec.datasets import read_netflix

BASE = b"1:\n7,3,2005-09-06\n9,5,2005-05-13\n2:\n7,4,2005-10-19\n"


@pytest.mark.parametrize("block", [5, 16, 1 << 24])
@pytest.mark.parametrize(
    ("text", "line", "cause"),
    [
        (b"1:\n7,3,2005-09-06\r\r\n9,5,2005-05-13\n", 2, "a carriage return"),
        (b"1:\r\n7,3,2005-09-06\r\n9,5,2005-05-13\r\r\n", 3, "a carriage return"),
        (b"1:\n7,3,2005-09-06\r9,5,2005-05-13\n", 2, "a carriage return"),
        (b"1:\n7,3\r,2005-09-06\n", 2, "a carriage return"),
        (BASE.replace(b"\n", b"\r\r\n"), 1, "a carriage return"),
        (BASE.replace(b"\n", b"\r"), 1, "a carriage return"),
        (BASE + b"\0" * 40, 6, "NUL bytes"),
        (BASE[:20] + b"\0" * 9 + BASE[20:], 3, "NUL bytes"),
    ],
)
def test_damaged_line_ends_named(tmp_path, monkeypatch, block, text, line, cause):
    monkeypatch.setattr(netflix, "BLOCK_BYTES", block)
    path = tmp_path / "combined_data_1.txt"
    path.write_bytes(text)
    assert netflix.is_netflix_file(path)
    for read in (read_netflix, Interactions.read):
        with pytest.raises(DataError, match=f"line {line} of .*combined_data_1.txt holds {cause}"):
            read(path)
    result = CliRunner().invoke(main, ["data", "info", str(path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert cause in result.output


def test_crlf_files_still_read(tmp_path):
    path = tmp_path / "c.txt"
    want = read_netflix(_write(path, BASE)).to_frame()
    for text in (BASE.replace(b"\n", b"\r\n"), BASE.replace(b"\n", b"\r\n")[:-1]):
        assert read_netflix(_write(path, text)).to_frame().equals(want)


def _write(path, text: bytes):
    path.write_bytes(text)
    return path
