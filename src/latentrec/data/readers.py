"""Ratings files read into columns of text, with the file line of every row.

Owns :func:`read_delimited` (CSV / TSV / any one-character separator, parsed by the
standard :mod:`csv` module so that every row keeps its 1-based file line, the header
line included) and :func:`read_parquet_frame`.  Whatever goes wrong while reading (an
empty file, a wrong encoding, an unclosed quote, a row with too many fields, a file that
is not Parquet, pyarrow missing) becomes a :class:`~latentrec.data.report.DataError`
naming the file and, where known, the line.

Also owns the chunked readers of the lean path, :func:`delimited_batches` (pyarrow's
CSV parser, ~16 MB of the file at a time) and :func:`parquet_batches`: they take only
plainly clean files and decline anything else, which :func:`read_delimited` then reads
line by line and names.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import io
import lzma
import re
import zipfile
from array import array
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from .ingest import Decline
from .report import DataError, Places, case_hint

CSV_ENCODING = "utf-8-sig"
# Rows between checks of whether a column's cells repeat enough to be shared.
_SHARE_CHECK = 1 << 16
SEPARATORS = (",", "\t", ";", "|")

# Whether Arrow's own thread pool parses the CSV blocks.  Off: once started, the pool
# aborts the process now and then as it exits ("terminate called without an active
# exception", SIGABRT after all the work was done: apache/arrow#34314; 3-6 of 60 runs of
# `latentrec data info` here), for a small price: a 10^7-row CSV reads in 2.71 s instead
# of 2.36 s (medians; benchmarks/csv_parse_threads.py, figures in docs/scaling.md).
ARROW_THREADS = False

# pandas' default NA markers (read_csv's ``na_values``): in value columns they mean a
# missing value.  In id columns they are ids ("NA" is a user name, "null" an item code).
NA_TEXT = frozenset(
    [
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    ]
)
_OPENERS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
# Packed files by their leading bytes (and, for Parquet, trailing ones) -> what it is and
# the name that reads it.  Each signature holds bytes that text never starts with.
_PACKED = (
    (lambda raw: raw.startswith(b"\x1f\x8b"), "a gzip", "name it *.csv.gz or unpack it"),
    (lambda raw: raw.startswith(b"PK\x03\x04"), "a zip", "name it *.zip or unpack it"),
    (lambda raw: re.match(rb"BZh[1-9]1AY&SY", raw), "a bzip2", "name it *.csv.bz2 or unpack it"),
    (lambda raw: raw.startswith(b"\xfd7zXZ\x00"), "an xz", "name it *.csv.xz or unpack it"),
    (
        lambda raw: raw.startswith(b"PAR1") and raw.endswith(b"PAR1"),
        "a Parquet",
        "name it *.parquet",
    ),
)


class DefaultColumn(str):
    """A column name the caller did not give: the reader's default (``user_id``,
    ``item_id``).  Where a file's header lacks it, the one well-known name of
    :data:`COLUMN_ALIASES` the header holds is read instead (:func:`default_columns`);
    a name the caller gives, even the same text as a plain ``str``, is matched exactly.

    Example:
        >>> DEFAULT_USER == "user_id", isinstance(DEFAULT_USER, DefaultColumn)
        (True, True)
        >>> isinstance("user_id", DefaultColumn)
        False
    """

    __slots__ = ()


DEFAULT_USER = DefaultColumn("user_id")
DEFAULT_ITEM = DefaultColumn("item_id")

#: The header names read for a default id column the header lacks, when exactly one of
#: them is there: MovieLens' ``ratings.csv`` (``userId``, ``movieId``) and the common
#: ``user`` / ``item`` and ``userId`` / ``itemId``.  Matched as written (a header's
#: surrounding spaces aside); two of one column in a header are refused, not guessed.
COLUMN_ALIASES = {
    "user_id": ("userId", "user"),
    "item_id": ("movieId", "itemId", "item"),
}
_ROLES = ("user", "item", "rating", "timestamp")


def default_columns(names: tuple, fields, what: str, **error) -> tuple[tuple, str | None]:
    """``(names, note)``: the reader's ``names`` (user, item, rating, timestamp) with each
    :class:`DefaultColumn` that the header ``fields`` lack replaced by the one name of
    :data:`COLUMN_ALIASES` they hold, and a note saying which columns were read (``None``
    when none was replaced).  ``what`` names the header in an error; ``error`` goes to
    the :class:`DataError` raised when a header holds two names for one column.

    Example:
        >>> names = (DEFAULT_USER, DEFAULT_ITEM, "rating", None)
        >>> default_columns(names, ["userId", "movieId", "rating"], "the header")
        (('userId', 'movieId', 'rating', None), "user ids from column 'userId', item ids from column 'movieId' (no column 'user_id', 'item_id')")
        >>> try:
        ...     default_columns(names, ["user", "userId", "item_id"], "the header")
        ... except DataError as err:
        ...     print(err)
        the header has no column 'user_id' and 2 that could hold the user ids ('userId', 'user'); name one: user='userId' (--user-col userId)
    """  # noqa: E501
    texts = [f for f in fields if isinstance(f, str)]
    out = list(names)
    read = []
    for k, (role, name) in enumerate(zip(_ROLES, names, strict=True)):
        if not isinstance(name, DefaultColumn):
            continue
        if any(f == name or f.strip() == name for f in texts):
            continue
        found = [a for a in COLUMN_ALIASES.get(str(name), ()) if any(f.strip() == a for f in texts)]
        if len(found) > 1:
            shown = ", ".join(repr(a) for a in found)
            raise DataError(
                f"{what} has no column {str(name)!r} and {len(found)} that could hold the "
                f"{role} ids ({shown}); name one: {role}={found[0]!r} (--{role}-col {found[0]})",
                column=str(name),
                **error,
            )
        if found:
            # The header's own text (" movieId" with its space), so every reader finds it.
            exact = [f for f in texts if f == found[0]]
            out[k] = exact[0] if exact else next(f for f in texts if f.strip() == found[0])
            read.append((role, out[k], str(name)))
    if not read:
        return tuple(out), None
    said = ", ".join(f"{role} ids from column {col!r}" for role, col, _ in read)
    lacks = ", ".join(repr(default) for _, _, default in read)
    return tuple(out), f"{said} (no column {lacks})"


def header_line(path: str | Path, *, encoding: str | None = None) -> tuple[str, int] | None:
    """``(line, number)``: the first non-blank line of a text file, without its line
    ending or a byte-order mark, and its 1-based line; ``None`` when it cannot be read
    here (the reader then says why).  Reads only the head of the file (unpacking
    ``.gz``, ``.bz2``, ``.xz`` and one-file ``.zip`` as it goes).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("\\nuserId;movieId;rating\\n1;2;4\\n")
        >>> header_line(path)
        ('userId;movieId;rating', 2)
    """
    path = Path(path)
    encoding = CSV_ENCODING if encoding is None else encoding
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        with contextlib.ExitStack() as stack:
            stream = _open_head(path, stack)
            if stream is None:
                return None
            text = ""
            while True:
                chunk = stream.read(1 << 16)
                text += decoder.decode(chunk, final=not chunk)
                found = _first_line(text.removeprefix("\ufeff"), complete=bool(chunk))
                if found is not None or not chunk or len(text) > _BLOCK_BYTES:
                    break
    except (OSError, EOFError, LookupError, UnicodeError, ValueError, lzma.LZMAError,
            zipfile.BadZipFile):  # fmt: skip
        return None
    return found


def header_fields(
    path: str | Path, *, sep: str | None = None, encoding: str | None = None
) -> tuple[list, int] | None:
    """``(fields, line)``: the first non-blank line of a delimited file (see
    :func:`header_line`) split as :func:`read_delimited` splits its header, and its
    1-based line; ``None`` when it cannot be read here (the reader then says why).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("\\nuserId;movieId;rating\\n1;2;4\\n")
        >>> header_fields(path)
        (['userId', 'movieId', 'rating'], 2)
    """
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n'):
        return None
    found = header_line(path, encoding=encoding)
    if found is None:
        return None
    line, number = found
    separator = sep if sep is not None else line_separator(line)
    csv_fields_up_to(len(line))
    try:
        fields = next(csv.reader([line], delimiter=separator, quotechar='"', strict=True), [])
    except csv.Error:
        return None
    return fields, number


def _first_line(text: str, complete: bool):
    """``(line, number)`` of the first non-blank line of ``text`` once it is whole (ended,
    or ``complete`` is false: the text is all there is), else ``None``."""
    for number, line in enumerate(text_lines(text), start=1):
        if not line.strip():
            continue
        if complete and not line.endswith(("\n", "\r")):
            return None
        return line.rstrip("\r\n"), number
    return None


def _open_head(path: Path, stack: contextlib.ExitStack):
    """The bytes of a file as a stream closed with ``stack``, unpacked by its suffix;
    ``None`` for a zip of more than one file (the reader refuses it)."""
    suffix = path.suffix.lower()
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    if suffix in openers:
        return stack.enter_context(openers[suffix](path, "rb"))
    if suffix == ".zip":
        archive = stack.enter_context(zipfile.ZipFile(path))
        names = [n for n in archive.namelist() if not n.endswith("/")]
        return stack.enter_context(archive.open(names[0])) if len(names) == 1 else None
    return stack.enter_context(open(path, "rb"))


def parquet_columns(path: str | Path) -> list | None:
    """The column names of a Parquet file from its schema, or ``None`` when it cannot be
    read here (no pyarrow, not Parquet: the reader then says why).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.parquet")
        >>> pd.DataFrame({"userId": [1], "movieId": [2]}).to_parquet(path)
        >>> parquet_columns(path)
        ['userId', 'movieId']
    """
    try:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - anything wrong: the reader says what
        return None


@dataclass(frozen=True)
class DelimitedTable:
    """The wanted columns of a delimited file, as text, and where each row came from.

    ``frame`` has one column per wanted column (named as asked), object dtype: ``str``
    cells, ``None`` for a missing value (an NA marker in a value column, or a row with
    the wrong number of fields).  ``lines`` holds each row's 1-based file line.
    ``bad_fields`` maps a reason (``"3 fields where the header has 4"``) to the rows
    with that many fields.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    bad_fields: dict
    source: str
    separator: str
    encoding: str

    @property
    def places(self) -> Places:
        """Messages name this table's rows by file line.

        Example:
            >>> import tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
            >>> _ = open(path, "w").write("u,i\\n1,2\\n\\n3,4\\n")
            >>> read_delimited(path, ["u", "i"]).places.text([1]).endswith("line 4 of " + path)
            True
        """
        return Places.lines(self.lines, self.source)


