"""MovieLens readers on tiny hand-made files, the fetch logic offline, and one real fetch."""

from __future__ import annotations

import io
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentrec import DataError, datasets
from latentrec.data import movielens as ml

# ---------------------------------------------------------------------- tiny files
GENRES = ml.ML100K_GENRES

ITEMS = [
    # id, GroupLens title, release date, genres
    (1, "Toy Story (1995)", "01-Jan-1995", ["Animation", "Children's", "Comedy"]),
    (50, "Star Wars (1977)", "01-Jan-1977", ["Action", "Sci-Fi"]),
    (267, "unknown", "", ["unknown"]),
    (543, "Misérables, Les (1995)", "01-Jan-1995", ["Drama", "Musical"]),
]
RATINGS = [(1, 1, 5, 874965758), (1, 50, 4, 874965759), (2, 50, 3, 888550871), (2, 543, 1, 1)]
USERS = [(1, 24, "M", "technician", "85711"), (2, 53, "F", "other", "T8H1N")]


def write_grouplens(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS))
    lines = []
    for item, title, date, genres in ITEMS:
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        lines.append(f"{item}|{title}|{date}||http://us.imdb.com/M/x|{flags}\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    (folder / "u.user").write_text("".join("|".join(map(str, row)) + "\n" for row in USERS))
    return folder


def write_recbole(folder: Path, ratings=RATINGS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ratings)
    (folder / "ml-100k.inter").write_text(inter, encoding="utf-8")
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    for item_id, title, _, genres in ITEMS:
        if title == "unknown":  # as in RecBole's copy, misspelt
            item += f"{item_id}\tunkonwn\tunkonwn\tunknown\n"
        else:
            item += f"{item_id}\t{title[:-7]}\t{title[-5:-1]}\t{' '.join(genres)}\n"
    (folder / "ml-100k.item").write_text(item, encoding="utf-8")
    user = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    user += "".join("\t".join(map(str, row)) + "\n" for row in USERS)
    (folder / "ml-100k.user").write_text(user, encoding="utf-8")
    return folder


def check_tiny_100k(data):
    assert (data.nnz, data.n_users, data.n_items) == (4, 2, 4)
    assert data.rating_scale == (1.0, 5.0)
    assert data.users.ids.tolist() == [1, 2]
    # Item 267 has no rating; it follows the rated ones, keeping its features.
    assert data.items.ids.tolist() == [1, 50, 543, 267]
    frame = data.to_frame().sort_values(["user_id", "item_id"])
    assert frame.values.tolist() == [[u, i, r, t] for u, i, r, t in RATINGS]
    items = data.item_features
    assert items.loc[50, "title"] == "Star Wars"
    assert items.loc[50, "year"] == 1977
    assert items.loc[543, "title"] == "Misérables, Les"
    assert items.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert items.loc[267, "title"] == "unknown"
    assert pd.isna(items.loc[267, "year"])
    assert str(items["year"].dtype) == "Int64"
    users = data.user_features
    assert users.loc[2].tolist() == [53, "F", "other", "T8H1N"]
    assert users["age"].dtype == np.int64


def test_read_ml100k_grouplens_layout(tmp_path):
    check_tiny_100k(datasets.read_ml100k(write_grouplens(tmp_path / "ml-100k")))


def test_read_ml100k_recbole_layout(tmp_path):
    check_tiny_100k(datasets.read_ml100k(write_recbole(tmp_path / "ml-100k")))


def test_both_100k_layouts_give_the_same_data(tmp_path):
    a = datasets.read_ml100k(write_grouplens(tmp_path / "a"))
    b = datasets.read_ml100k(write_recbole(tmp_path / "b"))
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    pd.testing.assert_frame_equal(a.item_features, b.item_features)
    pd.testing.assert_frame_equal(a.user_features, b.user_features)


def test_read_ml100k_ratings_only(tmp_path):
    folder = write_grouplens(tmp_path)
    (folder / "u.item").unlink()
    (folder / "u.user").unlink()
    data = datasets.read_ml100k(folder)
    assert data.nnz == 4 and data.item_features is None and data.user_features is None


def test_read_ml100k_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"u\.data.*ml-100k\.inter"):
        datasets.read_ml100k(tmp_path)


