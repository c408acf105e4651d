"""A timestamp column mixing ISO dates and numbers says so, with a line of each.

It was refused as "non-numeric timestamps (e.g. '2020-01-31T10:00:00Z')", though a
column of ISO dates alone is read: the message pointed away from the cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.data.report import DataError


def test_the_message_names_a_line_with_a_date_and_one_with_a_number(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "user_id,item_id,rating,ts\n1,1,5,2020-01-31T10:00:00Z\n1,2,3,1580464800\n"
        "2,1,4,2020-02-01\n"
    )
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path, timestamp="ts")
    assert str(err.value) == (
        f"column 'ts' mixes dates and numbers: line 2 of {path} has the date "
        "'2020-01-31T10:00:00Z', line 3 the number '1580464800'; write every timestamp "
        "one way (ISO dates or seconds since 1970)"
    )


def test_skipping_leaves_out_the_rarer_way_and_reads_the_rest():
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "item_id": [1, 2, 1, 3],
            "rating": [5.0, 3.0, 4.0, 1.0],
            "t": ["1970-01-02", "60", "1970-01-03T00:00:00+01:00", "2021-13-01"],
        }
    )
    data = Interactions.from_frame(df, timestamp="t", on_bad_rows="skip")
    assert data.load_report.rejection_texts() == [
        "1 with timestamps mixing dates and numbers in column 't' (rows 1)",
        "1 with dates that do not exist in column 't' (rows 3)",
    ]
    assert np.sort(data.timestamps).tolist() == [86400.0, 2 * 86400.0 - 3600.0]
    numbers = df.assign(t=["60", "120", "1970-01-02", "180"])
    data = Interactions.from_frame(numbers, timestamp="t", on_bad_rows="skip")
    assert np.sort(data.timestamps).tolist() == [60.0, 120.0, 180.0]


def test_dates_alone_and_numbers_alone_are_read_as_before():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "rating": [5.0, 3.0]})
    dates = Interactions.from_frame(df.assign(t=["1970-01-02", "1970-01-03"]), timestamp="t")
    assert np.sort(dates.timestamps).tolist() == [86400.0, 172800.0]
    nums = Interactions.from_frame(df.assign(t=["60", "120"]), timestamp="t")
    assert np.sort(nums.timestamps).tolist() == [60.0, 120.0]
    with pytest.raises(DataError, match="non-numeric timestamps"):
        Interactions.from_frame(df.assign(t=["60", "soon"]), timestamp="t")


def test_a_frame_names_one_row_of_each_way_in_the_singular():
    t = ["2020-01-01", "60", "120"]
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [5.0, 3, 4], "t": t})
    with pytest.raises(DataError) as err:
        Interactions.from_frame(df, timestamp="t")
    assert str(err.value).startswith(
        "column 't' mixes dates and numbers: row 0 has the date '2020-01-01', row 1 the "
        "number '60'; "
    )


def test_numbers_as_text_are_not_searched_for_dates(monkeypatch):
    # A regex for dates over every cell of a column of numeric text cost half again the
    # load time of a large table; only cells that are no number can be dates.
    from latentrec.data import build

    def searched(*args):
        raise AssertionError("a column of numbers was searched for dates")

    monkeypatch.setattr(build, "_dates_and_numbers", searched)
    df = pd.DataFrame(
        {"user_id": [1, 2, 2], "item_id": [1, 1, 2], "rating": [5.0, 3, 4], "t": ["60", " 7", None]}
    )
    data = Interactions.from_frame(df, timestamp="t", on_bad_rows="skip")
    assert np.sort(data.timestamps).tolist() == [7.0, 60.0]
    assert data.load_report.rejection_texts() == [
        "1 with missing (NaN) or infinite timestamps in column 't' (rows 2)"
    ]
    with pytest.raises(AssertionError, match="searched for dates"):
        Interactions.from_frame(df.assign(t=["60", "2020-01-01", "7"]), timestamp="t")
