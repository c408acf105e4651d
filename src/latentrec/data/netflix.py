"""Netflix-prize rating files (``combined_data_1.txt`` .. ``combined_data_4.txt``).

Each file holds blocks: a line ``MovieID:`` and then one ``CustomerID,Rating,Date`` line
per rating of that movie (dates ``YYYY-MM-DD``); a file packed with gzip, bzip2, xz or zip
(``combined_data_1.txt.gz``) is unpacked as it is read.  :func:`read_netflix_as` (under
``latentrec.datasets.read_netflix``) reads one or several such files into
:class:`~latentrec.data.Interactions` (user = CustomerID, item = MovieID, timestamps in
seconds since 1970 at midnight UTC of the date) without a Python object per rating: ~16 MB
of a file at a time, the movie lines are found and cut out with NumPy, the rest is parsed
by pyarrow's CSV reader, and the movie id is carried forward to the rating lines under it;
the chunks then go through the lean CSR builder of :mod:`latentrec.data.ingest`.  A block
that does not parse is scanned line by line to name the first bad line (file and line
number) in a :class:`~latentrec.data.report.DataError`.
"""

from __future__ import annotations

import bz2
import codecs
import dataclasses
import datetime as dt
import gzip
import hashlib
import lzma
import re
import zipfile
from pathlib import Path

import numpy as np

from .build import TIME_MAX, TIME_MIN
from .ingest import Decline, RepeatedPair, build, chunk_from_arrays
from .readers import DEFAULT_ITEM, DEFAULT_USER
from .report import DataError, LoadReport, Rejection

__all__ = [
    "is_netflix_file",
    "netflix_options",
    "open_netflix",
    "pairs_only",
    "probe_split",
    "read_netflix_as",
    "read_netflix_pairs",
    "read_netflix_titles",
    "starts_with_rating",
    "with_titles",
]

#: Bytes of a file parsed at a time (cut at a line end).
BLOCK_BYTES = 1 << 24
#: The longest line read (a rating line is 30 bytes): beyond, a file is refused by name.
LINE_BYTES = 1 << 24
#: The most bytes a probe file (read whole) may unpack to: 25 times the prize's.
PAIRS_BYTES = 1 << 28
#: The most bytes a movie titles file (read whole) may unpack to: 100 times the prize's.
TITLES_BYTES = 1 << 26
#: The names the load report and messages use for the four fields.
NAMES = ("CustomerID", "MovieID", "Rating", "Date")
_MOVIE_LINE = re.compile(rb"[0-9]+:\r?")
_RATING_LINE = re.compile(rb"[0-9]+,[0-9]+(?:\.[0-9]*)?,[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NEWLINE, _CR, _COLON, _MINUS = ord("\n"), ord("\r"), ord(":"), ord("-")
#: The bytes a rating line (CustomerID,Rating,YYYY-MM-DD and its line end) can hold.
_RATING_TEXT = b"0123456789,.+-eE\r\n"
_RATING_BYTES = np.zeros(256, dtype=bool)
_RATING_BYTES[np.frombuffer(_RATING_TEXT, dtype=np.uint8)] = True
_DUPLICATES = ("last", "mean", "sum", "error")
# The ratings float32 stores as themselves (the bounds of ingest.check_values).
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)


# Packed files by their leading bytes: each is read through its decompressor, so a
# combined_data_1.txt.gz (or a packed file under any name) reads as the file it holds.
class _NotOneFile(DataError):
    """A zip that holds no file or several (the prize's whole archive)."""


def _unzip(path, mode: str = "rb"):
    """The one file a zip holds, opened for reading; a zip of no file or of several (the
    prize's whole archive) is a :class:`_NotOneFile` naming what it holds."""
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            # Read as bytes, its zip header was "a rating before any movie line" or
            # "NUL bytes: a download cut short", which no fetch again would mend.
            names = [m.filename for m in members]
            shown = ", ".join(names[:4]) + (f" ... ({len(names)} files)" if len(names) > 4 else "")
            raise _NotOneFile(
                f"{path} is a zip of {len(names) or 'no'} files{': ' + shown if names else ''}; "
                "expected a zip of one file: unzip it and give the files inside",
                source=str(path),
            )
        # The member keeps the archive's file open after the archive object closes.
        return archive.open(members[0])


_PACKED = (
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
    (b"PK\x03\x04", _unzip),
    (b"PK\x05\x06", _unzip),  # a zip of nothing: its end record alone
)
#: What a damaged packed file raises as it is read.
_DAMAGED = (EOFError, lzma.LZMAError, zipfile.BadZipFile, OSError)


def open_netflix(path: str | Path):
    """``path`` opened for reading bytes: a gzip, bzip2 or xz file, or a zip of one file,
    unpacked as it is read.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "combined_data_1.txt.gz")
        >>> with gzip.open(path, "wb") as fh:
        ...     _ = fh.write(b"1:\\n7,3,2005-09-06\\n")
        >>> with open_netflix(path) as fh:
        ...     fh.read()
        b'1:\\n7,3,2005-09-06\\n'
    """
    with open(path, "rb") as fh:
        magic = fh.read(6)
    for signature, opener in _PACKED:
        if magic.startswith(signature):
            return opener(path, "rb")
    return open(path, "rb")


def is_netflix_file(path: str | Path) -> bool:
    """Whether the first non-blank line of ``path`` is a Netflix movie line (``123:``).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "combined_data_1.txt")
        >>> _ = open(path, "w").write("1:\\n1488844,3,2005-09-06\\n")
        >>> is_netflix_file(path), is_netflix_file(__file__)
        (True, False)
    """
    lines = _head_lines(path)
    if not lines:
        return False
    # A movie line ended by "\r" alone (old Mac line ends) or "\r\r\n" (a CRLF file
    # converted again) is one too: read as one, its line is refused saying why, where
    # a table reader called the file's first line a header of columns ['1:'].
    return _MOVIE_LINE.fullmatch(lines[0].split(b"\r", 1)[0] + b"\r") is not None


def starts_with_rating(path: str | Path) -> bool:
    """Whether the first non-blank line of ``path`` is a Netflix rating line
    (``CustomerID,Rating,YYYY-MM-DD``): a Netflix-prize file that lost its first
    ``MovieID:`` line, which a table reader would take for a header.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "c.txt")
        >>> _ = open(path, "w").write("1488844,3,2005-09-06\\n822109,5,2005-05-13\\n")
        >>> starts_with_rating(path), starts_with_rating(__file__)
        (True, False)
    """
    lines = _head_lines(path)
    return bool(lines) and _RATING_LINE.fullmatch(lines[0].rstrip(b"\r")) is not None


def pairs_only(path: str | Path) -> str | None:
    """The fields of the first line under a movie line when they are those of the prize's
    lists of pairs to predict (``probe.txt``: ``CustomerID``; ``qualifying.txt``:
    ``CustomerID,Date``), which hold no ratings; else ``None``.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "probe.txt")
        >>> _ = open(path, "w").write("1:\\n30878\\n2647871\\n")
        >>> pairs_only(path)
        'CustomerID'
    """
    lines = _head_lines(path)
    if len(lines) < 2 or _MOVIE_LINE.fullmatch(lines[0]) is None:
        return None
    first = next((x for x in lines[1:] if _MOVIE_LINE.fullmatch(x) is None), b"")
    text = first.rstrip(b"\r").decode("ascii", "replace")
    fields = text.split(",")
    if len(fields) == 1 and _DIGITS.fullmatch(fields[0]):
        return "CustomerID"
    if len(fields) == 2 and _DIGITS.fullmatch(fields[0]) and _DATE.fullmatch(fields[1]):
        return "CustomerID,Date"
    return None


