"""Netflix-prize files, found wanting in review: an explicit ``rating_scale=None``
through ``Interactions.read``, a date of the year 0000 and ratings float32 cannot hold
named by line, a file given packed and unpacked, and ``mean``/``sum`` of ratings such
as 3.7 (a bare internal ``Decline`` before)."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import lzma
import random
import re

import numpy as np
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions, netflix
from latentrec.datasets import read_netflix


def as_dict(data: Interactions) -> dict:
    frame = data.to_frame()
    cols = frame[["user_id", "item_id", "rating", "timestamp"]]
    return {(int(u), int(i)): (float(r), float(t)) for u, i, r, t in cols.itertuples(index=False)}


def merged_reference(paths, duplicates: str) -> dict:
    """(customer, movie) -> (rating, seconds), the obvious parser: repeats averaged or
    added in Python floats from the text, then stored as float32; the latest date kept."""
    seen: dict = {}
    for path in paths:
        movie = None
        for line in open(path, encoding="ascii").read().splitlines():
            if line.endswith(":"):
                movie = int(line[:-1])
                continue
            customer, rating, date = line.split(",")
            day = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
            seen.setdefault((int(customer), movie), []).append((float(rating), day.timestamp()))
    out = {}
    for key, got in seen.items():
        values = [r for r, _ in got]
        total = sum(values)
        value = total / len(values) if duplicates == "mean" else total
        out[key] = (float(np.float32(value)), max(t for _, t in got))
    return out


# 1. rating_scale=None given to Interactions.read


def test_interactions_read_takes_an_explicit_no_scale(tmp_path):
    # It was dropped as "not given": read_netflix loaded the 7, Interactions.read refused it.
    path = tmp_path / "c.txt"
    path.write_text("4:\n5,7,2005-09-06\n5,3,2005-09-07\n")
    assert read_netflix(path, rating_scale=None).ratings.tolist() == [3.0]
    data = Interactions.read(path, rating_scale=None)
    assert data.ratings.tolist() == [3.0] and data.rating_scale is None
    assert Interactions.read(path, rating_scale=None, duplicates="sum").ratings.tolist() == [10.0]
    # Left out, the scale is the reader's default, 1-5 stars.
    with pytest.raises(DataError, match="line 2 of .* has a rating 7 outside the scale"):
        Interactions.read(path)
    path.write_text("4:\n5,3,2005-09-06\n")
    assert Interactions.read(path).rating_scale == (1.0, 5.0)
    assert Interactions.read(path, rating_scale=(0, 10)).rating_scale == (0.0, 10.0)


def test_sum_on_a_scale_says_what_the_command_line_can_do(tmp_path):
    # The advice was "give no rating scale", which no command can do for such a file.
    path = tmp_path / "c.txt"
    path.write_text("4:\n5,3,2005-09-06\n")
    with pytest.raises(DataError, match=r"duplicates='sum' adds repeated ratings.*\(1.0, 5.0\)"):
        Interactions.read(path, duplicates="sum")
    result = CliRunner().invoke(main, ["data", "info", str(path), "--duplicates", "sum"])
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert "use duplicates='last', 'mean' or 'error' (--duplicates last, mean or error)" in line
    assert "rating_scale=None (read_netflix or Interactions.read)" in line
    assert "give no rating scale" not in line


# 2. values pyarrow parses that cannot be stored, named by line


@pytest.mark.parametrize("block_bytes", [7, 1 << 24])
def test_the_year_0000_is_a_bad_date_on_its_line(tmp_path, monkeypatch, block_bytes):
    # pyarrow reads 0000-01-01; the chunk builder then declined it and the message named
    # no line ("a rating or date that cannot be stored").
    monkeypatch.setattr(netflix, "BLOCK_BYTES", block_bytes)
    path = tmp_path / "y0.txt"
    path.write_text("4:\n5,3,2005-09-06\n6,3,2005-09-06\n7,3,0000-01-01\n")
    words = f"line 4 of {path} has a bad date '0000-01-01' (expected YYYY-MM-DD, years 0001"
    with pytest.raises(DataError, match=re.escape(words)):
        read_netflix(path)
    out = tmp_path / "y.lrdata"
    result = CliRunner().invoke(main, ["data", "convert", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {words}")
    assert result.output.count("\n") == 1
    assert not out.exists()
    # The first and last days a stored time holds are read.
    path.write_text("4:\n5,3,0001-01-01\n6,3,9999-12-31\n")
    assert sorted(read_netflix(path).timestamps.tolist()) == [-62135596800.0, 253402214400.0]


@pytest.mark.parametrize(
    "rating, words",
    [("1e39", "too large to store as float32"), ("1e-50", "too close to 0 to store as float32")],
)
def test_ratings_float32_cannot_hold_are_named_by_line(tmp_path, rating, words):
    path = tmp_path / "c.txt"
    path.write_text(f"4:\n5,3,2005-09-06\n6,{rating},2005-09-06\n")
    with pytest.raises(DataError, match=f"line 3 of .* has a rating {rating} {words}"):
        read_netflix(path, rating_scale=None)
    with pytest.raises(DataError, match=f"line 3 of .* has a rating {rating} {words}"):
        read_netflix(path, rating_scale=(-1e40, 1e40))  # a scale that wide holds it too


# 3. one file given packed and unpacked


@pytest.mark.parametrize("module, kind", [(gzip, "gzip"), (bz2, "bzip2"), (lzma, "xz")])
def test_a_file_and_its_packed_copy_are_refused_by_name(tmp_path, module, kind):
    # The glob combined_data_1.txt* gave both: every rating was "merged" as a repeat,
    # and the note blamed a missing movie line.
    plain = tmp_path / "combined_data_1.txt"
    plain.write_text("1:\n5,3,2005-09-06\n6,4,2005-09-07\n")
    packed = tmp_path / f"combined_data_1.txt.{ {'gzip': 'gz', 'bzip2': 'bz2'}.get(kind, kind) }"
    packed.write_bytes(module.compress(plain.read_bytes()))
    other = tmp_path / "combined_data_2.txt"
    other.write_text("2:\n5,3,2005-09-06\n")
    with pytest.raises(DataError) as info:
        read_netflix([plain, other, packed])
    assert str(info.value) == (
        f"{packed} is {plain} packed with {kind}: give each Netflix-prize file once"
    )
    with pytest.raises(DataError, match=f"^{re.escape(f'{plain} is {packed} unpacked: give')}"):
        read_netflix([packed, plain])
    result = CliRunner().invoke(
        main, ["data", "convert", str(plain), str(packed), "-o", str(tmp_path / "x.lrdata")]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {packed} is {plain} packed with {kind}: give each Netflix-prize file once\n"
    )


def test_copies_are_refused_and_files_that_only_begin_alike_are_noted(tmp_path, monkeypatch):
    monkeypatch.setattr(netflix, "BLOCK_BYTES", 4096)
    rng = random.Random(5)
    lines = []
    for movie in range(1, 120):
        lines.append(f"{movie}:")
        lines += [f"{c},{rng.randint(1, 5)},2005-09-06" for c in rng.sample(range(1, 10**5), 60)]
    text = "\n".join(lines) + "\n"
    a, copy = tmp_path / "a.txt", tmp_path / "copy.txt"
    a.write_text(text)
    copy.write_text(text)
    with pytest.raises(DataError, match=f"^{re.escape(f'{copy} holds the same lines as {a}')}"):
        read_netflix([a, copy])
    # Cut short at a line end past its first 64 KiB (an unfinished download): not the same
    # file, so it is read, and the note names the likely cause before the movie line.
    cut = text[: text.index("\n", 80_000) + 1]
    part = tmp_path / "part.txt"
    part.write_text(cut)
    data = read_netflix([a, part])
    assert data.load_report.merged == cut.count(",") // 2
    (note,) = data.load_report.notes
    assert note.startswith(f"{a} and {part} begin with the same lines (one may be a copy or")
    assert "else the prize data repeats no (customer, movie) pair" in note
    # A packed copy cut short reads as damaged, as it does alone.
    broken = tmp_path / "a.txt.gz"
    broken.write_bytes(gzip.compress(text.encode())[:-100])
    with pytest.raises(DataError, match=f"{re.escape(str(broken))} is a damaged or truncated"):
        read_netflix([a, broken])


def test_distinct_files_are_not_read_to_their_end_twice(tmp_path, monkeypatch):
    # Only files whose first 64 KiB match are read whole before the read proper.
    digested = []
    real = netflix._digest
    monkeypatch.setattr(netflix, "_digest", lambda p: digested.append(p) or real(p))
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1:\n5,3,2005-09-06\n")
    b.write_text("2:\n5,3,2005-09-06\n")
    assert read_netflix([a, b]).nnz == 2
    assert digested == []


# 4. mean and sum of ratings float32 cannot hold exactly


@pytest.mark.parametrize("duplicates", ["mean", "sum"])
@pytest.mark.parametrize("seed", range(3))
def test_mean_and_sum_of_decimal_ratings_match_the_reference(tmp_path, duplicates, seed):
    # Merging 3.7 and 4.1 raised the builder's internal Decline ("a bug in latentrec").
    rng = random.Random(seed)
    path = tmp_path / "c.txt"
    lines = []
    for movie in rng.sample(range(1, 40), 8):
        lines.append(f"{movie}:")
        for _ in range(rng.randint(1, 25)):
            day = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 2000))
            rating = rng.choice(["3.7", "4.1", "1.3", "5", "2.25", "4.9"])
            lines.append(f"{rng.randint(1, 6)},{rating},{day.isoformat()}")
    path.write_text("\n".join(lines) + "\n")
    data = read_netflix(path, duplicates=duplicates, rating_scale=None)
    assert as_dict(data) == merged_reference([path], duplicates)
    report = data.load_report
    assert report.rows_read == len(lines) - 8
    assert report.merged == report.rows_read - data.nnz
    if duplicates == "mean":
        assert as_dict(read_netflix(path, duplicates="mean")) == merged_reference([path], "mean")


@pytest.mark.parametrize("rating", ["3e38", str(2**127)])  # float32 holds 2**127 exactly
def test_a_sum_beyond_float32_names_the_pair_and_its_lines(tmp_path, rating):
    path = tmp_path / "c.txt"
    path.write_text(f"1:\n7,{rating},2005-09-06\n8,1,2005-09-06\n7,{rating},2005-09-07\n")
    with pytest.raises(DataError) as info:
        read_netflix(path, duplicates="sum", rating_scale=None)
    assert str(info.value).startswith(
        f"customer 7 rates movie 1 more than once (lines 2 and 4 of {path}) and "
        "duplicates='sum' adds the ratings up to "
    )
    assert str(info.value).endswith("beyond float32 (at most 3.40282347e+38)")


def test_train_reads_a_netflix_file_on_its_default_scale(tmp_path):
    # data info and data convert read these files on 1-5 stars unless told otherwise;
    # train, evaluate and tune read them through load_data, which must agree.
    path = tmp_path / "c.txt"
    path.write_text("4:\n5,7,2005-09-06\n")
    result = CliRunner().invoke(main, ["train", str(path), "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 1
    assert "line 2 of" in result.output and "rating 7 outside the scale [1, 5]" in result.output
