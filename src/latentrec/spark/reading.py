"""``read_ratings``: a ratings file read with Spark, refused with the file and line of a bad row.

Spark's CSV reader, left to itself, keeps what it can of a bad line: a row with an extra
field loses the field, a row with one too few gets a null, and a rating that is not a
number makes the whole column text.  :func:`read_ratings` makes one pass that looks for
such a row (JVM-side: the CSV reader's corrupt-record column, null ids, a rating that
does not cast to a finite number).  Spark keeps no line numbers, so only when a bad row is
found is its file read again as lines (``textFile`` numbered in order, which Hadoop's
splits of one file keep) and the first bad line named, as the local reader names it.
A Parquet file has no lines: its bad row is named by the file and its values.
"""

from __future__ import annotations

import bz2
import copy
import csv
import gzip
import lzma
import math
import re
import sys
from urllib.parse import unquote, urlparse

from ..data.readers import SEPARATORS, csv_fields_up_to, line_separator, text_lines
from .session import interrupt_wins

# Openers of packed local files, by suffix, for the first line read here.
_OPEN_PACKED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}

#: The column Spark's CSV reader fills with the text of a line it could not parse.
CORRUPT = "_latentrec_corrupt_record"
#: The column of 1.0 that :func:`read_ratings` adds to events (``rating_col=None``).
EVENTS = "_latentrec_event"
PARQUET_SUFFIXES = (".parquet", ".pq")


@interrupt_wins
def read_ratings(
    spark,
    source: str,
    *,
    user_col: str,
    item_col: str,
    rating_col: str | None,
    header: bool = True,
    sep: str | None = None,
    encoding: str = "UTF-8",
    implicit: bool = False,
):
    """Read a CSV/TSV (file or folder) or Parquet ratings source; refuse a bad row by its line.

    Returns the DataFrame :func:`latentrec.spark.fit_als` takes (CSV columns typed by
    Spark's schema inference, so integer ids stay integers; an id column whose values
    are all whole numbers written ``7.0`` is read as integers, as the local reader reads
    it, and one with other numbers such as ``1.5`` as text).  Raises ``ValueError`` naming
    the file, the line (text files) and the column of the first bad row found: a line
    with more or fewer fields than the header, an empty id, a rating that is not a
    finite number (or, ``implicit``, a negative one).  Columns the data lacks are left
    to ``fit_als``, which names the ones it has.

    ``rating_col=None`` reads events (one play or click a row, as the local engine's
    ``--rating-col none``): only the two id columns are read and checked, and a column
    :data:`EVENTS` of 1.0 is added for ``fit_als(rating_col=EVENTS)``, whose
    ``duplicates="sum"`` then counts a pair's rows as the local engine does.

    A local ``source`` (a path, or a ``file:`` URI) names one file or folder, read as
    named: Hadoop's glob characters (``[ ] { } * ? \\``) in it are escaped, so
    ``data[12].csv`` is that file, not ``data1.csv`` and ``data2.csv``; a path holding
    ``:``, which Hadoop cannot read, is refused.  A remote URI (``hdfs://``, ``s3a://``)
    goes to Spark as it is, globs included.  ``sep=None`` guesses the separator from the
    first line as the local reader does (the one of ``,``, tab, ``;`` and ``|`` that
    splits it into the most fields).  ``encoding`` is a Python codec name (``latin-1``,
    ``utf-8``, ``utf-16``...); Spark's CSV reader takes only the ones in
    :data:`SPARK_CHARSETS`.  A quoted field that holds a line break is read as the local
    reader reads it.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user,item,rating\\n1,1,5\\n2,1,x\\n")
        >>> read_ratings(spark, path, user_col="user", item_col="item",
        ...              rating_col="rating")  # doctest: +SKIP
        Traceback (most recent call last):
        ValueError: column 'rating' has non-numeric ratings (e.g. 'x') at line 3 of .../r.csv
    """
    _refuse_local_formats(source)
    path = spark_path(source)
    ids = (user_col, item_col)
    if source.lower().endswith(PARQUET_SUFFIXES):
        df = spark.read.parquet(path)
        _check_rows(df, source, user_col, item_col, rating_col, implicit, None)
        return _events(_whole_ids(df, ids, None), rating_col)
    codec, charset = _charsets(encoding)
    if sep is None:
        sep = guess_separator(spark, source, codec)
    # Blanks around a field go, as the local reader strips them (" eve" is "eve", " 4"
    # is 4): Spark's reader keeps them by default, which made " eve" another user.
    options = {
        "header": header, "sep": sep, "encoding": charset,
        "ignoreLeadingWhiteSpace": True, "ignoreTrailingWhiteSpace": True,
    }  # fmt: skip
    if wide_encoding(codec):
        # Spark splits a file into lines at the byte "\n", half of a UTF-16 line break;
        # only a file read whole ("multiLine", one task a file) is decoded before it is
        # split.
        options["multiLine"] = True
    # Every column as text, plus the text of any line whose field count is wrong: a
    # first pass that sees what the file says, before inference types it.
    names = spark.read.csv(path, **options).columns
    wanted = _wanted(user_col, item_col, rating_col)
    if all(c in names for c in wanted):
        schema = ", ".join(f"`{_quoted(c)}` string" for c in names) + f", {CORRUPT} string"

        def text(**more):
            return spark.read.csv(
                path, schema=schema, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT,
                **{**options, **more},
            )  # fmt: skip

        layout = _Layout(names, header, sep, codec, wanted)
        try:
            _check_rows(text(), source, user_col, item_col, rating_col, implicit, layout)
        except ValueError:
            # A quoted field may hold a line break, which the local reader reads.  Spark
            # reads such a file only whole ("multiLine", one task a file, where it
            # otherwise splits files at line ends), so only a file that fails line by
            # line is read again so; if it still fails, its first bad line is named,
            # found among its records: a line at a time, the first half of a record over
            # two lines was named instead.
            whole = text(multiLine=True)
            if _bad_row(whole, user_col, item_col, rating_col, implicit, True):
                if not layout.wide:  # a wide file's lines were read as records already
                    records = layout.as_records()
                    _check_rows(whole, source, user_col, item_col, rating_col, implicit, records)
                raise
            options["multiLine"] = True
    elif len(names) == 1:
        _refuse_one_column(spark, source, names[0], header, sep, codec)
    df = _whole_ids(spark.read.csv(path, inferSchema=True, **options), ids, (path, options))
    return _events(df, rating_col)


