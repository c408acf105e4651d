"""``latentrec train --engine spark`` on bad files: the local engine's one line, exit 1.

The command runs in this process on the shared test session (a session already running
is used and left running), so each case costs a Spark job or two, not a JVM start.
"""

from __future__ import annotations

import pandas as pd
import pytest
import spark_support
from click.testing import CliRunner

from latentrec.cli import main

spark = spark_support.spark  # the shared session fixture

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

HEADER = "user,item,rating\n"
# file name -> (its text, what `train` prints); the local engine's words for each.
CASES = {
    "extra.csv": (
        HEADER + "1,1,5\n1,2,3\n2,1,3,9\n2,2,4\n3,1,2\n",
        "line 4 of {} has 4 fields where the header has 3",
    ),
    "short.csv": (HEADER + "1,1,5\n1,2\n", "line 3 of {} has 2 fields where the header has 3"),
    "badcli.csv": (
        HEADER + "1,1,5\n1,2,3\n2,1,x\n2,2,4\n",
        "column 'rating' has non-numeric ratings (e.g. 'x') at line 4 of {}",
    ),
    "noid.csv": (HEADER + "1,1,5\n\n,2,3\n", "column 'user' has empty ids at line 4 of {}"),
    "nan.csv": (
        HEADER + "1,1,5\n2,2,inf\n",
        "column 'rating' has missing (NaN) or infinite ratings at line 3 of {}",
    ),
    "dup.csv": (
        HEADER + "1,1,5\n1,1,3\n2,1,4\n",
        "user 1 rated item 1 2 times (lines 2 and 3 of {}); pass duplicates='mean' or 'sum' "
        "to merge repeated pairs (--duplicates mean or sum; Spark's rows have no order, so "
        "the local engine's 'last' cannot be offered)",
    ),
}


def train(source, tmp_path, *args):
    return CliRunner().invoke(
        main,
        ["train", str(source), "--engine", "spark", "-a", "als", "--user-col", "user",
         "--item-col", "item", "--epochs", "1", "-q", "-o", str(tmp_path / "m.npz"), *args],
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_line_is_named_as_the_local_engine_names_it(spark, tmp_path, name):
    text, message = CASES[name]
    path = tmp_path / name
    path.write_text(text)
    result = train(path, tmp_path)
    assert (result.exit_code, result.output) == (1, f"Error: {message.format(path)}\n")
    # The local engine says the same of the file (duplicates: in its own words, flag included).
    local = CliRunner().invoke(
        main, ["train", str(path), "-a", "als", "--user-col", "user", "--item-col", "item",
               "--epochs", "1", "--duplicates", "error", "-o", str(tmp_path / "l.npz")],
    )  # fmt: skip
    assert local.exit_code == 1
    if name != "dup.csv":
        assert local.output.splitlines()[-1] == f"Error: {message.format(path)}"
    else:
        assert "(--duplicates last, mean or sum)" in local.output


def test_blanks_around_fields_go_as_the_local_engine_strips_them(spark, tmp_path):
    # Spark's reader kept them: " eve" trained as a user beside "eve".
    from latentrec import load

    path = tmp_path / "blanks.csv"
    path.write_text(HEADER + "eve,1,5\n eve ,2, 3\nbob , 1,4\n")
    result = train(path, tmp_path, "--factors", "1")
    assert result.exit_code == 0, result.output
    assert sorted(load(tmp_path / "m.npz").catalog_.users.ids.tolist()) == ["bob", "eve"]
    # A repeated pair is found across the blanks, and its lines named; a blank id is
    # an empty one, named by its line.
    path.write_text(HEADER + "eve,1,5\n eve ,1, 3\n")
    result = train(path, tmp_path)
    assert result.output.startswith(
        f"Error: user 'eve' rated item 1 2 times (lines 2 and 3 of {path})"
    )
    path.write_text(HEADER + "eve,1,5\n  ,2,3\n")
    assert (
        train(path, tmp_path).output == f"Error: column 'user' has empty ids at line 3 of {path}\n"
    )


def test_a_bad_line_in_a_folder_names_its_file(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "1,1,5\n1,2,3\n")
    (folder / "b.csv").write_text(HEADER + "2,1,4\n2,2,4\n2,3,four\n")
    result = train(folder, tmp_path)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: column 'rating' has non-numeric ratings (e.g. 'four') at line 4 of "
        f"{folder / 'b.csv'}\n"
    )


def test_a_repeated_pair_is_named_by_its_lines_across_files(spark, tmp_path):
    # Ids typed by Spark's inference ("01" reads as 1), a blank line, a Windows line end.
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "7,1,5\n\n1,2,3\r\n01,2,4\n")
    (folder / "b.csv").write_text(HEADER + "2,1,4\n1,02,1\n")
    result = train(folder, tmp_path)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: user 1 rated item 2 3 times (lines 4 and 5 of {folder / 'a.csv'}; "
        f"line 3 of {folder / 'b.csv'}); pass duplicates="
    )
    parquet = tmp_path / "d.parquet"
    pd.DataFrame({"user": [1, 1], "item": [3, 3], "rating": [4.0, 2.0]}).to_parquet(parquet)
    result = train(parquet, tmp_path)
    assert result.output.startswith(f"Error: user 1 rated item 3 2 times (in {parquet}); pass")


