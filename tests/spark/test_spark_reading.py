"""``read_ratings``: how it judges one line once Spark has found a bad row (no Spark
needed), and files it reads as the local engine reads them (on the shared session)."""

from __future__ import annotations

import pandas as pd
import pytest
import spark_support

from latentrec import Interactions
from latentrec.spark.reading import _Layout

spark = spark_support.spark  # the shared session fixture

COLS = ("user", "item", "rating")


@pytest.mark.parametrize(
    "line, implicit, problem",
    [
        (b"1,2,5", False, None),
        (b"", False, None),  # a blank line, which Spark skips
        (b"1,2,5,9", False, ("fields", 4, None)),
        (b"1,2", False, ("fields", 2, None)),
        (b",2,5", False, ("id", "user", "")),
        (b"1,,5", False, ("id", "item", "")),
        (b"1, ,5", False, ("id", "item", " ")),  # Spark reads the field without its blanks
        (b"1,2,x", False, ("text", None, "x")),
        (b"1,2,", False, ("nan", None, "")),
        (b"1,2,NaN", False, ("nan", None, "NaN")),
        (b"1,2,-1", False, None),
        (b"1,2,-1", True, ("negative", None, "-1")),
        (b'"a,b",2,5', False, None),  # a quoted separator is part of the id
        (b"1,2,5\r", False, None),
    ],
)
def test_a_line_is_judged_as_the_local_reader_judges_it(line, implicit, problem):
    layout = _Layout(list(COLS), True, ",", "UTF-8", COLS)
    assert layout.problem(line, implicit) == problem


def test_a_separator_of_several_characters_and_another_column_order():
    layout = _Layout(["rating", "t", "user", "item"], True, "::", "latin-1", COLS)
    assert layout.problem("4::0::ann::caf\xe9".encode("latin-1"), False) is None
    assert layout.problem(b"four::0::ann::x", False) == ("text", None, "four")
    assert layout.problem(b"4::0::ann", False) == ("fields", 3, None)


NAMES = {"user_col": "user", "item_col": "item", "rating_col": "rating"}


def read(spark, path, **options):
    from latentrec.spark import read_ratings

    return read_ratings(spark, str(path), **{**NAMES, **options})


def rows(df) -> list[tuple]:
    return sorted(tuple(row) for row in df.select("user", "item", "rating").collect())


def local_rows(path, **options) -> list[tuple]:
    data = Interactions.read(path, user="user", item="item", rating="rating", **options)
    frame = data.to_frame()
    return sorted(
        (u.item() if hasattr(u, "item") else u, i.item() if hasattr(i, "item") else i, r)
        for u, i, r in zip(frame["user_id"], frame["item_id"], frame["rating"], strict=True)
    )


@pytest.mark.spark
@pytest.mark.parametrize("name", ["data[12].csv", "r [1].csv", "q{a,b}*?.csv", "x\\y.csv"])
def test_a_file_named_with_glob_characters_is_read_as_named(spark, tmp_path, name):
    """Hadoop globbed the path: data[12].csv read data1.csv and data2.csv instead."""
    (tmp_path / name).write_text("user,item,rating\n1,1,5\n2,1,4\n")
    (tmp_path / "data1.csv").write_text("user,item,rating\n7,1,5\n8,1,4\n")
    (tmp_path / "data2.csv").write_text("user,item,rating\n9,1,5\n")
    assert rows(read(spark, tmp_path / name)) == [(1, 1, 5), (2, 1, 4)]
    # A bad line is found by reading the file again as lines: that read is literal too.
    (tmp_path / name).write_text("user,item,rating\n1,1,5\n2,1,x\n")
    with pytest.raises(ValueError, match=r"non-numeric ratings \(e.g. 'x'\) at line 3 of "):
        read(spark, tmp_path / name)


@pytest.mark.spark
def test_a_parquet_file_or_a_folder_named_with_glob_characters_is_read_as_named(spark, tmp_path):
    frame = pd.DataFrame({"user": [1, 2], "item": [3, 3], "rating": [4.0, 5.0]})
    frame.to_parquet(tmp_path / "p{1}.parquet")
    assert rows(read(spark, tmp_path / "p{1}.parquet")) == [(1, 3, 4.0), (2, 3, 5.0)]
    folder = tmp_path / "part[1]"
    folder.mkdir()
    (folder / "a[2].csv").write_text("user,item,rating\n5,1,3\n")
    assert rows(read(spark, folder)) == [(5, 1, 3)]
    assert rows(read(spark, "file:" + str(folder))) == [(5, 1, 3)]