def _wanted(user_col, item_col, rating_col) -> tuple:
    # Events (no rating column) are read by their two ids.
    return (user_col, item_col) if rating_col is None else (user_col, item_col, rating_col)


def _events(df, rating_col):
    """``df`` as it was read, or (events, ``rating_col=None``) with :data:`EVENTS` added."""
    if rating_col is not None:
        return df
    from pyspark.sql import functions as F

    return df.withColumn(EVENTS, F.lit(1.0).cast("float"))


#: What Spark's CSV reader reads, by the Python codec name of each (``codecs.lookup``).
SPARK_CHARSETS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "iso8859-1": "iso-8859-1",
    "ascii": "us-ascii",
    "utf-16": "utf-16",
    "utf-16-be": "utf-16be",
    "utf-16-le": "utf-16le",
    "utf-32": "utf-32",
}


def _charsets(encoding: str) -> tuple[str, str]:
    """``(Python codec, Spark charset)`` of ``encoding``, or a ValueError naming the ones
    Spark reads: Spark's own refusal of ``latin-1`` (its name ``iso-8859-1``) listed its
    names only, inside a Java exception."""
    import codecs

    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r} (e.g. utf-8, latin-1)") from None
    if codec not in SPARK_CHARSETS:
        readable = "utf-8, latin-1 (iso-8859-1), ascii, utf-16, utf-16-be, utf-16-le, utf-32"
        raise ValueError(
            f"encoding {encoding!r} is not one Spark's CSV reader reads ({readable}); "
            "convert the file (e.g. iconv -t utf-8) or read it with the local engine"
        )
    return codec, SPARK_CHARSETS[codec]