def test_a_negative_strength_without_a_header_is_named(spark, tmp_path):
    path = tmp_path / "plays.tsv"
    path.write_text("1\t1\t5\n1\t2\t-3\n")
    result = CliRunner().invoke(
        main, ["train", str(path), "--engine", "spark", "-a", "implicit-als", "--no-header",
               "--sep", "\\t", "-q", "-o", str(tmp_path / "m.npz")],
    )  # fmt: skip
    assert (result.exit_code, result.output) == (
        1,
        f"Error: column '_c2' has negative strengths (implicit data needs >= 0) at line 2 "
        f"of {path}\n",
    )


def test_a_parquet_row_is_named_by_its_file_and_values(spark, tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [4.0, None]}).to_parquet(path)
    result = train(path, tmp_path)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: column 'rating' has missing (NaN) or infinite ratings in a row of {path}: "
        "user=2, item=1, rating=None\n",
    )


def test_a_good_file_still_trains_and_the_shared_session_keeps_running(spark, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(HEADER + "1,1,5\n1,2,3\n\n2,1,4\n")
    result = train(path, tmp_path, "--factors", "1")
    assert result.exit_code == 0, result.output
    assert "3 cells, 2 users, 2 items" in result.output
    assert spark.range(2).count() == 2  # the command did not stop a session it found


def test_a_missing_parquet_column_is_named_without_spark_log(spark, tmp_path):
    # The row check asked Spark for the column first: its AnalysisException, the query
    # plan, and pyspark's JSON log of the Java stack on the terminal.
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [4.0, 3.0]}).to_parquet(path)
    result = CliRunner().invoke(
        main, ["train", str(path), "--engine", "spark", "-a", "als", "--user-col", "customer",
               "--item-col", "item", "-q", "-o", str(tmp_path / "m.npz")],
    )  # fmt: skip
    assert (result.exit_code, result.output) == (
        1,
        "Error: no column(s) ['customer'] in the DataFrame; it has ['user', 'item', 'rating']\n",
    )


def test_files_only_the_local_engine_reads_are_named(spark, tmp_path):
    # Spark's CSV reader took a Netflix file's "1:" (or a .lrdata file's zip bytes) for
    # the header's columns, and fit_als listed those as the columns the data has.
    from latentrec import Interactions

    netflix = tmp_path / "combined_data_1.txt"
    netflix.write_text("1:\n10,3,2005-09-06\n")
    converted = tmp_path / "r.lrdata"
    Interactions.read(netflix).to_lrdata(converted)
    way = (
        "which the local engine reads; Spark reads CSV/TSV or Parquet; write Parquet with "
        "latentrec.Interactions.read({!r}).to_frame().to_parquet('ratings.parquet') "
        "(columns user_id, item_id, rating, timestamp)"
    )
    for path, what in [
        (netflix, "a Netflix-prize file (its first line is a movie id and ':')"),
        (converted, "a latentrec .lrdata file"),
    ]:
        result = CliRunner().invoke(
            main, ["train", str(path), "--engine", "spark", "-a", "als", "-q",
                   "-o", str(tmp_path / "m.npz")],
        )  # fmt: skip
        assert (result.exit_code, result.output) == (
            1,
            f"Error: {path} is {what}, {way.format(str(path))}\n",
        )


def test_a_failed_query_logs_nothing_once_the_jvm_log_is_taken(spark, tmp_path, capfd):
    # pyspark logs an AnalysisException (its Java stack, as JSON) to standard error before
    # raising it; a command line's session (jvm_log given) keeps it off the terminal.
    import logging

    from pyspark.errors import AnalysisException

    from latentrec.spark import session as session_module

    names = ("DataFrameQueryContextLogger", "SQLQueryContextLogger")
    saved = {n: logging.getLogger(n).level for n in names}
    try:
        with open(tmp_path / "jvm.log", "wb") as log:
            same = session_module.spark_session("local[2]", jvm_log=log)
        assert same is spark  # the running session, as a command line finds it
        capfd.readouterr()
        with pytest.raises(AnalysisException):
            spark.range(2).select("nope").collect()
        assert capfd.readouterr().err == ""
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("sep, name", [("\t", "p.tsv"), (",", "p.csv.gz"), (";", "p.csv.bz2")])
def test_a_file_the_local_engine_reads_without_sep_trains_on_spark_too(spark, tmp_path, sep, name):
    """A TSV (or ;-separated) file without --sep: the local engine finds the separator;
    Spark read one column 'user\\titem\\trating' and refused it as missing columns. A
    packed file's separator is found in its unpacked text (its gzip bytes gave '|')."""
    import bz2
    import gzip

    text = HEADER.replace(",", sep) + "1\t1\t5\n1\t2\t3\n2\t1\t4\n".replace("\t", sep)
    path = tmp_path / name
    pack = {".gz": gzip.compress, ".bz2": bz2.compress}.get(path.suffix, lambda b: b)
    path.write_bytes(pack(text.encode()))
    result = train(path, tmp_path, "--factors", "1")
    assert result.exit_code == 0, result.output
    assert "3 cells, 2 users, 2 items" in result.output
