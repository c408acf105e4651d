"""Ready-made data: MovieLens (fetched and cached, or read from disk), the Netflix-prize
files (read from disk) and synthetic ratings.

Example:
    >>> from latentrec import datasets
    >>> datasets.synthetic(100, 40, 1000, random_state=0).shape
    (100, 40)
    >>> data = datasets.movielens("100k")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from .data.interactions import Interactions
from .data.movielens import (
    DatasetFetchError,
    data_home,
    fetch_movielens,
    load_movielens,
    read_ml100k,
    read_ml_csv,
    read_ml_dat,
    read_ml_folder,
)
from .data.netflix import read_netflix_as
from .data.synthetic import synthetic

__all__ = [
    "DatasetFetchError",
    "data_home",
    "fetch_movielens",
    "movielens",
    "read_ml100k",
    "read_ml_csv",
    "read_ml_dat",
    "read_ml_folder",
    "read_netflix",
    "synthetic",
]


def movielens(
    name: str = "100k", *, cache_dir: str | Path | None = None, verbose: bool = True
) -> Interactions:
    """MovieLens-100K as :class:`~latentrec.data.Interactions`, downloaded once and cached.

    The first call looks in the cache (``cache_dir``, else ``$LATENTREC_DATA``, else
    ``~/.cache/latentrec``), then tries the GroupLens archive and then the copy inside the
    ``recbole`` wheel on PyPI (SHA-256 pinned), each for a few seconds; later calls read
    the cache in well under a second.  The result is checked to hold 100,000 ratings by
    943 users of 1,682 items.

    The data has timestamps (seconds), rating scale (1, 5) and side tables:
    ``item_features`` with ``title`` (year removed, e.g. ``"Star Wars"``), ``year``
    (nullable integer) and ``genres`` (``"Action|Sci-Fi"``); ``user_features`` with
    ``age``, ``gender``, ``occupation`` and ``zip_code``.

    Only ``"100k"`` is fetched automatically.  For ml-1m / ml-10m download the archive
    from GroupLens and use :func:`read_ml_dat`; for ml-latest, ml-20m, ml-25m, ml-32m use
    :func:`read_ml_csv`.

    Args:
        name: ``"100k"`` (also accepted: ``"ml-100k"``).
        cache_dir: where to keep the files, overriding ``$LATENTREC_DATA``.
        verbose: report progress on standard error.

    Raises:
        DatasetFetchError: every source failed; the message lists each and why.
        ValueError: another MovieLens size (the message says how to read it).

    Example:
        >>> data = movielens("100k")  # doctest: +SKIP
        >>> data.nnz, data.n_users, data.n_items  # doctest: +SKIP
        (100000, 943, 1682)
        >>> data.item_titles([50]).tolist()  # doctest: +SKIP
        ['Star Wars']
    """
    return load_movielens(name, cache_dir=cache_dir, verbose=verbose)


def read_netflix(
    paths,
    *,
    duplicates: str = "last",
    rating_scale: tuple[float, float] | None = (1.0, 5.0),
) -> Interactions:
    """Read Netflix-prize rating files into :class:`~latentrec.data.Interactions`.

    Args:
        paths: one file or a list of files (e.g. the four ``combined_data_*.txt``), read
            in order; each must start with a ``MovieID:`` line.  A file packed with
            gzip, bzip2 or xz (``combined_data_1.txt.gz``), or a zip of that one file, is
            unpacked as it is read.
        duplicates: repeated (customer, movie) pairs: ``"last"`` (the latest date, then
            the last line), ``"mean"``, ``"sum"``, or ``"error"`` (the prize data has none).
        rating_scale: the valid ratings, ``(1, 5)`` stars by default; ``None`` for any
            finite number.

    Returns:
        Interactions with user ids = CustomerID, item ids = MovieID (both int), float32
        ratings, and timestamps (seconds since 1970-01-01 UTC at the start of the date).
        Its ``load_report`` counts rating lines (movie lines and blank lines are not rows).

    Raises:
        DataError: naming the file and line of the first bad line: a rating line before
            any movie line, a line that is neither, a bad id (``0x1F`` and ``-0`` too),
            rating or date, a rating outside ``rating_scale``; a file given twice (or
            through a link to one given); a packed file cut short; the prize's
            ``probe.txt`` or ``qualifying.txt`` (lists of pairs to predict, no ratings).
        FileNotFoundError: a file that does not exist.

    Files are read ~16 MB at a time, never a Python object per line (see
    :func:`latentrec.data.netflix.read_netflix_as`); the parsed chunks take 20 bytes a
    rating and the peak of the build about 60 (measured at 10^7: 0.6 GB above the
    interpreter's 0.2).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "combined_data_1.txt")
        >>> _ = open(path, "w").write("1:\\n7,3,2005-09-06\\n9,5,2005-05-13\\n"
        ...                           "2:\\n7,4,2005-10-19\\n")
        >>> data = read_netflix(path)
        >>> data.users.ids.tolist(), data.items.ids.tolist(), data.ratings.tolist()
        ([7, 9], [1, 2], [3.0, 4.0, 5.0])
        >>> import datetime as dt
        >>> day = dt.datetime(2005, 9, 6, tzinfo=dt.timezone.utc)
        >>> float(data.timestamps[0]) == day.timestamp()
        True
    """
    return read_netflix_as(Interactions, paths, duplicates=duplicates, rating_scale=rating_scale)