def wide_encoding(codec: str) -> bool:
    """Whether a line break in ``codec`` is more than the byte ``\\n`` (UTF-16, UTF-32).
    Split at that byte, as Hadoop splits a text file into lines, such a file's lines
    after the first are cut in the middle of a character: Spark read a UTF-16-BE header
    as ``rating\ufffd`` and the rows as text with a stray character, without a word.

    Example:
        >>> wide_encoding("utf-8"), wide_encoding("iso8859-1"), wide_encoding("utf-16-le")
        (False, False, True)
    """
    # One more "\n", one more byte? (The difference leaves a byte-order mark out.)
    return len("\n\n".encode(codec)) - len("\n".encode(codec)) != 1


# Hadoop's glob characters (org.apache.hadoop.fs.GlobPattern), escaped by a backslash.
_GLOB = re.compile(r"([\\\[\]{}*?])")


def spark_path(source: str) -> str:
    r"""The path to give Spark for ``source``: a local path or ``file:`` URI made absolute,
    with Hadoop's glob characters escaped, so that Spark reads the file named (a remote
    URI is given as it is).  Raises ``FileNotFoundError`` for a local path that does not
    exist and ``ValueError`` for one that holds ``:`` (a file of a local folder included),
    which Hadoop reads as a URI's scheme.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "data[12].csv"), "w").write("user,item\n")
        >>> spark_path(os.path.join(folder, "data[12].csv")) == folder + r"/data\[12\].csv"
        True
        >>> spark_path("hdfs://nn/ratings/part-*.csv")
        'hdfs://nn/ratings/part-*.csv'
    """
    import errno
    import os

    if _remote(source):
        return source
    path = os.path.abspath(_source_path(source))
    colon = [path] if ":" in path else []
    if os.path.isdir(path):
        # Spark lists a folder's files, skipping hidden ones ("." and "_" first).
        colon += [e.path for e in os.scandir(path) if ":" in e.name and e.name[0] not in "._"]
    if colon:
        raise ValueError(
            f"{colon[0]} holds ':', which Spark (Hadoop) cannot read in a file or folder "
            "name; rename it, or read it with the local engine"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), source)
    return _escaped(path)


def guess_separator(spark, source: str, encoding: str = "utf-8") -> str:
    """The separator of the CSV/TSV ``source`` as the local reader guesses it: the one of
    ``,``, tab, ``;`` and ``|`` that splits the first non-blank line into the most fields
    (a space when none splits it and it holds one; a comma for an empty file).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.tsv")
        >>> _ = open(path, "w").write("user\\titem\\trating\\n1\\t1\\t5\\n")
        >>> guess_separator(spark, path)  # doctest: +SKIP
        '\\t'
    """
    return line_separator(_first_line(spark, source, encoding))


def _first_line(spark, source: str, encoding: str) -> str:
    """The first non-blank line of ``source`` ('' if none): read here for a local file,
    by Spark for a folder or a remote source (one line of its first file)."""
    import itertools
    import os

    if not _remote(source) and os.path.isfile(_source_path(source)):
        path = _source_path(source)
        # A packed file is read unpacked, as the local reader reads it (and Spark too).
        opener = _OPEN_PACKED.get(os.path.splitext(path)[1].lower(), open)
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as f:
            for line in itertools.islice(f, 10_000):
                if line.strip():
                    return line.rstrip("\r\n").lstrip("\ufeff")
        return ""
    from pyspark.sql import functions as F

    lines = spark.read.text(spark_path(source))
    found = lines.where(F.trim("value") != "").limit(1).collect()
    return found[0]["value"].lstrip("\ufeff") if found else ""


def _refuse_one_column(spark, source: str, name: str, header: bool, sep: str, codec: str):
    """A file read as one column whose first line holds another separator: say to give it
    (Spark named the whole line as a column missing the others)."""
    line = name if header else _first_line(spark, source, codec)
    others = [c for c in SEPARATORS if c != sep and c in line]
    if others:
        shown = {"\t": "a tab"}.get(others[0], repr(others[0]))
        raise ValueError(
            f"the first line of {source} is one field with the separator {sep!r} but holds "
            f"{shown}: give the file's separator (sep=, --sep)"
        )


