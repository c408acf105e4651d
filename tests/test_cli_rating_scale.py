"""``--rating-scale LOW HIGH`` out of order or not finite is refused by click, naming the
option, before the file is read.

``data info r.csv --rating-scale 5 1`` said "rating_scale must be (low, high) with low <
high, got (5.0, 1.0)" (the reader's keyword), and only once the file had been read: a
missing file was reported first, and a large one was read to no end.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec.cli import main

COMMANDS = {
    "data info": ["data", "info", "{csv}"],
    "train": ["train", "{csv}", "-o", "{folder}/m.npz"],
    "evaluate": ["evaluate", "{csv}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("scale", "words"),
    [
        (("5", "1"), "5 1: the lowest rating comes first"),
        (("3", "3"), "3 3: the lowest rating comes first"),
        (("nan", "5"), "nan is not a finite number."),
        (("1", "inf"), "inf is not a finite number."),
    ],
)
def test_a_bad_scale_names_the_option_before_the_file_is_read(command, scale, words, tmp_path):
    missing = tmp_path / "missing.csv"  # were the file read first, its absence would be said
    args = [a.format(csv=missing, folder=tmp_path) for a in COMMANDS[command]]
    out = CliRunner().invoke(main, [*args, "--rating-scale", *scale])
    assert out.exit_code == 2, out.output
    assert f"Error: Invalid value for '--rating-scale': {words}" in out.output
    assert list(tmp_path.iterdir()) == []


def test_a_good_scale_still_reads(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("user_id,item_id,rating\n1,2,5\n2,3,1\n")
    out = CliRunner().invoke(main, ["data", "info", str(csv), "--rating-scale", "1", "5"])
    assert out.exit_code == 0, out.output
