"""The prize's movie_titles.csv: titles with commas and quotes in Latin-1 (0x85
included, which str.splitlines takes for a line break), NULL years, read against an
obvious reference; bad lines named by file and line; the table attached to ratings."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from latentrec.data import DataError
from latentrec.data.netflix import read_netflix_titles
from latentrec.datasets import read_netflix

PIECES = ["Les Mis\xe9rables", "At Home", ", A Stranger", '"Weird Al"', "Caf\xe9\x85",
          "\xbfQu\xe9?", "Part 2", "  spaced ", "1,2,3"]  # fmt: skip


def test_titles_match_reference(tmp_path):
    rng = random.Random(0)
    want, lines = {}, []
    for movie in rng.sample(range(1, 20000), 300):
        title = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 3)))
        year = None if rng.random() < 0.1 else rng.randint(1896, 2005)
        want[movie] = (title, year)
        lines.append(f"{movie},{'NULL' if year is None else year},{title}")
    for encoding in ("latin-1", "utf-8"):
        path = tmp_path / f"titles-{encoding}.csv"
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
        titles = read_netflix_titles(path)
        got = {
            int(m): (t, None if pd.isna(y) else int(y))
            for m, t, y in zip(titles.index, titles["title"], titles["year"], strict=True)
        }
        assert got == want
        assert list(titles.index) == list(want)
        assert str(titles["year"].dtype) == "Int64"


def test_quotes_kept_as_they_stand(tmp_path):
    path = tmp_path / "movie_titles.csv"
    path.write_text('1,2003,"A, B ""C"""\n2,2004,"Weird Al" Yankovic: "Live"\n3,NULL,x\n')
    assert read_netflix_titles(path)["title"].tolist() == [
        '"A, B ""C"""',
        '"Weird Al" Yankovic: "Live"',
        "x",
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (b"1,2003,X\n2,2003\n", 2, "has 2 fields"),
        (b"1,2003,X\nx,2003,Y\n", 2, "bad movie id 'x'"),
        (b"1,2003,X\n\n2,03,Y\n", 3, "bad year '03'"),
        (b"1,2003,X\n2,,Y\n", 2, "bad year ''"),
        (b"1,2003, \n", 1, "empty title"),
        (b"1,2003,X\r\n2,2004,Y\r\n1,2005,Z\r\n", 3, "gives movie 1 again (first on line 1)"),
    ],
)
def test_bad_lines_named(tmp_path, text, line, words):
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(text)
    with pytest.raises(DataError, match=f"line {line} of .*movie_titles.csv") as err:
        read_netflix_titles(path)
    assert words in str(err.value)


def test_titles_attach_to_ratings(tmp_path):
    ratings = tmp_path / "combined_data_1.txt"
    ratings.write_text("1:\n7,3,2005-09-06\n72:\n7,4,2005-09-07\n")
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(b"9,1999,Z\n72,NULL,At Home, Among Strangers\n1,2003,Dinosaur Planet\n")
    data = read_netflix(ratings)
    data = data.replace(item_features=read_netflix_titles(path).reindex(data.items.ids))
    assert data.item_titles().tolist() == ["Dinosaur Planet", "At Home, Among Strangers"]
    assert data.item_features["year"].isna().tolist() == [False, True]