def _whole_ids(df, ids, csv_read):
    """``df`` with each id column of floating-point numbers read as the local reader reads
    it: whole numbers (``7.0``) as integers; else, for a CSV (``csv_read`` is its
    ``(path, options)``), the column as text.  Spark's inference made them doubles, which
    ``fit_als`` refuses."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType, StringType, StructField, StructType

    kinds = (DoubleType, FloatType)
    floats = [c for c in ids if c in df.columns and isinstance(df.schema[c].dataType, kinds)]
    if not floats:
        return df
    # A long holds up to 2**63 - 1; a double past 2**53 is whole but no longer exact.
    not_whole = [
        F.max((F.isnan(c) | (F.abs(c) >= 2.0**53) | (F.col(c) != F.floor(c))).cast("int")).alias(c)
        for c in floats
    ]
    flags = df.select(*not_whole).first()
    text = [c for c in floats if flags[c]]
    if text and csv_read is not None:
        path, options = csv_read
        schema = StructType(
            [StructField(f.name, StringType()) if f.name in text else f for f in df.schema]
        )
        df = df.sparkSession.read.csv(path, schema=schema, **options)
    for c in floats:
        if c not in text:
            df = df.withColumn(c, F.col(c).cast("long"))
    return df


# What the way to Spark is from a file only the local engine reads.
_TO_PARQUET = (
    "Spark reads CSV/TSV or Parquet; write Parquet with "
    "latentrec.Interactions.read({path!r}).to_frame().to_parquet('ratings.parquet') "
    "(columns user_id, item_id, rating, timestamp)"
)


def _refuse_local_formats(source: str) -> None:
    """Refuse, naming it, a local file in a format only latentrec reads: Spark's CSV
    reader would take its first line (or its zip bytes) for a header of columns."""
    from pathlib import Path

    from ..data.lrdata import SUFFIX
    from ..data.netflix import is_netflix_file

    if _remote(source):
        return
    path = Path(_source_path(source))
    if path.suffix.lower() == SUFFIX:
        raise ValueError(
            f"{source} is a latentrec {SUFFIX} file, which the local engine reads; "
            + _TO_PARQUET.format(path=source)
        )
    if path.is_file() and is_netflix_file(path):
        raise ValueError(
            f"{source} is a Netflix-prize file (its first line is a movie id and ':'), "
            "which the local engine reads; " + _TO_PARQUET.format(path=source)
        )


class _Layout:
    """How a text file's lines split into fields, to find a bad one by Python's csv reader.

    ``records``: the file holds quoted fields over several lines (Spark read it with
    ``multiLine``), so its lines are judged as records, in order, each named by the line
    it starts on.  A file in UTF-16 or UTF-32 is always read so (see :attr:`wide`)."""

    def __init__(self, names, header, sep, encoding, cols, records: bool = False):
        self.n_fields = len(names)
        self.header = header
        self.sep = sep
        self.encoding = encoding
        self.cols = cols
        self.positions = [names.index(c) for c in cols]
        self.records = records

    @property
    def wide(self) -> bool:
        """Whether a line break is more than the byte ``\\n`` (:func:`wide_encoding`)."""
        return wide_encoding(self.encoding)

    def as_records(self) -> _Layout:
        """This layout, judging lines as records (a quoted field may run over lines)."""
        out = copy.copy(self)
        out.records = True
        return out

    def fields(self, raw: bytes) -> list[str] | None:
        """One line's fields, or None for a blank line (Spark skips those)."""
        line = raw.decode(self.encoding, errors="replace").rstrip("\r")
        if not line.strip():
            return None
        if len(self.sep) == 1:
            csv_fields_up_to(len(line))
            return next(csv.reader([line], delimiter=self.sep, escapechar="\\"), [])
        # Spark takes a separator of several characters; Python's csv does not.
        return line.split(self.sep)

    def has_pair(self, raw: bytes, user, item) -> bool:
        """Whether one line holds ``(user, item)`` as Spark typed them (42 == "042")."""
        fields = self.fields(raw)
        if fields is None or len(fields) != self.n_fields:
            return False
        return all(
            _same(fields[p], value)
            for p, value in zip(self.positions[:2], (user, item), strict=True)
        )

    def problem(self, raw: bytes, implicit: bool):
        """What is wrong with one line as ``(kind, column, value)``, or None."""
        return self.judge(self.fields(raw), implicit)

    def judge(self, fields: list[str] | None, implicit: bool):
        """What is wrong with one record's fields as ``(kind, column, value)``, or None
        (``None`` fields: a blank line)."""
        if fields is None:
            return None
        if len(fields) != self.n_fields:
            return ("fields", len(fields), None)
        values = [fields[p] for p in self.positions]
        for col, value in zip(self.cols[:2], values[:2], strict=True):
            if not value.strip():
                return ("id", col, value)
        if len(values) == 2:  # events: no rating to judge
            return None
        return _rating_problem(values[2], implicit)

    def first_bad_record(self, lines, implicit: bool):
        """``(line number, problem)`` of the first bad record of ``lines`` (the file's
        text lines in order, with their endings), each record named by the line it
        starts on; None when every record is good.

        Example:
            >>> layout = _Layout(["u", "i", "r"], True, ",", "utf-8", ("u", "i", "r"))
            >>> layout.first_bad_record(["u,i,r\\n", '1,"a\\n', 'b",4\\n', "2,c,x\\n"], False)
            (4, ('text', None, 'x'))
        """
        for start, record in self._records(lines):
            found = self.judge(record, implicit)
            if found is not None:
                return start, found
        return None

    def pair_records(self, lines, user, item, limit: int) -> list[int]:
        """The lines (at most ``limit``) that records holding ``(user, item)`` start on,
        ``lines`` read as :meth:`first_bad_record` reads them.

        Example:
            >>> layout = _Layout(["u", "i", "r"], True, ",", "utf-8", ("u", "i", "r"))
            >>> layout.pair_records(["u,i,r\\n", '1,"a\\n', 'b",4\\n', '1,"a\\nb",5\\n'],
            ...                     1, "a\\nb", 5)
            [2, 4]
        """
        found = []
        for start, record in self._records(lines):
            if len(record) == self.n_fields and all(
                _same(record[p], value)
                for p, value in zip(self.positions[:2], (user, item), strict=True)
            ):
                found.append(start)
                if len(found) >= limit:
                    break
        return found

    def _records(self, lines):
        """``(line it starts on, fields)`` of each record of ``lines`` but the header and
        blank lines."""
        if len(self.sep) == 1:
            csv_fields_up_to(sys.maxsize)  # a record's length is known only once read
            reader = csv.reader(lines, delimiter=self.sep, escapechar="\\")
        else:  # no quotes with a separator of several characters, as fields() reads it
            reader = (line.rstrip("\r\n").split(self.sep) for line in lines)
        number, skip = 0, self.header
        for record in reader:
            start = number + 1
            number = reader.line_num if len(self.sep) == 1 else start
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line, which Spark skips
            if skip:  # the header
                skip = False
                continue
            yield start, record


