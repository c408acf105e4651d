"""A field longer than Python's csv limit (131,072 characters) is read as pandas reads
it: a long quoted title in movies.csv was refused as "field larger than field limit
(quotes must wrap a whole field...)", and a long line of a ratings file was named in
place of the bad line after it."""

from __future__ import annotations

import csv

import pytest

from latentrec import Interactions, datasets
from latentrec.data import DataError

LONG = 200_000


@pytest.fixture(autouse=True)
def _default_csv_limit():
    # The limit is the process's; another test may have raised it already.
    before = csv.field_size_limit(131_072)
    yield
    csv.field_size_limit(before)


@pytest.mark.parametrize("title", ["T" * LONG, '"' + "T," * (LONG // 2) + '"'])
def test_a_long_title_in_movies_csv_is_read_whole(tmp_path, title):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,964982703\n")
    (tmp_path / "movies.csv").write_text(f"movieId,title,genres\n1,{title},Action\n")
    got = datasets.read_ml_folder(tmp_path).item_features["title"].iloc[0]
    assert got == title.strip('"')


def test_the_bad_line_after_a_long_line_is_named(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(f"user,item,rating\n1,{'a' * LONG},4\n2,b,x\n")
    with pytest.raises(DataError) as err:
        Interactions.read(path, user="user", item="item", rating="rating")
    assert err.value.where == (3,), str(err.value)[:200]
