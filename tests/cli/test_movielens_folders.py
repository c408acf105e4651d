"""A MovieLens folder as GroupLens publishes it (ml-latest-small, ml-25m: ratings.csv and
movies.csv; ml-1m: '::'-separated .dat files in Latin-1; ml-100k: u.data and u.item) is a
SOURCE of every command: read with its titles and genres, so ``recommend`` and ``similar``
show titles after ``train`` on it, and refused reading flags as the dataset ml-100k
refuses them.  Its own ``ratings.csv`` given as a file needs no column flags either
(``userId`` / ``movieId`` are read, and said on standard error).  Before, a folder was
"a folder; give a ratings file" and ratings.csv lacked columns ['user_id', 'item_id']."""

from __future__ import annotations

import json

import pytest
from new_user_support import error_line, invoke

from latentrec.data.movielens import ML100K_GENRES, ml_folder_layout

# (user, item, rating): user 3 has not rated items 1 and 543, the titled ones.
RATINGS = [(1, 1, 4), (1, 50, 5), (1, 543, 3), (2, 1, 5), (2, 543, 4), (3, 50, 2), (4, 1, 3),
           (4, 50, 4)]  # fmt: skip
TITLES = {1: ("Toy Story (1995)", "Animation|Children's|Comedy"),
          50: ("Star Wars (1977)", "Action|Sci-Fi"),
          543: ("Misérables, Les (1995)", "Drama|Musical")}  # fmt: skip


def ml_latest(folder):
    folder.mkdir()
    lines = ["userId,movieId,rating,timestamp"]
    lines += [f"{u},{i},{r}.0,{964982703 + k}" for k, (u, i, r) in enumerate(RATINGS)]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    movies = ["movieId,title,genres"] + [f'{i},"{t}",{g}' for i, (t, g) in TITLES.items()]
    movies.append("99,Never Rated (2001),Drama")
    (folder / "movies.csv").write_text("\n".join(movies) + "\n", encoding="utf-8")
    return folder, "ratings.csv"


def ml_1m(folder):
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "".join(f"{u}::{i}::{r}::{978300760 + k}\n" for k, (u, i, r) in enumerate(RATINGS))
    )
    movies = "".join(f"{i}::{t}::{g}\n" for i, (t, g) in TITLES.items())
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))  # as GroupLens wrote it
    return folder, "ratings.dat"