def read_delimited(
    path: str | Path,
    columns: list,
    *,
    id_columns: tuple = (),
    sep: str | None = None,
    header: bool = True,
    encoding: str | None = None,
) -> DelimitedTable:
    """Read the given columns of a delimited text file, keeping each row's file line.

    Args:
        path: the file; ``.gz``, ``.bz2``, ``.xz`` and one-file ``.zip`` are unpacked.
        columns: header names (or, with ``header=False``, 0-based positions) to keep.
        id_columns: those of ``columns`` that hold ids: their cells stay text as they
            are (``NA`` or ``null`` is an id there), where other columns read pandas'
            NA markers as missing.
        sep: the separator; by default the one of ``,``, tab, ``;`` and ``|`` that
            splits the first line into the most fields.
        header: whether the first line names the columns.
        encoding: the text encoding, ``"utf-8-sig"`` by default (UTF-8 with or without
            the byte-order mark spreadsheet programs write).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("user,item\\nNA, 7\\n\\nbob,8\\n")
        >>> table = read_delimited(path, ["user", "item"], id_columns=("user",))
        >>> table.frame["user"].tolist(), table.lines.tolist(), table.separator
        (['NA', 'bob'], [2, 4], ',')
    """
    path = Path(path)
    source = str(path)
    encoding = CSV_ENCODING if encoding is None else encoding
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise DataError(
            f"unknown encoding {encoding!r} for {source}; try 'utf-8-sig' or 'latin-1'",
            source=source,
        ) from None
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n'):
        raise DataError(
            f"sep must be one character other than a quote or a line break, got {sep!r}",
            source=source,
        )
    raw = _read_bytes(path, source)
    if not raw:
        raise DataError(
            f"{source} is empty (0 bytes): there is no header and no rows", source=source
        )
    text = _decode(raw, encoding, source)
    del raw  # the file's bytes are not needed once decoded: one copy of the file, not two
    if text.startswith("\ufeff"):  # a BOM left by an explicit encoding="utf-8"
        text = text[1:]

    recs = records(text, sep, source)
    first_line, first = next(recs, (0, None))
    if first is None:
        raise DataError(
            f"{source} is empty (only blank lines): there is no header and no rows",
            source=source,
        )
    separator = recs.separator
    n_fields = len(first)
    positions = _positions(columns, first, header, source, first_line)
    if header:
        rows_iter = recs
    else:
        rows_iter = _chain_first(first_line, first, recs)

    # One list per wanted column, of cells shared between rows: the csv module makes a
    # new str for every field, and a file repeats most of its cells (users, items, star
    # values), so keeping each distinct text once costs a pointer a cell instead of an
    # object (about 60 bytes).  A column of mostly distinct cells stops being shared.
    columns_out = [[] for _ in positions]
    shared = [{} for _ in positions]
    lines = array("q")
    bad = {}
    pick = itemgetter(*positions)
    blank = (None,) * len(positions)
    batch = []
    getters = [itemgetter(k) for k in range(len(positions))]

    def flush(shared):
        # A batch of rows' tuples becomes columns; map() with dict.setdefault keeps
        # each distinct cell once without a Python-level step per cell.
        for k, seen in enumerate(shared):
            cells = list(map(getters[k], batch))
            columns_out[k].extend(cells if seen is None else map(seen.setdefault, cells, cells))
        batch.clear()

    for line, record in rows_iter:
        lines.append(line)
        if len(record) == n_fields:
            got = pick(record)
            batch.append(got if len(positions) > 1 else (got,))
        else:
            what = "the header has" if header else "the first line has"
            reason = f"{len(record)} field{'' if len(record) == 1 else 's'} where {what} {n_fields}"
            bad.setdefault(reason, []).append(len(lines) - 1)
            batch.append(blank)
        if len(batch) == _SHARE_CHECK:
            flush(shared)
            # A column of (nearly) all distinct cells (timestamps, say) would only grow a
            # dict as large as the cells: it stops being shared.
            shared = [None if s is None or len(s) > 0.9 * len(lines) else s for s in shared]
    flush(shared)
    batch = shared = None  # the dicts of shared cells are not needed any more
    if not lines:
        raise DataError(
            f"{source} has a header (line {first_line}) but no data rows"
            if header
            else f"{source} has no data rows",
            source=source,
        )

    data = {}
    for k, name in enumerate(columns):
        cells = columns_out[k]
        columns_out[k] = None  # each list goes as soon as its Series is made
        if name not in id_columns:
            cells = [None if c is None or c.strip() in NA_TEXT else c for c in cells]
        data[name] = pd.Series(cells, dtype=object)
        del cells
    frame = pd.DataFrame(data) if data else pd.DataFrame(index=range(len(lines)))
    bad_masks = {}
    for reason, rows in bad.items():
        mask = np.zeros(len(lines), dtype=bool)
        mask[rows] = True
        bad_masks[reason] = mask
    return DelimitedTable(
        frame=frame,
        lines=np.frombuffer(lines, dtype=np.int64).copy(),
        bad_fields=bad_masks,
        source=source,
        separator=separator,
        encoding=encoding,
    )


