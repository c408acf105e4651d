"""One bad cell in a column of ISO dates is that row's fault, not every row's.

A column of 1000 ISO dates with one typo ('1998-03-3l' on line 502) was read as a column
of numbers: the message said "non-numeric timestamps (e.g. '1997-09-20T03:05:10Z') at
lines 2, 3, 4, 5, 6 (and 995 more)", a valid date as the example and the bad line never
named, and ``on_bad_rows="skip"`` threw away all 1000 rows.  What a column is now follows
from its cells: more dates than numbers make a column of dates, whose other cells are
the bad ones (and the other way round for numbers).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError, Interactions

BAD_LINE, TYPO = 502, "1998-03-3l"
UTC = dt.timezone.utc


def _date(k: int) -> str:
    return f"1997-09-{1 + k % 28:02d}T03:05:{k % 60:02d}Z"


def _iso_file(path) -> list:
    """1000 rows, one user each, ISO dates but for the typo on line 502; their cells."""
    cells = [TYPO if k + 2 == BAD_LINE else _date(k) for k in range(1000)]
    rows = [f"{k},{k % 37},{1 + k % 5},{c}" for k, c in enumerate(cells)]
    path.write_text("user_id,item_id,rating,ts\n" + "\n".join(rows) + "\n")
    return cells


def _write_and_return(tmp_path):
    path = tmp_path / "iso.csv"
    _iso_file(path)
    return path


def _seconds(text: str) -> float:
    """The slow obvious reference: Python's own ISO parser, naive times read as UTC."""
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - dt.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()


def test_the_error_names_the_bad_line_and_its_value(tmp_path):
    path = tmp_path / "iso.csv"
    _iso_file(path)
    with pytest.raises(DataError) as err:
        Interactions.from_csv(path, timestamp="ts")
    assert str(err.value) == (
        f"column 'ts' has timestamps that are not dates (e.g. '{TYPO}') at line "
        f"{BAD_LINE} of {path}, in a column of ISO dates (like '{_date(0)}')"
    )


def test_skipping_keeps_the_999_good_rows_and_names_the_bad_one(tmp_path):
    path = tmp_path / "iso.csv"
    cells = _iso_file(path)
    data = Interactions.from_csv(path, timestamp="ts", on_bad_rows="skip")
    report = data.load_report
    assert (report.rows_read, report.loaded, report.rejected) == (1000, 999, 1)
    assert report.rejection_texts() == [
        f"1 with timestamps that are not dates in column 'ts' (line {BAD_LINE})"
    ]
    frame = data.to_frame().sort_values("user_id")
    kept = [k for k in range(1000) if k + 2 != BAD_LINE]
    assert frame["user_id"].tolist() == kept
    assert frame["timestamp"].tolist() == [_seconds(cells[k]) for k in kept]


@pytest.mark.parametrize("kind", ["parquet", "frame", "text dtype"])
def test_parquet_and_frames_name_the_bad_row_too(tmp_path, kind):
    df = pd.read_csv(_write_and_return(tmp_path), dtype={"ts": str})
    if kind == "parquet":
        df.to_parquet(tmp_path / "iso.parquet")

    def load(**kw):
        if kind == "parquet":
            return Interactions.from_parquet(tmp_path / "iso.parquet", timestamp="ts", **kw)
        frame = df.astype({"ts": "string"}) if kind == "text dtype" else df
        return Interactions.from_frame(frame, timestamp="ts", **kw)

    row = BAD_LINE - 2
    with pytest.raises(DataError, match=rf"not dates \(e\.g\. '{TYPO}'\) at rows {row}\b"):
        load()
    data = load(on_bad_rows="skip")
    assert data.nnz == 999
    assert data.load_report.rejection_texts() == [
        f"1 with timestamps that are not dates in column 'ts' (rows {row})"
    ]


@pytest.mark.parametrize("command", [["data", "info"], ["train", "-a", "biases"]])
def test_the_cli_says_the_bad_line_in_one_line(tmp_path, command):
    path = _write_and_return(tmp_path)
    extra = ["-o", str(tmp_path / "m.npz")] if command[0] == "train" else []
    out = CliRunner().invoke(main, [*command, str(path), "--timestamp-col", "ts", *extra])
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1, out.output
    assert f"(e.g. '{TYPO}') at line {BAD_LINE} of" in lines[0]
    assert "non-numeric" not in lines[0] and "line 2," not in lines[0]


def test_numbers_with_a_date_and_a_word_name_each_as_what_it_is():
    t = ["60", "120", "1970-01-02", "soon", "180"]
    df = pd.DataFrame({"user_id": range(5), "item_id": 1, "rating": 1.0, "t": t})
    data = Interactions.from_frame(df, timestamp="t", on_bad_rows="skip")
    assert np.sort(data.timestamps).tolist() == [60.0, 120.0, 180.0]
    assert data.load_report.rejection_texts() == [
        "1 with timestamps mixing dates and numbers in column 't' (rows 2)",
        "1 with non-numeric timestamps in column 't' (rows 3)",
    ]


# ------------------------------------------------- random columns against a reference
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_JUNK = ["soon", TYPO, "12/31/1998", "", "2020-1-5", "n/a"]
_NOT_REAL = ["2020-02-30", "1999-13-01"]


def _expected(cells: list) -> dict:
    """Row -> seconds of the rows that load, cell by cell: a cell is a date, a number or
    neither; more dates than numbers make a column of dates, else one of numbers."""
    kind = []
    for c in cells:
        if c is None:
            kind.append("missing")
        elif _ISO.fullmatch(c.strip()):
            kind.append("date")
        else:
            try:
                kind.append("number" if np.isfinite(float(c)) else "other")
            except ValueError:
                kind.append("other")
    dates_win = kind.count("date") > kind.count("number")
    good = {}
    for row, (c, k) in enumerate(zip(cells, kind, strict=True)):
        if dates_win and k == "date":
            try:
                good[row] = _seconds(c.strip())
            except ValueError:  # a date that does not exist
                pass
        elif not dates_win and k == "number":
            good[row] = float(c)
    return good


@pytest.mark.parametrize("seed", range(40))
def test_random_columns_keep_exactly_the_rows_of_their_kind(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    weights = rng.dirichlet(np.ones(5))
    cells = []
    for _ in range(n):
        pick = rng.choice(5, p=weights)
        if pick == 0:
            day = dt.date(1990, 1, 1) + dt.timedelta(days=int(rng.integers(0, 9000)))
            cells.append(day.isoformat() + rng.choice(["", "T10:00:00Z", " 23:59:59+02:00"]))
        elif pick == 1:
            cells.append(str(int(rng.integers(0, 2_000_000_000))))
        elif pick == 2:
            cells.append(str(rng.choice(_JUNK)))
        elif pick == 3:
            cells.append(str(rng.choice(_NOT_REAL)))
        else:
            cells.append(None)
    df = pd.DataFrame({"user_id": range(n), "item_id": 1, "rating": 1.0, "t": cells})
    df["t"] = df["t"].astype(object)
    good = _expected(cells)
    if not good:
        with pytest.raises(DataError, match="no rows left to load"):
            Interactions.from_frame(df, timestamp="t", on_bad_rows="skip")
        return
    data = Interactions.from_frame(df, timestamp="t", on_bad_rows="skip")
    frame = data.to_frame().sort_values("user_id")
    assert frame["user_id"].tolist() == sorted(good)
    assert frame["timestamp"].tolist() == [good[r] for r in sorted(good)]
    assert data.load_report.rejected == n - len(good)
