"""Timestamps in a file: seconds since 1970, or ISO 8601 dates and times (UTC unless an
offset is given); a number beyond the years 1-9999, a date that does not exist or a
missing one is a bad row named by its line."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions

UTC = dt.timezone.utc


def _seconds(text: str) -> float:
    """The slow obvious reference: Python's own ISO parser, naive times read as UTC."""
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - dt.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()


def _write(path, stamps, ratings=None) -> None:
    rows = [f"{k % 3},{k},{(ratings or [4] * len(stamps))[k]},{s}" for k, s in enumerate(stamps)]
    path.write_text("user_id,item_id,rating,timestamp\n" + "\n".join(rows) + "\n")


STAMPS = [
    "2020-01-01",
    "2020-01-01T10:00:00",
    "2020-01-01 10:00:00",
    "2020-02-29T23:59:59.5Z",
    "2020-01-01T10:00:00+02:00",
    "1969-07-20T20:17:40-05:00",
    "0001-01-01",
    "9999-12-31T23:59:59",
]


def test_iso_dates_read_as_utc_seconds(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, STAMPS)
    data = Interactions.from_csv(path, timestamp="timestamp")
    frame = data.to_frame().sort_values("item_id")
    assert frame["timestamp"].tolist() == [_seconds(s) for s in STAMPS]
    # The same from a DataFrame of text.
    df = pd.DataFrame({"user_id": [1] * 8, "item_id": range(8), "rating": 4.0, "t": STAMPS})
    again = Interactions.from_frame(df, timestamp="t").to_frame()
    assert again["timestamp"].tolist() == [_seconds(s) for s in STAMPS]


def test_the_latest_date_wins_a_repeat(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating,ts\n1,7,5,2021-03-01\n1,7,2,2020-12-31\n")
    data = Interactions.from_csv(path, timestamp="ts")
    assert data.ratings.tolist() == [5.0] and data.load_report.merged == 1


@pytest.mark.parametrize(
    ("stamps", "says", "line"),
    [
        (
            ["2020-01-01", "2020-13-01", "2020-01-03"],
            "dates that do not exist (e.g. '2020-13-01')",
            3,
        ),
        (["2020-01-01", "2020-02-30"], "dates that do not exist (e.g. '2020-02-30')", 3),
        (["2020-01-01", "", "2020-01-03"], "missing timestamps", 3),
        # Dates and numbers both: said so, with one of each (was "non-numeric timestamps").
        (["1600000000", "2020-01-02"], "mixes dates and numbers: line 3 of", 3),
        # A column of dates: the cell that is none is the bad one (was "non-numeric
        # timestamps (e.g. '2020-01-01')" at both lines, the good date as the example).
        (["2020-01-01", "yesterday"], "timestamps that are not dates (e.g. 'yesterday')", 3),
        (["1600000000", "1e30"], "timestamps outside the years 1-9999", 3),
        (["-1e30", "1600000000"], "timestamps outside the years 1-9999", 2),
        (["253402300800", "1"], "timestamps outside the years 1-9999", 2),
        (["99999-01-01"], "non-numeric timestamps", 2),
    ],
)
def test_a_bad_timestamp_is_named_by_line(tmp_path, stamps, says, line):
    path = tmp_path / "r.csv"
    _write(path, stamps)
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path, timestamp="timestamp")
    assert says in str(err.value), str(err.value)
    assert f"line {line} of {path}" in str(err.value) or f"lines {line}," in str(err.value)


def test_skipping_leaves_out_and_lists_the_bad_dates(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, ["2020-01-01", "2020-13-01", "2020-01-03", ""])
    data = Interactions.from_csv(path, timestamp="timestamp", on_bad_rows="skip")
    assert data.nnz == 2 and data.load_report.rejected == 2
    assert data.load_report.rejection_texts() == [
        "1 with missing timestamps in column 'timestamp' (line 5)",
        "1 with dates that do not exist in column 'timestamp' (line 3)",
    ]


def test_the_largest_and_smallest_times_load(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, ["-62135596800", "253402300799", "0"])
    data = Interactions.from_csv(path, timestamp="timestamp")
    assert sorted(data.timestamps.tolist()) == [-62135596800.0, 0.0, 253402300799.0]


@pytest.mark.parametrize("bad", [1e30, -1e30, 1e12 * 1e3])
def test_frames_and_arrays_refuse_times_beyond_the_calendar(bad):
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4], "rating": [4.0, 5.0]})
    df["t"] = [1.6e9, bad]  # integer ids, clean numbers: the chunked path, which declines
    with pytest.raises(DataError, match=r"outside the years 1-9999 .* at rows 1"):
        Interactions.from_frame(df, timestamp="t")
    with pytest.raises(DataError, match=r"outside the years 1-9999 .* at rows 1"):
        Interactions.from_arrays([1, 2], [3, 4], [4.0, 5.0], timestamps=np.array([1.6e9, bad]))


def test_parquet_refuses_times_beyond_the_calendar(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame(
        {"user_id": [1, 2], "item_id": [3, 4], "rating": [4.0, 5.0], "t": [0.0, 1e30]}
    ).to_parquet(path)
    with pytest.raises(DataError, match=rf"outside the years 1-9999 .* at rows 1 of {path}"):
        Interactions.from_parquet(path, timestamp="t")


def test_the_cli_reads_dates_and_refuses_a_bad_time_in_one_line(tmp_path):
    path = tmp_path / "r.csv"
    _write(path, STAMPS[:3])
    ok = CliRunner().invoke(main, ["data", "info", str(path), "--timestamp-col", "timestamp"])
    assert ok.exit_code == 0, ok.output
    assert "timestamps" in ok.output.splitlines()[0]
    _write(path, ["1600000000", "1e30"])
    bad = CliRunner().invoke(main, ["data", "info", str(path), "--timestamp-col", "timestamp"])
    assert bad.exit_code == 1
    lines = bad.output.strip().splitlines()
    assert len(lines) == 1 and "outside the years 1-9999" in lines[0] and "line 3" in lines[0]