def test_read_ml100k_duplicates_are_an_error_by_default(tmp_path):
    folder = write_recbole(tmp_path, ratings=[*RATINGS, (1, 1, 2, 874965800)])
    with pytest.raises(DataError, match="repeated"):
        datasets.read_ml100k(folder)
    assert datasets.read_ml100k(folder, duplicates="last").to_frame().iloc[0]["rating"] == 2


def test_read_ml100k_bad_number_names_file(tmp_path):
    folder = write_grouplens(tmp_path)
    (folder / "u.data").write_text("1\t1\tfive\t874965758\n")
    with pytest.raises(DataError, match=r"u\.data"):
        datasets.read_ml100k(folder)


def test_read_ml_dat_1m(tmp_path):
    (tmp_path / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::1\n"
    )
    (tmp_path / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi\n"
        "3::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1")
    )
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    data = datasets.read_ml_dat(tmp_path)
    assert (data.nnz, data.n_users) == (3, 2)
    assert data.rating_scale == (1.0, 5.0)
    # Movie 3 has no rating but keeps its features as a cold-start item.
    assert data.items.ids.tolist() == [661, 1193, 3]
    assert data.timestamps.tolist() == [978302109, 978300760, 1]
    items = data.item_features
    assert items.loc[661, "title"] == "Star Wars: Episode IV - A New Hope"
    assert items.loc[661, "year"] == 1977
    assert items.loc[3, "title"] == "Misérables, Les"
    assert items.loc[661, "genres"] == "Action|Sci-Fi"
    users = data.user_features
    assert users.loc[1].tolist() == [1, "F", "K-12 student", "48067"]
    assert users.loc[2, "occupation"] == "self-employed"


