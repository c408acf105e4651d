"""MovieLens: readers for the GroupLens file layouts and a cached fetch of MovieLens-100K.

Three readers cover the layouts GroupLens has published:

* :func:`read_ml100k` -- ``u.data`` / ``u.item`` / ``u.user`` (ml-100k), or the same data as
  RecBole atomic files (``ml-100k.inter`` / ``.item`` / ``.user``);
* :func:`read_ml_dat` -- ``ratings.dat`` / ``movies.dat`` / ``users.dat`` with ``::`` between
  fields (ml-1m, ml-10m);
* :func:`read_ml_csv` -- ``ratings.csv`` / ``movies.csv`` (ml-latest, ml-latest-small, ml-20m,
  ml-25m, ml-32m).

All return :class:`~latentrec.data.Interactions` with timestamps, a rating scale and, where
the files exist, side tables: items get ``title`` (without the year), ``year`` (nullable
integer) and ``genres`` (``|``-joined); users get ``age``, ``gender``, ``occupation`` and
``zip_code``.  One-hot genre columns are one call away:
``data.item_features["genres"].str.get_dummies("|")``.

Only MovieLens-100K is small and freely redistributed enough to fetch automatically:
:func:`fetch_movielens` tries the local cache, then the GroupLens archive, then the copy
shipped inside the ``recbole`` wheel on PyPI (checked against a pinned SHA-256).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from array import array
from itertools import repeat
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from .build import assemble, frame_columns
from .columns import finite_number, whole_number
from .interactions import DataError, Interactions
from .readers import csv_fields_up_to, header_fields, header_line, records, text_lines
from .report import Places

__all__ = [
    "DatasetFetchError",
    "data_home",
    "fetch_movielens",
    "load_movielens",
    "ml_folder_layout",
    "read_ml100k",
    "read_ml_csv",
    "read_ml_dat",
    "read_ml_folder",
]

#: (ratings, users, items) of the genuine MovieLens-100K.
ML100K_COUNTS = (100_000, 943, 1_682)
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{}"
URL_TIMEOUT_S = 5.0
# pip needs a little longer than one socket timeout: it starts a Python, resolves the
# index page and then downloads a 2 MB wheel.
PIP_TIMEOUT_S = 90.0

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

#: ml-1m ``users.dat`` occupation codes (from the ml-1m README).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

_FETCHABLE = {"100k": "ml-100k"}
_READ_YOURSELF = {
    "1m": ("ml-1m", "read_ml_dat"),
    "10m": ("ml-10m", "read_ml_dat"),
    "20m": ("ml-20m", "read_ml_csv"),
    "25m": ("ml-25m", "read_ml_csv"),
    "32m": ("ml-32m", "read_ml_csv"),
    "latest": ("ml-latest", "read_ml_csv"),
    "latest-small": ("ml-latest-small", "read_ml_csv"),
}

_YEAR_SUFFIX = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")


class DatasetFetchError(OSError):
    """No source could provide a dataset; ``failures`` holds ``(source, reason)`` pairs.

    Example:
        >>> err = DatasetFetchError("ml-100k", [("cache", "empty"), ("mirror", "offline")])
        >>> err.failures[1]
        ('mirror', 'offline')
    """

    def __init__(self, dataset: str, failures: list[tuple[str, str]], advice: str | None = None):
        self.dataset = dataset
        self.failures = list(failures)
        lines = "\n".join(f"  - {source}: {reason}" for source, reason in self.failures)
        if advice is None:
            advice = (
                f"Download {GROUPLENS_URL} yourself, unzip it and call "
                f"latentrec.datasets.read_ml100k('<folder>/ml-100k'), or place the unzipped "
                f"ml-100k folder in the cache directory (see latentrec.datasets.data_home())."
            )
        super().__init__(f"could not get {dataset} from any source; tried:\n{lines}\n{advice}")

    def __str__(self) -> str:  # OSError would otherwise show only its first argument
        return self.args[0]


# ---------------------------------------------------------------------- readers
def read_ml100k(folder: str | Path, *, duplicates: str = "error") -> Interactions:
    """Read MovieLens-100K from a folder in the GroupLens or the RecBole layout.

    GroupLens: ``u.data`` (tab-separated user, item, rating, timestamp), ``u.item``
    (``|``-separated, Latin-1, 19 genre flags) and ``u.user``.  RecBole: ``ml-100k.inter``,
    ``ml-100k.item`` and ``ml-100k.user`` (tab-separated with typed headers).  The ratings
    file is required; the item and user files are read when present.

    Args:
        folder: the directory holding the files.
        duplicates: policy for repeated (user, item) pairs, see
            :meth:`Interactions.from_frame`; MovieLens has none, so the default is to fail.

    Example:
        >>> data = read_ml100k("~/Downloads/ml-100k")  # doctest: +SKIP
        >>> data.item_features.loc[50, ["title", "year"]].tolist()  # doctest: +SKIP
        ['Star Wars', 1977]
    """
    folder = Path(folder).expanduser()
    if (folder / "u.data").is_file():
        ratings, items, users = _read_grouplens_100k(folder)
        try:
            return _build(ratings, items, users, (1.0, 5.0), duplicates, folder / "u.data")
        except DataError as err:
            # A repeated pair or an off-scale rating, named by its line of u.data.
            frame = (ratings, items, users, (1.0, 5.0), duplicates)
            raise _ratings_error(
                folder / "u.data", err, sep="\t", header=None, frame=frame
            ) from None
    if (folder / "ml-100k.inter").is_file():
        ratings, items, users = _read_recbole_100k(folder)
        try:
            return _build(ratings, items, users, (1.0, 5.0), duplicates, folder / "ml-100k.inter")
        except DataError as err:
            frame = (ratings, items, users, (1.0, 5.0), duplicates)
            raise _ratings_error(
                folder / "ml-100k.inter", err, sep="\t", header=_RB_INTER, frame=frame, typed=True
            ) from None
    raise FileNotFoundError(
        f"no MovieLens-100K ratings in {folder}: expected u.data (GroupLens layout) "
        f"or ml-100k.inter (RecBole layout)"
    )


def read_ml_dat(folder: str | Path, *, duplicates: str = "error") -> Interactions:
    """Read MovieLens-1M or -10M: ``::``-separated ``ratings.dat``, ``movies.dat``, ``users.dat``.

    The rating scale is (1, 5) when every rating is a whole star (ml-1m) and (0.5, 5)
    otherwise (ml-10m).  ``users.dat`` (ml-1m only) gives ``age`` as the lower bound of
    the published age bracket (1 means under 18) and ``occupation`` decoded to its name.

    Example:
        >>> data = read_ml_dat("~/Downloads/ml-1m")  # doctest: +SKIP
        >>> data.nnz, data.rating_scale  # doctest: +SKIP
        (1000209, (1.0, 5.0))
    """
    folder = Path(folder).expanduser()
    path = _require(folder, "ratings.dat", "MovieLens-1M/10M ratings")
    # Splitting on a single ':' keeps pandas on its fast C parser (a multi-character
    # separator forces the slow Python engine); '::' then leaves empty columns between
    # the fields, and only the odd ones are read.
    try:
        ratings = _read_table(
            path,
            sep=":",
            header=None,
            usecols=[0, 2, 4, 6],
            names=["user_id", "_1", "item_id", "_3", "rating", "_5", "timestamp"],
            dtype={
                "user_id": np.int64,
                "item_id": np.int64,
                "rating": np.float64,
                "timestamp": np.int64,
            },
        )
    except DataError as err:
        raise _ratings_error(path, err, sep="::", header=None) from None
    _check_widths(path, ratings, sep="::", header=None)

    items = None
    movies = folder / "movies.dat"
    if movies.is_file():
        items, lines = _read_side(movies, _MOVIES_DAT)
        _unique_ids(items, lines, movies, "movie")
        items = _with_title_year(items, None).set_index("item_id")

    users = None
    users_path = folder / "users.dat"
    if users_path.is_file():
        users, lines = _read_side(users_path, _USERS_DAT)
        _unique_ids(users, lines, users_path, "user")
        codes = users["occupation"].to_numpy()
        names = np.array(ML1M_OCCUPATIONS, dtype=object)
        known = (codes >= 0) & (codes < len(names))
        users["occupation"] = np.where(
            known, names[np.clip(codes, 0, len(names) - 1)], codes.astype(str)
        )
        users = users[["user_id", "age", "gender", "occupation", "zip_code"]].set_index("user_id")

    vals = ratings["rating"].to_numpy()
    whole = bool(np.all(vals == np.round(vals))) and (vals.size == 0 or vals.min() >= 1)
    scale = (1.0, 5.0) if whole else (0.5, 5.0)
    try:
        return _build(ratings, items, users, scale, duplicates, path)
    except DataError as err:
        raise _ratings_error(
            path, err, sep="::", header=None, frame=(ratings, items, users, scale, duplicates)
        ) from None


def read_ml_csv(folder: str | Path, *, duplicates: str = "error") -> Interactions:
    """Read ml-latest(-small), ml-20m, ml-25m or ml-32m: ``ratings.csv`` and ``movies.csv``.

    Ratings are half stars on the scale (0.5, 5).  ``movies.csv`` is optional; movies
    listed there without any rating still enter the item vocabulary (cold-start items).

    Example:
        >>> data = read_ml_csv("~/Downloads/ml-latest-small")  # doctest: +SKIP
        >>> data.nnz, data.rating_scale  # doctest: +SKIP
        (100836, (0.5, 5.0))
    """
    folder = Path(folder).expanduser()
    path = _require(folder, "ratings.csv", "MovieLens CSV ratings")
    try:
        ratings = _read_table(
            path,
            usecols=list(ML_CSV_COLUMNS),
            dtype={
                "userId": np.int64,
                "movieId": np.int64,
                "rating": np.float64,
                "timestamp": np.int64,
            },
        ).rename(columns={"userId": "user_id", "movieId": "item_id"})
    except DataError as err:
        raise _ratings_error(path, err, sep=",", header=ML_CSV_COLUMNS) from None
    _check_widths(path, ratings, sep=",", header=ML_CSV_COLUMNS)

    items = None
    movies = folder / "movies.csv"
    if movies.is_file():
        items, lines = _read_side(movies, _MOVIES_CSV)
        _unique_ids(items, lines, movies, "movie")
        items = _with_title_year(items, None).set_index("item_id")
    try:
        return _build(ratings, items, None, (0.5, 5.0), duplicates, path)
    except DataError as err:
        frame = (ratings, items, None, (0.5, 5.0), duplicates)
        raise _ratings_error(path, err, sep=",", header=ML_CSV_COLUMNS, frame=frame) from None


#: The ratings file that marks each MovieLens release folder, and the reader of that layout.
ML_FOLDER_LAYOUTS = (
    ("ratings.csv", "read_ml_csv"),
    ("ratings.dat", "read_ml_dat"),
    ("u.data", "read_ml100k"),
    ("ml-100k.inter", "read_ml100k"),
)


def ml_folder_layout(folder: str | Path) -> tuple[str, str] | None:
    """``(ratings file, reader name)`` of the MovieLens release in ``folder``, or ``None``
    when it holds none of :data:`ML_FOLDER_LAYOUTS` (the first found wins).  A
    ``ratings.csv`` counts only with MovieLens' own header (``userId,movieId,...``): the
    name is a common one, and a folder of someone's own ``ratings.csv`` is no release.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> ml_folder_layout(folder) is None
        True
        >>> _ = open(os.path.join(folder, "ratings.dat"), "w").write("1::10::5::978300760\\n")
        >>> ml_folder_layout(folder)
        ('ratings.dat', 'read_ml_dat')
    """
    folder = Path(folder).expanduser()
    found = []
    for name, reader in ML_FOLDER_LAYOUTS:
        if (folder / name).is_file():
            if name == "ratings.csv" and not _movielens_csv_header(folder / name):
                continue
            found.append((name, reader))
    readers = {reader for _, reader in found}
    if len(readers) > 1:
        # Two releases' ratings in one folder: reading either would silently leave the other.
        names = " and ".join(name for name, _ in found)
        raise DataError(
            f"{folder} holds {names}, the ratings of different MovieLens releases; "
            "keep one release per folder"
        )
    return found[0] if found else None


def _movielens_csv_header(path: Path) -> bool:
    head = header_fields(path, sep=",")
    # A header that cannot be read here is the reader's to name.
    return head is None or [f.strip() for f in head[0][:2]] == ["userId", "movieId"]


def read_ml_folder(folder: str | Path, *, duplicates: str = "error") -> Interactions:
    """Read a MovieLens release folder with the reader its files call for:
    ``ratings.csv`` (ml-latest, ml-20m, ml-25m, ml-32m) by :func:`read_ml_csv`,
    ``ratings.dat`` (ml-1m, ml-10m) by :func:`read_ml_dat`, ``u.data`` or
    ``ml-100k.inter`` (ml-100k) by :func:`read_ml100k`; titles, years and genres come
    with it.

    Raises:
        FileNotFoundError: no such folder, or it holds none of those files (the message
            lists them).
        DataError: its ``ratings.csv`` is not headed as MovieLens' (``userId,movieId``),
            or it holds the ratings of two releases (``ratings.csv`` and ``u.data``...).

    Example:
        >>> data = read_ml_folder("~/Downloads/ml-latest-small")  # doctest: +SKIP
        >>> data.item_titles([1]).tolist()  # doctest: +SKIP
        ['Toy Story']
    """
    where = Path(folder).expanduser()
    if not where.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    if not where.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a MovieLens release folder")
    layout = ml_folder_layout(folder)
    if layout is None:
        own = where / "ratings.csv"
        if own.is_file():
            # Found by name but refused by its header (which _movielens_csv_header read,
            # so it is there to quote): say so, not "holds no ratings file".
            head = header_line(own)
            shown = "" if head is None else head[0].strip()[:200]
            raise DataError(
                f"{own} is not MovieLens' ratings.csv: its header is {shown!r}, "
                "not userId,movieId,rating,timestamp; read it as a ratings file "
                "(Interactions.read, or give the file itself on the command line)"
            )
        names = ", ".join(name for name, _ in ML_FOLDER_LAYOUTS)
        raise FileNotFoundError(f"{folder} holds no MovieLens ratings file ({names})")
    reader = {"read_ml_csv": read_ml_csv, "read_ml_dat": read_ml_dat, "read_ml100k": read_ml100k}
    return reader[layout[1]](folder, duplicates=duplicates)


# ---------------------------------------------------------------------- fetch
def data_home(cache_dir: str | Path | None = None) -> Path:
    """The dataset cache folder: ``cache_dir``, else ``$LATENTREC_DATA``, else the user cache.

    The user cache is ``$XDG_CACHE_HOME/latentrec`` or ``~/.cache/latentrec``.  The folder
    is not created here.

    Example:
        >>> str(data_home("/tmp/lr-data"))
        '/tmp/lr-data'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("LATENTREC_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "latentrec"


def fetch_movielens(
    name: str = "100k", cache_dir: str | Path | None = None, *, verbose: bool = True
) -> Path:
    """Make sure MovieLens ``name`` is in the cache and return its folder.

    Sources, in order, each given a few seconds before moving on: the cache folder
    (``data_home(cache_dir) / "ml-100k"``), the GroupLens archive, and the ``recbole``
    wheel on PyPI fetched with pip and checked against a pinned SHA-256.  A download is
    checked (100,000 ratings, 943 users, 1,682 items) and then moved into the cache in
    one rename, so an interrupted fetch never leaves a half-written folder.

    Only ``"100k"`` can be fetched; the larger sets (``"1m"``, ``"10m"``, ``"20m"``,
    ``"25m"``, ``"32m"``, ``"latest"``, ``"latest-small"``) must be downloaded by hand
    and read with :func:`read_ml_dat` or :func:`read_ml_csv`.

    Raises:
        DatasetFetchError: no source worked; the message lists each source and why.
        ValueError: ``name`` is not fetchable.

    Example:
        >>> folder = fetch_movielens("100k")  # doctest: +SKIP
        >>> sorted(p.name for p in folder.iterdir())[:3]  # doctest: +SKIP
        ['SOURCE.txt', 'ml-100k.inter', 'ml-100k.item']
    """
    return _get_100k(_fetch_name(name), cache_dir, verbose)[0]


def load_movielens(
    name: str = "100k", *, cache_dir: str | Path | None = None, verbose: bool = True
) -> Interactions:
    """MovieLens ``name`` as :class:`Interactions`, fetched into the cache when needed.

    See :func:`fetch_movielens` for the sources and ``latentrec.datasets.movielens`` for
    the columns.

    Example:
        >>> load_movielens("100k").shape  # doctest: +SKIP
        (943, 1682)
    """
    return _get_100k(_fetch_name(name), cache_dir, verbose)[1]


def _fetch_name(name: str) -> str:
    key = str(name).lower().removeprefix("ml-")
    if key in _FETCHABLE:
        return _FETCHABLE[key]
    if key in _READ_YOURSELF:
        folder, reader = _READ_YOURSELF[key]
        raise ValueError(
            f"MovieLens {name!r} cannot be fetched automatically (its licence does not allow "
            f"redistribution and it is large); download "
            f"https://files.grouplens.org/datasets/movielens/{folder}.zip yourself, unzip it "
            f"and read it with latentrec.datasets.{reader}('<folder>/{folder}')"
        )
    known = ", ".join(repr(k) for k in (*_FETCHABLE, *_READ_YOURSELF))
    raise ValueError(f"unknown MovieLens dataset {name!r}; known names: {known}")


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(f"latentrec: {message}", file=sys.stderr, flush=True)


def _downloaders():
    # Looked up at call time so tests can replace a source on the module.
    return [
        (f"GroupLens archive {GROUPLENS_URL}", _from_grouplens),
        (f"PyPI wheel {RECBOLE_REQUIREMENT} via pip", _from_recbole),
    ]


def _get_100k(dataset: str, cache_dir, verbose: bool) -> tuple[Path, Interactions]:
    root = data_home(cache_dir)
    folder = root / dataset
    failures: list[tuple[str, str]] = []
    cache_label = f"cache {folder}"
    if folder.is_dir():
        try:
            data = _checked_100k(folder)
        except Exception as err:  # a damaged copy is replaced by a fresh download
            failures.append((cache_label, _reason(err)))
            _say(verbose, f"cached copy in {folder} is unusable ({_reason(err)}); fetching anew")
        else:
            return folder, data
    else:
        failures.append((cache_label, "not cached yet"))

    try:  # every source would fail the same way, each after its own attempt
        root.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except OSError as err:
        failures.append((f"cache folder {root}", f"cannot be written: {_reason(err)}"))
        raise DatasetFetchError(
            dataset,
            failures,
            "Give a folder you can write: cache_dir=... (latentrec data fetch --cache-dir "
            "FOLDER) or the LATENTREC_DATA environment variable.",
        ) from None
    for label, download in _downloaders():
        _say(verbose, f"fetching {dataset} from {label} ...")
        started = time.perf_counter()
        tmp = None
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{dataset}-", dir=root))
            provenance = download(tmp, verbose)
            data = _checked_100k(tmp)
            (tmp / "SOURCE.txt").write_text(
                f"{provenance}\nfetched {time.strftime('%Y-%m-%d %H:%M:%S %z')} by latentrec\n",
                encoding="utf-8",
            )
            _install(tmp, folder)
            tmp = None
        except Exception as err:
            failures.append((label, _reason(err)))
            _say(verbose, f"  failed: {_reason(err)}")
            continue
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        _say(verbose, f"  done in {time.perf_counter() - started:.1f} s; cached in {folder}")
        return folder, data
    raise DatasetFetchError(dataset, failures)


def _reason(err: BaseException) -> str:
    text = str(err).strip() or "no details"
    return f"{type(err).__name__}: {text}"


def _checked_100k(folder: Path) -> Interactions:
    for needed in (("u.item", "ml-100k.item"), ("u.user", "ml-100k.user")):
        if not any((folder / f).is_file() for f in needed):
            raise FileNotFoundError(f"{folder} has no {' or '.join(needed)}")
    data = read_ml100k(folder)
    got = (data.nnz, data.n_users, data.n_items)
    if got != ML100K_COUNTS:
        raise DataError(
            f"{folder} is not the genuine MovieLens-100K: it has {got[0]} ratings, "
            f"{got[1]} users and {got[2]} items; expected {ML100K_COUNTS[0]}, "
            f"{ML100K_COUNTS[1]} and {ML100K_COUNTS[2]}"
        )
    return data


def _install(tmp: Path, folder: Path) -> None:
    """Put the complete folder ``tmp`` at ``folder`` with renames only."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}-old-{os.getpid()}-{time.time_ns()}")
        os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        # Another process installed a copy in between; theirs is as good as ours.
        if not folder.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _from_grouplens(dest: Path, verbose: bool) -> str:
    from tqdm.auto import tqdm

    request = urllib.request.Request(GROUPLENS_URL, headers={"User-Agent": "latentrec"})
    with urllib.request.urlopen(request, timeout=URL_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        buffer = io.BytesIO()
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            disable=not verbose,
            desc="ml-100k.zip",
            file=sys.stderr,
        ) as bar:
            while chunk := response.read(1 << 16):
                buffer.write(chunk)
                bar.update(len(chunk))
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    with zipfile.ZipFile(buffer) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            # Only plain files directly inside ml-100k/: nothing in the archive can
            # name a path outside ``dest``.
            if info.is_dir() or len(parts) != 2 or parts[0] != "ml-100k":
                continue
            (dest / parts[1]).write_bytes(archive.read(info))
    return f"source {GROUPLENS_URL}\nsha256 {digest}"


def _from_recbole(dest: Path, verbose: bool) -> str:
    with tempfile.TemporaryDirectory() as download_dir:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--timeout",
            str(int(URL_TIMEOUT_S)),
            "--retries",
            "1",
            RECBOLE_REQUIREMENT,
            "-d",
            download_dir,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"pip download did not finish in {PIP_TIMEOUT_S:g} s") from None
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            detail = " | ".join(lines[-2:]) or f"exit status {proc.returncode}"
            raise OSError(f"pip download failed: {detail}")
        wheels = sorted(Path(download_dir).glob("recbole-*.whl"))
        if not wheels:
            raise FileNotFoundError("pip reported success but left no recbole wheel")
        wheel = wheels[0]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != RECBOLE_WHEEL_SHA256:
            raise OSError(
                f"{wheel.name} has sha256 {digest}, expected {RECBOLE_WHEEL_SHA256}; "
                f"refusing to use it"
            )
        with zipfile.ZipFile(wheel) as archive:
            for ext in ("inter", "item", "user"):
                member = RECBOLE_MEMBER.format(ext)
                try:
                    payload = archive.read(member)
                except KeyError:
                    raise FileNotFoundError(f"{wheel.name} has no {member}") from None
                (dest / f"ml-100k.{ext}").write_bytes(payload)
    return f"source {RECBOLE_REQUIREMENT} wheel {wheel.name} on PyPI\nsha256 {digest}"


# ---------------------------------------------------------------------- parsing helpers
def _require(folder: Path, name: str, what: str) -> Path:
    path = folder / name
    if not path.is_file():
        if not folder.is_dir():
            raise FileNotFoundError(f"no such folder: {folder}")
        raise FileNotFoundError(f"no {name} in {folder} (expected {what} there)")
    return path


def _read_table(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv(path, **kwargs)``, its errors a :class:`DataError`.  An integer
    column that pandas read through float64 (one cell spelled ``12.0`` makes it read the
    whole column so) lost the last digits of any value beyond 2**53 without a word
    (1152921504606846977 came back ...976): where a value is that large, the column is
    read again as text and each cell taken exactly, by :func:`_whole_cell`'s rule."""
    try:
        table = pd.read_csv(path, engine="c", **kwargs)
        dtype = kwargs.get("dtype", {})
        large = [
            name for name, kind in dtype.items()
            if kind is np.int64 and name in table
            and ((table[name] >= 2**53) | (table[name] <= -(2**53))).any()
        ]  # fmt: skip
        if large:
            text = pd.read_csv(
                path, engine="c", **{**kwargs, "dtype": {**dtype, **dict.fromkeys(large, str)}}
            )
            for name in large:
                exact = [_whole_cell(cell)[0] for cell in text[name]]
                if None in exact:  # the line reader names the cell
                    raise ValueError(f"column {name} holds a cell that is no whole number")
                table[name] = np.array(exact, dtype=np.int64)
        return table
    # An id beyond int64 is an OverflowError, not a ValueError: it came out unnamed.
    except (ValueError, OverflowError, pd.errors.ParserError) as err:
        raise DataError(f"cannot parse {path}: {err}") from err


def _unique_ids(table: pd.DataFrame, lines: np.ndarray, path: Path, what: str) -> None:
    """Refuse a side file that lists one id twice, naming the file and its lines (the
    frame would otherwise be refused as "item_features", a name the user never gave)."""
    column = table.columns[0]
    repeated = table[column][table[column].duplicated()]
    if repeated.empty:
        return
    first = int(repeated.iloc[0])
    at = lines[(table[column] == first).to_numpy()]
    more = f" ({repeated.nunique()} ids repeated)" if repeated.nunique() > 1 else ""
    raise DataError(
        f"{path} lists {what} id {first} more than once, at lines "
        f"{', '.join(map(str, at[:5].tolist()))}{more}; each {what} takes one line",
        source=str(path), where=tuple(at[:5].tolist()), unit="line",
    )  # fmt: skip


def _decode(path: Path) -> str:
    # A BOM (what Windows editors write at the head of "UTF-8") is no part of the first
    # id: pandas skips it in the ratings file, and the side file beside it refused
    # "the movie id '\ufeff1'".  Taken off as bytes, a Latin-1 file loses it too.
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # ml-1m and ml-100k predate UTF-8 at GroupLens: their titles are Latin-1.
        return raw.decode("latin-1")


@dataclasses.dataclass(frozen=True)
class _SideFile:
    """How a MovieLens side file (movies, users) is laid out, for reading and messages.

    ``fields`` are the frame's column names in the file's order (``header``: the names
    its header line must hold instead, found by name); ``whole`` those holding whole
    numbers; ``flags`` those holding 0 or 1; ``said`` each column as messages name it.
    ``typed``: RecBole's layout, every line split at each separator (quotes are text)
    and each header name followed by its type (``item_id:token``).
    """

    fields: tuple
    sep: str
    said: tuple
    whole: tuple = ()
    flags: tuple = ()
    header: tuple | None = None
    typed: bool = False

    @property
    def layout(self) -> str:
        if self.typed:
            return ", ".join(self.header)
        if self.header is not None:
            return self.sep.join(self.header)
        if self.flags:  # u.item: 19 flags, named once
            plain = self.said[: len(self.said) - len(self.flags)]
            return self.sep.join((*plain, f"{len(self.flags)} genre flags"))
        return self.sep.join(self.said)


_MOVIES_CSV = _SideFile(
    ("item_id", "title", "genres"), ",", ("movie id", "title", "genres"),
    whole=("item_id",), header=("movieId", "title", "genres"),
)  # fmt: skip
_MOVIES_DAT = _SideFile(
    ("item_id", "title", "genres"), "::", ("movie id", "title", "genres"), whole=("item_id",)
)
_USERS_DAT = _SideFile(
    ("user_id", "gender", "age", "occupation", "zip_code"), "::",
    ("user id", "gender", "age", "occupation", "zip code"),
    whole=("user_id", "age", "occupation"),
)  # fmt: skip
_U_ITEM = _SideFile(
    ("item_id", "title", "release_date", "video_release_date", "url", *ML100K_GENRES), "|",
    ("movie id", "title", "release date", "video release date", "IMDb URL", *ML100K_GENRES),
    whole=("item_id",), flags=ML100K_GENRES,
)  # fmt: skip
_U_USER = _SideFile(
    ("user_id", "age", "gender", "occupation", "zip_code"), "|",
    ("user id", "age", "gender", "occupation", "zip code"), whole=("user_id", "age"),
)  # fmt: skip
# RecBole's copy of ml-100k (the built-in dataset) is a layout a folder may hold too, so
# its files are read and named line by line as GroupLens' are.
_RB_ITEM = _SideFile(
    ("item_id", "movie_title", "release_year", "class"), "\t",
    ("item id", "movie title", "release year", "class"), whole=("item_id",),
    header=("item_id", "movie_title", "release_year", "class"), typed=True,
)  # fmt: skip
_RB_USER = _SideFile(
    ("user_id", "age", "gender", "occupation", "zip_code"), "\t",
    ("user id", "age", "gender", "occupation", "zip code"), whole=("user_id", "age"),
    header=("user_id", "age", "gender", "occupation", "zip_code"), typed=True,
)  # fmt: skip
#: The columns of RecBole's ``ml-100k.inter``, as its header names them before the types.
_RB_INTER = ("user_id", "item_id", "rating", "timestamp")

# The one rule for an id or count cell in every MovieLens file (ratings and side files):
# what pandas' fast read takes into an integer column, as columns.whole_number spells it.
# Plain ASCII digits (the common case) are checked by this pattern, many at a time.
_ASCII_INT = re.compile(r"[ \t\v\f]*[+-]?[0-9]+[ \t\v\f]*")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")


def _whole_cell(text: str) -> tuple[int | None, str | None]:
    """``(value, None)`` for a cell that spells a whole number by :func:`whole_number`'s
    rule (``12``, `` 12``, ``12.0``, ``1e3``; pandas' fast read takes these into an
    integer column), else ``(None, why)``: ``"is not within int64"`` for whole-number
    digits too large, ``"is a float past 2**53, ..."`` for ``9007199254740993.0`` (it
    would read as 9007199254740992), ``"is not a whole number"`` otherwise.  The ratings readers and
    the side-file readers both refuse with it, in the same words.

    Example:
        >>> [_whole_cell(t)[0] for t in ("12", " 12", "12.0", "1e1")]
        [12, 12, 12, 10]
        >>> [_whole_cell(t)[1] for t in ("12.5", "1_2", "99999999999999999999")]
        ['is not a whole number', 'is not a whole number', 'is not within int64']
    """
    value = whole_number(text)
    if value is not None:
        return value, None
    if _INT_TEXT.fullmatch(text.strip(" \t\v\f")):
        return None, "is not within int64"
    if finite_number(text) and 2**53 <= abs(float(text)) < 2**63 and float(text).is_integer():
        return None, (
            "is a float past 2**53, which cannot tell neighbouring ids apart: write it in digits"
        )
    return None, "is not a whole number"


def _read_side(path: Path, side: _SideFile) -> tuple[pd.DataFrame, np.ndarray]:
    """``(table, lines)``: the rows of a MovieLens movies or users file, each checked,
    with the 1-based file line of each.  Whole-number columns are int64 (genre flags
    int8), the others text as written; blank lines are skipped.  A line with other than
    the layout's number of fields, a number that is not whole (or beyond int64), a
    genre flag other than 0 or 1, a header without the layout's columns, or bytes that
    are not UTF-8 in ``movies.csv`` is a :class:`DataError` naming the file and the
    line: pandas named neither, and read a line with a field too many or too few
    without a word.  A whole number is what the ratings readers take as one
    (:func:`_whole_cell`): ``12``, `` 12``, ``12.0``.

    The ``::`` and ``|`` files are split at every separator, quotes being text there
    (GroupLens quotes nothing); ``movies.csv`` is a CSV file with quoted titles.

    A clean file is read in bulk (:func:`_side_bulk`); only when that finds something
    off is the file read again line by line (:func:`_side_by_line`), which names the
    fault or, for a file that is merely unusual (a title over two lines), reads it.

    Example:
        >>> import tempfile, os
        >>> path = Path(tempfile.mkdtemp()) / "movies.dat"
        >>> _ = path.write_text("1::Heat (1995)::Action\\n\\n2x::Up (2009)::Comedy\\n")
        >>> try:
        ...     _read_side(path, _MOVIES_DAT)
        ... except DataError as err:
        ...     print(str(err).replace(str(path), "movies.dat").split(" (fields")[0])
        line 3 of movies.dat: the movie id '2x' is not a whole number
    """
    text = _side_text(path, side)
    found = _side_bulk(text, side)
    if found is not None:
        return found
    return _side_by_line(path, side, text)


def _side_bulk(text: str, side: _SideFile) -> tuple[pd.DataFrame, np.ndarray] | None:
    """What :func:`_side_by_line` returns for ``text``, or ``None`` where anything is
    off (a fault, a record over more than one line, a cell not in its plain spelling):
    the same checks, run a column at a time instead of a cell at a time.

    A line with no quote holds exactly what splitting it at each separator gives (the
    CSV reader says the same of it), so once every such line is known to hold the
    layout's number of separators, they are split all at once; only the lines with a
    quote (a title holding a comma) go through the CSV reader, each alone: one that
    parses alone ends its record, so no record runs over two lines.
    """
    if "\x00" in text:
        return None
    listed = text.splitlines()
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    ends = text.endswith(("\n", "\r"))
    # A break splitlines takes and a file's reader does not ("\x85") adds a line,
    # unless it ends the text: "...|Drama\x85" is one line to both, "\x85" in it to
    # the file's reader alone.
    if len(listed) != breaks + (not ends) - (not text) or (
        not ends and text[-1:].splitlines() == [""]
    ):
        return None
    sep = side.sep
    quotes = side.header is not None and not side.typed
    lines = np.array(listed, dtype=object)
    n = lines.size
    kept = np.fromiter(map(bool, map(str.strip, lines)), dtype=bool, count=n)
    quoted = np.zeros(n, dtype=bool)
    if quotes:
        quoted = np.fromiter(map(str.__contains__, lines, repeat('"')), dtype=bool, count=n)
    numbers = np.flatnonzero(kept)
    width, positions = len(side.fields), None
    if side.header is not None:
        if numbers.size == 0:
            return None
        head = lines[numbers[0]]
        names = _csv_fields([head], sep) if quoted[numbers[0]] else [head.split(sep)]
        if names is None:
            return None
        names = [name.strip() for name in names[0]]
        if side.typed:
            names = [name.split(":", 1)[0] for name in names]
        if any(name not in names for name in side.header):
            return None
        width, positions = len(names), [names.index(name) for name in side.header]
        numbers = numbers[1:]
    in_quotes = quoted[numbers]
    plain = numbers[~in_quotes]
    seps = np.fromiter(map(str.count, lines[plain], repeat(sep)), dtype=np.int64, count=plain.size)
    if (seps != width - 1).any():
        return None
    # Every plain line holds width - 1 separators: joined with one more, they split
    # into the cells row after row.
    flat = sep.join(lines[plain].tolist()).split(sep) if plain.size else []
    if in_quotes.any():
        records = _csv_fields(lines[numbers[in_quotes]].tolist(), sep)
        if records is None or any(len(record) != width for record in records):
            return None
        cells = np.empty((numbers.size, width), dtype=object)
        if plain.size:
            cells[~in_quotes] = np.array(flat, dtype=object).reshape(plain.size, width)
        cells[in_quotes] = np.array(records, dtype=object).reshape(len(records), width)
        columns = [cells[:, k].tolist() for k in range(width)]
    else:
        columns = [flat[k::width] for k in range(width)]
    if positions is not None:
        columns = [columns[k] for k in positions]
    table = {}
    for name, column in zip(side.fields, columns, strict=True):
        if name in side.whole:
            if all(map(_ASCII_INT.fullmatch, column)):
                try:
                    values = np.fromiter(map(int, column), dtype=np.int64, count=len(column))
                except OverflowError:
                    return None
            else:  # "12.0", "1e3": whole numbers too, by the ratings readers' rule
                got = [whole_number(cell) for cell in column]
                if None in got:
                    return None
                values = np.array(got, dtype=np.int64)
            table[name] = values
        elif name in side.flags:
            if not set(column) <= {"0", "1"}:
                return None
            table[name] = (np.array(column, dtype="U1") == "1").astype(np.int8)
        else:
            table[name] = pd.Series(column, dtype=str)
    return pd.DataFrame(table), numbers + 1


def _csv_fields(lines: list, sep: str) -> list | None:
    """The fields of each line, each read alone by the CSV reader as :func:`records`
    reads a file (quotes doubled, nothing after a closing quote), or ``None`` when one
    is no whole record on its own line."""
    csv_fields_up_to(max(map(len, lines), default=0))
    try:
        out = list(csv.reader(lines, delimiter=sep, quotechar='"', doublequote=True,
                              strict=True))  # fmt: skip
    except csv.Error:
        return None
    return out if len(out) == len(lines) else None


def _side_by_line(path: Path, side: _SideFile, text: str) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`_read_side` a line and a cell at a time: slow, and names the first fault."""
    rows, lines = _side_rows(path, side, text)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(side.fields)
    said = dict(zip(side.fields, side.said, strict=True))
    table = {}
    for name, cells in zip(side.fields, columns, strict=True):
        bad, what = None, None
        if name in side.whole:
            values = []
            for k, cell in enumerate(cells):
                value, why = _whole_cell(cell)
                if why is not None:
                    bad, what = k, f"the {said[name]} {{!r}} {why}"
                    break
                values.append(value)
            else:
                table[name] = np.array(values, dtype=np.int64)
        elif name in side.flags:
            bad = next((k for k, c in enumerate(cells) if c.strip() not in ("0", "1")), None)
            what = f"the {name!r} genre flag {{!r}} is not 0 or 1"
            table[name] = np.fromiter((c.strip() == "1" for c in cells), dtype=np.int8)
        else:
            table[name] = pd.Series(cells, dtype=str)
        if bad is not None:
            raise _side_error(
                path, int(lines[bad]), f": {what.format(cells[bad])} (fields: {side.layout})"
            )
    return pd.DataFrame(table), lines


def _side_error(path: Path, number: int, text: str) -> DataError:
    source = str(path)
    return DataError(f"line {number} of {source}{text}", source=source, where=(number,),
                     unit="line")  # fmt: skip


def _side_text(path: Path, side: _SideFile) -> str:
    """The text of a side file: ``movies.csv`` must be UTF-8 (a byte that is not is
    named by its line), the older files are UTF-8 or Latin-1 (:func:`_decode`)."""
    if side.header is None:
        return _decode(path)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        number = raw.count(b"\n", 0, err.start) + 1
        writer = "RecBole" if side.typed else "GroupLens"
        raise _side_error(
            path, number,
            f" is not UTF-8 text (byte {raw[err.start]:#04x}); {writer} writes {path.name} "
            "in UTF-8: save it as UTF-8",
        ) from None  # fmt: skip


def _side_rows(path: Path, side: _SideFile, text: str) -> tuple[list, np.ndarray]:
    """``(rows, lines)``: the rows of a side file (its ``text``) in the layout's order and
    the file line of each; a line that breaks the layout is a :class:`DataError` naming it."""
    source = str(path)
    if side.header is None or side.typed:
        numbered = (
            (number, line.rstrip("\r\n").split(side.sep))
            for number, line in enumerate(text_lines(text), start=1)
            if line.strip()
        )
        width, positions = len(side.fields), None
    if side.header is not None:
        if not side.typed:
            numbered = records(text, side.sep, source)
        number, names = next(numbered, (0, None))
        if names is None:
            raise DataError(
                f"{source} is empty: it has no header line ({side.layout})", source=source
            )
        names = [name.strip() for name in names]
        if side.typed:  # "item_id:token" is the column item_id
            names = [name.split(":", 1)[0] for name in names]
        missing = [name for name in side.header if name not in names]
        if missing:
            raise _side_error(
                path, number, f": the header has no column(s) {missing} (it has {names})"
            )
        width, positions = len(names), [names.index(name) for name in side.header]
    lines, rows = array("q"), []
    for number, fields in numbered:
        if len(fields) != width:
            shown = side.sep.join(fields)[:80]
            raise _side_error(
                path, number,
                f" has {len(fields)} field(s) separated by {side.sep!r} where {width} are "
                f"expected ({side.layout}): {shown!r}",
            )  # fmt: skip
        lines.append(number)
        rows.append(fields if positions is None else [fields[k] for k in positions])
    return rows, np.frombuffer(lines, dtype=np.int64)


#: MovieLens' cell for a movie without genres (ml-latest, ml-20m and later).
NO_GENRES = "(no genres listed)"


def _with_title_year(items: pd.DataFrame, fallback_year: pd.Series | None) -> pd.DataFrame:
    """Split a trailing ``(1995)`` off ``title`` into an integer ``year`` column."""
    raw = items["title"].astype(str).str.strip()
    titles, years = _title_years(raw.tolist())
    year = pd.to_numeric(pd.Series(years, index=raw.index, dtype=object), errors="coerce")
    year = year.astype("Int64")
    if fallback_year is not None:
        year = year.fillna(fallback_year.astype("Int64"))
    out = items.copy()
    out["title"] = pd.Series(titles, index=raw.index, dtype=str)
    out["year"] = year
    # ml-latest's "(no genres listed)" is a placeholder for none, not a genre: kept, it
    # was counted as one (store info, calibration, hybrid features). An empty cell is how
    # u.item's all-zero flags already read.
    genres = out["genres"].astype(str).str.strip()
    out["genres"] = genres.where(genres != NO_GENRES, "")
    return out[["item_id", "title", "year", "genres"]]


# The year suffix from its "(" on: the suffix holds no other "(", so where a title ends
# in one, it starts at the title's last "(".
_YEAR_TAIL = re.compile(r"\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*")


def _title_years(raw: list) -> tuple[list, list]:
    """``(titles, years)``: each title with a trailing ``(1995)`` split off, and the year's
    digits (``None`` where there is none), as ``str.extract(_YEAR_SUFFIX)`` splits them.
    pandas ran that pattern a title at a time from each title's first character (most
    of a second for ml-32m's 87,585); here only the tail after the last ``(`` is matched.

    Example:
        >>> _title_years(["Heat (1995)", "Up", "Bo (2000-2005) ", "(1999)"])
        (['Heat', 'Up', 'Bo', ''], ['1995', None, '2000', '1999'])
    """
    cuts = list(map(str.rfind, raw, repeat("(")))
    # A cut of -1 (no "(") is a start of 0 to the pattern, which no title without "(" fits.
    tails = list(map(_YEAR_TAIL.fullmatch, raw, cuts))
    titles, years = [], []
    for title, cut, tail in zip(raw, cuts, tails, strict=True):
        head = None if tail is None or cut < 0 else title[:cut].rstrip()
        # _YEAR_SUFFIX's "." takes no line break: a title over two lines keeps its year.
        if head is None or "\n" in head:
            titles.append(title)
            years.append(None)
        else:
            titles.append(head)
            years.append(tail["year"])
    return titles, years


def _read_grouplens_100k(folder: Path):
    path = folder / "u.data"
    try:
        ratings = _read_table(
            path,
            sep="\t",
            header=None,
            names=["user_id", "item_id", "rating", "timestamp"],
            dtype={
                "user_id": np.int64,
                "item_id": np.int64,
                "rating": np.float64,
                "timestamp": np.int64,
            },
        )
    except DataError as err:
        raise _ratings_error(path, err, sep="\t", header=None) from None
    _check_widths(path, ratings, sep="\t", header=None)

    items = None
    if (folder / "u.item").is_file():
        flags = list(ML100K_GENRES)
        raw, lines = _read_side(folder / "u.item", _U_ITEM)
        on = raw[flags].to_numpy(dtype=bool)
        genre_names = np.array(flags, dtype=object)
        raw["genres"] = ["|".join(genre_names[row]) for row in on]
        # The title's "(1995)" is the film's year; the release date covers the few
        # titles without one (the date is a video release for some, but better than none).
        release = pd.to_numeric(raw["release_date"].str[-4:], errors="coerce")
        _unique_ids(raw, lines, folder / "u.item", "movie")
        items = _with_title_year(raw, release).set_index("item_id")

    users = None
    if (folder / "u.user").is_file():
        users, lines = _read_side(folder / "u.user", _U_USER)
        _unique_ids(users, lines, folder / "u.user", "user")
        users = users.set_index("user_id")
    return ratings, items, users


def _recbole_table(path: Path, dtype: dict) -> pd.DataFrame:
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    # RecBole headers carry the type after a colon ("item_id:token").
    names = {h: h.split(":", 1)[0] for h in header}
    missing = [c for c in dtype if c not in names.values()]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; it has {list(names.values())}")
    table = _read_table(
        path,
        sep="\t",
        usecols=[h for h in header if names[h] in dtype],
        dtype={h: dtype[names[h]] for h in header if names[h] in dtype},
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        encoding="utf-8",
    )
    return table.rename(columns=names)[list(dtype)]


def _read_recbole_100k(folder: Path):
    path = folder / "ml-100k.inter"
    dtype = {"user_id": np.int64, "item_id": np.int64, "rating": np.float64, "timestamp": np.int64}
    try:
        ratings = _recbole_table(path, dtype)
    except DataError as err:
        raise _ratings_error(path, err, sep="\t", header=_RB_INTER, typed=True) from None
    _check_widths(path, ratings, sep="\t", header=_RB_INTER, typed=True)
    items = None
    item_path = folder / "ml-100k.item"
    if item_path.is_file():
        raw, lines = _read_side(item_path, _RB_ITEM)
        _unique_ids(raw, lines, item_path, "movie")
        # RecBole's copy misspells GroupLens's "unknown" placeholder (item 267).
        title = raw["movie_title"].replace("unkonwn", "unknown")
        # Where RecBole's year is not a number ("V" for one video title) the title
        # still ends in "(1995)"; that, else missing.
        release = pd.to_numeric(raw["release_year"], errors="coerce")
        raw = pd.DataFrame(
            {
                "item_id": raw["item_id"],
                "title": title,
                # RecBole keeps genres space-separated; no MovieLens genre has a space.
                "genres": raw["class"].str.split().str.join("|"),
            }
        )
        items = _with_title_year(raw, None)
        items["year"] = release.astype("Int64").fillna(items["year"])
        items = items.set_index("item_id")
    users = None
    user_path = folder / "ml-100k.user"
    if user_path.is_file():
        users, lines = _read_side(user_path, _RB_USER)
        _unique_ids(users, lines, user_path, "user")
        users = users.set_index("user_id")
    return ratings, items, users


#: The columns of a MovieLens ``ratings.csv``, in the order its fields hold them.
ML_CSV_COLUMNS = ("userId", "movieId", "rating", "timestamp")
_ML_FIELDS = ("user id", "movie id", "rating", "timestamp")


def _ratings_error(
    path: Path, err: DataError, *, sep: str, header, frame=None, typed: bool = False
) -> DataError:
    """The error of a MovieLens ratings file, naming its line: pandas reads the file
    fast but names no line ("could not convert string to float"), and the table built
    from its frame names rows.  On an error (only then) the file is read again line by
    line: the first line that is not four fields (user id, movie id, rating, timestamp
    as whole numbers and a finite rating) is named; when every line is well formed,
    ``frame`` (the arguments of :func:`_build`) is built again with file lines for row
    names, so a repeated pair or an off-scale rating names its lines.  ``err`` is
    returned when neither finds more.  ``typed``: the header names carry RecBole's
    types (``user_id:token``), matched by the name before the colon.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "ratings.dat"), "w").write(
        ...     "1::10::5::978300760\\n\\n1::11::4,5::978300761\\n")
        >>> try:
        ...     read_ml_dat(folder)
        ... except DataError as err:
        ...     print(str(err).replace(folder + os.sep, "").split(" (")[0])
        line 3 of ratings.dat: the rating '4,5' is not a finite number
    """
    source = str(path)
    text = _decode(path).removeprefix("\ufeff")
    lines = array("q")
    layout = sep.join(_ML_FIELDS)
    positions = None if header is None else {}
    for number, line in enumerate(text_lines(text), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split(sep)
        if positions is not None and not positions:  # the header line
            names = [f.strip() for f in fields]
            if typed:
                names = [name.split(":", 1)[0] for name in names]
            missing = [c for c in header if c not in names]
            if missing:
                return DataError(
                    f"line {number} of {source}: the header has no column(s) {missing} "
                    f"(it has {names})",
                    source=source, where=(number,), unit="line",
                )  # fmt: skip
            positions = {c: names.index(c) for c in header}
            width = len(fields)
            continue
        expected = 4 if positions is None else width
        if len(fields) != expected:
            return DataError(
                f"line {number} of {source} has {len(fields)} field(s) separated by "
                f"{sep!r} where {expected} are expected ({layout}): {line[:80]!r}",
                source=source, where=(number,), unit="line",
            )  # fmt: skip
        cells = fields if positions is None else [fields[positions[c]] for c in header]
        for what, cell in zip(_ML_FIELDS, cells, strict=True):
            # What pandas' fast read takes, and only that: Python's int() and float()
            # also take "1_000" and other scripts' digits, so the line that read
            # refused went unnamed.  Ids and timestamps by the side files' rule.
            # The cell as it stands: both take the blanks pandas takes around a number,
            # and only those (str.strip also took "\xa0", which pandas refuses, so that
            # line went unnamed).
            if what == "rating":
                why = None if finite_number(cell) else "is not a finite number"
            else:
                why = _whole_cell(cell)[1]
            if why is not None:
                return DataError(
                    f"line {number} of {source}: the {what} {cell!r} {why} (fields: {layout})",
                    source=source, where=(number,), unit="line",
                )  # fmt: skip
        lines.append(number)
    if frame is not None and len(lines) == len(frame[0]):
        ratings, items, users, scale, duplicates = frame
        try:
            assemble(
                Interactions,
                frame_columns(ratings, _NAMES, source),
                _NAMES,
                Places.lines(np.frombuffer(lines, dtype=np.int64), source),
                source=source,
                duplicates=duplicates,
                rating_scale=scale,
                item_features=items,
                user_features=users,
            )
        except DataError as named:
            return named
    return err


_NAMES = ("user_id", "item_id", "rating", "timestamp")


def _check_widths(
    path: Path, ratings: pd.DataFrame, *, sep: str, header, typed: bool = False
) -> None:
    """Refuse a ratings line with more fields than the layout, which pandas reads without
    a word (``usecols`` keeps the first fields; a file whose every line is one field wider
    shifts the columns).  The separators are counted a block at a time; only when there
    are more than the rows call for is the file read line by line
    (:func:`_ratings_error`) for the line to name.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "ratings.dat"), "w").write(
        ...     "1::10::5::978300760\\n1::11::4::978300761::7\\n")
        >>> try:
        ...     read_ml_dat(folder)
        ... except DataError as err:
        ...     print(str(err).replace(folder + os.sep, "").split(" separated")[0])
        line 2 of ratings.dat has 5 field(s)
    """
    char = sep[0].encode()
    with open(path, "rb") as fh:
        # A header's own separators say how many each line holds; without one, the
        # layout's four fields do ("::" is two characters).
        width = 3 * sep.count(sep[0])
        if header is not None:
            line = fh.readline()
            while line and not line.strip():
                line = fh.readline()
            width = line.count(char)
        count = 0
        while block := fh.read(1 << 24):
            count += block.count(char)
    if count > width * len(ratings):
        err = DataError(f"{path} has a line with more fields than {sep.join(_ML_FIELDS)}")
        found = _ratings_error(path, err, sep=sep, header=header, typed=typed)
        if found is not err:  # else no line is wider (a quoted separator): read as it is
            raise found


def _build(ratings, items, users, scale, duplicates, path: Path) -> Interactions:
    data = Interactions.from_frame(
        ratings,
        user="user_id",
        item="item_id",
        rating="rating",
        timestamp="timestamp",
        duplicates=duplicates,
        rating_scale=scale,
        item_features=items,
        user_features=users,
    )
    # The report names the ratings file read, not "a DataFrame" (the frame is ours).
    data.load_report = dataclasses.replace(data.load_report, source=str(path))
    return data