@pytest.mark.spark
def test_a_path_spark_cannot_read_is_refused_in_one_line(spark, tmp_path):
    """A ':' in a name was an IllegalArgumentException from Hadoop's URI parser."""
    (tmp_path / "a:b.csv").write_text("user,item,rating\n1,1,5\n")
    with pytest.raises(ValueError, match=r"a:b.csv holds ':', which Spark \(Hadoop\) cannot"):
        read(spark, tmp_path / "a:b.csv")
    with pytest.raises(ValueError, match=r"a:b.csv holds ':'"):
        read(spark, tmp_path)  # the folder that holds it
    with pytest.raises(FileNotFoundError, match=r"No such file or directory.*nothere\[1\].csv"):
        read(spark, tmp_path / "nothere[1].csv")


@pytest.mark.spark
@pytest.mark.parametrize("sep", ["\t", ";", "|", ","])
def test_the_separator_is_guessed_as_the_local_engine_guesses_it(spark, tmp_path, sep):
    path = tmp_path / "r.txt"
    path.write_text(sep.join(["user", "item", "rating"]) + "\n" + f"1{sep}2{sep}5\n3{sep}2{sep}4\n")
    assert rows(read(spark, path)) == local_rows(path) == [(1, 2, 5), (3, 2, 4)]
    bare = tmp_path / "bare.txt"
    bare.write_text(f"1{sep}2{sep}5\n3{sep}2{sep}4\n")
    got = read(spark, bare, header=False, user_col="_c0", item_col="_c1", rating_col="_c2")
    assert sorted(tuple(r) for r in got.collect()) == [(1, 2, 5), (3, 2, 4)]


@pytest.mark.spark
def test_a_wrong_separator_is_named_instead_of_columns_nobody_wrote(spark, tmp_path):
    """With sep "," a TSV was one column named 'user\\titem\\trating', missing the others."""
    path = tmp_path / "r.tsv"
    path.write_text("user\titem\trating\n1\t2\t5\n")
    with pytest.raises(ValueError, match=r"one field with the separator ',' but holds a tab: give"):
        read(spark, path, sep=",")
    with pytest.raises(ValueError, match=r"holds a tab: give the file's separator"):
        read(spark, path, sep=",", header=False, user_col="_c0", item_col="_c1", rating_col="_c2")


@pytest.mark.spark
def test_python_encoding_names_are_spark_charsets(spark, tmp_path):
    """Spark refused latin-1 (its name is iso-8859-1) with a Java exception."""
    path = tmp_path / "r.csv"
    path.write_bytes("user,item,rating\nJos\xe9,caf\xe9,5\n".encode("latin-1"))
    for name in ("latin-1", "latin_1", "ISO-8859-1", "l1"):
        assert rows(read(spark, path, encoding=name)) == [("Jos\xe9", "caf\xe9", 5)]
    assert rows(read(spark, path, encoding="latin-1")) == local_rows(path, encoding="latin-1")
    wide = tmp_path / "w.csv"
    wide.write_bytes("user,item,rating\n\xe9,1,5\n".encode("utf-16"))
    assert rows(read(spark, wide, encoding="utf16")) == [("\xe9", 1, 5)]
    with pytest.raises(ValueError, match=r"encoding 'cp1252' is not one Spark's CSV reader reads"):
        read(spark, path, encoding="cp1252")
    with pytest.raises(ValueError, match=r"unknown encoding 'klingon'"):
        read(spark, path, encoding="klingon")


@pytest.mark.spark
def test_a_quoted_line_break_is_read_as_the_local_engine_reads_it(spark, tmp_path):
    path = tmp_path / "mlv.csv"
    path.write_text('user,item,rating\n1,"a\nb",4\n2,c,3\n')
    assert rows(read(spark, path)) == local_rows(path) == [(1, "a\nb", 4), (2, "c", 3)]
    # Still a bad row when one is there.
    path.write_text('user,item,rating\n1,"a\nb",4\n2,c\n')
    with pytest.raises(ValueError, match="fields where the header has 3"):
        read(spark, path)


