"""The prize's movie_titles.csv: titles with commas and quotes in Latin-1 (0x85 and
0x92 included: Windows-1252's "…" and "’", where Latin-1 alone has control characters,
0x85 a line break to str.splitlines), NULL years, read against an obvious reference;
bad lines named by file and line; the table attached to ratings and shown by a model."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from click.testing import CliRunner

from latentrec.cli import main
from latentrec.data import DataError
from latentrec.data.netflix import read_netflix_titles, with_titles
from latentrec.datasets import read_netflix
from latentrec.models import Biases

PIECES = ["Les Mis\xe9rables", "At Home", ", A Stranger", '"Weird Al"', "Caf\xe9\x85",
          "\xbfQu\xe9?", "Part 2", "  spaced ", "1,2,3", "Don\x92t"]  # fmt: skip


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
        if encoding == "latin-1":  # its bytes 0x85 and 0x92 are Windows-1252's
            assert got == {
                m: (t.replace("\x85", "\u2026").replace("\x92", "\u2019"), y)
                for m, (t, y) in want.items()
            }
        else:  # a UTF-8 file says what it holds
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
        # "\r" line ends made the file one line, its title running over the others.
        (b"1,2003,X\r2,2004,Y\r", 1, "holds a '\\r' not before its line end"),
        (b"1,2003,X\r\r\n2,2004,Y\r\r\n", 1, "holds a '\\r' not before its line end"),
        (b"1,2003,X\n2,2004,Y\0\0\0\0", 2, "holds NUL bytes: a download cut short"),
        (b"1,2003,X\n2,0000,Y\n", 2, "has year 0000 (years run from 0001"),
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


def test_utf8_with_bom_and_crlf_and_far_years(tmp_path):
    path = tmp_path / "movie_titles.csv"
    path.write_bytes("\ufeff1,2100,Amélie\r\n2,0001,Ça\x85\r\n".encode())
    titles = read_netflix_titles(path)
    assert list(titles.index) == [1, 2]  # the BOM is no part of the first id
    assert titles["title"].tolist() == ["Amélie", "Ça\x85"]  # UTF-8 says what it holds
    assert titles["year"].tolist() == [2100, 1]  # four digits, as the file says


def test_titles_shown_by_a_model(tmp_path):
    """Attached by with_titles, the titles go into the model and out of recommend; a
    movie the titles file does not name was NaN, shown as 'nan'."""
    ratings = tmp_path / "combined_data_1.txt"
    ratings.write_text(
        "1:\n7,3,2005-09-06\n9,5,2005-05-13\n2:\n9,4,2005-01-01\n"
        "3:\n9,2,2005-01-01\n4:\n9,1,2005-01-01\n8,2,2005-01-01\n"
    )
    path = tmp_path / "movie_titles.csv"
    path.write_bytes(b"1,2003,Dinosaur Planet\r\n2,NULL,Caf\x85 Noir\r\n3,1999,Thing, The\r\n")
    data = read_netflix(ratings)
    with pytest.raises(DataError, match=r"1 of the data's 4 movies have no line in .*\(movie 4\)"):
        with_titles(data, path)
    with path.open("ab") as fh:
        fh.write(b"4,2001,Four\r\n9,2002,Not rated\r\n")
    data = with_titles(data, path)
    model = Biases().fit(data)
    model.save(tmp_path / "model.npz")
    result = CliRunner().invoke(
        main, ["recommend", str(tmp_path / "model.npz"), "--user", "7", "-n", "3"]
    )
    assert result.exit_code == 0, result.output
    shown = result.output
    assert "Caf… Noir" in shown and "Thing, The" in shown and "Four" in shown
    assert "nan" not in shown and "Dinosaur Planet" not in shown  # user 7 rated movie 1