def read_parquet_frame(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file; any failure is a :class:`DataError` naming the file.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "bad.parquet")
        >>> _ = open(path, "w").write("not parquet")
        >>> try:
        ...     read_parquet_frame(path)
        ... except DataError as err:
        ...     print("cannot read" in str(err))
        True
    """
    source = str(path)
    try:
        import pyarrow  # noqa: F401  (only to say which extra is missing)
    except ImportError:
        raise DataError(
            f"reading {source} needs pyarrow: pip install 'latentrec[parquet]' "
            "(or save the ratings as CSV)",
            source=source,
        ) from None
    if Path(path).is_dir():
        raise DataError(f"{source} is a folder, not a Parquet file", source=source)
    try:
        return pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises many kinds; all mean "cannot read"
        raise DataError(
            f"cannot read {source} as Parquet: {type(err).__name__}: {err}", source=source
        ) from err


_BLOCK_BYTES = 1 << 24
_UTF8 = ("utf-8", "utf-8-sig")


def delimited_batches(
    path: str | Path,
    names: tuple,
    *,
    sep: str | None = None,
    header: bool = True,
    encoding: str | None = None,
):
    """``(batches, separator, encoding)`` for pyarrow's chunked parse of a plain file.

    ``names`` are the (user, item, rating, timestamp) columns, ``None`` where absent.
    ``batches`` yields ``(users, items, ratings, timestamps)`` arrays (int64 ids,
    float64 values; ``None`` for an absent column), reading ~16 MB of the file at a
    time, and raises :class:`~latentrec.data.ingest.Decline` at the first block that is
    not plainly clean.  Returns ``None`` when the file is not a candidate at all
    (compressed, not UTF-8, a separator or header the exact reader must interpret).
    Clean means: UTF-8 text without a quote character, every row with the header's
    number of fields, integer ids and finite numbers without NA markers or spaces; for
    such a file the exact reader (:func:`read_delimited`) reads the same cells.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.csv")
        >>> _ = open(path, "w").write("u,i,r\\n1,2,4.5\\n\\n3,2,5\\n")
        >>> batches, sep, enc = delimited_batches(path, ("u", "i", "r", None))
        >>> [b[0].tolist() for b in batches], sep
        ([[1, 3]], ',')
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # the 'parquet' extra: without it the exact reader reads the file
        return None
    path = Path(path)
    encoding = CSV_ENCODING if encoding is None else encoding
    try:
        if codecs.lookup(encoding).name not in _UTF8 or not path.is_file():
            return None
    except (LookupError, TypeError):
        return None
    if path.suffix.lower() in (*_OPENERS, ".zip") or (sep is not None and sep not in SEPARATORS):
        return None
    wanted = [c for c in names if c is not None]
    if len(set(wanted)) != len(wanted):
        return None
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    first_end = -1
    offset = 0
    for line in head.splitlines(keepends=True):
        if line.strip():
            first_end = offset + len(line)
            first = line
            break
        offset += len(line)
    if first_end < 0 or not first.endswith((b"\n", b"\r")):
        return None  # no complete first line in the first 64 kB: not a plain ratings file
    try:
        first_text = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    separator = sep if sep is not None else _guess_separator(first_text + "\n")
    if separator not in SEPARATORS:
        return None
    if '"' in first_text:
        if not header:
            return None
        # A quoted header ("user_id","item_id",...; pyarrow and R write one): read as the
        # exact reader reads it.  Quotes in data rows still decline, block by block.
        csv_fields_up_to(len(first_text))
        try:
            fields = next(csv.reader([first_text], delimiter=separator, strict=True))
        except csv.Error:
            return None
    else:
        fields = first_text.split(separator)
    if header:
        if any(sum(f == c for f in fields) != 1 for c in wanted):
            return None
        position = {c: fields.index(c) for c in wanted}
    else:
        if not all(isinstance(c, (int, np.integer)) and 0 <= c < len(fields) for c in wanted):
            return None
        position = {c: int(c) for c in wanted}
    all_names = [f"c{k}" for k in range(len(fields))]
    types = {}
    for key, col in zip("uirt", names, strict=True):
        if col is not None:
            types[all_names[position[col]]] = pa.int64() if key in "ui" else pa.float64()
    read_opts = pacsv.ReadOptions(column_names=all_names, use_threads=ARROW_THREADS)
    parse_opts = pacsv.ParseOptions(delimiter=separator, quote_char=False)
    convert_opts = pacsv.ConvertOptions(include_columns=list(types), column_types=types)
    skip = first_end + (len(codecs.BOM_UTF8) if _starts_with_bom(path) else 0)
    if header:
        start = skip
    else:
        start = skip - len(first)

    def parse(block: bytes):
        if b'"' in block or (not block.isascii() and not _is_utf8(block)):
            raise Decline
        try:
            table = pacsv.read_csv(
                pa.py_buffer(block),
                read_options=read_opts,
                parse_options=parse_opts,
                convert_options=convert_opts,
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise Decline from err
        out = []
        for col in names:
            if col is None:
                out.append(None)
                continue
            arr = table.column(all_names[position[col]])
            if arr.null_count:
                raise Decline
            out.append(arr.to_numpy())
        return tuple(out)

    def batches():
        with open(path, "rb") as fh:
            fh.seek(start)
            carry = b""
            while True:
                got = fh.read(_BLOCK_BYTES)
                if not got:
                    break
                block = carry + got
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    carry = block
                    continue
                carry = block[cut:]
                if block[:cut].strip():
                    yield parse(block[:cut])
            if carry.strip():
                yield parse(carry)

    return batches(), separator, encoding


def parquet_batches(path: str | Path, names: tuple):
    """Batches ``(users, items, ratings, timestamps)`` of a Parquet file, or ``None``.

    Ids must be integer columns and values numeric ones, without nulls; the iterator
    raises :class:`~latentrec.data.ingest.Decline` at a batch with a null.  ``None``
    when the file or its columns are not of that kind (the exact path then reads it).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "r.parquet")
        >>> pd.DataFrame({"u": [1, 2], "i": [5, 5], "r": [3.0, 4.0]}).to_parquet(path)
        >>> [b[0].tolist() for b in parquet_batches(path, ("u", "i", "r", None))]
        [[1, 2]]
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        file = pq.ParquetFile(path)
    except Exception:  # noqa: BLE001 - anything wrong: the exact path says what
        return None
    schema = file.schema_arrow
    wanted = [c for c in names if c is not None]
    if len(set(wanted)) != len(wanted) or len(set(schema.names)) != len(schema.names):
        return None
    for key, col in zip("uirt", names, strict=True):
        if col is None:
            continue
        if not isinstance(col, str) or col not in schema.names:
            return None
        kind = schema.field(col).type
        ok = pa.types.is_integer(kind) or (key in "rt" and pa.types.is_floating(kind))
        if not ok:
            return None

    def batches():
        try:
            for batch in file.iter_batches(batch_size=1 << 20, columns=wanted):
                out = []
                for col in names:
                    if col is None:
                        out.append(None)
                        continue
                    arr = batch.column(col)
                    if arr.null_count:
                        raise Decline
                    out.append(arr.to_numpy(zero_copy_only=False))
                yield tuple(out)
        except (OSError, pa.ArrowException) as err:
            raise Decline from err

    return batches()


def _starts_with_bom(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(3) == codecs.BOM_UTF8


def _is_utf8(block: bytes) -> bool:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------------- helpers
def _read_bytes(path: Path, source: str) -> bytes:
    if path.is_dir():
        raise DataError(
            f"{source} is a folder, not a ratings file; a MovieLens release folder is read "
            f"by latentrec.datasets.read_ml_folder({source!r})",
            source=source,
        )
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {source}: {err.strerror or err}", source=source) from err
    suffix = path.suffix.lower()
    try:
        if suffix in _OPENERS:
            return _OPENERS[suffix](raw)
        if suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise DataError(
                        f"{source} holds {len(names)} files; expected one ratings file: "
                        f"{_unzip_hint(names)}",
                        source=source,
                    )
                return archive.read(names[0])
    except DataError:
        raise
    except (OSError, EOFError, ValueError, lzma.LZMAError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot unpack {source} ({suffix} file): {err}", source=source) from err
    # A packed file under a text name would otherwise fail as "not UTF-8 text" with advice
    # about encodings that no encoding can follow.
    for looks_like, kind, fix in _PACKED:
        if looks_like(raw):
            raise DataError(f"{source} is {kind} file, not text; {fix}", source=source)
    return raw


# The ratings file that marks a MovieLens release (as data.movielens.ML_FOLDER_LAYOUTS,
# which sits above this module).
_ML_RATINGS = ("ratings.csv", "ratings.dat", "u.data", "ml-100k.inter")


def _unzip_hint(names: list[str]) -> str:
    """What to do with an archive of several files: a MovieLens release's folder is read
    whole once unzipped; any other archive, give the ratings file in it."""
    for name in names:
        folder, _, base = name.rpartition("/")
        if base in _ML_RATINGS:
            shown = folder or "the folder it unzips to"
            return (
                f"it is a MovieLens release ({name} inside); unzip it and give the folder "
                f"{shown} (latentrec.datasets.read_ml_folder, or the folder on the command line)"
            )
    return "unzip it and give the ratings file inside"


def _decode(raw: bytes, encoding: str, source: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        # One message for both audiences: the keyword in Python, the flag on the CLI.
        hint = "give its encoding: encoding='latin-1' (--encoding latin-1) or the file's own"
        if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            hint = "it starts with a UTF-16 byte-order mark: encoding='utf-16' (--encoding utf-16)"
        raise DataError(
            f"line {line} of {source} is not {encoding} text (byte {raw[err.start]:#04x}); {hint}",
            source=source,
            where=(line,),
            unit="line",
        ) from None
    except UnicodeError as err:  # e.g. an odd number of bytes for UTF-16
        raise DataError(f"{source} is not {encoding} text: {err}", source=source) from None


def csv_fields_up_to(length: int) -> None:
    """Let Python's csv module read a field of up to ``length`` characters.  Its default
    limit (131,072) refused a long title or a long line that pandas reads, in words about
    quotes ("field larger than field limit"); the text is in memory already, so the limit
    guards nothing here.  The limit is the process's: it is only ever raised.

    Example:
        >>> csv_fields_up_to(1 << 20); csv.field_size_limit() >= 1 << 20
        True
    """
    if csv.field_size_limit() < length:
        csv.field_size_limit(length)


class _Records:
    """Non-blank records of the text with the file line each starts on."""

    def __init__(self, text: str, sep: str | None, source: str):
        self.source = source
        self.separator = sep if sep is not None else _guess_separator(text)
        csv_fields_up_to(len(text))
        self._reader = csv.reader(
            text_lines(text),
            delimiter=self.separator,
            quotechar='"',
            doublequote=True,
            strict=True,
        )

    def __iter__(self):
        return self

    def __next__(self):
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except csv.Error as err:
                what = (
                    "a quoted field that starts there is never closed"
                    if "end of data" in str(err)
                    else f"{err} (quotes must wrap a whole field; double a quote inside one)"
                )
                raise DataError(
                    f"cannot parse line {start} of {self.source}: {what}",
                    source=self.source,
                    where=(start,),
                    unit="line",
                ) from None
            # A blank line (or one of spaces only, with no separator) is not a row.
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            return start, record


_PIECE_CHARS = 1 << 20


def text_lines(text: str):
    """The lines of ``text`` with their endings, split at ``\\n``, ``\\r\\n`` or
    ``\\r`` as ``io.StringIO(text, newline="")`` splits them, one at a time.

    ``io.StringIO`` would first copy the whole text into a buffer of 4 bytes a
    character: 5.4 GB for a 1.35 GB file.

    Example:
        >>> list(text_lines("a\\r\\nb\\rc\\n\\nd"))
        ['a\\r\\n', 'b\\r', 'c\\n', '\\n', 'd']
    """
    # A piece of about a megabyte at a time, cut after a "\\n" (never inside "\\r\\n"),
    # split by io.StringIO: its 4-byte copy is of the piece alone.
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start + _PIECE_CHARS)
        end = n if end < 0 else end + 1
        yield from io.StringIO(text[start:end], newline="")
        start = end


def records(text: str, sep: str | None, source: str) -> _Records:
    """The non-blank records of ``text`` as ``(line, fields)``, ``line`` the 1-based
    file line the record starts on (a quoted field may span lines); ``sep`` guessed as
    :func:`line_separator` guesses it when ``None``.  A quote left open or a stray
    quote inside a field is a :class:`DataError` naming ``source`` and the line.

    Example:
        >>> list(records('a,b\\n\\n1,"x, y"\\n', ",", "f.csv"))
        [(1, ['a', 'b']), (3, ['1', 'x, y'])]
    """
    return _Records(text, sep, source)


def _chain_first(first_line, first, rest):
    yield first_line, first
    yield from rest


def _guess_separator(text: str) -> str:
    """The candidate that splits the first non-blank line into the most fields."""
    first = next((line for line in text_lines(text) if line.strip()), "")
    return line_separator(first.rstrip("\r\n"))


def line_separator(first: str) -> str:
    """The separator a text file is read with when none is given, from its first
    non-blank line: the one of ``,``, tab, ``;`` and ``|`` that splits it into the most
    fields (quotes respected); a space when none splits it and it holds one; else ``,``.

    Example:
        >>> line_separator("user|item|rating"), line_separator("a;b"), line_separator("a b")
        ('|', ';', ' ')
    """
    best, best_n = ",", 1
    csv_fields_up_to(len(first))
    for candidate in SEPARATORS:
        try:
            n = len(next(csv.reader([first], delimiter=candidate, quotechar='"'), []))
        except csv.Error:
            continue
        if n > best_n:
            best, best_n = candidate, n
    if best_n == 1 and " " in first.strip():
        return " "  # whitespace-separated, as some exports are; only when nothing else fits
    return best


def _positions(columns: list, first: list, header: bool, source: str, line: int) -> list:
    if not header:
        bad = [c for c in columns if not (isinstance(c, (int, np.integer)) and 0 <= c < len(first))]
        if bad:
            raise DataError(
                f"missing column(s) {bad}; without a header, columns are positions 0 to "
                f"{len(first) - 1} (line {line} of {source} has {len(first)} fields)",
                source=source,
                column=bad[0],
                where=(line,),
                unit="line",
            )
        return [int(c) for c in columns]
    names = list(first)
    out, missing = [], []
    for col in columns:
        hits = [k for k, name in enumerate(names) if name == col]
        if not hits and isinstance(col, str):
            # A header written as "user_id, item_id" still finds item_id.
            hits = [k for k, name in enumerate(names) if name.strip() == col.strip()]
        if len(hits) > 1:
            raise DataError(
                f"column {col!r} appears {len(hits)} times in the header (line {line} of "
                f"{source}); rename one of them",
                source=source,
                column=col,
                where=(line,),
                unit="line",
            )
        if hits:
            out.append(hits[0])
        else:
            missing.append(col)
    if missing:
        raise DataError(
            f"missing column(s) {missing}; the header (line {line} of {source}) has "
            f"columns {names}{case_hint(missing, names)}",
            source=source,
            column=missing[0],
            where=(line,),
            unit="line",
        )
    return out