def _same(text: str, value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(text) == value
        except ValueError:
            return False
    return text.strip() == str(value)  # Spark read the field without its blanks


@interrupt_wins
def pair_lines(df, source: str, user, item, *, user_col: str, item_col: str, rating_col: str,
               header: bool = True, sep: str | None = None, encoding: str = "UTF-8",
               limit: int = 5) -> str | None:  # fmt: skip
    """Where ``source`` (as :func:`read_ratings` read it into ``df``) holds ``(user, item)``:
    "lines 2 and 5 of r.csv" (at most ``limit`` lines, in file order), or "in a.parquet"
    for files without lines; None if no row has it.  ``sep=None`` guesses the separator
    as :func:`read_ratings` does.  The error path of a repeated pair:
    each file that holds it is read once more, as lines.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user,item,rating\\n1,1,5\\n1,1,3\\n")
        >>> df = read_ratings(spark, path, user_col="user", item_col="item",
        ...                   rating_col="rating")  # doctest: +SKIP
        >>> pair_lines(df, path, 1, 1, user_col="user", item_col="item",
        ...            rating_col="rating")  # doctest: +SKIP
        'lines 2 and 3 of .../r.csv'
    """
    from pyspark.sql import functions as F

    files = sorted(
        row["file"]
        for row in df.where((F.col(user_col) == user) & (F.col(item_col) == item))
        .select(F.col("_metadata.file_path").alias("file"))
        .distinct()
        .collect()
    )
    if not files:
        return None
    shown = (lambda f: source) if _is_file(source) else _local
    if source.lower().endswith(PARQUET_SUFFIXES):
        return "in " + ", ".join(shown(f) for f in files)
    codec = _charsets(encoding)[0]
    if sep is None:
        sep = guess_separator(df.sparkSession, source, codec)
    columns = [c for c in df.columns if c != EVENTS or rating_col is not None]
    layout = _Layout(columns, header, sep, codec, _wanted(user_col, item_col, rating_col))
    skip = 1 if header else 0
    context = df.sparkSession.sparkContext
    parts, left = [], limit
    for file in files:
        path = _escaped(_local(file))

        # As _first_bad_line reads a file: a UTF-16 or UTF-32 file whole, decoded before
        # it is split; a record over several lines (a quoted line break) only as a record,
        # read in order.  Either was "in r.csv", its lines not named.
        def in_file(pair, left=left):
            return layout.pair_records(_wide_lines(pair[1], codec), user, item, left)

        def in_lines(raw, left=left):
            yield layout.pair_records(_hadoop_lines(raw, codec), user, item, left)

        if layout.wide:
            numbers = context.binaryFiles(path).map(in_file).first()
        else:
            lines = context.textFile(path, use_unicode=False)
            numbers = (
                lines.zipWithIndex()
                .filter(lambda pair: pair[1] >= skip and layout.has_pair(pair[0], user, item))
                .map(lambda pair: pair[1] + 1)
                .take(left)
            )
            if not numbers:
                numbers = lines.coalesce(1).mapPartitions(in_lines).first()
        if numbers:
            listed = [str(n) for n in numbers]
            text = ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]
            parts.append(f"line{'s' if len(listed) > 1 else ''} {text} of {shown(file)}")
            left -= len(numbers)
        if left <= 0:
            break
    return "; ".join(parts) or "in " + ", ".join(shown(f) for f in files)


