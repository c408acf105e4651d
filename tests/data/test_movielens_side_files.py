"""A bad line of a MovieLens movies or users file (movies.csv, movies.dat, users.dat,
u.item, u.user) is named by file and line, with what is wrong, as a bad ratings line is.
Before, pandas' own words came out ("cannot parse movies.csv: invalid literal for int()
with base 10: 'x1'", "Error tokenizing data. C error: ..."), and a movies.csv or u.user
line with a field too many or too few was read without a word: a title holding an
unquoted comma put half the title in the genres."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from latentrec import datasets
from latentrec.cli import main
from latentrec.data import DataError
from latentrec.data.movielens import ML100K_GENRES

RATINGS = {
    "ratings.csv": "userId,movieId,rating,timestamp\n1,10,4.0,964982703\n2,11,3.5,964982704\n",
    "ratings.dat": "1::10::4::978300760\n2::11::3::978300761\n",
    "u.data": "1\t10\t4\t874965758\n2\t11\t3\t874965759\n",
    "ml-100k.inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "1\t10\t4\t874965758\n2\t11\t3\t874965759\n",
}
FLAGS = "|".join("1" if g == "Drama" else "0" for g in ML100K_GENRES)
MOVIES_CSV = "movieId,title,genres\n10,Heat (1995),Action\n{}\n"
MOVIES_DAT = "10::Heat (1995)::Action\n\n{}\n"
U_ITEM = f"10|Heat (1995)|01-Jan-1995||http://x|{FLAGS}\n{{}}\n"
USERS_DAT = "1::F::1::10::48067\n{}\n"
U_USER = "1|24|M|technician|85711\n{}\n"
# RecBole's copy of ml-100k (the built-in dataset), a layout a folder may hold as well.
RB_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "10\tHeat\t1995\tAction Crime\n{}\n"
)
RB_USER = (
    "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "1\t24\tM\ttechnician\t85711\n{}\n"
)

# (ratings file, side file, its text, line, what the message says after the line)
BAD = [
    ("ratings.csv", "movies.csv", MOVIES_CSV.format("11,Alone, Again (1990),Drama"), 3,
     " has 4 field(s) separated by ',' where 3 are expected (movieId,title,genres): "
     "'11,Alone, Again (1990),Drama'"),
    ("ratings.csv", "movies.csv", MOVIES_CSV.format("11,Alone (1990)"), 3,
     " has 2 field(s) separated by ',' where 3 are expected"),
    ("ratings.csv", "movies.csv", MOVIES_CSV.format("x1,Alone (1990),Drama"), 3,
     ": the movie id 'x1' is not a whole number (fields: movieId,title,genres)"),
    ("ratings.csv", "movies.csv", MOVIES_CSV.format("99999999999999999999,Big (1988),Drama"), 3,
     ": the movie id '99999999999999999999' is not within int64"),
    ("ratings.csv", "movies.csv", MOVIES_CSV.format('11,"Alone (1990),Drama'), 3,
     "a quoted field that starts there is never closed"),
    ("ratings.csv", "movies.csv", "movieId,name,genres\n10,Heat (1995),Action\n", 1,
     ": the header has no column(s) ['title'] (it has ['movieId', 'name', 'genres'])"),
    ("ratings.csv", "movies.csv", "movieId,title,genres\n10,Heat (1995),Action\n\n"
     "11,Am\xe9lie (2001),Drama\n", 4,
     " is not UTF-8 text (byte 0xe9); GroupLens writes movies.csv in UTF-8"),
    ("ratings.dat", "movies.dat", MOVIES_DAT.format("1x::Alone (1990)::Drama"), 3,
     ": the movie id '1x' is not a whole number (fields: movie id::title::genres)"),
    ("ratings.dat", "movies.dat", MOVIES_DAT.format("11::Alone (1990)::Drama::War"), 3,
     " has 4 field(s) separated by '::' where 3 are expected"),
    ("ratings.dat", "users.dat", USERS_DAT.format("2::M::x::16::70072"), 2,
     ": the age 'x' is not a whole number (fields: user id::gender::age::occupation::zip code)"),
    ("ratings.dat", "users.dat", USERS_DAT.format("2::M::25"), 2,
     " has 3 field(s) separated by '::' where 5 are expected"),
    ("u.data", "u.item", U_ITEM.format(f"11|Alone (1990)|01-Jan-1990||http://x|{FLAGS}|0"), 2,
     " has 25 field(s) separated by '|' where 24 are expected (movie id|title|release date|"
     "video release date|IMDb URL|19 genre flags)"),
    ("u.data", "u.item", U_ITEM.format("11|Alone (1990)|01-Jan-1990||http://x|0|1"), 2,
     " has 7 field(s) separated by '|' where 24 are expected"),
    ("u.data", "u.item", U_ITEM.format(f"x|Alone (1990)|01-Jan-1990||http://x|{FLAGS}"), 2,
     ": the movie id 'x' is not a whole number"),
    ("u.data", "u.item", U_ITEM.format(f"11|Alone (1990)|01-Jan-1990||http://x|{FLAGS[:-1]}y"),
     2, ": the 'Western' genre flag 'y' is not 0 or 1"),
    ("u.data", "u.user", U_USER.format("2|x|F|other|94043"), 2,
     ": the age 'x' is not a whole number (fields: user id|age|gender|occupation|zip code)"),
    ("u.data", "u.user", U_USER.format("2|53|F"), 2,
     " has 3 field(s) separated by '|' where 5 are expected"),
    # Other scripts' digits are no whole number, as the ratings readers say.
    ("ratings.dat", "movies.dat", MOVIES_DAT.format("\u0661\u0661::Alone (1990)::Drama"), 3,
     ": the movie id '\u0661\u0661' is not a whole number"),
    ("ml-100k.inter", "ml-100k.item", RB_ITEM.format("x1\tAlone\t1990\tDrama"), 3,
     ": the item id 'x1' is not a whole number (fields: item_id, movie_title, release_year, "
     "class)"),
    ("ml-100k.inter", "ml-100k.item", RB_ITEM.format("1_000\tAlone\t1990\tDrama"), 3,
     ": the item id '1_000' is not a whole number"),
    ("ml-100k.inter", "ml-100k.item", RB_ITEM.format("11\tAlone\t1990\tDrama\tWar"), 3,
     " has 5 field(s) separated by '\\t' where 4 are expected"),
    ("ml-100k.inter", "ml-100k.item", RB_ITEM.format("11\tAlone"), 3,
     " has 2 field(s) separated by '\\t' where 4 are expected"),
    ("ml-100k.inter", "ml-100k.item", "item_id:token\ttitle:token_seq\tclass:token_seq\n", 1,
     ": the header has no column(s) ['movie_title', 'release_year']"),
    ("ml-100k.inter", "ml-100k.user", RB_USER.format("2\tx\tF\tother\t94043"), 3,
     ": the age 'x' is not a whole number (fields: user_id, age, gender, occupation, "
     "zip_code)"),
    ("ml-100k.inter", "ml-100k.user", RB_USER.format("2\t53\tF\tother\t94043\t9"), 3,
     " has 6 field(s) separated by '\\t' where 5 are expected"),
]  # fmt: skip


def release(folder, ratings: str, side: str, text: str):
    folder.mkdir(exist_ok=True)
    (folder / ratings).write_text(RATINGS[ratings])
    # Latin-1 where a byte is to be no UTF-8 (and as GroupLens wrote ml-1m, ml-100k).
    encoding = "latin-1" if text.isascii() or "\xe9" in text else "utf-8"
    (folder / side).write_bytes(text.encode(encoding))
    return folder / side


IDS = [f"{side}-{k}" for k, (_, side, *_) in enumerate(BAD)]


@pytest.mark.parametrize(("ratings", "side", "text", "line", "says"), BAD, ids=IDS)
def test_a_bad_side_line_is_named_by_file_and_line(tmp_path, ratings, side, text, line, says):
    path = release(tmp_path / "release", ratings, side, text)
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(tmp_path / "release")
    message = str(err.value)
    # "cannot parse line 3 of ..." for an open quote, as the ratings readers say it.
    assert message.removeprefix("cannot parse ").startswith(f"line {line} of {path}"), message
    assert says in message, message
    assert "\n" not in message
    assert err.value.where == (line,) and err.value.unit == "line"


@pytest.mark.parametrize(("ratings", "side", "text", "line", "says"), BAD[::4], ids=IDS[::4])
def test_the_command_line_says_it_in_one_line(tmp_path, ratings, side, text, line, says):
    path = release(tmp_path / "release", ratings, side, text)
    out = CliRunner().invoke(main, ["data", "info", str(tmp_path / "release")])
    assert out.exit_code == 1, out.output
    said = [x for x in out.stderr.splitlines() if x.startswith("Error: ")]
    assert len(said) == 1 and "Traceback" not in out.output, out.output
    assert f"line {line} of {path}" in said[0] and says in said[0], said
    assert said[0] == f"Error: {datasets_error(tmp_path / 'release')}"


def datasets_error(folder) -> str:
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(folder)
    return str(err.value)


def test_an_empty_movies_csv_is_named(tmp_path):
    path = release(tmp_path / "release", "ratings.csv", "movies.csv", "\n\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_csv(tmp_path / "release")
    assert str(err.value) == f"{path} is empty: it has no header line (movieId,title,genres)"


def test_a_repeated_user_is_named_by_its_lines(tmp_path):
    # It said "user_features has repeated ...", a name the user never gave.
    path = release(tmp_path / "release", "u.data", "u.user", U_USER.format("\n1|53|F|other|94043"))
    with pytest.raises(DataError) as err:
        datasets.read_ml100k(tmp_path / "release")
    assert str(err.value) == (
        f"{path} lists user id 1 more than once, at lines 1, 3; each user takes one line"
    )


def test_well_formed_side_files_still_read(tmp_path):
    # Quoted titles with commas and quotes, a byte-order mark, CRLF and blank lines,
    # columns in another order, spaces around a number: all as GroupLens may write them.
    folder = tmp_path / "latest"
    release(folder, "ratings.csv", "movies.csv", "")
    (folder / "movies.csv").write_bytes(
        '\ufeffgenres,movieId,title\r\nAction,10,"Heat, The (1995)"\r\n\r\n'
        'Drama, 11 ,"Say ""Hi"" (1990)"\r\n'.encode()
    )
    items = datasets.read_ml_csv(folder).item_features
    assert items.loc[10, ["title", "year", "genres"]].tolist() == ["Heat, The", 1995, "Action"]
    assert items.loc[11, "title"] == 'Say "Hi"'
    folder = tmp_path / "100k"
    release(folder, "u.data", "u.item", U_ITEM.format(f'11|"Quoted" (1990)||||{FLAGS}'))
    release(folder, "u.data", "u.user", U_USER.format("2|53|F|other|T8H1N"))
    data = datasets.read_ml100k(folder)
    quoted = data.item_features.loc[11, ["title", "year", "genres"]].tolist()
    assert quoted == ['"Quoted"', 1990, "Drama"]
    assert data.user_features.loc[2].tolist() == [53, "F", "other", "T8H1N"]
    assert str(data.user_features["age"].dtype) == "int64"


def test_a_ratings_csv_of_ones_own_quotes_its_header_after_blank_lines(tmp_path):
    # The header was read by a reader of its own, which quoted the blank first line: ''.
    (tmp_path / "ratings.csv").write_text("\ufeff\n\nuser_id,item_id,rating\r\n1,2,4\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(tmp_path)
    assert "its header is 'user_id,item_id,rating', not userId,movieId" in str(err.value)


def test_a_repeated_recbole_item_is_named_by_its_lines(tmp_path):
    """It was refused as "item_features has repeated item ids: [10]", a name the user
    never gave, with no line."""
    path = release(tmp_path, "ml-100k.inter", "ml-100k.item",
                   RB_ITEM.format("10\tHeat again\t1995\tAction"))  # fmt: skip
    with pytest.raises(DataError) as err:
        datasets.read_ml100k(tmp_path)
    assert str(err.value) == (
        f"{path} lists movie id 10 more than once, at lines 2, 3; each movie takes one line"
    )


def test_recbole_side_files_read_as_before(tmp_path):
    """Quotes are text in RecBole's files; a year that is no number falls back on the
    title's; the columns are found by name, whatever order the header gives them."""
    release(tmp_path, "ml-100k.inter", "ml-100k.item",
            "class:token_seq\titem_id:token\tmovie_title:token_seq\trelease_year:token\n"
            'Action Crime\t10\t"Heat"\t1995\nDrama\t11\tAlone (1990)\tV\n')  # fmt: skip
    (tmp_path / "ml-100k.user").write_text(RB_USER.format("2\t53\tF\tother\t94043"))
    data = datasets.read_ml100k(tmp_path)
    items = data.item_features
    assert items.loc[10].tolist() == ['"Heat"', 1995, "Action|Crime"]
    assert items.loc[11].tolist() == ["Alone", 1990, "Drama"]
    assert data.user_features.loc[2].tolist() == [53, "F", "other", "94043"]