def _head_lines(path) -> list[bytes]:
    """The non-blank lines of the first 64 KiB of ``path`` (unpacked), the last one
    whole only if the file ends there; [] for a file that cannot be read."""
    head = _head(path).removeprefix(codecs.BOM_UTF8)
    return [line for line in head.split(b"\n") if line.strip()]


def _head(path, size: int = 1 << 16) -> bytes:
    """The first ``size`` bytes of ``path`` unpacked (fewer if it ends or breaks off
    before); b"" for a file that cannot be read."""
    head = b""
    try:
        with open_netflix(path) as fh:
            # In pieces: a truncated packed file still shows its first lines.
            while len(head) < size and (piece := fh.read(1 << 12)):
                head += piece
    except (*_DAMAGED, _NotOneFile):  # unreadable, a damaged packed file, a zip of several
        pass
    return head[:size]


def _packing(path) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``"zip"`` for a packed file (by its leading
    bytes), else None."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    names = {gzip.open: "gzip", bz2.open: "bzip2", lzma.open: "xz", _unzip: "zip"}
    return next((names[op] for sig, op in _PACKED if magic.startswith(sig)), None)


def _digest(path) -> bytes | None:
    """A BLAKE2b digest of ``path`` unpacked; None when it cannot be read to its end
    (the read proper then names the damage)."""
    digest = hashlib.blake2b()
    try:
        with open_netflix(path) as fh:
            while piece := fh.read(1 << 20):
                digest.update(piece)
    except (*_DAMAGED, _NotOneFile):
        return None
    return digest.digest()


def _same_content(paths) -> list[tuple[Path, Path]]:
    """Refuse two of ``paths`` that hold the same lines once unpacked (a file and its
    ``.gz``, as the glob ``combined_data_1.txt*`` gives, or a copy): each rating would be
    read twice and merged as a repeated pair.  Returns the pairs that begin alike (the
    same first 64 KiB) but differ further on, one perhaps part of the other.

    Only files whose first 64 KiB match are read to their end, so distinct files (the
    four of the prize begin with movies 1, 4500, 9211 and 13368) cost one small read.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> plain = os.path.join(folder, "c.txt")
        >>> _ = open(plain, "w").write("1:\\n7,3,2005-09-06\\n")
        >>> with gzip.open(plain + ".gz", "wb") as fh:
        ...     _ = fh.write(b"1:\\n7,3,2005-09-06\\n")
        >>> try:
        ...     _same_content([Path(plain), Path(plain + ".gz")])
        ... except DataError as err:
        ...     print(str(err).replace(folder + os.sep, ""))
        c.txt.gz is c.txt packed with gzip: give each Netflix-prize file once
    """
    by_head: dict[bytes, list[Path]] = {}
    for path in paths:
        head = _head(path)
        if head:
            by_head.setdefault(head, []).append(path)
    alike = []
    for group in by_head.values():
        if len(group) < 2:
            continue
        by_digest: dict[bytes, Path] = {}
        for path in group:
            digest = _digest(path)
            if digest is None:
                continue
            first = by_digest.setdefault(digest, path)
            if first is not path:
                packed, first_packed = _packing(path), _packing(first)
                if packed and not first_packed:
                    same = f"is {first} packed with {packed}"
                elif first_packed and not packed:
                    same = f"is {first} unpacked"
                else:
                    same = f"holds the same lines as {first}"
                raise DataError(
                    f"{path} {same}: give each Netflix-prize file once", source=str(path)
                )
        alike += [(group[0], other) for other in group[1:]]
    return alike


# The options of a table reader that mean nothing for a Netflix-prize file, with the
# values that say nothing (the defaults, by name or by position without a header).
_TABLE_DEFAULTS = {
    "user": ("user_id", 0, DEFAULT_USER),
    "item": ("item_id", 1, DEFAULT_ITEM),
    "rating": ("rating", 2),
    "timestamp": (None,),
    "sep": (None, ","),
    "header": (True, False),
    "encoding": (None, "utf-8", "utf-8-sig", "ascii"),
    "on_bad_rows": ("error",),
    "strip_ids": (True,),
    "implicit": (None, False),
    "users": (None,),
    "items": (None,),
    "item_features": (None,),
    "user_features": (None,),
}


def netflix_options(path, kwargs: dict) -> dict:
    """The options of a table reader's call that :func:`read_netflix_as` takes, or a
    :class:`DataError` naming those it cannot (a column, a separator...).

    Example:
        >>> netflix_options("c.txt", {"user": "user_id", "duplicates": "sum"})
        {'duplicates': 'sum'}
        >>> netflix_options("c.txt", {"rating_scale": None})
        {'rating_scale': None}
        >>> try:
        ...     netflix_options("c.txt", {"sep": ";"})
        ... except DataError as err:
        ...     print(str(err).split("; ")[1])
        sep=';' applies to table files
    """
    out = {}
    given = []
    for key, value in kwargs.items():
        # A key left out is "not given" (the reader's default, 1-5 stars); an explicit
        # rating_scale=None is "no scale", as read_netflix takes it: reading it as "not
        # given" refused a 7 that read_netflix(path, rating_scale=None) loads.
        if key == "rating_scale":
            out[key] = value
        elif key == "duplicates":
            if value is not None:
                out[key] = value
        elif key not in _TABLE_DEFAULTS or not any(
            value is d or (type(value) is type(d) and value == d) for d in _TABLE_DEFAULTS[key]
        ):
            given.append(f"{key}={value!r}")
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise DataError(
            f"{path} is a Netflix-prize file (its first line is a movie id and ':'); "
            f"{', '.join(given)} {verb} to table files",
            source=str(path),
        )
    return out


