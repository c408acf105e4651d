"""How ``read_ratings`` judges one line once Spark has found a bad row (no Spark needed)."""

from __future__ import annotations

import pytest

from latentrec.spark.reading import _Layout

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
