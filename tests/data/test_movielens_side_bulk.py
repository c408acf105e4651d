"""A MovieLens side file (movies.csv, movies.dat, users.dat, u.item, u.user, RecBole's
ml-100k.item/.user) is read in bulk when it is clean, and line by line only to name a
fault.  Reading it line by line every time made ml-32m's movies.csv (87,585 lines) take
about a second against pandas' tenth (benchmarks/movielens_side_files.py).

The bulk read must return exactly what the line-by-line reader returns, or step aside
(``None``) and let it speak: checked here on random files, clean and broken, of every
layout, against the line-by-line reader as the slow, obvious reference.

Ids: a side file takes an id the way the ratings file beside it does (``12.0`` and
``1e1`` are whole numbers there, as pandas' fast read takes them) and refuses one in the
same words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from latentrec import datasets
from latentrec.data import DataError
from latentrec.data import movielens as ml

LAYOUTS = {
    "movies.csv": ml._MOVIES_CSV,
    "movies.dat": ml._MOVIES_DAT,
    "users.dat": ml._USERS_DAT,
    "u.item": ml._U_ITEM,
    "u.user": ml._U_USER,
    "ml-100k.item": ml._RB_ITEM,
    "ml-100k.user": ml._RB_USER,
}
TITLES = ["Heat (1995)", "Up (2009)", "Amélie (2001)", "Say Hi (1990)", "M*A*S*H (1970)"]
# Cells that are whole numbers in their own spelling ("12.0": the rule of the ratings
# readers), and cells that are not.
WHOLE_SPELLINGS = ["{}", " {}", "{} ", "+{}", "0{}", "{}.0", "{}e0", "{}."]
NOT_WHOLE = ["x", "1.5", "1_0", "\u0661", "99999999999999999999", "", "0x1", "1e30"]
ODD = [
    "extra field", "missing field", "bad number", "bad flag", "open quote", "stray quote",
    "title over two lines", "blank-like quoted line", "odd line break", "repeat header",
]  # fmt: skip


def _header(side, rng):
    if side.header is None:
        return None
    names = list(side.header)
    if side.typed:
        names = [f"{name}:token" for name in names]
    extra = ["extra"] if rng.random() < 0.2 else []
    order = list(rng.permutation(len(names) + len(extra)))
    return [(names + extra)[k] for k in order], order


def _cell(side, name, k, rng):
    if name in side.whole:
        value = k + 1 if name in ("item_id", "user_id") else int(rng.integers(0, 60))
        spelling = WHOLE_SPELLINGS[0] if rng.random() < 0.85 else rng.choice(WHOLE_SPELLINGS)
        return spelling.format(value)
    if name in side.flags:
        return str(int(rng.random() < 0.2))
    if name in ("title", "movie_title"):
        title = TITLES[k % len(TITLES)]
        if side.header is not None and not side.typed and rng.random() < 0.3:
            return '"' + rng.choice(["Good, the Bad", 'Say ""Hi""', "A, B, C"]) + f' {k}"'
        return f"{title} {k}"
    if name == "genres":
        return rng.choice(["Action|Drama", "Comedy", "(no genres listed)"])
    return rng.choice(["M", "F", "technician", "85711", "", "T8H1N", "Action Crime"])


def _file(layout: str, rng) -> str:
    """Text of a random side file in ``layout``: mostly clean, sometimes with one fault
    or one oddity the line-by-line reader handles (a title over two lines)."""
    side = LAYOUTS[layout]
    sep = side.sep
    lines = []
    header = _header(side, rng)
    if header is not None:
        lines.append(sep.join(header[0]))
    for k in range(int(rng.integers(0, 30))):
        cells = [_cell(side, name, k, rng) for name in side.fields]
        if header is not None:
            wide = cells + (["x"] if len(header[0]) > len(cells) else [])
            cells = [wide[j] for j in header[1]]
        lines.append(sep.join(cells))
        if rng.random() < 0.1:
            lines.append(rng.choice(["", "   ", "\t"]))
    if lines and rng.random() < 0.6:
        k = int(rng.integers(1 if header else 0, len(lines) + 1))
        odd = rng.choice(ODD)
        body = lines[k] if k < len(lines) and lines[k].strip() else None
        if odd == "extra field" and body:
            lines[k] = body + sep + "War"
        elif odd == "missing field" and body:
            lines[k] = body.rsplit(sep, 1)[0]
        elif odd == "bad number" and body:
            parts = body.split(sep)
            column = side.fields.index(side.whole[0])
            at = column if header is None else header[1].index(column)
            parts[at] = str(rng.choice(NOT_WHOLE))
            lines[k] = sep.join(parts)
        elif odd == "bad flag" and body and side.flags:
            lines[k] = body[:-1] + rng.choice(["2", " 1", "y"])
        elif odd == "open quote":
            lines.insert(k, f'{len(lines) + 7}{sep}"Alone (1990){sep}Drama')
        elif odd == "stray quote":
            lines.insert(k, f'{len(lines) + 7}{sep}"Alone" (1990){sep}Drama')
        elif odd == "title over two lines":
            lines.insert(k, f'{len(lines) + 7}{sep}"Alone\nAgain (1990)"{sep}Drama')
        elif odd == "blank-like quoted line":
            lines.insert(k, '""')
        elif odd == "odd line break" and body:
            lines[k] = body.replace(" ", "\x85", 1)
        elif odd == "repeat header" and header is not None:
            lines.insert(k, lines[0])
    ending = rng.choice(["\n", "\r\n", "\r"])
    return ending.join(lines) + (ending if rng.random() < 0.8 else "")


def _outcome(fn):
    try:
        table, lines = fn()
    except DataError as err:
        return "error", str(err), err.where
    return "table", table, lines


def _assert_same_outcome(got, expected, text):
    """The bulk read's outcome is the line reader's: the same refusal, or the same table."""
    assert got[0] == expected[0], (text, got, expected)
    if got[0] == "error":
        assert got[1:] == expected[1:], text
    else:
        pd.testing.assert_frame_equal(got[1], expected[1])
        assert got[2].tolist() == expected[2].tolist(), text


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_bulk_read_equals_the_line_by_line_reader(tmp_path, layout):
    side = LAYOUTS[layout]
    rng = np.random.default_rng(list(LAYOUTS).index(layout))
    path = tmp_path / layout
    took_bulk = 0
    for _ in range(150):
        path.write_bytes(_file(layout, rng).encode("utf-8"))
        text = ml._side_text(path, side)
        expected = _outcome(lambda: ml._side_by_line(path, side, text))  # noqa: B023
        got = _outcome(lambda: ml._read_side(path, side))  # noqa: B023
        bulk = ml._side_bulk(text, side)
        if bulk is not None:
            took_bulk += 1
            assert expected[0] == "table", (text, expected)
        _assert_same_outcome(got, expected, text)
        if got[0] != "error":
            for name in side.whole:
                assert got[1][name].dtype == np.int64
    # The fast path is the one a clean file takes; the test would prove nothing if
    # every file went the slow way.
    assert took_bulk >= 40, took_bulk


def test_a_clean_file_takes_the_bulk_read(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_text(
        'movieId,title,genres\n1,"Heat, The (1995)",Action\n\n2,Up (2009),Comedy\r\n'
        '3,"Say ""Hi"" (1990)",(no genres listed)\n4.0,X (2000),Drama\n',
        encoding="utf-8",
    )
    text = ml._side_text(path, ml._MOVIES_CSV)
    table, lines = ml._side_bulk(text, ml._MOVIES_CSV)
    assert table["item_id"].tolist() == [1, 2, 3, 4]
    assert table["title"].tolist()[::2] == ["Heat, The (1995)", 'Say "Hi" (1990)']
    assert lines.tolist() == [2, 4, 5, 6]


SPELLINGS = [*(s.format(12) for s in WHOLE_SPELLINGS), "1.2e1", "12.5", "1_2", "x12",
             "\u0661\u0662", "99999999999999999999", "1e30", "0x0c",
             # pandas skips a vertical tab or form feed around a number (C's isspace) and
             # refuses other blanks: the side files refused the first, the ratings files'
             # line finder took the second (str.strip) and named no line.
             "\x0c12", "12\x0b", "12\xa0", "\u300012", "\uff11\uff12", "-0", "NaN"]  # fmt: skip
# (ratings file with the spelling as a movie id, side file with it, side file's line)
RELEASES = {
    "csv": ("ratings.csv", "userId,movieId,rating,timestamp\n1,{},4.0,964982703\n",
            "movies.csv", "movieId,title,genres\n{},Heat (1995),Action\n", 2),
    "dat": ("ratings.dat", "1::{}::4::978300760\n", "movies.dat", "{}::Heat (1995)::Action\n", 1),
    "100k": ("u.data", "1\t{}\t4\t874965758\n", "u.item",
             "{}|Heat (1995)|01-Jan-1995||http://x|" + "|".join("0" * 19) + "\n", 1),
}  # fmt: skip


def _read(folder):
    try:
        return datasets.read_ml_folder(folder).items.ids.tolist()
    except DataError as err:
        return str(err).replace(str(folder), "")


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("release", list(RELEASES))
def test_ratings_and_side_files_take_the_same_id_spellings(tmp_path, release, spelling):
    """Before, movies.csv refused '12.0' as no whole number while ratings.csv read it as
    movie 12."""
    ratings, ratings_text, side, side_text, line = RELEASES[release]
    only_ratings, only_side = tmp_path / "r", tmp_path / "s"
    for folder in (only_ratings, only_side):
        folder.mkdir()
    (only_ratings / ratings).write_text(ratings_text.format(spelling), encoding="utf-8")
    (only_side / ratings).write_text(ratings_text.format("7"), encoding="utf-8")
    (only_side / side).write_text(side_text.format(spelling), encoding="utf-8")
    from_ratings, from_side = _read(only_ratings), _read(only_side)
    value, why = ml._whole_cell(spelling)
    if why is None:
        assert from_ratings == [value] and from_side == [7, value]
    else:
        # One rule, one wording: "the movie id '12.5' is not a whole number".
        said = f"the movie id {spelling!r} {why} (fields: "
        ratings_line = 2 if release == "csv" else 1
        assert from_ratings.startswith(f"line {ratings_line} of /{ratings}: {said}"), from_ratings
        assert from_side.startswith(f"line {line} of /{side}: {said}"), from_side


def test_title_years_split_as_the_year_pattern_does():
    """The year was split off by ``str.extract(_YEAR_SUFFIX)``, a title at a time (most of
    a second for 87,585 titles); the quicker split must agree with it on every title."""
    rng = np.random.default_rng(7)
    pieces = list("a (1)95-,x\t\n\r") + ["\u2013", "\xa0", "\u0661", "\x85"]
    endings = [" (1995)", "(1995)", " (1995-2000)", " (1995 \u2013 )", "(19 95)", " ( 1995)",
               " (1995) ", "\n(1995)", "(\u0661\u0669\u0669\u0665)", ""]  # fmt: skip
    titles = [
        "".join(rng.choice(pieces, size=int(rng.integers(0, 12)))) + str(rng.choice(endings))
        for _ in range(5000)
    ]
    titles = [t.strip() if k % 3 else t for k, t in enumerate(titles)]
    got_titles, got_years = ml._title_years(titles)
    found = [ml._YEAR_SUFFIX.search(t) for t in titles]
    assert got_years == [None if m is None else m["year"] for m in found]
    expected = [t if m is None else m["title"] for t, m in zip(titles, found, strict=True)]
    assert got_titles == expected
    assert 500 < sum(y is not None for y in got_years) < 4500


@pytest.mark.parametrize("release", list(RELEASES))
def test_an_id_beyond_2_to_the_53_keeps_its_digits_beside_a_float_spelling(tmp_path, release):
    """One id spelled 12.0 made pandas read the whole column through float64: the id
    1152921504606846977 came back as ...976, without a word."""
    big = 1152921504606846977
    ratings, ratings_text, *_ = RELEASES[release]
    head, line = ratings_text.split("\n", 1) if release == "csv" else ("", ratings_text)
    lines = [line.replace("{}", str(big)), line.replace("{}", "12.0").replace("1", "2", 1)]
    (tmp_path / ratings).write_text((head + "\n" if head else "") + "".join(lines))
    assert _read(tmp_path) == [12, big]


# Pieces a messy side file is made of: every separator, quotes, blanks a reader may or may
# not take (no-break space, ideographic space), a BOM, Latin-1 letters, and the line
# breaks str.splitlines takes but a file's reader does not ("\x85", "\x0c", "\u2028").
_PIECES = ["1", "12", " ", "\t", '"', ",", ":", "::", "|", "\n", "\r", "\r\n", "\ufeff", "é",
           "\xa0", "\u3000", "\x85", "\x0c", "\u2028", "0", "x", "(1995)", "(1995) ",
           "(1995\u20131996)", ".", "e", "+", "_", "\uff11", "(no genres listed)"]  # fmt: skip


@st.composite
def _messy_file(draw):
    layout = draw(st.sampled_from(list(LAYOUTS)))
    side = LAYOUTS[layout]
    junk = st.lists(st.sampled_from(_PIECES), max_size=4).map("".join)
    lines = []
    if side.header is not None:
        lines.append(side.sep.join(f"{n}:token" if side.typed else n for n in side.header))
    for _ in range(draw(st.integers(0, 5))):
        cells = []
        for name in side.fields:
            if name in side.flags:
                cells.append(draw(st.sampled_from(["0", "1"])))
            elif name in side.whole:
                number = draw(st.sampled_from(["1", "12", " 3", "4.0", "1e1", "5."]))
                cells.append(number + (draw(junk) if draw(st.booleans()) else ""))
            else:
                cells.append(draw(junk))
        lines.append(side.sep.join(cells))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return layout, end.join(lines) + draw(st.sampled_from(["", end]))


@settings(max_examples=300, deadline=None)
@given(_messy_file())
# A break splitlines takes, ending the text: the bulk read cut it off the last cell, the
# line-by-line reader kept it ("" against "\x85").
@example(("u.user", "1|1|||\x85"))
@example(("movies.dat", "1::Heat (1995)::Drama\x0c"))
def test_bulk_read_equals_the_line_by_line_reader_on_messy_text(tmp_path_factory, found):
    layout, text = found
    side = LAYOUTS[layout]
    path = tmp_path_factory.mktemp("side") / layout
    path.write_bytes(text.encode("utf-8"))
    read = ml._side_text(path, side)
    expected = _outcome(lambda: ml._side_by_line(path, side, read))
    got = _outcome(lambda: ml._read_side(path, side))
    _assert_same_outcome(got, expected, text)


_BOM_FOLDERS = {
    "1m": {"ratings.dat": "1::12::4::978300760\n",
           "movies.dat": "12::Heat (1995)::Action\n",
           "users.dat": "1::F::1::10::48067\n"},
    "100k": {"u.data": "1\t12\t4\t874965758\n",
             "u.item": "12|Amélie (2001)|01-Jan-2001||http://x|" + "|".join("0" * 19) + "\n",
             "u.user": "1|24|M|technician|85711\n"},
}  # fmt: skip


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
@pytest.mark.parametrize("release", list(_BOM_FOLDERS))
def test_a_bom_heading_a_side_file_is_no_part_of_its_first_id(tmp_path, release, encoding):
    """A file saved as "UTF-8 with BOM" (Windows editors) was read as ratings but refused
    as a side file: "the movie id '\\ufeff12' is not a whole number"."""
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    for folder in (plain, marked):
        folder.mkdir()
        for name, text in _BOM_FOLDERS[release].items():
            bom = b"\xef\xbb\xbf" if folder is marked else b""
            (folder / name).write_bytes(bom + text.encode(encoding))
    want, got = datasets.read_ml_folder(plain), datasets.read_ml_folder(marked)
    pd.testing.assert_frame_equal(got.item_features, want.item_features)
    pd.testing.assert_frame_equal(got.user_features, want.user_features)
    assert got.items.ids.tolist() == [12]


@pytest.mark.parametrize("spelling", ["9007199254740993.0", "9.007199254740993e15", "1e18"])
@pytest.mark.parametrize("release", list(RELEASES))
def test_a_float_spelling_past_2_to_the_53_is_refused_not_rounded(tmp_path, release, spelling):
    """9007199254740993.0 was read as movie 9007199254740992 in the ratings file and the
    side file alike: the float it rounds to is 2**53, which passed as exact."""
    ratings, ratings_text, side, side_text, line = RELEASES[release]
    (tmp_path / ratings).write_text(ratings_text.format("7"), encoding="utf-8")
    (tmp_path / side).write_text(side_text.format(spelling), encoding="utf-8")
    said = f"line {line} of /{side}: the movie id {spelling!r} is a float past 2**53"
    assert _read(tmp_path).startswith(said)
    (tmp_path / side).unlink()
    (tmp_path / ratings).write_text(ratings_text.format(spelling), encoding="utf-8")
    assert f"the movie id {spelling!r} is a float past 2**53" in _read(tmp_path)