def ml_100k(folder):
    folder.mkdir()
    (folder / "u.data").write_text(
        "".join(f"{u}\t{i}\t{r}\t{874965758 + k}\n" for k, (u, i, r) in enumerate(RATINGS))
    )
    lines = []
    for item, (title, genres) in TITLES.items():
        flags = "|".join("1" if g in genres.split("|") else "0" for g in ML100K_GENRES)
        lines.append(f"{item}|{title}|01-Jan-{title[-5:-1]}||http://us.imdb.com/M/x|{flags}\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    return folder, "u.data"


LAYOUTS = {"ml-latest-small": ml_latest, "ml-1m": ml_1m, "ml-100k": ml_100k}


@pytest.mark.parametrize("name", LAYOUTS)
def test_a_release_folder_trains_and_recommends_with_titles(tmp_path, name):
    folder, _ = LAYOUTS[name](tmp_path / name)
    info = invoke("data", "info", folder)
    assert info.exit_code == 0, info.output
    assert "4 users x " in info.stdout and "8 ratings" in info.stdout
    assert "item features ['title', 'year', 'genres']" in info.stdout
    model = tmp_path / "m.npz"
    out = invoke("train", folder, "-a", "biases", "-o", model)
    assert out.exit_code == 0, out.output
    assert "on 8 ratings" in out.stdout
    out = invoke("recommend", model, "--user", 3, "-n", 10, "--json")
    assert out.exit_code == 0, out.output
    shown = {row["item_id"]: row["title"] for row in json.loads(out.stdout)}
    # movies.csv lists a film nobody rated: it enters the catalogue (cold start).
    cold = {99: "Never Rated"} if name == "ml-latest-small" else {}
    assert shown == {1: "Toy Story", 543: "Misérables, Les", **cold}


def test_similar_shows_the_titles_of_a_folder(tmp_path):
    folder, _ = ml_latest(tmp_path / "ml-latest-small")
    model = tmp_path / "m.npz"
    out = invoke("train", folder, "--factors", 2, "--epochs", 2, "-q", "-o", model)
    assert out.exit_code == 0, out.output
    out = invoke("similar", model, "--item", 1, "-n", 2)
    assert out.exit_code == 0, out.output
    assert "Because you watched Toy Story:" in out.stdout
    assert "Star Wars" in out.stdout and "Misérables, Les" in out.stdout


@pytest.mark.parametrize("name", LAYOUTS)
def test_reading_flags_are_refused_for_a_folder(tmp_path, name):
    folder, ratings = LAYOUTS[name](tmp_path / name)
    line = error_line(invoke("train", folder, "--sep", ",", "-o", tmp_path / "m.npz"))
    assert line == (
        f"Error: --sep applies to ratings files, not to the MovieLens folder {folder} "
        f"(read from its {ratings})"
    )
    line = error_line(invoke("data", "info", folder, "--user-col", "u", "--sep", ","))
    assert line.startswith("Error: --user-col, --sep apply to ratings files, not to")
    # --duplicates is not among them (a repeated pair's error asks for it).
    line = error_line(invoke("data", "info", folder, "--user-col", "u", "--duplicates", "mean"))
    assert line.startswith("Error: --user-col applies to ratings files, not to")
    assert error_line(invoke("data", "info", folder, "--format", "netflix")) == (
        f"Error: --format netflix: {folder} is a MovieLens release folder (its {ratings}), "
        "not Netflix-prize files; drop --format netflix to read it"
    )
    assert not (tmp_path / "m.npz").exists()


def test_another_folder_says_which_folders_are_read(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("nothing to read\n")
    for args in (["train", tmp_path / "mine", "-o", tmp_path / "m.npz"],
                 ["data", "info", tmp_path / "mine"]):  # fmt: skip
        assert error_line(invoke(*args)) == (
            f"Error: {tmp_path / 'mine'} is a folder; give a ratings file (CSV, TSV or Parquet) "
            "or a MovieLens release folder (u.data, ratings.dat, or a ratings.csv headed "
            "userId,movieId)"
        )


def test_a_folder_of_ones_own_ratings_csv_is_no_release(tmp_path):
    # ratings.csv is a common name: without MovieLens' header the folder is not read as a
    # release (it was, and its header was then refused as lacking userId and movieId).
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "ratings.csv").write_text("user_id,item_id,rating\n1,2,4\n")
    assert ml_folder_layout(tmp_path / "mine") is None
    line = error_line(invoke("train", tmp_path / "mine", "-o", tmp_path / "m.npz"))
    assert line.startswith(f"Error: {tmp_path / 'mine'} is a folder; give a ratings file"), line
    # With MovieLens' header (a BOM before it, spaces after its commas) it is one.
    (tmp_path / "mine" / "ratings.csv").write_text("\ufeffuserId, movieId,rating\n1,2,4\n")
    assert ml_folder_layout(tmp_path / "mine") == ("ratings.csv", "read_ml_csv")


def truncated(text):  # cut in the middle of the last line: two fields left
    return text[: text.rindex(",", 0, text.rindex(","))]


BAD_LINES = [
    ("ml-latest-small", truncated, "line 9 of {f} has 2 field(s)"),
    ("ml-latest-small", lambda t: t.replace("3,50,2.0", "3,50,two"), "line 7 of {f}: the rating"),
    # A line with a field too many was read without a word (pandas kept the first four).
    ("ml-latest-small", lambda t: t.replace("3,50,2.0", "3,50,2.0,9"), "line 7 of {f} has 5"),
    ("ml-1m", lambda t: t.replace("3::50::2", "3::50::2::1::9"), "line 6 of {f} has 6 field(s)"),
    ("ml-100k", lambda t: t.replace("3\t50\t2", "3\tx\t2"), "line 6 of {f}: the movie id 'x'"),
    ("ml-100k", lambda t: t.replace("\n", "\t7\n"), "line 1 of {f} has 5 field(s)"),
]


@pytest.mark.parametrize(("name", "damage", "says"), BAD_LINES)
def test_a_bad_line_of_a_folder_is_named(tmp_path, name, damage, says):
    folder, ratings = LAYOUTS[name](tmp_path / name)
    path = folder / ratings
    path.write_text(damage(path.read_text()))
    line = error_line(invoke("train", folder, "-a", "biases", "-o", tmp_path / "m.npz"))
    assert line.startswith("Error: " + says.format(f=path)), line


def test_movielens_ratings_csv_needs_no_column_flags(tmp_path):
    folder, _ = ml_latest(tmp_path / "ml-latest-small")
    csv = folder / "ratings.csv"
    out = invoke("train", csv, "-a", "biases", "-o", tmp_path / "m.npz")
    assert out.exit_code == 0, out.output
    assert "on 8 ratings" in out.stdout
    assert out.stderr.splitlines() == [
        f"note: {csv}: read 8 rows, loaded 8, rejected 0; user ids from column 'userId', "
        "item ids from column 'movieId' (no column 'user_id', 'item_id')"
    ]
    # Named by hand: read as named, nothing said.
    out = invoke("data", "info", csv, "--user-col", "userId", "--item-col", "movieId")
    assert out.exit_code == 0 and "from column" not in out.output, out.output
    # A named column is matched exactly, with the case hint as before.
    line = error_line(invoke("train", csv, "--user-col", "userid", "-o", tmp_path / "x.npz"))
    assert "names are matched exactly: pass 'userId' for 'userid'" in line


def test_two_candidate_columns_are_refused_naming_the_flag(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("user,userId,item,rating\n1,1,10,4\n")
    line = error_line(invoke("train", csv, "-o", tmp_path / "m.npz"))
    assert line == (
        f"Error: the header (line 1 of {csv}) has no column 'user_id' and 2 that could hold "
        "the user ids ('userId', 'user'); name one: user='userId' (--user-col userId)"
    )
    out = invoke("data", "info", csv, "--user-col", "user")
    assert out.exit_code == 0, out.output


def test_spark_refuses_a_folder_and_an_ambiguous_header_before_it_starts(tmp_path):
    # Spark reads every file of a folder as ratings (movies.csv as ratings, too).
    folder, _ = ml_latest(tmp_path / "ml-latest-small")
    spark = ["--engine", "spark", "-a", "als", "-o", tmp_path / "s.npz"]
    assert error_line(invoke("train", folder, *spark)) == (
        f"Error: {folder} is a MovieLens release folder, which --engine spark does not read "
        "(it reads every file of a folder as ratings); give its ratings.csv, or train on the "
        "folder with the local engine"
    )
    csv = tmp_path / "r.csv"
    csv.write_text("user,userId,item,rating\n1,1,10,4\n")
    assert "name one: user='userId' (--user-col userId)" in error_line(invoke("train", csv, *spark))


@pytest.mark.parametrize("name", ["ml-100k", "100k", "movielens-100k"])
def test_a_folder_named_as_the_dataset_is_read_as_that_folder(tmp_path, monkeypatch, name):
    # Unzipping GroupLens' ml-100k.zip leaves a folder ml-100k; the name was taken for the
    # built-in dataset (downloaded, or its cached copy) and the folder ignored.  No data
    # home is set up here, so the built-in one could only come from a download.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATENTREC_DATA", str(tmp_path / "no-cache"))
    ml_100k(tmp_path / name)
    for source in (name, f"./{name}"):
        info = invoke("data", "info", source)
        assert info.exit_code == 0, info.output
        assert "4 users x 3 items, 8 ratings" in info.stdout
    # Spark looks at the path too: a release folder, refused before its JVM starts.
    line = error_line(invoke("train", name, "--engine", "spark", "-a", "als", "-o", "s.npz"))
    assert line.startswith(f"Error: {name} is a MovieLens release folder"), line


def test_duplicates_reaches_the_reader_of_a_folder(tmp_path):
    # The error said "(--duplicates last, mean or sum)"; the flag was then refused.
    folder, _ = ml_1m(tmp_path / "dup")
    with open(folder / "ratings.dat", "a") as f:
        f.write("1::50::1::978300800\n")  # user 1 rated item 50 a 5 before
    line = error_line(invoke("data", "info", folder))
    assert "(--duplicates last, mean or sum)" in line, line
    info = invoke("data", "info", folder, "--duplicates", "mean")
    assert info.exit_code == 0, info.output
    assert "8 ratings" in info.stdout and "merged 1 duplicate (duplicates='mean')" in info.stdout
    out = invoke("train", folder, "-a", "biases", "--duplicates", "last", "-o", tmp_path / "m.npz")
    assert out.exit_code == 0, out.output
    assert "merged 1 duplicate (duplicates='last')" in out.stderr and "on 8 ratings" in out.stdout
    from latentrec import load

    model = load(tmp_path / "m.npz")
    row, col = model.users_.index([1])[0], model.items_.index([50])[0]
    assert model.catalog_.seen[row, col] == 1  # the later rating of the pair


@pytest.mark.parametrize(("name", "advice"), [
    ("ml-1m", "give its ratings.dat with --no-header --sep ::, or train on"),
    ("ml-100k", "give its u.data with --no-header --sep tab, or train on"),
])  # fmt: skip
def test_spark_names_the_flags_that_read_a_folder_s_ratings(tmp_path, name, advice):
    # "give its ratings.dat" alone: Spark then read each line as one column named by a row.
    folder, _ = LAYOUTS[name](tmp_path / name)
    line = error_line(invoke("train", folder, "--engine", "spark", "-a", "als", "-o", "s.npz"))
    assert advice in line, line


def test_a_folder_with_two_releases_ratings_is_refused(tmp_path):
    folder, _ = ml_latest(tmp_path / "both")
    ml_100k_files, _ = ml_100k(tmp_path / "other")
    (folder / "u.data").write_bytes((ml_100k_files / "u.data").read_bytes())
    line = error_line(invoke("data", "info", folder))
    assert line == (
        f"Error: {folder} holds ratings.csv and u.data, the ratings of different MovieLens "
        "releases; keep one release per folder"
    )