def test_read_ml_dat_10m_half_stars(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::122::5::838985046\n1::185::0.5::838983525\n")
    data = datasets.read_ml_dat(tmp_path)
    assert data.rating_scale == (0.5, 5.0)
    assert sorted(data.ratings.tolist()) == [0.5, 5.0]
    assert data.item_features is None and data.user_features is None


def test_read_ml_dat_wrong_separator(tmp_path):
    (tmp_path / "ratings.dat").write_text("1,122,5,838985046\n")
    with pytest.raises(DataError, match=r"ratings\.dat"):
        datasets.read_ml_dat(tmp_path)


def test_read_ml_dat_bad_movie_line(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::122::5::838985046\n")
    (tmp_path / "movies.dat").write_text("122::Boomerang (1992)::Comedy\n123 Oops\n")
    with pytest.raises(DataError, match=r"^line 2 of .*movies\.dat has 1 field\(s\)"):
        datasets.read_ml_dat(tmp_path)


def test_read_ml_csv(tmp_path):
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n"
    )
    (tmp_path / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '3,"Grumpier Old Men, The (1995) ",Comedy|Romance\n'
        "7,Unknown Film,(no genres listed)\n"
        '9,"Fawlty Towers (1975-1979)",Comedy\n'
    )
    data = datasets.read_ml_csv(tmp_path)
    assert data.rating_scale == (0.5, 5.0)
    assert data.nnz == 3 and data.n_users == 2
    assert data.items.ids.tolist() == [1, 3, 7, 9]
    assert data.user_features is None
    items = data.item_features
    assert items.loc[3, "title"] == "Grumpier Old Men, The"
    assert items.loc[3, "year"] == 1995
    assert items.loc[7, "title"] == "Unknown Film" and pd.isna(items.loc[7, "year"])
    # "(no genres listed)" is MovieLens' placeholder for none; read as a genre it was
    # counted among the genres (store info listed 19) and fed to calibration and hybrids.
    assert items.loc[7, "genres"] == ""
    assert items.loc[1, "genres"] == "Adventure|Animation|Children|Comedy|Fantasy"
    assert items.loc[9, "title"] == "Fawlty Towers" and items.loc[9, "year"] == 1975
    assert sorted(data.ratings.tolist()) == [0.5, 4.0, 4.5]


def test_read_ml_csv_rating_off_scale_names_row(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,6,0\n")
    with pytest.raises(DataError, match=r"outside the scale \[0.5, 5\]"):
        datasets.read_ml_csv(tmp_path)


def test_read_ml_csv_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        datasets.read_ml_csv(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no ratings\.csv"):
        datasets.read_ml_csv(tmp_path)


# ---------------------------------------------------------------------- fetch, offline
@pytest.mark.parametrize("name", ["1m", "10m", "25m", "latest-small", "ml-1m"])
def test_big_sets_are_not_fetched(name, tmp_path):
    with pytest.raises(ValueError, match=r"download .*yourself.*read_ml_(dat|csv)"):
        datasets.movielens(name, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="cannot be fetched"):
        datasets.fetch_movielens(name, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown MovieLens dataset '2k'.*'100k'"):
        datasets.movielens("2k", cache_dir=tmp_path)


def test_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTREC_DATA", str(tmp_path / "env"))
    assert datasets.data_home() == tmp_path / "env"
    assert datasets.data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LATENTREC_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.data_home() == tmp_path / "xdg" / "latentrec"


@pytest.fixture
def tiny_counts(monkeypatch):
    """Make the tiny files pass the MovieLens-100K size check."""
    monkeypatch.setattr(ml, "ML100K_COUNTS", (4, 2, 4))


def fail_downloads(monkeypatch):
    calls = []

    def refuse(dest, verbose):
        calls.append(dest)
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(ml, "_from_grouplens", refuse)
    monkeypatch.setattr(ml, "_from_recbole", refuse)
    return calls


def test_cached_copy_is_used_without_downloading(tmp_path, monkeypatch, tiny_counts):
    write_grouplens(tmp_path / "ml-100k")
    calls = fail_downloads(monkeypatch)
    data = datasets.movielens(cache_dir=tmp_path, verbose=False)
    check_tiny_100k(data)
    assert datasets.fetch_movielens(cache_dir=tmp_path, verbose=False) == tmp_path / "ml-100k"
    assert calls == []


def test_download_is_checked_and_installed(tmp_path, monkeypatch, tiny_counts, capsys):
    def fake_recbole(dest, verbose):
        write_recbole(dest)
        return "source test"

    def offline(dest, verbose):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(ml, "_from_grouplens", offline)
    monkeypatch.setattr(ml, "_from_recbole", fake_recbole)
    folder = datasets.fetch_movielens(cache_dir=tmp_path / "cache")
    assert folder == tmp_path / "cache" / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == [
        "SOURCE.txt", "ml-100k.inter", "ml-100k.item", "ml-100k.user",
    ]  # fmt: skip
    assert (folder / "SOURCE.txt").read_text().startswith("source test")
    # Nothing half-written is left beside it.
    assert [p.name for p in folder.parent.iterdir()] == ["ml-100k"]
    err = capsys.readouterr().err
    assert "offline" in err and "cached in" in err

    calls = fail_downloads(monkeypatch)
    check_tiny_100k(datasets.movielens(cache_dir=tmp_path / "cache", verbose=False))
    assert calls == []


def test_a_cache_folder_that_cannot_be_written_is_named_before_any_download(tmp_path, monkeypatch):
    """A service user without a home: each source failed in turn on the same folder, and
    the advice was to download by hand; the folder and the way to choose another are said."""
    calls = fail_downloads(monkeypatch)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")  # nothing can be made below a file, root or not
    with pytest.raises(ml.DatasetFetchError) as err:
        datasets.fetch_movielens(cache_dir=blocked / "cache", verbose=False)
    text = str(err.value)
    assert f"cache folder {blocked / 'cache'}: cannot be written" in text
    assert "--cache-dir" in text and "LATENTREC_DATA" in text
    assert calls == []


def test_damaged_cache_is_replaced(tmp_path, monkeypatch, tiny_counts):
    folder = write_recbole(tmp_path / "ml-100k", ratings=RATINGS[:2])
    monkeypatch.setattr(ml, "_from_grouplens", lambda dest, verbose: write_grouplens(dest).name)
    data = datasets.movielens(cache_dir=tmp_path, verbose=False)
    check_tiny_100k(data)
    assert (folder / "u.data").is_file() and not (folder / "ml-100k.inter").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ml-100k"]


def test_wrong_counts_are_refused(tmp_path, monkeypatch):
    write_grouplens(tmp_path / "ml-100k")
    fail = urllib.error.URLError("offline")
    monkeypatch.setattr(ml, "_from_grouplens", lambda dest, verbose: (_ for _ in ()).throw(fail))
    monkeypatch.setattr(ml, "_from_recbole", lambda dest, verbose: write_recbole(dest).name)
    with pytest.raises(datasets.DatasetFetchError) as info:
        datasets.movielens(cache_dir=tmp_path, verbose=False)
    message = str(info.value)
    assert "4 ratings, 2 users and 4 items; expected 100000, 943 and 1682" in message
    assert len(info.value.failures) == 3
    # The damaged cache is left as it was, and no temporary folder remains.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]
    assert (tmp_path / "ml-100k" / "u.data").is_file()


def test_all_sources_failing_lists_each(tmp_path, monkeypatch):
    def no_network(request, timeout):
        assert timeout <= 10
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    def no_pip(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "recbole==1.2.1" in cmd
        assert kwargs["timeout"] <= 120
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(subprocess, "run", no_pip)
    with pytest.raises(datasets.DatasetFetchError) as info:
        datasets.movielens(cache_dir=tmp_path / "c", verbose=False)
    err = info.value
    assert isinstance(err, OSError)
    sources = [source for source, _ in err.failures]
    assert sources[0] == f"cache {tmp_path / 'c' / 'ml-100k'}"
    assert "files.grouplens.org" in sources[1] and "recbole==1.2.1" in sources[2]
    message = str(err)
    assert "not cached yet" in message
    assert "Name or service not known" in message
    assert "No matching distribution found" in message
    assert "read_ml100k" in message
    assert not (tmp_path / "c" / "ml-100k").exists()


def test_recbole_wheel_checksum_is_enforced(tmp_path, monkeypatch):
    def fake_pip(cmd, **kwargs):
        wheel = Path(cmd[cmd.index("-d") + 1]) / "recbole-1.2.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(ml.RECBOLE_MEMBER.format("inter"), "tampered")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(OSError, match="sha256 .* expected 9c994820"):
        ml._from_recbole(dest, verbose=False)
    assert not any(dest.iterdir())


def test_grouplens_archive_is_unpacked_safely(tmp_path, monkeypatch):
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr("ml-100k/u.data", "1\t1\t5\t0\n")
        archive.writestr("ml-100k/sub/u.data", "nested")
        archive.writestr("../evil.txt", "outside")

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(payload.getvalue()))}

    monkeypatch.setattr(
        urllib.request, "urlopen", lambda req, timeout: Response(payload.getvalue())
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    provenance = ml._from_grouplens(dest, verbose=False)
    assert provenance.startswith(f"source {ml.GROUPLENS_URL}\nsha256 ")
    assert [p.name for p in dest.iterdir()] == ["u.data"]
    assert (dest / "u.data").read_text() == "1\t1\t5\t0\n"
    assert not (tmp_path / "evil.txt").exists()


# ---------------------------------------------------------------------- real data
@pytest.mark.network
def test_real_movielens_100k(tmp_path, monkeypatch):
    data = datasets.movielens("100k", cache_dir=tmp_path, verbose=False)
    assert (data.nnz, data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert 1 in data.users
    assert data.item_titles([50]).tolist() == ["Star Wars"]
    assert data.item_features.loc[50, "year"] == 1977
    assert data.user_features.loc[1, "age"] == 24
    assert data.timestamps is not None and data.timestamps.min() > 8e8
    assert sorted(set(data.ratings.tolist())) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert data.item_features["year"].isna().sum() == 1  # item 267, "unknown"

    calls = fail_downloads(monkeypatch)
    again = datasets.movielens("100k", cache_dir=tmp_path, verbose=False)
    assert calls == []
    assert again.fingerprint() == data.fingerprint()


ML_CSV_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n2,1,0.5,964982224\n"


def test_read_ml_folder_says_why_it_holds_no_release(tmp_path):
    # Both said "holds no MovieLens ratings file (ratings.csv, ...)": one with a
    # ratings.csv in it, one that does not exist.
    own = tmp_path / "own"
    own.mkdir()
    (own / "ratings.csv").write_text("user_id,item_id,rating\n1,2,4\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(own)
    assert str(err.value) == (
        f"{own / 'ratings.csv'} is not MovieLens' ratings.csv: its header is "
        "'user_id,item_id,rating', not userId,movieId,rating,timestamp; read it as a ratings "
        "file (Interactions.read, or give the file itself on the command line)"
    )
    with pytest.raises(FileNotFoundError, match=r"^no such folder: .*nowhere$"):
        datasets.read_ml_folder(tmp_path / "nowhere")
    (tmp_path / "f.csv").write_text(ML_CSV_RATINGS)
    with pytest.raises(NotADirectoryError, match="is a file, not a MovieLens release folder"):
        datasets.read_ml_folder(tmp_path / "f.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no MovieLens ratings file"):
        datasets.read_ml_folder(tmp_path / "empty")


def test_two_releases_in_one_folder_are_refused(tmp_path):
    # ratings.csv was read and u.data left without a word.
    (tmp_path / "ratings.csv").write_text(ML_CSV_RATINGS)
    (tmp_path / "u.data").write_text("1\t1\t4\t874965758\n")
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(tmp_path)
    assert str(err.value) == (
        f"{tmp_path} holds ratings.csv and u.data, the ratings of different MovieLens "
        "releases; keep one release per folder"
    )
    assert "\n" not in str(err.value)
    # u.data and RecBole's ml-100k.inter are one release, read by one reader: not refused.
    (tmp_path / "ratings.csv").unlink()
    (tmp_path / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\n")
    assert ml.ml_folder_layout(tmp_path) == ("u.data", "read_ml100k")


@pytest.mark.parametrize(("movies", "text", "says"), [
    ("movies.csv", "movieId,title,genres\n1,A (1995),Drama\n377,B (1994),Drama\n"
     "377,B again (1994),Drama\n", "movies.csv lists movie id 377 more than once, at lines 3, 4"),
    ("movies.dat", "1::A (1995)::Drama\n377::B (1994)::Drama\n\n377::C (1994)::Comedy\n",
     "movies.dat lists movie id 377 more than once, at lines 2, 4"),
])  # fmt: skip
def test_a_repeated_movie_id_names_the_file_and_lines(tmp_path, movies, text, says):
    # It said "item_features has repeated item ids: [377]", a name the user never gave.
    if movies == "movies.csv":
        (tmp_path / "ratings.csv").write_text(ML_CSV_RATINGS)
    else:
        (tmp_path / "ratings.dat").write_text("1::1::4::978300760\n")
    (tmp_path / movies).write_text(text)
    with pytest.raises(DataError) as err:
        datasets.read_ml_folder(tmp_path)
    assert says in str(err.value) and str(tmp_path / movies) in str(err.value)
    assert "item_features" not in str(err.value)


def test_interactions_read_points_from_a_release_to_what_reads_it(tmp_path):
    from latentrec import Interactions

    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text(ML_CSV_RATINGS)
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A (1995),Drama\n")
    with pytest.raises(DataError, match=r"latentrec\.datasets\.read_ml_folder\("):
        Interactions.read(folder)
    # The release's .zip as GroupLens serves it: a folder of several files.
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("ratings.csv", "movies.csv"):
            zf.write(folder / name, f"ml-latest-small/{name}")
    with pytest.raises(DataError) as err:
        Interactions.read(archive)
    assert str(err.value).endswith(
        "holds 2 files; expected one ratings file: it is a MovieLens release "
        "(ml-latest-small/ratings.csv inside); unzip it and give the folder ml-latest-small "
        "(latentrec.datasets.read_ml_folder, or the folder on the command line)"
    )
    other = tmp_path / "two.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("a.csv", "user_id,item_id\n1,2\n")
        zf.writestr("b.csv", "user_id,item_id\n1,2\n")
    with pytest.raises(DataError, match="unzip it and give the ratings file inside$"):
        Interactions.read(other)