def _rating_problem(rating, implicit: bool):
    if rating is None or rating == "":
        return ("nan", None, rating)
    try:
        number = float(rating)
    except (TypeError, ValueError):
        return ("text", None, rating)
    if not math.isfinite(number):
        return ("nan", None, rating)
    if implicit and number < 0:
        return ("negative", None, rating)
    return None


def _bad_row(df, user_col, item_col, rating_col, implicit, corrupt: bool):
    """The first row of ``df`` with a null id, a rating that is not a finite number (or,
    ``implicit``, a negative one) or, ``corrupt``, a line Spark could not split; or None."""
    from pyspark.sql import functions as F

    bad = F.col(user_col).isNull() | F.col(item_col).isNull()
    if rating_col is not None:  # events have no rating to judge
        rating = F.expr(f"try_cast(`{_quoted(rating_col)}` AS DOUBLE)")
        bad = bad | rating.isNull() | F.isnan(rating) | (F.abs(rating) == float("inf"))
        if implicit:
            bad = bad | (rating < 0)
    if corrupt:
        bad = bad | F.col(CORRUPT).isNotNull()
    # Spark 4 names a row's file in the hidden _metadata column of file sources.
    found = (
        df.where(bad)
        .select(
            F.col("_metadata.file_path").alias("file"),
            *_wanted(user_col, item_col, rating_col),
        )
        .limit(1)
        .collect()
    )
    return found[0] if found else None


def _check_rows(df, source, user_col, item_col, rating_col, implicit, layout) -> None:
    from pyspark.sql.types import NumericType, StringType

    if not all(c in df.columns for c in _wanted(user_col, item_col, rating_col)):
        return  # fit_als names a missing column (Spark's own error is a query plan)
    if rating_col is not None and not isinstance(
        df.schema[rating_col].dataType, (NumericType, StringType)
    ):
        return  # fit_als names a column of the wrong type
    row = _bad_row(df, user_col, item_col, rating_col, implicit, layout is not None)
    if row is None:
        return
    shown = source if _is_file(source) else _local(row["file"])
    if layout is not None:
        line = _first_bad_line(df.sparkSession, row["file"], layout, implicit)
        if line is not None:
            number, (what, col, value) = line
            where = f"line {number} of {shown}"
            if what == "fields":
                other = "the header" if layout.header else "the first line"
                raise ValueError(f"{where} has {col} fields where {other} has {layout.n_fields}")
            raise ValueError(_message(what, col or rating_col, value, f"at {where}"))
    values = ", ".join(f"{c}={row[c]!r}" for c in _wanted(user_col, item_col, rating_col))
    u, i = row[user_col], row[item_col]
    r = row[rating_col] if rating_col is not None else None
    if u is None or i is None:
        what, col, value = "id", user_col if u is None else item_col, ""
    elif rating_col is None:  # events: only a line Spark could not split is left
        what, col, value = "fields", None, None
    else:
        what, col, value = _rating_problem(r, implicit) or ("fields", rating_col, r)
    if what == "fields":  # Spark saw a bad line that Python's csv reader reads well
        raise ValueError(f"a line of {shown} does not split into the header's fields: {values}")
    raise ValueError(_message(what, col or rating_col, value, f"in a row of {shown}: {values}"))