def read_netflix_as(
    cls,
    paths,
    *,
    duplicates: str = "last",
    rating_scale: tuple[float, float] | None = (1.0, 5.0),
):
    """``cls`` (:class:`~latentrec.data.Interactions`) from Netflix-prize files: the
    reader under ``latentrec.datasets.read_netflix`` and ``Interactions.read``, which
    document it; here the class is given, so this module needs no import of it.

    Example:
        >>> import tempfile, os
        >>> from latentrec.data import Interactions
        >>> path = os.path.join(tempfile.mkdtemp(), "combined_data_1.txt")
        >>> _ = open(path, "w").write("1:\\n7,3,2005-09-06\\n")
        >>> read_netflix_as(Interactions, path).nnz
        1
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise DataError("read_netflix needs at least one file")
    if duplicates not in _DUPLICATES:
        raise DataError(f"duplicates must be one of {list(_DUPLICATES)}, got {duplicates!r}")
    if duplicates == "sum" and rating_scale is not None:
        raise DataError(_sum_on_a_scale(rating_scale))
    scale = None
    if rating_scale is not None:
        try:
            scale = tuple(float(x) for x in rating_scale)
            lo, hi = scale
        except (TypeError, ValueError):
            raise DataError(f"rating_scale must be (low, high), got {rating_scale!r}") from None
        if not lo < hi:
            raise DataError(f"rating_scale must be (low, high) with low < high, got {rating_scale}")
    try:
        import pyarrow  # noqa: F401  (the block parser's; checked first to name the extra)
    except ImportError:
        raise DataError(
            f"reading Netflix-prize files ({paths[0]}) needs pyarrow: "
            "pip install 'latentrec[parquet]'",
            source=str(paths[0]),
        ) from None
    seen: dict[tuple[int, int], Path] = {}
    for path in paths:
        if not path.is_file():
            if path.is_dir():
                raise DataError(f"{path} is a folder, not a Netflix ratings file", source=str(path))
            raise FileNotFoundError(f"no such ratings file: {path}")
        # A file named twice (a glob beside its own name, a link) would count each of its
        # ratings twice, and duplicates="last" would merge them all without an error.
        stat = path.stat()
        first = seen.setdefault((stat.st_dev, stat.st_ino), path)
        if first is not path:
            same = "is given twice" if str(first) == str(path) else f"is the same file as {first}"
            raise DataError(f"{path} {same}: give each Netflix-prize file once", source=str(path))
        fields = pairs_only(path)
        if fields is not None:
            raise DataError(
                f"{path} holds no ratings: its lines under a movie line are {fields} (the "
                "prize's probe.txt or qualifying.txt, the pairs to predict); the ratings "
                "are in combined_data_1.txt .. combined_data_4.txt"
                + (
                    f" (to hold the probe's pairs out of them: data convert ... --probe "
                    f"{path} --probe-output probe.lrdata, or probe_split)"
                    if fields == "CustomerID"
                    else ""
                ),
                source=str(path),
            )
    alike = _same_content(paths)
    state = {"exact32": True}
    track = {"empty": [], "pending": None}
    chunks = _chunks(paths, scale, state, track)
    source = str(paths[0]) if len(paths) == 1 else " + ".join(str(p) for p in paths)
    if not chunks:
        raise DataError(f"{source} has no rating lines: no interactions to build from")
    rows_read = None
    if duplicates in ("mean", "sum") and not state["exact32"]:
        # The lean builder merges float32 values, so it declines ratings float32 cannot
        # hold exactly (3.7): they are merged here in float64, as the table readers do.
        state = {"exact32": True}
        chunk, rows_read = _merged_exactly(chunks, duplicates, paths, state)
        chunks = [chunk]
    try:
        data = build(
            cls, chunks, names=NAMES, source=source, unit="line",
            duplicates=duplicates, implicit=False, rating_scale=scale,
            exact32=state["exact32"], encoding="ascii", separator=",",
        )  # fmt: skip
    except RepeatedPair as e:
        # duplicates="error" with a repeated pair. The error path reads the files once
        # more to name the pair's lines; a clean read pays nothing for it.
        where = _pair_lines(paths, int(e.user), int(e.item))
        raise DataError(
            f"customer {e.user} rates movie {e.item} more than once ({where}) and "
            f"duplicates='error'; use duplicates='last' (--duplicates last) to keep the latest",
            source=source,
        ) from None
    except Decline:
        # duplicates="sum" (only without a scale) adding ratings up beyond float32: read
        # once more, the exact merge names the pair and its lines.
        _merged_exactly(
            _chunks(paths, scale, {"exact32": True}), duplicates, paths, {"exact32": True}
        )
        raise DataError(  # pragma: no cover - the exact merge finds what the lean one did
            f"{source}: duplicates={duplicates!r} merges repeated pairs into a rating "
            "float32 cannot hold",
            source=source,
        ) from None
    report = data.load_report
    if rows_read is not None:
        report = dataclasses.replace(report, rows_read=rows_read, merged=rows_read - report.loaded)
    if track["empty"]:
        # A movie line with no ratings under it adds no item: said, not dropped unseen
        # (the prize data has none; a download cut short after a movie line has one).
        report = dataclasses.replace(
            report, notes=(*report.notes, _empty_movies(track["empty"], data.items))
        )
    if not report.merged:
        return data.replace(load_report=report) if report is not data.load_report else data
    # The prize data rates no (customer, movie) pair twice, so a merge is news: most
    # likely a lost movie line, which files the next movie's ratings under this one.
    note = (
        "the prize data repeats no (customer, movie) pair: a missing 'MovieID:' line "
        "puts a movie's ratings under the movie above it (duplicates='error' names "
        "the lines)"
    )
    if alike:
        # Two files that begin with the same lines repeat pairs whatever their movie
        # lines: that is the likelier cause, so it is said first.
        pairs = "; ".join(f"{a} and {b}" for a, b in alike)
        note = (
            f"{pairs} begin with the same lines (one may be a copy or a part of the "
            f"other, as an unfinished download is); else {note}"
        )
    return data.replace(load_report=dataclasses.replace(report, notes=(*report.notes, note)))


def _empty_movies(empty: list, items, limit: int = 3) -> str:
    """The load report's note on movie lines with no rating line under them; a movie
    with no ratings anywhere is said to be no item.

    Example:
        >>> from latentrec.data.vocabulary import Vocabulary
        >>> _empty_movies([("a.txt", 3, 7), ("a.txt", 9, 1)], Vocabulary([1, 2]))
        '2 movie lines have no rating lines under them: movie 7 (line 3 of a.txt, no item: no ratings anywhere); movie 1 (line 9 of a.txt)'
    """  # noqa: E501
    known = items.lookup(np.array([m for _, _, m in empty], dtype=np.int64)) >= 0
    shown = "; ".join(
        f"movie {m} (line {line} of {src}{'' if ok else ', no item: no ratings anywhere'})"
        for (src, line, m), ok in zip(empty[:limit], known[:limit], strict=False)
    )
    if len(empty) == 1:
        return f"{shown} has no rating lines under its movie line"
    more = (
        f"; ... ({len(empty)} in all, {int((~known).sum())} no item)" if len(empty) > limit else ""
    )
    return f"{len(empty)} movie lines have no rating lines under them: {shown}{more}"


def _chunks(paths, scale, state: dict, track: dict | None = None) -> list:
    """The stored chunks of every file in turn (see :func:`chunk_from_arrays`);
    ``track["empty"]`` gathers (file, line, movie) of movie lines with no ratings."""
    chunks = []
    for path in paths:
        for users, items, vals, ts in _file_batches(path, scale, track):
            try:
                chunks.append(chunk_from_arrays(users, items, vals, ts, scale, state))
            except Decline:  # pragma: no cover - _parse_block refuses, by line, all it declines
                raise DataError(
                    f"{path}: a rating or date that cannot be stored (a rating beyond "
                    "float32, a date before the year 1)",
                    source=str(path),
                ) from None
    return chunks


def _merged_exactly(chunks: list, duplicates: str, paths, state: dict):
    """``(chunk, rows)``: one chunk of distinct (customer, movie) pairs from ``chunks``
    (emptied), repeats merged by ``duplicates`` (``"mean"`` or ``"sum"``) in float64
    from the ratings as read, the latest date kept; ``rows`` counts the rating lines.
    A merged rating beyond float32 is a :class:`DataError` naming the pair's lines.

    Example:
        >>> from latentrec.data.ingest import Chunk
        >>> ids, movies = np.array([7, 7]), np.array([1, 1])
        >>> c = Chunk(ids, movies, np.array([3.7, 4.1]), np.array([0.0, 9.0]))
        >>> chunk, rows = _merged_exactly([c], "mean", [], {"exact32": True})
        >>> chunk.vals.tolist() == [np.float32(3.9)], chunk.ts.tolist(), rows
        (True, [9.0], 2)
    """
    users = np.concatenate([c.users.astype(np.int64, copy=False) for c in chunks])
    items = np.concatenate([c.items.astype(np.int64, copy=False) for c in chunks])
    vals = np.concatenate([c.vals.astype(np.float64, copy=False) for c in chunks])
    ts = np.concatenate([c.ts for c in chunks])
    chunks.clear()
    rows = users.size
    order = np.lexsort((items, users))
    users, items, vals, ts = users[order], items[order], vals[order], ts[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (users[1:] != users[:-1]) | (items[1:] != items[:-1])])
    )
    merged = np.add.reduceat(vals, starts)
    if duplicates == "mean":
        merged /= np.diff(np.append(starts, rows))
    with np.errstate(over="ignore"):
        as32 = merged.astype(np.float32)
    over = ~np.isfinite(as32)
    if over.any():
        k = int(np.argmax(over))
        customer, movie = int(users[starts[k]]), int(items[starts[k]])
        raise DataError(
            f"customer {customer} rates movie {movie} more than once "
            f"({_pair_lines(paths, customer, movie)}) and duplicates={duplicates!r} adds "
            f"the ratings up to {merged[k]:.9g}, beyond float32 (at most {_FLOAT32_MAX:.9g})"
        )
    latest = np.maximum.reduceat(ts, starts)
    chunk = chunk_from_arrays(
        users[starts], items[starts], as32.astype(np.float64), latest, None, state
    )
    return chunk, rows


def _sum_on_a_scale(rating_scale) -> str:
    """The refusal of ``duplicates="sum"`` on a scale, for Netflix-prize files: the
    table readers' advice ("give no rating scale") cannot be followed on the command
    line, where ``data info`` and ``data convert`` read these files on a scale (1-5
    stars, or ``--rating-scale``), so the options it has come first.

    Example:
        >>> _sum_on_a_scale((1, 5)).split(": ")[1].split(";")[0]
        "use duplicates='last', 'mean' or 'error' (--duplicates last, mean or error)"
    """
    return (
        f"duplicates='sum' adds repeated ratings, which can leave the rating scale "
        f"{tuple(rating_scale)} (two 3s make a 6): use duplicates='last', 'mean' or 'error' "
        "(--duplicates last, mean or error); to add repeats up as counts, read the files "
        "with rating_scale=None (read_netflix or Interactions.read)"
    )


def _pair_lines(paths, customer: int, movie: int, limit: int = 5) -> str:
    """Where ``customer`` rates ``movie`` in ``paths``: "lines 3 and 9 of a.txt", at most
    ``limit`` lines, in file order.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "c.txt")
        >>> _ = open(path, "w").write("1:\\n7,3,2005-09-06\\n2:\\n7,4,2005-09-06\\n"
        ...                           "1:\\n7,5,2005-09-07\\n")
        >>> _pair_lines([path], 7, 1).replace(path, "c.txt")
        'lines 2 and 6 of c.txt'
    """
    prefix = f"{customer},".encode()
    found: list[tuple[Path, int]] = []
    for path in paths:
        current = None
        with open_netflix(path) as fh:
            for number, line in enumerate(fh, 1):
                line = line.rstrip(b"\r\n").removeprefix(codecs.BOM_UTF8 if number == 1 else b"")
                if line.endswith(b":"):
                    current = int(line[:-1]) if _DIGITS.fullmatch(line[:-1].decode()) else None
                elif current == movie and line.startswith(prefix):
                    found.append((path, number))
                    if len(found) == limit:
                        break
        if len(found) == limit:
            break
    parts = []
    for path in dict.fromkeys(p for p, _ in found):
        numbers = [str(n) for p, n in found if p == path]
        listed = ", ".join(numbers[:-1]) + " and " + numbers[-1] if len(numbers) > 1 else numbers[0]
        parts.append(f"line{'s' if len(numbers) > 1 else ''} {listed} of {path}")
    return "; ".join(parts)


def _file_batches(path: Path, scale, track: dict | None = None):
    """``(customers, movies, ratings, timestamps)`` arrays of one file, block by block."""
    source = str(path)
    movie = None  # the movie of the rating lines that follow; none before the first "N:"
    line0 = 1  # file line number of the block's first line
    with open_netflix(path) as fh:
        read = _reader(fh, path)
        carry = read(len(codecs.BOM_UTF8))
        carry = carry.removeprefix(codecs.BOM_UTF8)
        while True:
            got = read(BLOCK_BYTES)
            block = carry + got
            if not got:
                if not block:
                    break
                if not block.endswith(b"\n"):
                    block += b"\n"
                cut = len(block)
            else:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    if len(block) > LINE_BYTES:
                        # No rating line is this long: what has no line end (a zip bomb,
                        # a NUL-padded tail) was gathered whole, as much memory as its size.
                        raise DataError(_endless(block, line0, source), source=source)
                    carry = block
                    continue
            carry = block[cut:]
            out, movie, n_lines = _parse_block(block[:cut], movie, line0, source, scale, track)
            line0 += n_lines
            if out is not None:
                yield out
            if not got:
                break
    if track is not None and track["pending"] is not None:  # the file ends under a movie line
        track["empty"].append(track["pending"])
        track["pending"] = None


def _endless(block: bytes, line: int, source: str) -> str:
    """What a line with no line end in its first :data:`LINE_BYTES` bytes is."""
    what = (
        "NUL bytes (a download cut short leaves a file padded with them; fetch the file again)"
        if b"\0" in block
        else "no line end: not a Netflix-prize file, or a damaged one"
    )
    return f"line {line} of {source} runs past {LINE_BYTES / 2**20:g} MiB with {what}"


def _whole_file(path: Path, kind: str, missing: str, limit: int, note: str) -> bytes:
    """The bytes of a small side file of the prize (unpacked, without a UTF-8 BOM); a
    folder, a missing file or one past ``limit`` bytes refused by name."""
    if not path.is_file():
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a {kind}", source=str(path))
        raise FileNotFoundError(f"no such {missing}: {path}")
    with open_netflix(path) as fh:
        return _read_whole(fh, path, limit, note).removeprefix(codecs.BOM_UTF8)


def _read_whole(fh, path: Path, limit: int, what: str) -> bytes:
    """The rest of ``fh``, refused by name beyond ``limit`` bytes: a file that is the
    size of a small list is read whole, never an unbounded one (a zip bomb)."""
    raw = _reader(fh, path)(limit + 1)
    if len(raw) > limit:
        raise DataError(
            f"{path} unpacks to more than {limit / 2**20:g} MiB, where {what}: is it that file?",
            source=str(path),
        )
    return raw


def _reader(fh, path: Path):
    """``fh.read`` whose failures (a packed file cut short or damaged) name ``path``."""

    def read(size: int) -> bytes:
        try:
            return fh.read(size)
        except _DAMAGED as err:
            kind = {
                gzip.GzipFile: "gzip",
                bz2.BZ2File: "bzip2",
                lzma.LZMAFile: "xz",
                zipfile.ZipExtFile: "zip",
            }.get(type(fh), "")
            if not kind:
                raise
            raise DataError(
                f"{path} is a damaged or truncated {kind} file ({err}); unpack it again "
                "or fetch it again",
                source=str(path),
            ) from None

    return read


def _parse_block(block: bytes, movie, line0: int, source: str, scale, track=None):
    """Parse whole lines: ``(arrays or None, movie after the block, lines in it)``;
    movie lines with no rating line under them go to ``track`` (see :func:`_chunks`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == _NEWLINE)  # one per line: the block ends with "\n"
    starts = np.concatenate([[0], ends[:-1] + 1])
    n_lines = ends.size
    stop = ends.copy()  # end of each line's text, without "\r\n"
    has_text = stop > starts
    stop[has_text] -= arr[stop[has_text] - 1] == _CR
    length = stop - starts
    blank = length == 0
    is_movie = ~blank & (arr[np.maximum(stop - 1, 0)] == _COLON)
    is_data = ~blank & ~is_movie

    movie_pos = np.flatnonzero(is_movie)
    movie_ids = np.empty(movie_pos.size, dtype=np.int64)
    for k, p in enumerate(movie_pos):  # one per movie (17,770 in the prize data), not per rating
        text = block[starts[p] : stop[p] - 1].decode("ascii", "replace")
        if not _DIGITS.fullmatch(text) or len(text) > 18:
            _fail(block, starts, stop, line0, source, scale, first=int(p))
        movie_ids[k] = int(text)
    # The movie of every line: the last movie line at or above it (-1: none in the block).
    latest = np.where(is_movie, np.arange(n_lines), -1)
    np.maximum.accumulate(latest, out=latest)
    movie_after = int(movie_ids[-1]) if movie_ids.size else movie
    if track is not None:
        _track_empty(track, is_movie[~blank], np.flatnonzero(~blank), movie_ids, line0, source)
    data_pos = np.flatnonzero(is_data)
    if data_pos.size == 0:
        return None, movie_after, n_lines
    owner = latest[data_pos]
    if movie is None and owner[0] < 0:
        k = int(data_pos[0])
        if b"\r" in block[starts[k] : stop[k]]:  # "1:\r...": its line ends say why
            _fail(block, starts, stop, line0, source, scale, first=k)
        line = line0 + k
        raise DataError(
            f"line {line} of {source} is a rating before any movie line ('MovieID:'): "
            f"{_show(block, starts, stop, int(data_pos[0]))}; is it a Netflix-prize file?",
            source=source, where=(line,), unit="line",
        )  # fmt: skip
    # Lines under a movie line of this block take its id; those above the block's first
    # movie line continue the movie of the previous block.
    items = np.full(data_pos.size, -1 if movie is None else movie, dtype=np.int64)
    under = owner >= 0
    items[under] = movie_ids[np.searchsorted(movie_pos, owner[under])]

    # The rating lines, as they stand: the block with its movie (and blank) lines cut out.
    # One slice per such line, joined once (a byte mask over the block is 10x slower).
    pieces, prev = [], 0
    for k in np.flatnonzero(~is_data).tolist():
        if starts[k] > prev:
            pieces.append(block[prev : starts[k]])
        prev = int(ends[k]) + 1
    pieces.append(block[prev:])
    body = b"".join(pieces)
    names = ["c0", "c1", "c2"]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={"c0": pa.int64(), "c1": pa.float64(), "c2": pa.date32()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        _fail(block, starts, stop, line0, source, scale)
    if table.num_rows != data_pos.size or any(c.null_count for c in table.columns):
        _fail(block, starts, stop, line0, source, scale)
    # pyarrow reads more than the format holds: it trims blanks around a number or date,
    # takes "0x1F" as the id 31 and "-0" as 0.  The line checks refuse all of those, so a
    # rating line may hold only the bytes they allow and no sign before its customer id:
    # a file then reads the same whichever path sees it.
    # (bytes.translate drops the allowed bytes at memory speed: only a block with others
    # left pays for finding their lines.)
    odd_lines = np.empty(0, dtype=np.int64)
    if body.translate(None, _RATING_TEXT):
        odd = np.flatnonzero(~_RATING_BYTES[arr])
        odd_lines = np.searchsorted(starts, odd, side="right") - 1
        odd_lines = odd_lines[is_data[odd_lines]]
    # pyarrow ends a line at a lone "\r" too, so "7,3,2005-09-06\r\r\n" read as a rating
    # and a blank line, which the line checks refuse: only "\r\n" may hold a "\r".
    stray_lines = np.empty(0, dtype=np.int64)
    if b"\r" in body:
        cr = np.flatnonzero(arr == _CR)
        stray = cr[arr[cr + 1] != _NEWLINE]  # the block ends with "\n": cr + 1 is in it
        stray_lines = np.searchsorted(starts, stray, side="right") - 1
        stray_lines = stray_lines[is_data[stray_lines]]
    signed = data_pos[arr[starts[data_pos]] == _MINUS]
    if odd_lines.size or signed.size or stray_lines.size:
        first = min(int(x[0]) for x in (odd_lines, signed, stray_lines) if x.size)
        _fail(block, starts, stop, line0, source, scale, first=first)
    users = table.column("c0").to_numpy()
    vals = table.column("c1").to_numpy()
    days = table.column("c2").to_numpy().astype("datetime64[D]", copy=False).view(np.int64)
    ts = days.astype(np.float64) * 86400.0
    bad = ~np.isfinite(vals) | (users < 0)
    with np.errstate(invalid="ignore"):
        if scale is not None:
            bad |= (vals < scale[0]) | (vals > scale[1])
        # What ingest.chunk_from_arrays declines, refused here where the line is known:
        # pyarrow reads the date 0000-01-01 (before the year 1 of a stored time), and a
        # rating float32 stores as inf or 0 (without a scale, or on one that wide).
        magnitude = np.abs(vals)
        bad |= (magnitude > _FLOAT32_MAX) | ((vals != 0) & (magnitude < _FLOAT32_TINY))
        bad |= (ts < TIME_MIN) | (ts > TIME_MAX)
    if bad.any():
        _fail(block, starts, stop, line0, source, scale, first=int(data_pos[bad.argmax()]))
    return (users, items, vals, ts), movie_after, n_lines


def _track_empty(track: dict, movie_nb, nonblank, movie_ids, line0: int, source: str) -> None:
    """Note the movie lines followed by another movie line (blank lines aside); the
    block's last one stays pending until the next block (or the file's end) says."""
    if not nonblank.size:
        return
    if track["pending"] is not None and movie_nb[0]:
        track["empty"].append(track["pending"])
    track["pending"] = None
    empty = np.flatnonzero(movie_nb[:-1] & movie_nb[1:])  # k-th non-blank line
    if empty.size:
        rank = np.cumsum(movie_nb) - 1  # which movie line of the block each is
        for k in empty.tolist():
            track["empty"].append((source, line0 + int(nonblank[k]), int(movie_ids[rank[k]])))
    if movie_nb[-1]:
        track["pending"] = (source, line0 + int(nonblank[-1]), int(movie_ids[-1]))


def _show(block: bytes, starts, stop, k: int) -> str:
    text = block[starts[k] : stop[k]].decode("utf-8", "replace")
    if len(text) > 60:
        text = text[:57] + "..."
    # NUL and other control bytes take four characters each as shown.
    return repr(text) if len(repr(text)) <= 80 else repr(text)[:77] + "..."


def _fail(block, starts, stop, line0, source, scale, first: int = 0):
    """Raise the :class:`DataError` of the first bad line of the block at or after ``first``."""
    for k in range(first, starts.size):
        why = line_problem(block[starts[k] : stop[k]], scale)
        if why is not None:
            line = line0 + k
            raise DataError(
                f"line {line} of {source} {why}: {_show(block, starts, stop, k)}",
                source=source, where=(line,), unit="line",
            )  # fmt: skip
    raise DataError(  # pragma: no cover - the line checks refuse all pyarrow refuses
        f"lines {line0} to {line0 + starts.size - 1} of {source} are not Netflix-prize "
        f"lines (MovieID: or CustomerID,Rating,YYYY-MM-DD)",
        source=source, where=(line0,), unit="line",
    )  # fmt: skip


def line_problem(raw: bytes, scale) -> str | None:
    """Why one line (without its line end) is not a Netflix line, or ``None``.

    Example:
        >>> line_problem(b"1488844,3,2005-09-06", (1, 5)), line_problem(b"12:", None)
        (None, None)
        >>> line_problem(b"1488844,3,2005-13-06", (1, 5))
        "has a bad date '2005-13-06' (expected YYYY-MM-DD)"
    """
    if b"\x00" in raw:
        return (
            f"holds NUL bytes (from byte {raw.index(0) + 1} of the line): a download cut "
            "short leaves a file padded with them; fetch the file again"
        )
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return "is not ASCII text"
    if not text:
        return None
    if "\r" in text:
        return (
            "holds a carriage return (\\r) inside the line: the file's line ends are \\r "
            "(old Mac) or \\r\\r\\n (CRLF converted twice); convert them to \\n or \\r\\n"
        )
    if text.endswith(":"):
        if not _DIGITS.fullmatch(text[:-1]) or len(text) > 19:
            return f"is a bad movie line (expected digits and ':', got {text[:-1]!r} before ':')"
        return None
    fields = text.split(",")
    if len(fields) != 3:
        return (
            f"has {len(fields)} field{'' if len(fields) == 1 else 's'} where a rating line "
            f"has 3 (CustomerID,Rating,Date) and a movie line ends in ':'"
        )
    customer, rating, date = fields
    if not _DIGITS.fullmatch(customer) or len(customer) > 18:
        return f"has a bad customer id {customer!r} (expected a whole number)"
    if not _NUMBER.fullmatch(rating):
        return f"has a bad rating {rating!r} (expected a number)"
    value = float(rating)
    if not np.isfinite(value):
        return f"has a bad rating {rating!r} (expected a finite number)"
    if scale is not None and not scale[0] <= value <= scale[1]:
        return f"has a rating {rating} outside the scale [{scale[0]:g}, {scale[1]:g}]"
    if abs(value) > _FLOAT32_MAX:
        return f"has a rating {rating} too large to store as float32 (at most {_FLOAT32_MAX:.9g})"
    if value != 0 and abs(value) < _FLOAT32_TINY:
        return f"has a rating {rating} too close to 0 to store as float32 (it would be 0)"
    if _DATE.fullmatch(date) and date.startswith("0000"):
        # pyarrow reads the year 0; no stored time (from the year 1) holds it.
        return f"has a bad date {date!r} (expected YYYY-MM-DD, years 0001 to 9999)"
    try:
        if not _DATE.fullmatch(date):
            raise ValueError
        dt.date.fromisoformat(date)
    except ValueError:
        return f"has a bad date {date!r} (expected YYYY-MM-DD)"
    return None


_MISSING = ("error", "skip")
#: Cells of the ratings searched at a time for the probe's pairs.
_PROBE_SLAB = 1 << 22


def read_netflix_pairs(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(customers, movies, lines)`` of the prize's ``probe.txt`` (a ``MovieID:`` line,
    then one ``CustomerID`` line per pair), int64 arrays in file order with the file
    line of each pair; packed files (gzip, bzip2, xz) are unpacked as they are read.

    Raises:
        DataError: naming the file and line of the first line that is neither a movie
            line nor a customer id (a ratings file's ``CustomerID,Rating,Date`` line,
            ``qualifying.txt``'s ``CustomerID,Date``), of a customer line before any
            movie line, and a file with no pairs.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "probe.txt")
        >>> _ = open(path, "w").write("1:\\n30878\\n2:\\n7\\n")
        >>> [a.tolist() for a in read_netflix_pairs(path)]
        [[30878, 7], [1, 2], [2, 4]]
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    source = str(path)
    # probe.txt is 1.4 million short lines (10 MB): read whole.
    block = _whole_file(
        path,
        "Netflix-prize probe file",
        "probe file",
        PAIRS_BYTES,
        "the prize's probe.txt is 10 MiB",
    )
    if block and not block.endswith(b"\n"):
        block += b"\n"
    arr = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(arr == _NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    stop = ends.copy()
    has_text = stop > starts
    stop[has_text] -= arr[stop[has_text] - 1] == _CR
    blank = stop == starts
    is_movie = ~blank & (arr[np.maximum(stop - 1, 0)] == _COLON)
    is_pair = ~blank & ~is_movie

    def fail(k: int, why: str):
        line = k + 1
        raise DataError(
            f"line {line} of {source} {why}: {_show(block, starts, stop, k)}",
            source=source, where=(line,), unit="line",
        )  # fmt: skip

    # "\r" line ends (or "\r\r\n") made the file one line, "a customer line before any
    # movie line", and NUL padding "not a customer id": said as the ratings reader says.
    cr = np.flatnonzero(arr == _CR)
    lone = cr[arr[np.minimum(cr + 1, arr.size - 1)] != _NEWLINE]
    odd = np.concatenate([lone, np.flatnonzero(arr == 0)[:1]])
    if odd.size:
        k = int(np.searchsorted(starts, odd.min(), side="right") - 1)
        fail(k, line_problem(block[starts[k] : stop[k]], None))

    movie_pos = np.flatnonzero(is_movie)
    movie_ids = np.empty(movie_pos.size, dtype=np.int64)
    for k, p in enumerate(movie_pos):  # one per movie, not per pair
        text = block[starts[p] : stop[p] - 1].decode("ascii", "replace")
        if not _DIGITS.fullmatch(text) or len(text) > 18:
            fail(int(p), f"is a bad movie line (expected digits and ':', got {text!r} before ':')")
        movie_ids[k] = int(text)
    pair_pos = np.flatnonzero(is_pair)
    if pair_pos.size == 0:
        raise DataError(f"{source} has no customer lines: no pairs to hold out", source=source)
    latest = np.where(is_movie, np.arange(ends.size), -1)
    np.maximum.accumulate(latest, out=latest)
    owner = latest[pair_pos]
    if owner[0] < 0:
        fail(int(pair_pos[0]), "is a customer line before any movie line ('MovieID:')")
    # A pair line is digits only: anything else (a comma, a sign, a blank) is named by line.
    digit = (arr >= ord("0")) & (arr <= ord("9"))
    bad_bytes = np.flatnonzero(~digit & (arr != _NEWLINE) & (arr != _CR))
    bad_lines = np.searchsorted(starts, bad_bytes, side="right") - 1
    bad_lines = bad_lines[is_pair[bad_lines]]
    too_long = pair_pos[(stop - starts)[pair_pos] > 18]
    if bad_lines.size or too_long.size:
        k = min(int(x[0]) for x in (bad_lines, too_long) if x.size)
        fields = block[starts[k] : stop[k]].split(b",")
        if len(fields) == 3 and _RATING_LINE.fullmatch(block[starts[k] : stop[k]]):
            why = "is a rating line (CustomerID,Rating,Date): a ratings file, not probe.txt"
        elif len(fields) == 2:
            why = (
                "is CustomerID,Date (qualifying.txt, whose ratings are not in the data), "
                "where probe.txt has a CustomerID"
            )
        else:
            why = "is not a customer id (expected a whole number)"
        fail(k, why)
    # The customer lines, as they stand, one id a line, parsed without a Python object each.
    pieces, prev = [], 0
    for k in np.flatnonzero(~is_pair).tolist():
        if starts[k] > prev:
            pieces.append(block[prev : starts[k]])
        prev = int(ends[k]) + 1
    pieces.append(block[prev:])
    table = pacsv.read_csv(
        pa.py_buffer(b"".join(pieces)),
        read_options=pacsv.ReadOptions(column_names=["c0"], use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=",", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types={"c0": pa.int64()}),
    )
    customers = table.column("c0").to_numpy()
    movies = movie_ids[np.searchsorted(movie_pos, owner)]
    return customers, movies, pair_pos.astype(np.int64) + 1


def probe_split(data, probe: str | Path, *, missing: str = "error"):
    """``(train, test)``: ``data`` (read from ``combined_data_*.txt``) without the pairs
    that ``probe`` (the prize's ``probe.txt``) lists, and those pairs with their ratings,
    both sharing ``data``'s vocabularies, so a model fitted on ``train`` is scored on
    ``test`` (``evaluate_ratings(model, test)``, the prize's probe RMSE).

    Args:
        data: the ratings, from :func:`latentrec.datasets.read_netflix` or a ``.lrdata``
            file converted from them.
        probe: the probe file.
        missing: a pair that ``data`` has no rating for (``data`` read from some of the
            four files only, or another probe file): ``"error"`` (the default) refuses
            the split, naming the first such line; ``"skip"`` holds out the others, and
            ``test.load_report`` counts and lists those left out by line.

    Raises:
        DataError: naming file and line: a pair ``data`` does not rate (with
            ``missing="error"``), a pair listed twice, a line that is not a probe line
            (see :func:`read_netflix_pairs`).

    Example:
        >>> import tempfile, os
        >>> from latentrec.datasets import read_netflix
        >>> folder = tempfile.mkdtemp()
        >>> ratings, probe = (os.path.join(folder, n) for n in ("c.txt", "probe.txt"))
        >>> _ = open(ratings, "w").write("1:\\n7,3,2005-09-06\\n9,5,2005-05-13\\n")
        >>> _ = open(probe, "w").write("1:\\n9\\n")
        >>> train, test = probe_split(read_netflix(ratings), probe)
        >>> train.nnz, test.nnz, test.users.ids[test.user_idx].tolist()
        (1, 1, [9])
    """
    if missing not in _MISSING:
        raise DataError(f"missing must be one of {list(_MISSING)}, got {missing!r}")
    customers, movies, lines = read_netflix_pairs(probe)
    source = str(probe)
    user_idx = data.users.lookup(customers).astype(np.int64)
    item_idx = data.items.lookup(movies).astype(np.int64)
    matrix = data.matrix
    n_items = max(matrix.shape[1], 1)
    # Cell of each pair: the CSR's cells in order have increasing keys row * n_items +
    # column, so a pair's key is found by binary search, a slab of cells at a time
    # (no key array as large as the data: 8 bytes a rating at 10^8 would be 0.8 GB).
    keys = np.where((user_idx >= 0) & (item_idx >= 0), user_idx * n_items + item_idx, -1)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cell = np.full(keys.size, -1, dtype=np.int64)
    indptr, indices = matrix.indptr, matrix.indices
    slab = _PROBE_SLAB
    for a in range(0, matrix.nnz, slab):
        b = min(a + slab, matrix.nnz)
        rows = np.searchsorted(indptr, np.arange(a, b), side="right") - 1
        cell_keys = rows.astype(np.int64) * n_items + indices[a:b]
        lo, hi = np.searchsorted(sorted_keys, [cell_keys[0], cell_keys[-1] + 1])
        if lo == hi:
            continue
        want = sorted_keys[lo:hi]
        at = np.searchsorted(cell_keys, want)
        hit = (at < cell_keys.size) & (cell_keys[np.minimum(at, cell_keys.size - 1)] == want)
        cell[order[lo:hi][hit]] = a + at[hit]
    found = cell >= 0
    if found.any():
        # The same pair twice would be held out once and counted twice.
        kept = np.flatnonzero(found)
        by_cell = kept[np.argsort(cell[kept], kind="stable")]
        same = np.flatnonzero(cell[by_cell[1:]] == cell[by_cell[:-1]])
        if same.size:
            first, second = sorted(by_cell[same[0] : same[0] + 2])
            raise DataError(
                f"line {lines[second]} of {source} repeats the pair of line "
                f"{lines[first]} (customer {customers[second]}, movie {movies[second]})",
                source=source, where=(int(lines[second]),), unit="line",
            )  # fmt: skip
    lost = np.flatnonzero(~found)
    if lost.size and missing == "error":
        k = int(lost[0])
        if item_idx[k] < 0:
            why = f"movie {movies[k]} is not in the data"
        elif user_idx[k] < 0:
            why = f"customer {customers[k]} is not in the data"
        else:
            why = f"customer {customers[k]} has no rating of movie {movies[k]} in the data"
        raise DataError(
            f"line {lines[k]} of {source}: {why} ({lost.size} of the {lines.size} pairs "
            "have no rating in the data: was it read from all of combined_data_1.txt .. "
            "combined_data_4.txt?); missing='skip' (--missing skip) holds out the others",
            source=source, where=(int(lines[k]),), unit="line",
        )  # fmt: skip
    if not found.any():
        raise DataError(
            f"none of the {lines.size} pairs of {source} has a rating in the data: "
            "nothing to hold out (is it the probe file of these ratings?)",
            source=source,
        )
    if found.sum() == data.nnz:
        raise DataError(
            f"{source} holds out every one of the data's {data.nnz} ratings: none is left "
            "to train on (are these the ratings of combined_data_1.txt .. 4?)",
            source=source,
        )
    held = np.zeros(data.nnz, dtype=bool)
    held[cell[found]] = True
    train, test = data.subset(~held), data.subset(held)
    report = LoadReport(
        source=source,
        unit="line",
        rows_read=int(lines.size),
        loaded=int(found.sum()),
        rejections=(
            (Rejection("no rating in the data", "CustomerID", tuple(lines[lost].tolist())),)
            if lost.size
            else ()
        ),
    )
    return train, test.replace(load_report=report)


_YEAR = re.compile(r"[0-9]{4}")
# Bytes 0x80-0x9F of a "Latin-1" file written on Windows are Windows-1252's (0x85 "…",
# 0x92 "’"), as the WHATWG encoding standard reads the label latin1; the five it leaves
# undefined stay the C1 controls Latin-1 gives them.
_C1_AS_CP1252 = {
    b: bytes([b]).decode("cp1252")
    for b in range(0x80, 0xA0)
    if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}
_C1_TABLE = str.maketrans({chr(b): c for b, c in _C1_AS_CP1252.items()})


def read_netflix_titles(path: str | Path):
    """The prize's ``movie_titles.csv`` as a side table: a DataFrame indexed by movie id
    (``item_id``) with ``title`` (str) and ``year`` (Int64, ``<NA>`` where the file says
    ``NULL``), in file order.  Attach it to ratings with :func:`with_titles`, which
    puts it in the order of the data's items (the side table is read by position, and
    the file lists movies the data may not hold) and refuses a movie without a title.

    Each line is ``MovieID,YearOfRelease,Title`` and the title runs to the line's end,
    commas and quotes included, as it stands: the prize's file quotes nothing, so a
    CSV reader finds too many fields, and a title that begins and ends with a quote
    could be its own (``"Weird Al"``), so none is taken for CSV quoting.
    The prize's file is Latin-1: a file that is not valid UTF-8 is read as Latin-1 (its
    bytes 0x80-0x9F, control characters in Latin-1, as Windows-1252's ``…``, ``’``...),
    a UTF-8 one (a BOM allowed) as UTF-8.  Packed files (gzip, bzip2, xz, a one-file zip)
    are unpacked.

    Raises:
        DataError: naming the file and line: a line without three fields, a movie id
            that is not a whole number, a year that is neither four digits nor ``NULL``,
            an empty title, a movie id given twice.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "movie_titles.csv")
        >>> _ = open(path, "wb").write(b"1,2003,Dinosaur Planet\\r\\n"
        ...     b"72,1974,At Home Among Strangers, A Stranger Among His Own\\r\\n"
        ...     b"4388,NULL,Les Mis\\xe9rables\\r\\n")
        >>> titles = read_netflix_titles(path)
        >>> titles.loc[72, "title"], titles.loc[4388, "title"], titles["year"].tolist()
        ('At Home Among Strangers, A Stranger Among His Own', 'Les Misérables', [2003, 1974, <NA>])
    """  # noqa: E501
    import pandas as pd

    path = Path(path)
    source = str(path)
    raw = _whole_file(
        path, "movie titles file", "movie titles file", TITLES_BYTES,
        "the prize's movie_titles.csv is 0.6 MiB",
    )  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # The prize's own encoding: every byte is a character.  Read as Latin-1 alone,
        # a title's "\x85" was NEL, a line break to str.splitlines and to terminals.
        text = raw.decode("latin-1").translate(_C1_TABLE)
    ids, years, titles, lines = [], [], [], {}
    # Split at "\n" only: str.splitlines would also split at Latin-1's 0x85 and 0x1C-0x1E.
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue

        def fail(why: str, number=number, line=line):
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise DataError(
                f"line {number} of {source} {why}: {shown!r}",
                source=source, where=(number,), unit="line",
            )  # fmt: skip

        if "\r" in line:
            # Lines ended by "\r" alone (or "\r\r\n") were one line, its title running
            # on over the next movies' lines.
            fail("holds a '\\r' not before its line end: convert the file's line ends to "
                 "'\\n' or '\\r\\n' (dos2unix)")  # fmt: skip
        if "\0" in line:
            fail("holds NUL bytes: a download cut short leaves a file padded with them; "
                 "fetch the file again")  # fmt: skip
        fields = line.split(",", 2)
        if len(fields) < 3:
            fail(f"has {len(fields)} field{'s' if len(fields) > 1 else ''} where "
                 "MovieID,YearOfRelease,Title has 3")  # fmt: skip
        movie, year, title = fields
        if not _DIGITS.fullmatch(movie) or len(movie) > 18:
            fail(f"has a bad movie id {movie!r} (expected a whole number)")
        if year != "NULL" and not _YEAR.fullmatch(year):
            fail(f"has a bad year {year!r} (expected four digits or NULL)")
        if year == "0000":
            fail("has year 0000 (years run from 0001, as the rating dates' do; NULL for none)")
        if not title.strip():
            fail("has an empty title")
        movie_id = int(movie)
        if movie_id in lines:
            fail(f"gives movie {movie_id} again (first on line {lines[movie_id]})")
        lines[movie_id] = number
        ids.append(movie_id)
        years.append(None if year == "NULL" else int(year))
        titles.append(title)
    if not ids:
        raise DataError(f"{source} has no movie lines (MovieID,YearOfRelease,Title)", source=source)
    index = pd.Index(np.array(ids, dtype=np.int64), name="item_id")
    return pd.DataFrame(
        {"title": pd.Series(titles, index=index, dtype=object),
         "year": pd.Series(years, index=index, dtype="Int64")},
    )  # fmt: skip


def with_titles(data, titles):
    """``data`` with the movie titles file ``titles`` (a path, or the table of
    :func:`read_netflix_titles`) as its item side table, in the order of its items, so a
    model fitted on it records the titles and ``latentrec recommend`` shows them.

    A movie of ``data`` that ``titles`` does not name is refused by id: reindexed as it
    stood, its title was NaN, which a model recorded and ``recommend`` showed as "nan".

    Example:
        >>> import tempfile, os
        >>> from latentrec.datasets import read_netflix
        >>> folder = tempfile.mkdtemp()
        >>> ratings, names = (os.path.join(folder, n) for n in ("c.txt", "movie_titles.csv"))
        >>> _ = open(ratings, "w").write("72:\\n7,3,2005-09-06\\n1:\\n7,4,2005-09-07\\n")
        >>> _ = open(names, "w").write("1,2003,Dinosaur Planet\\n72,1974,At Home\\n")
        >>> data = with_titles(read_netflix(ratings), names)
        >>> data.items.ids.tolist(), data.item_titles().tolist()
        ([1, 72], ['Dinosaur Planet', 'At Home'])
    """
    source = None
    if isinstance(titles, (str, Path)):
        source, titles = str(titles), read_netflix_titles(titles)
    ids = data.items.ids
    missing = titles.index.get_indexer(ids) < 0
    if missing.any():
        lost = ids[missing]
        shown = ", ".join(str(x) for x in lost[:5]) + (" ..." if lost.size > 5 else "")
        where = f" {source}" if source else " the titles"
        raise DataError(
            f"{lost.size} of the data's {ids.size} movies have no line in{where} "
            f"(movie {shown}): is it the movie_titles.csv of these ratings?",
            source=source,
        )
    return data.replace(item_features=titles.reindex(ids))