@pytest.mark.spark
def test_ids_written_as_decimals_are_read_as_the_local_engine_reads_them(spark, tmp_path):
    """Whole numbers (7.0) are integer ids; one 2.5 keeps the column as text."""
    whole = tmp_path / "whole.csv"
    whole.write_text("user,item,rating\n1.0,1,4\n2.0,1,3\n1,2,5\n")
    df = read(spark, whole)
    assert df.schema["user"].dataType.typeName() == "long"
    assert rows(df) == local_rows(whole) == [(1, 1, 4), (1, 2, 5), (2, 1, 3)]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("user,item,rating\n1.0,1,4\n2.5,1,3\n")
    assert rows(read(spark, mixed)) == local_rows(mixed) == [("1.0", 1, 4), ("2.5", 1, 3)]
    frame = pd.DataFrame({"user": [1.0, 2.0], "item": [1, 1], "rating": [4.0, 3.0]})
    frame.to_parquet(tmp_path / "p.parquet")
    assert rows(read(spark, tmp_path / "p.parquet")) == [(1, 1, 4.0), (2, 1, 3.0)]
    # A Parquet column of other numbers stays as it is; fit_als's refusal speaks to a
    # command's user as well as to a DataFrame's.
    frame.assign(user=[1.5, 2.0]).to_parquet(tmp_path / "q.parquet")
    from latentrec.spark import fit_als

    with pytest.raises(ValueError, match=r"holds double ids; .*write the file's ids so, or cast"):
        fit_als(read(spark, tmp_path / "q.parquet"), n_epochs=1, **NAMES)


def test_an_events_line_is_judged_by_its_ids_only():
    layout = _Layout(["user", "item", "t"], True, ",", "utf-8", ("user", "item"))
    assert layout.problem(b"ann,x,0", False) is None
    assert layout.problem(b"ann,,0", False) == ("id", "item", "")
    assert layout.problem(b"ann,x", False) == ("fields", 2, None)


@pytest.mark.spark
def test_events_without_a_rating_column_add_up_as_the_local_engine_counts_them(spark, tmp_path):
    """``rating_col=None``: each row is one event of 1.0 and fit_als's sum counts a pair's
    rows, the local engine's default for events; a bad line is named as for ratings."""
    from latentrec.spark import fit_als
    from latentrec.spark.reading import EVENTS

    path = tmp_path / "plays.csv"
    path.write_text("user,item,t\nann,x,1\nann,x,2\nann,y,3\nbob,x,4\nann,x,5\n")
    df = read(spark, path, rating_col=None)
    assert sorted(tuple(r) for r in df.select("user", "item", EVENTS).collect()) == [
        ("ann", "x", 1.0), ("ann", "x", 1.0), ("ann", "x", 1.0), ("ann", "y", 1.0),
        ("bob", "x", 1.0),
    ]  # fmt: skip
    model = fit_als(
        df, implicit=True, n_factors=1, n_epochs=1, duplicates="sum",
        **{**NAMES, "rating_col": EVENTS},
    )  # fmt: skip
    local = Interactions.read(path, user="user", item="item", rating=None)
    assert local.load_report.duplicates == "sum"
    assert model.catalog_.users.ids.tolist() == local.users.ids.tolist()
    assert model.catalog_.items.ids.tolist() == local.items.ids.tolist()
    assert model.catalog_.seen.toarray().tolist() == (local.matrix.toarray() > 0).tolist()
    # What the sum adds: one 1.0 a row, so a pair's value is its count of rows.
    sums = {(r[0], r[1]): r[2] for r in df.groupBy("user", "item").sum(EVENTS).collect()}
    m = local.matrix.tocoo()
    cells = zip(m.row, m.col, m.data, strict=True)
    counted = {(local.users.ids[u], local.items.ids[i]): v for u, i, v in cells}
    assert sums == counted == {("ann", "x"): 3.0, ("ann", "y"): 1.0, ("bob", "x"): 1.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item\nann,x\n,y\n")
    with pytest.raises(ValueError, match=f"column 'user' has empty ids at line 3 of {bad}"):
        read(spark, bad, rating_col=None)