def _message(what: str, col: str, value, where: str) -> str:
    # The local reader's words (latentrec.data), so both engines say the same.
    if what == "id":
        return f"column {col!r} has empty ids {where}"
    if what == "text":
        return f"column {col!r} has non-numeric ratings (e.g. {value!r}) {where}"
    if what == "negative":
        return f"column {col!r} has negative strengths (implicit data needs >= 0) {where}"
    return f"column {col!r} has missing (NaN) or infinite ratings {where}"


def _wide_lines(raw: bytes, encoding: str):
    """The text lines of a whole file's bytes in a UTF-16 or UTF-32 ``encoding``."""
    return text_lines(bytes(raw).decode(encoding, errors="replace").removeprefix("\ufeff"))


def _hadoop_lines(raw, encoding: str):
    """Hadoop's lines (bytes, endings taken off) as text lines with their endings back:
    a quoted line break is one of those endings."""
    return (line.decode(encoding, errors="replace") + "\n" for line in raw)


def _first_bad_line(spark, file: str, layout: _Layout, implicit: bool):
    """``(line number, problem)`` of the first bad line of ``file``, or None.

    A file of one record a line is judged a line at a time, in parallel.  One whose
    quoted fields hold line breaks (``layout.records``) is read in order by one task,
    as Spark's ``multiLine`` read reads it, each record named by the line it starts on.
    A UTF-16 or UTF-32 file is read whole by one task and decoded before it is split
    (Hadoop splits text at the byte ``\\n``, which is half of such a line break)."""
    path = _escaped(_local(file))
    context = spark.sparkContext
    encoding = layout.encoding
    if layout.wide:

        def scan_file(pair):
            yield layout.first_bad_record(_wide_lines(pair[1], encoding), implicit)

        return context.binaryFiles(path).flatMap(scan_file).first()
    lines = context.textFile(path, use_unicode=False)
    if layout.records:

        def scan_lines(raw):
            yield layout.first_bad_record(_hadoop_lines(raw, encoding), implicit)

        return lines.coalesce(1).mapPartitions(scan_lines).first()
    lines = lines.zipWithIndex()
    skip = 1 if layout.header else 0
    found = (
        lines.filter(lambda pair: pair[1] >= skip)
        .map(lambda pair: (pair[1] + 1, layout.problem(pair[0], implicit)))
        .filter(lambda pair: pair[1] is not None)
        .take(1)
    )
    return found[0] if found else None


def _is_file(source: str) -> bool:
    from pathlib import Path

    return "://" not in source and Path(source).is_file()


def _escaped(path: str) -> str:
    # A file Spark listed, given back to Hadoop: its glob characters name themselves.
    return _GLOB.sub(r"\\\1", path)


def _remote(source: str) -> bool:
    """A source Spark reads from elsewhere (hdfs://, s3a://, hdfs:/path, ...), not a
    local path: a URI of a scheme of two letters or more, other than ``file:``."""
    return bool(_URI.match(source)) and not source.lower().startswith("file:")


# A URI's scheme and the slash after it ("hdfs://nn/x", "hdfs:/x"); "a:b.csv" is a name.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/")


def _source_path(source: str) -> str:
    """The local path a (not remote) source names: a ``file:`` URI's path, else itself
    (``a:b.csv`` is a file name, not a URI of scheme ``a``)."""
    return _local(source) if source.lower().startswith("file:") else source


def _local(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("", "file") else uri


def _quoted(name: str) -> str:
    return name.replace("`", "``")
