"""One id that is not a whole number turns a column of integer ids into text: legal (ids
are labels) but never silent; the load report names the first line and value that did it."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import Interactions, readers


def write_ratings(path, n: int, odd: dict) -> None:
    """``n`` rows of integer ids; ``odd`` maps a data row number (0-based) to a user id."""
    lines = ["user_id,item_id,rating"]
    for k in range(n):
        lines.append(f"{odd.get(k, k % 97)},{k % 13},{1 + k % 5}")
    path.write_text("\n".join(lines) + "\n")


def test_a_decimal_user_id_deep_in_a_file_is_named(tmp_path, monkeypatch):
    # Small blocks: the chunked reader parses the first blocks, then declines at the odd
    # one and the line-by-line reader takes the file: the note comes from it.
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 1 << 10)
    path = tmp_path / "r.csv"
    write_ratings(path, 5000, {4000: "5.5", 4500: "bob"})
    data = Interactions.from_csv(path)
    assert data.users.ids.dtype == object
    report = data.load_report
    assert report.rejected == 0
    assert f"user ids read as text: line 4002 of {path} has '5.5'" in report.notes
    assert "user ids read as text" in report.summary()
    assert not any(n.startswith("item ids") for n in report.notes)


@pytest.mark.parametrize("seed", range(8))
def test_the_note_names_the_first_odd_row(tmp_path, seed):
    rng = random.Random(seed)
    n = rng.randint(2, 300)
    rows = sorted(rng.sample(range(n), rng.randint(1, min(n - 1, 5))))
    odd = {r: rng.choice(["5.5", "x", "1e400", "7a", "-0.5", "99999999999999999999"]) for r in rows}
    path = tmp_path / "r.csv"
    write_ratings(path, n, odd)
    data = Interactions.from_csv(path)
    first = rows[0]
    # The slow obvious answer: the first data row whose id is not a whole number.
    assert data.load_report.notes == (
        f"user ids read as text: line {first + 2} of {path} has {odd[first]!r}",
    )


def test_no_note_when_the_column_is_plainly_integer_or_plainly_text(tmp_path):
    path = tmp_path / "r.csv"
    write_ratings(path, 20, {})
    assert Interactions.from_csv(path).load_report.notes == ()
    path.write_text("user_id,item_id,rating\nalice,1,3\nbob,2,4\n")
    assert Interactions.from_csv(path).load_report.notes == ()
    # Whole numbers written as "4.0" stay integer: nothing made the column text.
    path.write_text("user_id,item_id,rating\n4.0,1,3\n5,2,4\n")
    data = Interactions.from_csv(path)
    assert data.users.ids.tolist() == [4, 5] and data.load_report.notes == ()


def test_item_column_and_skipped_rows(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating\n1,10,3\n2,,4\n3,A7,5\n4,11,x\n")
    data = Interactions.from_csv(path, on_bad_rows="skip")
    assert data.load_report.rejected == 2
    assert data.load_report.notes == (f"item ids read as text: line 4 of {path} has 'A7'",)


def test_a_frame_with_mixed_ids(tmp_path):
    df = pd.DataFrame({"user_id": [1, 2, "a"], "item_id": [1, 2, 3], "rating": [1.0, 2.0, 3.0]})
    notes = Interactions.from_frame(df).load_report.notes
    assert notes == ("user ids read as text: rows 2 has 'a'",)


def test_cli_convert_and_info_say_it(tmp_path):
    path = tmp_path / "r.csv"
    write_ratings(path, 50, {30: "5.5"})
    out = tmp_path / "r.lrdata"
    runner = CliRunner()
    result = runner.invoke(main, ["data", "convert", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = f"user ids read as text: line 32 of {path} has '5.5'"
    assert expected in result.output
    for source in (path, out):
        info = runner.invoke(main, ["data", "info", str(source)])
        assert info.exit_code == 0, info.output
        assert expected in info.output
