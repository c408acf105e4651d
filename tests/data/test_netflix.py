"""Netflix-prize files: the chunked reader against a slow line-by-line reference, bad
lines named by file and line, and the CLI's convert / info round trip."""

from __future__ import annotations

import datetime as dt
import random
import re

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions, netflix
from latentrec.datasets import read_netflix


def reference(paths) -> dict:
    """(customer, movie) -> (rating, seconds), the obvious parser; of repeated pairs the
    latest date wins, then the later line (``duplicates="last"``)."""
    out = {}
    for path in paths:
        movie = None
        with open(path, encoding="utf-8-sig") as fh:
            for line in fh:
                line = line.rstrip("\r\n")
                if not line:
                    continue
                if line.endswith(":"):
                    movie = int(line[:-1])
                    continue
                customer, rating, date = line.split(",")
                day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
                key, got = (int(customer), movie), (float(rating), day.timestamp())
                if key not in out or got[1] >= out[key][1]:
                    out[key] = got
    return out


def as_dict(data: Interactions) -> dict:
    frame = data.to_frame()
    return {
        (int(u), int(i)): (float(r), float(t))
        for u, i, r, t in frame[["user_id", "item_id", "rating", "timestamp"]].itertuples(
            index=False
        )
    }


def random_file(path, rng: random.Random, *, n_movies: int, crlf: bool, blanks: bool) -> int:
    """A random Netflix-format file; returns its number of rating lines."""
    end = "\r\n" if crlf else "\n"
    lines, n = [], 0
    for movie in rng.sample(range(1, 500), n_movies):
        lines.append(f"{movie}:")
        for _ in range(rng.randint(0, 30)):
            day = dt.date(1999, 11, 11) + dt.timedelta(days=rng.randint(0, 2300))
            lines.append(f"{rng.randint(1, 60)},{rng.randint(1, 5)},{day.isoformat()}")
            n += 1
        if blanks and rng.random() < 0.2:
            lines.append("")
    text = end.join(lines) + (end if rng.random() < 0.7 else "")
    path.write_bytes(text.encode())
    return n


