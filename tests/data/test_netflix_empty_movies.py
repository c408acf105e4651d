"""A movie line with no rating line under it (a download cut short after it, a movie
whose ratings were removed) is said in the load report with its file and line, at any
block size, rather than passed over without a word."""

from __future__ import annotations

import random

import pytest

from latentrec.data import netflix
from latentrec.datasets import read_netflix


def write(path, rng: random.Random, first: int) -> list[tuple[int, int]]:
    """A file whose movies are empty at random; returns (line, movie) of the empty ones."""
    lines, empty = [], []
    for movie in range(first, first + rng.randint(1, 12)):
        if rng.random() < 0.2:
            lines.append("")
        lines.append(f"{movie}:")
        n = rng.choice([0, 0, 1, 3])
        if n == 0:
            empty.append((len(lines), movie))
        for c in range(n):
            lines.append(f"{c + 1},{rng.randint(1, 5)},2005-01-0{rng.randint(1, 9)}")
            if rng.random() < 0.2:
                lines.append("")
    path.write_text("\n".join(lines) + ("\n" if rng.random() < 0.5 else ""))
    return empty


@pytest.mark.parametrize("seed", range(40))
def test_empty_movie_lines_noted(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(netflix, "BLOCK_BYTES", rng.choice([5, 16, 64, 1 << 24]))
    paths, empty = [], []
    for k in range(rng.randint(1, 3)):
        path = tmp_path / f"combined_data_{k + 1}.txt"
        empty += [(str(path), line, m) for line, m in write(path, rng, 100 * k + 1)]
        paths.append(path)
    try:
        data = read_netflix(paths)
    except netflix.DataError as err:
        assert "no rating lines" in str(err)  # every movie of every file empty
        return
    notes = [n for n in data.load_report.notes if "no rating lines" in n]
    if not empty:
        assert notes == []
        return
    (note,) = notes
    for src, line, movie in empty[:3]:
        assert f"movie {movie} (line {line} of {src}, no item" in note
        assert movie not in data.items
    assert (f"{len(empty)} movie lines" in note) == (len(empty) > 1)


def test_movie_continued_in_the_next_file_is_an_item(tmp_path):
    """A movie line left empty at one file's end whose ratings are in another file is
    an item: the note does not say otherwise."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1:\n7,3,2005-09-06\n2:\n")
    b.write_text("2:\n7,4,2005-09-06\n")
    data = read_netflix([a, b])
    assert data.items.ids.tolist() == [1, 2]
    assert data.load_report.notes == (
        f"movie 2 (line 3 of {a}) has no rating lines under its movie line",
    )
