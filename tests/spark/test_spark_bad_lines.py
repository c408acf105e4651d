"""The line ``read_ratings`` names for a bad row is the one the local reader names.

Spark keeps no line numbers, so the bad row's file is read again to find it
(``_first_bad_line``).  That read went a line at a time, as bytes split at ``\\n``, which
missed two kinds of file: one with a quoted field holding a line break (a record over
two lines: its halves were judged as lines, so the line named was the break's, or the
fault after it was missed) and one in UTF-16 or UTF-32 (where ``\\n`` is more than one
byte: the lines after the first were cut mid-character)."""

from __future__ import annotations

import pytest
import spark_support

from latentrec import Interactions
from latentrec.data import DataError

spark = spark_support.spark  # the shared session fixture

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

HEAD = "user,item,rating\n"
# (file text, line of the fault, what the message says about it)
BREAKS = [
    # A fault after a record over two lines: the break was named instead.
    (HEAD + '1,"a\nb",4\n2,c,x\n', 4, "non-numeric ratings (e.g. 'x') at line 4"),
    (HEAD + '1,"a\nb",4\n2,c\n', 4, "line 4 of {} has 2 fields where the header has 3"),
    # The fault in a record over two lines: named by the line it starts on.
    (HEAD + '1,2,4\n3,"a\nb",x\n', 3, "non-numeric ratings (e.g. 'x') at line 3"),
    (HEAD + '1,"a\n\nb",4\n\n,c,3\n', 6, "column 'user' has empty ids at line 6"),
    # Two quoted breaks in one field, a CRLF file, a blank line in between.
    (HEAD.replace("\n", "\r\n") + '1,"a\r\nb\r\nc",4\r\n\r\n2,c,-\r\n', 6,
     "non-numeric ratings (e.g. '-') at line 6"),
]  # fmt: skip


def _read(spark, path, **options):
    from latentrec.spark import read_ratings

    return read_ratings(
        spark, str(path), user_col="user", item_col="item", rating_col="rating", **options
    )


def _local_line(path, **options) -> tuple:
    with pytest.raises(DataError) as err:
        Interactions.read(path, user="user", item="item", rating="rating", **options)
    return err.value.where


@pytest.mark.parametrize(("text", "line", "says"), BREAKS)
def test_a_quoted_line_break_does_not_move_the_bad_line(spark, tmp_path, text, line, says):
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode())
    assert _local_line(path) == (line,)  # the local reader, the reference
    with pytest.raises(ValueError) as err:
        _read(spark, path)
    assert says.format(path) in str(err.value), str(err.value)
    assert f"line {line} of {path}" in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (HEAD + "1,2,5\n\n3,4,x\n5,6,7\n", 4, "non-numeric ratings (e.g. 'x') at line 4"),
        (HEAD + "1,\xe9,5\n3,4\n", 3, "line 3 of {} has 2 fields where the header has 3"),
        (HEAD + '1,"a\nb",5\n3,\u0a0a,x\n', 4, "non-numeric ratings (e.g. 'x') at line 4"),
    ],
)
def test_a_wide_encoding_names_the_right_line(spark, tmp_path, encoding, text, line, says):
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode(encoding))
    assert _local_line(path, encoding=encoding) == (line,)
    with pytest.raises(ValueError) as err:
        _read(spark, path, encoding=encoding)
    assert says.format(path) in str(err.value), str(err.value)
    assert f"line {line} of {path}" in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_wide_encoding_reads_the_rows_the_local_reader_reads(spark, tmp_path, encoding):
    """Split at the byte '\\n', a UTF-16-BE file read as a header 'rating\\ufffd' and rows
    of text ending in a stray character, without a word."""
    path = tmp_path / "r.csv"
    path.write_bytes((HEAD + '1,caf\xe9,5\n\n2,"a\nb",3.5\n3,\u0a0a,4\n').encode(encoding))
    df = _read(spark, path, encoding=encoding)
    got = sorted(tuple(row) for row in df.select("user", "item", "rating").collect())
    frame = Interactions.read(path, user="user", item="item", rating="rating",
                              encoding=encoding).to_frame()  # fmt: skip
    expected = sorted(
        (int(u), i, r) for u, i, r in zip(*(frame[c] for c in frame.columns[:3]), strict=True)
    )
    assert got == expected == [(1, "caf\xe9", 5), (2, "a\nb", 3.5), (3, "\u0a0a", 4)]


@pytest.mark.parametrize("quoted", [False, True])
def test_a_line_past_the_csv_field_limit_does_not_hide_the_bad_line(spark, tmp_path, quoted):
    """A field of more than 131,072 characters stopped the search for the bad line with
    Python's '_csv.Error: field larger than field limit' inside a Spark task trace."""
    import csv

    csv.field_size_limit(131_072)  # the default, which another test may have raised
    long = "a" * 300_000
    path = tmp_path / "r.csv"
    path.write_text(
        HEAD + f'1,{long},4\n2,"b\nc",3\n3,d,x\n' if quoted else HEAD + f"1,{long},4\n3,d,x\n"
    )
    line = 5 if quoted else 3
    assert _local_line(path) == (line,)
    with pytest.raises(ValueError) as err:
        _read(spark, path)
    assert f"non-numeric ratings (e.g. 'x') at line {line} of {path}" in str(err.value)


@pytest.mark.parametrize(
    ("text", "encoding", "pair", "said"),
    [
        (HEAD + "1,1,5\n2,2,4\n\n1,1,3\n", "utf-16", (1, 1), "lines 2 and 5"),
        (HEAD + "1,1,5\n2,2,4\n1,1,3\n", "utf-32", (1, 1), "lines 2 and 4"),
        (HEAD + '1,"a\nb",5\n2,c,4\n1,"a\nb",3\n', "utf-8", (1, "a\nb"), "lines 2 and 5"),
    ],
)
def test_a_repeated_pair_is_named_by_its_lines_in_any_file(
    spark, tmp_path, text, encoding, pair, said
):
    """pair_lines read every file a line at a time, split at the byte '\\n': a UTF-16 or
    UTF-32 file, or a pair in a record over two lines, was 'in r.csv', no line named."""
    from latentrec.spark.reading import pair_lines

    path = tmp_path / "r.csv"
    path.write_bytes(text.encode(encoding))
    df = _read(spark, path, encoding=encoding)
    got = pair_lines(df, str(path), *pair, user_col="user", item_col="item",
                     rating_col="rating", encoding=encoding)  # fmt: skip
    assert got == f"{said} of {path}"