@pytest.mark.parametrize("seed", range(12))
def test_random_files_match_the_reference(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    # Tiny blocks: movie runs, lines and the carried movie id cross block boundaries.
    monkeypatch.setattr(netflix, "BLOCK_BYTES", rng.choice([7, 64, 1000, 1 << 24]))
    paths, n = [], 0
    for k in range(rng.randint(1, 3)):
        path = tmp_path / f"combined_data_{k + 1}.txt"
        n += random_file(
            path, rng, n_movies=rng.randint(1, 12), crlf=rng.random() < 0.3, blanks=seed % 2 == 0
        )
        paths.append(path)
    expected = reference(paths)
    if not expected:
        with pytest.raises(DataError, match="no rating lines"):
            read_netflix(paths)
        return
    data = read_netflix(paths)
    assert as_dict(data) == expected
    assert data.load_report.rows_read == n
    assert data.load_report.loaded == len(expected)
    assert data.load_report.merged == n - len(expected)
    assert data.users.ids.dtype.kind == "i" and data.items.ids.dtype.kind == "i"
    assert data.rating_scale == (1.0, 5.0)
    assert not data.implicit


def test_duplicates_last_keeps_the_latest_date_and_error_refuses(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1:\n5,4,2005-01-02\n5,2,2004-01-01\n")
    assert read_netflix(path).ratings.tolist() == [4.0]
    assert read_netflix(path, duplicates="mean").ratings.tolist() == [3.0]
    with pytest.raises(DataError, match="more than once .* and duplicates='error'"):
        read_netflix(path, duplicates="error")


def test_a_lost_movie_line_is_hinted_at_where_pairs_merge(tmp_path):
    # "2:" lost: movie 2's ratings fall under movie 1. Customer 5 rated both, so a pair
    # repeats, which the prize data never does; the report says what that likely means.
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n5,4,2005-01-02\n6,2,2004-01-01\n5,1,2005-01-03\n")
    report = read_netflix(path).load_report
    assert report.merged == 1
    assert report.summary() == (
        f"{path}: read 3 rows, loaded 2, merged 1 duplicate (duplicates='last'), rejected 0; "
        "the prize data repeats no (customer, movie) pair: a missing 'MovieID:' line puts a "
        "movie's ratings under the movie above it (duplicates='error' names the lines)"
    )
    result = CliRunner().invoke(main, ["data", "info", str(path)])
    assert "a missing 'MovieID:' line" in result.output
    path.write_text("1:\n5,4,2005-01-02\n2:\n5,1,2005-01-03\n")
    assert read_netflix(path).load_report.notes == ()


def test_duplicates_error_names_the_pair_and_its_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(netflix, "BLOCK_BYTES", 7)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1:\n5,4,2005-01-02\n6,2,2004-01-01\n2:\n5,3,2005-01-02\n")
    b.write_text("1:\n7,1,2005-01-02\n5,2,2005-01-03\n")
    with pytest.raises(DataError) as info:
        read_netflix([a, b], duplicates="error")
    assert str(info.value).startswith(
        f"customer 5 rates movie 1 more than once (line 2 of {a}; line 3 of {b})"
    )
    # The pair scan stops at five lines and reads a BOM and Windows line ends.
    c = tmp_path / "c.txt"
    c.write_bytes(b"\xef\xbb\xbf9:\r\n" + b"5,4,2005-01-02\r\n" * 7)
    with pytest.raises(DataError, match=rf"\(lines 2, 3, 4, 5 and 6 of {re.escape(str(c))}\)"):
        read_netflix(c, duplicates="error")


def test_one_path_or_a_list_and_a_bom(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbf7:\n1,5,2005-09-06")
    data = read_netflix(str(path))
    assert (data.users.ids.tolist(), data.items.ids.tolist()) == ([1], [7])
    assert netflix.is_netflix_file(path)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("1488844,3,2005-09-06\n", 1, "a rating before any movie line"),
        ("\n\n5,3,2005-09-06\n1:\n", 3, "a rating before any movie line"),
        ("1:\n1,3,2005-09-06\n1,3\n", 3, "has 2 fields where a rating line has 3"),
        ("1:\n1,3,2005-09-06,x\n", 2, "has 4 fields"),
        ("1:\n1,3,2005-13-06\n", 2, "bad date '2005-13-06'"),
        ("1:\n1,3,05-09-06\n", 2, "bad date '05-09-06'"),
        ("1:\n1,3,2005-02-30\n", 2, "bad date '2005-02-30'"),
        ("1:\n1,x,2005-09-06\n", 2, "bad rating 'x'"),
        ("1:\n1,7,2005-09-06\n", 2, "rating 7 outside the scale [1, 5]"),
        ("1:\nbob,3,2005-09-06\n", 2, "bad customer id 'bob'"),
        ("1:\n2,3,2005-09-06\nA1:\n", 3, "bad movie line"),
        ("1:\n2,3,2005-09-06\n7\n", 3, "has 1 field where"),
        # pyarrow alone would read these blank-padded fields as numbers and dates.
        ("1:\n2,3,2005-09-06\n 7,3,2005-09-06\n", 3, "bad customer id ' 7'"),
        ("1:\n2,3,2005-09-06\n7,\t3,2005-09-06\n", 3, "bad rating '\\t3'"),
        ("1:\n2,3,2005-09-06\n7,3,2005-09-06 \n", 3, "bad date '2005-09-06 '"),
        # ... and "0x1F" as the number 31, "-0" as 0.
        ("1:\n2,3,2005-09-06\n0x1F,3,2005-09-06\n", 3, "bad customer id '0x1F'"),
        ("1:\n2,3,2005-09-06\n-0,3,2005-09-06\n", 3, "bad customer id '-0'"),
        ("1:\n2,3,2005-09-06\n7,3,2005-09-06\n-00,3,2005-09-06\n", 4, "bad customer id '-00'"),
    ],
)
def test_bad_lines_are_named_by_file_and_line(tmp_path, monkeypatch, text, line, words):
    for block in (5, 1 << 24):
        monkeypatch.setattr(netflix, "BLOCK_BYTES", block)
        path = tmp_path / "combined_data_1.txt"
        path.write_text(text)
        with pytest.raises(DataError) as info:
            read_netflix([path])
        message = str(info.value)
        assert f"line {line} of {path}" in message
        assert words in message
        assert info.value.where == (line,)


def test_the_second_file_must_start_with_a_movie_line(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1:\n5,3,2005-09-06\n")
    b.write_text("5,3,2005-09-06\n")
    with pytest.raises(DataError, match=f"line 1 of {b} is a rating before any movie line"):
        read_netflix([a, b])


def test_a_file_given_twice_is_refused(tmp_path):
    # Read twice, every rating was a repeated pair that duplicates="last" merged: the
    # table looked right and the load report counted them all as merged.
    a, b = tmp_path / "combined_data_1.txt", tmp_path / "combined_data_2.txt"
    a.write_text("1:\n5,3,2005-09-06\n")
    b.write_text("2:\n5,4,2005-09-06\n")
    with pytest.raises(DataError, match=f"{re.escape(str(a))} is given twice: give each"):
        read_netflix([a, b, a])
    link = tmp_path / "link.txt"
    link.symlink_to(b)
    with pytest.raises(DataError, match=f"{re.escape(str(link))} is the same file as {b}"):
        read_netflix([a, b, link])
    result = CliRunner().invoke(
        main, ["data", "convert", str(a), str(b), str(a), "-o", str(tmp_path / "o.lrdata")]
    )
    assert result.exit_code == 1
    assert result.output == f"Error: {a} is given twice: give each Netflix-prize file once\n"


@pytest.mark.parametrize("pack, name", [("gzip", "c.txt.gz"), ("bz2", "c.txt.bz2"),
                                        ("lzma", "c.txt.xz"), ("gzip", "c.txt")])  # fmt: skip
def test_packed_files_read_as_the_file_they_hold(tmp_path, monkeypatch, pack, name):
    # A gzip'd combined_data_1.txt was taken for a table ("missing column(s) ... the
    # header has columns ['1:']"); it is read as the Netflix file it holds.
    import importlib

    monkeypatch.setattr(netflix, "BLOCK_BYTES", 64)
    plain = tmp_path / "plain.txt"
    random_file(plain, random.Random(3), n_movies=6, crlf=False, blanks=True)
    packed = tmp_path / name
    packed.write_bytes(importlib.import_module(pack).compress(plain.read_bytes()))
    assert netflix.is_netflix_file(packed)
    assert as_dict(read_netflix(packed)) == reference([plain])
    assert as_dict(Interactions.read(packed)) == reference([plain])
    out = tmp_path / "o.lrdata"
    result = CliRunner().invoke(main, ["data", "convert", str(packed), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert as_dict(Interactions.read(out)) == reference([plain])


def test_a_truncated_packed_file_is_named(tmp_path):
    import gzip

    path = tmp_path / "combined_data_1.txt.gz"
    lines = "".join(f"{c},3,2005-09-06\n" for c in range(1, 5000))
    path.write_bytes(gzip.compress(f"1:\n{lines}".encode())[:-20])
    assert netflix.is_netflix_file(path)  # its first lines are there
    message = f"{path} is a damaged or truncated gzip file"
    with pytest.raises(DataError, match=re.escape(message)):
        read_netflix(path)
    result = CliRunner().invoke(main, ["data", "info", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message} (")
    assert result.output.count("\n") == 1


def test_the_prizes_lists_of_pairs_to_predict_are_named(tmp_path):
    # probe.txt and qualifying.txt start with a movie line too; their first line under it
    # was refused as "has 1 field where a rating line has 3".
    probe, qualifying = tmp_path / "probe.txt", tmp_path / "qualifying.txt"
    probe.write_text("1:\n30878\n2647871\n10:\n1952305\n")
    qualifying.write_text("1:\n1046323,2005-12-19\n")
    for path, fields in [(probe, "CustomerID"), (qualifying, "CustomerID,Date")]:
        with pytest.raises(DataError, match=f"holds no ratings: its lines under a movie line "
                           f"are {fields} \\(the prize's probe.txt or qualifying.txt"):  # fmt: skip
            read_netflix(path)
    # Later in a file, such a line is a bad line by number, as before.
    odd = tmp_path / "c.txt"
    odd.write_text("1:\n5,3,2005-09-06\n30878\n")
    with pytest.raises(DataError, match=f"line 3 of {re.escape(str(odd))} has 1 field"):
        read_netflix(odd)


def test_cli_names_a_folder_and_what_is_not_a_netflix_file(tmp_path):
    folder = tmp_path / "nf"
    folder.mkdir()
    (folder / "combined_data_2.txt").write_text("2:\n5,3,2005-09-06\n")
    (folder / "combined_data_1.txt").write_text("1:\n5,3,2005-09-06\n")
    (folder / "probe.txt").write_text("1:\n5\n")
    (folder / "movie_titles.csv").write_text("1,2003,Dinosaur Planet\n")
    out = str(tmp_path / "o.lrdata")
    runner = CliRunner()
    # A folder was "no such Netflix-prize file" with --format netflix; its rating files
    # are named either way.
    for extra in ([], ["--format", "netflix"]):
        result = runner.invoke(main, ["data", "convert", str(folder), "-o", out, *extra])
        assert (result.exit_code, result.output) == (
            1,
            f"Error: {folder} is a folder; give its Netflix-prize files: "
            f"{folder / 'combined_data_1.txt'} {folder / 'combined_data_2.txt'}\n",
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(main, ["data", "convert", str(empty), "-o", out, "--format", "netflix"])
    assert result.output == (
        f"Error: {empty} is a folder; give a ratings file (CSV, TSV or Parquet) or a MovieLens "
        "release folder (u.data, ratings.dat, or a ratings.csv headed userId,movieId)\n"
    )
    # Netflix files beside one that is not: that one is named (the message suggested
    # --format netflix, under which the titles file is refused in turn).
    titles = folder / "movie_titles.csv"
    result = runner.invoke(
        main, ["data", "convert", str(folder / "combined_data_1.txt"), str(titles), "-o", out]
    )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {titles} is not a Netflix-prize file (its first line is not a movie id and "
        "':'): several files are read together only when each is a Netflix-prize file\n",
    )


def test_cli_names_a_lost_first_movie_line(tmp_path):
    # Read as a table, the first rating was its header: "missing column(s) [...]; the
    # header (line 1) has columns ['214607', '1', '2003-10-03']".
    path = tmp_path / "combined_data_1.txt"
    path.write_text("214607,1,2003-10-03\n880946,1,2002-06-29\n2:\n5,3,2005-09-06\n")
    result = CliRunner().invoke(
        main, ["data", "convert", str(path), "-o", str(tmp_path / "o.lrdata")]
    )
    assert (result.exit_code, result.output) == (
        1,
        f"Error: line 1 of {path} is a rating before any movie line ('MovieID:'): "
        "'214607,1,2003-10-03'; is it a Netflix-prize file?\n",
    )
    # A table's options say it is a table: read as one (here without a header).
    result = CliRunner().invoke(main, ["data", "info", str(path), "--no-header"])
    assert "is a rating before any movie line" not in result.output


def test_other_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ratings file"):
        read_netflix(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="at least one file"):
        read_netflix([])
    path = tmp_path / "c.txt"
    path.write_text("1:\n")
    with pytest.raises(DataError, match="no rating lines"):
        read_netflix(path)
    with pytest.raises(DataError, match="duplicates must be one of"):
        read_netflix(path, duplicates="first")
    path.write_text("1:\n1,9,2005-01-01\n")
    assert read_netflix(path, rating_scale=None).ratings.tolist() == [9.0]


def test_cli_convert_several_files_and_info(tmp_path):
    a, b = tmp_path / "combined_data_1.txt", tmp_path / "combined_data_2.txt"
    a.write_text("1:\n10,3,2005-09-06\n11,4,2005-09-07\n")
    b.write_text("2:\n10,5,2005-09-08\n")
    out = tmp_path / "nf.lrdata"
    runner = CliRunner()
    result = runner.invoke(main, ["data", "convert", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "read 3 rows, loaded 3" in result.output
    data = Interactions.read(out)
    assert as_dict(data) == reference([a, b])
    info = runner.invoke(main, ["data", "info", str(a)])
    assert info.exit_code == 0, info.output
    assert "2 users x 1 items, 2 ratings" in info.output
    # Named explicitly (a first line the sniffing would not take is still refused by line).
    c = tmp_path / "odd.txt"
    c.write_text("\n3:\n10,5,2005-09-08\n")
    named = runner.invoke(main, ["data", "info", str(c), "--format", "netflix"])
    assert named.exit_code == 0, named.output


def test_cli_bad_input_is_one_line(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n10,3,2005-09-06\n10,3,2005-9-6x\n")
    runner = CliRunner()
    result = runner.invoke(main, ["data", "convert", str(path), "-o", str(tmp_path / "o.lrdata")])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert f"line 3 of {path}" in result.output
    result = runner.invoke(main, ["data", "info", str(path), "--sep", ";", "--no-header"])
    assert result.exit_code == 1
    assert "--sep, --no-header apply to table files, not to Netflix-prize files" in result.output
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("user_id,item_id,rating\n1,2,3\n")
    result = runner.invoke(
        main, ["data", "convert", str(csv_path), str(csv_path), "-o", str(tmp_path / "x.lrdata")]
    )
    assert result.exit_code == 1
    assert "only in the Netflix-prize format" in result.output
    # A table file under --format netflix says what is wrong with its first line (checked
    # before anything needs pyarrow).
    result = runner.invoke(main, ["data", "info", str(csv_path), "--format", "netflix"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {csv_path} is not a Netflix-prize file: its first line is not a movie id "
        "and ':' ('MovieID:'); drop --format netflix to read it as a table\n"
    )


def test_timestamps_are_midnight_utc_seconds(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("1:\n1,1,1970-01-02\n")
    assert np.asarray(read_netflix(path).timestamps).tolist() == [86400.0]


def test_interactions_read_and_train_take_a_netflix_file(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n10,3,2005-09-06\n10,5,2005-09-06\n2:\n11,4,2005-09-07\n")
    data = Interactions.read(path, duplicates="mean")
    assert as_dict(data)[(10, 1)] == (4.0, reference([path])[(10, 1)][1])
    # The defaults a command passes (by name, or by position with --no-header) say nothing.
    Interactions.read(path, user=0, item=1, rating=2, header=False, sep=None)
    with pytest.raises(DataError, match="user='cust', sep=';' apply to table files"):
        Interactions.read(path, user="cust", sep=";")
    runner = CliRunner()
    model = tmp_path / "m.npz"
    result = runner.invoke(main, ["train", str(path), "-o", str(model)])
    assert result.exit_code == 0, result.output
    assert model.exists()


def test_without_pyarrow_the_extra_is_named(tmp_path, monkeypatch):
    # pyarrow is the 'parquet' extra, not a dependency: a core install says what to add.
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    path = tmp_path / "c.txt"
    path.write_text("1:\n1,3,2005-01-01\n")
    with pytest.raises(DataError, match=r"needs pyarrow: pip install 'latentrec\[parquet\]'"):
        read_netflix(path)
    result = CliRunner().invoke(main, ["data", "info", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: reading Netflix-prize files ({path}) needs pyarrow: "
        "pip install 'latentrec[parquet]'"
    ]
